"""Convolution and pooling as loops: one Python iteration per output value, as the formulas read.

These are the answers to lessons 04 to 06 (``conv2d_forward_naive``, ``conv2d_backward_naive``,
``col2im``, ``maxpool_forward_naive``, ``maxpool_backward_naive``, ``avgpool_forward``/``avgpool_backward``),
so they live here, in the package a student's cell may not reach. Three users share them:

* the grading's mistake models: a keyword switch turns on a mistake made inside the loops (all
  off: the right answer), e.g. ``conv2d_backward_naive(dout, cache, overwrite_dx=True)``; a
  mistake made on the data (a flipped kernel, a forgotten bias) is the right loop on other
  inputs, written in the lesson's module;
* the tests, which compare cnnlab's fast kernels with them;
* ``benchmarks/bench.py``, which times them against the fast kernels.

NumPy only, no validation. ``stride``, ``pad`` and ``size`` are ints or (rows, cols) pairs;
caches keep them as given: ``(x, w, b, stride, pad)`` for convolution (the cache lesson 05's
``conv2d_forward_naive`` returns) and ``(x, size, stride)`` for pooling.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "avgpool2d_backward_naive", "avgpool2d_forward_naive", "col2im_naive", "conv2d_backward_naive",
    "conv2d_forward_naive",
    "maxpool2d_backward_naive", "maxpool2d_forward_naive",
]


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _pad(x, pad):
    ph, pw = _pair(pad)
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _out_size(n, k, step, ceil=False):
    """Window positions along one axis; ``ceil`` also counts a last window that runs past the edge."""
    return (-(-(n - k) // step) if ceil else (n - k) // step) + 1


def _corner(i, j, stride, ignore_stride=False):
    """The top-left corner of output (i, j)'s window: (stride_rows i, stride_cols j)."""
    return (i, j) if ignore_stride else (i * stride[0], j * stride[1])


# --- convolution --------------------------------------------------------------------------------

def conv2d_forward_naive(x, w, b, stride=1, pad=0, *, ignore_stride=False):
    """out[n, f, i, j] = b[f] + sum(w[f] * xpad[n, :, window(i, j)]).

    Args:
        x: (N, C, H, W) input; w: (F, C, kh, kw) filters; b: (F,) biases.
        ignore_stride: the mistake of reading window (i, j) at row i, column j (the output keeps
            its strided size).

    Returns:
        out (N, F, Ho, Wo) and the cache ``(x, w, b, stride, pad)``.
    """
    s, (ph, pw) = _pair(stride), _pair(pad)
    N, _, H, W = x.shape
    F, _, kh, kw = w.shape
    xpad = _pad(x, pad)
    out = np.zeros((N, F, _out_size(H + 2 * ph, kh, s[0]), _out_size(W + 2 * pw, kw, s[1])), dtype=x.dtype)
    for n, f, i, j in np.ndindex(*out.shape):
        r, q = _corner(i, j, s, ignore_stride)
        out[n, f, i, j] = np.sum(xpad[n, :, r:r + kh, q:q + kw] * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv2d_backward_naive(dout, cache, *, overwrite_dw=False, overwrite_dx=False, last_sample_dw=False,
                          keep_pad=False, ignore_stride=False):
    """dx, dw, db of :func:`conv2d_forward_naive`: each output's gradient flows back to its window.

    Args:
        dout: (N, F, Ho, Wo) upstream gradient.
        cache: ``(x, w, b, stride, pad)``.
        overwrite_dw, overwrite_dx: the mistake of ``=`` instead of ``+=`` (the last window wins).
        last_sample_dw: the mistake of starting dw afresh for every sample.
        keep_pad: the mistake of returning the gradient of the padded input.
        ignore_stride: the mistake of sending output (i, j)'s gradient to row i, column j.

    Returns:
        dx (N, C, H, W), dw (F, C, kh, kw), db (F,).
    """
    x, w, b, stride, pad = cache
    s, (ph, pw) = _pair(stride), _pair(pad)
    _, _, kh, kw = w.shape
    xpad = _pad(x, pad)
    dxpad, dw, db = np.zeros_like(xpad), np.zeros_like(w), np.zeros_like(b)
    for n, f, i, j in np.ndindex(*dout.shape):
        if last_sample_dw and (f, i, j) == (0, 0, 0):
            dw[...] = 0
        r, q = _corner(i, j, s, ignore_stride)
        g = dout[n, f, i, j]
        window = (slice(r, r + kh), slice(q, q + kw))
        if overwrite_dw:
            dw[f] = g * xpad[n, :, window[0], window[1]]
        else:
            dw[f] += g * xpad[n, :, window[0], window[1]]
        if overwrite_dx:
            dxpad[n, :, window[0], window[1]] = g * w[f]
        else:
            dxpad[n, :, window[0], window[1]] += g * w[f]
        db[f] += g
    H, W = x.shape[2:]
    return (dxpad if keep_pad else dxpad[:, :, ph:ph + H, pw:pw + W]), dw, db


def col2im_naive(cols, x_shape, kh, kw, stride=1, pad=0, *, overwrite=False, keep_pad=False):
    """The adjoint of im2col: row (n*Ho + i)*Wo + j of ``cols`` is added back onto window (i, j)
    of sample n, its columns in (c, di, dj) order.

    Args:
        cols: (N*Ho*Wo, C*kh*kw); x_shape: (N, C, H, W).
        overwrite: the mistake of ``=`` instead of ``+=`` (where windows overlap, the last wins).
        keep_pad: the mistake of returning the padded (N, C, H + 2 pad, W + 2 pad) array.

    Returns:
        (N, C, H, W) array of cols' dtype.
    """
    s, (ph, pw) = _pair(stride), _pair(pad)
    N, C, H, W = x_shape
    Ho, Wo = _out_size(H + 2 * ph, kh, s[0]), _out_size(W + 2 * pw, kw, s[1])
    xpad = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=cols.dtype)
    for row, (n, i, j) in enumerate(np.ndindex(N, Ho, Wo)):
        r, q = _corner(i, j, s)
        window = cols[row].reshape(C, kh, kw)
        if overwrite:
            xpad[n, :, r:r + kh, q:q + kw] = window
        else:
            xpad[n, :, r:r + kh, q:q + kw] += window
    return xpad if keep_pad else xpad[:, :, ph:ph + H, pw:pw + W]


