"""Lesson 11: what dropout does to a layer's activations, the ensemble it averages, and an
explorer for the keep probability.

::

    import cnnlab as cl
    dw = cl.widgets.dropout
    h = dw.hidden_activations()                    # ReLU activations of real digits, (N, 128)
    dw.mode_stats(h, keep=0.5, inverted=True)      # training-mode vs test-mode statistics
    dw.histogram_figure(h, keep=0.5)               # their distributions
    dw.ensemble_average(h[:1, :10], W, b, 0.5)     # all 2^10 thinned nets of a softmax layer
    dw.explorer()                                  # a keep slider and a convention switch

The computations are plain functions of NumPy arrays; masks come from ``cl.F.dropout_forward``
with an explicit generator, so every number is reproducible. :func:`explorer` wires :func:`draw`
to ipywidgets.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .. import _checks, backend, data
from .. import functional as F
from ._explore import explore

__all__ = ["draw", "ensemble_average", "explorer", "hidden_activations", "histogram_figure", "mode_stats",
           "softmax"]

# Beyond this many units the 2^n thinned nets are too many to enumerate.
_MAX_ENSEMBLE_UNITS = 16


@functools.lru_cache(maxsize=1)
def _digit_pixels():
    X, _ = data.load("digits8x8")
    flat = X.reshape(len(X), -1).astype(np.float64)
    return flat - flat.mean(axis=0)  # centred pixels: a layer's typical input


def hidden_activations(n: int = 256, units: int = 128, seed: int = 0) -> np.ndarray:
    """ReLU activations of a hidden layer on real inputs.

    The first ``n`` images of ``digits8x8`` (64 centred pixels each) go through a fully
    connected layer with ``units`` outputs, He-initialised from ``seed``, and a ReLU.

    Returns:
        (n, units) float64 array, about half of it exactly 0 (the ReLU's work).
    """
    pixels = _digit_pixels()
    n = _checks.integer(n, "n", minimum=1)
    if n > len(pixels):
        raise ValueError(f"n must be at most {len(pixels)}, the number of digits8x8 images; got {n}")
    units = _checks.integer(units, "units", minimum=1)
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((units, pixels.shape[1])) * np.sqrt(2.0 / pixels.shape[1])
    return np.maximum(pixels[:n] @ W.T, 0.0)


def mode_stats(h, keep: float, inverted: bool = True, seed: int = 0) -> dict:
    """Statistics of dropout applied to activations ``h`` in training and in test mode.

    Args:
        h: array of activations, any shape.
        keep: probability of keeping a unit, in (0, 1].
        inverted: the convention (see ``cl.F.dropout_forward``).
        seed: seed of the training-mode mask.

    Returns:
        dict of floats: ``kept`` (fraction of units kept by the mask), ``train_mean`` and
        ``test_mean`` (mean activation in each mode), ``train_std`` and ``test_std``, and
        ``expected_train_mean``, what the mean should be in expectation: mean(h) when
        inverted, keep * mean(h) otherwise (equal to ``test_mean`` in both conventions).
    """
    train_out, (scale, _) = F.dropout_forward(h, keep, train=True, rng=np.random.default_rng(seed),
                                              inverted=inverted)
    test_out, _ = F.dropout_forward(h, keep, train=False, inverted=inverted)
    expected = float(h.mean()) * (1.0 if inverted else float(keep))
    return {
        "kept": float((scale != 0).mean()),
        "train_mean": float(train_out.mean()), "test_mean": float(test_out.mean()),
        "train_std": float(train_out.std()), "test_std": float(test_out.std()),
        "expected_train_mean": expected,
    }


def _describe(stats: dict, keep: float, inverted: bool) -> str:
    """The explorer's text line (3 significant digits)."""
    form = "inverted (\u00f7 keep in training)" if inverted else "the classic form (\u00d7 keep at test)"
    return (f"keep {keep:.2f}, {form}: the mask kept {stats['kept']:.3g} of the units; "
            f"mean activation in training {stats['train_mean']:.3g}, at test {stats['test_mean']:.3g}; "
            f"spread (std) in training {stats['train_std']:.3g}, at test {stats['test_std']:.3g}")


def histogram_figure(h, keep: float = 0.5, inverted: bool = True, seed: int = 0):
    """Histograms of the activations after dropout in training mode and in test mode.

    Zeros (from the ReLU or the mask) are left out of the bars and counted in the legend;
    vertical lines mark the two means. Returns a Figure.
    """
    from matplotlib.figure import Figure

    h = backend.asnumpy(h)  # drawn on the host, wherever the activations live
    train_out, _ = F.dropout_forward(h, keep, train=True, rng=np.random.default_rng(seed), inverted=inverted)
    test_out, _ = F.dropout_forward(h, keep, train=False, inverted=inverted)
    top = float(max(train_out.max(), test_out.max(), 1e-12))
    bins = np.linspace(0.0, top, 41)[1:]  # zero gets no bar: it has a line of its own
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for values, colour, name in ((train_out, "tab:orange", "training mode"), (test_out, "tab:blue", "test mode")):
        zeros = float((values == 0).mean())
        ax.hist(values[values > 0], bins=np.concatenate([[1e-12], bins]), histtype="step", lw=1.8,
                color=colour, label=f"{name}: {zeros:.0%} zeros, mean {values.mean():.3g}")
        ax.axvline(values.mean(), color=colour, ls="--", lw=1)
    form = "inverted dropout" if inverted else "the classic form"
    ax.set(xlabel="activation", ylabel="count (non-zero units)", yscale="log",
           title=f"activations after dropout, keep = {keep:.2f}, {form}")
    ax.legend(fontsize=8)
    return fig


# --- the ensemble view ----------------------------------------------------------------------------

def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed from shifted scores (no overflow)."""
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def ensemble_average(h, W, b, keep: float) -> dict:
    """Average the predictions of every thinned version of one softmax layer.

    The layer is ``softmax(W r h + b)`` where the mask ``r`` keeps each of the n input units
    with probability ``keep``: 2^n thinned nets, net r having probability
    keep^|r| (1 - keep)^(n - |r|). Enumerates all of them (n <= 16).

    Args:
        h: (N, n) inputs of the layer. W: (K, n) weights. b: (K,) biases.
        keep: probability of keeping an input unit, in (0, 1].

    Returns:
        dict of (N, K) arrays: ``arithmetic`` (the probability-weighted mean of the nets'
        predictions), ``geometric`` (their weighted geometric mean, renormalised over the K
        classes) and ``scaled`` (the single net with its weights times keep, i.e. the
        classic test-time rule). ``geometric`` equals ``scaled`` exactly, up to rounding.
    """
    h, W, b = (np.asarray(backend.asnumpy(a), dtype=np.float64) for a in (h, W, b))
    _checks.array(h, "h", ndim=2, layout="(N, n)")
    n = h.shape[1]
    if n > _MAX_ENSEMBLE_UNITS:
        raise ValueError(f"h must have at most {_MAX_ENSEMBLE_UNITS} units (2^n nets are enumerated); "
                         f"got shape {h.shape}")
    if W.shape[1:] != (n,) or W.ndim != 2 or b.shape != (W.shape[0],):
        raise ValueError(f"W must have shape (K, {n}) and b shape (K,); got {W.shape} and {b.shape}")
    keep = _checks.real(keep, "keep", low=0.0, high=1.0, low_open=True)
    masks = np.array(list(itertools.product([0.0, 1.0], repeat=n)))  # (2^n, n)
    weights = keep ** masks.sum(axis=1) * (1 - keep) ** (n - masks.sum(axis=1))
    logits = np.einsum("mj,nj,kj->mnk", masks, h, W) + b  # (2^n, N, K): every net, every sample
    probs = softmax(logits)
    arithmetic = np.einsum("m,mnk->nk", weights, probs)
    log_geo = np.einsum("m,mnk->nk", weights, np.log(probs))
    return {"arithmetic": arithmetic, "geometric": softmax(log_geo), "scaled": softmax(h @ (keep * W).T + b)}


# --- the widget ---------------------------------------------------------------------------------

def draw(keep: float, inverted: bool, h=None):
    """What the explorer shows for these control values: ``(figure, html)``, the
    :func:`histogram_figure` of the activations ``h`` (default: :func:`hidden_activations`) and
    the statistics line of :func:`mode_stats`."""
    h = hidden_activations() if h is None else h
    keep = round(keep, 4)  # a slider's 0.1 + 0.05 k, not 0.15000000000000002
    return histogram_figure(h, keep, inverted), _describe(mode_stats(h, keep, inverted), keep, inverted)


def explorer(keep: float = 0.5, inverted: bool = True, h=None):
    """A keep-probability slider and a switch between the two conventions; moving either redraws
    (:func:`draw`) for the activations ``h`` (default: :func:`hidden_activations`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (``keep``, ``inverted``).
    """
    import ipywidgets as widgets

    h = hidden_activations() if h is None else h
    style = {"description_width": "initial"}
    controls = {
        "keep": widgets.FloatSlider(value=keep, min=0.1, max=1.0, step=0.05, description="keep probability p",
                                    readout_format=".2f", continuous_update=False, style=style,
                                    layout=widgets.Layout(width="420px")),
        "inverted": widgets.ToggleButtons(options=[("inverted", True), ("classic form", False)], value=inverted,
                                          description="convention", tooltips=["\u00f7 keep in training",
                                                                              "\u00d7 keep at test time"]),
    }
    return explore(controls, functools.partial(draw, h=h), image_layout={"max_width": "720px"})
