"""Lesson 01 "Empirical risk": the mean loss, a gradient by hand, the hinge loss, 1-D descent.

* ``empirical_risk(loss, predict, theta, X, Y) -> float``: the mean over the samples of
  ``loss(predict(X, theta), Y)``.
* ``squared_loss_grad(w, x, y) -> float``: dL/dw for L = 1/2 (y - w x)^2, that is x (w x - y).
* ``hinge_loss(score, y) -> ndarray``: max(0, 1 - y score) elementwise, y in {-1, +1}.
* ``gd_1d(xs, ys, w0, lr, epochs) -> ndarray``: online gradient descent on that loss, one
  update per sample in table order, returning w after every update.
"""

from __future__ import annotations

import numpy as np

from .. import examples
from .. import functional as F
from . import plain
from .core import Case, Draw, Mistake, exercise, normal, uniform


def _named(name, fn):
    """``fn`` renamed, so a case shows ``loss half_squared`` rather than ``loss <lambda>``, and
    entered in the catalogue under that name, so that the grader can send it to a kernel."""
    fn.__name__ = fn.__qualname__ = name
    return plain.catalogue(f"lesson01.{name}")(fn)


# --- empirical_risk -------------------------------------------------------------------------------

_half_squared = _named("half_squared", lambda Y_hat, Y: 0.5 * (Y - Y_hat) ** 2)
_absolute = _named("l1_loss", lambda Y_hat, Y: F.l1_loss(Y_hat, Y))
_zero_one = _named("zero_one_loss", lambda Y_hat, Y: F.zero_one_loss(Y_hat, Y))
_hinge = _named("hinge_loss", lambda score, Y: np.maximum(0.0, 1.0 - Y * score))
_linear = _named("linear", lambda X, theta: X @ theta)
_scaled = _named("w_times_x", lambda X, theta: theta * X)  # lesson 01's 1-D model y_hat = w x
_sign = _named("sign_of_linear", lambda X, theta: np.where(X @ theta >= 0, 1.0, -1.0))


def _labels(n, dtype=np.float64):
    return Draw(lambda rng: rng.choice([-1.0, 1.0], size=n).astype(dtype))


@exercise(
    "empirical_risk", points=1,
    cases=[
        Case(loss=_half_squared, predict=_linear, theta=normal(3), X=normal(6, 3), Y=normal(6)),
        Case("the four-sample table with w = 1: residuals +-0.1, each loss 0.005, mean 0.005",
             loss=_half_squared, predict=_scaled, theta=1.0, X=examples.TABLE_X.copy(),
             Y=examples.TABLE_Y.copy(), expected=0.005),
        Case("L1 loss", loss=_absolute, predict=_linear, theta=normal(2), X=normal(9, 2), Y=normal(9)),
        Case("0-1 loss of a sign classifier: the error rate", loss=_zero_one, predict=_sign,
             theta=normal(4), X=normal(10, 4), Y=_labels(10)),
        Case("hinge loss", loss=_hinge, predict=_linear, theta=normal(3, scale=0.5), X=normal(7, 3),
             Y=_labels(7)),
        Case("one sample", loss=_half_squared, predict=_linear, theta=normal(2), X=normal(1, 2),
             Y=normal(1)),
        Case("float32 data", loss=_half_squared, predict=_linear, theta=normal(3, dtype=np.float32),
             X=normal(8, 3, dtype=np.float32), Y=normal(8, dtype=np.float32)),
    ],
    mistakes=[
        Mistake("sum instead of mean: the empirical risk is (1/N) times the sum of the losses; "
                "use .mean() (or divide the sum by the number of samples)",
                lambda loss, predict, theta, X, Y: float(np.sum(loss(predict(X, theta), Y)))),
        Mistake("return one number, the mean of the per-sample losses, not the array of losses",
                lambda loss, predict, theta, X, Y: loss(predict(X, theta), Y)),
        Mistake("divide the sum of the losses by the number of samples N = len(Y), not by the number "
                "of parameters", lambda loss, predict, theta, X, Y:
                float(np.sum(loss(predict(X, theta), Y)) / np.size(theta))),
        Mistake("the risk is the mean of the losses of the samples, not the loss of the mean "
                "prediction: apply loss to every sample first, then average",
                lambda loss, predict, theta, X, Y:
                float(np.mean(loss(np.mean(predict(X, theta)), np.mean(Y))))),
    ],
)
def _empirical_risk(loss, predict, theta, X, Y):
    return float(np.mean(loss(predict(X, theta), Y)))


# --- squared_loss_grad ----------------------------------------------------------------------------

