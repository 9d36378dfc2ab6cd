"""Lesson 08 "Momentum": the velocity form, the exponential average, and the Sutskever schedule.

* ``momentum_step(w, v, grad, lr, mu) -> (w, v)``: ``v = mu v - lr grad; w = w + v``
  (Tomasi's notes; cnnlab.optim.SGD's update).
* ``ema_momentum_step(w, p, grad, lr, beta) -> (w, p)``: ``p = beta p + (1 - beta) grad;
  w = w - lr p`` (the slides' exponential averaging, written with beta = 1 - mu on the old
  average).
* ``sutskever_mu(t, mu_max) -> float``: ``min(mu_max, 1 - 1/2 / (floor(t / 250) + 1))``.

Both step functions return new arrays in the dtype of ``w``; changing an input in place is
reported by the check.

* ``Momentum(params, lr, mu)`` (``momentum_optimizer``): the student's optimiser class, with
  ``zero_grad()`` and ``step()`` in the velocity form, one velocity per parameter made at the
  first step. Checked by training a small float64 network on real digits in the check's own
  loop (:mod:`.loops`) against ``cnnlab.optim.SGD(momentum=mu)`` on the same batches.
"""

from __future__ import annotations

import math

import numpy as np

from .. import optim
from ..optim import sutskever_momentum
from . import loops
from .core import Case, Mistake, exercise, normal


# --- momentum_step ------------------------------------------------------------------------------

def _step_case(note, shape, lr, mu, dtype=np.float64):
    return Case(note, w=normal(*shape, dtype=dtype), v=normal(*shape, scale=0.3, dtype=dtype),
                grad=normal(*shape, dtype=dtype), lr=lr, mu=mu)


@exercise(
    "momentum_step", points=1, implemented_by=("cnnlab.optim.SGD",), dtype="exact", output_names=("w", "v"),
    cases=[
        Case("by hand: v = 0.9 (0.5, 0) - 0.1 (2, -4) = (0.25, 0.4); w = (1, -2) + v = (1.25, -1.6)",
             w=np.array([1.0, -2.0]), v=np.array([0.5, 0.0]), grad=np.array([2.0, -4.0]), lr=0.1, mu=0.9,
             expected=(np.array([1.25, -1.6]), np.array([0.25, 0.4]))),
        _step_case("a weight matrix", (3, 4), 0.05, 0.9),
        Case("the first step: v = 0, so v becomes -lr grad", w=normal(5), v=np.zeros(5), grad=normal(5),
             lr=0.2, mu=0.5),
        _step_case("mu = 0: plain gradient descent", (4,), 0.3, 0.0),
        _step_case("float32 weights stay float32", (2, 3), 0.01, 0.99, dtype=np.float32),
        _step_case("a conv kernel (F, C, kh, kw)", (2, 1, 3, 3), 0.5, 0.7),
    ],
    mistakes=[
        Mistake("velocity not updated before w: first v = mu v - lr grad, then w = w + v with the NEW v",
                lambda w, v, grad, lr, mu: (w + v, mu * v - lr * grad)),
        Mistake("sign: the velocity moves against the gradient, v = mu v - lr grad, and w = w + v",
                lambda w, v, grad, lr, mu: (w + (mu * v + lr * grad), mu * v + lr * grad)),
        Mistake("sign: in this form v points downhill, v = mu v - lr grad, and w = w + v (you kept -v as "
                "the velocity)", lambda w, v, grad, lr, mu: (w - (mu * v + lr * grad), mu * v + lr * grad)),
        Mistake("sign: v = mu v - lr grad already points downhill, so the step is w = w + v; w - v climbs "
                "back up the gradient", lambda w, v, grad, lr, mu: (w - (mu * v - lr * grad), mu * v - lr * grad)),
        Mistake("the learning rate is inside the velocity: v = mu v - lr grad, then w = w + v (no second lr)",
                lambda w, v, grad, lr, mu: (w + lr * (mu * v - grad), mu * v - grad)),
        Mistake("mu multiplies the old velocity and lr the gradient: v = mu v - lr grad",
                lambda w, v, grad, lr, mu: (w + (lr * v - mu * grad), lr * v - mu * grad)),
        Mistake("return the pair in the order (w, v)", lambda w, v, grad, lr, mu: (mu * v - lr * grad,
                                                                                 w + mu * v - lr * grad)),
    ],
)
def _momentum_step(w, v, grad, lr, mu):
    v = mu * v - lr * grad
    return w + v, v


