"""The training loop: ``fit`` a model on data, ``evaluate`` it, ``predict`` with it.

::

    import cnnlab as cl
    model = cl.nn.Sequential(cl.nn.Flatten(), cl.nn.Linear(64, 10))
    opt = cl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = cl.train.fit(model, opt, (Xtr, ytr), val=(Xva, yva), epochs=10,
                           schedule=cl.optim.StepLR(opt, step_size=4, gamma=0.1),
                           early_stopping=3, live_plot=True)
    loss, acc = cl.train.evaluate(model, Xte, yte)
    cm = cl.train.confusion(yte, cl.train.predict(model, Xte), n_classes=10)

One epoch of :func:`fit` = one pass over the training data in freshly shuffled minibatches:
for each batch, forward, loss, ``zero_grad``, backward, ``optimizer.step()``; then the
validation set is evaluated (in eval mode, so dropout is off) and the schedule steps once.
Batches are drawn on the NumPy side and moved to the active backend (``backend.xp``) one at a
time, so the data set itself may stay in host memory when training on a GPU.

A :class:`Recipe` holds everything about a run but the model and the data; :data:`RECIPE` is
the capstone's (lesson 12), which its lesson, its ``train_cnn`` check, its explorer and
``benchmarks/capstone.py`` all train with through :func:`fit_recipe`.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import _checks, backend, optim
from . import data as _data
from .functional import softmax_cross_entropy

__all__ = ["History", "RECIPE", "Recipe", "confusion", "evaluate", "fit", "fit_recipe", "predict", "recipe"]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per completed epoch.

    Attributes:
        train_loss, train_acc: mean loss and accuracy over the epoch's training batches
            (measured in training mode, as the weights changed during the epoch).
        val_loss, val_acc: loss and accuracy on the validation set after the epoch (empty
            lists without validation data).
        lr: the learning rate used during the epoch.
        time: seconds the epoch took, validation included.
        best_epoch: 0-based index of the epoch with the lowest validation loss (the first
            one on a tie), or None without validation data.
        stopped_early: True when early stopping ended training before ``epochs``.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    time: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """The number of completed epochs."""
        return len(self.train_loss)

    def as_dict(self) -> dict:
        """Plain lists and values, e.g. for ``json.dump``."""
        return {name: list(value) if isinstance(value, list) else value for name, value in vars(self).items()}

    def __repr__(self) -> str:
        # Rounded, so a notebook's stored output does not depend on the last bits of a float.
        if not self.epochs:
            return "History(0 epochs)"
        parts = [f"{self.epochs} epochs", f"train_loss {self.train_loss[-1]:.3g}",
                 f"train_acc {self.train_acc[-1]:.3g}"]
        if self.val_loss:
            parts += [f"val_loss {self.val_loss[-1]:.3g}", f"val_acc {self.val_acc[-1]:.3g}",
                      f"best_epoch {self.best_epoch}"]
        if self.stopped_early:
            parts.append("stopped early")
        return f"History({', '.join(parts)})"


# --- argument checks ----------------------------------------------------------------------

def _samples(X, y, x_name: str, y_name: str):
    """Check (N, ...) samples X and (N,) integer labels y; return them."""
    _checks.samples(X, y, x_name, y_name)
    if X.shape[0] == 0:
        raise ValueError(f"{x_name} must hold at least one sample; got shape {tuple(X.shape)}")
    return X, y


def _dataset(pair, name: str):
    """Check an ``(X, y)`` pair such as ``train=(X, y)``; return it."""
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair (X, y) of samples and labels; got {type(pair).__name__}")
    return _samples(pair[0], pair[1], f"{name} X", f"{name} y")


def _has_methods(obj, name: str, methods: tuple) -> None:
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if missing:
        raise TypeError(
            f"{name} must have the methods {', '.join(methods)}; {type(obj).__name__} lacks {', '.join(missing)}"
        )


# --- evaluation -----------------------------------------------------------------------------

@contextmanager
def _eval_mode(model):
    """Evaluation mode inside the block, the previous mode (training or not) after it."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _outputs(model, X, batch_size: int):
    """The model's outputs for X, batch by batch in order, computed in evaluation mode."""
    with _eval_mode(model), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, X.shape[0], batch_size):
            yield start, model(backend.asarray(X[start:start + batch_size]))


