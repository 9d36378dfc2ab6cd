"""Lesson 05 "Convolution backward": the naive backward pass and im2col.

* ``conv2d_backward_naive(dout, cache) -> (dx, dw, db)``, where the cache is
  ``(x, w, b, stride, pad)`` from the lesson's ``conv2d_forward_naive``; checked with
  ``cl.check("conv2d_backward_naive", conv2d_backward_naive, forward=conv2d_forward_naive)``.
* ``im2col(x, kh, kw, stride=1, pad=0) -> (N*Ho*Wo, C*kh*kw)``: rows in (n, i, j) order, columns
  in (c, di, dj) order, exactly :func:`cnnlab.conv.im2col`.
"""

from __future__ import annotations

import numpy as np

from .. import conv
from .core import Case, Mistake, call_backward, exercise, normal
from .naive import conv2d_backward_naive

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
