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

# --- col2im -----------------------------------------------------------------------------------


def _out(n, k, stride, pad):
    return (n + 2 * pad - k) // stride + 1


def col2im_rows(cols, x_shape, kh, kw, stride=1, pad=0):
    # One window at a time: row r of cols is added back where im2col copied it from.
    N, C, H, W = x_shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    r = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += cols[r].reshape(C, kh, kw)
                r += 1
    return xp[:, :, pad:pad + H, pad:pad + W]


def col2im_offsets(cols, x_shape, kh, kw, stride=1, pad=0):
    # One strided slice per kernel offset: the transpose of im2col_offsets.
    N, C, H, W = x_shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    blocks = cols.reshape(N, Ho, Wo, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)   # (N, C, kh, kw, Ho, Wo)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for di in range(kh):
        for dj in range(kw):
            xp[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride] += blocks[:, :, di, dj]
    return xp[:, :, pad:pad + H, pad:pad + W]


def col2im_add_at(cols, x_shape, kh, kw, stride=1, pad=0):
    # No loop at all: the padded position of every entry of cols, and np.add.at to add them up.
    N, C, H, W = x_shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    n, i, j, c, di, dj = np.meshgrid(np.arange(N), np.arange(Ho), np.arange(Wo), np.arange(C), np.arange(kh),
                                     np.arange(kw), indexing="ij")
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    np.add.at(xp, (n, c, i * stride + di, j * stride + dj), cols.reshape(N, Ho, Wo, C, kh, kw))
    return xp[:, :, pad:pad + H, pad:pad + W]


def col2im_assigns(cols, x_shape, kh, kw, stride=1, pad=0):
    N, C, H, W = x_shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for r, (n, i, j) in enumerate(np.ndindex(N, Ho, Wo)):
        xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw] = cols[r].reshape(C, kh, kw)
    return xp[:, :, pad:pad + H, pad:pad + W]


def col2im_keeps_padding(cols, x_shape, kh, kw, stride=1, pad=0):
    N, C, H, W = x_shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    blocks = cols.reshape(N, Ho, Wo, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for di in range(kh):
        for dj in range(kw):
            xp[:, :, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride] += blocks[:, :, di, dj]
    return xp


IM2COL = {"im2col": im2col_offsets}

RIGHT += [
    Right("col2im", col2im_rows, IM2COL),
    Right("col2im", col2im_offsets, {"im2col": im2col_loops}),
    Right("col2im", col2im_add_at, {"im2col": im2col_stride_tricks}),
]

WRONG += [
    Wrong("col2im", col2im_assigns, "overlaps overwritten instead of added", IM2COL),
    Wrong("col2im", col2im_keeps_padding, "padding kept", IM2COL),
]

# --- conv2d_fast: right ---------------------------------------------------------------------


def fast_forward(x, w, b, stride=1, pad=0):
    F, C, kh, kw = w.shape
    N, _, H, W = x.shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    cols = im2col_offsets(x, kh, kw, stride, pad)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    return out, (x.shape, w, stride, pad, cols)


def fast_backward(dout, cache):
    x_shape, w, stride, pad, cols = cache
    F, C, kh, kw = w.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)           # (N*Ho*Wo, F), like im2col's rows
    dw = (rows.T @ cols).reshape(w.shape)
    dx = col2im_offsets(rows @ w.reshape(F, -1), x_shape, kh, kw, stride, pad)
    return dx, dw, rows.sum(axis=0)


def fast_forward_filters_first(x, w, b, stride=1, pad=0):
    # The product the other way round, (F, CKK) @ (CKK, N*Ho*Wo), and a dict for the cache.
    F, C, kh, kw = w.shape
    N, _, H, W = x.shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    cols_t = im2col_stride_tricks(x, kh, kw, stride, pad).T
    out = (w.reshape(F, -1) @ cols_t).reshape(F, N, Ho, Wo) + b.reshape(F, 1, 1, 1)
    cache = {"x": x, "w": w, "stride": stride, "pad": pad, "cols_t": cols_t}
    return np.ascontiguousarray(out.transpose(1, 0, 2, 3)), cache


def fast_backward_filters_first(dout, cache):
    w, cols_t = cache["w"], cache["cols_t"]
    F, C, kh, kw = w.shape
    d = dout.transpose(1, 0, 2, 3).reshape(F, -1)              # (F, N*Ho*Wo)
    dcols_t = w.reshape(F, -1).T @ d
    dx = col2im_add_at(dcols_t.T, cache["x"].shape, kh, kw, cache["stride"], cache["pad"])
    return dx, (d @ cols_t.T).reshape(w.shape), d.sum(axis=1)


# --- conv2d_fast: wrong ---------------------------------------------------------------------


def fast_forward_reshaped_directly(x, w, b, stride=1, pad=0):
    F, C, kh, kw = w.shape
    N, _, H, W = x.shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    cols = im2col_offsets(x, kh, kw, stride, pad)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, F, Ho, Wo)
    return out, (x.shape, w, stride, pad, cols)


def fast_backward_no_bias(dout, cache):
    x_shape, w, stride, pad, cols = cache
    F, C, kh, kw = w.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = (rows.T @ cols).reshape(w.shape)
    dx = col2im_offsets(rows @ w.reshape(F, -1), x_shape, kh, kw, stride, pad)
    return dx, dw, np.zeros(F, dtype=w.dtype)


def fast_forward_sample_loop(x, w, b, stride=1, pad=0):
    # Right values, but one im2col and one product per sample.
    F, C, kh, kw = w.shape
    N, _, H, W = x.shape
    Ho, Wo = _out(H, kh, stride, pad), _out(W, kw, stride, pad)
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        cols_n = im2col_offsets(x[n:n + 1], kh, kw, stride, pad)
        out[n] = (cols_n @ w.reshape(F, -1).T + b).T.reshape(F, Ho, Wo)
    return out, (x.shape, w, stride, pad, im2col_offsets(x, kh, kw, stride, pad))


def fast_backward_position_loop(dout, cache):
    # Right values, but dw and db added up one output position at a time.
    x_shape, w, stride, pad, cols = cache
    F, C, kh, kw = w.shape
    rows = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dw = np.zeros((F, C * kh * kw), dtype=w.dtype)
    db = np.zeros(F, dtype=w.dtype)
    for r in range(rows.shape[0]):
        dw += np.outer(rows[r], cols[r])
        db += rows[r]
    dx = col2im_offsets(rows @ w.reshape(F, -1), x_shape, kh, kw, stride, pad)
    return dx, dw.reshape(w.shape), db


RIGHT += [
    Right("conv2d_fast", fast_forward, {"backward": fast_backward}),
    Right("conv2d_fast", fast_forward_filters_first, {"backward": fast_backward_filters_first}),
]

WRONG += [
    Wrong("conv2d_fast", fast_forward_reshaped_directly, "reshape in the wrong order", {"backward": fast_backward}),
    Wrong("conv2d_fast", fast_forward, "forgotten bias gradient", {"backward": fast_backward_no_bias}),
    Wrong("conv2d_fast", fast_forward_sample_loop, "loops left in", {"backward": fast_backward}),
    Wrong("conv2d_fast", fast_forward, "loops left in", {"backward": fast_backward_position_loop}),
]