# --- ema_momentum_step --------------------------------------------------------------------------

def _ema_case(note, shape, lr, beta, dtype=np.float64):
    return Case(note, w=normal(*shape, dtype=dtype), p=normal(*shape, scale=0.5, dtype=dtype),
                grad=normal(*shape, dtype=dtype), lr=lr, beta=beta)


@exercise(
    "ema_momentum_step", points=1, dtype="exact", output_names=("w", "p"),
    cases=[
        Case("by hand: p = 0.75 (2, 0) + 0.25 (4, -8) = (2.5, -2); w = (1, 1) - 0.1 p = (0.75, 1.2)",
             w=np.array([1.0, 1.0]), p=np.array([2.0, 0.0]), grad=np.array([4.0, -8.0]), lr=0.1, beta=0.75,
             expected=(np.array([0.75, 1.2]), np.array([2.5, -2.0]))),
        _ema_case("a weight matrix", (3, 4), 0.05, 0.9),
        Case("the first step: p = 0, so p becomes (1 - beta) grad", w=normal(5), p=np.zeros(5), grad=normal(5),
             lr=0.5, beta=0.8),
        _ema_case("beta = 0: plain gradient descent", (4,), 0.3, 0.0),
        _ema_case("float32 weights stay float32", (2, 3), 0.01, 0.99, dtype=np.float32),
        _ema_case("a conv kernel (F, C, kh, kw)", (2, 1, 3, 3), 0.2, 0.6),
    ],
    mistakes=[
        Mistake("beta weighs the OLD average here: p = beta p + (1 - beta) grad (the slides write mu = "
                "1 - beta and put it on the new gradient)",
                lambda w, p, grad, lr, beta: (w - lr * ((1 - beta) * p + beta * grad), (1 - beta) * p + beta * grad)),
        Mistake("update the average first, then step with the NEW p: w = w - lr p",
                lambda w, p, grad, lr, beta: (w - lr * p, beta * p + (1 - beta) * grad)),
        Mistake("the new gradient is weighted by (1 - beta): p = beta p + (1 - beta) grad, so that p is an "
                "average (without it, p is the velocity form's sum)",
                lambda w, p, grad, lr, beta: (w - lr * (beta * p + grad), beta * p + grad)),
        Mistake("sign: p averages the gradient, so the step goes against it: w = w - lr p",
                lambda w, p, grad, lr, beta: (w + lr * (beta * p + (1 - beta) * grad), beta * p + (1 - beta) * grad)),
        Mistake("return the pair in the order (w, p)",
                lambda w, p, grad, lr, beta: (beta * p + (1 - beta) * grad, w - lr * (beta * p + (1 - beta) * grad))),
    ],
)
def _ema_momentum_step(w, p, grad, lr, beta):
    p = beta * p + (1 - beta) * grad
    return w - lr * p, p


# --- sutskever_mu -------------------------------------------------------------------------------

def _zero_division(inputs, got, expected):
    """Detector: floor(t / 250) alone is 0 for the first 250 iterations."""
    if isinstance(got, ZeroDivisionError):
        return ("off-by-one in the floor: the denominator is floor(t / 250) + 1, which is 1 (not 0) for "
                "t = 0 .. 249")
    return None


def _mu_case(t, mu_max, expected=None):
    if expected is None:
        return Case(t=t, mu_max=mu_max)
    return Case(f"by hand: {expected:.6g}", t=t, mu_max=mu_max, expected=expected)


