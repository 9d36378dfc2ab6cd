"""Lesson 09: weight decay, the L2 penalty, overfitting on a small set, and an explorer for the decay.

The overfitting experiment: 200 training images from ``mnist5k`` (and 300 for validation), a
network with one hidden layer of 64 ReLU units (about 51,000 weights, far more than 200
images can pin down), trained by :func:`cnnlab.train.fit` with :class:`cnnlab.optim.SGD`
(momentum 0.9) and some ``weight_decay``::

    import cnnlab as cl
    wd = cl.widgets.weight_decay
    run = wd.train_run(decay=0.01)       # dict: train/val loss and accuracy, weight norm per epoch
    wd.figure([wd.train_run(0.0), run])  # curves and weight norms
    wd.explorer()                        # a decay-strength slider that retrains and redraws

Runs are deterministic (fixed seeds) and cached, so moving the slider back is instant.
The L2 penalty ``lam/2 sum ||W||^2`` and its gradients is :func:`cnnlab.functional.l2_penalty`
(here also as ``penalty``, the name the lesson uses).
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _checks, backend
from ..functional import l2_penalty as penalty
from ._explore import explore

__all__ = [
    "DECAYS", "draw", "explorer", "figure", "make_model", "overfit_data", "penalty", "summarize", "train_run",
    "weight_norm",
]

#: Decay strengths offered by the explorer (0: no decay).
DECAYS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)

_RUNS: dict = {}  # (decay, epochs, lr, momentum) -> run, filled by train_run
_DATA: dict = {}


def weight_norm(model) -> float:
    """The Euclidean norm of all the *weights* of a model (parameters named ``weight``; biases
    left out), ``sqrt(sum_k ||W_k||^2)``, in float64."""
    total = sum(float((backend.asnumpy(p.data).astype(np.float64) ** 2).sum())
                for name, p in model.named_parameters() if name.rsplit(".", 1)[-1] == "weight")
    return total ** 0.5


def overfit_data(n_train: int = 200, n_val: int = 300, seed: int = 0):
    """A small training set that a network can memorise, and a validation set, from ``mnist5k``.

    Returns:
        ``((X_train, y_train), (X_val, y_val))`` with X (n, 784) float64 pixels in [0, 1] and
        y (n,) int64 labels; stratified by class (:func:`cnnlab.data.split`). Float64 (like
        :func:`make_model`), so that the rounding of a long training run is far below the
        3 digits a notebook shows, on any machine.
    """
    n_train = _checks.integer(n_train, "n_train", minimum=10)
    n_val = _checks.integer(n_val, "n_val", minimum=10)
    key = (n_train, n_val, seed)
    if key not in _DATA:
        from ..data import load, split

        X, y = load("mnist5k")
        X = X.reshape(len(X), -1).astype(np.float64)
        if n_train + n_val >= len(X):
            raise ValueError(f"n_train + n_val must be below {len(X)}; got {n_train} + {n_val}")
        rest = len(X) - n_train - n_val
        train, val, _ = split(X, y, (n_train / len(X), n_val / len(X), rest / len(X)), rng=seed)
        _DATA[key] = (train, val)
    return _DATA[key]


def make_model(hidden: int = 64, seed: int = 3):
    """The network of the experiment: 784 inputs, ``hidden`` ReLU units, 10 scores (float64)."""
    from ..nn import Linear, ReLU, Sequential

    return Sequential(Linear(784, hidden, rng=seed), ReLU(), Linear(hidden, 10, rng=seed + 1)).astype(np.float64)


def train_run(decay: float, epochs: int = 30, lr: float = 0.05, momentum: float = 0.9) -> dict:
    """Train :func:`make_model` on :func:`overfit_data` with ``SGD(lr, momentum, weight_decay=decay)``
    for ``epochs`` epochs of batches of 20, recording the weight norm after every epoch.

    Returns:
        dict with ``decay``, ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc`` and
        ``weight_norm`` (lists, one entry per epoch), ``best_epoch`` (0-based, lowest
        validation loss), and ``start_norm`` (the norm before training). Cached: a second call
        with the same arguments returns the same dict.
    """
    from ..optim import SGD
    from ..train import fit

    decay = _checks.real(decay, "decay", low=0.0)
    epochs = _checks.integer(epochs, "epochs", minimum=1)
    key = (decay, epochs, float(lr), float(momentum))
    if key in _RUNS:
        return _RUNS[key]
    train, val = overfit_data()
    model = make_model()
    opt = SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    gen = np.random.default_rng(0)
    run = {"decay": decay, "train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "weight_norm": [],
           "start_norm": weight_norm(model)}
    for _ in range(epochs):
        # One epoch per call, drawing the shuffles from one generator: the same batches as a
        # single fit(epochs=...), with the weight norm recorded in between.
        h = fit(model, opt, train, val=val, epochs=1, batch_size=20, rng=gen, progress=False)
        for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
            run[name].append(getattr(h, name)[0])
        run["weight_norm"].append(weight_norm(model))
    run["best_epoch"] = int(np.argmin(run["val_loss"]))
    _RUNS[key] = run
    return run


def summarize(run: dict) -> str:
    """One line on a :func:`train_run`: losses at the end and at the best epoch, the weight
    norm, and a verdict: underfitting (training loss above 0.3), overfitting (training loss
    below 0.05 and the validation loss more than 5% above its lowest), or neither. Numbers
    with 3 significant digits."""
    train, val = run["train_loss"][-1], run["val_loss"][-1]
    best = run["best_epoch"]
    rise = val / run["val_loss"][best] - 1
    head = (f"decay {run['decay']:g}: after {len(run['val_loss'])} epochs training loss {train:.3g}, validation "
            f"loss {val:.3g} (lowest {run['val_loss'][best]:.3g} at epoch {best + 1}), validation accuracy "
            f"{run['val_acc'][-1]:.1%}, weight norm {run['weight_norm'][-1]:.3g}.")
    if train > 0.3:
        verdict = "underfitting: the decay keeps the weights so small that even the training images are not fitted"
    elif rise > 0.05 and train < 0.05:
        verdict = (f"overfitting: the training images are fitted almost perfectly while the validation loss has "
                   f"risen {rise:.0%} above its lowest value")
    else:
        verdict = "neither clearly: no memorised training set with a rising validation loss, no high training loss"
    return f"{head} Verdict: {verdict}."


def figure(runs, title: str | None = None):
    """Three panels for a list of :func:`train_run` results: the training loss per epoch (log
    scale), the validation loss per epoch, and the norm of the weights. Returns a Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    if isinstance(runs, dict):
        runs = [runs]
    fig = Figure(figsize=(12, 3.8), layout="constrained")
    training, validation, norms = fig.subplots(1, 3)
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for run, colour in zip(runs, colours * 4):
        epochs = np.arange(1, len(run["train_loss"]) + 1)
        label = f"decay {run['decay']:g}"
        training.semilogy(epochs, run["train_loss"], "-", color=colour, label=label)
        validation.plot(epochs, run["val_loss"], "-", color=colour, label=label)
        best = run["best_epoch"]
        validation.plot([best + 1], [run["val_loss"][best]], "o", color=colour, ms=5)
        norms.plot(np.arange(len(epochs) + 1), [run["start_norm"], *run["weight_norm"]], "-", color=colour, label=label)
    training.yaxis.set_minor_formatter(NullFormatter())  # fewer mathtext labels: faster to draw
    training.set_xlabel("epoch")
    training.set_ylabel("training loss (log scale)")
    training.set_title(title or "training loss")
    training.legend(fontsize=8)
    # The first epochs' validation losses are far above the rest; show the part that matters.
    tail = [v for run in runs for v in run["val_loss"][2:]] or [v for run in runs for v in run["val_loss"]]
    low, high = min(tail), max(tail)
    pad = 0.1 * (high - low) or 0.05 * max(abs(high), 1.0)  # never an empty range
    validation.set_ylim(low - pad, high + pad)
    validation.set_xlabel("epoch")
    validation.set_ylabel("validation loss")
    validation.set_title("validation loss (dot: the lowest)")
    norms.set_xlabel("epoch")
    norms.set_ylabel(r"$\sqrt{\sum_k \|W_k\|^2}$")
    norms.set_title("norm of the weights")
    return fig


def draw(decay: float, epochs: int = 30):
    """What the explorer shows for this decay: ``(figure, html)``, :func:`figure` of its
    :func:`train_run` beside the run without decay, and the :func:`summarize` line."""
    run = train_run(decay, epochs)
    shown = [run] if decay == 0 else [train_run(0.0, epochs), run]
    return figure(shown), summarize(run)


def explorer(decay: float = 0.01, epochs: int = 30):
    """A slider over :data:`DECAYS`; moving it trains the network with that weight decay (a
    second or two, then cached) and redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (dict: ``decay``).
    """
    import ipywidgets as widgets

    if decay not in DECAYS:
        raise ValueError(f"decay must be one of {DECAYS}; got {decay!r}")
    controls = {
        "decay": widgets.SelectionSlider(options=list(DECAYS), value=decay, description="weight decay",
                                         continuous_update=False, style={"description_width": "initial"}),
    }
    return explore(controls, functools.partial(draw, epochs=epochs), image_layout={"max_width": "1000px"})
