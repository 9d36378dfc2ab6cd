"""Lesson 10 "Learning-rate decay": the two schedules, as functions of the epoch.

* ``step_decay(lr0, epoch, step_size, gamma) -> float`` = lr0 gamma^floor(epoch / step_size),
  the slides' staircase (what ``cl.optim.StepLR`` does);
* ``exponential_decay(lr0, epoch, k) -> float`` = lr0 exp(-k epoch) (``cl.optim.ExponentialLR``
  with gamma = exp(-k)).

Epochs count from 0. A case calls the student's function once for every epoch of a list and
compares the whole schedule, so a failure names the first epoch where the rate is wrong (an
off-by-one shows up exactly at the epoch where the staircase steps).

``train(model, X, y, epochs, batch_size, opt, schedule, rng) -> list`` (``train_with_schedule``)
is a whole training run: before each epoch ``opt.lr = schedule(epoch)``, then one pass over
``cl.data.batches(X, y, batch_size, rng)``. It is checked against ``cnnlab.train.fit`` with the
same schedule and the same seeded generator (:mod:`.loops` has the network and the data).
"""

from __future__ import annotations

import math

import numpy as np

from .. import data as _data
from .. import functional as F
from .. import optim, train
from . import loops, plain
from .compare import difference
from .core import Case, Mistake, exercise


def _over_epochs(fn, inputs):
    """Call ``fn`` with each epoch of ``inputs["epoch"]`` (a list) in turn, the other inputs as
    given; the result is the list of ``(epoch, rate)`` pairs."""
    names = list(inputs)
    pairs = []
    for epoch in inputs["epoch"]:
        args = [epoch if name == "epoch" else inputs[name] for name in names]
        pairs.append((int(epoch), fn(*args)))
    return pairs


def _compare_schedules(expected, got, inputs):
    """Compare two lists of ``(epoch, rate)`` pairs; the message names the first wrong epoch.

    The tolerance is relative only: rates of 1e-7 are common late in a schedule, and an
    absolute tolerance would let any tiny number pass there.
    """
    wrong = []
    for (epoch, rate), (_, value) in zip(expected, got):
        message = difference(rate, value, rtol=1e-9, atol=0.0)
        if message:
            wrong.append((epoch, message))
    if not wrong:
        return None
    epoch, message = wrong[0]
    more = f"; wrong at {len(wrong)} of {len(expected)} epochs" if len(wrong) > 1 else ""
    return f"epoch {epoch}: {message}{more}"


def _label(note, lr0, epochs, **rest):
    """``lr0 0.1, epochs 0-9, step_size 3, gamma 0.5; note`` (a range when the epochs are one)."""
    epochs = [int(e) for e in epochs]
    if epochs == list(range(epochs[0], epochs[0] + len(epochs))):
        shown = f"epochs {epochs[0]}-{epochs[-1]}"
    else:
        shown = "epochs " + ", ".join(str(e) for e in epochs)
    text = ", ".join([f"lr0 {lr0:g}", shown] + [f"{k} {v:g}" for k, v in rest.items()])
    return f"{text}; {note}" if note else text


# --- step_decay -------------------------------------------------------------------------------------

def _step_case(note, lr0, epochs, step_size, gamma, expected=None):
    options = {} if expected is None else {"expected": list(zip(epochs, expected))}
    return Case(label=_label(note, lr0, epochs, step_size=step_size, gamma=gamma),
                lr0=lr0, epoch=list(epochs), step_size=step_size, gamma=gamma, **options)


