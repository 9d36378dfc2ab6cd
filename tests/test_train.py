"""cnnlab.train: fit (loss goes down, early stopping, divergence), evaluate, predict, confusion,
the recipe and fit_recipe."""

import dataclasses
import math

import numpy as np
import pytest

from cnnlab import backend, data, nn, optim, train
from cnnlab.widgets.training_knobs import cnn  # the capstone's network, which the recipe trains


@pytest.fixture(scope="module")
def digits():
    X, y = data.load("digits8x8")
    return X[:200], y[:200], X[200:300], y[200:300]


def mlp(seed=0, hidden=32):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, hidden, rng=seed), nn.ReLU(),
                         nn.Linear(hidden, 10, rng=seed + 1))


class RecordingSchedule:
    """A schedule stand-in: counts its steps and snapshots the model after every epoch."""

    def __init__(self, model):
        self.model, self.snapshots = model, []

    def step(self):
        self.snapshots.append(self.model.state_dict())


# --- fit --------------------------------------------------------------------------------------

def test_loss_goes_down_on_a_small_set(digits):
    X, y, Xv, yv = digits
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = train.fit(model, opt, (X, y), val=(Xv, yv), epochs=6, batch_size=20, rng=0, progress=False)
    assert history.epochs == 6
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert history.train_acc[-1] > 0.9 > history.train_acc[0]
    assert history.val_loss[-1] < history.val_loss[0]
    assert len(history.val_acc) == len(history.lr) == len(history.time) == 6
    assert all(t > 0 for t in history.time)
    assert history.best_epoch == int(np.argmin(history.val_loss)) and not history.stopped_early


def test_train_loss_and_accuracy_are_sample_weighted_means(digits):
    X, y, _, _ = digits
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.0)  # nothing changes: every batch sees the same model
    history = train.fit(model, opt, (X[:50], y[:50]), epochs=1, batch_size=16, rng=0, progress=False)
    loss, acc = train.evaluate(model, X[:50], y[:50])
    assert history.train_loss[0] == pytest.approx(loss, rel=1e-5)
    assert history.train_acc[0] == pytest.approx(acc)
    assert history.val_loss == [] and history.best_epoch is None


def test_fit_is_reproducible_with_a_seed(digits):
    X, y, _, _ = digits
    runs = []
    for _ in range(2):
        model = mlp(seed=3)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
        runs.append(train.fit(model, opt, (X, y), epochs=2, batch_size=32, rng=5, progress=False).train_loss)
    assert runs[0] == runs[1]


def test_schedule_steps_once_per_epoch_and_lr_is_recorded(digits):
    X, y, _, _ = digits
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = train.fit(model, opt, (X, y), epochs=5, batch_size=50, rng=0, progress=False,
                        schedule=optim.StepLR(opt, step_size=2, gamma=0.5))
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert opt.lr == pytest.approx(0.025)


def test_mode_is_restored_and_training_batches_use_training_mode(digits):
    X, y, Xv, yv = digits
    seen_modes = []

    class Spy(nn.Module):
        def forward(self, x):
            seen_modes.append(self.training)
            return x

        def backward(self, dout):
            return dout

    model = nn.Sequential(Spy(), mlp())
    model.eval()
    opt = optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, opt, (X[:40], y[:40]), val=(Xv[:10], yv[:10]), epochs=1, batch_size=20, progress=False)
    assert seen_modes == [True, True, False]   # two training batches, then validation in eval mode
    assert model.training is False             # left as it was before fit


def test_fit_spares_the_input_gradient_and_restores_the_flag(digits):
    X, y, _, _ = digits
    seen = []

    class Spy(nn.Module):
        def forward(self, x):
            return x

        def backward(self, dout):
            seen.append(self.needs_input_grad)
            return None if not self.needs_input_grad else dout

    model = nn.Sequential(Spy(), mlp())
    opt = optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, opt, (X[:40], y[:40]), epochs=1, batch_size=20, progress=False)
    assert seen == [False, False]              # fit never uses dL/dx: the first layer may skip it
    assert model.needs_input_grad is True      # and the model is left as it was
    model.needs_input_grad = False
    train.fit(model, opt, (X[:20], y[:20]), epochs=1, batch_size=20, progress=False)
    assert model.needs_input_grad is False


