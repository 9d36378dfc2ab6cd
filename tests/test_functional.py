"""cnnlab.functional: linear, ReLU, flatten, dropout, the losses and the L2 penalty (conv and pooling
have their own files)."""

import numpy as np
import pytest

from cnnlab import functional as F
from cnnlab.gradcheck import check_backward, numerical_gradient


@pytest.fixture
def rng():
    return np.random.default_rng(1)


# --- linear -----------------------------------------------------------------------------------

def test_linear_forward_by_hand():
    x = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0], [0.5, -1.0], [2.0, 3.0]])  # (D_out=3, D_in=2)
    b = np.array([0.0, 1.0, -1.0])
    out, _ = F.linear_forward(x, W, b)
    np.testing.assert_allclose(out, [[1.0, 0.5 - 2.0 + 1.0, 2.0 + 6.0 - 1.0]])


def test_linear_backward_by_hand():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    W = np.array([[1.0, -1.0]])
    b = np.array([0.5])
    _, cache = F.linear_forward(x, W, b)
    dx, dW, db = F.linear_backward(np.array([[1.0], [2.0]]), cache)
    np.testing.assert_allclose(dx, [[1.0, -1.0], [2.0, -2.0]])
    np.testing.assert_allclose(dW, [[1 * 1 + 2 * 3, 1 * 2 + 2 * 4]])
    np.testing.assert_allclose(db, [3.0])


@pytest.mark.parametrize("n, d_in, d_out", [(1, 3, 2), (4, 5, 3), (7, 1, 6)])
def test_linear_backward_numerically(rng, n, d_in, d_out):
    x, W, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_out, d_in)), rng.standard_normal(d_out)
    errors = check_backward(F.linear_forward, F.linear_backward, [x, W, b])
    assert max(errors) < 1e-8


def test_linear_keeps_float32(rng):
    x = rng.standard_normal((2, 3)).astype(np.float32)
    W = rng.standard_normal((4, 3)).astype(np.float32)
    out, cache = F.linear_forward(x, W, np.zeros(4, np.float32))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.linear_backward(np.ones_like(out), cache))


@pytest.mark.parametrize("args, match", [
    ((np.ones(3), np.ones((2, 3)), np.ones(2)), r"x must be a 2-D array \(N, D_in\); got shape \(3,\)"),
    ((np.ones((1, 3)), np.ones((2, 4)), np.ones(2)), r"W must have shape \(D_out, 3\).*got \(2, 4\)"),
    ((np.ones((1, 3)), np.ones((2, 3)), np.ones(3)), r"b must have shape \(2,\).*got \(3,\)"),
    (([[1.0]], np.ones((1, 1)), np.ones(1)), r"x must be a NumPy or CuPy array; got list"),
])
def test_linear_bad_input(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        F.linear_forward(*args)


# --- relu and flatten -------------------------------------------------------------------------

def test_relu_by_hand():
    x = np.array([[-2.0, 0.0, 3.0]])
    out, cache = F.relu_forward(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 3.0]])
    # The gradient passes only where x > 0, and carries dout, not the activation.
    np.testing.assert_array_equal(F.relu_backward(np.array([[5.0, 5.0, 7.0]]), cache), [[0.0, 0.0, 7.0]])


def test_relu_keeps_what_maximum_with_the_scalar_zero_gives():
    # relu_forward compares with an array of zeros (cnnlab._scratch.zeros): the same values as
    # maximum(x, 0), the sign of -0.0, NaN and infinities included, in any dtype and layout, and
    # a new, writable array every time.
    special = np.array([-0.0, 0.0, np.nan, -np.inf, np.inf, -1.5, 2.5])
    for dtype in (np.float32, np.float64, np.int32):
        x = np.resize(special, (3, 7, 5)).astype(dtype, copy=False) if dtype != np.int32 else \
            np.arange(-50, 55, dtype=dtype).reshape(3, 7, 5)
        for view in (x, x.transpose(2, 0, 1), x[:, ::2]):
            out, _ = F.relu_forward(view)
            expected = np.maximum(view, 0)
            assert out.dtype == expected.dtype and out.flags.writeable
            np.testing.assert_array_equal(out, expected)
            assert np.array_equal(np.signbit(out), np.signbit(expected))
    first, _ = F.relu_forward(np.ones(4))
    first[...] = -7.0                                   # writing to one result ...
    np.testing.assert_array_equal(F.relu_forward(np.ones(4))[0], np.ones(4))   # ... leaves the next alone


