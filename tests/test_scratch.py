"""cnnlab._scratch: the buffers the kernels reuse between calls instead of allocating anew."""

import threading

import numpy as np
import pytest

from cnnlab import _scratch


def setup_function():
    _scratch.release()


def test_a_role_hands_out_its_buffer_again_with_the_shape_asked_for():
    a = _scratch.get("columns", (3, 4), np.float32, np)
    a[...] = 7
    b = _scratch.get("columns", (2, 5), np.float32, np)
    assert b.shape == (2, 5) and b.dtype == np.float32 and b.flags.c_contiguous
    assert np.shares_memory(a, b)
    assert np.all(b.reshape(-1)[:10] == 7)   # the same memory, not cleared: callers write first


def test_roles_and_dtypes_never_share_memory():
    a = _scratch.get("columns", (4, 4), np.float32, np)
    b = _scratch.get("rows", (4, 4), np.float32, np)
    c = _scratch.get("columns", (4, 4), np.float64, np)
    assert not np.shares_memory(a, b) and not np.shares_memory(a, c)


def test_a_larger_request_grows_the_buffer():
    small = _scratch.get("columns", (2, 2), np.float64, np)
    large = _scratch.get("columns", (10, 10), np.float64, np)
    assert large.shape == (10, 10) and not np.shares_memory(small, large)
    again = _scratch.get("columns", (3, 3), np.float64, np)
    assert np.shares_memory(again, large)


def test_each_thread_has_its_own_buffers():
    mine = _scratch.get("columns", (8,), np.float32, np)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(_scratch.get("columns", (8,), np.float32, np)))
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])


def test_release_frees_the_buffers():
    a = _scratch.get("columns", (8,), np.float32, np)
    _scratch.release()
    assert not np.shares_memory(a, _scratch.get("columns", (8,), np.float32, np))


@pytest.mark.parametrize("n_cols, dtype", [(16384, np.float32), (12544, np.float32), (100, np.float64), (1, np.float32)])
def test_matrix_rows_start_an_odd_multiple_of_256_bytes_apart(n_cols, dtype):
    m = _scratch.matrix("columns", 72, n_cols, dtype, np)
    assert m.shape == (72, n_cols) and m.dtype == dtype and m.strides[1] == m.itemsize
    assert m.strides[0] >= n_cols * m.itemsize and m.strides[0] % 256 == 0 and (m.strides[0] // 256) % 2 == 1
    m[...] = 1.0
    assert np.shares_memory(m, _scratch.get("columns", (1,), dtype, np))


def test_an_empty_shape_works():
    assert _scratch.get("rows", (0, 5), np.float32, np).shape == (0, 5)


@pytest.mark.gpu
def test_numpy_and_cupy_buffers_are_kept_apart():
    import cupy as cp  # conftest.py skips gpu-marked tests unless CuPy can reach a GPU
    on_gpu = _scratch.get("columns", (4, 4), np.float32, cp)
    on_cpu = _scratch.get("columns", (4, 4), np.float32, np)
    assert isinstance(on_gpu, cp.ndarray) and isinstance(on_cpu, np.ndarray)
    assert _scratch.get("columns", (2, 2), np.float32, cp).data.ptr == on_gpu.data.ptr
    assert _scratch.matrix("rows", 72, 16384, np.float32, cp).flags.c_contiguous   # no padding on a GPU


def _base(view):
    return view.base if view.base is not None else view


def test_a_kept_matrix_is_not_handed_out_while_anything_refers_to_it():
    a = _scratch.kept_matrix(3, 5, np.float32, np)
    assert a.shape == (3, 5) and a.dtype == np.float32
    a[...] = 1
    b = _scratch.kept_matrix(3, 5, np.float32, np)        # a is alive: new memory
    assert not np.shares_memory(a, b)
    row = a[1:]                                            # a slice keeps a's memory in use too
    del a
    c = _scratch.kept_matrix(3, 5, np.float32, np)
    assert not np.shares_memory(row, c) and not np.shares_memory(b, c)
    assert np.all(row == 1)
    del row
    d = _scratch.kept_matrix(3, 5, np.float32, np)        # now nothing refers to the first one
    assert not np.shares_memory(b, d) and not np.shares_memory(c, d)
    assert sum(_base(m) is _base(d) for m in _scratch._local.kept) == 1


def test_kept_matrices_take_turns_like_the_caches_of_a_training_loop():
    cache = _scratch.kept_matrix(4, 100, np.float64, np)
    seen = {id(_base(cache))}
    for _ in range(10):
        new = _scratch.kept_matrix(4, 100, np.float64, np)  # made while the last one is alive
        assert not np.shares_memory(new, cache)
        cache = new
        seen.add(id(_base(cache)))
    assert len(seen) == 2


def test_kept_matrices_have_padded_rows_and_are_bounded_in_number():
    held = [_scratch.kept_matrix(2, 64, np.float32, np) for _ in range(_scratch.KEPT + 3)]
    row_bytes = held[0].strides[0]
    assert row_bytes % 256 == 0 and (row_bytes // 256) % 2 == 1   # as matrix() pads them
    assert len(_scratch._local.kept) == _scratch.KEPT
    del held
    other = _scratch.kept_matrix(3, 7, np.float64, np)      # a free matrix of another size makes room
    assert other.shape == (3, 7)
    assert any(_base(m) is _base(other) for m in _scratch._local.kept)


def test_zeros_are_zero_read_only_and_shared():
    a = _scratch.zeros((3, 4), np.float32, np)
    assert a.shape == (3, 4) and a.dtype == np.float32 and not a.any()
    with pytest.raises(ValueError, match="read-only"):
        a[0, 0] = 1.0
    b = _scratch.zeros((2, 2), np.float32, np)
    assert np.shares_memory(a, b)                                  # one buffer, not one per call
    assert not np.shares_memory(a, _scratch.zeros((4,), np.float64, np))
    big = _scratch.zeros((100, 10), np.float32, np)                # grows, still zero
    assert big.shape == (100, 10) and not big.any()
    assert _scratch.zeros((), np.float32, np).shape == ()
