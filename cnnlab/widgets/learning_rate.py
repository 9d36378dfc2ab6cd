"""Lesson 01: gradient descent on a 1-D problem, and an explorer for the learning rate.

The problem is the seeds' table: the model ``y_hat = w x`` with one weight, the per-sample
loss ``L = 1/2 (y - w x)^2`` and the empirical risk, its mean over the table::

    import cnnlab as cl
    lrw = cl.widgets.learning_rate
    path = lrw.gd_path(lrw.TABLE_X, lrw.TABLE_Y, w0=0.0, lr=0.01, epochs=5)   # w after each update
    lrw.explorer()                                 # a learning-rate slider that redraws the run

The computations (:func:`risk`, :func:`gd_path`, :func:`summarize`, the figures) are plain
functions; :func:`explorer` only wires them to ipywidgets. Figures are built without pyplot
and returned as ``matplotlib.figure.Figure`` objects.
"""

from __future__ import annotations

import numpy as np

from .. import _checks

__all__ = [
    "TABLE_X", "TABLE_Y", "epoch_factor", "explorer", "figure", "gd_path", "gd_path_2d", "minimizer", "risk",
    "risk_2d", "summarize", "surface_figure",
]

#: The seeds' example table: inputs x and targets y, in the order the online updates visit them.
TABLE_X = np.array([10.0, 2.0, 3.5, 1.0])
TABLE_Y = np.array([10.1, 1.9, 3.4, 1.1])

# A run whose |w| passes this has diverged; stop before the numbers overflow.
_LIMIT = 1e6


def _table(xs, ys):
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
    xs, ys = _table(xs, ys)
    w_arr = np.asarray(w, dtype=np.float64)
    residual = ys - w_arr[..., None] * xs  # (..., N): one row of residuals per weight
    value = 0.5 * (residual ** 2).mean(axis=-1)
    return float(value) if w_arr.ndim == 0 else value


def minimizer(xs=TABLE_X, ys=TABLE_Y) -> float:
    """The weight of least risk: setting d risk / dw = mean(x (w x - y)) to 0 gives
    ``w* = sum(x y) / sum(x^2)``."""
    xs, ys = _table(xs, ys)
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
    xs, ys = _table(xs, ys)
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
            if abs(w) > _LIMIT:
                return np.array(path)
    return np.array(path)


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
    xs, ys = _table(xs, ys)
    path = gd_path(xs, ys, w0, lr, epochs, mode)
    factor = epoch_factor(lr, xs, mode)
    w_star = minimizer(xs, ys)
    r0, r_end, r_star = risk(w0, xs, ys), risk(path[-1], xs, ys), risk(w_star, xs, ys)
    head = (f"{path.size} updates: w {w0:.3g} \u2192 {path[-1]:.3g}, risk {r0:.3g} \u2192 "
            f"{r_end:.3g} (least risk {r_star:.3g} at w* = {w_star:.3g}); "
            f"each epoch multiplies the distance to the settling point by {factor:.3g}")
    slopes = 1 - lr * xs * xs  # what each single online update does to the distance
    worst = int(np.argmax(np.abs(slopes)))
    if abs(factor) >= 1 or abs(path[-1]) > _LIMIT:
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

    xs, ys = _table(xs, ys)
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
    if abs(path[-1]) > _LIMIT or abs(epoch_factor(lr, xs, mode)) >= 1:
        right.text(0.5, 0.5, "diverging", transform=right.transAxes, ha="center", color="tab:red",
                   fontsize=16)
    return fig


def risk_2d(w, b, xs=TABLE_X, ys=TABLE_Y):
    """Empirical risk of the line ``y_hat = w x + b``: ``mean 1/2 (y - w x - b)^2``.

    ``w`` and ``b`` are numbers or arrays of one shape (a grid); the result has that shape.
    """
    xs, ys = _table(xs, ys)
    w, b = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    residual = ys - w[..., None] * xs - b[..., None]
    value = 0.5 * (residual ** 2).mean(axis=-1)
    return float(value) if value.ndim == 0 else value


def gd_path_2d(theta0=(0.0, 1.0), lr: float = 0.06, steps: int = 60, xs=TABLE_X, ys=TABLE_Y):
    """Batch gradient descent on :func:`risk_2d` for theta = (w, b).

    Returns:
        (steps + 1, 2) float64 array: theta0, then theta after every step.
    """
    xs, ys = _table(xs, ys)
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
    xs, ys = _table(xs, ys)
    best, *_ = np.linalg.lstsq(np.stack([xs, np.ones_like(xs)], axis=1), ys, rcond=None)
    ax.plot(*best, "*", color="red", ms=11, label=f"minimum ({best[0]:.3g}, {best[1]:.3g})")
    ax.set_xlabel("w (slope)")
    ax.set_ylabel("b (intercept)")
    ax.set_title(f"risk surface and descent path ({steps} batch steps, lr {lr:g})")
    ax.legend(fontsize=8, loc="lower left")
    return fig


# --- the widget ---------------------------------------------------------------------------------

def explorer(lr: float = 0.01, mode: str = "online", epochs: int = 5, w0: float = 0.0,
             xs=TABLE_X, ys=TABLE_Y):
    """A learning-rate slider (log scale, 1e-4 to 0.1), an online/batch switch and an epochs
    slider over the 1-D problem; moving any of them redraws :func:`figure` and the verdict
    line of :func:`summarize`.

    Returns:
        an ``ipywidgets.VBox``; its ``.controls`` dict holds the ``lr``, ``mode`` and
        ``epochs`` widgets, ``.image`` the figure and ``.text`` the verdict (for tests and for
        wiring to other widgets).
    """
    import ipywidgets as widgets

    from ..plot import figure_png  # imported here: matplotlib loads only when a widget is made

    xs, ys = _table(xs, ys)
    controls = {
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-4, max=-1, step=0.05,
                                     description="learning rate", readout_format=".2g",
                                     continuous_update=False,
                                     style={"description_width": "initial"}),
        "mode": widgets.ToggleButtons(options=["online", "batch"], value=mode, description="updates"),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=40, description="epochs",
                                    continuous_update=False),
    }
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="820px"))
    text = widgets.HTML()

    def redraw(_change=None):
        lr_value, mode_value = controls["lr"].value, controls["mode"].value
        epochs_value = controls["epochs"].value
        image.value = figure_png(figure(lr_value, mode_value, xs, ys, w0, epochs_value))
        verdict = summarize(lr_value, mode_value, epochs_value, w0, xs, ys)
        text.value = f"<b>lr {lr_value:.3g}, {mode_value}</b>: {verdict}"

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox([controls["lr"], controls["epochs"]]), controls["mode"], text, image])
    box.controls, box.image, box.text = controls, image, text
    return box