@pytest.mark.parametrize("shape", [(3,), (2, 5), (2, 3, 4, 4)])
def test_relu_backward_numerically(rng, shape):
    x = rng.standard_normal(shape)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from the kink, where finite differences are wrong
    assert max(check_backward(F.relu_forward, F.relu_backward, [x])) < 1e-8


def test_flatten_round_trip(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    out, cache = F.flatten_forward(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out[1, :5], x[1, 0, 0, :])
    assert max(check_backward(F.flatten_forward, F.flatten_backward, [x])) < 1e-8


# --- dropout ----------------------------------------------------------------------------------

@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_keeps_the_expected_activation(inverted):
    x = np.ones((200, 500))
    train_out, _ = F.dropout_forward(x, keep=0.3, train=True, rng=0, inverted=inverted)
    test_out, _ = F.dropout_forward(x, keep=0.3, train=False, inverted=inverted)
    kept = train_out != 0
    assert abs(kept.mean() - 0.3) < 0.01  # keep is the probability of KEEPING a unit
    # Training and test activations agree in expectation under both conventions.
    assert abs(train_out.mean() - test_out.mean()) < 0.02
    expected_test = 1.0 if inverted else 0.3
    np.testing.assert_allclose(test_out, expected_test)
    np.testing.assert_allclose(train_out[kept], 1 / 0.3 if inverted else 1.0)


@pytest.mark.parametrize("inverted", [True, False])
@pytest.mark.parametrize("train", [True, False])
def test_dropout_backward_numerically(rng, inverted, train):
    x = rng.standard_normal((4, 6))

    def forward(x):  # the same seed each call: the mask is part of the function
        return F.dropout_forward(x, keep=0.6, train=train, rng=3, inverted=inverted)

    assert max(check_backward(forward, F.dropout_backward, [x])) < 1e-8


def test_dropout_backward_reuses_the_forward_mask():
    x = np.ones((3, 4))
    out, cache = F.dropout_forward(x, keep=0.5, rng=7)
    np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), cache), out)


def test_dropout_is_seeded_and_keeps_dtype():
    x = np.ones((5, 5), np.float32)
    a, _ = F.dropout_forward(x, 0.5, rng=11)
    b, _ = F.dropout_forward(x, 0.5, rng=np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5, float("nan")])
def test_dropout_bad_keep(keep):
    with pytest.raises(ValueError, match=r"keep must be in \(0, 1\]"):
        F.dropout_forward(np.ones(3), keep)


# --- softmax cross-entropy --------------------------------------------------------------------

def test_softmax_cross_entropy_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    y = np.array([0, 1])
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    # softmax rows: [1/2, 1/2] and [3/4, 1/4]; loss = -(log 1/2 + log 1/4) / 2
    assert loss == pytest.approx(-(np.log(0.5) + np.log(0.25)) / 2)
    np.testing.assert_allclose(dlogits, np.array([[0.5 - 1, 0.5], [0.75, 0.25 - 1]]) / 2)


