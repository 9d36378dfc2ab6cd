"""Stochastic gradient descent with momentum and weight decay, and schedules (``cl.optim``).

The update is the velocity form of Tomasi's notes (Training Convolutional Neural Nets), with weight decay added to the
gradient (the slides' "add -a w" to the step direction is the same thing)::

    g = grad + weight_decay * w
    v = momentum * v - lr * g
    w = w + v

With ``momentum=0`` this is plain gradient descent ``w -= lr * (grad + weight_decay * w)``.
The slides' exponential-averaging form ``p = beta p + (1 - beta) g; w -= lr' p`` is the same
method: with ``v = -lr' p`` it reads ``v = beta v - lr' (1 - beta) g``, i.e. momentum = beta
and lr = lr' (1 - beta).

Typical use, once per minibatch::

    opt = cl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    sched = cl.optim.StepLR(opt, step_size=5, gamma=0.1)
    for epoch in range(epochs):
        for xb, yb in batches:
            opt.zero_grad(); ...; model.backward(dlogits); opt.step()
        sched.step()
"""

from __future__ import annotations

import difflib

import numpy as np

from . import _checks, backend

__all__ = ["SGD", "StepLR", "ExponentialLR", "MomentumSchedule", "sutskever_momentum"]

_HYPER = ("lr", "momentum", "weight_decay", "nesterov")


def _unit_interval(value, name: str) -> float:
    """A momentum coefficient in [0, 1): at 1 the velocity would never forget a gradient."""
    value = _checks.real(value, name)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {value!r}")
    return value


def _parameter_list(params) -> list:
    from .nn import Module, Parameter  # here, not at the top: nn imports functional and more

    if isinstance(params, Module):
        raise TypeError(f"params must be a list of Parameters; got a {type(params).__name__} module: "
                        "pass model.parameters()")
    if isinstance(params, Parameter):
        raise TypeError("params must be a list of Parameters; got a single Parameter: pass [p]")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"params must be a list of Parameters such as model.parameters(); "
                        f"got {type(params).__name__}") from None
    if not params:
        raise ValueError("params is empty: the optimiser has nothing to update "
                         "(did the model's parameters() return [], or was the iterator already used?)")
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"params[{i}] must be a cnnlab.nn.Parameter; got {type(p).__name__}")
        if id(p) in seen:
            raise ValueError(f"params[{i}] appears twice in params; it would be updated twice per step")
        seen.add(id(p))
    return params


