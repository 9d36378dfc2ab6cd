"""cnnlab.widgets.conv_explorer: the text, the figures, what the explorer draws and its window
slider (lesson 04); the arithmetic itself is tested in test_conv.py."""

import ipywidgets as widgets
import pytest
from fixtures.figures import content
from matplotlib.figure import Figure

from cnnlab import plot
from cnnlab.conv import arithmetic
from cnnlab.widgets import conv_explorer as ce

#: What the explorers read of a PNG they show (its size), for a stubbed figure_png: 10x10 pixels.
PNG_STUB = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes([0, 0, 0, 10, 0, 0, 0, 10])

# --- text -----------------------------------------------------------------------------------


def test_describe_fills_in_the_formula():
    lines = ce.describe(arithmetic(7, 3, 2, 1))
    text = "\n".join(lines)
    assert "floor((7 + 2*1 - 3) / 2) + 1 = floor(6 / 2) + 1 = 3 + 1 = 4" in text
    assert "The stride covers the input" in text and "does not cover" not in text


def test_describe_says_when_the_stride_does_not_cover():
    text = "\n".join(ce.describe(arithmetic(7, 3, 3, 0)))
    assert "does not cover the input" in text and "4 mod 3 = 1" in text
    assert "1 row and 1 column of real input" in text
    padding_only = "\n".join(ce.describe(arithmetic(8, 3, 2, 1)))
    assert "all of them padding zeros" in padding_only


def test_describe_gaps_and_kernels_that_do_not_fit():
    assert "1 position between neighbouring windows is skipped" in "\n".join(ce.describe(arithmetic(9, 2, 3, 0)))
    text = "\n".join(ce.describe(arithmetic(3, 9, 1, 2)))
    assert "The kernel does not fit" in text and "larger than the padded input n + 2p = 7" in text
    assert "w_out" not in text


# --- figures --------------------------------------------------------------------------------


def test_draw_windows_returns_a_figure_with_input_and_output():
    fig = ce.draw_windows(7, 3, 2, 1, highlight=5)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert "padded input 9x9" in fig.axes[0].get_title() and fig.axes[1].get_title() == "output 4x4"


def test_draw_windows_redraws_into_a_given_figure():
    fig = Figure()
    assert ce.draw_windows(5, 3, 1, 0, fig=fig) is fig
    ce.draw_windows(3, 9, 1, 2, highlight=None, fig=fig)  # the kernel does not fit: a message
    assert fig.axes == [] and "does not fit" in fig.texts[0].get_text()


def test_draw_windows_bad_highlight():
    with pytest.raises(ValueError, match="^highlight must be a window index in 0..15"):
        ce.draw_windows(7, 3, 2, 1, highlight=16)


def test_draw_window_steps_panels():
    fig = ce.draw_window_steps(5, 3, 2, 1, max_panels=9)
    titled = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titled[0] == "output (0, 0)" and titled[-1] == "output (2, 2)" and len(titled) == 9
    assert len([ax for ax in ce.draw_window_steps(5, 3, 2, 1, max_panels=4).axes if ax.get_title()]) == 4


def test_draw_window_steps_bad_arguments():
    with pytest.raises(ValueError, match="^k must fit in the padded input"):
        ce.draw_window_steps(3, 9, 1, 0)
    with pytest.raises(ValueError, match="^max_panels must be"):
        ce.draw_window_steps(5, 3, 1, 0, max_panels=0)


# --- the widget -----------------------------------------------------------------------------


def test_draw_follows_the_sliders():
    fig, text = ce.draw(7, 3, 2, 1, window=0)
    assert "= 4</li>" in text and "covers the input" in text and "color:#1a7f37" in text
    wider, wider_text = ce.draw(8, 3, 2, 1, window=0)   # what the browser test does: n one step right
    assert wider_text != text and "does not cover the input" in wider_text and "color:#b35900" in wider_text
    assert content(wider) != content(fig)
    other, other_text = ce.draw(8, 3, 2, 1, window=3)   # another window: a new figure, the same text
    assert other_text == wider_text and content(other) != content(wider)


def test_draw_when_the_kernel_does_not_fit():
    fig, text = ce.draw(3, 7, 1, 0, window=0)
    assert "does not fit" in text and "color:#b2182b" in text
    # One short line, not an empty box as tall as the padded input would be.
    assert fig.axes == [] and [t.get_text() for t in fig.texts] == [
        "No output: a 7x7 kernel does not fit in the 3x3 padded input."]
    width, height = fig.get_size_inches()
    assert height <= 0.5 and width >= 4 * height
    assert "output 3x3" in ce.draw(7, 3, 3, 1, window=8)[0].axes[1].get_title()


def test_the_window_slider_follows_the_output():
    window = widgets.IntSlider(value=0, min=0, max=0)
    ce.fit_window_slider(window, arithmetic(7, 3, 2, 1))
    assert window.max == 15 and not window.disabled
    ce.fit_window_slider(window, arithmetic(3, 7, 1, 0))   # the kernel does not fit: nothing to pick
    assert window.disabled
    ce.fit_window_slider(window, arithmetic(3, 2, 1, 0))
    assert not window.disabled and window.max == 3
    window.max, window.value = 48, 48
    ce.fit_window_slider(window, arithmetic(7, 3, 3, 1))   # output 3x3: the highlighted window is clamped
    assert window.max == 8 and window.value <= 8


def test_explorer_moves_the_window_range_with_the_other_sliders(monkeypatch):
    monkeypatch.setattr(plot, "figure_png", lambda fig, dpi=None: PNG_STUB)
    explorer = ce.ConvExplorer(n=7, k=3, stride=1, pad=1)
    window = explorer.controls["window"]
    assert window.max == 48
    window.value = 48
    explorer.controls["stride"].value = 3
    assert window.max == 8 and window.value <= 8 and "output 3x3" in explorer.figure.axes[1].get_title()
    explorer.controls["k"].value = 7
    explorer.controls["n"].value = 1
    assert window.disabled and "does not fit" in explorer.text.value


def test_explorer_bad_arguments():
    with pytest.raises(ValueError, match="^max_n must be an integer >= 9"):
        ce.ConvExplorer(n=9, max_n=8)
    with pytest.raises(ValueError, match="^stride must be"):
        ce.ConvExplorer(stride=0)
    with pytest.raises(TypeError, match="^n must be an integer"):
        ce.ConvExplorer(n=7.5)


def test_explorer_picture_is_shown_at_its_size_and_the_no_fit_message_is_one_line():
    """The real PNGs: drawn at DENSITY x the pixels shown (sharp, not stretched); when the kernel
    does not fit, the picture is a line of text, not an empty box as tall as the input panel."""
    from cnnlab.widgets._explore import DENSITY, png_size

    explorer = ce.ConvExplorer(n=7, k=3, stride=2, pad=1)
    width, height = png_size(explorer.image.value)
    shown = float(explorer.image.layout.width.removesuffix("px"))
    assert width == DENSITY * shown and 500 <= shown <= 800 and height / DENSITY >= 250
    explorer.controls["pad"].value = 0
    explorer.controls["k"].value = 7
    explorer.controls["n"].value = 3                      # k = 7 > n + 2p = 3: no window fits
    assert "does not fit" in explorer.text.value
    width, height = png_size(explorer.image.value)
    assert width == DENSITY * float(explorer.image.layout.width.removesuffix("px"))
    assert height / DENSITY <= 40 and width > 8 * height  # one line of text
