"""Lesson 11's dropout statistics, the ensemble of thinned nets, and the keep explorer."""

import numpy as np
import pytest
from fixtures.figures import content

from cnnlab.widgets import dropout as dw


def test_hidden_activations_are_relu_outputs_of_real_digits():
    h = dw.hidden_activations(n=50, units=40)
    assert h.shape == (50, 40) and (h >= 0).all()
    assert 0.3 < (h == 0).mean() < 0.7  # a ReLU on centred inputs zeroes about half
    np.testing.assert_array_equal(h, dw.hidden_activations(n=50, units=40))
    assert not np.array_equal(h, dw.hidden_activations(n=50, units=40, seed=1))
    with pytest.raises(ValueError, match="n must be at most"):
        dw.hidden_activations(n=10_000)


def test_mode_stats_by_hand_on_constant_activations():
    h = np.ones((100, 100))
    stats = dw.mode_stats(h, keep=0.5, inverted=True)
    # Inverted: kept units are 1 / 0.5 = 2, dropped 0; the test output is h itself.
    assert stats["test_mean"] == 1.0 and stats["test_std"] == 0.0
    assert stats["train_mean"] == pytest.approx(2 * stats["kept"])
    assert stats["train_std"] == pytest.approx(2 * np.sqrt(stats["kept"] * (1 - stats["kept"])))
    seeds = dw.mode_stats(h, keep=0.5, inverted=False)
    assert seeds["test_mean"] == 0.5 and seeds["train_mean"] == pytest.approx(seeds["kept"])


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
@pytest.mark.parametrize("inverted", [True, False])
def test_training_mean_matches_the_test_mean_in_expectation(keep, inverted):
    h = dw.hidden_activations()
    stats = dw.mode_stats(h, keep, inverted)
    assert stats["test_mean"] == pytest.approx(stats["expected_train_mean"], rel=1e-12)
    assert stats["train_mean"] == pytest.approx(stats["test_mean"], rel=0.05)
    assert stats["kept"] == pytest.approx(keep, abs=0.02)
    assert stats["train_std"] > stats["test_std"]  # the mask adds spread


def test_keep_one_changes_nothing():
    h = dw.hidden_activations(n=20)
    stats = dw.mode_stats(h, 1.0)
    assert stats["kept"] == 1.0 and stats["train_mean"] == stats["test_mean"]


def test_ensemble_of_one_unit_by_hand():
    # One input unit, h = 2, two classes with weights +1 and -1: the two thinned nets give
    # logits (0, 0) and (2, -2). Their geometric mean is the softmax of the mean logits (1, -1).
    result = dw.ensemble_average(np.array([[2.0]]), np.array([[1.0], [-1.0]]), np.zeros(2), 0.5)
    e = np.exp(2.0)
    np.testing.assert_allclose(result["scaled"], [[e / (e + 1), 1 / (e + 1)]], rtol=1e-12)
    np.testing.assert_allclose(result["geometric"], result["scaled"], rtol=1e-12)
    e4 = np.exp(4.0)
    np.testing.assert_allclose(result["arithmetic"], [[0.5 * (0.5 + e4 / (e4 + 1)), 0.5 * (0.5 + 1 / (e4 + 1))]],
                               rtol=1e-12)


def test_geometric_mean_of_all_thinned_nets_is_the_scaled_net():
    rng = np.random.default_rng(4)
    h, W, b = rng.random((5, 8)), rng.standard_normal((3, 8)), rng.standard_normal(3)
    for keep in (0.3, 0.5, 0.8):
        result = dw.ensemble_average(h, W, b, keep)
        np.testing.assert_allclose(result["geometric"], result["scaled"], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(result["arithmetic"].sum(axis=1), 1.0, rtol=1e-12)
        assert np.abs(result["arithmetic"] - result["scaled"]).max() > 1e-4  # only approximately equal


def test_ensemble_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="at most 16 units"):
        dw.ensemble_average(np.ones((1, 17)), np.ones((2, 17)), np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="W must have shape"):
        dw.ensemble_average(np.ones((1, 3)), np.ones((2, 4)), np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="keep"):
        dw.ensemble_average(np.ones((1, 3)), np.ones((2, 3)), np.zeros(2), 0.0)
    with pytest.raises(ValueError, match="h"):
        dw.ensemble_average(np.ones(3), np.ones((2, 3)), np.zeros(2), 0.5)


def test_histogram_figure():
    fig = dw.histogram_figure(dw.hidden_activations(n=40), keep=0.25, inverted=False)
    ax = fig.axes[0]
    assert "keep = 0.25" in ax.get_title() and "classic form" in ax.get_title()
    assert len(ax.get_legend().get_texts()) == 2


def test_draw_follows_the_controls():
    h = dw.hidden_activations(n=40, units=32)
    fig, text = dw.draw(0.5, True, h)
    assert text.startswith("keep 0.50, inverted")
    kept_more, kept_more_text = dw.draw(0.8, True, h)
    assert kept_more_text != text and kept_more_text.startswith("keep 0.80")
    assert content(kept_more) != content(fig)
    seeds = dw.draw(0.8, False, h)[1]
    assert seeds != kept_more_text and "classic form" in seeds
