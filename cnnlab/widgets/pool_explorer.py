"""Pooling explorer (lesson 06): pool size, stride, max or average, and where the gradient goes.

Max-pooling keeps the largest value of each window; its backward pass sends each window's
upstream gradient to the one position that held that maximum (the argmax stored in the
forward pass). With ``stride < size`` the windows overlap, a position can be the maximum of
several windows, and the gradients it receives add up. Average pooling instead spreads each
window's gradient evenly, ``1 / size^2`` to every position of the window.

Pure parts (tested without a browser)::

    x = example_input()                                   # (1, 1, 8, 8) small integers, with ties
    g = gradient_routes(x, size=3, stride=2)               # (8, 8): dL/dx when every dL/d(out) is 1
    describe_pooling(8, 3, 2, "max", g)                    # output size, overlap, who gets gradient
    fig = draw_pooling(x, size=3, stride=2, mode="max", highlight=0)
    fig, text = draw(x, 3, 2, "max", window=0)             # what the explorer shows

The widget::

    PoolExplorer(size=2, stride=2)                        # sliders for size and stride, max/avg
"""

from __future__ import annotations

import functools
import html

import numpy as np
from matplotlib.figure import Figure

from .. import _checks, backend
from ..conv import arithmetic
from ..plot import enable_notebook_display
from ..pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from ._explore import explore
from .conv_explorer import fit_window_slider

__all__ = ["PoolExplorer", "describe_pooling", "draw", "draw_pooling", "example_input", "gradient_routes"]

enable_notebook_display()  # IPython shows the Figures returned here as images

_MODES = ("max", "avg")
_WINDOW = "#2166ac"
_ARGMAX = "#b2182b"


def example_input(n: int = 8, seed: int = 0):
    """A (1, 1, n, n) float64 feature map of small integers 0..9 (so windows often hold ties)."""
    n = _checks.integer(n, "n", minimum=1)
    values = np.random.default_rng(seed).integers(0, 10, size=(1, 1, n, n))
    return values.astype(np.float64)


def _mode(mode: str) -> str:
    if mode not in _MODES:
        raise ValueError(f"mode must be 'max' or 'avg'; got {mode!r}")
    return mode


def _square_map(x):
    _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
    if x.shape[:2] != (1, 1) or x.shape[2] != x.shape[3]:
        raise ValueError(f"x must be one square map of shape (1, 1, n, n); got {tuple(x.shape)}")
    return x


def _forward(x, size: int, stride: int, mode: str):
    forward = maxpool2d_forward if _mode(mode) == "max" else avgpool2d_forward
    return forward(x, size=size, stride=stride)


def gradient_routes(x, size: int, stride: int, mode: str = "max"):
    """dL/dx (n, n) for a pooling layer whose every output has upstream gradient 1.

    For max-pooling entry (r, c) counts the windows whose maximum sits at (r, c); for
    average pooling it is (number of windows containing (r, c)) / size^2. Computed with
    cnnlab's own pooling backward, so it is exactly what a network would do.
    """
    _square_map(x)
    out, cache = _forward(x, size, stride, mode)
    backward = maxpool2d_backward if mode == "max" else avgpool2d_backward
    xp = backend.get_array_module(out)
    return backend.asnumpy(backward(xp.ones_like(out), cache))[0, 0]