def test_augment_is_applied_to_training_batches_only(digits):
    X, y, Xv, yv = digits
    sizes = []

    def augment(xb, rng):
        assert isinstance(rng, np.random.Generator)
        sizes.append(xb.shape[0])
        return xb

    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.01)
    train.fit(model, opt, (X[:50], y[:50]), val=(Xv[:30], yv[:30]), epochs=2, batch_size=20,
              augment=augment, progress=False)
    assert sizes == [20, 20, 10] * 2


def test_augment_changes_what_the_model_sees():
    X = np.zeros((8, 1, 4, 4), np.float32)
    y = np.zeros(8, dtype=np.int64)
    inputs = []

    class Spy(nn.Module):
        def forward(self, x):
            inputs.append(x.copy())
            return x

        def backward(self, dout):
            return dout

    model = nn.Sequential(Spy(), nn.Flatten(), nn.Linear(16, 2, rng=0))
    opt = optim.SGD(model.parameters(), lr=0.0)
    train.fit(model, opt, (X, y), epochs=1, batch_size=8, progress=False, augment=lambda xb, rng: xb + 1)
    assert np.all(inputs[0] == 1)


def test_early_stopping_restores_the_best_weights_of_a_real_model(digits):
    # Validation labels are noise: as the model grows confident on the training set, the
    # validation loss rises, so early stopping must fire and roll the weights back.
    X, y, Xv, _ = digits
    noisy = np.random.default_rng(0).integers(0, 10, size=len(Xv))
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    recorder = RecordingSchedule(model)
    history = train.fit(model, opt, (X, y), val=(Xv, noisy), epochs=30, batch_size=20, rng=0,
                        progress=False, early_stopping=2, schedule=recorder)
    best = history.best_epoch
    assert history.stopped_early and history.epochs == best + 3 < 30
    assert len(recorder.snapshots) == history.epochs
    assert min(history.val_loss[best + 1:]) >= history.val_loss[best]
    final = model.state_dict()
    for name, value in recorder.snapshots[best].items():
        assert np.array_equal(final[name], value)
    assert not np.array_equal(final["1.weight"], recorder.snapshots[-1]["1.weight"])
    assert train.evaluate(model, Xv, noisy)[0] == pytest.approx(history.val_loss[best], rel=1e-6)


