"""Straightforward loop implementations of conv2d and pooling: the slow baseline of bench.py and
the reference the tests compare cnnlab's fast kernels with.

Each output value is computed by its own Python iteration over (n, f or c, i, j), exactly as the
formulas read; only the sum over one window is left to NumPy. NumPy only, no validation.
stride, pad and size may be ints or (rows, cols) pairs.
"""

from __future__ import annotations

import numpy as np


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _pad(x, pad):
    ph, pw = pad
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward_naive(x, w, b, stride=1, pad=0):
    """out[n, f, i, j] = b[f] + sum(w[f] * xpad[n, :, window(i, j)]); cache (x, w, b, stride, pad)."""
    stride, pad = _pair(stride), _pair(pad)
    N, _, H, W = x.shape
    F, _, kh, kw = w.shape
    xpad = _pad(x, pad)
    Ho = (H + 2 * pad[0] - kh) // stride[0] + 1
    Wo = (W + 2 * pad[1] - kw) // stride[1] + 1
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = i * stride[0], j * stride[1]
                    out[n, f, i, j] = np.sum(xpad[n, :, r:r + kh, q:q + kw] * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv2d_backward_naive(dout, cache):
    """dx, dw, db of conv2d_forward_naive: each output's gradient flows back to its window."""
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, _, kh, kw = w.shape
    xpad = _pad(x, pad)
    dxpad = np.zeros_like(xpad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = i * stride[0], j * stride[1]
                    g = dout[n, f, i, j]
                    dw[f] += g * xpad[n, :, r:r + kh, q:q + kw]
                    dxpad[n, :, r:r + kh, q:q + kw] += g * w[f]
                    db[f] += g
    H, W = x.shape[2:]
    return dxpad[:, :, pad[0]:pad[0] + H, pad[1]:pad[1] + W], dw, db


def _pool_forward_naive(x, size, stride, reduce):
    """out[n, c, i, j] = reduce(x[n, c, window(i, j)]); returns out and the pair geometry."""
    size = _pair(size)
    stride = size if stride is None else _pair(stride)
    N, C, H, W = x.shape
    Ho = (H - size[0]) // stride[0] + 1
    Wo = (W - size[1]) // stride[1] + 1
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = i * stride[0], j * stride[1]
                    out[n, c, i, j] = reduce(x[n, c, r:r + size[0], q:q + size[1]])
    return out, size, stride


def maxpool2d_forward_naive(x, size=2, stride=None):
    """Max over each window; cache keeps x and the geometry (argmax is recomputed in backward)."""
    out, size, stride = _pool_forward_naive(x, size, stride, np.max)
    return out, (x, size, stride)


def maxpool2d_backward_naive(dout, cache):
    """Each window's gradient goes to its argmax (np.argmax: the first maximum in row-major order)."""
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = i * stride[0], j * stride[1]
                    window = x[n, c, r:r + size[0], q:q + size[1]]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, r + di, q + dj] += dout[n, c, i, j]
    return dx


def avgpool2d_forward_naive(x, size=2, stride=None):
    """Mean over each window; cache (x shape, size, stride)."""
    out, size, stride = _pool_forward_naive(x, size, stride, np.mean)
    return out, (x.shape, size, stride)


def avgpool2d_backward_naive(dout, cache):
    """Each input of a window gets an equal share of the window's gradient."""
    x_shape, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    r, q = i * stride[0], j * stride[1]
                    dx[n, c, r:r + size[0], q:q + size[1]] += dout[n, c, i, j] / (size[0] * size[1])
    return dx
