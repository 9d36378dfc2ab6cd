"""Lesson 08's helpers: the quadratic valley, momentum paths in both forms, Nesterov, the explorer."""

import numpy as np
import pytest
from fixtures.figures import content

from cnnlab.gradcheck import numerical_gradient
from cnnlab.widgets import momentum as mom


def test_loss_and_gradient_by_hand():
    # E = 1/2 (0.5 * 4 + 25 * 1) = 13.5 at (2, -1); gradient (0.5 * 2, 25 * -1)
    assert mom.loss(2.0, -1.0) == pytest.approx(13.5)
    np.testing.assert_allclose(mom.gradient([2.0, -1.0]), [1.0, -25.0])
    w = np.array([0.3, -0.7])
    numeric = numerical_gradient(lambda v: mom.loss(v[0], v[1]), w)
    np.testing.assert_allclose(mom.gradient(w), numeric, rtol=1e-7)
    assert mom.loss(np.zeros((2, 3)), np.ones((2, 3))).shape == (2, 3)


def test_one_plain_step_by_hand():
    # at (-4.5, 1.2) the gradient is (-2.25, 30); lr 0.1 moves to (-4.275, -1.8)
    path = mom.sgd_path(0.1, mu=0.0, steps=1)
    np.testing.assert_allclose(path, [[-4.5, 1.2], [-4.275, -1.8]])


def test_plain_descent_scales_each_coordinate():
    path = mom.sgd_path(0.05, 0.0, steps=30)
    factors = 1 - 0.05 * np.array(mom.CURVATURES)
    np.testing.assert_allclose(path[-1], np.array(mom.W0) * factors ** 30, rtol=1e-12)


def test_two_momentum_steps_by_hand():
    # v1 = -0.1 g0 = (0.225, -3); w1 = (-4.275, -1.8)
    # g1 = (0.5 * -4.275, 25 * -1.8) = (-2.1375, -45); v2 = 0.5 v1 - 0.1 g1 = (0.32625, 3)
    path = mom.sgd_path(0.1, mu=0.5, steps=2)
    np.testing.assert_allclose(path[1], [-4.275, -1.8])
    np.testing.assert_allclose(path[2], [-4.275 + 0.32625, -1.8 + 3.0])


def test_averaging_form_equals_velocity_form_with_rescaled_rate():
    for lam, beta in [(0.1, 0.8), (0.05, 0.9), (0.3, 0.0)]:
        np.testing.assert_allclose(mom.ema_path(lam, beta, 80), mom.sgd_path(lam * (1 - beta), beta, 80),
                                   rtol=0, atol=1e-12)
    # without the rescaling they differ
    assert np.abs(mom.ema_path(0.1, 0.8, 20) - mom.sgd_path(0.1, 0.8, 20)).max() > 0.1


def test_nesterov_matches_the_lookahead_definition():
    # NAG: v' = mu v - lr grad(w + mu v); w' = w + v'. SGD(nesterov=True) stores u = w + mu v.
    lr, mu = 0.05, 0.9
    w, v = np.array(mom.W0), np.zeros(2)
    stored = [w + mu * v]
    for _ in range(25):
        v = mu * v - lr * mom.gradient(w + mu * v)
        w = w + v
        stored.append(w + mu * v)
    np.testing.assert_allclose(mom.sgd_path(lr, mu, 25, nesterov=True), stored, atol=1e-12)
    assert not np.allclose(mom.sgd_path(lr, mu, 25, nesterov=True), mom.sgd_path(lr, mu, 25))


def test_stability_limits():
    h_max = max(mom.CURVATURES)
    lr = 2.2 / h_max  # above plain descent's limit 2 / h_max, below momentum's 2 (1 + 0.5) / h_max
    plain = mom.sgd_path(lr, 0.0, steps=500)
    heavy = mom.sgd_path(lr, 0.5, steps=500)
    assert plain.shape[0] < 501 and np.abs(plain[-1]).max() > 1e4  # cut once it diverged
    assert heavy.shape == (501, 2) and np.abs(heavy[-1]).max() < 1e-6
    text = mom.summarize(lr, 0.5)
    assert "Plain descent: diverged" in text and "stable for lr < 0.08)" in text and "stable for lr < 0.12)" in text


def test_best_settings():
    best = mom.best_settings((1.0, 100.0))
    assert best["condition"] == 100
    assert best["gd_lr"] == pytest.approx(2 / 101) and best["gd_rate"] == pytest.approx(99 / 101)
    assert best["momentum_lr"] == pytest.approx(4 / 121) and best["momentum_mu"] == pytest.approx((9 / 11) ** 2)
    assert best["momentum_rate"] == pytest.approx(9 / 11)
    # the predicted rates are what the paths do
    b = mom.best_settings()
    dist = np.linalg.norm(mom.sgd_path(b["gd_lr"], 0.0, steps=120), axis=1)
    assert (dist[120] / dist[20]) ** (1 / 100) == pytest.approx(b["gd_rate"], rel=1e-3)
    dist = np.linalg.norm(mom.sgd_path(b["momentum_lr"], b["momentum_mu"], steps=300), axis=1)
    assert (dist[300] / dist[100]) ** (1 / 200) == pytest.approx(b["momentum_rate"], rel=0.01)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="lr"):
        mom.sgd_path(0.0)
    with pytest.raises(ValueError, match="momentum"):
        mom.sgd_path(0.1, mu=1.0)
    with pytest.raises(ValueError, match="steps"):
        mom.sgd_path(0.1, steps=-1)
    with pytest.raises(ValueError, match="w0"):
        mom.sgd_path(0.1, w0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="curvatures"):
        mom.loss(1.0, 1.0, curvatures=(1.0, -2.0))
    with pytest.raises(ValueError, match="beta"):
        mom.ema_path(0.1, 1.5)
    with pytest.raises(ValueError, match="t_max"):
        mom.schedule_figure(t_max=0)


def test_figures_have_their_panels():
    assert len(mom.figure(0.07, 0.6, steps=10).axes) == 2
    assert len(mom.figure(0.07, 0.6, steps=10, nesterov=True).axes) == 2
    fig = mom.schedule_figure(t_max=600, t_long=3000)
    left, right = fig.axes
    assert len(left.lines) == 3 and right.get_yscale() == "log"


def test_draw_follows_the_controls():
    fig, text = mom.draw(0.07, 0.6, 20)
    assert text.startswith("lr 0.07, mu 0.60") and len(fig.axes) == 2
    less, less_text = mom.draw(0.07, 0.2, 20)
    assert less_text.startswith("lr 0.07, mu 0.20") and content(less) != content(fig)
    faster, faster_text = mom.draw(0.1, 0.2, 20)
    assert faster_text != less_text and "Plain descent: diverging" in faster_text
    nesterov = mom.draw(0.1, 0.2, 20, nesterov=True)[0]
    assert content(nesterov) != content(faster)
    longer = mom.draw(0.1, 0.2, 40, nesterov=True)[1]
    assert "after 40 steps" in longer and longer != faster_text