def evaluate(model, X, y, batch_size: int = 256, loss_fn=softmax_cross_entropy):
    """Mean loss and accuracy of ``model`` on (X, y), in evaluation mode and in batches.

    Args:
        model: a :class:`cnnlab.nn.Module` whose output is (B, K) class scores.
        X: (N, ...) inputs in the model's dtype. y: (N,) integer labels.
        batch_size: samples per forward pass (memory, not results, depends on it).
        loss_fn: ``loss_fn(logits, y) -> (mean loss, dlogits)``.

    Returns:
        ``(loss, accuracy)`` as Python floats; the model's training/eval mode is restored.
    """
    X, y = _samples(X, y, "X", "y")
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    total, correct = 0.0, 0
    for start, logits in _outputs(model, X, batch_size):
        yb = backend.asarray(y[start:start + batch_size])
        loss, _ = loss_fn(logits, yb)
        total += float(loss) * yb.shape[0]
        correct = correct + (logits.argmax(axis=1) == yb).sum()   # summed where computed, read once
    n = X.shape[0]
    return total / n, int(correct) / n


def predict(model, X, batch_size: int = 256):
    """The predicted class (arg-max of the output) of every sample, in evaluation mode.

    Args:
        model: a :class:`cnnlab.nn.Module` whose output is (B, K) class scores.
        X: (N, ...) inputs. batch_size: samples per forward pass.

    Returns:
        (N,) int64 NumPy array of class indices.
    """
    _checks.array(X, "X")
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    labels = [backend.asnumpy(logits.argmax(axis=1)) for _, logits in _outputs(model, X, batch_size)]
    return np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, dtype=np.int64)


