"""Lesson 09 "Weight decay": one step with weight decay, and the L2 penalty with its gradients.

* ``weight_decay_step(w, grad, lr, decay) -> ndarray``: ``w - lr (grad + decay w)``: the slides'
  "add -a w" goes into the step direction (the negative gradient), so the gradient gains
  ``+decay w``.
* ``l2_penalty(weights, lam) -> (value, grads)``: ``value = lam/2 * sum_k ||W_k||^2`` over a list
  of arrays, ``grads = [lam * W_k]``.
* ``Momentum(params, lr, mu, weight_decay=0.0)`` (``weight_decay_optimizer``): lesson 08's
  optimiser with weight decay added to the gradient before the velocity update, as
  ``cnnlab.optim.SGD`` does. Checked like lesson 08's, by training (:mod:`.loops`).
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import optim
from . import loops
from .core import Case, Draw, Mistake, exercise, normal

# --- weight_decay_step ----------------------------------------------------------------------------


def _step_case(note, shape, lr, decay, dtype=np.float64):
    return Case(note, w=normal(*shape, dtype=dtype), grad=normal(*shape, dtype=dtype), lr=lr, decay=decay)


@exercise(
    "weight_decay_step", points=1, implemented_by=("cnnlab.optim.SGD",), dtype="exact",
    cases=[
        Case("by hand: (2, -1) - 0.1 ((1, 1) + 0.5 (2, -1)) = (1.8, -1.05)", w=np.array([2.0, -1.0]),
             grad=np.array([1.0, 1.0]), lr=0.1, decay=0.5, expected=np.array([1.8, -1.05])),
        _step_case("a weight matrix", (4, 3), 0.05, 0.01),
        Case("a zero gradient: the weights just shrink by (1 - lr decay)", w=normal(6), grad=np.zeros(6),
             lr=0.5, decay=0.2),
        _step_case("decay 0: plain SGD", (5,), 0.3, 0.0),
        _step_case("float32 weights stay float32", (3, 2), 0.01, 5e-4, dtype=np.float32),
        _step_case("a conv kernel (F, C, kh, kw)", (2, 3, 3, 3), 0.2, 0.05),
    ],
    mistakes=[
        Mistake("decay added to w, not to the gradient: the decay term is part of the step, so the learning "
                "rate multiplies it too: w - lr (grad + decay w)",
                lambda w, grad, lr, decay: w - lr * grad - decay * w),
        Mistake("sign: the slides add -a w to the step direction (minus the gradient), so the gradient gains "
                "+decay w and the weights shrink: w - lr (grad + decay w)",
                lambda w, grad, lr, decay: w - lr * (grad - decay * w)),
        Mistake("decay multiplies the weights, not the gradient: w - lr (grad + decay w)",
                lambda w, grad, lr, decay: w - lr * grad * (1 + decay)),
        Mistake("the gradient of lam/2 ||w||^2 is lam w, not 2 lam w: w - lr (grad + decay w)",
                lambda w, grad, lr, decay: w - lr * (grad + 2 * decay * w)),
        Mistake("decay the weights before the step, from the same w: w - lr grad - lr decay w (you shrank the "
                "result of the step instead)", lambda w, grad, lr, decay: (w - lr * grad) * (1 - lr * decay)),
    ],
)
def _weight_decay_step(w, grad, lr, decay):
    return w - lr * (grad + decay * w)


# --- l2_penalty -----------------------------------------------------------------------------------

def _weights(*shapes, dtype=np.float64):
    return Draw(lambda rng: [rng.standard_normal(shape).astype(dtype) for shape in shapes])


@exercise(
    "l2_penalty", points=2,
        implemented_by=("cnnlab.functional.l2_penalty",),
        rtol=1e-5, dtype="exact", output_names=("value", "grads"),
    cases=[
        Case("by hand: 0.1/2 (1 + 4 + 9) = 0.7; grads 0.1 W", weights=[np.array([1.0, 2.0]), np.array([[3.0]])],
             lam=0.1, expected=(0.7, [np.array([0.1, 0.2]), np.array([[0.3]])])),
        Case("a conv kernel and a linear layer", weights=_weights((4, 3, 3, 3), (10, 36)), lam=5e-4),
        Case("one weight matrix", weights=_weights((3, 5)), lam=0.2),
        Case("lam = 0: no penalty", weights=_weights((2, 2), (3,)), lam=0.0),
        Case("three layers", weights=_weights((8, 4), (8, 8), (2, 8)), lam=1.5),
        Case("float32 weights: float32 gradients", weights=_weights((6, 4), (4,), dtype=np.float32), lam=0.01),
    ],
    mistakes=[
        Mistake("missing 1/2: the penalty is lam/2 times the sum of squares (the 1/2 makes its gradient lam W)",
                lambda weights, lam: (lam * sum(float((w ** 2).sum()) for w in weights), [lam * w for w in weights])),
        Mistake("gradient 2 lam W: the 1/2 in lam/2 ||W||^2 cancels the 2 of the square, so the gradient is lam W",
                lambda weights, lam: (lam / 2 * sum(float((w ** 2).sum()) for w in weights),
                                      [2 * lam * w for w in weights])),
        Mistake("square the norm: ||W||^2 is the sum of the squares of the entries, without a square root",
                lambda weights, lam: (lam / 2 * sum(float(np.sqrt((w ** 2).sum())) for w in weights),
                                      [lam * w for w in weights])),
        Mistake("sum the squares over every entry (not the mean) and over every array of the list",
                lambda weights, lam: (lam / 2 * sum(float((w ** 2).mean()) for w in weights),
                                      [lam * w for w in weights])),
        Mistake("add up the penalty of every array in the list, not only the first",
                lambda weights, lam: (lam / 2 * float((weights[0] ** 2).sum()), [lam * w for w in weights])),
        Mistake("the penalty is lam/2 times the sum of the squares: square each entry before adding",
                lambda weights, lam: (lam / 2 * sum(float(w.sum()) for w in weights), [lam * w for w in weights])),
    ],
)
def _l2_penalty(weights, lam):
    return F.l2_penalty(weights, lam)


# --- weight_decay_optimizer -----------------------------------------------------------------------
#
# The student's Momentum(params, lr, mu, weight_decay=0.0) trains a fresh copy of a small digits
# network for one epoch in the check's own loop, against cnnlab.optim.SGD(momentum, weight_decay).

_AFTER_VELOCITY = ("decay after the velocity: weight decay belongs in the gradient, g = grad + weight_decay p, "
                   "BEFORE the velocity update v = mu v - lr g (as cnnlab.optim.SGD does); shrinking the "
                   "weights separately after the velocity step is another method (decoupled decay)")


class _DecayIgnored(loops.Velocity):
    def velocity(self, p, v):
        return self.mu * v - self.lr * p.grad


class _DecayAfterVelocity(_DecayIgnored):
    def move(self, p, v):
        return v - self.lr * self.weight_decay * p.data


class _DecayTheNewWeights(_DecayAfterVelocity):
    def move(self, p, v):
        return v - self.lr * self.weight_decay * (p.data + v)     # p += v, then p -= lr wd p


class _DecayOnVelocity(loops.Velocity):
    def velocity(self, p, v):
        return self.mu * v - self.lr * (p.grad + self.weight_decay * v)


class _DecayUphill(loops.Velocity):
    def velocity(self, p, v):
        return self.mu * v - self.lr * (p.grad - self.weight_decay * p.data)


class _DecayWithoutLr(loops.Velocity):
    def velocity(self, p, v):
        return self.mu * v - self.lr * p.grad - self.weight_decay * p.data


def _wd_case(note, n, batch_size, lr, mu, weight_decay, hidden=16, seed=0):
    return loops.optimizer_case(note, n, batch_size, lr, mu, hidden, seed, weight_decay=weight_decay)


@exercise(
    "weight_decay_optimizer", points=2, implemented_by=("cnnlab.optim.SGD",), call=loops.train_optimizer,
    cases=[
        _wd_case("150 digits in batches of 16", 150, 16, lr=0.05, mu=0.9, weight_decay=0.01),
        _wd_case("strong decay, no momentum", 80, 16, lr=0.1, mu=0.0, weight_decay=0.5, seed=1),
        _wd_case("a larger network, batches of 10", 120, 10, lr=0.02, mu=0.5, weight_decay=0.1, hidden=24,
                 seed=2),
        loops.optimizer_case("weight_decay left out: it defaults to 0.0", 100, 32, lr=0.05, mu=0.9, seed=3),
    ],
    mistakes=[
        Mistake(_AFTER_VELOCITY, _DecayAfterVelocity),
        Mistake(_AFTER_VELOCITY, _DecayTheNewWeights),
        Mistake("decay on the velocity: weight decay pulls the WEIGHTS towards zero, g = grad + weight_decay p "
                "(p the parameter's data), not grad + weight_decay v", _DecayOnVelocity),
        Mistake("sign: the slides add -a w to the step direction, so the gradient gains +weight_decay p: "
                "g = grad + weight_decay p", _DecayUphill),
        Mistake("the learning rate multiplies the decay too: v = mu v - lr (grad + weight_decay p)",
                _DecayWithoutLr),
        Mistake("weight_decay is ignored: add weight_decay * p.data to the gradient before the velocity update",
                _DecayIgnored),
    ],
)
def _weight_decay_optimizer(params, lr, mu, weight_decay=0.0):
    return optim.SGD(params, lr=lr, momentum=mu, weight_decay=weight_decay)
