"""Lesson 12 "Training a CNN": the capstone's network and data, and a widget to turn its knobs.

::

    import cnnlab as cl
    knobs = cl.widgets.training_knobs
    data = knobs.capstone_data()                     # MNIST: 54,998 train, 5,002 val, 10,000 test
    model = knobs.cnn()                              # conv 3x3 -> ReLU -> pool, twice; dropout; linear
    history = cl.train.fit_recipe(model, data.train, data.val)   # the recipe of the lesson
    knobs.explorer()                                 # sliders for lr, momentum, ...; a Train button

The numbers of the recipe live in one place, :data:`cnnlab.train.RECIPE`, beside
:func:`cnnlab.train.fit_recipe`, through which the lesson, the ``train_cnn`` check,
``benchmarks/capstone.py`` and the widget all train. ``CNNLAB_FAST=1`` (set by the tests,
read by :func:`cnnlab.backend.fast_mode`, which the lesson calls as ``knobs.fast_mode()``)
makes :func:`capstone_data` return small subsets and :func:`cnnlab.train.recipe` a one-epoch
recipe, so a notebook runs in seconds.

The computations (:func:`lr_sweep`, :func:`activation_std`, :func:`most_confused`,
:func:`verdict`, the figures) are plain functions; :func:`explorer` wires :func:`draw` to
ipywidgets. Figures are built without pyplot and returned as ``matplotlib.figure.Figure``.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .. import _checks, backend, nn, optim
from .. import data as _data
from .. import train as _train
from ..backend import fast_mode
from ..train import RECIPE, fit_recipe
from ._explore import explore

__all__ = [
    "FAST_SIZES",
    "CapstoneData",
    "MyConv2d",
    "activation_std",
    "capstone_data",
    "cnn",
    "draw",
    "explorer",
    "fast_mode",
    "fold_roles",
    "folds_figure",
    "init_figure",
    "load_my_conv",
    "lr_sweep",
    "most_confused",
    "small_data",
    "sweep_figure",
    "train_small",
    "use_my_conv",
    "verdict",
]


#: Subset sizes in fast mode (train, validation, test).
FAST_SIZES = (4000, 1000, 2000)


def cnn(widths=(8, 16), keep: float = 0.75, image_size: int = 28, n_classes: int = 10, rng=None):
    """A small VGG-style network: per width, conv 3x3 pad 1 (keeps the size), ReLU and 2x2
    max-pool (halves it); then flatten, dropout and one linear layer to the class scores.

    Args:
        widths: the number of filters of each convolution, e.g. (8, 16).
        keep: dropout keep probability before the linear layer (1: no dropout layer).
        image_size: height = width of the (N, 1, H, W) input.
        n_classes: K, the number of scores per image.
        rng: generator or int seed for the initial weights and the dropout masks (one
            generator for all layers; None: cnnlab's shared generator).

    Returns:
        a :class:`cnnlab.nn.Sequential` mapping (N, 1, H, W) float32 to (N, K) scores.
    """
    if not isinstance(widths, (tuple, list)) or not widths:
        raise ValueError(f"widths must be a non-empty tuple of filter counts such as (8, 16); got {widths!r}")
    widths = [_checks.integer(w, "widths", minimum=1) for w in widths]
    keep = _checks.real(keep, "keep", low=0.0, high=1.0, low_open=True)
    size = _checks.integer(image_size, "image_size", minimum=1)
    if size >> len(widths) < 1:
        raise ValueError(f"image_size {size} is too small for {len(widths)} 2x2 poolings; "
                         f"it must be at least {2 ** len(widths)}")
    n_classes = _checks.integer(n_classes, "n_classes", minimum=2)
    gen = backend.as_generator(rng)
    layers, channels = [], 1
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, pad=1, rng=gen), nn.ReLU(), nn.MaxPool2d(2)]
        channels, size = width, size // 2
    layers.append(nn.Flatten())
    if keep < 1:
        layers.append(nn.Dropout(keep, rng=gen))
    layers.append(nn.Linear(channels * size * size, n_classes, rng=gen))
    return nn.Sequential(*layers)


# --- the student's own convolution (lesson 05's my_conv.py), for the optional switch -------------

#: What lesson 05 saves into my_conv.py with %%writefile, and the two functions the capstone calls.
MY_CONV_FUNCTIONS = ("conv2d_forward_fast", "conv2d_backward_fast")


def load_my_conv(path="my_conv.py"):
    """The module of the student's lesson-05 convolution, from the file lesson 05 writes.

    Args:
        path: the file (default: ``my_conv.py`` in the working folder, beside the lessons).

    Returns:
        the imported module, with ``conv2d_forward_fast(x, w, b, stride, pad) -> (out, cache)``
        and ``conv2d_backward_fast(dout, cache) -> (dx, dw, db)``.
    """
    import importlib.util
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.name} was not found in {path.resolve().parent}: run the cell of lesson 05 that starts with %%writefile my_conv.py "
            f"(it saves your im2col, col2im and fast convolution beside the lessons), or set USE_MY_CONV = False")
    spec = importlib.util.spec_from_file_location("my_conv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    missing = [name for name in MY_CONV_FUNCTIONS if not callable(getattr(module, name, None))]
    if missing:
        raise AttributeError(f"{path} has no {' or '.join(missing)}: save lesson 05's cell with your fast "
                             f"convolution again (%%writefile my_conv.py)")
    return module


class MyConv2d(nn.Module):
    """A :class:`cnnlab.nn.Conv2d` computed by the student's fast convolution.

    It takes over the ``weight`` and ``bias`` Parameters of ``conv`` (the same objects, so the
    same He initialisation, and an optimiser built for either updates both), and calls
    ``my_conv.conv2d_forward_fast`` in ``forward`` and ``my_conv.conv2d_backward_fast`` in
    ``backward``, adding dw and db into the parameters' gradients as every layer does.
    Input (N, C, H, W); output (N, F, H_out, W_out), of the input's dtype.
    """

    def __init__(self, conv: nn.Conv2d, my_conv):
        super().__init__()
        if type(conv) is not nn.Conv2d:
            raise TypeError(f"conv must be a cnnlab.nn.Conv2d; got {type(conv).__name__}")
        if conv.stride[0] != conv.stride[1] or conv.pad[0] != conv.pad[1]:
            raise ValueError(f"the lesson-05 convolution takes one stride and one pad; got stride {conv.stride} "
                             f"and pad {conv.pad}")
        self.stride, self.pad, self.my_conv = conv.stride[0], conv.pad[0], my_conv
        self.weight, self.bias = conv.weight, conv.bias  # the Conv2d itself is not kept: one owner each
        self._repr = conv.extra_repr()

    def forward(self, x):
        out, cache = self.my_conv.conv2d_forward_fast(x, self.weight.data, self.bias.data,
                                                      stride=self.stride, pad=self.pad)
        if out.dtype != x.dtype:  # the next layer would refuse it: say where it came from
            raise TypeError(f"your conv2d_forward_fast returned {out.dtype} for {x.dtype} input: "
                            f"keep the input's dtype")
        self._cache = cache
        return out

    def backward(self, dout):
        dx, dw, db = self.my_conv.conv2d_backward_fast(dout, self._saved())
        self.weight.grad += dw.reshape(self.weight.shape)
        self.bias.grad += db.reshape(self.bias.shape)
        return dx

    def extra_repr(self) -> str:
        return self._repr


def use_my_conv(model: nn.Sequential, my_conv) -> nn.Sequential:
    """``model`` with every Conv2d replaced by a :class:`MyConv2d` that keeps its parameters
    (the other layers are the same objects): the same network, computed by the student's code."""
    return nn.Sequential(*(MyConv2d(layer, my_conv) if type(layer) is nn.Conv2d else layer for layer in model))


class CapstoneData(NamedTuple):
    """The capstone's data, each part an ``(X, y)`` pair with X (N, 1, 28, 28) float32 minus
    the training mean, y (N,) int64. ``mean`` is that per-channel mean, (1, 1, 1, 1)."""

    train: tuple
    val: tuple
    test: tuple
    mean: np.ndarray


def capstone_data(fast: bool | None = None, rng=0) -> CapstoneData:
    """Full MNIST, split and preprocessed as in the lesson.

    The 60,000 training images are split, stratified, eleven to one: 54,998 for training and
    5,002 for validation (each class is cut on its own, hence not exactly 55,000 and 5,000);
    the 10,000 images of MNIST's own test set are the test set. Every part has
    the per-channel mean of the training part subtracted. In fast mode (``fast=None``:
    :func:`fast_mode`) each part is cut to :data:`FAST_SIZES`.
    """
    fast = fast_mode() if fast is None else fast
    X, y = _data.load("mnist", split="train")
    X_test, y_test = _data.load("mnist", split="test")
    (X_train, y_train), (X_val, y_val) = _data.split(X, y, (11 / 12, 1 / 12), rng=rng)
    if fast:
        n_train, n_val, n_test = FAST_SIZES
        X_train, y_train, X_val, y_val = X_train[:n_train], y_train[:n_train], X_val[:n_val], y_val[:n_val]
        X_test, y_test = X_test[:n_test], y_test[:n_test]
    normalizer = _data.Normalizer().fit(X_train)
    X_train, X_val, X_test = (normalizer.transform(v) for v in (X_train, X_val, X_test))
    return CapstoneData((X_train, y_train), (X_val, y_val), (X_test, y_test),
                        normalizer.mean_.astype(np.float32))


# --- splitting ----------------------------------------------------------------------------------

_PART_COLOURS = {"train": "#9ecae1", "val": "#fdae6b", "test": "#bdbdbd"}


def fold_roles(k: int, test_fraction: float = 0.2) -> list:
    """The parts of the data in each round of k-fold cross-validation.

    The test part (the last ``test_fraction``) is set aside once and for all; the rest is cut
    into k folds, and round r uses fold r for validation and the others for training.

    Returns:
        k lists of ``(start, width, role)`` in fractions of the data, role "train", "val" or "test".
    """
    k = _checks.integer(k, "k", minimum=2)
    test_fraction = _checks.real(test_fraction, "test_fraction", low=0.0, high=1.0, low_open=True)
    fold = (1 - test_fraction) / k
    return [[(i * fold, fold, "val" if i == r else "train") for i in range(k)]
            + [(1 - test_fraction, test_fraction, "test")] for r in range(k)]


def folds_figure(k: int = 4, test_fraction: float = 0.2):
    """One bar per cross-validation round: which part of the data trains, validates and tests."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rounds = fold_roles(k, test_fraction)
    fig = Figure(figsize=(7, 0.45 * k + 1.0), layout="constrained")
    ax = fig.add_subplot()
    for r, parts in enumerate(rounds):
        for start, width, role in parts:
            ax.barh(r, width, left=start, color=_PART_COLOURS[role], edgecolor="white")
    ax.set_yticks(range(k), [f"round {r + 1}" for r in range(k)])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of the data")
    ax.set_title(f"{k}-fold cross-validation: the validation fold moves, the test part never does")
    ax.legend(handles=[Patch(color=c, label=name) for name, c in _PART_COLOURS.items()],
              loc="upper center", bbox_to_anchor=(0.5, -0.35 - 0.05 * (4 - min(k, 4))), ncol=3, fontsize=8)
    return fig


# --- finding a learning rate --------------------------------------------------------------------

def lr_sweep(make_model: Callable, train, lrs, steps: int = 100, batch_size: int = 64,
             momentum: float = 0.9, seed: int = 0):
    """Train a fresh model for a few steps at each learning rate; return the training losses.

    Every run starts from the same initial weights (``make_model(rng)`` with a generator
    seeded by ``seed``) and sees the same ``steps`` minibatches, so the runs differ only in
    the learning rate.

    Args:
        make_model: ``make_model(rng) -> Module``, e.g. ``lambda rng: cnn(rng=rng)``.
        train: ``(X, y)`` training data; the first ``steps * batch_size`` samples are used.
        lrs: (L,) learning rates, e.g. ``np.geomspace(1e-3, 1, 7)``.
        steps, batch_size: the length of each run.
        momentum: SGD momentum of each run.
        seed: the seed of the initial weights and of the shuffling.

    Returns:
        (L,) float64: the mean training loss over each run's minibatches, ``inf`` for a run
        that diverged (the loss became NaN or inf).
    """
    lrs = np.asarray(lrs, dtype=np.float64)
    if lrs.ndim != 1 or lrs.size == 0 or not (np.isfinite(lrs).all() and (lrs > 0).all()):
        raise ValueError(f"lrs must be a non-empty 1-D sequence of positive learning rates; got {lrs!r}")
    steps = _checks.integer(steps, "steps", minimum=1)
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    X, y = train[0][:steps * batch_size], train[1][:steps * batch_size]
    losses = np.empty(lrs.size)
    for i, lr in enumerate(lrs):
        model = make_model(np.random.default_rng(seed))
        opt = optim.SGD(model.parameters(), lr=float(lr), momentum=momentum)
        try:
            history = _train.fit(model, opt, (X, y), epochs=1, batch_size=batch_size, rng=seed, progress=False)
            losses[i] = history.train_loss[-1]
        except FloatingPointError:  # fit detected NaN/inf: this learning rate is too large
            losses[i] = np.inf
    return losses


def sweep_figure(lrs, losses, chosen: float | None = None):
    """Training loss against learning rate on log axes; diverged runs (inf) are marked with a
    red x at the top. ``chosen`` draws a vertical line at the learning rate picked."""
    from matplotlib.figure import Figure

    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    _checks.same_shape(lrs, losses, "lrs", "losses")
    finite = np.isfinite(losses)
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(lrs[finite], losses[finite], "-o", color="tab:blue", label="mean training loss")
    if (~finite).any():
        top = losses[finite].max() * 1.5 if finite.any() else 10.0
        ax.plot(lrs[~finite], np.full((~finite).sum(), top), "x", color="tab:red", ms=10, mew=2,
                label="diverged (NaN)")
    if chosen is not None:
        ax.axvline(chosen, color="tab:green", ls="--", label=f"chosen lr = {chosen:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("mean training loss of the run (log scale)")
    ax.set_title("learning-rate sweep: same start, same batches")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


# --- initialisation -----------------------------------------------------------------------------

def activation_std(model, x) -> list:
    """The standard deviation of the output of each layer of a :class:`cnnlab.nn.Sequential`
    for the input batch x, in evaluation mode (no dropout). Returns a list of floats."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model must be a cnnlab.nn.Sequential; got {type(model).__name__}")
    stds = []
    was_training = model.training
    model.eval()
    try:
        for layer in model:
            x = layer(x)
            stds.append(float(x.std()))
    finally:
        model.train(was_training)
    return stds


