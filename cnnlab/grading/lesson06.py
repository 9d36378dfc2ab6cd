"""Lesson 06 "Pooling": naive max-pool forward and backward, average pooling.

* ``maxpool_forward_naive(x, size=2, stride=2) -> (out, cache)``.
* ``maxpool_backward_naive(dout, cache) -> dx``, checked with the student's forward:
  ``cl.check("maxpool_backward_naive", maxpool_backward_naive, forward=maxpool_forward_naive)``.
  On a tie the whole gradient goes to ONE of the tied positions; any one is accepted (Tomasi
  picks one at random, cnnlab and NumPy's argmax the first), so the comparison tries every
  choice before reporting a difference.
* ``avgpool_backward``: the student writes ``avgpool_forward(x, size, stride) -> (out, cache)``
  and ``avgpool_backward(dout, cache) -> dx``; both results are compared:
  ``cl.check("avgpool_backward", avgpool_backward, forward=avgpool_forward)``.
"""

from __future__ import annotations

import numpy as np

from .. import backend, pooling
from .compare import difference
from .core import Case, Draw, Mistake, call_backward, call_forward, exercise, normal
from .naive import (
    avgpool2d_backward_naive,
    avgpool2d_forward_naive,
    maxpool2d_backward_naive,
    maxpool2d_forward_naive,
)

# --- maxpool_forward_naive ------------------------------------------------------------------------


def _out_size(n, size, stride):
    return (n - size) // stride + 1


def _pooled_over_channels(x, size=2, stride=2):
    """The maximum over the window and over every channel, repeated for each channel."""
    out, cache = maxpool2d_forward_naive(x.max(axis=1, keepdims=True), size, stride)
    return np.repeat(out, x.shape[1], axis=1), cache


@exercise(
    "maxpool_forward_naive", points=2,
        implemented_by=("cnnlab.pooling.maxpool2d_forward", "cnnlab.nn.MaxPool2d", "cnnlab.autograd.maxpool2d"),
        call=call_forward,
    cases=[
        Case(x=normal(2, 3, 4, 4), size=2, stride=2),
        Case("worked out by hand", x=np.array([[[[1.0, 5, 2, 0], [3, 4, 8, 1], [0, 0, -1, -3], [9, 2, -2, -4]]]]),
             size=2, stride=2, expected=np.array([[[[5.0, 8], [9, -1]]]])),
        Case("overlapping windows: size 3, stride 2", x=normal(2, 2, 5, 5), size=3, stride=2),
        Case("stride 2 leaves the last row and column over", x=normal(1, 2, 5, 5), size=2, stride=2),
        Case("every value negative", x=Draw(lambda rng: rng.standard_normal((2, 2, 4, 4)) - 10.0), size=2, stride=2),
        Case("a non-square map, size 2, stride 1", x=normal(2, 1, 6, 4), size=2, stride=1),
        Case("stride 3 > size 2", x=normal(1, 1, 7, 7), size=2, stride=3),
        Case("ties: small integers", x=Draw(lambda rng: rng.integers(0, 3, (1, 2, 6, 6)).astype(np.float64)),
             size=2, stride=2),
        Case("float32 inputs", x=normal(2, 2, 6, 6, dtype=np.float32), size=3, stride=3),
    ],
    mistakes=[
        Mistake("stride ignored: output (i, j) is the maximum of the window starting at row stride*i, "
                "column stride*j",
                lambda x, size=2, stride=2: maxpool2d_forward_naive(x, size, stride, ignore_stride=True)),
        Mistake("the running maximum started at 0: in a window of negative numbers the maximum is "
                "negative; start from the window's first value (or -inf), or use window.max()",
                lambda x, size=2, stride=2: (np.maximum(maxpool2d_forward_naive(x, size, stride)[0], 0), None)),
        Mistake("that is the average of each window; max-pooling keeps its largest value", avgpool2d_forward_naive),
        Mistake("each channel is pooled separately: take the maximum over the window's rows and columns "
                "only, not over the channels too", _pooled_over_channels),
        Mistake("windows that would run past the edge are dropped: Ho = floor((H - size) / stride) + 1",
                lambda x, size=2, stride=2: maxpool2d_forward_naive(x, size, stride, ceil=True)),
    ],
)
def _maxpool_forward_naive(x, size=2, stride=2):
    out, _ = pooling.maxpool2d_forward(x, size, stride)
    return out, (x, size, stride)


