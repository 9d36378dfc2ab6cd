"""Lesson 05: right and wrong answers to conv2d_backward_naive and im2col, written as students
write them. The backward is checked with the lesson's forward, whose cache is (x, w, b, stride, pad)."""

import numpy as np

from cnnlab.grading.naive import conv2d_forward_naive  # the forward lesson 05 hands to the student

from . import Right, Wrong


FORWARD = {"forward": conv2d_forward_naive}

# --- conv2d_backward_naive: right -----------------------------------------------------------


def backward_loops(dout, cache):
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * stride, j * stride
                    dw[f] += dout[n, f, i, j] * xp[n, :, r:r + kh, c:c + kw]
                    dxp[n, :, r:r + kh, c:c + kw] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    H, W = x.shape[2:]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, db


def backward_positions_vectorised(dout, cache):
    # One iteration per output position, all samples and filters at once.
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros(xp.shape)
    dw = np.zeros(w.shape)
    for i in range(Ho):
        for j in range(Wo):
            r, c = i * stride, j * stride
            g = dout[:, :, i, j]                                   # (N, F)
            dw += np.einsum("nf,nchw->fchw", g, xp[:, :, r:r + kh, c:c + kw])
            dxp[:, :, r:r + kh, c:c + kw] += np.einsum("nf,fchw->nchw", g, w)
    H, W = x.shape[2:]
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx.astype(x.dtype), dw.astype(w.dtype), dout.sum(axis=(0, 2, 3))


def backward_kernel_offsets(dout, cache):
    # One iteration per kernel offset (di, dj): strided slices, like cnnlab.conv.
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for di in range(kh):
        for dj in range(kw):
            rows = slice(di, di + stride * (Ho - 1) + 1, stride)
            cols = slice(dj, dj + stride * (Wo - 1) + 1, stride)
            patch = xp[:, :, rows, cols]                           # (N, C, Ho, Wo)
            dw[:, :, di, dj] = np.einsum("nfij,ncij->fc", dout, patch)
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", dout, w[:, :, di, dj])
    H, W = x.shape[2:]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


# --- conv2d_backward_naive: wrong -----------------------------------------------------------


def backward_dw_overwritten(dout, cache):
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * stride, j * stride
                    dw[f] = dout[n, f, i, j] * xp[n, :, r:r + kh, c:c + kw]
                    dxp[n, :, r:r + kh, c:c + kw] += dout[n, f, i, j] * w[f]
    H, W = x.shape[2:]
    return dxp[:, :, pad:pad + H, pad:pad + W], dw, dout.sum(axis=(0, 2, 3))


def backward_padding_kept(dout, cache):
    x, w, b, stride, pad = cache
    N, F, Ho, Wo = dout.shape
    _, C, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    r, c = i * stride, j * stride
                    dw[f] += dout[n, f, i, j] * xp[n, :, r:r + kh, c:c + kw]
                    dx[n, :, r:r + kh, c:c + kw] += dout[n, f, i, j] * w[f]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def backward_db_per_sample(dout, cache):
    dx, dw, _ = backward_loops(dout, cache)
    return dx, dw, dout.sum(axis=(2, 3))


RIGHT = [
    Right("conv2d_backward_naive", backward_loops, FORWARD),
    Right("conv2d_backward_naive", backward_positions_vectorised, FORWARD),
    Right("conv2d_backward_naive", backward_kernel_offsets, FORWARD),
]

WRONG = [
    Wrong("conv2d_backward_naive", backward_dw_overwritten, "gradient not accumulated over positions", FORWARD),
    Wrong("conv2d_backward_naive", backward_padding_kept, "padding not removed from dx", FORWARD),
    Wrong("conv2d_backward_naive", backward_db_per_sample, "db not summed", FORWARD),
]

# --- im2col ---------------------------------------------------------------------------------


def im2col_loops(x, kh, kw, stride=1, pad=0):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    cols = np.zeros((N * Ho * Wo, C * kh * kw), dtype=x.dtype)
    row = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                cols[row] = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
                row += 1
    return cols


def im2col_offsets(x, kh, kw, stride=1, pad=0):
    # One strided slice per kernel offset, then one transpose (Chainer's idea).
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    cols = np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for di in range(kh):
        for dj in range(kw):
            cols[:, :, di, dj] = xp[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(N * Ho * Wo, C * kh * kw)


def im2col_stride_tricks(x, kh, kw, stride=1, pad=0):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    # view: (N, C, Ho, Wo, kh, kw)
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * kh * kw).copy()


def im2col_rows_j_first(x, kh, kw, stride=1, pad=0):
    N, C, H, W = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    rows = []
    for n in range(N):
        for j in range(Wo):
            for i in range(Ho):
                rows.append(xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel())
    return np.array(rows)


RIGHT += [
    Right("im2col", im2col_loops),
    Right("im2col", im2col_offsets),
    Right("im2col", im2col_stride_tricks),
]

WRONG += [
    Wrong("im2col", im2col_rows_j_first, "rows must run over (n, i, j) with j fastest"),
]
