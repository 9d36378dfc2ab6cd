"""Lesson 01's learning-rate explorer: the 1-D gradient descent it draws, and the widget glue."""

import numpy as np
import pytest

from cnnlab.widgets import learning_rate as lr

X, Y = lr.TABLE_X, lr.TABLE_Y


def test_risk_by_hand():
    # w = 1: residuals 0.1, -0.1, -0.1, 0.1, each loss 0.005
    assert lr.risk(1.0) == pytest.approx(0.005)
    # w = 0: mean of y^2 / 2 = (102.01 + 3.61 + 11.56 + 1.21) / 8
    assert lr.risk(0.0) == pytest.approx(118.39 / 8)
    grid = lr.risk(np.array([[0.0, 1.0]]))
    assert grid.shape == (1, 2) and grid[0, 1] == pytest.approx(0.005)


def test_minimizer_is_where_the_risk_is_least():
    w_star = lr.minimizer()
    assert w_star == pytest.approx(117.8 / 117.25)
    assert lr.risk(w_star) < min(lr.risk(w_star - 1e-3), lr.risk(w_star + 1e-3))


def test_online_path_matches_the_seeds_first_epoch():
    path = lr.gd_path(X, Y, w0=0.0, lr=0.01, epochs=1)
    # row 1: w = 0 + 0.01 * 10 * 10.1 = 1.01, which fits y = w x exactly; then the other rows
    np.testing.assert_allclose(path, [1.01, 1.0076, 1.003169, 1.00413731], rtol=1e-12)


def test_batch_path_uses_the_mean_gradient():
    path = lr.gd_path(X, Y, w0=0.0, lr=0.01, epochs=2, mode="batch")
    g0 = np.mean(X * (0.0 * X - Y))
    w1 = -0.01 * g0
    w2 = w1 - 0.01 * np.mean(X * (w1 * X - Y))
    np.testing.assert_allclose(path, [w1, w2])


def test_epoch_factor_predicts_convergence_and_divergence():
    assert lr.epoch_factor(0.01, X, "online") == pytest.approx(0.0)  # 1 - 0.01 * 100 = 0
    assert lr.epoch_factor(0.05, X, "batch") == pytest.approx(1 - 0.05 * 29.3125)
    assert abs(lr.epoch_factor(0.05, X, "online")) > 1
    diverging = lr.gd_path(X, Y, 0.0, 0.05, 30)
    assert abs(diverging[-1] - lr.minimizer()) > 100


def test_a_diverging_run_stops_before_overflow():
    path = lr.gd_path(X, Y, 0.0, 1.0, 1000, mode="batch")  # each step multiplies by 1 - 29.3
    assert path.size < 1000 and np.isfinite(path).all() and abs(path[-1]) > 1e6


@pytest.mark.parametrize("rate, mode, verdict", [
    (1e-4, "online", "too small"),
    (0.005, "online", "fine"),
    (0.015, "online", "jumps across the minimum"),
    (0.021, "online", "overshoots its own target"),
    (0.05, "online", "diverges"),
    (0.08, "batch", "diverges"),
])
def test_summarize_names_the_regime(rate, mode, verdict):
    assert verdict in lr.summarize(rate, mode)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="lr"):
        lr.gd_path(X, Y, 0.0, -0.1, 1)
    with pytest.raises(ValueError, match="epochs"):
        lr.gd_path(X, Y, 0.0, 0.1, 0)
    with pytest.raises(ValueError, match="mode"):
        lr.gd_path(X, Y, 0.0, 0.1, 1, mode="minibatch")
    with pytest.raises(ValueError, match="xs and ys"):
        lr.risk(1.0, [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="theta0"):
        lr.gd_path_2d((1.0, 2.0, 3.0))


def test_figures_have_their_panels():
    assert len(lr.figure(0.01).axes) == 2
    fig = lr.surface_figure(steps=5)
    assert fig.axes[0].get_xlabel() == "w (slope)"
    path = lr.gd_path_2d(steps=200)
    assert lr.risk_2d(*path[-1]) < lr.risk_2d(*path[0]) / 100


def test_explorer_redraws_when_a_control_moves():
    box = lr.explorer(lr=0.01)
    image, text = box.image.value, box.text.value
    assert "fine" in text and image[:4] == b"\x89PNG"
    box.controls["lr"].value = 0.05
    assert box.text.value != text and "diverges" in box.text.value
    assert box.image.value != image
    text = box.text.value
    box.controls["mode"].value = "batch"
    assert box.text.value != text and "batch" in box.text.value
    text = box.text.value
    box.controls["epochs"].value = 1
    assert box.text.value != text and "1 updates" in box.text.value
