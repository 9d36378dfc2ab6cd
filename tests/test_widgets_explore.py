"""The wiring every explorer shares (cnnlab.widgets._explore), tested once with a tiny draw, and
each lesson's explorer built once, with its PNGs stubbed (each widget's own tests call its
``draw``)."""

import struct

import ipywidgets as widgets
import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlab import plot
from cnnlab.widgets import (
    batch_size,
    chain,
    conv_explorer,
    digit_browser,
    dropout,
    learning_rate,
    lr_schedule,
    momentum,
    pool_explorer,
    training_knobs,
    weight_decay,
)
from cnnlab.widgets._explore import DENSITY, explore, png_size

#: The first bytes of a 200x100 PNG: all that the explorer reads of a picture it shows.
STUB_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 200, 100)


class Recorder:
    """A draw that remembers its calls: a small figure titled with the values, and a text."""

    def __init__(self, figure=True):
        self.calls, self.figure = [], figure

    def __call__(self, **values):
        self.calls.append(values)
        if not self.figure:
            return None, f"no figure for {values}"
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().set_title(str(sorted(values.items())))
        return fig, f"<b>{values}</b>"


def sliders(**values):
    return {name: widgets.IntSlider(value=v, min=0, max=10) for name, v in values.items()}


def test_draws_once_at_once_and_again_when_a_control_moves():
    draw = Recorder()
    box = explore(sliders(a=1, b=2), draw)
    assert draw.calls == [{"a": 1, "b": 2}]
    assert box.text.value == "<b>{'a': 1, 'b': 2}</b>" and box.image.value[:4] == b"\x89PNG"
    assert box.figure.axes[0].get_title() == "[('a', 1), ('b', 2)]"
    picture = box.image.value
    box.controls["b"].value = 5
    assert draw.calls[1:] == [{"a": 1, "b": 5}]
    assert box.text.value == "<b>{'a': 1, 'b': 5}</b>" and box.image.value != picture
    assert box.button is None
    assert "application/vnd.jupyter.widget-view+json" in box._repr_mimebundle_()


def test_no_figure_keeps_the_picture_and_changes_the_text():
    draw = Recorder()
    box = explore(sliders(a=1), draw)
    picture, figure = box.image.value, box.figure
    draw.figure = False
    box.controls["a"].value = 2
    assert box.image.value == picture and box.figure is figure
    assert box.text.value == "no figure for {'a': 2}"


def test_dpi_and_layout(monkeypatch):
    seen = []
    monkeypatch.setattr(plot, "figure_png", lambda fig, dpi=None: seen.append(dpi) or STUB_PNG)
    controls = sliders(a=1, b=2)
    panel = widgets.HBox(list(controls.values()))
    box = explore(controls, Recorder(), panel=panel, dpi=72, image_layout={"max_width": "300px"})
    assert seen == [72 * DENSITY]  # drawn with DENSITY pixels for each pixel shown
    assert box.image.layout.width == f"{200 // DENSITY}px" and box.image.layout.height == "auto"
    assert box.children == (panel, box.text, box.image) and box.image.layout.max_width == "300px"
    beside = explore(sliders(a=1), Recorder(), beside=True)
    top, image = beside.children
    assert isinstance(top, widgets.HBox) and top.children[1] is beside.text and image is beside.image
    assert list(top.children[0].children) == list(beside.controls.values())  # the default panel: a VBox


def test_the_picture_is_shown_at_the_figure_size_with_twice_the_pixels():
    """A figure of 3 x 1.5 inches at 100 dpi is shown 300 CSS pixels wide (its own size, not the
    width of the notebook) from a PNG of DENSITY times as many pixels: sharp on a
    high-density screen, and the same size as the figures of the lesson around it."""
    def draw(a):
        fig = Figure(figsize=(3, 1.5), dpi=100)
        fig.add_subplot().plot([0, a], [0, 1])
        return fig, ""

    box = explore(sliders(a=1), draw)
    width, height = png_size(box.image.value)
    shown = float(box.image.layout.width.removesuffix("px"))
    assert DENSITY == 2 and width == DENSITY * shown
    assert 250 <= shown <= 320 and 120 <= height / DENSITY <= 170  # bbox "tight": labels in, margins out
    assert box.image.layout.max_width == "100%"
    box.controls["a"].value = 5                                   # every redraw sets the size again
    assert float(box.image.layout.width.removesuffix("px")) * DENSITY == png_size(box.image.value)[0]
    with pytest.raises(ValueError, match="png must be the bytes of a PNG image"):
        png_size(b"GIF89a" + bytes(20))