def describe_pooling(n: int, size: int, stride: int, mode: str, routes) -> list[str]:
    """Plain-text lines: output size, overlap or gaps, and how the gradient is spread."""
    a = arithmetic(n, size, stride, 0)
    name = "max" if _mode(mode) == "max" else "average"
    lines = [f"{name}-pooling a {n}x{n} map with {size}x{size} windows, stride {stride}"]
    if not a.fits:
        return lines + [f"The window ({size}x{size}) is larger than the {n}x{n} input: no output."]
    lines.append(f"output size = floor((n - size) / stride) + 1 = floor(({n} - {size}) / {stride}) + 1 "
                 f"= {a.out}, so the output is {a.out}x{a.out}")
    if stride < size:
        lines.append(f"stride {stride} < size {size}: neighbouring windows overlap by {size - stride} "
                     f"row(s)/column(s), so one input can feed several windows")
    elif stride == size:
        lines.append("stride = size: the windows tile the input without overlapping")
    else:
        lines.append(f"stride {stride} > size {size}: {stride - size} row(s)/column(s) between windows "
                     f"are never looked at")
    if a.leftover:
        lines.append(f"the last {a.leftover} row(s) and column(s) are left over: no window reaches them")
    routes = np.asarray(routes)
    receiving = int((routes != 0).sum())
    if mode == "max":
        most = int(round(float(routes.max())))
        lines.append(f"backward: each window sends its gradient to its argmax only; {receiving} of "
                     f"{n * n} inputs receive gradient, the others get exactly 0")
        if most > 1:
            lines.append(f"one input is the maximum of {most} windows: its gradients are added (+=), "
                         f"not overwritten")
    else:
        lines.append(f"backward: each window gives 1/{size * size} = {1 / (size * size):.3g} of its gradient "
                     f"to every one of its {size * size} inputs; {receiving} of {n * n} inputs receive some")
    return lines


def _cells(ax, values, fmt, colours=None, cmap=None, vmax=None) -> None:
    """A grid of numbered squares, row 0 at the top; colour from ``colours`` or a colormap."""
    from matplotlib.patches import Rectangle

    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            if colours is not None:
                face = colours[r][c]
            else:
                face = cmap(float(v) / vmax) if vmax else "#ffffff"
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=face, edgecolor="#808080", lw=0.6))
            ax.text(c + 0.5, r + 0.5, fmt(v), ha="center", va="center", fontsize=8)
    ax.set_xlim(-0.2, cols + 0.2)
    ax.set_ylim(rows + 0.2, -0.2)
    ax.set_aspect("equal")
    ax.axis("off")


def _chosen_position(x, size: int, stride: int, window: tuple[int, int]) -> tuple[int, int]:
    """Where max-pool's backward sends the gradient of output ``window`` (ties broken as cnnlab does)."""
    out, cache = maxpool2d_forward(x, size=size, stride=stride)
    xp = backend.get_array_module(out)
    dout = xp.zeros_like(out)
    dout[0, 0, window[0], window[1]] = 1.0
    dx = backend.asnumpy(maxpool2d_backward(dout, cache))[0, 0]
    r, c = np.argwhere(dx != 0)[0]
    return int(r), int(c)


def draw_pooling(x, size: int, stride: int, mode: str = "max", highlight: int | None = 0, fig=None):
    """Figure: input with one window (and its argmax), the pooled output, and dL/dx for dL/d(out) = 1.

    Args:
        x: (1, 1, n, n) feature map (see :func:`example_input`).
        size, stride: pooling window and stride.
        mode: "max" or "avg".
        highlight: index of the window to highlight, row-major over the output (None: none).
        fig: a Figure to draw into (cleared first); a new one when None.

    Returns:
        the Figure (without pyplot). In the right panel each number is the gradient an input
        receives: max-pool counts how many windows chose it, average pooling spreads 1/size^2.
    """
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    _square_map(x)
    n = x.shape[2]
    a = arithmetic(n, size, stride, 0)
    if not a.fits:
        raise ValueError(f"size must be at most the input size {n}; got {size}")
    out, _ = _forward(x, size, stride, mode)
    routes = gradient_routes(x, size, stride, mode)
    host = backend.asnumpy(x)[0, 0]
    if fig is None:
        fig = Figure(figsize=(9.6, 3.6))
    fig.clear()
    ax_in, ax_out, ax_grad = fig.subplots(1, 3, gridspec_kw={"width_ratios": [n, max(a.out, 1) + 1, n]})
    # Every position some window chose as its maximum, lightly tinted.
    chosen = routes > 0 if mode == "max" else np.zeros_like(routes, dtype=bool)
    colours = [["#fddbc7" if chosen[r, c] else "#ffffff" for c in range(n)] for r in range(n)]
    hi = None
    if highlight is not None:
        highlight = _checks.integer(highlight, "highlight", minimum=0)
        if highlight >= a.out * a.out:
            raise ValueError(f"highlight must be a window index in 0..{a.out * a.out - 1}; got {highlight}")
        hi = divmod(highlight, a.out)
    _cells(ax_in, host, lambda v: f"{v:.0f}", colours=colours)
    if hi is not None:
        r0, c0 = hi[0] * stride, hi[1] * stride
        ax_in.add_patch(Rectangle((c0, r0), size, size, fill=False, edgecolor=_WINDOW, lw=2.6))
        if mode == "max":
            r, c = _chosen_position(x, size, stride, hi)
            ax_in.add_patch(Rectangle((c + 0.08, r + 0.08), 0.84, 0.84, fill=False, edgecolor=_ARGMAX, lw=2.0))
    ax_in.set_title("input (window and its max)" if mode == "max" else "input (window)", fontsize=9)
    pooled = backend.asnumpy(out)[0, 0]
    out_colours = [["#d1e5f0" if (r, c) == hi else "#f7f7f7" for c in range(a.out)] for r in range(a.out)]
    _cells(ax_out, pooled, (lambda v: f"{v:.0f}") if mode == "max" else (lambda v: f"{v:.2f}"),
           colours=out_colours)
    ax_out.set_title(f"{mode}-pool output {a.out}x{a.out}", fontsize=9)
    vmax = float(routes.max()) or 1.0
    _cells(ax_grad, routes, (lambda v: f"{v:.0f}") if mode == "max" else (lambda v: f"{v:.2f}" if v else "0"),
           cmap=colormaps["Oranges"], vmax=vmax * 1.6)
    ax_grad.set_title("dL/dx when every dL/d(out) = 1", fontsize=9)
    return fig