@exercise(
    "squared_loss_grad", points=1,
    cases=[
        Case("the table's first row, w = 0: x (w x - y) = 10 (0 - 10.1) = -101", w=0.0, x=10.0, y=10.1,
             expected=-101.0),
        Case("w = y / x fits the sample exactly: gradient 0", w=1.01, x=10.0, y=10.1),
        Case("the table's second row with w = 1.01", w=1.01, x=2.0, y=1.9),
        Case("a negative input", w=0.5, x=-3.0, y=2.0),
        Case("the prediction is too large, so the gradient is positive", w=2.0, x=1.5, y=1.0),
        Case("NumPy numbers", w=np.float64(-0.7), x=np.float64(2.5), y=np.float64(0.3)),
    ],
    mistakes=[
        Mistake("sign error: dL/dw = -(y - w x) x = x (w x - y); the minus sign comes from the inner "
                "derivative of (y - w x) with respect to w", lambda w, x, y: x * (y - w * x)),
        Mistake("missing x: the chain rule multiplies by the inner derivative d(w x)/dw = x",
                lambda w, x, y: w * x - y),
        Mistake("missing 1/2 handling: the 1/2 in L = 1/2 (y - w x)^2 cancels the 2 from the square, "
                "so there is no factor 2 in dL/dw = x (w x - y)", lambda w, x, y: 2 * x * (w * x - y)),
        Mistake("missing 1/2 handling: differentiating the square brings down a 2 that cancels the "
                "1/2, so the result has no factor 1/2", lambda w, x, y: 0.5 * x * (w * x - y)),
        Mistake("that is the derivative with respect to x; differentiate with respect to the weight w "
                "(the inner derivative is x, not w)", lambda w, x, y: w * (w * x - y)),
        Mistake("that is the loss itself; return its derivative dL/dw = x (w x - y)",
                lambda w, x, y: 0.5 * (y - w * x) ** 2),
    ],
)
def _squared_loss_grad(w, x, y):
    return float(x * (w * x - y))


# --- hinge_loss -------------------------------------------------------------------------------------


def _python_max(inputs, got, expected):
    """Detector: Python's built-in max on arrays raises 'truth value ... is ambiguous'."""
    if isinstance(got, ValueError) and "truth value" in str(got):
        return ("Python's max(0, array) compares the whole array with 0 and fails; "
                "np.maximum(0, ...) takes the maximum elementwise")
    return None


_HAND_SCORES = np.array([2.0, 0.5, -1.0, 1.0, -3.0])
_HAND_LABELS = np.array([1.0, 1.0, 1.0, -1.0, -1.0])  # -> 0, 0.5, 2, 2, 0


@exercise(
    "hinge_loss", points=1, implemented_by=("cnnlab.functional.hinge_loss",),
    cases=[
        Case(score=normal(8), y=_labels(8)),
        Case("worked out by hand: 0, 0.5, 2, 2, 0", score=_HAND_SCORES.copy(), y=_HAND_LABELS.copy(),
             expected=np.array([0.0, 0.5, 2.0, 2.0, 0.0])),
        Case("scores inside the margin, 0 < y score < 1", score=uniform(0.05, 0.95, (6,)),
             y=np.ones(6)),
        Case("labels as integers", score=normal(5, scale=2.0),
             y=Draw(lambda rng: 2 * rng.integers(0, 2, 5) - 1)),
        Case("scores and labels as (N, K) arrays", score=normal(3, 4), y=Draw(
            lambda rng: rng.choice([-1.0, 1.0], size=(3, 4)))),
        Case("every sample classified with margin: all losses 0", score=np.array([1.5, -2.0, 3.0]),
             y=np.array([1.0, -1.0, 1.0])),
        Case("float32 scores and labels stay float32", score=normal(6, dtype=np.float32),
             y=_labels(6, np.float32)),
    ],
    mistakes=[
        Mistake("missing max with 0: a sample beyond the margin (y score > 1) costs nothing, so take "
                "np.maximum(0, 1 - y * score)", lambda score, y: 1 - y * score),
        Mistake("wrong margin: the hinge is max(0, 1 - y score); without the 1 a correct but barely "
                "confident score costs nothing", lambda score, y: np.maximum(0, -y * score)),
        Mistake("wrong margin: the loss is max(0, 1 - y score), with a minus: y score >= 1 means "
                "correct with margin", lambda score, y: np.maximum(0, 1 + y * score)),
        Mistake("the label y multiplies the score: max(0, 1 - y * score)",
                lambda score, y: np.maximum(0, 1 - score)),
        Mistake("the hinge loss of each sample is max(0, 1 - y score), not a minimum",
                lambda score, y: np.minimum(0, 1 - y * score)),
        Mistake("return the loss of every sample (an array shaped like score), not their mean",
                lambda score, y: float(np.mean(np.maximum(0, 1 - y * score)))),
    ],
    detectors=[_python_max],
)
def _hinge_loss(score, y):
    return np.maximum(0.0, 1.0 - y * score)


