"""The one pattern of every explorer: controls, a pure ``draw``, and the wiring between them.

A lesson's explorer builds its controls and hands them, with a function of their values, to
:func:`explore`::

    controls = {"lr": widgets.FloatLogSlider(...), "mode": widgets.ToggleButtons(...)}
    box = explore(controls, draw)      # draw(lr=..., mode=...) -> (Figure, "<b>html</b>")

Moving a control calls ``draw`` with the values of all controls, by name, and shows what it
returns: the figure as a PNG image, the HTML as the text. The picture is shown at the size the
figure asks for (its inches times ``dpi`` CSS pixels), never stretched to the width of the
notebook, and drawn with :data:`DENSITY` times as many pixels, so that it stays sharp on a
high-density screen. Everything a widget shows comes from
its ``draw``, so a widget's tests call ``draw`` directly; the wiring is written (and tested,
in ``tests/test_widgets_explore.py``) once, here.
"""

from __future__ import annotations

import struct
from typing import Callable

#: Image pixels per CSS pixel of the explorers' pictures: 2 is sharp on the high-density screens
#: of most laptops, and an ordinary screen shows the picture scaled down, which stays sharp too.
DENSITY = 2


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG image, read from its header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError(f"png must be the bytes of a PNG image; got {png[:16]!r}...")
    return struct.unpack(">II", png[16:24])


def show_figure(image, figure, dpi: float | None = None) -> None:
    """Put ``figure`` into the ipywidgets ``image``: drawn at ``DENSITY`` x ``dpi`` (default: the
    figure's own dpi) and shown ``DENSITY`` times smaller, at the figure's own size in CSS pixels.

    The size is fixed in the Image's layout: a picture without one is stretched to the width of
    its box, blurred and out of proportion with the text around it."""
    from ..plot import figure_png  # imported here: matplotlib loads only when a widget is made

    png = figure_png(figure, dpi=DENSITY * (dpi or figure.dpi))
    width, _ = png_size(png)
    image.value = png
    image.layout.width = f"{width / DENSITY:g}px"
    image.layout.height = "auto"           # keeps the aspect ratio when max_width scales it down
    if image.layout.max_width is None:
        image.layout.max_width = "100%"    # a narrow window scales the picture down, never crops it


def explore(controls: dict, draw: Callable, *, panel=None, beside: bool = False, image_layout: dict | None = None,
            dpi: float | None = None, adjust: Callable | None = None, button: str | None = None,
            status: Callable | None = None):
    """Wire ``controls`` to ``draw``; return the widget to display.

    Args:
        controls: ``{name: ipywidgets control}``; ``draw`` gets each one's ``value`` under its name.
        draw: ``draw(**values) -> (figure, html)``: a ``matplotlib.figure.Figure`` (None: keep the
            picture shown) and the text, as HTML. It computes from the values alone.
        panel: the widget that lays out the controls (default: a VBox of them, in order).
        beside: the text goes beside the panel rather than below it; the picture below both.
        image_layout: ipywidgets ``Layout`` keywords for the picture, e.g. ``{"max_width": "820px"}``.
        dpi: CSS pixels per inch of the figure as shown (default: the figure's own dpi); the
            PNG has ``DENSITY`` times as many pixels (:func:`show_figure`).
        adjust: ``adjust(controls)``, run before every draw, for controls whose range follows the
            others (a window index whose range is the number of windows). The draws that its
            changes would set off are held back: one action, one draw.
        button: a label: draw only when this button is pressed (a draw that takes seconds, such
            as training). Moving a control then shows ``status(values, state)``, state
            ``"changed"`` (the values differ from the last drawn ones) or ``"same"``; while
            drawing, the button is disabled and the text is ``status(values, "drawing")``.
        status: see ``button``.

    Returns:
        an ``ipywidgets.VBox`` of the panel, the text and the picture, with the attributes
        ``controls``, ``text`` (HTML widget), ``image`` (Image widget), ``figure`` (the last
        Figure drawn), ``button`` (or None) and ``redraw()``. Without a button it has drawn once;
        with one it shows ``status(values, "changed")`` until the button (or ``redraw()``) draws.
    """
    import ipywidgets as widgets

    if button is not None and status is None:
        raise TypeError("an explorer with a button needs status(values, state) for the text between draws")
    text = widgets.HTML()
    image = widgets.Image(format="png", **({"layout": widgets.Layout(**image_layout)} if image_layout else {}))
    panel = widgets.VBox(list(controls.values())) if panel is None else panel
    press = None if button is None else widgets.Button(description=button, button_style="primary", icon="play")
    top = [panel] if press is None else [panel, press]
    box = widgets.VBox([widgets.HBox([*top, text]), image] if beside else [*top, text, image])
    box.controls, box.text, box.image, box.button, box.figure = controls, text, image, press, None
    held, drawn = False, None  # held: adjust is moving controls; drawn: the values last drawn

    def values() -> dict:
        return {name: control.value for name, control in controls.items()}

    def redraw(_change=None) -> None:
        nonlocal held, drawn
        if held:
            return
        if adjust is not None:
            held = True  # a range that shrinks may move a value: that is part of this draw
            try:
                adjust(controls)
            finally:
                held = False
        now = values()
        if press is not None:
            press.disabled = True
            text.value = status(now, "drawing")
        try:
            figure, html = draw(**now)
        finally:
            if press is not None:
                press.disabled = False
        drawn = now
        if figure is not None:
            show_figure(image, figure, dpi)
            box.figure = figure
        text.value = html

    def changed(_change=None) -> None:
        now = values()
        text.value = status(now, "same" if now == drawn else "changed")

    box.redraw = redraw
    for control in controls.values():
        control.observe(redraw if press is None else changed, names="value")
    if press is None:
        redraw()
    else:
        press.on_click(redraw)
        changed()
    return box
