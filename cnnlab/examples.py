"""The lectures' worked examples, small enough to follow by hand: one home for the lessons, their
widgets and their checks.

The 1-D table of lesson 01: the model ``y_hat = w x`` with one weight, the per-sample loss
``L = 1/2 (y - w x)^2`` and the empirical risk, its mean over the table::

    from cnnlab import examples
    examples.risk(1.0)                                        # 0.005: residuals +-0.1
    examples.gd_path(examples.TABLE_X, examples.TABLE_Y, w0=0.0, lr=0.01, epochs=1)
    # array([1.01, 1.0076, 1.003169, 1.00413731]): w after each online update

Lesson 01's ``gd_1d`` exercise is checked against :func:`gd_path`; its explorer
(:mod:`cnnlab.widgets.learning_rate`) and lesson 10's (:mod:`cnnlab.widgets.lr_schedule`)
draw it.
"""

from __future__ import annotations

import numpy as np

from . import _checks

__all__ = ["DIVERGED", "TABLE_X", "TABLE_Y", "gd_path", "minimizer", "risk", "table"]

#: The lecture notes' example table: inputs x and targets y, in the order the online updates visit them.
TABLE_X = np.array([10.0, 2.0, 3.5, 1.0])
TABLE_Y = np.array([10.1, 1.9, 3.4, 1.1])

#: A run whose |w| passes this has diverged; :func:`gd_path` stops before the numbers overflow.
DIVERGED = 1e6


def table(xs, ys):
    """The table as two float64 vectors of the same length (lists are accepted)."""
    xs = np.asarray(xs, dtype=np.float64)
    ys = np.asarray(ys, dtype=np.float64)
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(f"xs must be a non-empty 1-D sequence of inputs; got shape {xs.shape}")
    _checks.same_shape(xs, ys, "xs", "ys")
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise ValueError("xs and ys must be finite; got NaN or inf")
    return xs, ys


def risk(w, xs=TABLE_X, ys=TABLE_Y):
    """Empirical risk ``(1/N) sum_n 1/2 (y_n - w x_n)^2`` of the model ``y_hat = w x``.

    Args:
        w: one weight, or an array of weights of any shape (each is evaluated).
        xs, ys: (N,) inputs and targets.

    Returns:
        a float for a scalar ``w``, else an array shaped like ``w``.
    """
    xs, ys = table(xs, ys)
    w_arr = np.asarray(w, dtype=np.float64)
    residual = ys - w_arr[..., None] * xs  # (..., N): one row of residuals per weight
    value = 0.5 * (residual ** 2).mean(axis=-1)
    return float(value) if w_arr.ndim == 0 else value


def minimizer(xs=TABLE_X, ys=TABLE_Y) -> float:
    """The weight of least risk: setting d risk / dw = mean(x (w x - y)) to 0 gives
    ``w* = sum(x y) / sum(x^2)``."""
    xs, ys = table(xs, ys)
    return float((xs * ys).sum() / (xs * xs).sum())


def gd_path(xs=TABLE_X, ys=TABLE_Y, w0: float = 0.0, lr: float = 0.01, epochs: int = 5,
            mode: str = "online"):
    """Weights visited by gradient descent on ``L = 1/2 (y - w x)^2``.

    ``mode="online"`` takes one step per sample, in table order: ``w <- w - lr x_n (w x_n - y_n)``;
    ``mode="batch"`` one step per epoch along the mean gradient ``mean_n x_n (w x_n - y_n)``.

    Args:
        xs, ys: (N,) inputs and targets.
        w0: the starting weight.
        lr: learning rate (step size), > 0.
        epochs: passes over the table, >= 1.
        mode: ``"online"`` or ``"batch"``.

    Returns:
        float64 array of w after every update: (epochs * N,) online, (epochs,) batch. A run
        that diverges stops early, once |w| exceeds 1e6, so the array is then shorter.
    """
    xs, ys = table(xs, ys)
    w = _checks.real(w0, "w0")
    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    epochs = _checks.integer(epochs, "epochs", minimum=1)
    if mode not in ("online", "batch"):
        raise ValueError(f"mode must be 'online' or 'batch'; got {mode!r}")
    path = []
    for _ in range(epochs):
        if mode == "batch":
            steps = [(xs, ys)]  # the whole table at once: the mean gradient
        else:
            steps = zip(xs, ys)  # one sample at a time, in table order
        for x, y in steps:
            w = w - lr * float(np.mean(x * (w * x - y)))
            path.append(w)
            if abs(w) > DIVERGED:
                return np.array(path)
    return np.array(path)
