"""Convolution arithmetic explorer (lesson 04): input size, kernel, stride and padding.

Along one spatial axis a convolution with kernel ``k``, stride ``s`` and zero padding ``p``
slides its window over the padded input of length ``n + 2p``. Window ``i`` covers the padded
positions ``i*s .. i*s + k - 1``; there are ``floor((n + 2p - k) / s) + 1`` windows, and the
``(n + 2p - k) mod s`` positions after the last window are never read (the stride does not
*cover* the input). The same holds for rows and columns, so the figures draw a square input.

The arithmetic itself is :func:`cnnlab.conv.arithmetic` (lesson 04 reaches it here too). Pure
parts (tested without a browser)::

    a = arithmetic(7, 3, stride=2, pad=1)       # Arithmetic(out=4, leftover=0, ...)
    describe(a)                                 # the formula filled in, and what is not covered
    fig = draw_windows(7, 3, stride=2, pad=1, highlight=5)
    fig = draw_window_steps(5, 3, stride=2, pad=1)
    fig, text = draw(7, 3, 2, 1, window=5)      # what the explorer shows

The widget (needs ipywidgets; moving any slider redraws the figure and rewrites the text)::

    ConvExplorer(n=7, k=3, stride=2, pad=1)     # displays in JupyterLab
"""

from __future__ import annotations

import html
import math

from matplotlib.figure import Figure

from .. import _checks
from ..conv import Arithmetic, arithmetic
from ..plot import enable_notebook_display
from ._explore import explore

__all__ = ["ConvExplorer", "arithmetic", "describe", "draw", "draw_window_steps", "draw_windows",
           "fit_window_slider"]

enable_notebook_display()  # IPython shows the Figures returned here as images

# Colours shared by the figures: one meaning each, the same in every panel.
_PAD = "#d9d9d9"        # zero padding
_INPUT = "#ffffff"      # the real input
_LEFTOVER = "#f4a582"   # positions no window reads
_WINDOW = "#2166ac"     # the highlighted window
_OTHERS = "#92c5de"     # where the other windows start


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def describe(a: Arithmetic) -> list[str]:
    """Plain-text lines: the output-size formula filled in, then what the windows miss."""
    numerator = a.n + 2 * a.pad - a.k
    lines = [f"input n = {a.n}, kernel k = {a.k}, stride s = {a.stride}, padding p = {a.pad}; "
             f"padded input n + 2p = {a.padded}"]
    if not a.fits:
        lines.append(f"The kernel does not fit: k = {a.k} is larger than the padded input "
                     f"n + 2p = {a.padded}, so there is no window at all "
                     f"(conv_output_size raises ValueError). Make the kernel smaller or pad more.")
        return lines
    lines.append(f"w_out = floor((n + 2p - k) / s) + 1 = floor(({a.n} + 2*{a.pad} - {a.k}) / {a.stride}) + 1 "
                 f"= floor({numerator} / {a.stride}) + 1 = {numerator // a.stride} + 1 = {a.out}")
    lines.append(f"The output is {a.out} x {a.out} per filter "
                 f"({'the same size as' if a.out == a.n else 'smaller than' if a.out < a.n else 'larger than'}"
                 f" the {a.n} x {a.n} input).")
    if a.covers:
        lines.append(f"The stride covers the input: (n + 2p - k) = {numerator} is a multiple of "
                     f"s = {a.stride}, so the last window ends exactly at the last padded row and column.")
    else:
        lost = a.leftover - min(a.leftover, a.pad)  # trailing padding cells hold zeros: nothing lost there
        what = ("all of them padding zeros" if lost == 0
                else f"{_plural(lost, 'row')} and {_plural(lost, 'column')} of real input")
        lines.append(f"The stride does not cover the input: (n + 2p - k) = {numerator} is not a multiple of "
                     f"s = {a.stride}; {numerator} mod {a.stride} = {a.leftover}, so the last "
                     f"{_plural(a.leftover, 'row')} and {_plural(a.leftover, 'column')} are never read "
                     f"({what}).")
    if a.gap:
        lines.append(f"The stride is larger than the kernel: {_plural(a.gap, 'position')} between "
                     f"neighbouring windows {'is' if a.gap == 1 else 'are'} skipped.")
    if a.unread_input:
        lines.append(f"In all, {a.unread_input} of the {a.n} input rows (and columns) never reach the output.")
    return lines


# --- figures --------------------------------------------------------------------------------


