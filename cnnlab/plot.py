"""Figures for the lessons: images, training curves, filters, feature maps, confusion matrices.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot, so nothing is
left open in pyplot's global list of figures and nothing is drawn twice: make it the last
expression of a notebook cell to show it, or ``fig.savefig(path)`` to keep it::

    import cnnlab as cl
    cl.plot.image_grid(X[:20], y[:20])
    cl.plot.curves(history)

Arrays may be NumPy or CuPy (they are copied to the host for drawing). The lessons add more
figures here: :func:`draw_graph` draws a computation graph of :mod:`cnnlab.autograd` (lesson 03).
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import _checks, backend
from .autograd import Tensor, topological_order

__all__ = ["confusion_matrix", "curves", "draw_graph", "enable_notebook_display", "feature_maps", "filters",
           "image_grid"]

_MAX_PANELS = 256  # beyond this a grid takes long to draw and shows nothing readable


# --- showing Figures in a notebook ----------------------------------------------------------

def figure_png(fig, dpi=None) -> bytes:
    """The figure as PNG bytes (for Image widgets and for IPython's display); ``dpi`` defaults
    to the figure's own."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi or "figure")
    return buffer.getvalue()


def enable_notebook_display() -> bool:
    """Let IPython show a bare ``Figure`` as a PNG (returns True inside IPython).

    IPython knows how to draw a Figure only once pyplot's inline backend has been set up;
    figures made without pyplot would otherwise print as ``<Figure size ... with 1 Axes>``.
    This registers a PNG formatter unless one (or the user's own choice) is there already.
    Called when this module is imported.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    formatters = shell.display_formatter.formatters
    for mime in ("image/png", "image/svg+xml", "application/pdf", "image/jpeg"):
        try:
            formatters[mime].lookup_by_type(Figure)
            return True  # already displayable (e.g. %matplotlib inline ran): keep that setting
        except (KeyError, AttributeError):
            continue
    formatters["image/png"].for_type(Figure, figure_png)
    return True


enable_notebook_display()


# --- helpers ------------------------------------------------------------------------------

def _host(a, name: str) -> np.ndarray:
    """A NumPy copy of an array, a CuPy array or a Parameter (its ``.data``)."""
    if hasattr(a, "data") and backend.is_array(getattr(a, "data")):
        a = a.data
    if isinstance(a, (list, tuple)):
        a = np.asarray(a)
    _checks.array(a, name)
    return backend.asnumpy(a)


def _grid(n: int, ncols: int, panel: float = 1.0, extra_height: float = 0.0):
    """A Figure sized for n panels in rows of ncols, and the (nrows, ncols) it uses."""
    if n > _MAX_PANELS:
        raise ValueError(f"at most {_MAX_PANELS} panels can be drawn; got {n}: pass a slice such as x[:64]")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel * ncols + 0.2, panel * nrows + extra_height + 0.2), layout="constrained")
    return fig, nrows, ncols


def _as_images(images, name: str) -> np.ndarray:
    """(N, H, W) grey or (N, H, W, 3) colour images for imshow, from NHW or NCHW."""
    x = _host(images, name)
    if x.ndim == 3:
        return x
    if x.ndim == 4 and x.shape[1] == 1:
        return x[:, 0]
    if x.ndim == 4 and x.shape[1] == 3:
        return x.transpose(0, 2, 3, 1)
    raise ValueError(
        f"{name} must be (N, H, W) or (N, C, H, W) with C = 1 or 3; got shape {tuple(x.shape)}"
    )


def _unit(x: np.ndarray) -> np.ndarray:
    """Colour values rescaled to [0, 1] together (imshow clips colour images otherwise)."""
    low, high = float(x.min()), float(x.max())
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


def _show(ax, image: np.ndarray, vmin=None, vmax=None, cmap="gray"):
    if image.ndim == 3:
        ax.imshow(image, interpolation="nearest")
    else:
        ax.imshow(image, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


# --- figures ------------------------------------------------------------------------------

def image_grid(images, labels=None, ncols: int = 10, title: str | None = None, predictions=None,
               class_names=None) -> Figure:
    """A grid of images, each titled with its label.

    Args:
        images: (N, H, W) or (N, C, H, W) with C = 1 (grey) or 3 (colour); N <= 256.
        labels: optional (N,) true labels shown above each image.
        ncols: images per row.
        title: optional title of the whole figure.
        predictions: optional (N,) predicted labels: shown as "label→prediction", in red where
            they differ from ``labels``.
        class_names: optional names indexed by label (defaults to the numbers themselves).

    Returns:
        A Figure with one axes per image. Grey images share one grey scale (the minimum and
        maximum over all of them), so brightness can be compared across the grid.
    """
    x = _as_images(images, "images")
    n = x.shape[0]
    ncols = _checks.integer(ncols, "ncols", minimum=1)
    texts = [None] * n
    for arr, arr_name in ((labels, "labels"), (predictions, "predictions")):
        if arr is not None and len(_host(arr, arr_name)) != n:
            raise ValueError(f"{arr_name} must have one entry per image, length {n}; got {len(arr)}")
    name_of = (lambda k: str(class_names[int(k)])) if class_names is not None else (lambda k: str(int(k)))
    if labels is not None:
        texts = [name_of(k) for k in _host(labels, "labels")]
    wrong = [False] * n
    if predictions is not None:
        preds = _host(predictions, "predictions")
        if labels is None:
            texts = [name_of(p) for p in preds]
        else:
            truth = _host(labels, "labels")
            wrong = [int(t) != int(p) for t, p in zip(truth, preds)]
            texts = [f"{name_of(t)}→{name_of(p)}" if w else name_of(t) for t, p, w in zip(truth, preds, wrong)]
    fig, nrows, ncols = _grid(n, ncols, extra_height=0.4 if title else 0.0)
    if x.ndim == 4:
        x = _unit(x)
    vmin, vmax = float(x.min()), float(x.max())
    for i in range(n):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        _show(ax, x[i], vmin, vmax)
        if texts[i] is not None:
            ax.set_title(texts[i], fontsize=9, color="tab:red" if wrong[i] else "black")
    if title:
        fig.suptitle(title)
    return fig


def _series(history, key):
    values = history.get(key) if isinstance(history, dict) else getattr(history, key, None)
    return [] if values is None else [float(v) for v in values]


def curves(history, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, training against validation.

    Args:
        history: a :class:`cnnlab.train.History` or a dict with lists ``train_loss``,
            ``train_acc`` and optionally ``val_loss``, ``val_acc`` (one value per epoch).
        title: optional title of the figure.

    Returns:
        A Figure with two axes: loss (left) and accuracy (right); the best validation epoch,
        when the history records one, is marked with a dotted line.
    """
    train_loss = _series(history, "train_loss")
    if not train_loss:
        raise ValueError("history must hold at least one epoch of train_loss; got none")
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    best = history.get("best_epoch") if isinstance(history, dict) else getattr(history, "best_epoch", None)
    for k, (what, label) in enumerate((("loss", "loss"), ("acc", "accuracy"))):
        ax = fig.add_subplot(1, 2, k + 1)
        for split, style in (("train", "-o"), ("val", "-s")):
            values = _series(history, f"{split}_{what}")
            if values:
                ax.plot(range(1, len(values) + 1), values, style, markersize=3,
                        label="training" if split == "train" else "validation")
        if best is not None:
            ax.axvline(best + 1, color="gray", linestyle=":", label="best epoch")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def filters(weight, ncols: int = 8, title: str | None = "filters") -> Figure:
    """The kernels of a convolution layer as small images.

    Args:
        weight: (F, C, kh, kw) weights, or the layer's weight Parameter. C = 1 gives one grey
            panel per filter, C = 3 one colour panel per filter; any other C gives one panel
            per (filter, channel), a row per filter.
        ncols: panels per row when there is one panel per filter.
        title: title of the figure (None for none).

    Returns:
        A Figure with F axes (F * C when C is not 1 or 3). Each panel is scaled on its own,
        symmetric around 0 for grey panels (mid-grey is zero, dark negative, light positive).
    """
    w = _host(weight, "weight")
    if w.ndim != 4:
        raise ValueError(f"weight must be a 4-D array (F, C, kh, kw); got shape {tuple(w.shape)}")
    F, C = w.shape[:2]
    if C == 3:
        panels = [_unit(f.transpose(1, 2, 0)) for f in w]
    elif C == 1:
        panels = list(w[:, 0])
    else:
        panels = [w[f, c] for f in range(F) for c in range(C)]
        ncols = C
    fig, nrows, ncols = _grid(len(panels), _checks.integer(ncols, "ncols", minimum=1),
                              extra_height=0.4 if title else 0.0)
    for i, panel in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        limit = float(np.abs(panel).max()) or 1.0
        _show(ax, panel, -limit, limit)
    if title:
        fig.suptitle(title)
    return fig


def feature_maps(maps, ncols: int = 8, title: str | None = "feature maps") -> Figure:
    """The channels of one image's activations, one panel per channel.

    Args:
        maps: (C, H, W) activations of one image, or (1, C, H, W) (a batch of one).
        ncols: panels per row.
        title: title of the figure (None for none).

    Returns:
        A Figure with C axes, each channel scaled on its own (viridis colour map).
    """
    m = _host(maps, "maps")
    if m.ndim == 4 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(
            f"maps must be one image's activations (C, H, W) or (1, C, H, W); got shape {tuple(m.shape)} "
            "(for a batch, pass maps[i] or maps[i:i+1])"
        )
    fig, nrows, ncols = _grid(m.shape[0], _checks.integer(ncols, "ncols", minimum=1),
                              extra_height=0.4 if title else 0.0)
    for c in range(m.shape[0]):
        ax = fig.add_subplot(nrows, ncols, c + 1)
        _show(ax, m[c], cmap="viridis")
        ax.set_title(str(c), fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix(cm, class_names=None, title: str | None = "confusion matrix") -> Figure:
    """A confusion matrix as a heat map with the count in every cell.

    Args:
        cm: (K, K) counts, rows the true class and columns the predicted class (as returned
            by :func:`cnnlab.train.confusion`).
        class_names: optional K names for the ticks (default 0..K-1).
        title: title of the axes (None for none).

    Returns:
        A Figure with one axes.
    """
    m = _host(cm, "cm")
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square (K, K) matrix; got shape {tuple(m.shape)}")
    k = m.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names must have {k} entries, one per row of cm; got {len(names)}")
    size = min(10.0, 1.5 + 0.5 * k)
    fig = Figure(figsize=(size, size), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues", interpolation="nearest")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    threshold = m.max() / 2 if m.size else 0
    integral = np.issubdtype(m.dtype, np.integer)
    for i in range(k):
        for j in range(k):
            text = f"{int(m[i, j])}" if integral else f"{m[i, j]:.2g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if m[i, j] > threshold else "black")
    return fig


# --- computation graphs (lesson 03, cnnlab.autograd) ----------------------------------------

def _fmt(value) -> str:
    return f"{float(value):#.3g}"


def _tensor_label(t: Tensor, show_grad: bool) -> str:
    lines = [t.name] if t.name else []
    lines.append(_fmt(t.data.item()) if t.size == 1 else str(t.shape))
    if show_grad and t.grad is not None:
        if t.size == 1:
            lines.append(f"grad {_fmt(t.grad.item())}")
        else:  # an array gradient does not fit in a box: its size tells whether it flows
            xp = backend.get_array_module(t.grad)
            lines.append(f"|grad| {_fmt(xp.sqrt((t.grad.astype(np.float64) ** 2).sum()))}")
    return "\n".join(lines)


def _layout(nodes: list) -> tuple[dict, int, int]:
    """Where to draw each tensor and op: ``{("tensor" or "op", id): (column, row)}``.

    A computed tensor whose longest path from a leaf has d steps sits in column 2d, the op that
    made it in column 2d - 1; a leaf sits just left of the first op that uses it (so a bias
    deep in a network is drawn beside its layer, not at the far left). Rows: within a column,
    nodes start in topological order, then one sweep to the right and one back sort them by the
    mean row of their neighbours (the barycentre heuristic), which uncrosses most arrows.

    Returns the positions, the number of columns and the largest number of rows.
    """
    depth, users = {}, {}
    for t in nodes:  # topological order: the inputs' depths are known
        depth[id(t)] = 1 + max((depth[id(i)] for i in t.inputs), default=-1)
        for i in t.inputs:
            users.setdefault(id(i), []).append(t)
    column = {}
    for t in nodes:
        if t.inputs:
            column[("op", id(t))] = 2 * depth[id(t)] - 1
            column[("tensor", id(t))] = 2 * depth[id(t)]
        else:
            column[("tensor", id(t))] = min((2 * depth[id(u)] - 2 for u in users.get(id(t), ())),
                                            default=0)
    left, right = {k: [] for k in column}, {k: [] for k in column}
    for t in nodes:
        for i in t.inputs:
            left[("op", id(t))].append(("tensor", id(i)))
            right[("tensor", id(i))].append(("op", id(t)))
        if t.inputs:
            left[("tensor", id(t))].append(("op", id(t)))
            right[("op", id(t))].append(("tensor", id(t)))
    columns = {}
    for key, c in column.items():
        columns.setdefault(c, []).append(key)
    row = {key: r for keys in columns.values() for r, key in enumerate(keys)}
    for neighbours, order in ((left, sorted(columns)), (right, sorted(columns, reverse=True))):
        for c in order:
            keys = columns[c]
            keys.sort(key=lambda k: float(np.mean([row[n] for n in neighbours[k]]))
                      if neighbours[k] else row[k])
            row.update((key, r) for r, key in enumerate(keys))
    positions = {key: (c, (len(columns[c]) - 1) / 2 - row[key]) for key, c in column.items()}
    return positions, max(columns) + 1, max(len(keys) for keys in columns.values())


def draw_graph(root: Tensor, show_grad: bool = True, ax=None):
    """Draw the computation graph of ``root`` with matplotlib, inputs on the left.

    Tensors are boxes showing the name, the shape (or the value, for one number) and, when
    ``show_grad`` and a backward pass has filled it, the gradient (its norm for arrays). Leaves
    that require a gradient are green, constants grey, computed tensors blue; each op is a
    small circle between its inputs and its result. Readable up to about 30 tensors.

    Args:
        root: the tensor whose graph to draw (usually a loss).
        show_grad: also show gradients.
        ax: a matplotlib Axes to draw into; by default a new figure is made.

    Returns:
        the ``matplotlib.figure.Figure`` (made without pyplot, so nothing is left open). In
        Jupyter it shows as a picture when it is the cell's last value, or with ``display(fig)``
        (see :func:`enable_notebook_display`); ``fig.savefig(path)`` keeps it.
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"root must be a Tensor; got {type(root).__name__}")
    nodes = topological_order(root)
    position, n_cols, n_rows = _layout(nodes)
    if ax is None:
        fig = Figure(figsize=(min(2.0 + 1.5 * n_cols, 20), min(1.0 + 0.9 * n_rows, 14)))
        ax = fig.add_subplot()
    fig = ax.figure
    ax.set_axis_off()
    ax.set_xlim(-0.7, n_cols - 0.3)
    ax.set_ylim(-(n_rows + 1) / 2, (n_rows + 1) / 2)
    fontsize = 9 if len(nodes) <= 15 else 7

    artists = {}
    for t in nodes:
        x, y = position[("tensor", id(t))]
        colour = "#d4edda" if t.is_leaf and t.requires_grad else "#e9ecef" if t.is_leaf else "#dbe9f6"
        artists[("tensor", id(t))] = ax.text(
            x, y, _tensor_label(t, show_grad), ha="center", va="center", fontsize=fontsize,
            bbox=dict(boxstyle="round,pad=0.3", facecolor=colour, edgecolor="#555555"))
        if t.inputs:
            x, y = position[("op", id(t))]
            artists[("op", id(t))] = ax.text(
                x, y, t.op, ha="center", va="center", fontsize=fontsize - 1, style="italic",
                bbox=dict(boxstyle="circle,pad=0.3", facecolor="#fff3cd", edgecolor="#555555"))

    def connect(source, target):
        # Coordinates relative to the two text boxes: from the right edge of one to the left
        # edge of the other, whatever the size of the labels. An arrow that skips columns
        # bends, so that it passes beside the boxes in between rather than through them.
        skips = position[target][0] - position[source][0] > 1
        ax.annotate("", xy=(0, 0.5), xycoords=artists[target], xytext=(1, 0.5),
                    textcoords=artists[source],
                    arrowprops=dict(arrowstyle="-|>", color="#444444", shrinkA=1, shrinkB=1, lw=0.8,
                                    connectionstyle=f"arc3,rad={-0.25 if skips else 0}"))

    for t in nodes:
        if t.inputs:
            for i in t.inputs:
                connect(("tensor", id(i)), ("op", id(t)))
            connect(("op", id(t)), ("tensor", id(t)))
    return fig
