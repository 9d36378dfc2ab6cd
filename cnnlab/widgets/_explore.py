"""The one pattern of every explorer: controls, a pure ``draw``, and the wiring between them.

A lesson's explorer builds its controls and hands them, with a function of their values, to
:func:`explore`::

    controls = {"lr": widgets.FloatLogSlider(...), "mode": widgets.ToggleButtons(...)}
    box = explore(controls, draw)      # draw(lr=..., mode=...) -> (Figure, "<b>html</b>")

Moving a control calls ``draw`` with the values of all controls, by name, and shows what it
returns: the figure as a PNG image, the HTML as the text. Everything a widget shows comes from
its ``draw``, so a widget's tests call ``draw`` directly; the wiring is written (and tested,
in ``tests/test_widgets_explore.py``) once, here.
"""

from __future__ import annotations

from typing import Callable


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
        dpi: of the PNG (default: the figure's own).
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

    from ..plot import figure_png  # imported here: matplotlib loads only when a widget is made

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
            image.value, box.figure = figure_png(figure, dpi=dpi), figure
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
