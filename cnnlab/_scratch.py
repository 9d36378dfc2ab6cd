"""Scratch arrays that the kernels reuse from one call to the next.

Why: a large new array comes from the operating system as untouched memory, and the first write
to each 4 KiB page of it stops the program for a page fault. On the 2-core development VM a
fault costs about 4 microseconds, so filling a fresh 5 MB column matrix (1,200 pages) costs
about 5 ms in faults, ten times the copy itself. conv2d needs matrices of the same sizes at every
training step, so it asks for them here instead of allocating them again.

Each *role* (a name such as ``"columns"``) keeps one flat buffer per array module, device and
dtype; a request returns a view of its first elements, reshaped, and the buffer only grows when
a larger one is needed. The rules for a caller:

* the array is garbage until written, and valid only until the next request for the same role:
  never return it, never keep it in a cache, never ask for one role twice while the first
  array is still in use;
* two roles never share memory, so a function may hold one array of each role at once.

Buffers belong to the thread that asked for them (``threading.local``), so threads computing at
the same time never share one. They stay allocated, at the size of the largest request, until
:func:`release` is called.

A matrix that must outlive the call (conv2d keeps its columns in its cache) comes from
:func:`kept_matrix` instead: new memory, or memory that nothing refers to any more. And
:func:`zeros` hands out read-only zeros, one buffer shared by every caller.
"""

from __future__ import annotations

import math
import sys
import threading

import numpy as np

_local = threading.local()


def get(role: str, shape: tuple, dtype, xp):
    """A C-contiguous array of ``shape`` and ``dtype`` from array module ``xp``, with undefined
    contents, backed by the buffer kept for ``role``."""
    dtype = np.dtype(dtype)
    return _view("buffers", (role, *_place(xp), dtype.str), shape, lambda size: xp.empty(size, dtype=dtype))


def _view(store: str, key: tuple, shape: tuple, make):
    """A ``shape`` view of the first elements of the flat buffer kept under ``key`` in this
    thread's ``store``; ``make(size)`` makes a new one when there is none or it is too small."""
    found = _local.__dict__.setdefault(store, {})
    size = math.prod(shape)
    buffer = found.get(key)
    if buffer is None or buffer.size < size:
        buffer = found[key] = make(size)
    return buffer[:size].reshape(shape)


def _place(xp) -> tuple:
    """Where ``xp`` allocates: its name and, for CuPy, the current device (a buffer made for one
    GPU must not serve another)."""
    return xp.__name__, (xp.cuda.runtime.getDevice() if xp.__name__ == "cupy" else None)


def zeros(shape: tuple, dtype, xp):
    """A read-only array of zeros of ``shape`` and ``dtype`` (a view of one buffer per thread and
    dtype, grown when needed), for operations that compare with zero elementwise.

    Why: NumPy's ``maximum(x, 0)`` broadcasts the scalar and runs a loop without SIMD, four times
    slower than ``maximum(x, z)`` with an array of zeros z on the development VM (0.37 ms against
    0.09 ms for the 1.6 MB activations of the capstone's first layer). On CuPy both are one kernel
    launch; the array costs a read of device memory and keeps the code the same.
    """
    dtype = np.dtype(dtype)

    def make(size):
        buffer = xp.zeros(size, dtype=dtype)
        if xp is np:
            buffer.flags.writeable = False   # shared by every caller: nobody may write to it
        return buffer

    return _view("zeros", (*_place(xp), dtype.str), shape, make)


def matrix(role: str, n_rows: int, n_cols: int, dtype, xp):
    """An (n_rows, n_cols) matrix from the buffer of ``role`` (rules as for :func:`get`) whose rows
    start an odd multiple of 256 bytes apart on NumPy (contiguous on CuPy), for matrix products.

    Why: when the rows of a matrix are a multiple of 4 KiB apart, the same element of every row
    falls into the same few sets of the processor's caches, and a matrix product, which reads
    many rows side by side, keeps evicting its own data. conv2d's matrices often have such rows
    (64 images of 16x16 positions: 64 KiB of float32); padding each row to an odd multiple of
    256 bytes made its three products 15-50 % faster on the development VM.
    """
    return get(role, (n_rows, _row_length(n_cols, dtype, xp)), dtype, xp)[:, :n_cols]


def _row_length(n_cols: int, dtype, xp) -> int:
    """Elements from one row of :func:`matrix` to the next."""
    # A processor-cache effect: a GPU's matrix products tile their operands themselves, and CuPy
    # may copy a matrix with padded rows to a contiguous one first.
    if xp is not np:
        return n_cols
    itemsize = np.dtype(dtype).itemsize
    return (-(-n_cols * itemsize // 256) | 1) * 256 // itemsize


#: How many matrices :func:`kept_matrix` keeps for reuse, per thread.
KEPT = 4


def _refs(array) -> int:
    return sys.getrefcount(array)


# What _refs(some_list[i]) counts for an array that nothing but the list refers to: measured,
# not assumed, since interpreters differ in the references a call holds.
_probe = [np.empty(0)]
_UNUSED = _refs(_probe[0])


def kept_matrix(n_rows: int, n_cols: int, dtype, xp):
    """A new (n_rows, n_cols) matrix with the rows of :func:`matrix`, which the caller may keep,
    e.g. conv2d's columns in its cache for the backward pass.

    Its memory is handed out again only once nothing refers to it: this module keeps the last
    :data:`KEPT` such matrices, the caller gets a view, every view or slice of it holds a
    reference, and CPython counts them. Why: in a training loop a layer makes its new cache while
    the last step's still exists, so two matrices of a size take turns, and their pages are
    written once instead of faulting in again at every step (4 MB of columns: about 1,000 page
    faults; a training step of the small CNN in benchmarks/ went from 166-191 faults to 7-17).
    """
    dtype = np.dtype(dtype)
    shape = (n_rows, _row_length(n_cols, dtype, xp))
    if xp is not np:   # CuPy recycles device memory in its own memory pool
        return xp.empty(shape, dtype=dtype)[:, :n_cols]
    kept = _local.__dict__.setdefault("kept", [])
    spare = None
    for i in range(len(kept)):
        if _refs(kept[i]) == _UNUSED:
            if kept[i].shape == shape and kept[i].dtype == dtype:
                return kept[i][:, :n_cols]
            spare = i
    array = np.empty(shape, dtype=dtype)
    if len(kept) < KEPT:
        kept.append(array)
    elif spare is not None:
        kept[spare] = array   # a free matrix of another size makes room
    return array[:, :n_cols]


def release() -> None:
    """Free every buffer of this thread (the next request allocates again); matrices from
    :func:`kept_matrix` that are still in use stay valid."""
    _local.__dict__.pop("buffers", None)
    _local.__dict__.pop("kept", None)
    _local.__dict__.pop("zeros", None)
