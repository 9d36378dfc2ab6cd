"""cnnlab.conv: output sizes and the arithmetic of an axis, padding, im2col/col2im and the fast
conv2d forward/backward.

The fast kernels are checked three ways: small cases computed by hand, the naive loops of
cnnlab.grading.naive on random shapes, and float64 central differences for every gradient.
"""

import numpy as np
import pytest

from cnnlab import conv
from cnnlab.gradcheck import check_backward
from cnnlab.grading import naive


X3 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).reshape(1, 1, 3, 3)
K2 = np.array([[1.0, 2.0], [0.0, -1.0]]).reshape(1, 1, 2, 2)


@pytest.fixture
def rng():
    return np.random.default_rng(5)


# --- conv_output_size ------------------------------------------------------------------------------

@pytest.mark.parametrize("n, k, stride, pad, expected", [
    (227, 11, 4, 0, 55),   # AlexNet's first layer
    (5, 3, 2, 1, 3),
    (28, 3, 1, 1, 28),     # VGG's 3x3/s1/p1 keeps the size
    (7, 3, 2, 0, 3),
    (6, 3, 2, 0, 2),       # floor: one column left over
    (4, 4, 1, 0, 1),       # kernel exactly the input
    (1, 3, 1, 1, 1),
])
def test_conv_output_size(n, k, stride, pad, expected):
    assert conv.conv_output_size(n, k, stride, pad) == expected


def test_conv_output_size_errors():
    with pytest.raises(ValueError, match=r"kernel size k=5 is larger than the padded input size .* = 4"):
        conv.conv_output_size(2, 5, pad=1)
    with pytest.raises(ValueError, match="stride must be an integer >= 1; got 0"):
        conv.conv_output_size(5, 3, stride=0)
    with pytest.raises(ValueError, match="pad must be an integer >= 0; got -1"):
        conv.conv_output_size(5, 3, pad=-1)
    with pytest.raises(TypeError, match="n must be an integer"):
        conv.conv_output_size(5.0, 3)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        conv.conv_output_size(5, 0)
    # A bool is an int to Python but not a size; NumPy integers are sizes.
    with pytest.raises(TypeError, match=r"stride must be an integer; got True \(bool\)"):
        conv.conv_output_size(5, 3, stride=True)
    with pytest.raises(ValueError, match="pad must be an integer >= 0; got -1"):
        conv.conv_output_size(5, 3, pad=np.int8(-1))
    assert conv.conv_output_size(np.int64(5), np.uint8(3), stride=np.int32(2)) == 2


# --- pad2d ------------------------------------------------------------------------------------------