def _grid(ax, size: int, colour_of, label_of=None) -> None:
    """Draw a size x size grid of unit squares, row 0 at the top."""
    from matplotlib.patches import Rectangle

    for r in range(size):
        for c in range(size):
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=colour_of(r, c), edgecolor="#808080", lw=0.6))
            if label_of is not None:
                ax.text(c + 0.5, r + 0.5, label_of(r, c), ha="center", va="center", fontsize=7, color="#606060")
    ax.set_xlim(-0.3, size + 0.3)
    ax.set_ylim(size + 0.3, -0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def _draw_padded_input(ax, a: Arithmetic, highlight: int | None) -> None:
    """The padded input, its leftover positions, every window start and one highlighted window
    (the kernel fits: :func:`draw_windows` says so in words when it does not)."""
    from matplotlib.patches import Rectangle

    read_end = (a.out - 1) * a.stride + a.k  # first padded position after the last window

    def colour(r, c):
        if r >= read_end or c >= read_end:
            return _LEFTOVER
        inside = a.pad <= r < a.pad + a.n and a.pad <= c < a.pad + a.n
        return _INPUT if inside else _PAD

    starts = set(range(0, a.stride * a.out, a.stride))

    def label(r, c):
        inside = a.pad <= r < a.pad + a.n and a.pad <= c < a.pad + a.n
        return "" if inside or (r in starts and c in starts) else "0"  # no zero under a corner dot

    _grid(ax, a.padded, colour, label)
    # The real input's border, so padding and input are told apart even where both are leftover.
    ax.add_patch(Rectangle((a.pad, a.pad), a.n, a.n, fill=False, edgecolor="black", lw=1.6))
    starts = sorted(starts)
    for r in starts:
        for c in starts:
            ax.plot(c + 0.5, r + 0.5, "o", color=_OTHERS, ms=5, mec=_WINDOW, mew=0.6)
    if highlight is not None:
        i, j = divmod(highlight, a.out)
        r, c = starts[i], starts[j]
        ax.add_patch(Rectangle((c, r), a.k, a.k, facecolor=_WINDOW, alpha=0.25, edgecolor=_WINDOW, lw=2.4))
        ax.plot(c + 0.5, r + 0.5, "o", color=_WINDOW, ms=6)
    ax.set_title(f"padded input {a.padded}x{a.padded} (n={a.n}, p={a.pad})\n"
                 f"dots: window corners, stride {a.stride}", fontsize=9)


def _draw_output(ax, a: Arithmetic, highlight: int | None) -> None:
    hi = divmod(highlight, a.out) if highlight is not None else None
    _grid(ax, a.out, lambda r, c: _WINDOW if (r, c) == hi else "#f7f7f7")
    ax.set_xlim(-0.3, max(a.out, a.padded) + 0.3)  # same scale as the input panel
    ax.set_ylim(max(a.out, a.padded) + 0.3, -0.3)
    ax.set_title(f"output {a.out}x{a.out}", fontsize=9)


def _highlight_index(a: Arithmetic, highlight) -> int | None:
    if highlight is None or not a.fits:
        return None
    highlight = _checks.integer(highlight, "highlight", minimum=0)
    if highlight >= a.out * a.out:
        raise ValueError(f"highlight must be a window index in 0..{a.out * a.out - 1} "
                         f"(row-major over the {a.out}x{a.out} output); got {highlight}")
    return highlight


_NO_FIT_SIZE = (6.0, 0.5)  # inches: one line of text


def draw_windows(n: int, k: int, stride: int = 1, pad: int = 0, highlight: int | None = 0, fig=None):
    """Figure: the padded input with every window position and one window highlighted, beside the output.

    Args:
        n, k, stride, pad: input size, kernel size, stride, padding (square input and kernel).
        highlight: index of the window to highlight, row-major over the output (None: none).
        fig: a matplotlib Figure to draw into (cleared first); a new one when None.

    Returns:
        the Figure (made without pyplot; show it as a cell's value). Padding is grey with
        zeros, positions no window reads are orange. When the kernel does not fit there is
        nothing to draw: the figure is one short line that says so.
    """
    a = arithmetic(n, k, stride, pad)
    highlight = _highlight_index(a, highlight)
    if fig is None:
        fig = Figure(figsize=(7.6, 3.8) if a.fits else _NO_FIT_SIZE)
    fig.clear()
    if not a.fits:
        fig.text(0.5, 0.5, f"No output: a {a.k}x{a.k} kernel does not fit in the {a.padded}x{a.padded} "
                 f"padded input.", ha="center", va="center", fontsize=11, color=_VERDICT_COLOURS["does not fit"])
        return fig
    ax_in, ax_out = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    _draw_padded_input(ax_in, a, highlight)
    _draw_output(ax_out, a, highlight)
    return fig


def draw_window_steps(n: int, k: int, stride: int = 1, pad: int = 0, max_panels: int = 8):
    """Figure: the windows of one convolution in turn (row-major), one small panel each.

    Shows the first ``max_panels`` windows of a strided, padded convolution, so one can see the
    window jump by ``stride`` along a row and then move down to the next row of windows.
    """
    a = arithmetic(n, k, stride, pad)
    if not a.fits:
        raise ValueError(f"k must fit in the padded input: k = {k} > n + 2 pad = {a.padded}")
    count = min(_checks.integer(max_panels, "max_panels", minimum=1), a.out * a.out)
    cols = min(4, math.ceil(math.sqrt(count)))
    rows = -(-count // cols)
    fig = Figure(figsize=(2.3 * cols, 2.5 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        if index >= count:
            ax.axis("off")
            continue
        _draw_padded_input(ax, a, index)
        i, j = divmod(index, a.out)
        ax.set_title(f"output ({i}, {j})", fontsize=9)
    fig.suptitle(f"n={n}, k={k}, stride={stride}, pad={pad}: output {a.out}x{a.out}", fontsize=10)
    fig.tight_layout()
    return fig


# --- the widget -----------------------------------------------------------------------------

_VERDICT_COLOURS = {"ok": "#1a7f37", "does not cover": "#b35900", "does not fit": "#b2182b"}


def draw(n: int, k: int, stride: int, pad: int, window: int = 0):
    """What the explorer shows for these control values: ``(figure, html)``, :func:`draw_windows`
    with window ``window`` highlighted (none when the kernel does not fit) and the lines of
    :func:`describe`, the first coloured by the verdict."""
    a = arithmetic(n, k, stride, pad)
    lines = describe(a)
    status = "ok" if a.covers else "does not fit" if not a.fits else "does not cover"
    body = "".join(f"<li>{html.escape(line)}</li>" for line in lines[1:])
    text = (f"<div style='font-size:13px'><b style='color:{_VERDICT_COLOURS[status]}'>"
            f"{html.escape(lines[0])}</b><ul>{body}</ul></div>")
    return draw_windows(n, k, stride, pad, window if a.fits else None), text


def fit_window_slider(window, a: Arithmetic) -> None:
    """Let the ``window`` slider pick one of the windows of ``a`` (disabled when none fits); the
    convolution and pooling explorers adjust it so whenever another slider moves."""
    window.max = (a.out * a.out if a.fits else 1) - 1
    window.disabled = not a.fits


def _follow_geometry(controls: dict) -> None:
    """The explorer's ``adjust``: the window slider follows n, k, stride and pad."""
    a = arithmetic(*(controls[name].value for name in ("n", "k", "stride", "pad")))
    fit_window_slider(controls["window"], a)


def ConvExplorer(n: int = 7, k: int = 3, stride: int = 2, pad: int = 1, max_n: int = 16):
    """Sliders for input size, kernel, stride and padding, and for the window to highlight;
    the figure and the text beside the sliders follow them (:func:`draw`).

    Named like a class because lesson 04 makes one; it returns the widget.

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (the IntSliders ``n``, ``k``, ``stride``, ``pad`` and ``window``) and ``.figure``.
    """
    import ipywidgets as w

    a = arithmetic(n, k, stride, pad)  # checks the arguments
    max_n = _checks.integer(max_n, "max_n", minimum=a.n)
    style = {"description_width": "110px"}

    def slider(value, low, high, label):
        return w.IntSlider(value=value, min=low, max=high, description=label, style=style,
                           continuous_update=False)

    controls = {"n": slider(a.n, 1, max_n, "input size n"), "k": slider(a.k, 1, max(7, a.k), "kernel k"),
                "stride": slider(a.stride, 1, max(4, a.stride), "stride s"),
                "pad": slider(a.pad, 0, max(3, a.pad), "padding p"), "window": slider(0, 0, 0, "window #")}
    box = explore(controls, draw, beside=True, adjust=_follow_geometry)
    box.text.layout.width = "460px"
    return box
