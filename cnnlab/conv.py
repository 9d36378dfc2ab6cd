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

:func:`im2col` returns the (N*Ho*Wo, C*kh*kw) matrix lesson 05 asks students for; padding is
never materialised there: each offset copies only the part of its slice that lies inside the
input and the rest of the buffer stays zero.

The fast :func:`conv2d_forward` and :func:`conv2d_backward` use the same two ideas, one slice
per kernel offset and the adjoint ``+=``, on a layout made for speed (:class:`_Grid`): the input
is zero-padded and flattened first, so that each offset's slice is one contiguous run per
channel; the columns form a (C*kh*kw, positions) matrix, so that the forward pass, dw and the
column gradient are one matrix product each (one BLAS/cuBLAS call); large batches go through in
groups that stay in the caches, and a batch that is one group keeps its columns for the backward
pass; and the other matrices live in scratch buffers reused from call to call
(:mod:`cnnlab._scratch`). Each trick is explained where it is used and measured in
``benchmarks/README.md``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from . import _checks, _scratch, backend

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


#: conv2d runs through the batch in groups of samples whose column matrix takes at most about
#: this many bytes. One matrix for a whole large batch (50 MB for 128 3x32x32 images and a 5x5
#: kernel) streams through memory at every pass: copying it, multiplying with it, adding it back;
#: groups that stay in the processor's caches made that layer 30 % faster on the development VM
#: (8 MB groups did not). Small layers keep one or two groups: every group costs its own kh*kw
#: slice copies and matrix products.
GROUP_BYTES = 4 << 20