def test_pad2d_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32).reshape(1, 1, 2, 2)
    out = conv.pad2d(x, 1)
    expected = np.array([[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(out[0, 0], expected)
    assert out.dtype == np.float32


def test_pad2d_pads_only_the_last_two_axes_and_takes_pairs():
    x = np.ones((2, 3, 4, 5))
    out = conv.pad2d(x, (1, 2))
    assert out.shape == (2, 3, 6, 9)
    assert out.sum() == x.sum()
    np.testing.assert_array_equal(out[:, :, 1:5, 2:7], x)
    assert conv.pad2d(x, 0) is not x


def test_pad2d_errors():
    with pytest.raises(ValueError, match="pad must be an integer >= 0"):
        conv.pad2d(np.ones((1, 1, 2, 2)), -1)
    with pytest.raises(ValueError, match=r"x must have at least 2 dimensions .* got shape \(3,\)"):
        conv.pad2d(np.ones(3), 1)
    with pytest.raises(TypeError, match="x must be a NumPy or CuPy array"):
        conv.pad2d([[1.0]], 1)


# --- im2col / col2im --------------------------------------------------------------------------------

def test_im2col_layout_by_hand():
    x = np.arange(2 * 3 * 3, dtype=float).reshape(1, 2, 3, 3)  # channel 0: 0..8, channel 1: 9..17
    cols = conv.im2col(x, 2, 2)
    # rows: windows (i, j) = (0,0), (0,1), (1,0), (1,1); columns: (c, di, dj) in that order
    expected = np.array([
        [0, 1, 3, 4, 9, 10, 12, 13],
        [1, 2, 4, 5, 10, 11, 13, 14],
        [3, 4, 6, 7, 12, 13, 15, 16],
        [4, 5, 7, 8, 13, 14, 16, 17],
    ], dtype=float)
    np.testing.assert_array_equal(cols, expected)


def test_im2col_with_stride_and_padding_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    cols = conv.im2col(x, 2, 2, stride=2, pad=1)   # padded 4x4, windows at the four corners
    expected = np.array([[0, 0, 0, 1], [0, 0, 2, 0], [0, 3, 0, 0], [4, 0, 0, 0]], dtype=float)
    np.testing.assert_array_equal(cols, expected)


def test_im2col_rows_run_over_samples_first():
    x = np.arange(2 * 4, dtype=float).reshape(2, 1, 2, 2)
    cols = conv.im2col(x, 2, 2)               # one window per sample
    np.testing.assert_array_equal(cols, [[0, 1, 2, 3], [4, 5, 6, 7]])


def test_im2col_times_weights_is_the_convolution(rng):
    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(4)
    out, _ = conv.conv2d_forward(x, w, b, stride=(2, 1), pad=(1, 0))
    N, F, Ho, Wo = out.shape
    via_cols = conv.im2col(x, 3, 2, stride=(2, 1), pad=(1, 0)) @ w.reshape(4, -1).T + b
    np.testing.assert_allclose(via_cols.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2), out, rtol=1e-12)


def test_col2im_counts_overlaps_by_hand():
    ones = np.ones((4, 4))   # 3x3 input, 2x2 kernel, stride 1: four windows of four values
    counts = conv.col2im(ones, (1, 1, 3, 3), 2, 2)
    np.testing.assert_array_equal(counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    # a shape given as NumPy integers (e.g. from an array's shape arithmetic) works too
    np.testing.assert_array_equal(conv.col2im(ones, np.array([1, 1, 3, 3]).tolist(), 2, 2), counts)
    np.testing.assert_array_equal(conv.col2im(ones, tuple(np.int64(v) for v in (1, 1, 3, 3)), 2, 2), counts)


@pytest.mark.parametrize("shape, kh, kw, stride, pad", [
    ((2, 3, 5, 5), 3, 3, 1, 1),
    ((1, 2, 7, 6), 3, 2, (2, 1), (1, 2)),
    ((3, 1, 4, 4), 3, 3, 1, 3),      # some kernel offsets see only padding
    ((2, 2, 8, 7), 3, 3, 3, 0),      # rows and columns left over
])
def test_col2im_is_the_adjoint_of_im2col(rng, shape, kh, kw, stride, pad):
    x = rng.standard_normal(shape)
    cols = conv.im2col(x, kh, kw, stride, pad)
    y = rng.standard_normal(cols.shape)
    back = conv.col2im(y, shape, kh, kw, stride, pad)
    assert back.shape == shape
    np.testing.assert_allclose(np.sum(cols * y), np.sum(x * back), rtol=1e-12)


def test_im2col_col2im_errors():
    x = np.ones((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\); got shape \(3, 3\)"):
        conv.im2col(np.ones((3, 3)), 2, 2)
    with pytest.raises(ValueError, match=r"kernel 4x4 is larger than the padded input 3x3"):
        conv.im2col(x, 4, 4)
    with pytest.raises(ValueError, match=r"cols must have shape \(N\*Ho\*Wo, C\*kh\*kw\) = \(4, 4\)"):
        conv.col2im(np.ones((4, 3)), (1, 1, 3, 3), 2, 2)
    with pytest.raises(ValueError, match="x_shape must be 4 positive ints"):
        conv.col2im(np.ones((4, 4)), (1, 3, 3), 2, 2)
    with pytest.raises(ValueError, match="x_shape must be 4 positive ints"):
        conv.col2im(np.ones((4, 4)), 9, 2, 2)
    with pytest.raises(TypeError, match="kh must be an integer"):
        conv.im2col(x, 2.0, 2)


# --- conv2d forward ---------------------------------------------------------------------------------

def test_conv2d_forward_by_hand():
    out, _ = conv.conv2d_forward(X3, K2, np.array([0.5]))
    # out[i, j] = x[i, j] + 2 x[i, j+1] - x[i+1, j+1] + 0.5 (cross-correlation: no flip)
    np.testing.assert_allclose(out[0, 0], [[0.5, 2.5], [6.5, 8.5]])


def test_conv2d_forward_with_stride_and_padding_by_hand():
    out, _ = conv.conv2d_forward(X3, K2, np.array([0.5]), stride=2, pad=1)
    # padded 5x5, windows at padded (0,0), (0,2), (2,0), (2,2)
    np.testing.assert_allclose(out[0, 0], [[-0.5, -2.5], [1.5, 8.5]])


def test_conv2d_forward_sums_over_channels_by_hand():
    x = np.stack([X3[0, 0], 10 * X3[0, 0]])[None]          # (1, 2, 3, 3)
    w = np.array([2.0, -1.0]).reshape(1, 2, 1, 1)
    out, _ = conv.conv2d_forward(x, w, np.array([1.0]))
    np.testing.assert_allclose(out[0, 0], 2 * X3[0, 0] - 10 * X3[0, 0] + 1)


CONV_SHAPES = [
    # x shape, w shape, stride, pad
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
    ((2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
    ((2, 2, 6, 5), (3, 2, 3, 2), 1, 0),            # non-square kernel
    ((2, 2, 7, 6), (2, 2, 3, 2), (2, 1), (1, 2)),  # stride and pad per axis
    ((1, 3, 6, 6), (2, 3, 3, 3), 1, 1),            # batch of one
    ((2, 1, 4, 4), (2, 1, 3, 3), 1, 3),            # offsets that only see padding
    ((2, 2, 8, 7), (2, 2, 3, 3), 3, 0),            # rows and columns left over
    ((1, 2, 5, 5), (2, 2, 5, 5), 1, 0),            # kernel as large as the input
    ((2, 2, 9, 8), (3, 2, 2, 3), (3, 2), (0, 1)),  # stride larger than the kernel: phases never read
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_SHAPES)
def test_conv2d_forward_matches_naive_loops(rng, x_shape, w_shape, stride, pad):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, _ = conv.conv2d_forward(x, w, b, stride, pad)
    expected, _ = naive.conv2d_forward_naive(x, w, b, stride, pad)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    assert out.flags.c_contiguous


# --- conv2d backward --------------------------------------------------------------------------------

def test_conv2d_backward_by_hand():
    _, cache = conv.conv2d_forward(X3, K2, np.array([0.5]))
    dx, dw, db = conv.conv2d_backward(np.ones((1, 1, 2, 2)), cache)
    np.testing.assert_allclose(db, [4.0])
    # dw[di, dj]: the sum of x over the four windows shifted by (di, dj)
    np.testing.assert_allclose(dw[0, 0], [[12.0, 16.0], [24.0, 28.0]])
    # dx[r, c]: the sum of the kernel entries that touch (r, c) over all windows
    np.testing.assert_allclose(dx[0, 0], [[1.0, 3.0, 2.0], [1.0, 2.0, 1.0], [0.0, -1.0, -1.0]])


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_SHAPES)
def test_conv2d_backward_numerically(rng, x_shape, w_shape, stride, pad):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    errors = check_backward(lambda x, w, b: conv.conv2d_forward(x, w, b, stride, pad), conv.conv2d_backward,
                            [x, w, b], tol=1e-7)
    assert max(errors) < 1e-7


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_SHAPES[:5])
def test_conv2d_backward_matches_naive_loops(rng, x_shape, w_shape, stride, pad):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    _, naive_cache = naive.conv2d_forward_naive(x, w, b, stride, pad)
    for got, want in zip(conv.conv2d_backward(dout, cache), naive.conv2d_backward_naive(dout, naive_cache)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [CONV_SHAPES[0], CONV_SHAPES[3]])
def test_conv2d_backward_without_dx_numerically(rng, x_shape, w_shape, stride, pad):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    assert conv.conv2d_backward(np.ones_like(out), cache, need_dx=False)[0] is None
    errors = check_backward(lambda x, w, b: conv.conv2d_forward(x, w, b, stride, pad),
                            lambda dout, cache: conv.conv2d_backward(dout, cache, need_dx=False)[1:],
                            [x, w, b], wrt=[1, 2], tol=1e-7)
    assert max(errors) < 1e-7


@pytest.mark.parametrize("per_group, groups", [(1, 5), (2, 3)])   # the last group is smaller
@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [CONV_SHAPES[0], CONV_SHAPES[3], CONV_SHAPES[6]])
def test_conv2d_in_groups_of_samples_matches_naive_loops(rng, monkeypatch, per_group, groups, x_shape, w_shape,
                                                         stride, pad):
    x_shape = (5,) + x_shape[1:]
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    _, cache = conv.conv2d_forward(x, w, b, stride, pad)
    grid = cache[2]
    column_bytes = w[0].size * grid.qh * grid.qw * x.itemsize    # one sample's columns
    monkeypatch.setattr(conv, "GROUP_BYTES", per_group * column_bytes)
    sizes = [g.stop - g.start for g in grid.groups(x.itemsize)]
    assert sizes == [per_group] * (groups - 1) + [5 - per_group * (groups - 1)]
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    expected, naive_cache = naive.conv2d_forward_naive(x, w, b, stride, pad)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    for got, want in zip(conv.conv2d_backward(dout, cache), naive.conv2d_backward_naive(dout, naive_cache)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def _random_geometries(count, seed=7):
    """Random small convolutions: strides up to 4, pads up to 5 (wider than the kernel too)."""
    gen = np.random.default_rng(seed)
    while count:
        n, c, f, h, w, kh, kw = (int(v) for v in gen.integers([1, 1, 1, 1, 1, 1, 1], [4, 4, 4, 9, 9, 6, 6]))
        stride, pad = tuple(int(v) for v in gen.integers(1, 5, 2)), tuple(int(v) for v in gen.integers(0, 6, 2))
        if kh <= h + 2 * pad[0] and kw <= w + 2 * pad[1]:
            count -= 1
            yield (n, c, h, w), (f, c, kh, kw), stride, pad


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", list(_random_geometries(60)))
def test_conv2d_matches_naive_loops_on_random_geometries(rng, x_shape, w_shape, stride, pad):
    # Neighbouring images and rows share their padding in the fast layout (conv._extent): a
    # geometry where a window reads past the shared zeros would show here as a wrong value.
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    expected, naive_cache = naive.conv2d_forward_naive(x, w, b, stride, pad)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    for got, want in zip(conv.conv2d_backward(dout, cache), naive.conv2d_backward_naive(dout, naive_cache)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n, k, s, p, out, expected", [
    (14, 3, 1, 1, 14, 15),   # the bottom padding is the next image's top padding: 15, not 16
    (32, 5, 1, 2, 32, 34),
    (14, 3, 1, 0, 12, 14),   # no padding: the image itself
    (28, 3, 2, 1, 14, 15),   # stride 2: phase 0 holds padded rows 0, 2, ..., 28 (15 rows)
    (4, 1, 1, 3, 10, 10),    # pad wider than the kernel: every output still has its row
    (8, 3, 3, 0, 2, 2),      # the last two rows are left over by the stride: no place for them
    (9, 2, 3, 0, 3, 3),      # stride larger than the kernel: phase 2 is never read
])
def test_grid_extent_by_hand(n, k, s, p, out, expected):
    assert conv._extent(n, k, s, p, out) == expected


def test_conv2d_caches_stay_valid_while_other_convolutions_run(rng):
    # The kernels reuse scratch buffers between calls: nothing a cache needs may live in them.
    x1, x2 = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((2, 3, 6, 6))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out1, cache1 = conv.conv2d_forward(x1, w, b, 1, 1)
    out2, cache2 = conv.conv2d_forward(x2, w, b, 1, 1)
    dout1, dout2 = rng.standard_normal(out1.shape), rng.standard_normal(out2.shape)
    grads2 = conv.conv2d_backward(dout2, cache2)
    grads1 = conv.conv2d_backward(dout1, cache1)
    for cache_naive, dout, grads in [(naive.conv2d_forward_naive(x1, w, b, 1, 1)[1], dout1, grads1),
                                     (naive.conv2d_forward_naive(x2, w, b, 1, 1)[1], dout2, grads2)]:
        for got, want in zip(grads, naive.conv2d_backward_naive(dout, cache_naive)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out1, naive.conv2d_forward_naive(x1, w, b, 1, 1)[0], rtol=1e-10)


@pytest.mark.parametrize("group_bytes", [conv.GROUP_BYTES, 1])   # one group (columns kept), one per sample
def test_conv2d_backward_twice_from_one_cache(rng, monkeypatch, group_bytes):
    # A single group keeps its columns in the cache; the column gradient must not overwrite them.
    monkeypatch.setattr(conv, "GROUP_BYTES", group_bytes)
    x, w, b = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    out, cache = conv.conv2d_forward(x, w, b, 1, 1)
    assert (cache[3] is None) == (group_bytes == 1)
    dout = rng.standard_normal(out.shape)
    first = [g.copy() for g in conv.conv2d_backward(dout, cache)]
    second = conv.conv2d_backward(dout, cache)
    for a, b_ in zip(first, second):
        np.testing.assert_array_equal(a, b_)
    for got, want in zip(second, naive.conv2d_backward_naive(dout, naive.conv2d_forward_naive(x, w, b, 1, 1)[1])):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_conv2d_leftover_rows_get_zero_gradient(rng):
    x = rng.standard_normal((1, 1, 7, 7))
    _, cache = conv.conv2d_forward(x, rng.standard_normal((1, 1, 3, 3)), np.zeros(1), stride=3)
    dx, _, _ = conv.conv2d_backward(np.ones((1, 1, 2, 2)), cache)
    assert np.all(dx[0, 0, 6, :] == 0) and np.all(dx[0, 0, :, 6] == 0)   # row and column 6 are never read
    assert np.count_nonzero(dx[0, 0, :6, :6]) > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_keeps_dtype(rng, dtype):
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    out, cache = conv.conv2d_forward(x, w, np.zeros(4, dtype), stride=1, pad=1)
    assert out.dtype == dtype
    grads = conv.conv2d_backward(np.ones_like(out), cache)
    assert [g.dtype for g in grads] == [dtype] * 3
    assert [g.shape for g in grads] == [x.shape, w.shape, (4,)]


def test_conv2d_float32_agrees_with_float64(rng):
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out64, _ = conv.conv2d_forward(x, w, b, pad=1)
    out32, _ = conv.conv2d_forward(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), pad=1)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)


def test_conv2d_empty_batch():
    out, cache = conv.conv2d_forward(np.ones((0, 2, 4, 4)), np.ones((3, 2, 3, 3)), np.zeros(3), pad=1)
    assert out.shape == (0, 3, 4, 4)
    dx, dw, db = conv.conv2d_backward(out, cache)
    assert dx.shape == (0, 2, 4, 4) and np.all(dw == 0) and np.all(db == 0)


# --- bad input ---------------------------------------------------------------------------------------

X_OK, W_OK, B_OK = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4)


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((np.ones((3, 5, 5)), W_OK, B_OK), {}, ValueError, r"x must be a 4-D array \(N, C, H, W\); got shape \(3, 5, 5\)"),
    ((X_OK, np.ones((4, 3, 3)), B_OK), {}, ValueError, r"w must be a 4-D array \(F, C, kh, kw\); got shape \(4, 3, 3\)"),
    ((X_OK, np.ones((4, 2, 3, 3)), B_OK), {}, ValueError,
     r"w must have 3 input channels.* x of shape \(2, 3, 5, 5\); got w of shape \(4, 2, 3, 3\)"),
    ((X_OK, W_OK, np.ones(3)), {}, ValueError, r"b must have shape \(4,\), one bias per filter .* got \(3,\)"),
    ((X_OK, W_OK, np.ones((4, 1))), {}, ValueError, r"b must be a 1-D array"),
    ((X_OK, np.ones((4, 3, 6, 6)), B_OK), {}, ValueError,
     r"kernel 6x6 is larger than the padded input 5x5 \(x of shape \(2, 3, 5, 5\) with pad \(0, 0\)\)"),
    ((X_OK, np.ones((4, 3, 6, 6)), B_OK), {"pad": (0, 1)}, ValueError, r"larger than the padded input 5x7"),
    ((X_OK, W_OK, B_OK), {"stride": 0}, ValueError, "stride must be an integer >= 1; got 0"),
    ((X_OK, W_OK, B_OK), {"stride": (1, -2)}, ValueError, "stride must be an integer >= 1; got -2"),
    ((X_OK, W_OK, B_OK), {"stride": (1, 2, 3)}, ValueError, r"stride must be an int or a pair \(rows, cols\)"),
    ((X_OK, W_OK, B_OK), {"pad": -1}, ValueError, "pad must be an integer >= 0; got -1"),
    ((X_OK, W_OK, B_OK), {"pad": 1.5}, TypeError, "pad must be an integer"),
    ((X_OK.astype(np.float32), W_OK, B_OK), {}, TypeError, r"w must have the dtype of x \(float32\); got float64"),
    ((X_OK, W_OK, B_OK.astype(np.float32)), {}, TypeError, r"b must have the dtype of x \(float64\); got float32"),
    ((X_OK.astype(int), W_OK, B_OK), {}, TypeError, "x must hold floating-point numbers; got dtype int"),
    ((X_OK.tolist(), W_OK, B_OK), {}, TypeError, "x must be a NumPy or CuPy array; got list"),
    ((X_OK, np.ones((0, 3, 3, 3)), np.ones(0)), {}, ValueError, r"x and w must have no empty axis"),
])
def test_conv2d_forward_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        conv.conv2d_forward(*args, **kwargs)