def init_figure(curves: dict, names=None):
    """Activation standard deviation per layer (log scale), one line per initialisation.

    Args:
        curves: ``{label: list of stds}`` as from :func:`activation_std`.
        names: optional layer names for the x ticks.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    for label, stds in curves.items():
        ax.semilogy(range(1, len(stds) + 1), stds, "-o", ms=3, label=label)
    if names is not None:
        ax.set_xticks(range(1, len(names) + 1), names, rotation=60, fontsize=7)
    ax.set_xlabel("layer")
    ax.set_ylabel("std of the layer's output")
    ax.set_title("how big are the activations, layer after layer?")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


# --- looking at mistakes ------------------------------------------------------------------------

def most_confused(scores, y, k: int = 10):
    """The k misclassified samples the model was most sure about.

    Args:
        scores: (N, K) class scores (logits) of the model.
        y: (N,) true labels.
        k: how many to return (fewer when fewer are wrong).

    Returns:
        ``(index, predicted, confidence)``: (k,) int64 sample indices, their predicted labels
        and the softmax probability of that prediction, most confident first.
    """
    s = backend.asnumpy(_checks.array(scores, "scores", ndim=2, layout="(N, K)")).astype(np.float64)
    y = _checks.labels(backend.asnumpy(_checks.array(y, "y", ndim=1, layout="(N,)")), "y", s.shape[0], s.shape[1])
    k = _checks.integer(k, "k", minimum=0)
    prob = np.exp(s - s.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    predicted = prob.argmax(axis=1)
    confidence = prob[np.arange(len(y)), predicted]
    wrong = np.flatnonzero(predicted != y)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return order.astype(np.int64), predicted[order].astype(np.int64), confidence[order]


# --- the widget: train a small model with your own knobs ----------------------------------------

_SMALL = {}  # the widget's data, loaded once per process


def small_data(n_train: int = 2000, n_val: int = 500):
    """A quick problem for the widget: ``((X_train, y_train), (X_val, y_val))`` from the
    5,000-image MNIST sample, stratified, mean-subtracted with the training mean."""
    n_train = _checks.integer(n_train, "n_train", minimum=10)
    n_val = _checks.integer(n_val, "n_val", minimum=10)
    if n_train + n_val > 5000:
        raise ValueError(f"n_train + n_val must be at most 5000 (the mnist5k sample); got {n_train + n_val}")
    key = (n_train, n_val)
    if key not in _SMALL:
        X, y = _data.load("mnist5k")
        rest = 1 - (n_train + n_val) / 5000
        fractions = (n_train / 5000, n_val / 5000) + ((rest,) if rest > 1e-9 else ())
        parts = _data.split(X, y, fractions, rng=0)
        X_train, X_val = _data.normalize(parts[0][0], parts[1][0])
        _SMALL[key] = ((X_train, parts[0][1]), (X_val, parts[1][1]))
    return _SMALL[key]


def train_small(lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 5e-4, keep: float = 0.75,
                epochs: int = 3, augment: bool = True, n_train: int = 2000, n_val: int = 500, seed: int = 0):
    """Train a one-convolution network (:func:`cnn` with widths (8,)) on :func:`small_data`.

    Returns:
        ``(history, error)``: the :class:`cnnlab.train.History` and None, or None and the
        divergence message when the loss became NaN or inf.
    """
    train, val = small_data(n_train, n_val)
    model = cnn((8,), keep=keep, rng=seed)
    knobs = RECIPE.replace(lr=lr, momentum=momentum, weight_decay=weight_decay, epochs=epochs,
                           step_size=0, patience=0, crop_pad=2 if augment else 0)
    try:
        return fit_recipe(model, train, val, knobs, rng=seed), None
    except FloatingPointError as err:
        return None, str(err)


def verdict(history) -> str:
    """One line on a finished run: accuracies (3 significant digits) and what they suggest."""
    if history is None or not history.train_acc:
        return "no run yet"
    train_acc, val_acc = history.train_acc[-1], history.val_acc[-1]
    head = (f"after {history.epochs} epoch(s): training accuracy {train_acc:.3g}, "
            f"validation accuracy {val_acc:.3g}, validation loss {history.val_loss[-1]:.3g}")
    if history.train_loss[-1] > math.log(10) * 1.05:
        advice = ("the training loss is worse than guessing (ln 10 = 2.3 for 10 classes): the steps are "
                  "far too large; lower the learning rate (or the momentum)")
    elif val_acc < 0.5:
        advice = "learning slowly: raise the learning rate, train longer, or use less weight decay"
    elif history.epochs >= 2 and history.val_loss[-1] > min(history.val_loss) * 1.1:
        advice = "the validation loss went up again: overfitting or too large steps; stop earlier or decay the rate"
    elif train_acc > val_acc + 0.05:
        advice = "training accuracy well above validation: overfitting; more dropout, weight decay or augmentation"
    elif val_acc > train_acc + 0.02:
        advice = "validation above training: dropout and augmentation make training harder than testing"
    else:
        advice = "training and validation agree: more epochs or a larger model could still help"
    return f"{head}. {advice}."


def _knobs_text(values: dict) -> str:
    return (f"lr {values['lr']:.3g}, momentum {values['momentum']:.2f}, weight decay "
            f"{values['weight_decay']:g}, keep {values['keep']:.2f}, {values['epochs']} epoch(s), "
            f"crops {'on' if values['augment'] else 'off'}")


def draw(lr: float, momentum: float, weight_decay: float, keep: float, epochs: int, augment: bool,
         n_train: int = 2000, n_val: int = 500):
    """What the Train button shows: ``(figure, html)``, the curves of :func:`train_small` with
    these knobs and its :func:`verdict`; ``(None, the error)`` when the loss diverged."""
    from ..plot import curves  # matplotlib loads only when something is drawn

    knobs = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "keep": keep, "epochs": epochs,
             "augment": augment}
    history, error = train_small(n_train=n_train, n_val=n_val, **knobs)
    if history is None:
        return None, f"<b>{_knobs_text(knobs)}</b>: <span style='color:#c00'>{error}</span>"
    return curves(history, title=_knobs_text(knobs)), f"<b>{_knobs_text(knobs)}</b>: {verdict(history)}"


def _status(values: dict, state: str) -> str:
    """The text between two runs: ``state`` is "changed", "same" (as last trained) or "drawing"."""
    if state == "drawing":
        return f"training with {_knobs_text(values)} ..."
    stale = "" if state == "same" else " \u2014 press <b>Train</b> to try these knobs"
    return f"<b>knobs:</b> {_knobs_text(values)}{stale}"


def explorer(n_train: int = 2000, n_val: int = 500, epochs: int = 3, train_now: bool = True):
    """Sliders for the knobs of the recipe and a button that trains a small CNN with them.

    Knobs: learning rate, momentum, weight decay, dropout keep probability, epochs, and
    random-crop augmentation on or off. Moving a knob only updates the status line; the
    **Train** button trains a one-convolution network on ``n_train`` images of the MNIST
    sample (a few seconds) and shows its curves and :func:`verdict` (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`; ``.controls`` holds
        the knobs by name, ``.button`` the button.
    """
    import ipywidgets as widgets

    style = {"description_width": "110px"}
    controls = {
        "lr": widgets.FloatLogSlider(value=RECIPE.lr, base=10, min=-3, max=0.5, step=0.1,
                                     description="learning rate", readout_format=".2g", style=style),
        "momentum": widgets.FloatSlider(value=RECIPE.momentum, min=0.0, max=0.99, step=0.01,
                                        description="momentum", style=style),
        "weight_decay": widgets.SelectionSlider(options=[0.0, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2],
                                                value=RECIPE.weight_decay, description="weight decay",
                                                style=style),
        "keep": widgets.FloatSlider(value=0.75, min=0.1, max=1.0, step=0.05, description="keep (dropout)",
                                    style=style),
        "epochs": widgets.IntSlider(value=epochs, min=1, max=10, description="epochs", style=style),
        "augment": widgets.Checkbox(value=True, description="random crops", style=style),
    }
    names = list(controls)
    panel = widgets.HBox([widgets.VBox([controls[n] for n in names[:3]]),
                          widgets.VBox([controls[n] for n in names[3:]])])
    box = explore(controls, functools.partial(draw, n_train=n_train, n_val=n_val), panel=panel,
                  image_layout={"max_width": "760px"}, button="Train", status=_status)
    if train_now:
        box.redraw()
    return box
