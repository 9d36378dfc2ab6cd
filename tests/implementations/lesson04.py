"""Lesson 04: right and wrong answers to conv_output_size, covers_input, pad2d,
conv2d_forward_naive and alexnet_shapes, written as students write them."""

import math

import numpy as np

from . import Right, Wrong

# --- conv_output_size -----------------------------------------------------------------------


def size_floor_division(n, k, stride=1, pad=0):
    if k > n + 2 * pad:
        raise ValueError(f"k = {k} is larger than the padded input {n + 2 * pad}")
    return (n + 2 * pad - k) // stride + 1


def size_math_floor(n, k, stride=1, pad=0):
    padded = n + 2 * pad
    if padded < k:
        raise ValueError("kernel does not fit")
    return int(math.floor((padded - k) / stride)) + 1


def size_count_windows(n, k, stride=1, pad=0):
    # Slide the window and count where it still fits.
    count, start = 0, 0
    while start + k <= n + 2 * pad:
        count += 1
        start += stride
    if count == 0:
        raise ValueError("no window fits")
    return count


def size_no_floor(n, k, stride=1, pad=0):
    if k > n + 2 * pad:
        raise ValueError("too big")
    return (n + 2 * pad - k) / stride + 1


def size_pad_once(n, k, stride=1, pad=0):
    if k > n + 2 * pad:
        raise ValueError("too big")
    return (n + pad - k) // stride + 1


def size_missing_plus_one(n, k, stride=1, pad=0):
    if k > n + 2 * pad:
        raise ValueError("too big")
    return (n + 2 * pad - k) // stride


def size_never_raises(n, k, stride=1, pad=0):
    return (n + 2 * pad - k) // stride + 1


def size_raises_on_exact_fit(n, k, stride=1, pad=0):
    if k >= n + 2 * pad:
        raise ValueError("kernel too big")
    return (n + 2 * pad - k) // stride + 1


# --- covers_input ---------------------------------------------------------------------------


def covers_modulo(n, k, stride, pad):
    return (n + 2 * pad - k) % stride == 0


def covers_last_window_end(n, k, stride, pad):
    out = (n + 2 * pad - k) // stride + 1
    last_end = (out - 1) * stride + k
    return last_end == n + 2 * pad


def covers_ignores_pad(n, k, stride, pad):
    return (n - k) % stride == 0


# --- pad2d ----------------------------------------------------------------------------------


def pad_np_pad(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def pad_zeros_and_copy(x, pad):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + H, pad:pad + W] = x
    return out


def pad_concatenate(x, pad):
    N, C, H, W = x.shape
    side = np.zeros((N, C, H, pad), dtype=x.dtype)
    wide = np.concatenate([side, x, side], axis=3)
    top = np.zeros((N, C, pad, W + 2 * pad), dtype=x.dtype)
    return np.concatenate([top, wide, top], axis=2)


def pad_every_axis(x, pad):
    return np.pad(x, pad)


def pad_float64_buffer(x, pad):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * pad, W + 2 * pad))
    out[:, :, pad:pad + H, pad:pad + W] = x
    return out


# --- conv2d_forward_naive -------------------------------------------------------------------


def conv_loops(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_tensordot_per_position(x, w, b, stride=1, pad=0):
    # All samples and filters at once for each output position.
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.empty((N, F, Ho, Wo), dtype=x.dtype)
    for i in range(Ho):
        for j in range(Wo):
            block = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(block, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, stride, pad)


def conv_kernel_offsets(x, w, b, stride=1, pad=0):
    # Loop over the kernel's (c, di, dj) instead of the output positions.
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo)) + b.reshape(1, F, 1, 1)
    for c in range(C):
        for di in range(kh):
            for dj in range(kw):
                patch = xp[:, c, di:di + stride * (Ho - 1) + 1:stride, dj:dj + stride * (Wo - 1) + 1:stride]
                out += w[:, c, di, dj].reshape(1, F, 1, 1) * patch[:, None]
    return out.astype(x.dtype), (x, w, b, stride, pad)


def conv_flipped(x, w, b, stride=1, pad=0):
    # True convolution: flips the kernel.
    return conv_loops(x, w[:, :, ::-1, ::-1], b, stride, pad)


def conv_bias_everywhere(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[n, f, i, j] = np.sum(window * w[f] + b[f])
    return out, None


def conv_stride_ignored(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i:i + kh, j:j + kw] * w[f]) + b[f]
    return out, None


