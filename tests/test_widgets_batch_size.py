"""Lesson 07's helpers: minibatch gradients and their variance, SGD on the line problem, the explorer."""

import numpy as np
import pytest
from fixtures.figures import content

import cnnlab as cl
from cnnlab.gradcheck import numerical_gradient
from cnnlab.widgets import batch_size as bs


def _tiny_model(seed=0, hidden=None):
    layers = [cl.nn.Linear(3, 4, rng=seed), cl.nn.ReLU(), cl.nn.Linear(4, 3, rng=seed + 1)] if hidden else \
        [cl.nn.Linear(3, 3, rng=seed)]
    return cl.nn.Sequential(*layers).astype(np.float64)


def _tiny_data(n=12, seed=0):
    gen = np.random.default_rng(seed)
    return gen.standard_normal((n, 3)), gen.integers(0, 3, n)


# --- gradients ---------------------------------------------------------------------------------

def test_flat_gradient_by_hand():
    # zero weights: softmax gives (1/2, 1/2); for x = (1, 2), y = 0 the score gradient is
    # (-1/2, 1/2), so dW = [[-1/2, -1], [1/2, 1]] and db = (-1/2, 1/2), weight first
    model = cl.nn.Sequential(cl.nn.Linear(2, 2)).astype(np.float64)
    for p in model.parameters():
        p.data[...] = 0.0
    g = bs.flat_gradient(model, np.array([[1.0, 2.0]]), np.array([0]))
    np.testing.assert_allclose(g, [-0.5, -1.0, 0.5, 1.0, -0.5, 0.5])


def test_flat_gradient_matches_numerical_gradient():
    model = _tiny_model(hidden=True)
    X, y = _tiny_data(5)
    g = bs.flat_gradient(model, X, y)
    weight = model[0].weight.data

    def loss(_):
        return cl.F.softmax_cross_entropy(model(X), y)[0]

    numeric = numerical_gradient(loss, weight)  # perturbs the weight array in place, then restores it
    np.testing.assert_allclose(g[:weight.size], numeric.ravel(), rtol=1e-6, atol=1e-8)
    assert g.shape == (model.num_parameters(),) and g.dtype == np.float64


def test_full_gradient_is_the_mean_of_per_sample_gradients():
    model = _tiny_model(hidden=True)
    X, y = _tiny_data(9)
    each = bs.per_sample_gradients(model, X, y)
    assert each.shape == (9, model.num_parameters())
    np.testing.assert_allclose(each.mean(axis=0), bs.flat_gradient(model, X, y), atol=1e-14)


def test_variance_of_two_samples_by_hand():
    # N = 2: sigma^2 = mean of ||g_n - g||^2 = ||g_1 - g_2||^2 / 4; a batch of 2 is the whole set
    model = _tiny_model()
    X, y = _tiny_data(2, seed=4)
    g1, g2 = bs.per_sample_gradients(model, X, y)
    result = bs.gradient_variance(model, X, y, [1, 2], draws=10, rng=0)
    assert result["sigma2"] == pytest.approx(((g1 - g2) ** 2).sum() / 4)
    assert result["measured"][0] == pytest.approx(result["sigma2"])  # every single sample is off by the same
    assert result["measured"][1] == pytest.approx(0.0, abs=1e-25)
    np.testing.assert_allclose(result["theory_exact"], [result["sigma2"], 0.0])


def test_measured_variance_follows_one_over_batch_size():
    model = _tiny_model(hidden=True)
    X, y = _tiny_data(60, seed=1)
    result = bs.gradient_variance(model, X, y, [1, 4, 16], draws=400, rng=0)
    ratio = result["measured"] / result["theory_exact"]
    assert np.all(np.abs(ratio - 1) < 0.25), ratio
    np.testing.assert_allclose(result["theory"] * result["batch_sizes"], result["sigma2"])
    assert list(result["batch_sizes"]) == [1, 4, 16]


def test_minibatch_gradient_is_the_mean_of_its_rows():
    # gradient_variance averages rows of the per-sample matrix instead of running the model
    model = _tiny_model(hidden=True)
    X, y = _tiny_data(10, seed=3)
    each = bs.per_sample_gradients(model, X, y)
    idx = np.array([7, 2, 5, 0])
    np.testing.assert_allclose(each[idx].mean(axis=0), bs.flat_gradient(model, X[idx], y[idx]), atol=1e-14)
    given = bs.gradient_variance(model, X, y, [1, 3], draws=20, rng=4, per_sample=each)
    computed = bs.gradient_variance(model, X, y, [1, 3], draws=20, rng=4)
    np.testing.assert_allclose(given["measured"], computed["measured"])


