"""Convolution kernels: output-size arithmetic, padding, im2col/col2im and a fast conv2d.

A convolution layer (cross-correlation, as in every framework) computes, for each sample n,
filter f and output position (i, j),

    out[n, f, i, j] = b[f] + sum over (c, di, dj) of  w[f, c, di, dj] * xpad[n, c, s*i + di, s*j + dj]

where xpad is the input zero-padded by ``pad`` and s is the stride. Gathering, for every output
position, the C*kh*kw input values its window covers turns this sum into one matrix product
(im2col). The gathering needs no loop over samples or positions: for a fixed kernel offset
(di, dj) the values seen by all windows form one strided slice of the input,
``xpad[:, :, di : di + s*Ho : s, dj : dj + s*Wo : s]``. So im2col is kh*kw slice copies and its
adjoint col2im is kh*kw slice additions (``+=``) into the same slices, the idea of Chainer's
``im2col_cpu``. Plain slicing, so the same code runs on NumPy and CuPy.

Internally the columns are kept as a (C*kh*kw, N*Ho*Wo) matrix: the forward pass and both
weight and input gradients are then single 2-D matrix products (one BLAS/cuBLAS call each).
:func:`im2col` returns the transpose of that matrix, (N*Ho*Wo, C*kh*kw), the layout lesson 05
asks students for. Padding is never materialised: each offset copies only the part of its slice
that lies inside the input and the rest of the buffer stays zero.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from . import _checks, backend

__all__ = ["Arithmetic", "arithmetic", "col2im", "conv2d_backward", "conv2d_forward", "conv_output_size", "im2col",
           "pad2d", "window_starts"]


# --- sizes ----------------------------------------------------------------------------------------

def _axis(n, k, stride, pad) -> tuple[int, int, int, int]:
    """n, k, stride and pad checked: integers, n, k and stride at least 1, pad at least 0."""
    return (_checks.integer(n, "n", minimum=1), _checks.integer(k, "k", minimum=1),
            _checks.integer(stride, "stride", minimum=1), _checks.integer(pad, "pad", minimum=0))


def conv_output_size(n, k, stride=1, pad=0) -> int:
    """Number of window positions along one axis: ``floor((n + 2 pad - k) / stride) + 1``.

    Args:
        n: input size along the axis (rows or columns), >= 1.
        k: kernel (window) size, >= 1.
        stride: step between windows, >= 1.
        pad: zeros added on each side, >= 0.

    Returns:
        the output size, an int >= 1. Rows or columns left over after the last window (when
        ``n + 2 pad - k`` is not a multiple of the stride) are not used.

    Raises:
        ValueError: when the kernel is larger than the padded input, or stride < 1 or pad < 0.

    >>> conv_output_size(227, 11, stride=4)
    55
    """
    n, k, stride, pad = _axis(n, k, stride, pad)
    if k > n + 2 * pad:
        raise ValueError(
            f"kernel size k={k} is larger than the padded input size "
            f"n + 2*pad = {n} + 2*{pad} = {n + 2 * pad}"
        )
    return (n + 2 * pad - k) // stride + 1


@dataclass(frozen=True)
class Arithmetic:
    """Convolution arithmetic along one axis.

    Attributes:
        n, k, stride, pad: the input size, kernel size, stride and padding.
        padded: ``n + 2 pad``, the length the window slides over.
        fits: False when the kernel is larger than the padded input (no window fits).
        out: ``floor((n + 2 pad - k) / stride) + 1`` windows, the output size (0 if not ``fits``).
        leftover: positions after the last window that no window reads, ``(n + 2 pad - k) mod stride``.
        gap: positions skipped between two neighbouring windows, ``max(0, stride - k)``.
        unread_input: positions of the real input (not padding) that no window reads.
    """

    n: int
    k: int
    stride: int
    pad: int
    padded: int
    fits: bool
    out: int
    leftover: int
    gap: int
    unread_input: int

    @property
    def covers(self) -> bool:
        """True when the last window ends exactly at the end of the padded input."""
        return self.fits and self.leftover == 0


def window_starts(n: int, k: int, stride: int = 1, pad: int = 0) -> list[int]:
    """Start of every window along one axis, in padded coordinates (0 = first padding cell).

    Returns an empty list when the kernel is larger than the padded input.
    """
    a = arithmetic(n, k, stride, pad)
    return [i * a.stride for i in range(a.out)]


def arithmetic(n: int, k: int, stride: int = 1, pad: int = 0) -> Arithmetic:
    """The convolution arithmetic of one axis, all of it: see :class:`Arithmetic` (lesson 04's
    explorer shows it; ``.covers`` answers its ``covers_input`` exercise).

    Unlike :func:`conv_output_size` this does not raise when the kernel is larger than the
    padded input: it reports ``fits=False``, so that an explorer can say so.
    """
    n, k, stride, pad = _axis(n, k, stride, pad)
    padded = n + 2 * pad
    if k > padded:
        return Arithmetic(n, k, stride, pad, padded, False, 0, 0, 0, n)
    out = conv_output_size(n, k, stride, pad)
    read = [False] * padded
    for start in range(0, stride * out, stride):
        read[start:start + k] = [True] * k
    unread_input = sum(not r for r in read[pad:pad + n])
    return Arithmetic(n, k, stride, pad, padded, True, out,
                      (padded - k) % stride, max(0, stride - k), unread_input)


def _geometry(x_shape, kh, kw, stride, pad, x_name="x"):
    """Check a window geometry against an input of shape (N, C, H, W); return (stride, pad, Ho, Wo)
    with stride and pad as (rows, cols) pairs."""
    stride = _checks.pair(stride, "stride", minimum=1)
    pad = _checks.pair(pad, "pad", minimum=0)
    H, W = x_shape[2], x_shape[3]
    Hp, Wp = H + 2 * pad[0], W + 2 * pad[1]
    if kh > Hp or kw > Wp:
        raise ValueError(
            f"kernel {kh}x{kw} is larger than the padded input {Hp}x{Wp} "
            f"({x_name} of shape {tuple(x_shape)} with pad {pad}); use a smaller kernel or more padding"
        )
    Ho = (Hp - kh) // stride[0] + 1
    Wo = (Wp - kw) // stride[1] + 1
    return stride, pad, Ho, Wo


def _taps(offset, pad, stride, n_in, n_out):
    """Where one kernel offset reads along one axis, padding excluded.

    Output position i reads padded position ``offset + stride*i``, i.e. input position
    ``offset + stride*i - pad``. Returns ``(out_slice, in_slice)``: the output positions whose
    tap lies inside the unpadded input and the input positions they read (the other output
    positions read zeros). Both slices are empty when the offset only ever sees padding.
    """
    first = max(0, -((offset - pad) // stride))            # ceil((pad - offset) / stride)
    stop = min(n_out, (n_in - 1 + pad - offset) // stride + 1)
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    start = offset + stride * first - pad
    return slice(first, stop), slice(start, start + stride * (stop - first - 1) + 1, stride)


# --- padding and im2col/col2im ------------------------------------------------------------------

def pad2d(x, pad):
    """Zero-pad the last two axes of ``x``.

    Args:
        x: array of 2 or more dimensions, e.g. (N, C, H, W).
        pad: int, or (rows, cols): zeros added above and below, and left and right.

    Returns:
        array (..., H + 2 pad_rows, W + 2 pad_cols) of the same dtype; a copy even when pad is 0.
    """
    _checks.array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., H, W); got shape {tuple(x.shape)}")
    ph, pw = _checks.pair(pad, "pad", minimum=0)
    xp = backend.get_array_module(x)
    out = xp.zeros(x.shape[:-2] + (x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw), dtype=x.dtype)
    out[..., ph:ph + x.shape[-2], pw:pw + x.shape[-1]] = x
    return out


def _unfold(x, kh, kw, stride, pad, Ho, Wo):
    """The columns of ``x`` (N, C, H, W) as a (C, kh, kw, N, Ho, Wo) array.

    ``cols[c, di, dj, n, i, j] = xpad[n, c, s_h*i + di, s_w*j + dj]``: one slice copy per kernel
    offset (di, dj), taking only the taps inside the input; taps into the padding stay zero.
    """
    xp = backend.get_array_module(x)
    N, C, H, W = x.shape
    # Without padding every entry is written below, so the zero fill would be wasted.
    alloc = xp.zeros if pad[0] or pad[1] else xp.empty
    cols = alloc((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    x_cn = x.transpose(1, 0, 2, 3)  # (C, N, H, W) view, lined up with cols[:, di, dj]
    for di in range(kh):
        out_i, in_i = _taps(di, pad[0], stride[0], H, Ho)
        for dj in range(kw):
            out_j, in_j = _taps(dj, pad[1], stride[1], W, Wo)
            cols[:, di, dj, :, out_i, out_j] = x_cn[:, :, in_i, in_j]
    return cols


def _fold(cols, x_shape, stride, pad):
    """Adjoint of :func:`_unfold`: add every column entry back onto the input position it came
    from. ``cols`` is (C, kh, kw, N, Ho, Wo) (any strides); returns an (N, C, H, W) array.

    Windows overlap when the stride is smaller than the kernel, so one input position receives
    several entries: each offset adds (``+=``) its slice, and no two entries of one slice
    share a position, so nothing is lost. Entries that came from the padding are dropped.
    """
    xp = backend.get_array_module(cols)
    C, kh, kw, N, Ho, Wo = cols.shape
    H, W = x_shape[2], x_shape[3]
    dx = xp.zeros((N, C, H, W), dtype=cols.dtype)
    dx_cn = dx.transpose(1, 0, 2, 3)
    for di in range(kh):
        out_i, in_i = _taps(di, pad[0], stride[0], H, Ho)
        for dj in range(kw):
            out_j, in_j = _taps(dj, pad[1], stride[1], W, Wo)
            dx_cn[:, :, in_i, in_j] += cols[:, di, dj, :, out_i, out_j]
    return dx


def im2col(x, kh, kw, stride=1, pad=0):
    """Every (kh, kw) window of ``x`` as one row of a matrix.

    Args:
        x: (N, C, H, W) input.
        kh, kw: window height and width.
        stride, pad: int or (rows, cols) pair.

    Returns:
        (N*Ho*Wo, C*kh*kw) array, same dtype as ``x``. Rows are windows in (n, i, j) order,
        columns the window's values in (c, di, dj) order, so that row ``(n*Ho + i)*Wo + j``,
        column ``(c*kh + di)*kw + dj`` holds ``xpad[n, c, s_h*i + di, s_w*j + dj]``. Then
        ``im2col(x, ...) @ w.reshape(F, -1).T`` is the convolution, one column per filter.
    """
    _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
    kh = _checks.integer(kh, "kh", minimum=1)
    kw = _checks.integer(kw, "kw", minimum=1)
    stride, pad, Ho, Wo = _geometry(x.shape, kh, kw, stride, pad)
    xp = backend.get_array_module(x)
    N, C = x.shape[:2]
    cols = _unfold(x, kh, kw, stride, pad, Ho, Wo).reshape(C * kh * kw, N * Ho * Wo)
    return xp.ascontiguousarray(cols.T)


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    """Adjoint of :func:`im2col`: sum each row's values back onto the input positions they came from.

    Args:
        cols: (N*Ho*Wo, C*kh*kw) array laid out as :func:`im2col` returns it.
        x_shape: (N, C, H, W), the shape of the input im2col was taken from.
        kh, kw, stride, pad: as given to im2col.

    Returns:
        (N, C, H, W) array: position (n, c, r, q) holds the sum of every entry of ``cols`` that
        im2col copied from it (overlapping windows add up; entries from the padding are
        dropped). So ``sum(im2col(x) * y) == sum(x * col2im(y))`` for all x, y.
    """
    _checks.array(cols, "cols", ndim=2, layout="(N*Ho*Wo, C*kh*kw)")
    if not (isinstance(x_shape, (tuple, list)) and len(x_shape) == 4
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in x_shape)):
        raise ValueError(f"x_shape must be 4 positive ints (N, C, H, W); got {x_shape!r}")
    x_shape = tuple(int(v) for v in x_shape)
    kh = _checks.integer(kh, "kh", minimum=1)
    kw = _checks.integer(kw, "kw", minimum=1)
    stride, pad, Ho, Wo = _geometry(x_shape, kh, kw, stride, pad, x_name="x_shape")
    N, C = x_shape[:2]
    expected = (N * Ho * Wo, C * kh * kw)
    if tuple(cols.shape) != expected:
        raise ValueError(
            f"cols must have shape (N*Ho*Wo, C*kh*kw) = {expected} for x_shape {x_shape}, "
            f"kernel {kh}x{kw}, stride {stride}, pad {pad}; got {tuple(cols.shape)}"
        )
    return _fold(cols.T.reshape(C, kh, kw, N, Ho, Wo), x_shape, stride, pad)


# --- conv2d ---------------------------------------------------------------------------------------

def _check_conv_inputs(x, w, b):
    _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
    _checks.array(w, "w", ndim=4, layout="(F, C, kh, kw)")
    _checks.array(b, "b", ndim=1, layout="(F,)")
    _checks.floating(x, "x")
    if 0 in w.shape or 0 in x.shape[1:]:
        raise ValueError(
            f"x and w must have no empty axis (the batch N may be 0); got x of shape "
            f"{tuple(x.shape)} and w of shape {tuple(w.shape)}"
        )
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"w must have {x.shape[1]} input channels, shape (F, {x.shape[1]}, kh, kw), to match "
            f"x of shape {tuple(x.shape)}; got w of shape {tuple(w.shape)}"
        )
    if b.shape[0] != w.shape[0]:
        raise ValueError(
            f"b must have shape ({w.shape[0]},), one bias per filter of w {tuple(w.shape)}; "
            f"got {tuple(b.shape)}"
        )
    # Mixed precision would be cast silently by the matrix product: refuse it instead.
    for name, arr in (("w", w), ("b", b)):
        if arr.dtype != x.dtype:
            raise TypeError(
                f"{name} must have the dtype of x ({x.dtype}); got {arr.dtype}. "
                f"Convert one of them explicitly, e.g. {name}.astype(x.dtype)"
            )


def conv2d_forward(x, w, b, stride=1, pad=0):
    """2-D convolution (cross-correlation) of a batch with a bank of filters, plus bias.

    Args:
        x: (N, C, H, W) input, float.
        w: (F, C, kh, kw) filters, same dtype as x.
        b: (F,) biases, same dtype as x.
        stride: int or (rows, cols) step between windows, >= 1.
        pad: int or (rows, cols) zeros added on each side, >= 0.

    Returns:
        out (N, F, Ho, Wo) with Ho = floor((H + 2 pad_rows - kh) / stride_rows) + 1 (likewise
        Wo), same dtype as x; and the cache for :func:`conv2d_backward` (it holds the im2col
        columns, kh*kw times the size of x).
    """
    _check_conv_inputs(x, w, b)
    F, C, kh, kw = w.shape
    stride, pad, Ho, Wo = _geometry(x.shape, kh, kw, stride, pad)
    xp = backend.get_array_module(x)
    N = x.shape[0]
    cols = _unfold(x, kh, kw, stride, pad, Ho, Wo)
    prod = (w.reshape(F, C * kh * kw) @ cols.reshape(C * kh * kw, N * Ho * Wo)).reshape(F, N, Ho, Wo)
    # Adding the bias and moving F behind N in one pass gives a contiguous NCHW result.
    out = xp.empty((N, F, Ho, Wo), dtype=x.dtype)
    xp.add(prod.transpose(1, 0, 2, 3), b.reshape(1, F, 1, 1), out=out)
    return out, (cols, w, tuple(x.shape), stride, pad)


def conv2d_backward(dout, cache):
    """Gradients of :func:`conv2d_forward`.

    Args:
        dout: (N, F, Ho, Wo) upstream gradient dL/d(out).
        cache: from :func:`conv2d_forward`.

    Returns:
        dx (N, C, H, W), dw (F, C, kh, kw) and db (F,), in the dtype of the forward inputs.
        Every filter is used at every position, so dw and db sum over samples and positions;
        an input value seen by several windows sums the gradient from each of them.
    """
    cols, w, x_shape, stride, pad = cache
    C, kh, kw, N, Ho, Wo = cols.shape
    F = w.shape[0]
    _checks.array(dout, "dout", ndim=4, layout="(N, F, Ho, Wo)")
    if tuple(dout.shape) != (N, F, Ho, Wo):
        raise ValueError(
            f"dout must have the shape of the forward output (N, F, Ho, Wo) = {(N, F, Ho, Wo)}; "
            f"got {tuple(dout.shape)}"
        )
    xp = backend.get_array_module(dout)
    cols = cols.reshape(C * kh * kw, N * Ho * Wo)
    # (F, N*Ho*Wo): one row per filter, positions in the column order of cols.
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, N * Ho * Wo)
    db = dout_rows.sum(axis=1)
    # cols @ dout_rows.T, transposed, is the same product; OpenBLAS runs this operand order faster.
    dw = xp.ascontiguousarray((cols @ dout_rows.T).T).reshape(w.shape)
    dcols = w.reshape(F, C * kh * kw).T @ dout_rows
    dx = _fold(dcols.reshape(C, kh, kw, N, Ho, Wo), x_shape, stride, pad)
    return dx, dw, db