def _extent(n, k, s, p, out):
    """Rows (or columns) of one phase of one image in :class:`_Grid`, along an axis of n inputs,
    kernel k, stride s, pad p and ``out`` outputs.

    Phase a holds padded positions a, a + s, a + 2s, ... of every image; offsets d = a, a + s, ...
    < k read it, output i reading phase row i + d // s, so the windows reach rows 0 to
    ``reach - 1 = out - 1 + (k - 1 - a) // s``. The extent q must hold every output (q >= out) and
    every input row the windows reach; a window that reads past row q - 1 lands in the next
    image's phase a, which starts with ceil((p - a) / s) rows of padding, and must land there. The
    largest such need over the phases is the extent. For stride 1 that is max(out, n + p): the
    image without its bottom padding. (Without sharing it would be ``out + (k - 1) // s``; the
    end of the last image reads the zero ``tail`` of the grid.) Input rows past the reach of every
    window (left over by a stride) need no place: an input row i is held when i < s*q - p.
    """
    q = out
    for a in range(min(s, k)):                   # a phase that no offset reads needs no rows
        reach = out + (k - 1 - a) // s
        data = (p + n - 1 - a) // s + 1          # phase rows up to the last input row
        zeros = max(0, -((a - p) // s))          # ceil((p - a) / s) rows of top padding
        q = max(q, min(reach, data), reach - zeros)
    return q


class _Grid:
    """Where the fast conv2d keeps its input: zero-padded, split by stride phase, flattened.

    im2col copies, for each kernel offset, one slice of the input into the columns. On the small
    images of a digit CNN that slice is made of short runs (Wo = 14 values per input row), and
    NumPy spends its time starting runs, not copying. Here each slice is one run per channel:

    * The input is zero-padded and flattened, image after image, so that moving a window by
      (di, dj) moves it by ``di*Wp + dj`` positions: an offset's slice of a group of images is one
      contiguous run. The price: the output is computed at every position of the padded grid,
      a window starting at each, and the positions whose window runs past the right or bottom
      edge are dropped afterwards. That is (Hp*Wp)/(Ho*Wo) times the matrix columns (1.31 for
      14x14 images with a 3x3 kernel and pad 1), and the matrix products grow by as much; for
      these small layers the copies cost more. (Dropping the bottom rows from the runs too, with
      one run per image, made col2im's ``+=`` three times slower for 1.14 instead of 1.31.)
    * With stride s only every s-th padded row and column starts a window, so the padded input
      is first split into s*s *phases*, (row % s, col % s), each a smaller grid. Offset (di, dj)
      reads phase (di % s, dj % s), shifted by ``(di // s)*qw + dj // s``: the grid is s*s times
      smaller instead of wasting s*s - 1 of every s*s outputs. For stride 1 there is one phase,
      the padded input itself.
    * Neighbours share their padding (:func:`_extent`): a window that runs past the bottom of an
      image reads the top padding of the next image, which is zero as well, so an image's grid
      stops after its own top padding and data. Likewise the right padding of a row is the left
      padding of the next row. For 14x14 images and a 3x3 kernel with pad 1 the grid is 15x15
      instead of 16x16, 1.15 times the output instead of 1.31, and every copy and matrix product
      shrinks by as much.

    The matrices cover one group of samples at a time (:meth:`groups`), the columns of a group
    being the positions of its images, in order.

    Attributes:
        x_shape: (N, C, H, W); kernel: (kh, kw); stride, pad: (rows, cols) pairs.
        out_hw: (Ho, Wo), the output size.
        qh, qw: rows and columns of one phase of one image (:func:`_extent`).
        size: N*qh*qw, the positions of a phase of the whole batch.
        tail: the largest shift; a flattened phase is that much longer (zeros), so that every
            shifted slice exists.
    """

    def __init__(self, x_shape, kernel, stride, pad, out_hw):
        self.x_shape, self.kernel, self.stride, self.pad, self.out_hw = x_shape, kernel, stride, pad, out_hw
        (kh, kw), (sh, sw), (Ho, Wo) = kernel, stride, out_hw
        (H, W), (ph, pw) = x_shape[2:], pad
        self.qh, self.qw = _extent(H, kh, sh, ph, Ho), _extent(W, kw, sw, pw, Wo)
        self.size = x_shape[0] * self.qh * self.qw
        self.tail = (kh - 1) // sh * self.qw + (kw - 1) // sw

    def groups(self, itemsize):
        """Slices of the batch, of about equal size, whose columns (C*kh*kw values of ``itemsize``
        bytes per position; the row of ones is not counted) take at most GROUP_BYTES each, or one
        sample each when one is larger."""
        N, C = self.x_shape[:2]
        if N == 0:
            return []
        per_sample = C * self.kernel[0] * self.kernel[1] * self.qh * self.qw * itemsize
        count = -(-N // max(1, GROUP_BYTES // per_sample))
        step = -(-N // count)
        return [slice(n, min(n + step, N)) for n in range(0, N, step)]

    def positions(self, group):
        """The columns of a group's matrices: qh*qw per sample."""
        return (group.stop - group.start) * self.qh * self.qw

    def _phases(self):
        """(phase row, phase col, grid index, input index) for each phase: which positions of the
        phase's (qh, qw) grid hold which input pixels (the others are padding)."""
        (sh, sw), (ph, pw), (H, W) = self.stride, self.pad, self.x_shape[2:]
        for a in range(sh):
            grid_i, in_i = _taps(a, ph, sh, H, self.qh)
            for b in range(sw):
                grid_j, in_j = _taps(b, pw, sw, W, self.qw)
                yield a, b, (slice(None), slice(None), grid_i, grid_j), (slice(None), slice(None), in_i, in_j)

    def _image(self, flat, a, b):
        """Phase (a, b) of ``flat`` (s_h, s_w, C, size + tail) as a (C, N, qh, qw) view."""
        return flat[a, b, :, :self.size].reshape(flat.shape[2], self.x_shape[0], self.qh, self.qw)

    def _reads(self, flat, group, cols):
        """For every kernel offset (di, dj): the (C, positions) slice of ``flat`` it reads for the
        samples of ``group``, position p reading grid position p + shift of phase
        (di % s, dj % s), and the (C, positions) rows of the (C*kh*kw, positions) matrix ``cols``
        that belong to it."""
        (kh, kw), (sh, sw), C = self.kernel, self.stride, flat.shape[2]
        start, length = group.start * self.qh * self.qw, self.positions(group)
        blocks = cols.reshape(C, kh, kw, length)   # a view: only the first axis is split
        for di in range(kh):
            for dj in range(kw):
                shift = start + di // sh * self.qw + dj // sw
                yield flat[di % sh, dj % sw, :, shift:shift + length], blocks[:, di, dj]

    def scatter(self, x):
        """x (N, C, H, W) -> a new (s_h, s_w, C, size + tail) array: its padded phases, flattened."""
        xp = backend.get_array_module(x)
        sh, sw = self.stride
        flat = xp.zeros((sh, sw, x.shape[1], self.size + self.tail), dtype=x.dtype)
        x_cn = x.transpose(1, 0, 2, 3)  # (C, N, H, W) view, lined up with the phases
        for a, b, grid_at, x_at in self._phases():
            self._image(flat, a, b)[grid_at] = x_cn[x_at]
        return flat

    def gather(self, flat):
        """Adjoint of :meth:`scatter`: the (N, C, H, W) pixels of ``flat``, padding dropped. Each
        input pixel sits at exactly one grid position, so this is a copy; pixels no window reads
        (rows or columns a stride leaves over) are zero."""
        xp = backend.get_array_module(flat)
        # Every pixel is written below but the rows and columns that have no place in the grid
        # (:func:`_extent`): they alone are zeroed, rather than a whole extra pass over dx.
        x = xp.empty(self.x_shape, dtype=flat.dtype)
        (sh, sw), (ph, pw) = self.stride, self.pad
        x[:, :, max(0, sh * self.qh - ph):] = 0
        x[:, :, :, max(0, sw * self.qw - pw):] = 0
        x_cn = x.transpose(1, 0, 2, 3)
        for a, b, grid_at, x_at in self._phases():
            x_cn[x_at] = self._image(flat, a, b)[grid_at]
        return x

    def unfold(self, flat, group, cols):
        """im2col on the grid, plus a row of ones: fill the (C*kh*kw + 1, positions) matrix cols,
        row (c, di, dj), with what kernel offset (di, dj) reads from channel c at every position of
        the group, and its last row with ones (the bias's input, see :func:`conv2d_forward`).
        Returns cols."""
        for read, rows in self._reads(flat, group, cols[:-1]):
            rows[...] = read
        cols[-1] = 1
        return cols

    def fold(self, cols, group, flat):
        """col2im on the grid, the adjoint of :meth:`unfold`: add each row of cols back onto the
        positions it was read from (``+=``: windows overlap). Returns flat."""
        for read, rows in self._reads(flat, group, cols):
            read += rows
        return flat

    def valid(self, rows):
        """rows (K, positions) of a group -> the (K, samples, Ho, Wo) view of the positions whose
        window lies inside the padded input (the outputs)."""
        Ho, Wo = self.out_hw
        samples = rows.shape[1] // (self.qh * self.qw)
        return rows.reshape(rows.shape[0], samples, self.qh, self.qw)[:, :, :Ho, :Wo]

    def spread(self, values, rows):
        """The adjoint of :meth:`valid`: write values (samples, K, Ho, Wo) into rows (K, positions)
        at the outputs' positions, and zeros at the other positions. Returns rows."""
        Ho, Wo = self.out_hw
        grid = rows.reshape(rows.shape[0], values.shape[0], self.qh, self.qw)
        # Zero only the positions no output has (the grid's last rows and columns), rather than
        # all of rows before the copy overwrites most of them.
        grid[:, :, Ho:] = 0
        grid[:, :, :Ho, Wo:] = 0
        grid[:, :, :Ho, :Wo] = values.transpose(1, 0, 2, 3)
        return rows


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
        Wo), same dtype as x; and the cache for :func:`conv2d_backward` (it holds the padded
        input, about the size of x, and when the batch is one group its columns, kh*kw times
        that: at most GROUP_BYTES).
    """
    _check_conv_inputs(x, w, b)
    F, C, kh, kw = w.shape
    stride, pad, Ho, Wo = _geometry(x.shape, kh, kw, stride, pad)
    xp = backend.get_array_module(x)
    grid = _Grid(tuple(x.shape), (kh, kw), stride, pad, (Ho, Wo))
    flat = grid.scatter(x)
    out = xp.empty((x.shape[0], F, Ho, Wo), dtype=x.dtype)
    # The bias as one more weight, whose input is always 1 (the column matrix gets a row of
    # ones): the product adds it, with no extra pass over its result, and in the backward pass
    # the same product that gives dw gives db, the sum of dout, with no pass of its own.
    K = C * kh * kw
    wb = xp.concatenate((w.reshape(F, K), b.reshape(F, 1)), axis=1)   # (F, K + 1)
    groups = grid.groups(x.dtype.itemsize)
    # When the whole batch is one group (the layers of a digit CNN), its columns are kept for the
    # backward pass, which would otherwise unfold the same matrix again (with the shared padding,
    # 14-15 % off a training step of the small CNN: benchmarks/README.md). Larger batches unfold
    # again, group by group, rather than hold kh*kw copies of their input (and leave the caches)
    # between the passes.
    kept = None
    for group in groups:
        positions = grid.positions(group)
        if len(groups) == 1:
            cols = kept = _scratch.kept_matrix(K + 1, positions, x.dtype, xp)
        else:
            cols = _scratch.matrix("columns", K + 1, positions, x.dtype, xp)
        prod = xp.matmul(wb, grid.unfold(flat, group, cols), out=_scratch.matrix("rows", F, positions, x.dtype, xp))
        # One copy keeps the valid positions and moves F behind N.
        out[group].transpose(1, 0, 2, 3)[...] = grid.valid(prod)
    return out, (flat, w, grid, kept)


def conv2d_backward(dout, cache, *, need_dx=True):
    """Gradients of :func:`conv2d_forward`.

    Args:
        dout: (N, F, Ho, Wo) upstream gradient dL/d(out).
        cache: from :func:`conv2d_forward`.
        need_dx: False skips the input gradient (returned as None), e.g. for a first layer,
            whose input is data: that saves a matrix product and the col2im.

    Returns:
        dx (N, C, H, W) (or None), dw (F, C, kh, kw) and db (F,), in the dtype of the forward
        inputs. Every filter is used at every position, so dw and db sum over samples and
        positions; an input value seen by several windows sums the gradient from each of them.
    """
    flat, w, grid, kept = cache
    N, Ho, Wo = grid.x_shape[0], *grid.out_hw
    F, C, kh, kw = w.shape
    _checks.array(dout, "dout", ndim=4, layout="(N, F, Ho, Wo)")
    if tuple(dout.shape) != (N, F, Ho, Wo):
        raise ValueError(
            f"dout must have the shape of the forward output (N, F, Ho, Wo) = {(N, F, Ho, Wo)}; "
            f"got {tuple(dout.shape)}"
        )
    xp = backend.get_array_module(dout)
    K = C * kh * kw
    dwb_t = xp.zeros((K + 1, F), dtype=dout.dtype)   # dw transposed, and db as its last row
    dflat = None
    if need_dx:
        dflat = _scratch.get("padded", flat.shape, flat.dtype, xp)
        dflat.fill(0)
    for group in grid.groups(dout.dtype.itemsize):
        positions = grid.positions(group)
        # (F, positions): one row per filter, one column per grid position, zero where no output is.
        dout_rows = grid.spread(dout[group], _scratch.matrix("rows", F, positions, dout.dtype, xp))
        if kept is None:
            cols = grid.unfold(flat, group, _scratch.matrix("columns", K + 1, positions, flat.dtype, xp))
        else:
            cols = kept
        # cols @ dout_rows.T is dw transposed, with db from the row of ones; OpenBLAS runs this
        # operand order faster than dout_rows @ cols.T.
        dwb_t += cols @ dout_rows.T
        if need_dx:
            # The columns have served dw; the column gradient goes to the scratch buffer of the
            # columns (the unfolded ones, if any, are no longer needed; kept ones stay intact,
            # so the cache can serve another backward pass). The bias has no input to send to.
            dcols = _scratch.matrix("columns", K, positions, flat.dtype, xp)
            grid.fold(xp.matmul(w.reshape(F, K).T, dout_rows, out=dcols), group, dflat)
    dw = xp.ascontiguousarray(dwb_t[:K].T).reshape(w.shape)
    db = dwb_t[K].copy()
    return (grid.gather(dflat) if need_dx else None), dw, db