def test_gradient_variance_rejects_bad_arguments():
    model = _tiny_model()
    X, y = _tiny_data(6)
    with pytest.raises(ValueError, match="batch_sizes"):
        bs.gradient_variance(model, X, y, [1, 7])
    with pytest.raises(ValueError, match="batch_sizes"):
        bs.gradient_variance(model, X, y, [])
    with pytest.raises(ValueError, match="draws"):
        bs.gradient_variance(model, X, y, [1], draws=1)
    with pytest.raises(ValueError, match="y must have one label per sample"):
        bs.gradient_variance(model, X, y[:5], [1])
    with pytest.raises(ValueError, match="per_sample"):
        bs.gradient_variance(model, X, y, [1], per_sample=np.zeros((5, model.num_parameters())))
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        bs.flat_gradient(model, X, y.astype(float))


# --- the line problem -------------------------------------------------------------------------

def test_line_risk_and_minimizer():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0])  # exactly y = 2 x + 1
    assert bs.line_risk(2.0, 1.0, x, y) == 0.0
    # w = 0, b = 0: mean of y^2 / 2 = (1 + 9 + 25) / 6
    assert bs.line_risk(0.0, 0.0, x, y) == pytest.approx(35 / 6)
    np.testing.assert_allclose(bs.line_minimizer(x, y), [2.0, 1.0])
    grid = bs.line_risk(np.zeros((2, 3)), np.ones((2, 3)), x, y)
    assert grid.shape == (2, 3)
    with pytest.raises(ValueError, match="x and y"):
        bs.line_risk(1.0, 1.0, x, y[:2])


def test_full_batch_path_is_gradient_descent_by_hand():
    x, y = np.array([1.0, 2.0]), np.array([1.0, 1.0])
    path = bs.sgd_path(x, y, batch_size=2, lr=0.5, epochs=1, theta0=(0.0, 0.0))
    # at (0, 0): residuals (-1, -1); gradient (mean(r x), mean(r)) = (-1.5, -1)
    np.testing.assert_allclose(path, [[0.0, 0.0], [0.75, 0.5]])


def test_sgd_path_length_and_reproducibility():
    x, y = bs.line_data(10)
    path = bs.sgd_path(x, y, batch_size=3, lr=0.05, epochs=2, rng=0)
    assert path.shape == (2 * 4 + 1, 2)
    np.testing.assert_array_equal(path, bs.sgd_path(x, y, 3, 0.05, 2, rng=0))
    assert not np.array_equal(path, bs.sgd_path(x, y, 3, 0.05, 2, rng=1))
    # online steps follow the samples in the order cl.data.batches draws them
    order = np.random.default_rng(5).permutation(10)
    theta = np.array([-1.0, 2.5])
    for n in order:
        residual = theta[0] * x[n] + theta[1] - y[n]
        theta = theta - 0.05 * np.array([residual * x[n], residual])
    np.testing.assert_allclose(bs.sgd_path(x, y, 1, 0.05, 1, rng=5)[-1], theta)


def test_sgd_path_stops_when_diverging():
    x, y = bs.line_data()
    path = bs.sgd_path(x, y, batch_size=64, lr=5.0, epochs=200)
    assert path.shape[0] < 201 and np.abs(path[-1]).max() > 1e6 and np.isfinite(path).all()
    assert "diverged" in bs.summarize(64, 5.0, epochs=200)


def test_sgd_path_rejects_bad_arguments():
    x, y = bs.line_data(8)
    with pytest.raises(ValueError, match="batch_size"):
        bs.sgd_path(x, y, 9, 0.1)
    with pytest.raises(ValueError, match="batch_size"):
        bs.sgd_path(x, y, 0, 0.1)
    with pytest.raises(ValueError, match="lr"):
        bs.sgd_path(x, y, 2, 0.0)
    with pytest.raises(ValueError, match="epochs"):
        bs.sgd_path(x, y, 2, 0.1, epochs=0)
    with pytest.raises(ValueError, match="theta0"):
        bs.sgd_path(x, y, 2, 0.1, theta0=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="n"):
        bs.line_data(1)


def test_summary_and_figures():
    text = bs.summarize(8, 0.1, epochs=3)
    assert text.startswith("|B| = 8: 8 updates per epoch, 24 in all")
    assert len(bs.figure(4, 0.1, epochs=2).axes) == 2
    model = _tiny_model()
    X, y = _tiny_data(8)
    assert len(bs.variance_figure(bs.gradient_variance(model, X, y, [1, 2], draws=3, rng=0)).axes) == 1


# --- the widget -------------------------------------------------------------------------------

def test_draw_follows_the_controls():
    fig, text = bs.draw(8, 0.1, 2)
    assert text.startswith("|B| = 8") and len(fig.axes) == 2
    online, online_text = bs.draw(1, 0.1, 2)
    assert online_text.startswith("|B| = 1: 64 updates per epoch") and content(online) != content(fig)
    longer = bs.draw(1, 0.1, 3)[1]
    assert "192 in all" in longer and longer != online_text
    assert bs.draw(1, 0.01, 3)[1] != longer


def test_explorer_rejects_an_unknown_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        bs.explorer(batch_size=5)