class Scripted(nn.Module):
    """Outputs logits [w, 0] for every sample, so the loss on label 0 is log(1 + exp(-w))."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.zeros(1))

    def forward(self, x):
        out = np.zeros((x.shape[0], 2))
        out[:, 0] = self.w.data[0]
        return out

    def backward(self, dout):
        self.w.grad += dout[:, 0].sum()
        return np.zeros((dout.shape[0], 1))


class ScriptedSteps:
    """An optimiser stand-in that sets w to the next value of a script on every step."""

    lr = 0.0

    def __init__(self, model, values):
        self.model, self.values = model, iter(values)

    def step(self):
        self.model.w.data[0] = next(self.values)


def _run_script(values, patience, epochs=None):
    model = Scripted()
    X, y = np.zeros((4, 1)), np.zeros(4, dtype=np.int64)
    history = train.fit(model, ScriptedSteps(model, values), (X, y), val=(X, y), epochs=epochs or len(values),
                        batch_size=4, early_stopping=patience, progress=False)
    return model, history


def test_early_stopping_scripted_losses():
    # val loss after each epoch falls while w rises: best at w=3 (epoch 2), then worse twice.
    model, history = _run_script([1.0, 2.0, 3.0, 2.5, 2.0, 4.0, 5.0], patience=2)
    assert history.best_epoch == 2 and history.epochs == 5 and history.stopped_early
    assert history.val_loss == pytest.approx([math.log1p(math.exp(-w)) for w in (1, 2, 3, 2.5, 2)])
    assert model.w.data[0] == 3.0  # restored


def test_early_stopping_a_tie_is_not_an_improvement():
    model, history = _run_script([1.0, 3.0, 3.0, 3.0, 9.0], patience=2)
    assert history.best_epoch == 1 and history.epochs == 4 and history.stopped_early


def test_early_stopping_patience_never_runs_out_restores_the_best():
    model, history = _run_script([1.0, 3.0, 2.0], patience=5)
    assert history.best_epoch == 1 and history.epochs == 3 and not history.stopped_early
    assert model.w.data[0] == 3.0


def test_divergence_is_caught_with_epoch_batch_and_learning_rate(digits):
    X, y, _, _ = digits
    # Two hidden layers: their weights multiply, so a huge step overflows to inf (a single
    # hidden layer's ReLUs just die and the loss stays finite, however large).
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32, rng=0), nn.ReLU(), nn.Linear(32, 32, rng=1),
                          nn.ReLU(), nn.Linear(32, 10, rng=2))
    opt = optim.SGD(model.parameters(), lr=1e6)
    expected = r"epoch 1, batch \d+.*learning rate \(lr=1e\+06\) is most likely too large"
    with pytest.raises(FloatingPointError, match=expected):
        train.fit(model, opt, (X, y), epochs=3, batch_size=20, rng=0, progress=False)
    assert model.training  # mode restored even after the error


def test_an_infinite_loss_is_reported_as_divergence():
    class HugeLogits(Scripted):
        def forward(self, x):
            out = np.zeros((x.shape[0], 2), np.float32)
            out[:, 0], out[:, 1] = -3e38, 3e38   # finite, but the loss overflows
            return out

    model = HugeLogits()
    X, y = np.zeros((4, 1)), np.zeros(4, dtype=np.int64)
    with pytest.raises(FloatingPointError, match=r"epoch 1, batch 1: the loss is not finite.*learning rate"):
        train.fit(model, ScriptedSteps(model, []), (X, y), progress=False)


def test_progress_bar_and_live_plot_outside_a_notebook(digits, capsys):
    X, y, Xv, yv = digits
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.05)
    train.fit(model, opt, (X[:40], y[:40]), val=(Xv[:20], yv[:20]), epochs=2, batch_size=20,
              progress=True, live_plot=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "4/4" in err and "val_acc=" in err


def test_history_repr_is_rounded():
    h = train.History(train_loss=[1.23456789], train_acc=[0.5], val_loss=[2.3456789], val_acc=[0.25],
                      lr=[0.1], time=[1.0], best_epoch=0)
    assert repr(h) == ("History(1 epochs, train_loss 1.23, train_acc 0.5, val_loss 2.35, val_acc 0.25, "
                       "best_epoch 0)")
    assert h.as_dict()["val_loss"] == [2.3456789]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"train": (np.zeros((4, 64), np.float32),)}, TypeError, r"train must be a pair \(X, y\)"),
    ({"train": (np.zeros((4, 64), np.float32), np.zeros(3, np.int64))}, ValueError,
     r"train y must have one label per sample of train X, shape \(4,\); got \(3,\)"),
    ({"train": (np.zeros((4, 64), np.float32), np.zeros(4))}, TypeError,
     "train y must hold integer class labels; got dtype float64"),
    ({"val": (np.zeros((2, 64), np.float32), np.zeros(3, np.int64))}, ValueError,
     r"val y must have one label per sample of val X"),
    ({"epochs": 0}, ValueError, "epochs must be an integer >= 1; got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
    ({"early_stopping": 2}, ValueError, r"early_stopping needs validation data: pass val="),
    ({"early_stopping": 0, "val": (np.zeros((2, 64), np.float32), np.zeros(2, np.int64))}, ValueError,
     "early_stopping must be an integer >= 1; got 0"),
    ({"augment": "crop"}, TypeError, "augment must be callable"),
    ({"schedule": 0.5}, TypeError, "schedule must have the methods step"),
])
def test_fit_bad_arguments(kwargs, error, match):
    model = mlp()
    args = {"train": (np.zeros((4, 64), np.float32), np.zeros(4, np.int64)), "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        train.fit(model, optim.SGD(model.parameters(), lr=0.1), **args)


def test_fit_rejects_objects_that_are_not_models():
    with pytest.raises(TypeError, match=r"model must have the methods .*list lacks forward"):
        train.fit([], None, (np.zeros((1, 1)), np.zeros(1, np.int64)))


# --- evaluate, predict, confusion --------------------------------------------------------------

def identity_model():
    """logits = x for 2-feature inputs (weight = identity, bias = 0), float64."""
    model = nn.Linear(2, 2, dtype=np.float64, rng=0)
    model.load_state_dict({"weight": np.eye(2), "bias": np.zeros(2)})
    return model


X3 = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 5.0]])
Y3 = np.array([0, 1, 0])


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_evaluate_hand_computed(batch_size):
    # cross-entropy of logits (a, b) against class 0 is log(1 + exp(b - a)).
    expected = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-1)) + math.log1p(math.exp(2))) / 3
    loss, acc = train.evaluate(identity_model(), X3, Y3, batch_size=batch_size)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert acc == pytest.approx(2 / 3)


@pytest.mark.parametrize("batch_size", [1, 2, 256])
def test_predict_hand_computed(batch_size):
    pred = train.predict(identity_model(), X3, batch_size=batch_size)
    assert pred.dtype == np.int64 and pred.tolist() == [0, 1, 1]


def test_evaluate_uses_eval_mode_and_restores_the_mode():
    model = nn.Sequential(nn.Dropout(keep=0.5, rng=0), identity_model())
    model.train()
    X = np.random.default_rng(0).normal(size=(50, 2))
    y = np.zeros(50, dtype=np.int64)
    first = train.evaluate(model, X, y)
    assert train.evaluate(model, X, y) == first   # dropout off: deterministic
    assert first == pytest.approx(train.evaluate(identity_model(), X, y))
    assert model.training is True
    assert train.predict(model, X).tolist() == train.predict(identity_model(), X).tolist()
    assert model.training is True


def test_evaluate_bad_arguments():
    with pytest.raises(ValueError, match=r"y must have one label per sample of X, shape \(3,\); got \(2,\)"):
        train.evaluate(identity_model(), X3, Y3[:2])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        train.predict(identity_model(), X3, batch_size=0)


def test_confusion_hand_computed():
    cm = train.confusion(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.dtype.kind == "i"
    assert train.confusion(np.array([1]), np.array([1]), 4).sum() == 1


def test_confusion_errors():
    with pytest.raises(ValueError, match=r"y_pred must be class indices in 0..2; got values from 0 to 3"):
        train.confusion(np.array([0, 1]), np.array([0, 3]), 3)
    with pytest.raises(ValueError, match=r"y_pred must have one label per sample, shape \(2,\); got \(1,\)"):
        train.confusion(np.array([0, 1]), np.array([0]), 3)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 1; got 0"):
        train.confusion(np.array([0]), np.array([0]), 0)


# --- the recipe and fast mode ----------------------------------------------------------------

@pytest.mark.parametrize("value, fast", [("1", True), ("yes", True), ("", False), ("0", False), (None, False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, fast):
    if value is None:
        monkeypatch.delenv("CNNLAB_FAST", raising=False)
    else:
        monkeypatch.setenv("CNNLAB_FAST", value)
    assert backend.fast_mode() is fast
    assert train.recipe().epochs == (1 if fast else train.RECIPE.epochs)


def test_recipe_replace_keeps_the_other_fields():
    changed = train.RECIPE.replace(epochs=1, lr=0.1)
    assert (changed.epochs, changed.lr, changed.momentum) == (1, 0.1, train.RECIPE.momentum)
    assert train.RECIPE.epochs == 5  # frozen: the original is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        train.RECIPE.lr = 1.0


# --- training with the recipe -----------------------------------------------------------------

@pytest.fixture(scope="module")
def split_digits():
    """digits8x8, split and mean-subtracted: a problem small enough to train in a second."""
    X, y = data.load("digits8x8")
    (Xtr, ytr), (Xva, yva) = data.split(X, y, (0.75, 0.25), rng=0)
    Xtr, Xva = data.normalize(Xtr, Xva)
    return (Xtr, ytr), (Xva, yva)


def test_fit_recipe_learns_and_decays_the_rate(split_digits):
    train_part, val = split_digits
    model = cnn((8,), image_size=8, rng=0)
    small = train.RECIPE.replace(epochs=3, step_size=1, gamma=0.5, crop_pad=1, patience=0)
    history = train.fit_recipe(model, train_part, val, small, rng=0)
    assert history.lr == [0.05, 0.025, 0.0125]
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.8


def test_fit_recipe_stops_early_only_with_validation_data(split_digits):
    train_part, val = split_digits
    history = train.fit_recipe(cnn((4,), image_size=8, rng=0), train_part, None,
                               train.RECIPE.replace(epochs=1), rng=0)
    assert history.val_loss == [] and history.best_epoch is None
    with pytest.raises(TypeError, match="recipe"):
        train.fit_recipe(cnn((4,), image_size=8), train_part, val, {"lr": 0.1})
