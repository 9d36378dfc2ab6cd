"""Lesson 06: right and wrong answers to maxpool_forward_naive, maxpool_backward_naive and
avgpool_backward, written as students write them (each backward with its own forward)."""

import numpy as np

from . import Right, Wrong


def _out(n, size, stride):
    return (n - size) // stride + 1


# --- maxpool_forward_naive ------------------------------------------------------------------


def maxpool_loops(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = _out(H, size, stride), _out(W, size, stride)
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].max()
    return out, (x, size, stride)


def maxpool_offsets(x, size=2, stride=2):
    # One strided slice per window offset; the cache keeps the argmax offset of every window.
    N, C, H, W = x.shape
    Ho, Wo = _out(H, size, stride), _out(W, size, stride)
    out = np.full((N, C, Ho, Wo), -np.inf, dtype=x.dtype)
    arg = np.zeros((N, C, Ho, Wo), dtype=int)
    for k in range(size * size):
        a, b = divmod(k, size)
        values = x[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride]
        better = values > out
        arg[better] = k
        out = np.where(better, values, out)
    return out, (x.shape, size, stride, arg)


def maxpool_stride_ignored(x, size=2, stride=2):
    N, C, H, W = x.shape
    Ho, Wo = _out(H, size, stride), _out(W, size, stride)
    out = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i:i + size, j:j + size].max(axis=(2, 3))
    return out, None


# --- maxpool_backward_naive -----------------------------------------------------------------


def maxpool_backward_argmax_first(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def maxpool_backward_last_tie(dout, cache):
    # `>=` in a scan keeps the LAST maximum on a tie: a different position, still one position.
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, where = -np.inf, None
                    for a in range(size):
                        for b in range(size):
                            v = x[n, c, i * stride + a, j * stride + b]
                            if v >= best:
                                best, where = v, (i * stride + a, j * stride + b)
                    dx[n, c, where[0], where[1]] += dout[n, c, i, j]
    return dx


def maxpool_backward_random_tie(dout, cache):
    # Tomasi's rule: on a tie, one of the highest inputs chosen at random.
    x, size, stride = cache
    rng = np.random.default_rng(12345)
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    tied = np.argwhere(window == window.max())
                    a, b = tied[rng.integers(len(tied))]
                    dx[n, c, i * stride + a, j * stride + b] += dout[n, c, i, j]
    return dx


def maxpool_backward_offsets(dout, cache):
    # Works with maxpool_offsets' cache: one strided slice per window offset.
    x_shape, size, stride, arg = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for k in range(size * size):
        a, b = divmod(k, size)
        dx[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += dout * (arg == k)
    return dx


def maxpool_backward_every_position(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(Ho):
        for j in range(Wo):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def maxpool_backward_mask_ties(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    mask = window == np.max(window)
                    dx[n, c, i * stride:i * stride + size, j * stride:j * stride + size] += mask * dout[n, c, i, j]
    return dx


def maxpool_backward_overwrite(dout, cache):
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + a, j * stride + b] = dout[n, c, i, j]
    return dx


def maxpool_backward_size_as_stride(dout, cache):
    # Windows laid out every `size` positions, as if they never overlapped.
    x, size, stride = cache
    N, C, Ho, Wo = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
                    a, b = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * size + a, j * size + b] += dout[n, c, i, j]
    return dx


# --- avgpool --------------------------------------------------------------------------------


def avgpool_forward_loops(x, size, stride):
    N, C, H, W = x.shape
    Ho, Wo = _out(H, size, stride), _out(W, size, stride)
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + size, j * stride:j * stride + size].mean(axis=(2, 3))
    return out, (x.shape, size, stride)


def avgpool_backward_loops(dout, cache):
    x_shape, size, stride = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(Ho):
        for j in range(Wo):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += \
                dout[:, :, i:i + 1, j:j + 1] / (size * size)
    return dx


def avgpool_forward_offsets(x, size, stride):
    N, C, H, W = x.shape
    Ho, Wo = _out(H, size, stride), _out(W, size, stride)
    total = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for a in range(size):
        for b in range(size):
            total += x[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride]
    return total / (size * size), {"shape": x.shape, "size": size, "stride": stride}


def avgpool_backward_offsets(dout, cache):
    size, stride = cache["size"], cache["stride"]
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(cache["shape"], dtype=dout.dtype)
    share = dout / (size * size)
    for a in range(size):
        for b in range(size):
            dx[:, :, a:a + stride * (Ho - 1) + 1:stride, b:b + stride * (Wo - 1) + 1:stride] += share
    return dx


def avgpool_backward_not_divided(dout, cache):
    x_shape, size, stride = cache
    Ho, Wo = dout.shape[2:]
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i in range(Ho):
        for j in range(Wo):
            dx[:, :, i * stride:i * stride + size, j * stride:j * stride + size] += dout[:, :, i:i + 1, j:j + 1]
    return dx


def avgpool_forward_sum(x, size, stride):
    out, cache = avgpool_forward_loops(x, size, stride)
    return out * (size * size), cache


LOOPS = {"forward": maxpool_loops}
AVG = {"forward": avgpool_forward_loops}

RIGHT = [
    Right("maxpool_forward_naive", maxpool_loops),
    Right("maxpool_forward_naive", maxpool_offsets),
    Right("maxpool_backward_naive", maxpool_backward_argmax_first, LOOPS),
    Right("maxpool_backward_naive", maxpool_backward_last_tie, LOOPS),
    Right("maxpool_backward_naive", maxpool_backward_random_tie, LOOPS),
    Right("maxpool_backward_naive", maxpool_backward_offsets, {"forward": maxpool_offsets}),
    Right("avgpool_backward", avgpool_backward_loops, AVG),
    Right("avgpool_backward", avgpool_backward_offsets, {"forward": avgpool_forward_offsets}),
]

WRONG = [
    Wrong("maxpool_forward_naive", maxpool_stride_ignored, "stride ignored"),
    Wrong("maxpool_backward_naive", maxpool_backward_every_position, "gradient to every position of the window", LOOPS),
    Wrong("maxpool_backward_naive", maxpool_backward_mask_ties, "ties sent to several positions", LOOPS),
    Wrong("maxpool_backward_naive", maxpool_backward_overwrite, "overwritten instead of accumulated", LOOPS),
    Wrong("maxpool_backward_naive", maxpool_backward_size_as_stride, "with size*i the windows only line up", LOOPS),
    Wrong("avgpool_backward", avgpool_backward_not_divided, "not divided by window size in avgpool_backward", AVG),
    Wrong("avgpool_backward", avgpool_backward_loops, "not divided by window size in avgpool_forward",
          {"forward": avgpool_forward_sum}),
]
