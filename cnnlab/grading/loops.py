"""What the training-loop checks of lessons 07-10 share: a small network, real digits, one loop.

Each of those checks trains a small seeded float64 network on a few hundred real digits
(``digits8x8``, flattened to 64 pixels) twice, once with the student's code and once with
cnnlab's (``cnnlab.optim.SGD``, ``cnnlab.train.fit``), on the same minibatches, and compares the
weights after training and the sample-weighted mean loss.

Only plain data crosses to the submission's kernel (see :mod:`.plain`): the network travels as
a catalogue reference, ``plain.named("loops.digits_net", hidden, seed)`` or
``plain.named("loops.linear_net", W, b)``, and is built afresh in the kernel; the batches and
the data travel as arrays. What comes back is :func:`outcome`: the loss and the trained weights.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import data as _data
from .. import functional as F
from .. import nn
from . import plain
from .core import Case, Draw

__all__ = ["Velocity", "digits", "digits_batches", "epoch_loop", "linear_net", "net", "optimizer_case", "outcome",
           "train_optimizer"]


@plain.catalogue("loops.digits_net", factory=True)
def _digits_net(hidden: int, seed: int):
    """64 pixels -> ``hidden`` ReLU units -> 10 scores, float64, seeded."""
    return nn.Sequential(nn.Linear(64, int(hidden), dtype=np.float64, rng=int(seed)), nn.ReLU(),
                         nn.Linear(int(hidden), 10, dtype=np.float64, rng=int(seed) + 1))


@plain.catalogue("loops.linear_net", factory=True)
def _linear_net(W, b):
    """One linear layer with the given (D_out, D_in) weights and (D_out,) bias: small enough to
    train by hand."""
    W, b = np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)
    layer = nn.Linear(W.shape[1], W.shape[0], dtype=np.float64, rng=0)
    layer.weight.data[...] = W
    layer.bias.data[...] = b
    return nn.Sequential(layer)


def net(hidden: int = 16, seed: int = 0):
    """A case input: the digits network, built afresh wherever the case runs."""
    return plain.named("loops.digits_net", hidden, seed)


def linear_net(W, b):
    """A case input: one linear layer with these weights."""
    return plain.named("loops.linear_net", np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))


@functools.lru_cache(maxsize=1)
def _all_digits():
    X, y = _data.load("digits8x8")
    return X.reshape(len(X), -1).astype(np.float64), y


def digits(rng: np.random.Generator, n: int):
    """``n`` digits drawn without replacement: X (n, 64) float64 in [0, 1], y (n,) int64."""
    X, y = _all_digits()
    pick = rng.choice(len(X), size=n, replace=False)
    return X[pick], y[pick]


def digits_batches(n: int, batch_size: int) -> Draw:
    """One epoch of ``n`` real digits in shuffled minibatches, as a list of (Xb, yb) pairs."""
    def make(rng):
        X, y = digits(rng, n)
        return list(_data.batches(X, y, batch_size, rng=rng))
    return Draw(make)


def epoch_loop(model, batches, opt) -> float:
    """One epoch as the slides' recipe goes, the reference of ``train_epoch``: for every
    minibatch, forward pass and loss, backward pass, step; the loss averaged over samples."""
    total, seen = 0.0, 0
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        total, seen = total + float(loss) * len(yb), seen + len(yb)
    return total / seen


def outcome(loss, model) -> dict:
    """What a training check compares: the returned loss and the weights after training."""
    return {"loss": loss, "weights": [p.data for p in model.parameters()]}


def train_optimizer(Optimizer, inputs) -> dict:
    """The call of the optimiser checks (lessons 08, 09): build the student's optimiser on a fresh
    copy of the case's network and train one epoch with the check's own loop, so that only the
    optimiser is judged (not the student's ``train_epoch``)."""
    model = inputs["model"]
    options = {"weight_decay": inputs["weight_decay"]} if "weight_decay" in inputs else {}
    opt = Optimizer(model.parameters(), inputs["lr"], inputs["mu"], **options)
    return outcome(epoch_loop(model, inputs["batches"], opt), model)


def optimizer_case(note, n, batch_size, lr, mu, hidden=16, seed=0, **weight_decay):
    """A case of the optimiser checks: a fresh network and one epoch of real digits."""
    return Case(note, model=net(hidden, seed), batches=digits_batches(n, batch_size), lr=lr, mu=mu,
                **weight_decay)


class Velocity:
    """The velocity form as the lessons ask for it (v = mu v - lr (grad + weight_decay p); p += v;
    one velocity per parameter, made at the first step), with one method per part so that a
    mistake model overrides exactly the part a student gets wrong."""

    def __init__(self, params, lr, mu, weight_decay=0.0):
        self.params, self.lr, self.mu, self.weight_decay = list(params), lr, mu, weight_decay
        self.velocities = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0

    def step(self):
        for i, p in enumerate(self.params):
            if self.velocities[i] is None:
                self.velocities[i] = np.zeros_like(p.data)
            self.velocities[i] = self.velocity(p, self.velocities[i])
            p.data += self.move(p, self.velocities[i])

    def velocity(self, p, v):
        return self.mu * v - self.lr * (p.grad + self.weight_decay * p.data)

    def move(self, p, v):
        return v