# --- the widget -----------------------------------------------------------------------------


def draw(x, size: int, stride: int, mode: str, window: int = 0):
    """What the explorer shows for these control values and the feature map ``x``:
    ``(figure, html)``, :func:`draw_pooling` with window ``window`` highlighted and the lines of
    :func:`describe_pooling`."""
    lines = describe_pooling(x.shape[2], size, stride, mode, gradient_routes(x, size, stride, mode))
    body = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:])
    text = f"<div style='font-size:13px'><b>{html.escape(lines[0])}</b><ul>{body}</ul></div>"
    return draw_pooling(x, size, stride, mode, window), text


def _follow_geometry(n: int, controls: dict) -> None:
    """The explorer's ``adjust``: the window slider follows the size and stride on an n x n map."""
    fit_window_slider(controls["window"], arithmetic(n, controls["size"].value, controls["stride"].value, 0))


def PoolExplorer(size: int = 2, stride: int = 2, mode: str = "max", n: int = 8, seed: int = 0):
    """Sliders for pool size and stride, a max/avg switch, and the window to highlight, over the
    feature map :func:`example_input` ``(n, seed)``; the figure and the text follow them
    (:func:`draw`).

    Named like a class because lesson 06 makes one; it returns the widget.

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (the IntSliders ``size``, ``stride`` and ``window``, the ToggleButtons ``mode``) and
        ``.figure``.
    """
    import ipywidgets as w

    n = _checks.integer(n, "n", minimum=2)
    size = _checks.integer(size, "size", minimum=1)
    stride = _checks.integer(stride, "stride", minimum=1)
    if size > n:
        raise ValueError(f"size must be at most n = {n}; got {size}")
    x = example_input(n, seed)
    style = {"description_width": "90px"}
    controls = {
        "size": w.IntSlider(value=size, min=1, max=min(n, 5), description="pool size", style=style,
                            continuous_update=False),
        "stride": w.IntSlider(value=stride, min=1, max=max(5, stride), description="stride", style=style,
                              continuous_update=False),
        "mode": w.ToggleButtons(options=[("max", "max"), ("average", "avg")], value=_mode(mode),
                                description="pooling", style=style),
        "window": w.IntSlider(value=0, min=0, max=0, description="window #", style=style, continuous_update=False),
    }
    box = explore(controls, functools.partial(draw, x), beside=True,
                  adjust=functools.partial(_follow_geometry, n))
    box.text.layout.width = "480px"
    return box