# --- pooling ------------------------------------------------------------------------------------

def _pool_forward(x, size, stride, reduce, ignore_stride=False, ceil=False):
    """out[n, c, i, j] = reduce(x[n, c, window(i, j)]); stride None means stride = size."""
    k = _pair(size)
    s = k if stride is None else _pair(stride)
    N, C, H, W = x.shape
    out = np.zeros((N, C, _out_size(H, k[0], s[0], ceil), _out_size(W, k[1], s[1], ceil)), dtype=x.dtype)
    for n, c, i, j in np.ndindex(*out.shape):
        r, q = _corner(i, j, s, ignore_stride)
        out[n, c, i, j] = reduce(x[n, c, r:r + k[0], q:q + k[1]])  # past the edge: a partial window
    return out, (x, size, size if stride is None else stride)


def maxpool2d_forward_naive(x, size=2, stride=None, *, ignore_stride=False, ceil=False):
    """The maximum of each window; cache ``(x, size, stride)`` (backward finds the argmax again).

    ``ignore_stride``: the mistake of reading window (i, j) at row i, column j; ``ceil``: the
    mistake of keeping the windows that run past the bottom and right edges.
    """
    return _pool_forward(x, size, stride, np.max, ignore_stride, ceil)


def maxpool2d_backward_naive(dout, cache, *, to_every=False, to_all_ties=False, split_ties=False,
                             overwrite=False, overwrite_window=False, swap_row_col=False):
    """Each window's gradient goes to its maximum; on a tie to the first in row-major order
    (``np.argmax``).

    The switches are mistakes: ``to_every`` sends it to every position of the window,
    ``to_all_ties`` to every tied maximum, ``split_ties`` splits it among them; ``overwrite``
    assigns it (``=``) instead of adding, ``overwrite_window`` assigns the whole window;
    ``swap_row_col`` swaps the argmax's row and column.
    """
    x, size, stride = cache
    k, s = _pair(size), _pair(stride)
    dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dout.shape):
        r, q = _corner(i, j, s)
        rows, cols = slice(r, r + k[0]), slice(q, q + k[1])
        window, g = x[n, c, rows, cols], dout[n, c, i, j]
        if to_every:
            dx[n, c, rows, cols] += g
        elif to_all_ties or split_ties:
            ties = window == window.max()
            dx[n, c, rows, cols] += ties * (g / ties.sum() if split_ties else g)
        elif overwrite_window:
            first = np.zeros(window.shape, dtype=bool)
            first.flat[np.argmax(window)] = True
            dx[n, c, rows, cols] = first * g
        else:
            di, dj = np.unravel_index(np.argmax(window), window.shape)
            if swap_row_col:
                di, dj = dj, di
            if overwrite:
                dx[n, c, r + di, q + dj] = g
            else:
                dx[n, c, r + di, q + dj] += g
    return dx


def avgpool2d_forward_naive(x, size=2, stride=None):
    """The mean of each window; cache ``(x, size, stride)``."""
    return _pool_forward(x, size, stride, np.mean)


def avgpool2d_backward_naive(dout, cache, *, overwrite=False):
    """Each input of a window gets an equal share of the window's gradient; ``overwrite``: the
    mistake of assigning (``=``) the shares instead of adding them."""
    x, size, stride = cache
    k, s = _pair(size), _pair(stride)
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for n, c, i, j in np.ndindex(*dout.shape):
        r, q = _corner(i, j, s)
        share = dout[n, c, i, j] / (k[0] * k[1])
        if overwrite:
            dx[n, c, r:r + k[0], q:q + k[1]] = share
        else:
            dx[n, c, r:r + k[0], q:q + k[1]] += share
    return dx