def confusion(y_true, y_pred, n_classes: int):
    """Count how often each true class was predicted as each class.

    Args:
        y_true: (N,) true labels in 0..n_classes-1. y_pred: (N,) predicted labels, same range.
        n_classes: K.

    Returns:
        (K, K) int64 array: entry [i, j] counts samples of true class i predicted as j, so the
        diagonal holds the correct predictions and each row sums to that class's size.
    """
    n_classes = _checks.integer(n_classes, "n_classes", minimum=1)
    _checks.array(y_true, "y_true", ndim=1, layout="(N,)")
    y_true = _checks.labels(backend.asnumpy(y_true), "y_true", y_true.shape[0], n_classes)
    y_pred = _checks.labels(backend.asnumpy(_checks.array(y_pred, "y_pred")), "y_pred", y_true.shape[0], n_classes)
    flat = y_true.astype(np.int64) * n_classes + y_pred.astype(np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


# --- training -------------------------------------------------------------------------------

def _diverged(epoch: int, batch: int, lr: float, what: str) -> FloatingPointError:
    return FloatingPointError(
        f"training diverged in epoch {epoch + 1}, batch {batch + 1}: {what}. The learning rate "
        f"(lr={lr:g}) is most likely too large; rebuild the model and try a smaller one "
        f"(e.g. lr={lr / 10:g}). Inputs containing NaN/inf or unnormalised inputs can do this too."
    )


_NON_FINITE = re.compile(r"\b(nan|inf)\b", re.IGNORECASE)


def _train_step(model, optimizer, loss_fn, xb, yb, epoch: int, batch: int):
    """Forward, loss, backward and update on one batch; returns (loss, n_correct), n_correct as a
    0-d array where the model computes (reading it from a GPU would wait for the GPU: fit adds
    the counts up there and reads the sum once per epoch)."""
    # Overflow in a diverging network is detected and explained below, so NumPy's own
    # RuntimeWarnings about it would only be noise before the error.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        logits = model(xb)
        xp = backend.get_array_module(logits)
        if not bool(xp.isfinite(logits).all()):
            raise _diverged(epoch, batch, optimizer.lr, "the network's outputs contain NaN or inf")
        try:
            loss, dlogits = loss_fn(logits, yb)
        except ValueError as err:
            if _NON_FINITE.search(str(err)):  # the loss itself overflowed
                raise _diverged(epoch, batch, optimizer.lr, f"the loss is not finite ({err})") from err
            raise
        if not math.isfinite(float(loss)):
            raise _diverged(epoch, batch, optimizer.lr, f"the loss is {float(loss)}")
        model.zero_grad()
        model.backward(dlogits)
        optimizer.step()
    return float(loss), (logits.argmax(axis=1) == yb).sum()


class _Progress:
    """A tqdm.auto bar over all batches of all epochs (a widget in JupyterLab, text in a terminal).

    Its postfix shows the running training loss and accuracy of the epoch and the last
    validation results."""

    def __init__(self, enabled: bool, total: int, epochs: int):
        self.bar = None
        self.epochs = epochs
        self.last_train, self.last_val = {}, {}
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="batch", leave=True)

    @property
    def shown(self) -> bool:
        """Whether there is a bar to update (building its postfix can cost a read from the GPU)."""
        return self.bar is not None

    def epoch(self, epoch: int) -> None:
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}", refresh=False)

    def batch(self, loss: float, acc: float) -> None:
        self.last_train = {"loss": f"{loss:.3g}", "acc": f"{acc:.3g}"}
        if self.bar is not None:
            self.bar.set_postfix({**self.last_train, **self.last_val}, refresh=False)
            self.bar.update(1)

    def validated(self, loss: float, acc: float) -> None:
        self.last_val = {"val_loss": f"{loss:.3g}", "val_acc": f"{acc:.3g}"}
        if self.bar is not None:
            self.bar.set_postfix({**self.last_train, **self.last_val})

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _LivePlot:
    """Loss/accuracy curves redrawn in place after every epoch, in a notebook only."""

    def __init__(self, enabled: bool):
        self.handle = None
        self.enabled = enabled and _in_notebook()

    def update(self, history: History) -> None:
        if not self.enabled:
            return
        from IPython.display import display

        from . import plot  # also makes bare Figures displayable

        fig = plot.curves(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where a display handle can be updated), False elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def fit(model, optimizer, train, val=None, epochs: int = 1, batch_size: int = 64, schedule=None,
        early_stopping: int | None = None, augment=None, rng=None, progress: bool = True,
        live_plot: bool = False, loss_fn=softmax_cross_entropy) -> History:
    """Train ``model`` with ``optimizer`` on minibatches of ``train`` for some epochs.

    Args:
        model: a :class:`cnnlab.nn.Module` mapping (B, ...) inputs to (B, K) class scores.
        optimizer: e.g. :class:`cnnlab.optim.SGD` over ``model.parameters()`` (``step()``, ``lr``).
        train: ``(X, y)``: (N, ...) inputs in the model's dtype and (N,) integer labels.
        val: optional ``(X_val, y_val)`` evaluated after every epoch.
        epochs: the maximum number of passes over ``train``.
        batch_size: samples per minibatch; the last batch of an epoch may be smaller.
        schedule: optional learning-rate schedule (``StepLR``, ``ExponentialLR``) whose
            ``step()`` is called once after every epoch.
        early_stopping: patience p >= 1: stop once the validation loss has not improved for p
            epochs (an equal loss is not an improvement), then restore the weights of the best
            epoch. Those best weights are restored at the end even when patience never runs
            out. Needs ``val``.
        augment: optional ``augment(x_batch, rng) -> x_batch`` applied to every training batch
            (e.g. :class:`cnnlab.data.Augment`); never to validation data.
        rng: numpy Generator, int seed or None (cnnlab's shared generator): the shuffling and
            the augmentation draw from it, so a seed (with seeded initial weights) repeats a run.
        progress: show a progress bar (tqdm) with the running loss and accuracy.
        live_plot: in a notebook, draw the loss/accuracy curves and update them every epoch.
        loss_fn: ``loss_fn(logits, y) -> (mean loss, dlogits)``.

    Returns:
        A :class:`History`. The model is left in the mode (training or eval) it was in, with the
        ``needs_input_grad`` it had (fit sets it to False while it trains: it never uses dL/dx).

    Raises:
        FloatingPointError when the outputs or the loss become NaN or inf, naming the epoch,
        the batch and the learning rate; TypeError/ValueError for bad arguments.
    """
    _has_methods(model, "model", ("forward", "backward", "zero_grad", "train", "eval", "state_dict",
                                  "load_state_dict"))
    _has_methods(optimizer, "optimizer", ("step",))
    X, y = _dataset(train, "train")
    if val is not None:
        X_val, y_val = _dataset(val, "val")
    epochs = _checks.integer(epochs, "epochs", minimum=1)
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    if schedule is not None:
        _has_methods(schedule, "schedule", ("step",))
    if early_stopping is not None:
        early_stopping = _checks.integer(early_stopping, "early_stopping", minimum=1)
        if val is None:
            raise ValueError("early_stopping needs validation data: pass val=(X_val, y_val)")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable as augment(x, rng); got {type(augment).__name__}")
    gen = backend.as_generator(rng)

    history = History()
    best_loss, best_state = math.inf, None
    was_training = model.training
    needed_input_grad = getattr(model, "needs_input_grad", None)
    n_batches = math.ceil(X.shape[0] / batch_size)
    bar = _Progress(progress, epochs * n_batches, epochs)
    live = _LivePlot(live_plot)
    try:
        # fit never uses the gradient with respect to the data: let the first layer skip it.
        if needed_input_grad is not None:
            model.needs_input_grad = False
        for epoch in range(epochs):
            start = time.perf_counter()
            lr = optimizer.lr
            bar.epoch(epoch)
            model.train()
            total, correct, seen = 0.0, 0, 0
            for b, (xb, yb) in enumerate(_data.batches(X, y, batch_size, rng=gen)):
                if augment is not None:
                    xb = augment(xb, gen)
                xb, yb = backend.asarray(xb), backend.asarray(yb)
                loss, hits = _train_step(model, optimizer, loss_fn, xb, yb, epoch, b)
                total, correct, seen = total + loss * yb.shape[0], correct + hits, seen + yb.shape[0]
                if bar.shown:
                    bar.batch(loss=total / seen, acc=int(correct) / seen)
            history.train_loss.append(total / seen)
            history.train_acc.append(int(correct) / seen)
            history.lr.append(lr)
            stop = False
            if val is not None:
                val_loss, val_acc = evaluate(model, X_val, y_val, max(batch_size, 256), loss_fn)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                if val_loss < best_loss:
                    best_loss, history.best_epoch = val_loss, epoch
                    if early_stopping is not None:
                        best_state = model.state_dict()
                stop = early_stopping is not None and epoch - history.best_epoch >= early_stopping
                bar.validated(val_loss, val_acc)
            if schedule is not None:
                schedule.step()
            history.time.append(time.perf_counter() - start)
            live.update(history)
            if stop:
                history.stopped_early = epoch < epochs - 1
                break
    finally:
        bar.close()
        model.train(was_training)
        if needed_input_grad is not None:
            model.needs_input_grad = needed_input_grad
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


