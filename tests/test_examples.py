"""cnnlab.examples: the seeds' 1-D table, its risk, its minimum and gradient descent on it."""

import numpy as np
import pytest

from cnnlab import examples as ex

X, Y = ex.TABLE_X, ex.TABLE_Y


def test_risk_by_hand():
    # w = 1: residuals 0.1, -0.1, -0.1, 0.1, each loss 0.005
    assert ex.risk(1.0) == pytest.approx(0.005)
    # w = 0: mean of y^2 / 2 = (102.01 + 3.61 + 11.56 + 1.21) / 8
    assert ex.risk(0.0) == pytest.approx(118.39 / 8)
    grid = ex.risk(np.array([[0.0, 1.0]]))
    assert grid.shape == (1, 2) and grid[0, 1] == pytest.approx(0.005)


def test_minimizer_is_where_the_risk_is_least():
    w_star = ex.minimizer()
    assert w_star == pytest.approx(117.8 / 117.25)
    assert ex.risk(w_star) < min(ex.risk(w_star - 1e-3), ex.risk(w_star + 1e-3))


def test_online_path_matches_the_seeds_first_epoch():
    path = ex.gd_path(X, Y, w0=0.0, lr=0.01, epochs=1)
    # row 1: w = 0 + 0.01 * 10 * 10.1 = 1.01, which fits y = w x exactly; then the other rows
    np.testing.assert_allclose(path, [1.01, 1.0076, 1.003169, 1.00413731], rtol=1e-12)


def test_batch_path_uses_the_mean_gradient():
    path = ex.gd_path(X, Y, w0=0.0, lr=0.01, epochs=2, mode="batch")
    g0 = np.mean(X * (0.0 * X - Y))
    w1 = -0.01 * g0
    w2 = w1 - 0.01 * np.mean(X * (w1 * X - Y))
    np.testing.assert_allclose(path, [w1, w2])


def test_a_diverging_run_stops_before_overflow():
    path = ex.gd_path(X, Y, 0.0, 1.0, 1000, mode="batch")  # each step multiplies by 1 - 29.3
    assert path.size < 1000 and np.isfinite(path).all() and abs(path[-1]) > 1e6


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="lr"):
        ex.gd_path(X, Y, 0.0, -0.1, 1)
    with pytest.raises(ValueError, match="epochs"):
        ex.gd_path(X, Y, 0.0, 0.1, 0)
    with pytest.raises(ValueError, match="mode"):
        ex.gd_path(X, Y, 0.0, 0.1, 1, mode="minibatch")
    with pytest.raises(ValueError, match="xs and ys"):
        ex.risk(1.0, [1.0, 2.0], [1.0])
