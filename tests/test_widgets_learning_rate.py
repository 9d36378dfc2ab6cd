"""Lesson 01's learning-rate explorer: what one run of the 1-D gradient descent means, its figures
and what the explorer draws (the problem itself is tested in test_examples.py)."""

import pytest
from fixtures.figures import content

from cnnlab.widgets import learning_rate as lr

X, Y = lr.TABLE_X, lr.TABLE_Y


def test_epoch_factor_predicts_convergence_and_divergence():
    assert lr.epoch_factor(0.01, X, "online") == pytest.approx(0.0)  # 1 - 0.01 * 100 = 0
    assert lr.epoch_factor(0.05, X, "batch") == pytest.approx(1 - 0.05 * 29.3125)
    assert abs(lr.epoch_factor(0.05, X, "online")) > 1
    diverging = lr.gd_path(X, Y, 0.0, 0.05, 30)
    assert abs(diverging[-1] - lr.minimizer()) > 100


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
    with pytest.raises(ValueError, match="theta0"):
        lr.gd_path_2d((1.0, 2.0, 3.0))


def test_figures_have_their_panels():
    assert len(lr.figure(0.01).axes) == 2
    fig = lr.surface_figure(steps=5)
    assert fig.axes[0].get_xlabel() == "w (slope)"
    path = lr.gd_path_2d(steps=200)
    assert lr.risk_2d(*path[-1]) < lr.risk_2d(*path[0]) / 100


def test_draw_follows_the_controls():
    fig, text = lr.draw(0.01, "online", 5)
    assert text.startswith("<b>lr 0.01, online</b>: ") and "fine" in text and len(fig.axes) == 2
    moved, moved_text = lr.draw(0.05, "online", 5)
    assert moved_text != text and "diverges" in moved_text
    assert content(moved) != content(fig)
    batch = lr.draw(0.05, "batch", 5)[1]
    assert batch != moved_text and "batch" in batch
    one = lr.draw(0.05, "batch", 1)[1]
    assert one != batch and "1 updates" in one
