"""Max-pooling and average-pooling over (rows, cols) windows of an NCHW batch.

Like :mod:`cnnlab.conv`, both work one window offset at a time: for a fixed offset (di, dj)
inside the window, the values every window sees there form the strided slice
``x[:, :, di : di + s*Ho : s, dj : dj + s*Wo : s]``. So a pool is size_h*size_w whole-array
operations, with no loop over samples or positions, and runs unchanged on CuPy.

Max-pool keeps, for each window, which offset held the maximum (the lecture notes' rule: store the
argmax, send the gradient there). Ties go to the first offset in row-major window order, the
one ``np.argmax`` would pick, so the whole gradient reaches exactly one input. Windows overlap
when the stride is smaller than the window; the backward pass then adds (``+=``) what each
window sends, so an input that is the maximum of two windows receives both gradients.

Windows that would run past the bottom or right edge are dropped, as in
``conv_output_size`` (there is no padding).
"""

from __future__ import annotations

from . import _checks, backend

__all__ = ["avgpool2d_backward", "avgpool2d_forward", "maxpool2d_backward", "maxpool2d_forward"]


def _geometry(x, size, stride):
    """Check x and the window; return (size, stride) as (rows, cols) pairs and (Ho, Wo)."""
    _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
    _checks.floating(x, "x")
    size = _checks.pair(size, "size", minimum=1)
    stride = size if stride is None else _checks.pair(stride, "stride", minimum=1)
    H, W = x.shape[2], x.shape[3]
    if size[0] > H or size[1] > W:
        raise ValueError(
            f"pooling window {size[0]}x{size[1]} is larger than the input {H}x{W} "
            f"(x of shape {tuple(x.shape)}); use a smaller size"
        )
    return size, stride, ((H - size[0]) // stride[0] + 1, (W - size[1]) // stride[1] + 1)


def _window_slice(di, dj, stride, out_hw):
    """The slice of an (N, C, H, W) array that window offset (di, dj) covers, one entry per window."""
    (sh, sw), (Ho, Wo) = stride, out_hw
    return (slice(None), slice(None), slice(di, di + sh * (Ho - 1) + 1, sh),
            slice(dj, dj + sw * (Wo - 1) + 1, sw))


def _offsets(size):
    """Window offsets in row-major order, numbered 0 .. size_h*size_w - 1."""
    return [(di, dj) for di in range(size[0]) for dj in range(size[1])]


def _check_dout(dout, shape):
    _checks.array(dout, "dout", ndim=4, layout="(N, C, Ho, Wo)")
    if tuple(dout.shape) != tuple(shape):
        raise ValueError(
            f"dout must have the shape of the forward output {tuple(shape)}; got {tuple(dout.shape)}"
        )


# --- max-pool -------------------------------------------------------------------------------------

def maxpool2d_forward(x, size=2, stride=None):
    """Maximum over each (size_h, size_w) window.

    Args:
        x: (N, C, H, W) input, float.
        size: window size, int or (rows, cols).
        stride: step between windows, int or (rows, cols); None means ``size`` (no overlap).

    Returns:
        out (N, C, Ho, Wo), Ho = floor((H - size_h) / stride_h) + 1 (likewise Wo), dtype of x;
        and the cache for :func:`maxpool2d_backward`, holding for each window the row-major
        index of the offset that held its maximum (the first one on ties).
    """
    size, stride, out_hw = _geometry(x, size, stride)
    xp = backend.get_array_module(x)
    offsets = _offsets(size)
    out = x[_window_slice(0, 0, stride, out_hw)].copy()
    # uint8 indices suffice for windows up to 16x16; bigger windows need a wider type.
    index_type = xp.uint8 if len(offsets) <= 256 else xp.int32
    argmax = xp.zeros(out.shape, dtype=index_type)
    beats = xp.empty(out.shape, dtype=bool)
    for k in range(1, len(offsets)):
        values = x[_window_slice(*offsets[k], stride, out_hw)]
        # Strictly greater: on a tie the earlier offset keeps the maximum.
        xp.greater(values, out, out=beats)
        # Offsets are visited in increasing order, so where this one wins, k is larger than
        # every index stored so far: a maximum records it without a masked write.
        xp.maximum(argmax, beats * index_type(k), out=argmax)
        xp.maximum(out, values, out=out)
    return out, (argmax, tuple(x.shape), size, stride)


def maxpool2d_backward(dout, cache):
    """Send each window's gradient to the input that was its maximum.

    Args:
        dout: (N, C, Ho, Wo) upstream gradient.
        cache: from :func:`maxpool2d_forward`.

    Returns:
        dx (N, C, H, W): zero except at window maxima; an input that is the maximum of several
        (overlapping) windows gets the sum of their gradients.
    """
    argmax, x_shape, size, stride = cache
    _check_dout(dout, argmax.shape)
    xp = backend.get_array_module(dout)
    out_hw = argmax.shape[2:]
    overlapping = stride[0] < size[0] or stride[1] < size[1]
    if stride == size:
        # Windows side by side: each offset below writes its slice whole, so only the rows and
        # columns after the last window need zeros, rather than a whole extra pass over dx.
        dx = xp.empty(x_shape, dtype=dout.dtype)
        dx[:, :, out_hw[0] * size[0]:] = 0
        dx[:, :, :, out_hw[1] * size[1]:] = 0
    else:
        dx = xp.zeros(x_shape, dtype=dout.dtype)
    routed = xp.empty_like(dout) if overlapping else None
    for k, (di, dj) in enumerate(_offsets(size)):
        target = dx[_window_slice(di, dj, stride, out_hw)]
        if overlapping:
            # An input can be the maximum of several windows: add what each one sends.
            xp.multiply(dout, argmax == k, out=routed)
            target += routed
        else:
            # Disjoint windows: each input hears from at most one, so write in place.
            xp.multiply(dout, argmax == k, out=target)
    return dx


# --- average pool ---------------------------------------------------------------------------------

def avgpool2d_forward(x, size=2, stride=None):
    """Mean over each (size_h, size_w) window.

    Args:
        x: (N, C, H, W) input, float.
        size: window size, int or (rows, cols).
        stride: int or (rows, cols); None means ``size``.

    Returns:
        out (N, C, Ho, Wo) in the dtype of x (sizes as for :func:`maxpool2d_forward`), and the
        cache for :func:`avgpool2d_backward`.
    """
    size, stride, out_hw = _geometry(x, size, stride)
    offsets = _offsets(size)
    out = x[_window_slice(0, 0, stride, out_hw)].copy()
    for di, dj in offsets[1:]:
        out += x[_window_slice(di, dj, stride, out_hw)]
    out *= x.dtype.type(1.0 / len(offsets))
    return out, (tuple(x.shape), size, stride, out_hw)


def avgpool2d_backward(dout, cache):
    """Each input of a window gets 1/(size_h*size_w) of the window's gradient.

    Args:
        dout: (N, C, Ho, Wo) upstream gradient.
        cache: from :func:`avgpool2d_forward`.

    Returns:
        dx (N, C, H, W); overlapping windows add their shares.
    """
    x_shape, size, stride, out_hw = cache
    _check_dout(dout, x_shape[:2] + tuple(out_hw))
    xp = backend.get_array_module(dout)
    offsets = _offsets(size)
    share = dout * dout.dtype.type(1.0 / len(offsets))
    dx = xp.zeros(x_shape, dtype=dout.dtype)
    for di, dj in offsets:
        dx[_window_slice(di, dj, stride, out_hw)] += share
    return dx
