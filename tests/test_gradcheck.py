"""cnnlab.gradcheck: numerical gradients must be right, and the checks must catch wrong backwards."""

import numpy as np
import pytest

from cnnlab.gradcheck import check_backward, check_directional, numerical_gradient, rel_error


def test_numerical_gradient_of_known_functions():
    x = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), x), 2 * x, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), rtol=1e-8)


def test_numerical_gradient_restores_x():
    x = np.arange(6.0).reshape(2, 3)
    before = x.copy()
    numerical_gradient(lambda v: float((v ** 3).sum()), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_needs_floats():
    with pytest.raises(TypeError, match="x must hold floating-point numbers; got dtype int64"):
        numerical_gradient(lambda v: v.sum(), np.arange(3))


def test_rel_error():
    assert rel_error(np.array([1.0]), np.array([1.0])) == 0.0
    assert rel_error(np.array([1.0, 0.0]), np.array([3.0, 0.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"a and b must have the same shape"):
        rel_error(np.ones(2), np.ones(3))


def _square_forward(x, w):
    return x * w, (x, w)


def test_check_backward_accepts_the_right_gradient():
    rng = np.random.default_rng(0)
    errors = check_backward(_square_forward, lambda d, c: (d * c[1], d * c[0]),
                            [rng.standard_normal(4), rng.standard_normal(4)])
    assert len(errors) == 2 and max(errors) < 1e-8


@pytest.mark.parametrize("check", [check_backward, check_directional])
def test_checks_reject_a_wrong_gradient(check):
    rng = np.random.default_rng(0)
    wrong = lambda d, c: (d * c[1], 2 * d * c[0])  # noqa: E731  (dw off by a factor 2)
    with pytest.raises(AssertionError, match="off"):
        check(_square_forward, wrong, [rng.standard_normal(4), rng.standard_normal(4)])


def test_directional_check_on_a_big_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 16, 16))
    errors = check_directional(lambda v: (np.tanh(v), v), lambda d, v: d * (1 - np.tanh(v) ** 2), [x])
    assert max(errors) < 1e-7


def test_check_backward_counts_gradients():
    with pytest.raises(ValueError, match="backward returned 1 gradients; expected 2"):
        check_backward(_square_forward, lambda d, c: d, [np.ones(2), np.ones(2)])
