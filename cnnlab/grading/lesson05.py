"""Lesson 05 "Convolution backward": the naive backward pass and im2col.

* ``conv2d_backward_naive(dout, cache) -> (dx, dw, db)``, where the cache is
  ``(x, w, b, stride, pad)`` from the lesson's ``conv2d_forward_naive``; checked with
  ``cl.check("conv2d_backward_naive", conv2d_backward_naive, forward=conv2d_forward_naive)``.
* ``im2col(x, kh, kw, stride=1, pad=0) -> (N*Ho*Wo, C*kh*kw)``: rows in (n, i, j) order, columns
  in (c, di, dj) order, exactly :func:`cnnlab.conv.im2col`.
* ``col2im(cols, x_shape, kh, kw, stride=1, pad=0) -> x_shape``: the adjoint of im2col, checked
  with the student's im2col as a partner (``im2col=im2col``) for the identity
  sum(im2col(x) * c) == sum(x * col2im(c)).
* ``conv2d_fast``: ``conv2d_forward_fast(x, w, b, stride=1, pad=0) -> (out, cache)`` and
  ``conv2d_backward_fast(dout, cache) -> (dx, dw, db)``, checked as
  ``cl.check("conv2d_fast", conv2d_forward_fast, backward=conv2d_backward_fast)``: their values
  against the naive loops, and the absence of Python loops over samples or positions by counting
  the line events they run (:func:`line_events`) on two shapes 8x apart; no timing.
"""

from __future__ import annotations

import sys

import numpy as np

from .. import conv
from .compare import difference
from .core import Case, CheckFailure, Mistake, call_backward, exercise, library_file, normal
from .naive import col2im_naive, conv2d_backward_naive

# --- conv2d_backward_naive ------------------------------------------------------------------------


def _forward(x, w, b, stride=1, pad=0):
    """The lesson's forward contract: cnnlab's fast convolution, cache (x, w, b, stride, pad)."""
    out, _ = conv.conv2d_forward(x, w, b, stride, pad)
    return out, (x, w, b, stride, pad)


def _kernel_flipped(dout, cache):
    """dx computed with w[f, :, ::-1, ::-1] (dw and db do not use w)."""
    x, w, b, stride, pad = cache
    return conv2d_backward_naive(dout, (x, w[:, :, ::-1, ::-1], b, stride, pad))


def _reference_backward(dout, cache):
    x, w, b, stride, pad = cache
    _, fast_cache = conv.conv2d_forward(x, w, b, stride, pad)
    return conv.conv2d_backward(dout, fast_cache)


def _backward_case(note, x_shape, w_shape, stride, pad, dtype=np.float64):
    def make(rng):
        x = rng.standard_normal(x_shape).astype(dtype)
        w = rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)
        ho = conv.conv_output_size(x_shape[2], w_shape[2], stride, pad)
        wo = conv.conv_output_size(x_shape[3], w_shape[3], stride, pad)
        dout = rng.standard_normal((x_shape[0], w_shape[0], ho, wo)).astype(dtype)
        return {"x": x, "w": w, "b": b, "stride": stride, "pad": pad, "dout": dout}
    return Case(note, make=make)


# Worked out by hand: a 2x2 kernel of ones over 1..9, every upstream gradient 1.
_HAND = dict(x=np.arange(1.0, 10.0).reshape(1, 1, 3, 3), w=np.ones((1, 1, 2, 2)), b=np.zeros(1),
             stride=1, pad=0, dout=np.ones((1, 1, 2, 2)))
