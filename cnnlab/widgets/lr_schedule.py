"""Lesson 10: learning-rate schedules, what they do to SGD, and an explorer for step decay.

::

    import cnnlab as cl
    lrs = cl.widgets.lr_schedule
    lrs.rates("step", lr0=1.0, epochs=24, step_size=8, gamma=0.1)   # the staircase, per epoch
    lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, [0.01] * 5)      # lesson 01's online updates
    history = lrs.digits_run(lr0=1.0, schedule="step", step_size=8, gamma=0.1)
    lrs.explorer()                                  # sliders for the step size and gamma

The rates come from ``cl.optim.StepLR`` and ``cl.optim.ExponentialLR`` themselves, so the
figures show exactly what training with them does. :func:`digits_run` is the lesson's
experiment: a linear softmax classifier on the shipped ``digits8x8`` images, trained by
``cl.train.fit`` with minibatch SGD, a little weight decay and an optional schedule.
:func:`explorer` wires :func:`draw` to ipywidgets.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import _checks, data, nn, optim, train
from ..examples import TABLE_X, TABLE_Y, gd_path
from ._explore import explore

__all__ = [
    "TABLE_X", "TABLE_Y", "digits_data", "digits_run", "draw", "explorer", "figure", "online_path", "rates",
    "summarize",
]

_KINDS = ("constant", "step", "exponential")


def _schedule(kind: str, optimizer, step_size=None, gamma=None, k=None):
    """The cnnlab schedule object of this kind for ``optimizer`` (None for a constant rate)."""
    if kind not in _KINDS:
        raise ValueError(f"schedule must be one of {', '.join(_KINDS)}; got {kind!r}")
    if kind == "step":
        return optim.StepLR(optimizer, step_size=step_size, gamma=gamma)
    if kind == "exponential":
        k = _checks.real(k, "k", low=0.0)
        return optim.ExponentialLR(optimizer, gamma=float(np.exp(-k)))
    return None


def rates(kind: str, lr0: float, epochs: int, step_size: int | None = None, gamma: float | None = None,
          k: float | None = None) -> np.ndarray:
    """The learning rate of every epoch 0 .. epochs-1 under a schedule.

    Args:
        kind: ``"constant"``, ``"step"`` (lr0 gamma^floor(epoch / step_size), needs step_size and
            gamma) or ``"exponential"`` (lr0 exp(-k epoch), needs k).
        lr0: the initial rate, > 0.
        epochs: how many epochs, >= 1.

    Returns:
        (epochs,) float64 array, read from ``cl.optim.StepLR`` / ``ExponentialLR``.
    """
    lr0 = _checks.real(lr0, "lr0", low=0.0, low_open=True)
    epochs = _checks.integer(epochs, "epochs", minimum=1)
    # A one-number parameter: the schedules are defined on an optimiser, and asking them is
    # the only way to be sure the figure shows what training with them does.
    optimizer = optim.SGD([nn.Parameter(np.zeros(1))], lr=lr0)
    schedule = _schedule(kind, optimizer, step_size, gamma, k)
    if schedule is None:
        return np.full(epochs, lr0)
    return np.array([schedule.get_lr(e) for e in range(epochs)])


def online_path(xs, ys, w0: float, epoch_rates) -> np.ndarray:
    """Online gradient descent on lesson 01's problem (y_hat = w x, L = 1/2 (y - w x)^2), one
    update per sample in table order, with the learning rate ``epoch_rates[e]`` in epoch e.

    Returns:
        (len(epoch_rates) * N,) float64 array of w after every update (a diverging run stops
        early, as in :func:`cnnlab.examples.gd_path`).
    """
    epoch_rates = [float(r) for r in epoch_rates]
    if not epoch_rates:
        raise ValueError("epoch_rates must hold at least one learning rate; got an empty sequence")
    w, pieces = float(w0), []
    for rate in epoch_rates:
        piece = gd_path(xs, ys, w, rate, epochs=1)
        pieces.append(piece)
        if piece.size < len(np.atleast_1d(xs)):  # diverged inside this epoch
            break
        w = float(piece[-1])
    return np.concatenate(pieces)


# --- the training experiment ----------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def digits_data():
    """The lesson's data: ``digits8x8`` split 70/30 (seed 0), mean-subtracted with the training
    part's statistics. Returns ``((X_train, y_train), (X_val, y_val))``; shared, do not modify."""
    X, y = data.load("digits8x8")
    (X_train, y_train), (X_val, y_val) = data.split(X, y, (0.7, 0.3), rng=0)
    X_train, X_val = data.normalize(X_train, X_val)
    return (X_train, y_train), (X_val, y_val)


