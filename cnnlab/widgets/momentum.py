"""Lesson 08: momentum on an ill-conditioned quadratic, the two forms of the method, and an explorer.

The problem is *synthetic*, chosen because its geometry can be drawn: the quadratic bowl
``E(w) = 1/2 (h1 w1^2 + h2 w2^2)`` with curvatures ``CURVATURES = (0.5, 25)``, 50 times steeper
across than along. Plain gradient descent must keep its learning rate below ``2 / h2`` or
diverge across the valley, and then crawls along it; momentum lets the steps along the valley
build up::

    import cnnlab as cl
    mom = cl.widgets.momentum
    path = mom.sgd_path(lr=0.07, mu=0.6, steps=60)     # (61, 2): w after every step
    mom.explorer()                                      # learning-rate and momentum sliders

:func:`sgd_path` runs cnnlab's own optimiser (:class:`cnnlab.optim.SGD`, the velocity form
``v = mu v - lr g; w = w + v``, optionally Nesterov's); :func:`ema_path` runs the exponential
average ``p = beta p + (1 - beta) g; w = w - lr p``. Figures are built without pyplot and
returned as ``matplotlib.figure.Figure`` objects.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from ._explore import explore

__all__ = [
    "CURVATURES", "W0", "best_settings", "draw", "ema_path", "explorer", "figure", "gradient", "loss",
    "schedule_figure", "sgd_path", "summarize",
]

#: Curvatures (Hessian eigenvalues) of the quadratic along w1 and w2: condition number 50.
CURVATURES = (0.5, 25.0)
#: The starting point of every path: far along the shallow direction, a little off across it.
W0 = (-4.5, 1.2)
# A path whose |w| passes this has diverged; it is cut there.
_LIMIT = 1e4


def _curvatures(curvatures) -> np.ndarray:
    h = np.asarray(curvatures, dtype=np.float64)
    if h.shape != (2,) or not (h > 0).all():
        raise ValueError(f"curvatures must be two positive numbers (h1, h2); got {curvatures!r}")
    return h


def loss(w1, w2, curvatures=CURVATURES):
    """``E(w) = 1/2 (h1 w1^2 + h2 w2^2)`` for numbers or arrays of one shape (a grid)."""
    h = _curvatures(curvatures)
    return 0.5 * (h[0] * np.asarray(w1, dtype=np.float64) ** 2 + h[1] * np.asarray(w2, dtype=np.float64) ** 2)


def gradient(w, curvatures=CURVATURES) -> np.ndarray:
    """``grad E(w) = (h1 w1, h2 w2)`` for a (2,) point, as a new (2,) float64 array."""
    return _curvatures(curvatures) * np.asarray(w, dtype=np.float64)


def _start(w0) -> np.ndarray:
    w = np.array(w0, dtype=np.float64)
    if w.shape != (2,):
        raise ValueError(f"w0 must be a point (w1, w2); got {w0!r}")
    return w


def sgd_path(lr: float, mu: float = 0.0, steps: int = 60, w0=W0, nesterov: bool = False,
             curvatures=CURVATURES) -> np.ndarray:
    """Gradient descent with momentum on the quadratic, stepped by :class:`cnnlab.optim.SGD`.

    Args:
        lr: learning rate alpha > 0. mu: momentum coefficient in [0, 1) (0: plain descent).
        steps: number of updates, >= 0. w0: the starting point (w1, w2).
        nesterov: Nesterov's accelerated gradient instead of classical momentum.
        curvatures: (h1, h2) of the quadratic.

    Returns:
        (steps + 1, 2) float64 array: w0, then w after every step. A diverging run stops once
        |w| exceeds 1e4, so the array is then shorter.
    """
    from ..nn import Parameter
    from ..optim import SGD

    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    steps = _checks.integer(steps, "steps", minimum=0)
    h = _curvatures(curvatures)
    w = Parameter(_start(w0))
    opt = SGD([w], lr=lr, momentum=mu, nesterov=nesterov) if mu else SGD([w], lr=lr)
    path = [w.data.copy()]
    for _ in range(steps):
        w.grad[...] = h * w.data  # the exact gradient: the point here is the geometry, not the noise
        opt.step()
        path.append(w.data.copy())
        if np.abs(w.data).max() > _LIMIT:
            break
    return np.array(path)


def ema_path(lr: float, beta: float, steps: int = 60, w0=W0, curvatures=CURVATURES) -> np.ndarray:
    """The exponential-averaging form: ``p = beta p + (1 - beta) grad; w = w - lr p``, p = 0 at first.

    Returns:
        (steps + 1, 2) float64 array, like :func:`sgd_path`. It equals
        ``sgd_path(lr * (1 - beta), mu=beta)`` up to rounding.
    """
    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    beta = _checks.real(beta, "beta", low=0.0, high=1.0)
    steps = _checks.integer(steps, "steps", minimum=0)
    h = _curvatures(curvatures)
    w = _start(w0)
    p = np.zeros(2)
    path = [w.copy()]
    for _ in range(steps):
        p = beta * p + (1 - beta) * (h * w)
        w = w - lr * p
        path.append(w.copy())
        if np.abs(w).max() > _LIMIT:
            break
    return np.array(path)


def best_settings(curvatures=CURVATURES) -> dict:
    """The classical optimal settings on a quadratic with curvatures m = min h, L = max h.

    Plain descent converges fastest with ``lr = 2 / (L + m)``, shrinking the error by
    ``(k - 1) / (k + 1)`` per step (k = L / m, the condition number). Momentum (the heavy
    ball) does best with ``lr = 4 / (sqrt(L) + sqrt(m))^2`` and
    ``mu = ((sqrt(k) - 1) / (sqrt(k) + 1))^2``, shrinking it by about ``(sqrt(k) - 1) / (sqrt(k) + 1)``.

    Returns:
        dict with ``condition``, ``gd_lr``, ``gd_rate``, ``momentum_lr``, ``momentum_mu``,
        ``momentum_rate``.
    """
    h = _curvatures(curvatures)
    m, L = float(h.min()), float(h.max())
    k = L / m
    root = math.sqrt(k)
    return {
        "condition": k,
        "gd_lr": 2 / (L + m), "gd_rate": (k - 1) / (k + 1),
        "momentum_lr": 4 / (math.sqrt(L) + math.sqrt(m)) ** 2,
        "momentum_mu": ((root - 1) / (root + 1)) ** 2, "momentum_rate": (root - 1) / (root + 1),
    }


def _describe(path, curvatures) -> str:
    end = loss(*path[-1], curvatures)
    if np.abs(path[-1]).max() > _LIMIT or not np.isfinite(end):
        return f"diverged after {path.shape[0] - 1} steps"
    if end > loss(*path[0], curvatures):
        return f"diverging, loss {end:.3g} after {path.shape[0] - 1} steps"
    return f"loss {end:.3g} after {path.shape[0] - 1} steps"


def summarize(lr: float, mu: float, steps: int = 60, curvatures=CURVATURES) -> str:
    """One line comparing plain descent and momentum at this learning rate, with the stability
    limits ``lr < 2 / h_max`` (plain) and ``lr < 2 (1 + mu) / h_max`` (momentum)."""
    h_max = float(_curvatures(curvatures).max())
    plain = sgd_path(lr, 0.0, steps, curvatures=curvatures)
    heavy = sgd_path(lr, mu, steps, curvatures=curvatures)
    start = loss(*W0, curvatures)
    return (f"lr {lr:.3g}, mu {mu:.2f} (start: loss {start:.3g}). Plain descent: {_describe(plain, curvatures)} "
            f"(stable for lr < {2 / h_max:.3g}). Momentum: {_describe(heavy, curvatures)} "
            f"(stable for lr < {2 * (1 + mu) / h_max:.3g}).")


def figure(lr: float = 0.07, mu: float = 0.6, steps: int = 60, curvatures=CURVATURES, nesterov: bool = False):
    """Two panels: the paths of plain descent and of momentum on the contours of the quadratic
    (left), and the loss after every step on a log scale (right). Returns a Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import LogLocator, NullLocator

    plain = sgd_path(lr, 0.0, steps, curvatures=curvatures)
    heavy = sgd_path(lr, mu, steps, curvatures=curvatures, nesterov=nesterov and mu > 0)
    name = "Nesterov" if nesterov and mu > 0 else "momentum"
    fig = Figure(figsize=(11, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    g1, g2 = np.meshgrid(np.linspace(-5.0, 2.0, 141), np.linspace(-2.0, 2.0, 81))
    left.contour(g1, g2, loss(g1, g2, curvatures), levels=np.geomspace(0.01, 60, 14), colors="0.7", linewidths=0.8)
    for path, colour, label in [(plain, "tab:blue", "plain descent"), (heavy, "tab:orange", f"{name}, mu {mu:.2f}")]:
        shown = np.clip(path, [-5.0, -2.0], [2.0, 2.0])  # a diverging path stays on the picture
        left.plot(shown[:, 0], shown[:, 1], "-o", color=colour, ms=2.5, lw=1, label=label)
    left.plot(*W0, "s", color="white", mec="k", ms=7, label="start")
    left.plot(0, 0, "*", color="red", ms=12, label="minimum")
    left.set_xlim(-5.0, 2.0)
    left.set_ylim(-2.0, 2.0)
    left.set_aspect("equal")
    left.set_xlabel("$w_1$ (curvature %g)" % curvatures[0])
    left.set_ylabel("$w_2$ (curvature %g)" % curvatures[1])
    left.set_title(f"{steps} steps at learning rate {lr:.3g}")
    left.legend(fontsize=8, loc="upper right")

    for path, colour, label in [(plain, "tab:blue", "plain descent"), (heavy, "tab:orange", name)]:
        with np.errstate(over="ignore"):
            values = loss(path[:, 0], path[:, 1], curvatures)
        right.semilogy(np.arange(path.shape[0]), np.maximum(values, 1e-12), color=colour, label=label)
    right.set_ylim(1e-12, 1e4)
    # Few tick labels: each log-scale label is typeset as mathtext, which is slow to lay out.
    right.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
    right.yaxis.set_minor_locator(NullLocator())
    right.set_xlim(0, steps)
    right.set_xlabel("step")
    right.set_ylabel("loss")
    right.set_title("loss after every step")
    right.legend(fontsize=8)
    return fig


def schedule_figure(mu_maxes=(0.9, 0.99, 0.999), t_max: int = 3000, t_long: int = 60_000):
    """The Sutskever momentum schedule ``mu_t = min(mu_max, 1 - 1/2 / (floor(t/250) + 1))``
    (:func:`cnnlab.optim.sutskever_momentum`) for a few caps: its first ``t_max`` iterations
    (left: the staircase) and ``t_long`` iterations (right: where each cap takes over)."""
    from matplotlib.figure import Figure

    from ..optim import sutskever_momentum

    t_max = _checks.integer(t_max, "t_max", minimum=1)
    t_long = _checks.integer(t_long, "t_long", minimum=1)
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    panels = fig.subplots(1, 2)
    left, right = panels
    t = np.arange(t_max + 1)
    t_far = np.arange(0, t_long + 1, max(1, t_long // 2000))
    for mu_max, style in zip(mu_maxes, ("-", "--", ":", "-.")):
        label = f"$\\mu_{{max}}$ = {mu_max:g}"
        left.step(t, [sutskever_momentum(int(i), mu_max) for i in t], style, where="post", lw=1.5, label=label)
        far = np.array([sutskever_momentum(int(i), mu_max) for i in t_far])
        right.semilogy(t_far, 1 - far, style, lw=1.5, label=label)
    left.set_ylim(0.45, 1.0)
    left.set_ylabel(r"momentum $\mu_t$")
    left.set_title(f"the first {t_max} iterations: a step every 250")
    right.set_ylabel(r"$1 - \mu_t$ (log scale)")
    right.set_title(f"{t_long} iterations: each cap takes over")
    for ax in panels:
        ax.set_xlabel("iteration t")
    right.legend(fontsize=8, loc="upper right")
    return fig


def draw(lr: float, mu: float, steps: int, nesterov: bool = False):
    """What the explorer shows for these control values: ``(figure, html)``, :func:`figure` and
    the line of :func:`summarize`."""
    return figure(lr, mu, steps, nesterov=nesterov), summarize(lr, mu, steps)


def explorer(lr: float = 0.07, mu: float = 0.6, steps: int = 60):
    """Learning-rate and momentum sliders (and a step count) over the quadratic; moving one
    redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (dict: ``lr``, ``mu``, ``steps``, ``nesterov``).
    """
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    controls = {
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-3, max=-0.7, step=0.02, readout_format=".3g",
                                     description="learning rate", continuous_update=False, style=style),
        "mu": widgets.FloatSlider(value=mu, min=0.0, max=0.98, step=0.02, readout_format=".2f",
                                  description="momentum mu", continuous_update=False, style=style),
        "steps": widgets.IntSlider(value=steps, min=5, max=200, step=5, description="steps",
                                   continuous_update=False, style=style),
        "nesterov": widgets.Checkbox(value=False, description="Nesterov"),
    }
    panel = widgets.VBox([widgets.HBox([controls["lr"], controls["mu"]]),
                          widgets.HBox([controls["steps"], controls["nesterov"]])])
    return explore(controls, draw, panel=panel, image_layout={"max_width": "950px"})
