"""Lesson 07: minibatch gradients, how noisy they are, and an explorer for the batch size.

Two things live here:

* measuring the noise of a minibatch gradient on a real model: :func:`flat_gradient` (the
  gradient of the mean loss over a batch, all parameters in one vector),
  :func:`per_sample_gradients` and :func:`gradient_variance`, which draws many minibatches of
  each size and measures ``E ||g_B - grad E||^2`` against the theory ``sigma^2 / |B|``;
* a small *synthetic* least-squares problem (fit a line ``y = w x + b`` to 64 points) where
  SGD's path can be drawn in the plane of the two parameters: :func:`line_data`,
  :func:`line_risk`, :func:`sgd_path`, :func:`figure`, and the widget :func:`explorer`, which
  shows :func:`draw`::

    import cnnlab as cl
    bs = cl.widgets.batch_size
    bs.explorer()                  # batch size, learning rate and epochs sliders

The paths are computed with cnnlab's own optimiser (:class:`cnnlab.optim.SGD`) and
minibatches (:func:`cnnlab.data.batches`). Figures are built without pyplot and returned as
``matplotlib.figure.Figure`` objects.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _checks, backend
from .. import data as _data
from ..functional import softmax_cross_entropy
from ._explore import explore

__all__ = [
    "BATCH_SIZES", "draw", "explorer", "figure", "flat_gradient", "gradient_variance", "line_data",
    "line_minimizer", "line_risk", "per_sample_gradients", "sgd_path", "summarize", "variance_figure",
]

#: Batch sizes offered by the explorer: powers of two from online (1) to the whole set (64).
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64)


# --- the noise of a minibatch gradient on a real model -------------------------------------------

def flat_gradient(model, X, y, loss_fn=softmax_cross_entropy) -> np.ndarray:
    """The gradient of the mean loss over ``(X, y)`` with respect to every parameter, as one vector.

    Args:
        model: a :class:`cnnlab.nn.Module` mapping (B, ...) inputs to (B, K) scores.
        X: (B, ...) inputs in the model's dtype. y: (B,) integer labels.
        loss_fn: ``loss_fn(scores, y) -> (mean loss, dscores)``.

    Returns:
        (P,) float64 NumPy array, P = ``model.num_parameters()``, parameters in
        ``model.parameters()`` order. The model's ``.grad`` arrays are overwritten.
    """
    _checks.samples(X, y)  # the loss checks the class range
    scores = model(X)
    _, dscores = loss_fn(scores, y)
    model.zero_grad()
    model.backward(dscores)
    return np.concatenate([backend.asnumpy(p.grad).astype(np.float64).ravel() for p in model.parameters()])


def per_sample_gradients(model, X, y, loss_fn=softmax_cross_entropy) -> np.ndarray:
    """One gradient per sample: row n is :func:`flat_gradient` on the batch ``(X[n:n+1], y[n:n+1])``.

    Returns:
        (N, P) float64 array. Their mean over the rows is the full-batch gradient.
    """
    _checks.samples(X, y)
    return np.stack([flat_gradient(model, X[n:n + 1], y[n:n + 1], loss_fn) for n in range(X.shape[0])])


def gradient_variance(model, X, y, batch_sizes, draws: int = 100, rng=None,
                      loss_fn=softmax_cross_entropy, per_sample=None) -> dict:
    """Measure how far minibatch gradients scatter around the full gradient.

    For each batch size B, ``draws`` minibatches are drawn as SGD draws them (B different
    samples, without replacement). The gradient of the mean loss over a minibatch is the mean
    of its samples' gradients (differentiation is linear), so each minibatch gradient g_B is
    the mean of B rows of the per-sample gradients, exactly what :func:`flat_gradient` on that
    batch returns up to rounding, without running the model again. The measured variance is
    the mean of ``||g_B - g||^2`` over the draws, where g is the gradient over all N samples
    (the sum of the variances of all P components).

    Args:
        model: a :class:`cnnlab.nn.Module`; float64 parameters give the cleanest numbers.
        X: (N, ...) inputs. y: (N,) integer labels.
        batch_sizes: batch sizes, each in 1..N.
        draws: minibatches per batch size, >= 2.
        rng: numpy Generator, int seed or None (cnnlab's shared generator).
        per_sample: the (N, P) result of :func:`per_sample_gradients` for this model and data,
            if already computed (it is computed here otherwise).

    Returns:
        dict with ``batch_sizes`` (K,) int array, ``measured`` (K,) float64, ``sigma2`` (the
        variance of a single-sample gradient, ``mean_n ||g_n - g||^2``), ``theory`` (K,) =
        ``sigma2 / B`` and ``theory_exact`` (K,) = ``sigma2 / B * (N - B) / (N - 1)``, the exact
        value for sampling without replacement, and ``full_norm2`` = ``||g||^2``.
    """
    _checks.samples(X, y)
    n = X.shape[0]
    sizes = np.array([_checks.integer(b, "batch_sizes", minimum=1) for b in batch_sizes], dtype=np.int64)
    if sizes.size == 0 or sizes.max() > n:
        raise ValueError(f"batch_sizes must be a non-empty list of sizes between 1 and N = {n}; "
                         f"got {list(batch_sizes)}")
    draws = _checks.integer(draws, "draws", minimum=2)
    gen = backend.as_generator(rng)
    if per_sample is None:
        per_sample = per_sample_gradients(model, X, y, loss_fn)
    elif not (isinstance(per_sample, np.ndarray) and per_sample.shape == (n, model.num_parameters())):
        got = per_sample.shape if isinstance(per_sample, np.ndarray) else type(per_sample).__name__
        raise ValueError(f"per_sample must be the ({n}, {model.num_parameters()}) array of per_sample_gradients; "
                         f"got {got}")

    full = per_sample.mean(axis=0)
    sigma2 = float(((per_sample - full) ** 2).sum(axis=1).mean())
    measured = []
    for b in sizes:
        spread = [((per_sample[gen.choice(n, size=int(b), replace=False)].mean(axis=0) - full) ** 2).sum()
                  for _ in range(draws)]
        measured.append(float(np.mean(spread)))
    theory = sigma2 / sizes
    return {
        "batch_sizes": sizes, "measured": np.array(measured), "sigma2": sigma2, "theory": theory,
        "theory_exact": theory * (n - sizes) / max(n - 1, 1), "full_norm2": float(full @ full),
    }


def variance_figure(result: dict, title: str | None = None):
    """Log-log plot of a :func:`gradient_variance` result: the measured variance against the
    batch size, the line ``sigma^2 / |B|`` and the exact curve for sampling without replacement.
    Returns a Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    sizes = result["batch_sizes"]
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.loglog(sizes, result["theory"], "-", color="0.3", lw=1.5, label=r"$\sigma^2 / |B|$")
    ax.loglog(sizes, result["theory_exact"], ":", color="tab:blue", lw=1.5,
              label=r"$\sigma^2/|B| \cdot (N-|B|)/(N-1)$ (no replacement)")
    ax.loglog(sizes, result["measured"], "o", color="tab:orange", ms=7, label="measured")
    ax.axhline(result["full_norm2"], color="tab:green", ls="--", lw=1,
               label=r"$\|\nabla E\|^2$ (the signal)")
    ax.xaxis.set_minor_formatter(NullFormatter())  # fewer mathtext labels: faster to draw
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("batch size |B|")
    ax.set_ylabel(r"$E\,\|g_B - \nabla E\|^2$")
    ax.set_title(title or "variance of the minibatch gradient")
    ax.legend(fontsize=8)
    return fig


# --- a synthetic 2-D problem: fit a line -----------------------------------------------------------

def line_data(n: int = 64, seed: int = 0):
    """A synthetic regression set: ``y = 2 x - 1 + noise`` at n points, x uniform in [-1, 3].

    Returns:
        (x, y): two (n,) float64 arrays.
    """
    n = _checks.integer(n, "n", minimum=2)
    gen = np.random.default_rng(seed)
    x = gen.uniform(-1.0, 3.0, n)
    y = 2.0 * x - 1.0 + 0.8 * gen.standard_normal(n)
    return x, y


def _xy(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.size < 1:
        raise ValueError(f"x must be a non-empty 1-D array of inputs; got shape {x.shape}")
    _checks.same_shape(x, y, "x", "y")
    return x, y


def line_risk(w, b, x, y):
    """Empirical risk ``mean_n 1/2 (w x_n + b - y_n)^2`` of the line; w and b numbers or arrays
    of one shape (a grid), the result shaped like them (a float for numbers)."""
    x, y = _xy(x, y)
    w, b = np.broadcast_arrays(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
    value = 0.5 * ((w[..., None] * x + b[..., None] - y) ** 2).mean(axis=-1)
    return float(value) if value.ndim == 0 else value


def line_minimizer(x, y) -> np.ndarray:
    """The (w, b) of least risk (least squares), a (2,) float64 array."""
    x, y = _xy(x, y)
    best, *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
    return best


def _line_gradient(theta, x, y):
    """Gradient of the mean of 1/2 (w x + b - y)^2 over the given samples, at theta = (w, b)."""
    residual = theta[0] * x + theta[1] - y
    return np.array([(residual * x).mean(), residual.mean()])


def sgd_path(x, y, batch_size: int, lr: float, epochs: int = 5, theta0=(-1.0, 2.5), rng=0):
    """Minibatch SGD on :func:`line_risk`, drawn with :func:`cnnlab.data.batches` (a fresh
    shuffle per epoch, the last batch partial) and stepped by :class:`cnnlab.optim.SGD`.

    Args:
        x, y: (N,) data. batch_size: 1 (online) .. N (batch). lr: learning rate > 0.
        epochs: passes over the data, >= 1. theta0: starting (w, b).
        rng: numpy Generator, int seed or None, for the shuffles.

    Returns:
        (U + 1, 2) float64 array: theta0, then (w, b) after each of the U updates,
        U = epochs * ceil(N / batch_size).
    """
    from ..nn import Parameter
    from ..optim import SGD

    x, y = _xy(x, y)
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    if batch_size > x.size:
        raise ValueError(f"batch_size must be at most N = {x.size}; got {batch_size}")
    lr = _checks.real(lr, "lr", low=0.0, low_open=True)
    epochs = _checks.integer(epochs, "epochs", minimum=1)
    theta = Parameter(np.array(theta0, dtype=np.float64))
    if theta.shape != (2,):
        raise ValueError(f"theta0 must be a pair (w, b); got {theta0!r}")
    opt = SGD([theta], lr=lr)
    gen = backend.as_generator(rng)
    path = [theta.data.copy()]
    for _ in range(epochs):
        for xb, yb in _data.batches(x, y, batch_size, rng=gen):
            theta.grad[...] = _line_gradient(theta.data, xb, yb)
            opt.step()
            path.append(theta.data.copy())
            if not np.isfinite(theta.data).all() or np.abs(theta.data).max() > 1e6:
                return np.array(path)  # diverged: stop before the numbers overflow
    return np.array(path)


def summarize(batch_size: int, lr: float, epochs: int = 5, x=None, y=None, rng=0) -> str:
    """One line on a run of :func:`sgd_path`: updates per epoch, the risk reached, and how far
    the last epoch's iterates scatter. Numbers with 3 significant digits."""
    if x is None or y is None:
        x, y = line_data()
    x, y = _xy(x, y)
    path = sgd_path(x, y, batch_size, lr, epochs, rng=rng)
    per_epoch = -(-x.size // batch_size)
    best = line_minimizer(x, y)
    least = line_risk(*best, x, y)
    end = line_risk(*path[-1], x, y)
    if not np.isfinite(end) or np.abs(path[-1]).max() > 1e6:
        return (f"|B| = {batch_size}: {per_epoch} updates per epoch; the run diverged "
                f"(learning rate {lr:.3g} is too large).")
    last = path[-per_epoch:]
    scatter = float(np.sqrt(((last - best) ** 2).sum(axis=1).mean()))
    return (f"|B| = {batch_size}: {per_epoch} updates per epoch, {path.shape[0] - 1} in all; "
            f"risk {line_risk(*path[0], x, y):.3g} \u2192 {end:.3g} (least {least:.3g}); "
            f"in the last epoch (w, b) stays {scatter:.3g} from the minimum on average.")


def figure(batch_size: int = 8, lr: float = 0.1, epochs: int = 5, x=None, y=None, rng=0):
    """Two panels for minibatch SGD on the line problem: the path of (w, b) on the contours of
    the risk (left), and the risk against epochs for this batch size and, in grey, the others
    of :data:`BATCH_SIZES` with the same learning rate (right). Returns a Figure."""
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    if x is None or y is None:
        x, y = line_data()
    x, y = _xy(x, y)
    path = sgd_path(x, y, batch_size, lr, epochs, rng=rng)
    best = line_minimizer(x, y)
    least = line_risk(*best, x, y)

    fig = Figure(figsize=(10.5, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    w_grid, b_grid = np.meshgrid(np.linspace(-1.5, 4.0, 161), np.linspace(-3.5, 3.5, 141))
    excess = line_risk(w_grid, b_grid, x, y) - least + 1e-3
    left.contourf(w_grid, b_grid, excess, levels=np.geomspace(1e-3, 100, 16), norm=LogNorm(), cmap="viridis")
    shown = np.clip(path, [-1.5, -3.5], [4.0, 3.5])  # a diverging path stays on the picture
    left.plot(shown[:, 0], shown[:, 1], "-", color="tab:orange", lw=0.9, marker="o", ms=2)
    left.plot(*path[0], "s", color="white", mec="k", ms=7, label="start")
    left.plot(*best, "*", color="red", ms=12, label="minimum")
    left.set_xlim(-1.5, 4.0)
    left.set_ylim(-3.5, 3.5)
    left.set_xlabel("w (slope)")
    left.set_ylabel("b (intercept)")
    left.set_title(f"SGD path, |B| = {batch_size}, lr {lr:.3g}, {epochs} epochs")
    left.legend(fontsize=8, loc="lower left")

    for size in BATCH_SIZES:
        if size > x.size:
            continue
        run = path if size == batch_size else sgd_path(x, y, size, lr, epochs, rng=rng)
        with np.errstate(over="ignore", invalid="ignore"):
            gap = line_risk(run[:, 0], run[:, 1], x, y) - least
        progress = np.arange(run.shape[0]) * size / x.size  # epochs of data seen
        progress = np.minimum(progress, np.ceil(progress))  # the partial batch ends its epoch
        if size == batch_size:
            right.semilogy(progress, np.maximum(gap, 1e-6), "-", color="tab:orange", lw=2,
                           label=f"|B| = {size}", zorder=3)
        else:
            right.semilogy(progress, np.maximum(gap, 1e-6), "-", color="0.75", lw=1)
    right.plot([], [], "-", color="0.75", label="other batch sizes")
    right.set_ylim(1e-6, 1e2)
    right.yaxis.set_minor_locator(NullLocator())  # fewer mathtext labels to lay out: faster
    right.set_xlabel("epochs (passes over the data)")
    right.set_ylabel("risk - least risk")
    right.set_title("progress per epoch")
    right.legend(fontsize=8)
    return fig


def draw(batch_size: int, lr: float, epochs: int, x=None, y=None, rng=0):
    """What the explorer shows for these control values: ``(figure, html)``, :func:`figure` and
    the line of :func:`summarize`."""
    return figure(batch_size, lr, epochs, x, y, rng), summarize(batch_size, lr, epochs, x, y, rng)


def explorer(batch_size: int = 8, lr: float = 0.1, epochs: int = 5, rng=0):
    """Sliders for the batch size, the learning rate and the number of epochs on the line
    problem; moving one redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (dict: ``batch_size``, ``lr``, ``epochs``).
    """
    import ipywidgets as widgets

    if batch_size not in BATCH_SIZES:
        raise ValueError(f"batch_size must be one of {BATCH_SIZES}; got {batch_size!r}")
    x, y = line_data()
    style = {"description_width": "initial"}
    controls = {
        "batch_size": widgets.SelectionSlider(options=list(BATCH_SIZES), value=batch_size,
                                              description="batch size |B|", continuous_update=False,
                                              style=style),
        "lr": widgets.FloatLogSlider(value=lr, base=10, min=-2.5, max=0, step=0.05, readout_format=".3g",
                                     description="learning rate", continuous_update=False, style=style),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=20, description="epochs",
                                    continuous_update=False, style=style),
    }
    return explore(controls, functools.partial(draw, x=x, y=y, rng=rng),
                   panel=widgets.HBox(list(controls.values())), image_layout={"max_width": "900px"})