def conv_one_channel(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for c in range(C):
                for i in range(Ho):
                    for j in range(Wo):
                        window = xp[n, c, i * stride:i * stride + kh, j * stride:j * stride + kw]
                        out[n, f, i, j] = np.sum(window * w[f, c]) + b[f]  # = instead of +=
    return out, None


def conv_no_cache(x, w, b, stride=1, pad=0):
    out, _ = conv_loops(x, w, b, stride, pad)
    return out


# --- alexnet_shapes -------------------------------------------------------------------------


def alexnet_table():
    return [(96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),
            (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]


def alexnet_computed():
    def size(n, k, s=1, p=0):
        return (n + 2 * p - k) // s + 1
    layers = [(96, 11, 4, 0), (None, 3, 2, 0), (256, 5, 1, 2), (None, 3, 2, 0),
              (384, 3, 1, 1), (384, 3, 1, 1), (256, 3, 1, 1), (None, 3, 2, 0)]
    c, h, shapes = 3, 227, []
    for channels, k, s, p in layers:
        h = size(h, k, s, p)
        c = channels or c
        shapes.append((c, h, h))
    return shapes


def alexnet_224():
    def size(n, k, s=1, p=0):
        return (n + 2 * p - k) // s + 1
    h = size(224, 11, 4)
    shapes = [(96, h, h)]
    h = size(h, 3, 2)
    shapes.append((96, h, h))
    h = size(h, 5, 1, 2)
    shapes.append((256, h, h))
    h = size(h, 3, 2)
    shapes.append((256, h, h))
    for c in (384, 384, 256):
        h = size(h, 3, 1, 1)
        shapes.append((c, h, h))
    h = size(h, 3, 2)
    shapes.append((256, h, h))
    return shapes


def alexnet_no_pad():
    def size(n, k, s=1):
        return (n - k) // s + 1
    h = size(227, 11, 4)
    shapes = [(96, h, h)]
    h = size(h, 3, 2)
    shapes.append((96, h, h))
    h = size(h, 5)
    shapes.append((256, h, h))
    h = size(h, 3, 2)
    shapes.append((256, h, h))
    for c in (384, 384, 256):
        h = size(h, 3)
        shapes.append((c, h, h))
    h = size(h, 3, 2)
    shapes.append((256, h, h))
    return shapes


def alexnet_convs_only():
    return [s for i, s in enumerate(alexnet_table()) if i not in (1, 3, 7)]


RIGHT = [
    Right("conv_output_size", size_floor_division),
    Right("conv_output_size", size_math_floor),
    Right("conv_output_size", size_count_windows),
    Right("covers_input", covers_modulo),
    Right("covers_input", covers_last_window_end),
    Right("pad2d", pad_np_pad),
    Right("pad2d", pad_zeros_and_copy),
    Right("pad2d", pad_concatenate),
    Right("conv2d_forward_naive", conv_loops),
    Right("conv2d_forward_naive", conv_tensordot_per_position),
    Right("conv2d_forward_naive", conv_kernel_offsets),
    Right("alexnet_shapes", alexnet_table),
    Right("alexnet_shapes", alexnet_computed),
]

WRONG = [
    Wrong("conv_output_size", size_no_floor, hint="missing floor"),
    Wrong("conv_output_size", size_pad_once, hint="add 2*pad, not pad"),
    Wrong("conv_output_size", size_missing_plus_one, hint="missing +1"),
    Wrong("conv_output_size", size_never_raises, hint="raise ValueError"),
    Wrong("conv_output_size", size_raises_on_exact_fit, hint="fits once"),
    Wrong("covers_input", covers_ignores_pad, hint="the padding counts"),
    Wrong("pad2d", pad_every_axis, hint="pads N or C axes"),
    Wrong("pad2d", pad_float64_buffer, hint="the dtype changed"),
    Wrong("conv2d_forward_naive", conv_flipped, hint="kernel flipped"),
    Wrong("conv2d_forward_naive", conv_bias_everywhere, hint="bias per position"),
    Wrong("conv2d_forward_naive", conv_stride_ignored, hint="stride ignored"),
    Wrong("conv2d_forward_naive", conv_one_channel, hint="channels not summed"),
    Wrong("conv2d_forward_naive", conv_no_cache, hint="must return a pair (out, cache)"),
    Wrong("alexnet_shapes", alexnet_224, hint="224 instead of 227"),
    Wrong("alexnet_shapes", alexnet_no_pad, hint="pad forgotten"),
    Wrong("alexnet_shapes", alexnet_convs_only, hint="expected a list of 8 items, got 5 items"),
]