# --- gd_1d ------------------------------------------------------------------------------------------

def _grad(w, x, y):
    return x * (w * x - y)


def _batch_updates(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        w = w - lr * np.mean([_grad(w, x, y) for x, y in zip(xs, ys)])
        path.append(w)
    return np.array(path)


def _per_epoch_record(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            w = w - lr * _grad(w, x, y)
        path.append(w)
    return np.array(path)


def _reversed_table(xs, ys, w0, lr, epochs):
    return examples.gd_path(np.asarray(xs)[::-1], np.asarray(ys)[::-1], w0, lr, epochs)


def _loops_swapped(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for x, y in zip(xs, ys):
        for _ in range(epochs):
            w = w - lr * _grad(w, x, y)
            path.append(w)
    return np.array(path)


def _recorded_before(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            path.append(w)
            w = w - lr * _grad(w, x, y)
    return np.array(path)


def _gradient_ascent(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            w = w + lr * _grad(w, x, y)
            path.append(w)
    return np.array(path)


def _stale_w(xs, ys, w0, lr, epochs):
    """Every update in an epoch uses the gradient at the epoch's starting w."""
    w, path = w0, []
    for _ in range(epochs):
        start = w
        for x, y in zip(xs, ys):
            w = w - lr * _grad(start, x, y)
            path.append(w)
    return np.array(path)


def _table_case(note, n, lr, epochs, w0=0.0):
    return Case(note, xs=uniform(-2.0, 2.0, (n,)), ys=uniform(-2.0, 2.0, (n,)), w0=w0, lr=lr,
                epochs=epochs)


# The path records the scalar weight w, which starts as the Python number w0 and is updated with
# the student's squared_loss_grad (a Python float): a float64 path is as right as a float32 one
# for a float32 table, so only the kind of dtype is checked here (the one exception to the rule).
@exercise(
    "gd_1d", points=2, implemented_by=("cnnlab.examples.gd_path",), dtype="kind",
    cases=[
        Case("the four-sample table, lr 0.01, one epoch: 1.01, 1.0076, 1.003169, 1.00413731",
             xs=examples.TABLE_X.copy(), ys=examples.TABLE_Y.copy(), w0=0.0, lr=0.01,
             epochs=1, expected=np.array([1.01, 1.0076, 1.003169, 1.00413731])),
        Case("the four-sample table, small steps, 3 epochs", xs=examples.TABLE_X.copy(),
             ys=examples.TABLE_Y.copy(), w0=0.0, lr=0.001, epochs=3),
        _table_case("a random table, 2 epochs", 6, 0.1, 2, w0=0.5),
        _table_case("one epoch", 5, 0.05, 1, w0=-1.0),
        Case("one sample, 4 epochs", xs=np.array([2.0]), ys=np.array([3.0]), w0=0.0, lr=0.1, epochs=4),
        Case("the table as Python lists", xs=[10.0, 2.0, 3.5, 1.0], ys=[10.1, 1.9, 3.4, 1.1], w0=2.0,
             lr=0.005, epochs=2),
        Case("a float32 table", xs=uniform(-2.0, 2.0, (5,), np.float32),
             ys=uniform(-2.0, 2.0, (5,), np.float32), w0=0.5, lr=0.1, epochs=2),
    ],
    mistakes=[
        Mistake("one update per epoch instead of per sample: online descent updates w after every "
                "sample (w -= lr * x * (w*x - y) inside the loop over the table)", _batch_updates),
        Mistake("one entry per epoch: record w after every per-sample update, so the result has "
                "epochs * len(xs) entries", _per_epoch_record),
        Mistake("wrong order: visit the samples in table order (first row first) in every epoch",
                _reversed_table),
        Mistake("wrong order: the loops are swapped; the outer loop runs over epochs and the inner "
                "one over the samples of the table", _loops_swapped),
        Mistake("w is recorded before its update: append w after updating it (the first entry is "
                "already the result of the first update, not w0)", _recorded_before),
        Mistake("descent goes against the gradient: w = w - lr * gradient, not plus", _gradient_ascent),
        Mistake("each update must use the gradient at the current w, just updated by the previous "
                "sample; you used the w from the start of the epoch", _stale_w),
    ],
)
def _gd_1d(xs, ys, w0, lr, epochs):
    return examples.gd_path(xs, ys, w0, lr, epochs, mode="online")