def test_softmax_cross_entropy_gradient_numerically(rng):
    logits = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, 5)
    _, dlogits = F.softmax_cross_entropy(logits, y)
    numeric = numerical_gradient(lambda z: F.softmax_cross_entropy(z, y)[0], logits)
    np.testing.assert_allclose(dlogits, numeric, rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    loss, dlogits = F.softmax_cross_entropy(np.array([[1000.0, 0.0], [-1000.0, 1000.0]]), np.array([0, 0]))
    assert loss == pytest.approx(1000.0)  # first row ~0, second row 2000, mean 1000
    assert np.isfinite(dlogits).all()


@pytest.mark.parametrize("y, exc, match", [
    (np.array([0, 3]), ValueError, r"y must be class indices in 0\.\.2; got values from 0 to 3"),
    (np.array([-1, 0]), ValueError, r"y must be class indices in 0\.\.2; got values from -1 to 0"),
    (np.array([0.0, 1.0]), TypeError, r"y must hold integer class labels; got dtype float64"),
    (np.array([0, 1, 2]), ValueError, r"y must have one label per sample, shape \(2,\); got \(3,\)"),
])
def test_softmax_cross_entropy_bad_labels(y, exc, match):
    with pytest.raises(exc, match=match):
        F.softmax_cross_entropy(np.zeros((2, 3)), y)


def test_softmax_cross_entropy_rejects_nan():
    with pytest.raises(ValueError, match="logits contain NaN or inf.*learning rate"):
        F.softmax_cross_entropy(np.array([[np.nan, 0.0]]), np.array([0]))


# --- the losses of lesson 1 -------------------------------------------------------------------

def test_regression_and_classification_losses_by_hand():
    y_hat, y = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 0.5])
    np.testing.assert_array_equal(F.l1_loss(y_hat, y), [1.0, 3.0, 0.0])
    np.testing.assert_array_equal(F.l2_loss(y_hat, y), [1.0, 9.0, 0.0])
    np.testing.assert_array_equal(F.zero_one_loss(np.array([1, 2, 3]), np.array([1, 0, 3])), [0.0, 1.0, 0.0])
    # hinge: margins y*s = 2 (no loss), 0.5 (inside the margin), -1 (wrong side)
    np.testing.assert_allclose(F.hinge_loss(np.array([2.0, 0.5, 1.0]), np.array([1, 1, -1])), [0.0, 0.5, 2.0])


def test_losses_reject_bad_input():
    with pytest.raises(ValueError, match=r"y_hat and y must have the same shape; got \(2,\) and \(3,\)"):
        F.l2_loss(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="must be finite"):
        F.l1_loss(np.array([np.inf]), np.array([0.0]))
    with pytest.raises(ValueError, match=r"y must hold labels -1 or \+1"):
        F.hinge_loss(np.array([0.3]), np.array([0]))


# --- the L2 penalty of lesson 9 -----------------------------------------------------------------

def test_l2_penalty_by_hand():
    value, grads = F.l2_penalty([np.array([1.0, 2.0]), np.array([[3.0]])], 0.1)
    assert value == pytest.approx(0.7)  # 0.1 / 2 * (1 + 4 + 9)
    np.testing.assert_allclose(grads[0], [0.1, 0.2])
    np.testing.assert_allclose(grads[1], [[0.3]])
    assert F.l2_penalty([np.ones(3)], 0.0) == (0.0, [pytest.approx(np.zeros(3))])


def test_l2_penalty_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    _, grads = F.l2_penalty(weights, 0.7)
    for k in range(2):
        def value(w, k=k):
            return F.l2_penalty([w if i == k else weights[i] for i in range(2)], 0.7)[0]
        np.testing.assert_allclose(grads[k], numerical_gradient(value, weights[k]), rtol=1e-7)


def test_l2_penalty_keeps_dtype_and_rejects_bad_input():
    value, grads = F.l2_penalty([np.ones((2, 2), dtype=np.float32)], 0.5)
    assert isinstance(value, float) and value == 1.0 and grads[0].dtype == np.float32
    with pytest.raises(TypeError, match="weights must be a list"):
        F.l2_penalty(np.ones(3), 0.1)
    with pytest.raises(TypeError, match=r"weights\[1\]"):
        F.l2_penalty([np.ones(2), np.ones(2, dtype=np.int64)], 0.1)
    with pytest.raises(ValueError, match="lam"):
        F.l2_penalty([np.ones(2)], -1.0)