_HAND_EXPECTED = (np.array([[[[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]]]),   # windows covering each pixel
                  np.array([[[[12.0, 16], [24, 28]]]]),                  # sums of the shifted windows
                  np.array([4.0]))                                       # four positions


@exercise(
    "conv2d_backward_naive", points=3,
        implemented_by=("cnnlab.conv.conv2d_backward", "cnnlab.nn.Conv2d", "cnnlab.autograd.conv2d"),
    call=call_backward, partners={"forward": _forward}, output_names=("dx", "dw", "db"),
    cases=[
        _backward_case("", (2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
        Case("worked out by hand: 2x2 ones over 1..9, dout all ones", **_HAND, expected=_HAND_EXPECTED),
        _backward_case("stride 2, pad 1", (2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
        _backward_case("pad 2: dx must drop the padding", (1, 2, 4, 4), (2, 2, 3, 3), 1, 2),
        _backward_case("a non-square image and kernel", (2, 1, 6, 5), (2, 1, 3, 2), 1, 1),
        _backward_case("stride 3 leaves rows and columns unread (their dx is 0)", (2, 2, 8, 8), (2, 2, 3, 3), 3, 0),
        _backward_case("one sample, many filters", (1, 3, 6, 6), (5, 3, 3, 3), 1, 1),
        _backward_case("float32", (2, 2, 5, 5), (2, 2, 3, 3), 2, 1, dtype=np.float32),
    ],
    mistakes=[
        Mistake("gradient not accumulated over positions: the same weights are used at every output "
                "position, so dw[f] must add (+=) the contribution of every position, not keep the last one",
                lambda dout, cache: conv2d_backward_naive(dout, cache, overwrite_dw=True)),
        Mistake("gradient not accumulated over positions: overlapping windows share input pixels, so dx "
                "must add (+=) each window's contribution instead of overwriting it",
                lambda dout, cache: conv2d_backward_naive(dout, cache, overwrite_dx=True)),
        Mistake("padding not removed from dx: the gradient of the padded input has the padded shape; "
                "return dx_pad[:, :, pad:pad + H, pad:pad + W]",
                lambda dout, cache: conv2d_backward_naive(dout, cache, keep_pad=True)),
        Mistake("db not summed: db[f] is the sum of dout[:, f] over the batch and all positions, "
                "dout.sum(axis=(0, 2, 3)), shape (F,)",
                lambda dout, cache: (*conv2d_backward_naive(dout, cache)[:2], dout.sum(axis=(2, 3)))),
        Mistake("db not summed over positions: db[f] adds dout[n, f, i, j] over n, i and j; shape (F,)",
                lambda dout, cache: (*conv2d_backward_naive(dout, cache)[:2], dout.sum(axis=0))),
        Mistake("db not summed over the batch: add over every sample n as well as the positions",
                lambda dout, cache: (*conv2d_backward_naive(dout, cache)[:2], dout[-1].sum(axis=(1, 2)))),
        Mistake("dw not summed over the batch: every sample uses the same filters, so their "
                "contributions add up (the samples' dw must not replace each other)",
                lambda dout, cache: conv2d_backward_naive(dout, cache, last_sample_dw=True)),
        Mistake("kernel flipped in dx: in the loop form each window gets dout[n, f, i, j] * w[f], "
                "the same w as in the forward pass (the flip only appears when dx is written as a "
                "convolution of dout)", _kernel_flipped),
        Mistake("stride ignored: output (i, j) read the window at row stride*i, column stride*j, so its "
                "gradient goes back there", lambda dout, cache: conv2d_backward_naive(dout, cache, ignore_stride=True)),
        Mistake("dw and db are sums over the batch, not means: the loss already averages over samples "
                "(dout carries the 1/N)",
                lambda dout, cache: (lambda dx, dw, db: (dx, dw / dout.shape[0], db / dout.shape[0]))(
                    *conv2d_backward_naive(dout, cache))),
    ],
)
def _conv2d_backward_naive(dout, cache):
    return _reference_backward(dout, cache)


# --- im2col ---------------------------------------------------------------------------------------


def _reordered(rows: str = "nij", columns: str = "cab"):
    """im2col with its rows (letters n, i, j) or columns (c, a = di, b = dj) in another order."""
    def model(x, kh, kw, stride=1, pad=0):
        cols = conv.im2col(x, kh, kw, stride, pad)
        N, C = x.shape[:2]
        Ho = conv.conv_output_size(x.shape[2], kh, stride, pad)
        Wo = conv.conv_output_size(x.shape[3], kw, stride, pad)
        full = cols.reshape(N, Ho, Wo, C, kh, kw)
        order = ["nij".index(a) for a in rows] + [3 + "cab".index(a) for a in columns]
        return full.transpose(order).reshape(N * Ho * Wo, C * kh * kw)
    return model


def _im2col_case(note, x_shape, kh, kw, stride, pad):
    return Case(note, x=normal(*x_shape), kh=kh, kw=kw, stride=stride, pad=pad)


_HAND_IM2COL = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)


@exercise(
    "im2col", points=2, implemented_by=("cnnlab.conv.im2col",),
    cases=[
        _im2col_case("", (2, 3, 4, 4), 3, 3, 1, 0),
        Case("worked out by hand: 2x2 windows of 1..9, one per row",
             x=_HAND_IM2COL, kh=2, kw=2, stride=1, pad=0,
             expected=np.array([[1.0, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]])),
        _im2col_case("stride 2, pad 1", (2, 2, 5, 5), 3, 3, 2, 1),
        _im2col_case("a non-square image and kernel", (1, 2, 5, 4), 3, 2, 1, 1),
        _im2col_case("stride 3 leaves rows over", (3, 1, 7, 7), 2, 2, 3, 0),
        _im2col_case("many channels, several samples", (3, 4, 3, 3), 2, 2, 1, 0),
        Case("float32 stays float32", x=normal(2, 2, 4, 4, dtype=np.float32), kh=3, kw=3, stride=1, pad=1),
    ],
    dtype="exact",
    mistakes=[
        Mistake("order of axes: rows must run over (n, i, j) with j fastest, i.e. row (n*Ho + i)*Wo + j",
                _reordered(rows="nji")),
        Mistake("order of axes: rows must run over (n, i, j): sample first, then output row, then column",
                _reordered(rows="ijn")),
        Mistake("order of axes: columns must run over (c, di, dj), channel first, i.e. column "
                "(c*kh + di)*kw + dj; compare w.reshape(F, -1)", _reordered(columns="abc")),
        Mistake("order of axes: within a channel, columns run over di (kernel row) then dj (kernel "
                "column), like w[f, c].ravel()", _reordered(columns="cba")),
        Mistake("order of axes: the result has one row per window, shape (N*Ho*Wo, C*kh*kw); "
                "you returned its transpose",
                lambda x, kh, kw, stride=1, pad=0: conv.im2col(x, kh, kw, stride, pad).T),
        Mistake("the padding is missing: zero-pad x by `pad` before cutting out the windows",
                lambda x, kh, kw, stride=1, pad=0: conv.im2col(x, kh, kw, stride, 0)),
        Mistake("the dtype changed: allocate the result with dtype=x.dtype",
                lambda x, kh, kw, stride=1, pad=0: conv.im2col(x.astype(np.float64), kh, kw, stride, pad)),
    ],
)
def _im2col(x, kh, kw, stride=1, pad=0):
    return conv.im2col(x, kh, kw, stride, pad)


# --- col2im ---------------------------------------------------------------------------------------


def _col2im_case(note, x_shape, kh, kw, stride, pad, dtype=np.float64):
    """cols drawn with the shape im2col gives for ``x_shape``."""
    def make(rng):
        ho = conv.conv_output_size(x_shape[2], kh, stride, pad)
        wo = conv.conv_output_size(x_shape[3], kw, stride, pad)
        cols = rng.standard_normal((x_shape[0] * ho * wo, x_shape[1] * kh * kw)).astype(dtype)
        return {"cols": cols, "x_shape": tuple(x_shape), "kh": kh, "kw": kw, "stride": stride, "pad": pad}
    ho = conv.conv_output_size(x_shape[2], kh, stride, pad)
    wo = conv.conv_output_size(x_shape[3], kw, stride, pad)
    shown = "" if dtype == np.float64 else f" {np.dtype(dtype)}"
    label = (f"cols ({x_shape[0] * ho * wo}, {x_shape[1] * kh * kw}){shown}, x_shape {tuple(x_shape)}, "
             f"kh {kh}, kw {kw}, stride {stride}, pad {pad}" + (f"; {note}" if note else ""))
    return Case(make=make, label=label)


def _adjoint_case(note, x_shape, kh, kw, stride, pad):
    """x and c for the identity sum(im2col(x) * c) == sum(x * col2im(c))."""
    def make(rng):
        ho = conv.conv_output_size(x_shape[2], kh, stride, pad)
        wo = conv.conv_output_size(x_shape[3], kw, stride, pad)
        return {"x": rng.standard_normal(x_shape),
                "c": rng.standard_normal((x_shape[0] * ho * wo, x_shape[1] * kh * kw)),
                "kh": kh, "kw": kw, "stride": stride, "pad": pad}
    return Case("adjoint: sum(im2col(x) * c) == sum(x * col2im(c))" + (f"; {note}" if note else ""), make=make)


_LHS, _RHS = "sum(im2col(x) * c)", "sum(x * col2im(c, x.shape))"


def _call_col2im(fn, inputs, im2col):
    """``fn(*inputs)``; for an adjoint case (inputs x and c) the two sides of the identity, each
    computed with the student's own im2col and col2im."""
    if "x" not in inputs:
        return fn(*inputs.values())
    x, c, kh, kw, stride, pad = inputs.values()
    cols = im2col(x, kh, kw, stride, pad)
    if getattr(cols, "shape", None) != c.shape:
        raise CheckFailure(f"im2col(x, ...) returned shape {getattr(cols, 'shape', type(cols).__name__)}, "
                           f"expected {c.shape}: finish im2col first, the identity uses it")
    back = fn(c, x.shape, kh, kw, stride, pad)
    if getattr(back, "shape", None) != x.shape:
        raise CheckFailure(f"col2im(c, x.shape, ...) returned shape {getattr(back, 'shape', type(back).__name__)}, "
                           f"expected x's shape {x.shape}")
    return {_LHS: float(np.sum(cols * c)), _RHS: float(np.sum(x * back))}


# Worked out by hand: four 2x2 windows of ones over a 3x3 input count the windows covering each pixel.
_HAND_COLS = dict(cols=np.ones((4, 4)), x_shape=(1, 1, 3, 3), kh=2, kw=2, stride=1, pad=0)


@exercise(
    "col2im", points=2, implemented_by=("cnnlab.conv.col2im", "cnnlab.conv._fold"),
    call=_call_col2im, partners={"im2col": conv.im2col}, dtype="exact",
    cases=[
        _col2im_case("", (2, 3, 4, 4), 3, 3, 1, 0),
        Case(**_HAND_COLS, label="cols (4, 4) of ones, x_shape (1, 1, 3, 3), kh 2, kw 2, stride 1, pad 0; worked "
             "out by hand: four 2x2 windows over 3x3 count the windows covering each pixel", expected=np.array([[[[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]]])),
        _col2im_case("stride 2, pad 1: the padding is dropped", (2, 2, 5, 5), 3, 3, 2, 1),
        _col2im_case("a non-square image and kernel", (1, 2, 5, 4), 3, 2, 1, 1),
        _col2im_case("stride 3 leaves rows over (they get 0)", (2, 1, 7, 7), 2, 2, 3, 0),
        _col2im_case("float32 stays float32", (2, 2, 4, 4), 3, 3, 1, 1, dtype=np.float32),
        _adjoint_case("", (2, 3, 5, 5), 3, 3, 1, 1),
        _adjoint_case("stride 2", (1, 2, 7, 6), 3, 2, 2, 1),
    ],
    mistakes=[
        Mistake("overlaps overwritten instead of added: a pixel inside several windows must collect "
                "(+=) the entries of every one of them",
                lambda cols, x_shape, kh, kw, stride=1, pad=0: col2im_naive(cols, x_shape, kh, kw, stride, pad,
                                                                           overwrite=True)),
        Mistake("padding kept: im2col read from the padded input, but col2im returns the gradient of x "
                "itself: cut the border off, x_pad[:, :, pad:pad + H, pad:pad + W]",
                lambda cols, x_shape, kh, kw, stride=1, pad=0: col2im_naive(cols, x_shape, kh, kw, stride, pad,
                                                                           keep_pad=True)),
        Mistake("order of axes: row (n*Ho + i)*Wo + j of cols belongs to window (i, j) of sample n, and its "
                "columns run over (c, di, dj), as in your im2col",
                lambda cols, x_shape, kh, kw, stride=1, pad=0: col2im_naive(
                    _swap_column_axes(cols, x_shape[1], kh, kw), x_shape, kh, kw, stride, pad)),
    ],
)
def _col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    return conv.col2im(cols, x_shape, kh, kw, stride, pad)


def _swap_column_axes(cols, C, kh, kw):
    """Columns read in (di, dj, c) order instead of (c, di, dj)."""
    return cols.reshape(-1, kh, kw, C).transpose(0, 3, 1, 2).reshape(len(cols), C * kh * kw)


# --- conv2d_fast ----------------------------------------------------------------------------------
#
# A loop over samples or positions shows in how much Python runs, not in how long it takes:
# ``line_events`` counts the line events of the code under check with sys.settrace, on two
# shapes whose N*Ho*Wo differ 8x. Loop-free code runs the same lines for both (its loops over
# kernel offsets do not depend on the shape); a loop over samples, rows or columns runs its
# body 8 times as often. The counting happens in the call hook, so where the student's code
# runs (in ``cnnlab grade``: the submission's kernel, which could send back made-up counts).

_GROWTH = 1.5  # the most the line count may grow for 8 times the samples or positions


def line_events(fn, *args):
    """``fn(*args)`` and the number of Python 'line' events it ran in code that is nobody's
    library (the student's files and notebook cells) or that lives in ``fn``'s own file.

    Returns:
        (result, count).
    """
    own = getattr(getattr(fn, "__code__", None), "co_filename", None)
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def new_frame(frame, event, arg):
        name = frame.f_code.co_filename
        return local if name == own or not library_file(name) else None

    previous = sys.gettrace()
    sys.settrace(new_frame)
    try:
        result = fn(*args)
    finally:
        sys.settrace(previous)
    return result, count


class _Pair:
    """A mistake model of conv2d_fast: a forward and the backward that goes with it."""

    def __init__(self, forward, backward):
        self.forward, self.backward = forward, backward

    def __call__(self, *args):
        return self.forward(*args)


def _forward_pair(result):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise CheckFailure(f"conv2d_forward_fast must return a pair (out, cache); got {type(result).__name__}")
    return result


def _backward_triple(result):
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        raise CheckFailure(f"conv2d_backward_fast must return (dx, dw, db); got {type(result).__name__}"
                           + (f" of {len(result)} items" if isinstance(result, (tuple, list)) else ""))
    return result


def _call_fast(fn, inputs, backward):
    """A value case: (out, dx, dw, db). A probe case (inputs probe, small, large): the line events
    of the forward and of the backward on the small and on the large shape, as plain ints."""
    if isinstance(fn, _Pair):
        fn, backward = fn.forward, fn.backward
    if "probe" not in inputs:
        x, w, b, stride, pad, dout = inputs.values()
        out, cache = _forward_pair(fn(x, w, b, stride, pad))
        return (out, *_backward_triple(backward(dout, cache)))
    counts = {"forward": [], "backward": []}
    for x, w, b, dout in (inputs["small"], inputs["large"]):
        result, forward_lines = line_events(fn, x, w, b, 1, 0)
        _, cache = _forward_pair(result)
        result, backward_lines = line_events(backward, dout, cache)
        _backward_triple(result)
        counts["forward"].append(forward_lines)
        counts["backward"].append(backward_lines)
    return counts


def _looping(view) -> dict:
    """{"forward": (small, large), ...} of the functions whose line count grew more than 1.5x."""
    if not (isinstance(view, dict) and set(view) == {"forward", "backward"} and all(
            isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(n, int) and n >= 0 for n in v)
            for v in view.values())):
        raise CheckFailure("the counts of Python line events did not come back")
    return {name: tuple(v) for name, v in view.items() if v[1] > _GROWTH * max(v[0], 1)}


_PROBED = {"samples": "samples N", "rows": "output rows Ho", "columns": "output columns Wo"}


def _compare_fast(expected, got, inputs):
    if "probe" not in inputs:
        return difference(expected, got, rtol=1e-6, atol=1e-8, dtype="exact", names=("out", "dx", "dw", "db"))
    allowed, found = _looping(expected), _looping(got)
    if set(found) == set(allowed):
        return None
    axis = _PROBED.get(inputs["probe"], inputs["probe"])
    return "; ".join(
        f"conv2d_{name}_fast ran {small} Python lines, and {large} ({large / max(small, 1):.1f}x) with 8 times "
        f"as many {axis}: a Python loop over them is left in (at most {_GROWTH}x is allowed)"
        for name, (small, large) in found.items() if name not in allowed) or "the line counts differ"


def _probe_case(probe, small_shape, large_shape, F=3, k=2):
    """The line counts on two shapes (stride 1, no padding, same channels) whose N*Ho*Wo differ 8x."""
    def draw(rng, shape):
        x = rng.standard_normal(shape)
        w = rng.standard_normal((F, shape[1], k, k))
        dout = rng.standard_normal((shape[0], F, shape[2] - k + 1, shape[3] - k + 1))
        return [x, w, rng.standard_normal(F), dout]

    def make(rng):
        return {"probe": probe, "small": draw(rng, small_shape), "large": draw(rng, large_shape)}
    label = (f"no Python loop over {_PROBED[probe]}: line events of both functions at x {small_shape} "
             f"and at x {large_shape} (8 times N*Ho*Wo)")
    return Case(make=make, label=label)


def _forward_im2col(x, w, b, stride=1, pad=0, *, reshape_wrong=False):
    F, C, kh, kw = w.shape
    N = x.shape[0]
    cols = conv.im2col(x, kh, kw, stride, pad)
    Ho = conv.conv_output_size(x.shape[2], kh, stride, pad)
    Wo = conv.conv_output_size(x.shape[3], kw, stride, pad)
    rows = cols @ w.reshape(F, -1).T + b                 # (N*Ho*Wo, F)
    out = rows.reshape(N, F, Ho, Wo) if reshape_wrong else rows.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    return out, (x, w, stride, pad, cols)


def _backward_im2col(dout, cache, *, reshape_wrong=False, no_db=False):
    x, w, stride, pad, cols = cache
    F, C, kh, kw = w.shape
    rows = dout.reshape(-1, F) if reshape_wrong else dout.transpose(0, 2, 3, 1).reshape(-1, F)
    db = np.zeros_like(w, shape=(F,)) if no_db else rows.sum(axis=0)
    dw = (rows.T @ cols).reshape(w.shape)
    dx = conv.col2im(rows @ w.reshape(F, -1), x.shape, kh, kw, stride, pad)
    return dx, dw, db


def _forward_per_sample(x, w, b, stride=1, pad=0):
    """The right values, one sample at a time."""
    outs = [_forward_im2col(x[n:n + 1], w, b, stride, pad)[0] for n in range(x.shape[0])]
    return np.concatenate(outs), _forward_im2col(x, w, b, stride, pad)[1]


def _backward_per_sample(dout, cache):
    x, w, stride, pad, cols = cache
    dx, dw, db = np.zeros_like(x), np.zeros_like(w), np.zeros(w.shape[0], dtype=w.dtype)
    for n in range(x.shape[0]):
        _, one = _forward_im2col(x[n:n + 1], w, np.zeros_like(db), stride, pad)
        dxn, dwn, dbn = _backward_im2col(dout[n:n + 1], one)
        dx[n], dw, db = dxn[0], dw + dwn, db + dbn
    return dx, dw, db


def _forward_per_position(x, w, b, stride=1, pad=0):
    """The right values, one output position (a row of im2col) at a time."""
    _, cache = _forward_im2col(x, w, b, stride, pad)
    cols, F = cache[-1], w.shape[0]
    rows = np.stack([cols[r] @ w.reshape(F, -1).T + b for r in range(len(cols))])
    Ho = conv.conv_output_size(x.shape[2], w.shape[2], stride, pad)
    return rows.reshape(x.shape[0], Ho, -1, F).transpose(0, 3, 1, 2), cache


def _backward_per_position(dout, cache):
    """dw and db added up one output position at a time (dx without a loop)."""
    x, w, stride, pad, cols = cache
    F = w.shape[0]
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw, db = np.zeros((F, cols.shape[1]), dtype=w.dtype), np.zeros(F, dtype=w.dtype)
    for r in range(len(rows)):
        dw, db = dw + np.outer(rows[r], cols[r]), db + rows[r]
    dx = conv.col2im(rows @ w.reshape(F, -1), x.shape, *w.shape[2:], stride, pad)
    return dx, dw.reshape(w.shape), db


_LOOPS_LEFT = ("loops left in: one matrix product handles every sample and position at once; loop only "
               "over the kernel offsets (di, dj) in im2col and col2im, never over n, i or j")


@exercise(
    "conv2d_fast", points=3,
    implemented_by=("cnnlab.conv.conv2d_forward", "cnnlab.conv.conv2d_backward", "cnnlab.nn.Conv2d",
                    "cnnlab.autograd.conv2d"),
    call=_call_fast, partners={"backward": conv.conv2d_backward}, compare=_compare_fast,
    output_names=("out", "dx", "dw", "db"),
    cases=[
        _backward_case("", (2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
        Case("worked out by hand: 2x2 ones over 1..9, dout all ones", **_HAND,
             expected=(np.array([[[[12.0, 16], [24, 28]]]]), *_HAND_EXPECTED)),
        _backward_case("stride 2, pad 1", (2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
        _backward_case("a non-square image and kernel", (2, 1, 6, 5), (2, 1, 3, 2), 1, 1),
        _backward_case("stride 3 leaves rows and columns unread", (2, 2, 8, 8), (2, 2, 3, 3), 3, 0),
        _backward_case("float32 stays float32", (2, 2, 5, 5), (3, 2, 3, 3), 2, 1, dtype=np.float32),
        _backward_case("float64, many filters", (1, 3, 6, 6), (5, 3, 3, 3), 1, 1),
        _probe_case("samples", (2, 2, 3, 3), (16, 2, 3, 3)),
        _probe_case("rows", (1, 2, 3, 3), (1, 2, 17, 3)),
        _probe_case("columns", (1, 2, 3, 3), (1, 2, 3, 17)),
    ],
    mistakes=[
        Mistake("reshape in the wrong order: the rows of im2col @ w_row.T run over (n, i, j) with F last, "
                "so reshape to (N, Ho, Wo, F) and then transpose to (N, F, Ho, Wo)",
                _Pair(lambda x, w, b, stride=1, pad=0: _forward_im2col(x, w, b, stride, pad, reshape_wrong=True),
                      _backward_im2col)),
        Mistake("reshape in the wrong order: dout is (N, F, Ho, Wo); bring F last, "
                "dout.transpose(0, 2, 3, 1).reshape(-1, F), so its rows line up with im2col's",
                _Pair(_forward_im2col, lambda dout, cache: _backward_im2col(dout, cache, reshape_wrong=True))),
        Mistake("forgotten bias gradient: db[f] is the sum of dout[:, f] over samples and positions, "
                "the column sum of dout in rows form",
                _Pair(_forward_im2col, lambda dout, cache: _backward_im2col(dout, cache, no_db=True))),
        Mistake(_LOOPS_LEFT + " (your forward loops)", _Pair(_forward_per_sample, _backward_im2col)),
        Mistake(_LOOPS_LEFT + " (your backward loops)", _Pair(_forward_im2col, _backward_per_sample)),
        # A loop over positions grows with N, Ho and Wo, a loop over samples with N alone: the hint
        # is named only by a model that loops the same way, so each kind has its model.
        Mistake(_LOOPS_LEFT + " (your forward loops)", _Pair(_forward_per_position, _backward_im2col)),
        Mistake(_LOOPS_LEFT + " (your backward loops)", _Pair(_forward_im2col, _backward_per_position)),
    ],
)
def _conv2d_forward_fast(x, w, b, stride=1, pad=0):
    return conv.conv2d_forward(x, w, b, stride, pad)