class SGD:
    """Minibatch SGD with (Nesterov) momentum and weight decay, updating parameters in place.

    Args:
        params: the Parameters to update, e.g. ``model.parameters()`` (a list or an iterator).
        lr: learning rate alpha >= 0 (a settable attribute: schedules change it).
        momentum: mu in [0, 1) (settable: :class:`MomentumSchedule` changes it).
        weight_decay: coefficient a >= 0 added to the gradient as ``a * w`` (L2 regularisation
            with lambda = a on the loss ``L + a/2 ||w||^2``).
        nesterov: Nesterov's accelerated gradient, see :meth:`step`; needs momentum > 0.

    Any other keyword raises a TypeError naming it, so a misspelt ``momentun=0.9`` cannot be
    ignored silently.
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, **unknown):
        for name in unknown:
            close = difflib.get_close_matches(name, _HYPER, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"unknown hyper-parameter {name!r}; expected one of {', '.join(_HYPER)}{hint}")
        self.params = _parameter_list(params)
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov must be True or False; got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0; got momentum=0.0")
        self.nesterov = nesterov
        # One velocity per parameter, created at the first step (shaped and typed like the data).
        self.velocities = [None] * len(self.params)

    # Validated on every assignment, so a schedule (or a student) cannot set a bad value.
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _checks.real(value, "lr", low=0.0)

    @property
    def momentum(self) -> float:
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        self._momentum = _unit_interval(value, "momentum")

    @property
    def weight_decay(self) -> float:
        return self._weight_decay

    @weight_decay.setter
    def weight_decay(self, value):
        self._weight_decay = _checks.real(value, "weight_decay", low=0.0)

    def zero_grad(self) -> None:
        """Set the gradient of every parameter to zero, in place."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """One update of every parameter from its current ``.grad``, in place.

        For each parameter w with gradient grad (mu = momentum, alpha = lr, a = weight_decay)::

            g = grad + a w
            v = mu v - alpha g
            w = w + v                          (classical momentum)
            w = w + mu v - alpha g             (nesterov=True)

        The Nesterov line is Sutskever et al.'s accelerated gradient written for the lookahead
        point: NAG takes v' = mu v - alpha grad E(w + mu v), w' = w + v'. Keeping u = w + mu v
        in the parameters instead of w gives u' = w' + mu v' = u + mu v' - alpha grad E(u), so
        the gradient we are handed (computed at the stored parameters) is the one NAG needs.
        """
        mu, lr, decay = self.momentum, self.lr, self.weight_decay
        for i, p in enumerate(self.params):
            w = p.data
            g = p.grad + decay * w if decay else p.grad
            v = self.velocities[i]
            if v is None:
                v = self.velocities[i] = backend.get_array_module(w).zeros_like(w)
            v *= mu
            v -= lr * g
            if self.nesterov:
                w += mu * v - lr * g
            else:
                w += v

    def state_dict(self) -> dict:
        """Hyper-parameters and NumPy copies of the velocities (None before the first step)."""
        return {
            "lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
            "velocities": [None if v is None else np.array(backend.asnumpy(v), copy=True)
                           for v in self.velocities],
        }

    def load_state_dict(self, state) -> None:
        """Restore what :meth:`state_dict` returned, for the same list of parameters."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from SGD.state_dict(); got {type(state).__name__}")
        expected = set(_HYPER) | {"velocities"}
        if set(state) != expected:
            raise ValueError(f"state must have the keys {sorted(expected)}; got {sorted(state)}")
        velocities = state["velocities"]
        if not isinstance(velocities, (list, tuple)) or len(velocities) != len(self.params):
            got = len(velocities) if isinstance(velocities, (list, tuple)) else type(velocities).__name__
            raise ValueError(f"state['velocities'] must be a list of {len(self.params)} arrays "
                             f"(one per parameter); got {got}")
        for i, (v, p) in enumerate(zip(velocities, self.params)):
            if v is not None and tuple(np.shape(v)) != p.shape:
                raise ValueError(f"state['velocities'][{i}] must have shape {p.shape}; got {tuple(np.shape(v))}")
        if not isinstance(state["nesterov"], bool):
            raise TypeError(f"state['nesterov'] must be True or False; got {state['nesterov']!r}")
        # Validate every hyper-parameter before changing anything.
        _checks.real(state["lr"], "lr", low=0.0)
        _unit_interval(state["momentum"], "momentum")
        _checks.real(state["weight_decay"], "weight_decay", low=0.0)
        self.lr, self.momentum = state["lr"], state["momentum"]
        self.weight_decay, self.nesterov = state["weight_decay"], state["nesterov"]
        self.velocities = [
            None if v is None else backend.get_array_module(p.data).asarray(v, dtype=p.data.dtype).copy()
            for v, p in zip(velocities, self.params)
        ]

    def __repr__(self) -> str:
        return (f"SGD(lr={self.lr:g}, momentum={self.momentum:g}, weight_decay={self.weight_decay:g}, "
                f"nesterov={self.nesterov}, {len(self.params)} parameters)")


# --- schedules ----------------------------------------------------------------------------------

def _optimizer(optimizer):
    if not hasattr(optimizer, "lr"):
        raise TypeError(f"optimizer must be an optimiser with an lr attribute, such as SGD; "
                        f"got {type(optimizer).__name__}")
    return optimizer


def _positive(value, name: str) -> float:
    return _checks.real(value, name, low=0.0, low_open=True)