def digits_run(lr0: float = 1.0, schedule: str = "constant", step_size: int = 8, gamma: float = 0.1,
               k: float = 0.2, epochs: int = 24, batch_size: int = 16, weight_decay: float = 0.01,
               seed: int = 0) -> train.History:
    """Train a linear softmax classifier on :func:`digits_data` and return its history.

    The model is ``Sequential(Flatten(), Linear(64, 10))`` with weights drawn from ``seed``;
    ``cl.optim.SGD(lr=lr0, weight_decay=weight_decay)`` updates it on minibatches shuffled
    from ``seed + 1``, and the schedule (see :func:`rates`) steps once after every epoch.
    The same arguments give the same numbers (runs are cached).

    Returns:
        the :class:`cnnlab.train.History` (train_loss, val_loss, val_acc and lr per epoch).
    """
    return _digits_run(float(lr0), schedule, step_size, gamma, k, epochs, batch_size, weight_decay, seed)


@functools.lru_cache(maxsize=64)
def _digits_run(lr0, schedule, step_size, gamma, k, epochs, batch_size, weight_decay, seed):
    (X_train, y_train), val = digits_data()
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10, rng=seed))
    sgd = optim.SGD(model.parameters(), lr=lr0, weight_decay=weight_decay)
    return train.fit(model, sgd, (X_train, y_train), val=val, epochs=epochs, batch_size=batch_size,
                     schedule=_schedule(schedule, sgd, step_size, gamma, k), rng=seed + 1, progress=False)


def summarize(constant: train.History, decayed: train.History, last: int = 4) -> str:
    """One line comparing two runs: the mean training loss over their last ``last`` epochs,
    its spread (max - min) there, and the final validation accuracy (3 significant digits)."""
    parts = []
    for name, history in (("constant rate", constant), ("step decay", decayed)):
        tail = np.array(history.train_loss[-last:])
        text = f"{name}: training loss {tail.mean():.3g} (spread {np.ptp(tail):.2g})"
        if history.val_acc:
            text += f", validation accuracy {history.val_acc[-1]:.3g}"
        parts.append(text)
    return f"last {min(last, constant.epochs)} epochs \u2014 " + "; ".join(parts)


# --- figures ------------------------------------------------------------------------------------

def figure(step_size: int = 8, gamma: float = 0.1, lr0: float = 1.0, epochs: int = 24):
    """Two panels: the constant rate and the staircase ``lr0 gamma^floor(epoch / step_size)``
    (left, log scale), and the training loss of :func:`digits_run` under each (right).
    Returns a Figure."""
    from matplotlib.figure import Figure

    constant = digits_run(lr0, "constant", epochs=epochs)
    decayed = digits_run(lr0, "step", step_size=step_size, gamma=gamma, epochs=epochs)
    e = np.arange(epochs)
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.step(e, rates("constant", lr0, epochs), where="post", color="tab:red", label="constant")
    left.step(e, rates("step", lr0, epochs, step_size, gamma), where="post", color="tab:blue",
              label=f"step decay: every {step_size} epochs \u00d7 {gamma:g}")
    left.set(yscale="log", xlabel="epoch", ylabel="learning rate", title="the schedule")
    left.legend(fontsize=8)
    right.plot(e, constant.train_loss, "-o", ms=3, color="tab:red", label="constant")
    right.plot(e, decayed.train_loss, "-o", ms=3, color="tab:blue", label="step decay")
    for boundary in range(step_size, epochs, step_size):
        right.axvline(boundary - 0.5, color="tab:blue", lw=0.6, ls=":")
    low = min(min(constant.train_loss), min(decayed.train_loss))
    right.set(xlabel="epoch", ylabel="training loss (mean over the epoch)",
              title="linear classifier on digits8x8", ylim=(0.95 * low, 0.75))
    right.legend(fontsize=8)
    return fig


# --- the widget ---------------------------------------------------------------------------------

def draw(step_size: int, gamma: float, lr0: float = 1.0, epochs: int = 24):
    """What the explorer shows for these control values: ``(figure, html)``, :func:`figure` and
    the :func:`summarize` line of the two runs."""
    gamma = round(gamma, 4)  # a slider's 0.05 k, not 0.15000000000000002
    line = summarize(digits_run(lr0, "constant", epochs=epochs),
                     digits_run(lr0, "step", step_size=step_size, gamma=gamma, epochs=epochs))
    return (figure(step_size, gamma, lr0, epochs),
            f"<b>lr0 {lr0:g}, step size {step_size}, gamma {gamma:g}</b>: {line}")


def explorer(step_size: int = 8, gamma: float = 0.1, lr0: float = 1.0, epochs: int = 24):
    """Sliders for the step size and gamma of step decay; moving one re-trains the decayed run
    (under a second; the constant-rate run is computed once) and redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (``step_size``, ``gamma``).
    """
    import ipywidgets as widgets

    epochs = _checks.integer(epochs, "epochs", minimum=2)
    style = {"description_width": "initial"}
    controls = {
        "step_size": widgets.IntSlider(value=step_size, min=1, max=epochs, description="step size (epochs)",
                                       continuous_update=False, style=style),
        "gamma": widgets.FloatSlider(value=gamma, min=0.05, max=1.0, step=0.05, description="gamma",
                                     readout_format=".2f", continuous_update=False, style=style),
    }
    return explore(controls, functools.partial(draw, lr0=lr0, epochs=epochs),
                   panel=widgets.HBox(list(controls.values())), image_layout={"max_width": "820px"})
