"""Lesson 10 "Learning-rate decay": the two schedules, as functions of the epoch.

* ``step_decay(lr0, epoch, step_size, gamma) -> float`` = lr0 gamma^floor(epoch / step_size),
  the slides' staircase (what ``cl.optim.StepLR`` does);
* ``exponential_decay(lr0, epoch, k) -> float`` = lr0 exp(-k epoch) (``cl.optim.ExponentialLR``
  with gamma = exp(-k)).

Epochs count from 0. A case calls the student's function once for every epoch of a list and
compares the whole schedule, so a failure names the first epoch where the rate is wrong (an
off-by-one shows up exactly at the epoch where the staircase steps).
"""

from __future__ import annotations

import math

import numpy as np

from .. import optim
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