class _LRSchedule:
    """Sets ``optimizer.lr = get_lr(epoch)``; :meth:`step` once at the end of every epoch.

    ``lr0`` is the optimiser's learning rate when the schedule is made; ``last_epoch`` counts
    the epochs stepped so far, starting from 0.
    """

    def __init__(self, optimizer):
        self.optimizer = _optimizer(optimizer)
        self.lr0 = float(optimizer.lr)
        self.last_epoch = 0

    def get_lr(self, epoch: int) -> float:
        """The learning rate for ``epoch`` (0-based); changes nothing."""
        epoch = _checks.integer(epoch, "epoch", minimum=0)
        return self._lr_at(epoch)

    def _lr_at(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> float:
        """Advance one epoch, set the optimiser's learning rate for it and return that rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.get_lr(self.last_epoch)
        return self.optimizer.lr


class StepLR(_LRSchedule):
    """Step decay, the slides' staircase: ``lr = lr0 * gamma ** floor(epoch / step_size)``.

    Epochs count from 0, so epochs 0 .. step_size-1 use lr0 and epoch step_size is the first
    to use lr0 * gamma.

    Args:
        optimizer: an optimiser with a settable ``lr`` (e.g. :class:`SGD`).
        step_size: epochs between decays, an int >= 1.
        gamma: factor applied at each decay, > 0 (0.1 is typical).
    """

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = _checks.integer(step_size, "step_size", minimum=1)
        self.gamma = _positive(gamma, "gamma")

    def _lr_at(self, epoch: int) -> float:
        return self.lr0 * self.gamma ** (epoch // self.step_size)

    def __repr__(self) -> str:
        return (f"StepLR(lr0={self.lr0:g}, step_size={self.step_size}, gamma={self.gamma:g}, "
                f"last_epoch={self.last_epoch})")


class ExponentialLR(_LRSchedule):
    """Exponential decay ``lr = lr0 * gamma ** epoch``, epochs from 0.

    The lesson writes ``lr0 * exp(-k * epoch)``: that is ``gamma = exp(-k)``. A gamma above 1
    grows the rate instead (as a learning-rate range test does).

    Args:
        optimizer: an optimiser with a settable ``lr`` (e.g. :class:`SGD`).
        gamma: factor per epoch, > 0.
    """

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = _positive(gamma, "gamma")

    def _lr_at(self, epoch: int) -> float:
        return self.lr0 * self.gamma ** epoch

    def __repr__(self) -> str:
        return f"ExponentialLR(lr0={self.lr0:g}, gamma={self.gamma:g}, last_epoch={self.last_epoch})"


def sutskever_momentum(t: int, mu_max: float) -> float:
    """The momentum schedule of Sutskever et al. (2013), as in Tomasi's notes.

    ``mu_t = min(mu_max, 1 - 1/2 / (floor(t / 250) + 1))``, equivalently
    ``min(mu_max, 1 - 2 ** (-1 - log2(floor(t / 250) + 1)))``: 0.5 for the first 250
    iterations, then 0.75, 0.833, ... rising towards 1 and capped at mu_max.

    Args:
        t: iteration count, an int >= 0 (0 for the first update).
        mu_max: the cap, in [0, 1).
    """
    t = _checks.integer(t, "t", minimum=0)
    mu_max = _unit_interval(mu_max, "mu_max")
    return min(mu_max, 1.0 - 0.5 / (t // 250 + 1))


class MomentumSchedule:
    """Sets ``optimizer.momentum = sutskever_momentum(t, mu_max)``; :meth:`step` once per iteration.

    ``t`` (the iteration count) starts at 0; the optimiser gets mu_0 right away.
    """

    def __init__(self, optimizer, mu_max: float):
        if not hasattr(optimizer, "momentum"):
            raise TypeError(f"optimizer must be an optimiser with a momentum attribute, such as SGD; "
                            f"got {type(optimizer).__name__}")
        mu0 = sutskever_momentum(0, mu_max)  # validates mu_max
        self.optimizer = optimizer
        self.mu_max = float(mu_max)
        self.t = 0
        optimizer.momentum = mu0

    def step(self) -> float:
        """Advance one iteration, set the optimiser's momentum for it and return that value."""
        self.t += 1
        self.optimizer.momentum = sutskever_momentum(self.t, self.mu_max)
        return self.optimizer.momentum

    def __repr__(self) -> str:
        return f"MomentumSchedule(mu_max={self.mu_max:g}, t={self.t})"