def test_adjust_runs_first_and_its_changes_draw_nothing_more():
    """A range that follows another control (the convolution explorer's window slider)."""
    def adjust(controls):
        controls["window"].max = controls["count"].value - 1

    draw = Recorder()
    box = explore(sliders(count=10, window=9), draw, adjust=adjust)
    assert draw.calls == [{"count": 10, "window": 9}]
    box.controls["count"].value = 4        # the window's range shrinks: its value 9 is clamped to 3
    assert draw.calls[1:] == [{"count": 4, "window": 3}]
    box.controls["window"].value = 1
    assert draw.calls[2:] == [{"count": 4, "window": 1}]


def test_a_button_draws_and_the_text_says_what_is_shown():
    states = []

    def status(values, state):
        states.append((state, box.button.disabled if state == "drawing" else None))
        return f"{state} {values}"

    draw = Recorder()
    box = None
    box = explore(sliders(a=1), draw, button="Train", status=status)
    assert draw.calls == [] and box.image.value == b"" and box.text.value == "changed {'a': 1}"
    assert box.children[1] is box.button and box.button.description == "Train"
    box.button.click()
    assert draw.calls == [{"a": 1}] and states[-1] == ("drawing", True) and not box.button.disabled
    assert box.text.value == "<b>{'a': 1}</b>" and box.image.value[:4] == b"\x89PNG"
    box.controls["a"].value = 2
    assert box.text.value == "changed {'a': 2}" and len(draw.calls) == 1
    box.controls["a"].value = 1
    assert box.text.value == "same {'a': 1}"
    box.redraw()
    assert draw.calls[1:] == [{"a": 1}]
    with pytest.raises(TypeError, match="status"):
        explore(sliders(a=1), draw, button="Train")


# --- every lesson's explorer, built once (PNG encoding stubbed: the draws are tested elsewhere) ---

DIGITS = (np.zeros((3, 1, 4, 4)), np.array([7, 1, 4]))

EXPLORERS = {
    "learning_rate": (lambda: learning_rate.explorer(), ["lr", "mode", "epochs"]),
    "batch_size": (lambda: batch_size.explorer(), ["batch_size", "lr", "epochs"]),
    "momentum": (lambda: momentum.explorer(steps=20), ["lr", "mu", "steps", "nesterov"]),
    "dropout": (lambda: dropout.explorer(h=dropout.hidden_activations(n=40, units=32)), ["keep", "inverted"]),
    "lr_schedule": (lambda: lr_schedule.explorer(epochs=4), ["step_size", "gamma"]),
    "weight_decay": (lambda: weight_decay.explorer(decay=0.0, epochs=2), ["decay"]),
    "training_knobs": (lambda: training_knobs.explorer(train_now=False),
                       ["lr", "momentum", "weight_decay", "keep", "epochs", "augment"]),
    "chain": (lambda: chain.stepper(n=2), ["step"]),
    "conv_explorer": (lambda: conv_explorer.ConvExplorer(), ["n", "k", "stride", "pad", "window"]),
    "pool_explorer": (lambda: pool_explorer.PoolExplorer(), ["size", "stride", "mode", "window"]),
    "digit_browser": (lambda: digit_browser.DigitBrowser(*DIGITS), ["index"]),
}


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_each_lesson_explorer_is_its_controls_and_its_draw(name, monkeypatch):
    monkeypatch.setattr(plot, "figure_png", lambda fig, dpi=None: STUB_PNG)
    make, controls = EXPLORERS[name]
    box = make()
    assert list(box.controls) == controls
    assert box.text.value  # drawn (or, behind a button, the status line)
    assert box.image.value == (b"" if box.button else STUB_PNG)