# --- a recipe: everything about a run but the model and the data ------------------------------

@dataclass(frozen=True)
class Recipe:
    """The hyper-parameters of a training run (everything but the architecture).

    Attributes:
        lr: initial learning rate alpha of SGD.
        momentum: mu of the velocity form v = mu v - alpha g.
        weight_decay: a, added to the gradient as a w (L2 with lambda = a).
        batch_size: samples per minibatch.
        epochs: the most passes over the training set.
        step_size, gamma: step decay, lr = lr0 gamma^floor(epoch / step_size) (0: no decay).
        patience: early stopping on the validation loss (0: off).
        crop_pad: augmentation by random crops of the original size from images padded by
            this many pixels, i.e. shifts of up to crop_pad pixels (0: no augmentation).
    """

    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 64
    epochs: int = 5
    step_size: int = 3
    gamma: float = 0.1
    patience: int = 2
    crop_pad: int = 2

    def replace(self, **changes) -> Recipe:
        """A copy with some fields changed: ``RECIPE.replace(epochs=1)``."""
        return dataclasses.replace(self, **changes)


#: The capstone's recipe (a full run). Measured in ``benchmarks/README.md``, "Capstone".
RECIPE = Recipe()


def recipe(fast: bool | None = None) -> Recipe:
    """:data:`RECIPE`, or in fast mode (``fast=None``: :func:`cnnlab.backend.fast_mode`) the same for one epoch."""
    fast = backend.fast_mode() if fast is None else fast
    return RECIPE.replace(epochs=1) if fast else RECIPE


def fit_recipe(model, train, val=None, recipe: Recipe = RECIPE, rng=0, progress: bool = False,
               live_plot: bool = False):
    """Train ``model`` with a :class:`Recipe`: SGD with momentum and weight decay, step decay,
    random-crop augmentation and early stopping on ``val``.

    Args:
        model: a :class:`cnnlab.nn.Module` mapping (B, C, H, W) to (B, K) scores.
        train: ``(X, y)``, X (N, C, H, W) in the model's dtype, y (N,) labels.
        val: optional ``(X_val, y_val)``; early stopping needs it.
        recipe: the hyper-parameters.
        rng: seed or generator for shuffling and augmentation.
        progress, live_plot: as in :func:`fit`.

    Returns:
        the :class:`History`; with early stopping the model holds the weights of
        the best epoch.
    """
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe such as RECIPE.replace(epochs=2); got {type(recipe).__name__}")
    opt = optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                    weight_decay=recipe.weight_decay)
    schedule = optim.StepLR(opt, step_size=recipe.step_size, gamma=recipe.gamma) if recipe.step_size else None
    augment = None
    if recipe.crop_pad:
        height, width = train[0].shape[-2:]
        augment = _data.Augment(_data.RandomCrop((height, width), pad=recipe.crop_pad))
    patience = recipe.patience if recipe.patience and val is not None else None
    return fit(model, opt, train, val=val, epochs=recipe.epochs, batch_size=recipe.batch_size,
               schedule=schedule, early_stopping=patience, augment=augment, rng=rng, progress=progress,
               live_plot=live_plot)
