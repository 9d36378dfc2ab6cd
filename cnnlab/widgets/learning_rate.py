"""Lesson 01: gradient descent on a 1-D problem, and an explorer for the learning rate.

The problem is lesson 01's four-sample table (:mod:`cnnlab.examples`, where lesson 01's check finds it too):
the model ``y_hat = w x`` with one weight, the per-sample loss ``L = 1/2 (y - w x)^2`` and the
empirical risk, its mean over the table. The lesson reaches it through this module::

    import cnnlab as cl
    lrw = cl.widgets.learning_rate
    path = lrw.gd_path(lrw.TABLE_X, lrw.TABLE_Y, w0=0.0, lr=0.01, epochs=5)   # w after each update
    lrw.explorer()                                 # a learning-rate slider that redraws the run

This module adds what one run means (:func:`epoch_factor`, :func:`summarize`), the figures,
the same problem with an intercept (:func:`risk_2d`, :func:`gd_path_2d`) and the explorer,
whose :func:`draw` is a plain function of the controls' values. Figures are built without
pyplot and returned as ``matplotlib.figure.Figure`` objects.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import _checks
from ..examples import DIVERGED, TABLE_X, TABLE_Y, gd_path, minimizer, risk, table
from ._explore import explore

__all__ = [
    "TABLE_X", "TABLE_Y", "draw", "epoch_factor", "explorer", "figure", "gd_path", "gd_path_2d", "minimizer",
    "risk", "risk_2d", "summarize", "surface_figure",
]


def epoch_factor(lr: float, xs=TABLE_X, mode: str = "online") -> float:
    """What one epoch does to the distance between w and the point the run settles at.

    Each update ``w <- w - lr x (w x - y)`` is affine in w with slope ``1 - lr x^2``, so an
    epoch multiplies the distance to its fixed point by the product of the slopes (online)
    or by ``1 - lr mean(x^2)`` (batch). Magnitude below 1: the run converges (to w* in batch
    mode; to a nearby cycle online, since each sample pulls towards its own y / x); negative:
    w jumps across that point every epoch; 1 or more: it diverges.
    """
    xs = np.asarray(xs, dtype=np.float64)
    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    if mode == "batch":
        return float(1 - lr * (xs * xs).mean())
    if mode != "online":
        raise ValueError(f"mode must be 'online' or 'batch'; got {mode!r}")
    return float(np.prod(1 - lr * xs * xs))


def summarize(lr: float = 0.01, mode: str = "online", epochs: int = 5, w0: float = 0.0,
              xs=TABLE_X, ys=TABLE_Y) -> str:
    """A one-line verdict on a run of :func:`gd_path`: where w went, the risk before and after,
    the :func:`epoch_factor`, and whether the learning rate is too small, fine or too large.
    Numbers are shown with 3 significant digits."""
    xs, ys = table(xs, ys)
    path = gd_path(xs, ys, w0, lr, epochs, mode)
    factor = epoch_factor(lr, xs, mode)
    w_star = minimizer(xs, ys)
    r0, r_end, r_star = risk(w0, xs, ys), risk(path[-1], xs, ys), risk(w_star, xs, ys)
    head = (f"{path.size} updates: w {w0:.3g} \u2192 {path[-1]:.3g}, risk {r0:.3g} \u2192 "
            f"{r_end:.3g} (least risk {r_star:.3g} at w* = {w_star:.3g}); "
            f"each epoch multiplies the distance to the settling point by {factor:.3g}")
    slopes = 1 - lr * xs * xs  # what each single online update does to the distance
    worst = int(np.argmax(np.abs(slopes)))
    if abs(factor) >= 1 or abs(path[-1]) > DIVERGED:
        verdict = "too large: every epoch overshoots by more than it corrects, so w diverges"
    elif mode == "online" and abs(slopes[worst]) > 1:
        verdict = (f"too large: the update on x = {xs[worst]:.3g} overshoots its own target "
                   f"(1 - lr x\u00b2 = {slopes[worst]:.3g}); the other samples pull w back, so it "
                   "swings wildly within every epoch")
    elif factor < 0:
        verdict = "large: w jumps across the minimum at every epoch (it still converges)"
    elif r_end - r_star > 0.1 * (r0 - r_star):
        verdict = "too small: w creeps towards the minimum and needs many more steps"
    else:
        verdict = "fine: w ends close to the minimum"
    return f"{head}. Verdict: {verdict}."


# --- figures ------------------------------------------------------------------------------------

def figure(lr: float = 0.01, mode: str = "online", xs=TABLE_X, ys=TABLE_Y, w0: float = 0.0,
           epochs: int = 5):
    """Two panels for one run of :func:`gd_path`: the risk curve R(w) with the path of w on it
    (left), and the risk after every update on a log scale (right). Returns a Figure."""
    from matplotlib.figure import Figure

    xs, ys = table(xs, ys)
    path = gd_path(xs, ys, w0, lr, epochs, mode)
    w_star = minimizer(xs, ys)
    ws = np.concatenate([[w0], path])
    # Show every point up to 12 units from w* (a diverging run leaves the plot; its line breaks).
    span = 1.1 * min(max(float(np.abs(ws - w_star).max()), 0.25), 12.0)
    grid = np.linspace(w_star - span, w_star + span, 400)

    fig = Figure(figsize=(10, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(grid, risk(grid, xs, ys), color="0.3", lw=1.5, label="risk $R(w)$")
    visible = np.where(np.abs(ws - w_star) <= span, ws, np.nan)
    left.plot(visible, risk(visible, xs, ys), "-o", color="tab:orange", ms=3.5, lw=0.8,
              label="gradient descent")
    left.plot([w0], [risk(w0, xs, ys)], "s", color="tab:green", ms=7, label="start $w_0$")
    left.axvline(w_star, color="tab:blue", ls=":", lw=1, label=f"minimum $w^*$ = {w_star:.3g}")
    left.set_xlabel("w")
    left.set_ylabel("risk")
    left.set_title(f"{mode} updates, learning rate {lr:.3g}")
    left.legend(fontsize=8, loc="upper center")

    risks = risk(ws, xs, ys)
    right.semilogy(np.arange(ws.size), risks, "-", color="tab:orange", lw=1.2)
    right.axhline(risk(w_star, xs, ys), color="tab:blue", ls=":", lw=1, label="least risk")
    right.set_xlabel("update" if mode == "online" else "epoch (one batch update each)")
    right.set_ylabel("risk after the update")
    right.set_title("risk per step")
    right.legend(fontsize=8)
    if abs(path[-1]) > DIVERGED or abs(epoch_factor(lr, xs, mode)) >= 1:
        right.text(0.5, 0.5, "diverging", transform=right.transAxes, ha="center", color="tab:red",
                   fontsize=16)
    return fig


def risk_2d(w, b, xs=TABLE_X, ys=TABLE_Y):
    """Empirical risk of the line ``y_hat = w x + b``: ``mean 1/2 (y - w x - b)^2``.

    ``w`` and ``b`` are numbers or arrays of one shape (a grid); the result has that shape.
    """
    xs, ys = table(xs, ys)
    w, b = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    residual = ys - w[..., None] * xs - b[..., None]
    value = 0.5 * (residual ** 2).mean(axis=-1)
    return float(value) if value.ndim == 0 else value


def gd_path_2d(theta0=(0.0, 1.0), lr: float = 0.06, steps: int = 60, xs=TABLE_X, ys=TABLE_Y):
    """Batch gradient descent on :func:`risk_2d` for theta = (w, b).

    Returns:
        (steps + 1, 2) float64 array: theta0, then theta after every step.
    """
    xs, ys = table(xs, ys)
    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    steps = _checks.integer(steps, "steps", minimum=0)
    theta = np.array(theta0, dtype=np.float64)
    if theta.shape != (2,):
        raise ValueError(f"theta0 must be a pair (w, b); got {theta0!r}")
    path = [theta.copy()]
    for _ in range(steps):
        residual = theta[0] * xs + theta[1] - ys  # d/d(y_hat) of 1/2 (y - y_hat)^2
        theta = theta - lr * np.array([(residual * xs).mean(), residual.mean()])
        path.append(theta.copy())
    return np.array(path)


def surface_figure(lr: float = 0.06, steps: int = 60, theta0=(0.0, 1.0), xs=TABLE_X, ys=TABLE_Y):
    """The risk surface of the line ``w x + b`` over (w, b) as filled contours (log scale),
    with the path of batch gradient descent from ``theta0``. Returns a Figure."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    path = gd_path_2d(theta0, lr, steps, xs, ys)
    w_grid, b_grid = np.meshgrid(np.linspace(-0.2, 1.6, 181), np.linspace(-1.2, 1.4, 131))
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    levels = np.geomspace(1e-3, 100, 21)
    filled = ax.contourf(w_grid, b_grid, risk_2d(w_grid, b_grid, xs, ys), levels=levels,
                         norm=LogNorm(), cmap="viridis")
    fig.colorbar(filled, ax=ax, label="empirical risk (log scale)", format="%.0e")
    ax.plot(path[:, 0], path[:, 1], "-o", color="tab:orange", ms=2.5, lw=0.9, label="gradient descent")
    ax.plot(*path[0], "s", color="white", mec="k", ms=7, label="start")
    xs, ys = table(xs, ys)
    best, *_ = np.linalg.lstsq(np.stack([xs, np.ones_like(xs)], axis=1), ys, rcond=None)
    ax.plot(*best, "*", color="red", ms=11, label=f"minimum ({best[0]:.3g}, {best[1]:.3g})")
    ax.set_xlabel("w (slope)")
    ax.set_ylabel("b (intercept)")
    ax.set_title(f"risk surface and descent path ({steps} batch steps, lr {lr:g})")
    ax.legend(fontsize=8, loc="lower left")
    return fig