def test_conv2d_backward_bad_dout():
    out, cache = conv.conv2d_forward(X_OK, W_OK, B_OK)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output .* \(2, 4, 3, 3\); got \(2, 4, 3, 2\)"):
        conv.conv2d_backward(np.ones((2, 4, 3, 2)), cache)
    with pytest.raises(ValueError, match=r"dout must be a 4-D array"):
        conv.conv2d_backward(np.ones((2, 36)), cache)


# --- CuPy ----------------------------------------------------------------------------------------------

@pytest.mark.gpu
def test_conv2d_on_cupy_matches_numpy(rng):
    import cupy as cp  # conftest.py skips gpu-marked tests unless CuPy can reach a GPU
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in [(2, 3, 7, 6), (4, 3, 3, 2), (4,)])
    out, cache = conv.conv2d_forward(x, w, b, stride=(2, 1), pad=1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    grads = conv.conv2d_backward(dout, cache)
    out_gpu, cache_gpu = conv.conv2d_forward(cp.asarray(x), cp.asarray(w), cp.asarray(b), stride=(2, 1), pad=1)
    grads_gpu = conv.conv2d_backward(cp.asarray(dout), cache_gpu)
    assert isinstance(out_gpu, cp.ndarray) and out_gpu.dtype == np.float32
    for got, want in zip((out_gpu, *grads_gpu), (out, *grads)):
        np.testing.assert_allclose(cp.asnumpy(got), want, rtol=1e-4, atol=1e-4)
    cols = conv.im2col(cp.asarray(x), 3, 2, 2, 1)
    np.testing.assert_allclose(cp.asnumpy(conv.col2im(cols, x.shape, 3, 2, 2, 1)),
                               conv.col2im(conv.im2col(x, 3, 2, 2, 1), x.shape, 3, 2, 2, 1), rtol=1e-5)


# --- the arithmetic of one axis (lesson 04's explorer shows it) ---------------------------------


@pytest.mark.parametrize("n, k, s, p, out, leftover, gap, unread", [
    (7, 3, 2, 1, 4, 0, 0, 0),     # the lesson's starting point: covered
    (8, 3, 2, 1, 4, 1, 0, 0),     # one padded row left over, only zeros lost
    (7, 3, 3, 0, 2, 1, 0, 1),     # (7 - 3) mod 3 = 1: the last real row is never read
    (9, 2, 3, 0, 3, 1, 1, 3),     # windows 0-1, 3-4, 6-7: rows 2, 5 skipped and 8 left over
    (5, 5, 1, 0, 1, 0, 0, 0),     # a kernel as large as the input fits once
    (227, 11, 4, 0, 55, 0, 0, 0),
    (224, 11, 4, 0, 54, 1, 0, 1),
])
def test_arithmetic_by_hand(n, k, s, p, out, leftover, gap, unread):
    a = conv.arithmetic(n, k, s, p)
    assert (a.padded, a.fits, a.out, a.leftover, a.gap, a.unread_input) == (n + 2 * p, True, out, leftover, gap, unread)
    assert a.covers == (leftover == 0)


def test_arithmetic_agrees_with_conv_output_size():
    for n in range(1, 12):
        for k in range(1, 8):
            for s in range(1, 5):
                for p in range(0, 3):
                    a = conv.arithmetic(n, k, s, p)
                    assert a.fits == (k <= n + 2 * p)
                    if a.fits:
                        assert a.out == conv.conv_output_size(n, k, s, p)
                        assert a.leftover == (n + 2 * p - k) % s
                        starts = conv.window_starts(n, k, s, p)
                        assert len(starts) == a.out and starts[-1] + k + a.leftover == n + 2 * p


def test_kernel_that_does_not_fit():
    a = conv.arithmetic(3, 9, 1, 2)
    assert not a.fits and not a.covers and a.out == 0 and a.unread_input == 3
    assert conv.window_starts(3, 9, 1, 2) == []


@pytest.mark.parametrize("args, error, name", [
    ((0, 3, 1, 0), ValueError, "n"), ((5, 0, 1, 0), ValueError, "k"), ((5, 3, 0, 0), ValueError, "stride"),
    ((5, 3, 1, -1), ValueError, "pad"), ((5.0, 3, 1, 0), TypeError, "n"), ((5, 3, True, 0), TypeError, "stride"),
])
def test_arithmetic_bad_arguments(args, error, name):
    with pytest.raises(error, match=f"^{name} must be"):
        conv.arithmetic(*args)