@exercise(
    "step_decay", points=1,
        implemented_by=("cnnlab.optim.StepLR",),
        call=_over_epochs, compare=_compare_schedules,
    cases=[
        _step_case("worked out by hand: three epochs at each rate, halving in between", 0.1,
                   range(10), 3, 0.5,
                   expected=[0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]),
        _step_case("the usual recipe: divide by 10 every 10 epochs", 0.01, range(30), 10, 0.1),
        _step_case("step_size 1: a decay after every epoch", 0.5, range(6), 1, 0.9),
        _step_case("gamma 1: no decay at all", 0.2, range(5), 2, 1.0),
        _step_case("epochs in any order: each call stands alone", 0.3, [7, 0, 20, 13, 6, 14], 7, 0.3),
        _step_case("NumPy integers as epochs", 0.05, list(np.arange(8, dtype=np.int64)), 4, 0.2),
        _step_case("late epochs: tiny rates must still be exact", 1e-3, [0, 99, 100, 250, 999, 1000], 100, 0.5),
    ],
    mistakes=[
        Mistake("decays one epoch early: epochs count from 0, so epochs 0 .. step_size-1 all use lr0; "
                "use floor(epoch / step_size), not (epoch + 1) // step_size",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma ** ((epoch + 1) // step_size)),
        Mistake("decays one epoch early (and already at epoch 1): ceil rounds up; the staircase needs "
                "floor(epoch / step_size), i.e. epoch // step_size",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma ** math.ceil(epoch / step_size)),
        Mistake("round() decays halfway through a step; the staircase needs floor(epoch / step_size), "
                "i.e. epoch // step_size",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma ** round(epoch / step_size)),
        Mistake("without the floor the rate shrinks a little every epoch (a smooth curve, not a "
                "staircase): use epoch // step_size, whole steps only",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma ** (epoch / step_size)),
        Mistake("decays one epoch late: epochs count from 0, not from 1; use epoch // step_size",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma ** (max(epoch - 1, 0) // step_size)),
        Mistake("gamma multiplies the rate once per step, so after k steps the factor is gamma ** k "
                "(a power), not gamma * k",
                lambda lr0, epoch, step_size, gamma: lr0 * gamma * (epoch // step_size)
                if epoch >= step_size else lr0),
        Mistake("multiply by lr0: the schedule scales the initial rate, lr0 * gamma ** (epoch // step_size)",
                lambda lr0, epoch, step_size, gamma: gamma ** (epoch // step_size)),
    ],
)
def _step_decay(lr0, epoch, step_size, gamma):
    return optim.StepLR(optim.SGD([_dummy()], lr=lr0), step_size, gamma).get_lr(int(epoch))


def _dummy():
    """A one-number parameter: the schedules are defined on an optimiser."""
    from ..nn import Parameter

    return Parameter(np.zeros(1))


# --- exponential_decay ------------------------------------------------------------------------------

def _exp_case(note, lr0, epochs, k, expected=None):
    options = {} if expected is None else {"expected": list(zip(epochs, expected))}
    return Case(label=_label(note, lr0, epochs, k=k), lr0=lr0, epoch=list(epochs), k=k, **options)


@exercise(
    "exponential_decay", points=1,
        implemented_by=("cnnlab.optim.ExponentialLR",),
        call=_over_epochs, compare=_compare_schedules,
    cases=[
        _exp_case("worked out by hand: k = ln 2 halves the rate every epoch", 0.2, range(5), math.log(2),
                  expected=[0.2, 0.1, 0.05, 0.025, 0.0125]),
        _exp_case("slow decay", 0.1, range(0, 41, 5), 0.05),
        _exp_case("fast decay", 0.5, range(6), 1.5),
        _exp_case("k = 0: a constant rate", 0.03, range(4), 0.0),
        _exp_case("epochs in any order", 2.0, [9, 0, 4, 1], 0.3),
        _exp_case("NumPy integers as epochs", 0.01, list(np.arange(5, dtype=np.int64)), 0.7),
    ],
    mistakes=[
        Mistake("the rate must shrink: lr0 * exp(-k * epoch), with a minus sign",
                lambda lr0, epoch, k: lr0 * math.exp(k * epoch)),
        Mistake("epochs count from 0: epoch 0 uses lr0 itself, so the exponent is -k * epoch, "
                "not -k * (epoch + 1)",
                lambda lr0, epoch, k: lr0 * math.exp(-k * (epoch + 1))),
        Mistake("(1 - k) ** epoch only approximates exp(-k epoch) when k is small; use "
                "np.exp(-k * epoch)", lambda lr0, epoch, k: lr0 * (1 - k) ** epoch),
        Mistake("k is a rate, not a time constant: exp(-k * epoch), not exp(-epoch / k)",
                lambda lr0, epoch, k: lr0 * math.exp(-epoch / k) if k else lr0),
        Mistake("k is not the factor per epoch: the factor is exp(-k) (ExponentialLR's gamma), "
                "so the rate is lr0 * exp(-k * epoch), not lr0 * k ** epoch",
                lambda lr0, epoch, k: lr0 * k ** epoch),
        Mistake("multiply by lr0: the schedule scales the initial rate, lr0 * exp(-k * epoch)",
                lambda lr0, epoch, k: math.exp(-k * epoch)),
    ],
)
def _exponential_decay(lr0, epoch, k):
    sgd = optim.SGD([_dummy()], lr=lr0)
    return optim.ExponentialLR(sgd, gamma=math.exp(-k)).get_lr(int(epoch))


# --- train_with_schedule ----------------------------------------------------------------------------
#
# The student's train(model, X, y, epochs, batch_size, opt, schedule, rng) runs a whole training
# with a learning-rate schedule; the reference is cnnlab.train.fit with the same schedule and the
# same seeded generator, so both draw the same minibatches from cl.data.batches.

@plain.catalogue("lesson10.step_schedule", factory=True)
def _step_schedule(lr0, step_size, gamma):
    """``schedule(epoch) -> lr0 gamma^floor(epoch / step_size)``, a function the student calls."""
    def step_schedule(epoch):
        return lr0 * gamma ** (epoch // step_size)
    return step_schedule


@plain.catalogue("lesson10.exponential_schedule", factory=True)
def _exponential_schedule(lr0, k):
    """``schedule(epoch) -> lr0 exp(-k epoch)``."""
    def exponential_schedule(epoch):
        return lr0 * math.exp(-k * epoch)
    return exponential_schedule


class _EpochSchedule:
    """``fit`` calls ``step()`` once after every epoch: set the rate of the next one."""

    def __init__(self, optimizer, schedule):
        self.optimizer, self.schedule, self.epoch = optimizer, schedule, 0
        optimizer.lr = schedule(0)

    def step(self):
        self.epoch += 1
        self.optimizer.lr = self.schedule(self.epoch)


def _call_train(fn, inputs):
    """Train a fresh copy of the case's network with ``fn`` and SGD made at the schedule's first
    rate; the epoch losses ``fn`` returned and the weights after training."""
    model, schedule = inputs["model"], inputs["schedule"]
    opt = optim.SGD(model.parameters(), lr=schedule(0), momentum=inputs["momentum"])
    losses = fn(model, inputs["X"], inputs["y"], inputs["epochs"], inputs["batch_size"], opt, schedule,
                inputs["rng"])
    return {"losses": losses, "weights": [p.data for p in model.parameters()]}


def _train_case(note, n, epochs, batch_size, schedule, momentum=0.0, hidden=16, seed=0):
    return Case(note, model=loops.net(hidden, seed), make=lambda rng: dict(zip(("X", "y"), loops.digits(rng, n))),
                epochs=epochs, batch_size=batch_size, schedule=schedule, momentum=momentum,
                rng=np.random.default_rng(seed))


def _epochs(model, X, y, epochs, batch_size, opt, rng, rate):
    """The student-style loop of the mistake models: ``rate(epoch, t)`` sets opt.lr before each
    batch (t counts the batches of the whole run from 0)."""
    losses, t = [], 0
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for Xb, yb in _data.batches(X, y, batch_size, rng):
            opt.lr = rate(epoch, t)
            opt.zero_grad()
            loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
            model.backward(dscores)
            opt.step()
            total, seen, t = total + loss * len(yb), seen + len(yb), t + 1
        losses.append(total / seen)
    return losses


def _per_batch(model, X, y, epochs, batch_size, opt, schedule, rng):
    return _epochs(model, X, y, epochs, batch_size, opt, rng, lambda epoch, t: schedule(t))


def _from_one(model, X, y, epochs, batch_size, opt, schedule, rng):
    return _epochs(model, X, y, epochs, batch_size, opt, rng, lambda epoch, t: schedule(epoch + 1))


def _never_set(model, X, y, epochs, batch_size, opt, schedule, rng):
    return _epochs(model, X, y, epochs, batch_size, opt, rng, lambda epoch, t: schedule(0))


def _step(lr0, step_size, gamma):
    return plain.named("lesson10.step_schedule", lr0, step_size, gamma)


@exercise(
    "train_with_schedule", points=3, implemented_by=("cnnlab.train.fit",), call=_call_train,
    output_names=("losses", "weights"),
    cases=[
        _train_case("step decay: lr 0.2 for 2 epochs, then 0.02", 120, 4, 20, _step(0.2, 2, 0.1)),
        _train_case("a decay after every epoch, with momentum; the last batch holds 10", 100, 3, 30,
                    _step(0.1, 1, 0.5), momentum=0.9, seed=1),
        _train_case("exponential decay", 90, 3, 16, plain.named("lesson10.exponential_schedule", 0.3, 0.7),
                    hidden=24, seed=2),
        _train_case("one epoch: only the first rate is used", 64, 1, 8, _step(0.05, 1, 0.1), seed=3),
    ],
    mistakes=[
        Mistake("schedule stepped per batch: the schedule is a function of the EPOCH; set opt.lr = "
                "schedule(epoch) once, before the epoch's first batch, not at every batch", _per_batch),
        Mistake("epoch counted from 1: epochs count from 0, so the first epoch uses schedule(0); loop over "
                "range(epochs) and set opt.lr = schedule(epoch)", _from_one),
        Mistake("the rate never changes: set opt.lr = schedule(epoch) before every epoch", _never_set),
    ],
)
def _train_with_schedule(model, X, y, epochs, batch_size, opt, schedule, rng):
    history = train.fit(model, opt, (X, y), epochs=epochs, batch_size=batch_size,
                        schedule=_EpochSchedule(opt, schedule), rng=rng, progress=False)
    return history.train_loss