# --- maxpool_backward_naive -----------------------------------------------------------------------


def _maxpool_backward_reference(dout, cache):
    """dx with each window's gradient at its first maximum (as np.argmax picks)."""
    x, size, stride = cache
    _, fast = pooling.maxpool2d_forward(x, size, stride)
    return pooling.maxpool2d_backward(dout, fast)


def _plane_explained(x, dout, got, size, stride, tol, budget=200_000):
    """Can every window send its dout[i, j] to one of its maxima so that the sum is ``got``? (one plane)"""
    Ho, Wo = dout.shape
    residual = got.astype(np.float64).copy()
    tied = []  # (dout value, candidate positions) of windows with several maxima
    for i in range(Ho):
        for j in range(Wo):
            window = x[i * stride:i * stride + size, j * stride:j * stride + size]
            where = np.argwhere(window == window.max()) + (i * stride, j * stride)
            if len(where) == 1:
                residual[tuple(where[0])] -= dout[i, j]
            else:
                tied.append((float(dout[i, j]), [tuple(p) for p in where]))
    # A position may be checked once no later tied window can still send to it.
    last = {}
    for t, (_, positions) in enumerate(tied):
        for p in positions:
            last[p] = t
    settled = [[] for _ in tied]
    for p, t in last.items():
        settled[t].append(p)
    free = [p for p in np.ndindex(*residual.shape) if p not in last]
    if any(abs(residual[p]) > tol for p in free):
        return False
    steps = [0]

    def assign(t):
        if t == len(tied):
            return True
        steps[0] += 1
        if steps[0] > budget:
            return False
        value, positions = tied[t]
        for p in positions:
            residual[p] -= value
            if all(abs(residual[q]) <= tol for q in settled[t]) and assign(t + 1):
                return True
            residual[p] += value
        return False

    return assign(0)


def _has_ties(x, size, stride) -> bool:
    Ho, Wo = _out_size(x.shape[2], size, stride), _out_size(x.shape[3], size, stride)
    for i in range(Ho):
        for j in range(Wo):
            window = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]
            peak = window.max(axis=(2, 3), keepdims=True)
            if ((window == peak).sum(axis=(2, 3)) > 1).any():
                return True
    return False


def _compare_routes(expected, got, inputs):
    """Like :func:`difference`, but on a tie any one of the tied positions may get the gradient
    (when ``expected`` is the reference's dx, which sends ties to the first maximum)."""
    message = difference(expected, got)
    if message is None or not backend.is_array(got):
        return message
    x, size, stride, dout = (backend.asnumpy(inputs[k]) if k in ("x", "dout") else inputs[k]
                             for k in ("x", "size", "stride", "dout"))
    if not np.array_equal(backend.asnumpy(expected), backend.asnumpy(
            _maxpool_backward_reference(dout, (x, size, stride)))):
        return message  # a mistake model's dx: no tie choices to try
    # The expected dx sends ties to the first maximum; say so where that is not the only choice.
    message += " (where a window holds its maximum twice, any one of those positions may get the gradient)" \
        if _has_ties(x, size, stride) else ""
    got = backend.asnumpy(got)
    if got.shape != x.shape or got.dtype.kind != "f":
        return message
    eps = max(np.finfo(got.dtype).eps, np.finfo(dout.dtype).eps)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            # A position sums at most a few window gradients: allow rounding on that scale.
            tol = 100 * eps * (1.0 + float(np.abs(dout[n, c]).sum())) + 1e-8
            if not _plane_explained(x[n, c], dout[n, c], got[n, c], size, stride, tol):
                return message
    return None