@exercise(
    "sutskever_mu", points=1, implemented_by=("cnnlab.optim.sutskever_momentum",), rtol=1e-9,
    cases=[
        _mu_case(0, 0.99, 0.5),
        _mu_case(249, 0.99, 0.5),
        _mu_case(250, 0.99, 0.75),
        _mu_case(499, 0.99),
        _mu_case(500, 0.99, 1 - 0.5 / 3),
        _mu_case(1999, 0.995, 1 - 0.5 / 8),
        _mu_case(10_000, 0.99, 1 - 0.5 / 41),
        Case("the cap: 1 - 1/2 / 401 = 0.99875 > mu_max", t=100_000, mu_max=0.99, expected=0.99),
        Case("a low cap binds from the start", t=3_000, mu_max=0.5, expected=0.5),
    ],
    mistakes=[
        Mistake("off-by-one in the floor: t counts from 0, so mu first changes at t = 250, not 249; use "
                "floor(t / 250), not floor((t + 1) / 250)",
                lambda t, mu_max: min(mu_max, 1 - 0.5 / ((t + 1) // 250 + 1))),
        Mistake("off-by-one in the floor: floor(t / 250) stays 0 for t = 0 .. 249 (ceil jumps to 1 at t = 1)",
                lambda t, mu_max: min(mu_max, 1 - 0.5 / (math.ceil(t / 250) + 1))),
        Mistake("off-by-one in the floor: the denominator is floor(t / 250) + 1, which is 1 for t = 0 .. 249",
                lambda t, mu_max: min(mu_max, 1 - 0.5 / (t // 250 + 2))),
        Mistake("the schedule is a staircase: floor(t / 250) (t // 250), not t / 250",
                lambda t, mu_max: min(mu_max, 1 - 0.5 / (t / 250 + 1))),
        Mistake("cap the result at mu_max: min(mu_max, ...)", lambda t, mu_max: 1 - 0.5 / (t // 250 + 1)),
        Mistake("min, not max: mu_max is a ceiling", lambda t, mu_max: max(mu_max, 1 - 0.5 / (t // 250 + 1))),
        Mistake("the schedule starts at 1/2: 1 - (1/2) / (floor(t / 250) + 1)",
                lambda t, mu_max: min(mu_max, 1 - 1 / (t // 250 + 1))),
    ],
    detectors=[_zero_division],
)
def _sutskever_mu(t, mu_max):
    return sutskever_momentum(t, mu_max)


# --- momentum_optimizer -------------------------------------------------------------------------
#
# The student's class Momentum(params, lr, mu) trains a fresh copy of a small digits network for
# one epoch in the check's own loop (loops.train_optimizer), against cnnlab.optim.SGD(momentum=mu).

_ONE_VELOCITY_EACH = ("one velocity shared by all parameters: every parameter needs its own velocity, shaped "
                      "like it (a list with one array per parameter, made at the first step); a velocity "
                      "shared by parameters of different shapes cannot even be added to them")


class _SharedVelocity(loops.Velocity):
    def step(self):
        for p in self.params:
            self.shared = self.mu * getattr(self, "shared", 0.0) - self.lr * p.grad
            p.data += self.shared


class _ResetVelocity(loops.Velocity):
    def velocity(self, p, v):
        return -self.lr * p.grad            # a fresh zero velocity on every step: plain SGD


class _UphillVelocity(loops.Velocity):
    def move(self, p, v):
        return -v


class _LazyZeroGrad(loops.Velocity):
    def zero_grad(self):
        pass


def _shape_error(inputs, got, expected):
    """Detector: a velocity shared by all parameters breaks on the first parameter of another shape."""
    if isinstance(got, ValueError) and "broadcast" in str(got):
        return _ONE_VELOCITY_EACH
    return None


@exercise(
    "momentum_optimizer", points=3, implemented_by=("cnnlab.optim.SGD",), call=loops.train_optimizer,
    cases=[
        loops.optimizer_case("150 digits in batches of 16", 150, 16, lr=0.05, mu=0.9),
        loops.optimizer_case("mu = 0: plain SGD", 80, 16, lr=0.1, mu=0.0, seed=1),
        loops.optimizer_case("a larger network, batches of 10", 120, 10, lr=0.02, mu=0.5, hidden=24, seed=2),
        loops.optimizer_case("heavy momentum, the last batch holds 4", 100, 32, lr=0.01, mu=0.99, seed=3),
    ],
    mistakes=[
        Mistake(_ONE_VELOCITY_EACH, _SharedVelocity),
        Mistake("velocity reset every step: the velocity must survive from one step to the next (keep it in "
                "self, one array per parameter, made once at the first step); a fresh zero velocity each step "
                "is plain SGD", _ResetVelocity),
        Mistake("sign: v = mu v - lr grad already points downhill, so the parameters move by +v (p.data += v)",
                _UphillVelocity),
        Mistake("zero_grad must set every parameter's gradient to zero (p.grad[...] = 0): backward adds into "
                "p.grad", _LazyZeroGrad),
    ],
    detectors=[_shape_error],
)
def _momentum_optimizer(params, lr, mu):
    return optim.SGD(params, lr=lr, momentum=mu)