# --- the widget ---------------------------------------------------------------------------------

def draw(lr: float, mode: str, epochs: int, w0: float = 0.0, xs=TABLE_X, ys=TABLE_Y):
    """What the explorer shows for these control values: ``(figure, html)``, :func:`figure` and
    the verdict line of :func:`summarize`."""
    verdict = summarize(lr, mode, epochs, w0, xs, ys)
    return figure(lr, mode, xs, ys, w0, epochs), f"<b>lr {lr:.3g}, {mode}</b>: {verdict}"


def explorer(lr: float = 0.01, mode: str = "online", epochs: int = 5, w0: float = 0.0,
             xs=TABLE_X, ys=TABLE_Y):
    """A learning-rate slider (log scale, 1e-4 to 0.1), an online/batch switch and an epochs
    slider over the 1-D problem; moving any of them redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`; its ``.controls``
        dict holds the ``lr``, ``mode`` and ``epochs`` widgets.
    """
    import ipywidgets as widgets

    xs, ys = table(xs, ys)
    controls = {
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=-1, step=0.05,
                                     description="learning rate", readout_format=".2g",
                                     continuous_update=False,
                                     style={"description_width": "initial"}),
        "mode": widgets.ToggleButtons(options=["online", "batch"], value=mode, description="updates"),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=40, description="epochs",
                                    continuous_update=False),
    }
    panel = widgets.VBox([widgets.HBox([controls["lr"], controls["epochs"]]), controls["mode"]])
    return explore(controls, functools.partial(draw, w0=w0, xs=xs, ys=ys), panel=panel,
                   image_layout={"max_width": "820px"})