def _pool_case(note, x, size, stride):
    """A backward case: x (a Draw or an array), size, stride and a random dout of the output's shape."""
    def make(rng):
        data = x(rng) if isinstance(x, Draw) else np.array(x, dtype=np.float64)
        shape = data.shape[:2] + (_out_size(data.shape[2], size, stride), _out_size(data.shape[3], size, stride))
        return {"x": data, "size": size, "stride": stride,
                "dout": rng.standard_normal(shape).astype(data.dtype)}
    return Case(note, make=make)


# One big value at the centre of a 5x5 map: the maximum of all four overlapping 3x3 windows.
_SHARED = np.arange(25.0).reshape(1, 1, 5, 5) % 7
_SHARED[0, 0, 2, 2] = 50.0


@exercise(
    "maxpool_backward_naive", points=3,
        implemented_by=("cnnlab.pooling.maxpool2d_backward", "cnnlab.nn.MaxPool2d", "cnnlab.autograd.maxpool2d"),
    call=call_backward, partners={"forward": _maxpool_forward_naive}, compare=_compare_routes,
    cases=[
        _pool_case("", normal(2, 3, 4, 4), 2, 2),
        Case("worked out by hand: each gradient goes to its window's maximum",
             x=np.array([[[[1.0, 5, 2, 0], [3, 4, 8, 1], [0, 0, -1, -3], [9, 2, -2, -4]]]]), size=2, stride=2,
             dout=np.array([[[[1.0, 2], [3, 4]]]]),
             expected=np.array([[[[0.0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 4, 0], [3, 0, 0, 0]]]])),
        _pool_case("overlapping windows (size 3, stride 2) that share their maximum", _SHARED, 3, 2),
        _pool_case("overlapping windows: size 2, stride 1", normal(2, 2, 5, 5), 2, 1),
        _pool_case("ties: small integers, each window's gradient goes to one maximum",
                   Draw(lambda rng: rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)), 2, 2),
        _pool_case("a window of zeros, as after a ReLU: a four-way tie",
                   np.array([[[[0.0, 0, 3, 1], [0, 0, 2, 3], [1, 2, 0, 0], [0, 2, 0, 0]]]]), 2, 2),
        _pool_case("ties and overlapping windows together",
                   Draw(lambda rng: rng.integers(0, 2, (1, 2, 5, 5)).astype(np.float64)), 3, 2),
        _pool_case("stride 3 > size 2: rows between windows get nothing", normal(1, 1, 7, 7), 2, 3),
        _pool_case("float32", normal(2, 1, 6, 6, dtype=np.float32), 3, 3),
    ],
    mistakes=[
        Mistake("gradient to every position of the window: only the position that held the maximum "
                "affected the output, so only it gets dout (the others get 0)",
                lambda dout, cache: maxpool2d_backward_naive(dout, cache, to_every=True)),
        Mistake("ties sent to several positions: when a window holds its maximum twice, send the whole "
                "gradient to ONE of them (e.g. the first, as np.argmax picks); `window == window.max()` "
                "selects all of them", lambda dout, cache: maxpool2d_backward_naive(dout, cache, to_all_ties=True)),
        Mistake("ties sent to several positions: splitting dout between the tied maxima is not the rule "
                "here; the whole gradient goes to one of them",
                lambda dout, cache: maxpool2d_backward_naive(dout, cache, split_ties=True)),
        Mistake("overlapping windows (stride < size) overwritten instead of accumulated: an input that is "
                "the maximum of two windows receives both gradients, so use dx[...] += dout[...]",
                lambda dout, cache: maxpool2d_backward_naive(dout, cache, overwrite=True)),
        Mistake("overlapping windows (stride < size) overwritten instead of accumulated: assigning a "
                "whole window (dx[..., window] = mask * g) wipes what an earlier window sent there; add "
                "instead", lambda dout, cache: maxpool2d_backward_naive(dout, cache, overwrite_window=True)),
        Mistake("wrong stride: window (i, j) starts at row stride*i, column stride*j, as in the forward; "
                "with size*i the windows only line up when stride == size",
                lambda dout, cache: maxpool2d_backward_naive(dout, (cache[0], cache[1], cache[1]))),
        Mistake("wrong stride: window (i, j) starts at row stride*i, column stride*j, as in the forward, "
                "not at row i, column j", lambda dout, cache: maxpool2d_backward_naive(dout, (cache[0], cache[1], 1))),
        Mistake("row and column swapped: np.argmax(window) is a flat index, and "
                "divmod(index, size) gives (row, column) in that order",
                lambda dout, cache: maxpool2d_backward_naive(dout, cache, swap_row_col=True)),
    ],
)
def _maxpool_backward_naive(dout, cache):
    return _maxpool_backward_reference(dout, cache)


