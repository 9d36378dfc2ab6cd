"""Lesson 09's helpers: weight norms, the overfitting runs, the decay explorer (the L2 penalty
itself is tested with cnnlab.functional)."""

import numpy as np
import pytest
from fixtures.figures import content

import cnnlab as cl
from cnnlab.widgets import weight_decay as wd


def test_weight_decay_in_sgd_equals_the_penalised_gradient():
    def net():
        return cl.nn.Sequential(cl.nn.Linear(4, 5, rng=0), cl.nn.ReLU(), cl.nn.Linear(5, 3, rng=1)).astype(np.float64)

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    a, b = net(), net()
    opt_a = cl.optim.SGD(a.parameters(), lr=0.1, momentum=0.5, weight_decay=0.2)
    opt_b = cl.optim.SGD(b.parameters(), lr=0.1, momentum=0.5)
    for _ in range(5):
        for model in (a, b):
            model.zero_grad()
            model.backward(cl.F.softmax_cross_entropy(model(X), y)[1])
        for p, g in zip(b.parameters(), wd.penalty([p.data for p in b.parameters()], 0.2)[1]):
            p.grad += g
        opt_a.step()
        opt_b.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=0, atol=1e-14)


def test_weight_norm_leaves_biases_out():
    model = cl.nn.Sequential(cl.nn.Linear(2, 2), cl.nn.ReLU(), cl.nn.Linear(2, 1))
    model[0].weight.data[...] = [[1.0, 2.0], [2.0, 0.0]]
    model[0].bias.data[...] = 100.0
    model[2].weight.data[...] = [[4.0, 0.0]]
    assert wd.weight_norm(model) == pytest.approx(5.0)  # sqrt(1 + 4 + 4 + 16)


def test_overfit_data_is_small_stratified_and_disjoint():
    (X_train, y_train), (X_val, y_val) = wd.overfit_data()
    assert X_train.shape == (200, 784) and X_val.shape == (300, 784) and X_train.dtype == np.float64
    assert np.bincount(y_train, minlength=10).tolist() == [20] * 10
    rows = {row.tobytes() for row in X_train}
    assert not any(row.tobytes() in rows for row in X_val)
    with pytest.raises(ValueError, match="n_train"):
        wd.overfit_data(n_train=4000, n_val=1500)


def test_train_run_records_every_epoch_and_is_cached():
    run = wd.train_run(0.0, epochs=2)
    assert all(len(run[key]) == 2 for key in ("train_loss", "val_loss", "train_acc", "val_acc", "weight_norm"))
    assert run["train_loss"][1] < run["train_loss"][0] and run["best_epoch"] in (0, 1)
    assert wd.train_run(0.0, epochs=2) is run
    strong = wd.train_run(0.3, epochs=2)
    assert strong["weight_norm"][-1] < run["weight_norm"][-1] < 1.5 * run["start_norm"]
    assert strong["start_norm"] == pytest.approx(run["start_norm"])  # the same initial weights
    with pytest.raises(ValueError, match="decay"):
        wd.train_run(-0.1)
    with pytest.raises(ValueError, match="epochs"):
        wd.train_run(0.1, epochs=0)


def _fake_run(decay, train_loss, val_loss):
    n = len(val_loss)
    return {"decay": decay, "train_loss": [1.0] * (n - 1) + [train_loss], "val_loss": val_loss,
            "train_acc": [0.5] * n, "val_acc": [0.8] * n, "weight_norm": [3.0] * n,
            "start_norm": 2.0, "best_epoch": int(np.argmin(val_loss))}


@pytest.mark.parametrize("train_loss, val_loss, verdict", [
    (0.5, [1.0, 0.9, 0.95], "underfitting"),
    (0.01, [1.0, 0.5, 0.6], "overfitting"),
    (0.01, [1.0, 0.5, 0.51], "neither"),
    (0.2, [1.0, 0.5, 0.6], "neither"),
])
def test_summarize_names_the_regime(train_loss, val_loss, verdict):
    text = wd.summarize(_fake_run(0.01, train_loss, val_loss))
    assert f"Verdict: {verdict}" in text and text.startswith("decay 0.01: after 3 epochs")


def test_figure_has_three_panels():
    fig = wd.figure([_fake_run(0.0, 0.01, [1.0, 0.5, 0.6]), _fake_run(0.1, 0.5, [1.0, 0.9, 0.95])])
    assert len(fig.axes) == 3 and fig.axes[0].get_yscale() == "log"
    assert len(wd.figure(_fake_run(0.0, 0.01, [1.0, 0.5, 0.6])).axes) == 3


def test_draw_trains_and_shows_the_run_beside_the_one_without_decay():
    fig, text = wd.draw(0.0, epochs=2)
    assert text.startswith("decay 0: after 2 epochs")
    decayed, decayed_text = wd.draw(0.3, epochs=2)
    assert decayed_text.startswith("decay 0.3: after 2 epochs") and content(decayed) != content(fig)
    assert [t.get_text() for t in decayed.axes[0].get_legend().get_texts()] == ["decay 0", "decay 0.3"]


def test_explorer_offers_only_its_decays():
    with pytest.raises(ValueError, match="decay"):
        wd.explorer(decay=0.05)
