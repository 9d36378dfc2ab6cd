"""cnnlab.pooling: max-pool and average-pool, forward and backward.

Max-pool's backward is only differentiable away from ties, so numerical gradients are checked
on inputs whose values are far apart, and ties and overlapping windows are checked against
hand-computed gradients and the naive loops of cnnlab.grading.naive (which use np.argmax: the
first maximum in row-major window order).
"""

import numpy as np
import pytest

from cnnlab import pooling
from cnnlab.gradcheck import check_backward
from cnnlab.grading import naive


X4 = np.array([
    [1.0, 5.0, 2.0, 0.0],
    [3.0, 4.0, 8.0, 1.0],
    [0.0, 9.0, 2.0, 2.0],
    [6.0, 1.0, 7.0, 3.0],
]).reshape(1, 1, 4, 4)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def distinct(rng, shape):
    """Values at least 0.1 apart: no ties, and far from any tie at the finite-difference step."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1 - 1.0


# --- max-pool forward --------------------------------------------------------------------------------

def test_maxpool_forward_by_hand():
    out, _ = pooling.maxpool2d_forward(X4)
    np.testing.assert_array_equal(out[0, 0], [[5.0, 8.0], [9.0, 7.0]])


def test_maxpool_forward_overlapping_by_hand():
    out, _ = pooling.maxpool2d_forward(X4, size=3, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[9.0, 9.0], [9.0, 9.0]])
    out, _ = pooling.maxpool2d_forward(X4, size=2, stride=1)
    np.testing.assert_array_equal(out[0, 0], [[5.0, 8.0, 8.0], [9.0, 9.0, 8.0], [9.0, 9.0, 7.0]])


POOL_SHAPES = [
    # x shape, size, stride
    ((2, 3, 6, 6), 2, None),
    ((2, 2, 7, 7), 3, 2),          # overlapping
    ((1, 2, 6, 5), 3, 1),          # overlapping, stride 1
    ((2, 1, 5, 7), (2, 3), (1, 2)),  # non-square window, stride per axis
    ((1, 1, 5, 5), 2, None),       # the last row and column do not fit
    ((2, 2, 7, 6), 2, 3),          # stride larger than the window: gaps
    ((2, 2, 4, 5), 1, None),       # 1x1 windows: one offset, the output a copy of the input
    ((2, 1, 4, 6), (1, 2), None),  # two offsets: the maximum and the argmax start from both
]


@pytest.mark.parametrize("shape, size, stride", POOL_SHAPES)
def test_maxpool_forward_matches_naive_loops(rng, shape, size, stride):
    x = rng.standard_normal(shape)
    out, _ = pooling.maxpool2d_forward(x, size, stride)
    expected, _ = naive.maxpool2d_forward_naive(x, size, stride)
    np.testing.assert_array_equal(out, expected)
    assert not np.shares_memory(out, x)


# --- max-pool backward ----------------------------------------------------------------------------------

def test_maxpool_backward_by_hand():
    _, cache = pooling.maxpool2d_forward(X4)
    dx = pooling.maxpool2d_backward(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2), cache)
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[2, 1], expected[3, 2] = 1.0, 2.0, 3.0, 4.0
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_maxpool_backward_overlapping_windows_accumulate():
    # The 9 at (2, 1) is the maximum of all four 3x3 windows: it receives all four gradients.
    _, cache = pooling.maxpool2d_forward(X4, size=3, stride=1)
    dx = pooling.maxpool2d_backward(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2), cache)
    expected = np.zeros((4, 4))
    expected[2, 1] = 10.0
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_maxpool_backward_overlapping_by_hand_size2_stride1():
    _, cache = pooling.maxpool2d_forward(X4, size=2, stride=1)
    dout = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    dx = pooling.maxpool2d_backward(dout, cache)
    expected = np.zeros((4, 4))
    expected[0, 1] = 1.0              # window (0,0): 5
    expected[1, 2] = 2.0 + 3.0 + 6.0  # windows (0,1), (0,2), (1,2): 8
    expected[2, 1] = 4.0 + 5.0 + 7.0 + 8.0  # windows (1,0), (1,1), (2,0), (2,1): 9
    expected[3, 2] = 9.0              # window (2,2): 7
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_maxpool_ties_send_the_gradient_to_the_first_maximum_only():
    x = np.array([
        [0.0, 0.0, 1.0, 3.0],
        [0.0, 0.0, 3.0, 2.0],
        [4.0, 1.0, 2.0, 2.0],
        [4.0, 4.0, 2.0, 2.0],
    ]).reshape(1, 1, 4, 4)
    _, cache = pooling.maxpool2d_forward(x)
    dout = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dx = pooling.maxpool2d_backward(dout, cache)
    expected = np.zeros((4, 4))
    expected[0, 0] = 1.0   # all four equal (a ReLU'd patch): the top-left one
    expected[0, 3] = 2.0   # 3 at (0, 3) and (1, 2): the first in row-major order
    expected[2, 0] = 3.0   # 4 three times
    expected[2, 2] = 4.0   # all four equal
    np.testing.assert_array_equal(dx[0, 0], expected)
    assert dx.sum() == dout.sum()


def test_maxpool_ties_in_overlapping_windows():
    x = np.zeros((1, 1, 4, 4))   # a constant image: every window is one big tie
    _, cache = pooling.maxpool2d_forward(x, size=3, stride=1)
    dout = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dx = pooling.maxpool2d_backward(dout, cache)
    expected = np.zeros((4, 4))
    expected[:2, :2] = dout[0, 0]   # each window's top-left corner, one window each
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("shape, size, stride", POOL_SHAPES)
def test_maxpool_backward_with_many_ties_matches_naive_loops(rng, shape, size, stride):
    x = rng.integers(0, 3, shape).astype(float)   # three values only: ties everywhere
    out, cache = pooling.maxpool2d_forward(x, size, stride)
    dout = rng.standard_normal(out.shape)
    _, naive_cache = naive.maxpool2d_forward_naive(x, size, stride)
    dx = pooling.maxpool2d_backward(dout, cache)
    np.testing.assert_allclose(dx, naive.maxpool2d_backward_naive(dout, naive_cache), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx.sum(), dout.sum(), rtol=1e-12)
    # one receiving input per window: with dout = 1, dx counts the windows each input won
    counts = pooling.maxpool2d_backward(np.ones_like(out), cache)
    assert counts.sum() == out.size and np.all(counts == np.round(counts))


@pytest.mark.parametrize("shape, size, stride", POOL_SHAPES)
def test_maxpool_backward_numerically(rng, shape, size, stride):
    x = distinct(rng, shape)
    errors = check_backward(lambda x: pooling.maxpool2d_forward(x, size, stride), pooling.maxpool2d_backward,
                            [x], tol=1e-8)
    assert errors[0] < 1e-8


def test_maxpool_windows_that_do_not_fit_get_no_gradient(rng):
    x = distinct(rng, (1, 1, 5, 5))
    x[0, 0, 4, 4] = 100.0   # the largest value, outside every 2x2 window
    out, cache = pooling.maxpool2d_forward(x)
    assert out.shape == (1, 1, 2, 2) and out.max() < 100.0
    dx = pooling.maxpool2d_backward(np.ones_like(out), cache)
    assert np.all(dx[0, 0, 4, :] == 0) and np.all(dx[0, 0, :, 4] == 0)


def test_maxpool_large_window_needs_wide_indices():
    x = np.zeros((1, 1, 17, 17))   # 289 offsets: more than uint8 can number
    x[0, 0, 16, 16] = 1.0
    out, cache = pooling.maxpool2d_forward(x, size=17)
    dx = pooling.maxpool2d_backward(np.full((1, 1, 1, 1), 2.0), cache)
    assert out[0, 0, 0, 0] == 1.0 and dx[0, 0, 16, 16] == 2.0 and dx.sum() == 2.0


# --- average pool ----------------------------------------------------------------------------------------

def test_avgpool_forward_by_hand():
    out, _ = pooling.avgpool2d_forward(X4)
    np.testing.assert_allclose(out[0, 0], [[13 / 4, 11 / 4], [16 / 4, 14 / 4]])


def test_avgpool_backward_by_hand_overlapping():
    _, cache = pooling.avgpool2d_forward(np.zeros((1, 1, 3, 3)), size=2, stride=1)
    dx = pooling.avgpool2d_backward(np.full((1, 1, 2, 2), 4.0), cache)
    # each window hands 1 to each of its four inputs; the centre is in all four windows
    np.testing.assert_allclose(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


@pytest.mark.parametrize("shape, size, stride", POOL_SHAPES)
def test_avgpool_matches_naive_loops(rng, shape, size, stride):
    x = rng.standard_normal(shape)
    out, cache = pooling.avgpool2d_forward(x, size, stride)
    expected, naive_cache = naive.avgpool2d_forward_naive(x, size, stride)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(pooling.avgpool2d_backward(dout, cache),
                               naive.avgpool2d_backward_naive(dout, naive_cache), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape, size, stride", POOL_SHAPES[:4])
def test_avgpool_backward_numerically(rng, shape, size, stride):
    x = rng.standard_normal(shape)
    errors = check_backward(lambda x: pooling.avgpool2d_forward(x, size, stride), pooling.avgpool2d_backward,
                            [x], tol=1e-8)
    assert errors[0] < 1e-8


# --- dtypes and bad input -----------------------------------------------------------------------------

@pytest.mark.parametrize("forward, backward", [
    (pooling.maxpool2d_forward, pooling.maxpool2d_backward),
    (pooling.avgpool2d_forward, pooling.avgpool2d_backward),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pooling_keeps_dtype(rng, forward, backward, dtype):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    out, cache = forward(x, 3, 2)
    dx = backward(np.ones_like(out), cache)
    assert out.dtype == dtype and dx.dtype == dtype and dx.shape == x.shape


@pytest.mark.parametrize("forward", [pooling.maxpool2d_forward, pooling.avgpool2d_forward])
@pytest.mark.parametrize("args, error, match", [
    ((np.ones((3, 4, 4)),), ValueError, r"x must be a 4-D array \(N, C, H, W\); got shape \(3, 4, 4\)"),
    ((np.ones((1, 1, 4, 4), dtype=int),), TypeError, "x must hold floating-point numbers"),
    ((np.ones((1, 1, 2, 4)), 3), ValueError,
     r"pooling window 3x3 is larger than the input 2x4 \(x of shape \(1, 1, 2, 4\)\)"),
    ((np.ones((1, 1, 4, 4)), (2, 5)), ValueError, "pooling window 2x5 is larger than the input 4x4"),
    ((np.ones((1, 1, 4, 4)), 0), ValueError, "size must be an integer >= 1; got 0"),
    ((np.ones((1, 1, 4, 4)), 2, 0), ValueError, "stride must be an integer >= 1; got 0"),
    ((np.ones((1, 1, 4, 4)), 2, (1, 2, 3)), ValueError, r"stride must be an int or a pair"),
    (([[1.0]],), TypeError, "x must be a NumPy or CuPy array"),
])
def test_pooling_forward_bad_input(forward, args, error, match):
    with pytest.raises(error, match=match):
        forward(*args)


@pytest.mark.parametrize("forward, backward", [
    (pooling.maxpool2d_forward, pooling.maxpool2d_backward),
    (pooling.avgpool2d_forward, pooling.avgpool2d_backward),
])
def test_pooling_backward_bad_dout(forward, backward):
    _, cache = forward(np.ones((1, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(1, 2, 2, 2\); got \(1, 2, 2, 1\)"):
        backward(np.ones((1, 2, 2, 1)), cache)
    with pytest.raises(ValueError, match="dout must be a 4-D array"):
        backward(np.ones((2, 2)), cache)


# --- CuPy ----------------------------------------------------------------------------------------------

@pytest.mark.gpu
def test_pooling_on_cupy_matches_numpy(rng):
    import cupy as cp  # conftest.py skips gpu-marked tests unless CuPy can reach a GPU
    x = rng.integers(0, 3, (2, 3, 7, 7)).astype(np.float32)   # ties included
    for forward, backward in [(pooling.maxpool2d_forward, pooling.maxpool2d_backward),
                              (pooling.avgpool2d_forward, pooling.avgpool2d_backward)]:
        for size, stride in [(2, None), (3, 2)]:
            out, cache = forward(x, size, stride)
            dout = rng.standard_normal(out.shape).astype(np.float32)
            out_gpu, cache_gpu = forward(cp.asarray(x), size, stride)
            dx_gpu = backward(cp.asarray(dout), cache_gpu)
            assert isinstance(dx_gpu, cp.ndarray) and dx_gpu.dtype == np.float32
            np.testing.assert_allclose(cp.asnumpy(out_gpu), out, rtol=1e-6)
            np.testing.assert_allclose(cp.asnumpy(dx_gpu), backward(dout, cache), rtol=1e-5, atol=1e-6)