# --- avgpool_backward -----------------------------------------------------------------------------


def _avgpool_forward(x, size, stride):
    out, _ = pooling.avgpool2d_forward(x, size, stride)
    return out, (x, size, stride)


def _forward_and_backward(fn, inputs, forward):
    """Both results are checked: ``(out, dx)`` from the student's forward and backward."""
    plain = {k: v for k, v in inputs.items() if k != "dout"}
    return call_forward(forward, plain), call_backward(fn, inputs, forward)


def _scaled(got, expected, factor) -> bool:
    try:
        return bool(np.allclose(backend.asnumpy(got), backend.asnumpy(expected) * factor, rtol=1e-5, atol=1e-8))
    except Exception:
        return False


def _forward_not_divided(inputs, got, expected):
    """Detector: the student's forward output is a sum (or divided by size only)."""
    if not (isinstance(got, tuple) and isinstance(expected, tuple)):
        return None
    size = inputs["size"]
    if size > 1 and _scaled(got[0], expected[0], size * size):
        return ("not divided by window size in avgpool_forward: the average of a window is its sum "
                "divided by size*size")
    if size > 1 and _scaled(got[0], expected[0], size):
        return "avgpool_forward divides by size; a size x size window holds size*size values"
    return None


def _avg_case(note, x, size, stride):
    return _pool_case(note, x, size, stride)


@exercise(
    "avgpool_backward", points=2,
        implemented_by=("cnnlab.pooling.avgpool2d_forward", "cnnlab.pooling.avgpool2d_backward", "cnnlab.nn.AvgPool2d"),
    call=_forward_and_backward, partners={"forward": _avgpool_forward}, output_names=("out", "dx"),
    cases=[
        _avg_case("", normal(2, 3, 4, 4), 2, 2),
        Case("worked out by hand: 2x2 means of 0..15, every gradient 1",
             x=np.arange(16.0).reshape(1, 1, 4, 4), size=2, stride=2, dout=np.ones((1, 1, 2, 2)),
             expected=(np.array([[[[2.5, 4.5], [10.5, 12.5]]]]), np.full((1, 1, 4, 4), 0.25))),
        _avg_case("overlapping windows: size 3, stride 2", normal(1, 2, 5, 5), 3, 2),
        _avg_case("overlapping windows: size 2, stride 1", normal(2, 1, 4, 5), 2, 1),
        _avg_case("stride 3 > size 2", normal(1, 1, 7, 7), 2, 3),
        _avg_case("the last row and column are left over", normal(1, 1, 5, 5), 2, 2),
        _avg_case("float32", normal(2, 2, 6, 6, dtype=np.float32), 3, 3),
    ],
    mistakes=[
        Mistake("not divided by window size in avgpool_backward: each of the size*size inputs of a "
                "window gets dout / (size*size)",
                lambda dout, cache: avgpool2d_backward_naive(dout, cache) * cache[1] ** 2),
        Mistake("avgpool_backward divides by size; a size x size window shares its gradient among "
                "size*size inputs", lambda dout, cache: avgpool2d_backward_naive(dout, cache) * cache[1]),
        Mistake("overlapping windows (stride < size) overwritten instead of accumulated: an input in two "
                "windows gets a share from each, so add (+=)",
                lambda dout, cache: avgpool2d_backward_naive(dout, cache, overwrite=True)),
    ],
    detectors=[_forward_not_divided],
)
def _avgpool_backward(dout, cache):
    x, size, stride = cache
    _, fast = pooling.avgpool2d_forward(x, size, stride)
    return pooling.avgpool2d_backward(dout, fast)
