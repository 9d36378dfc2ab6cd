"""cnnlab.widgets.conv_explorer: the arithmetic, the text, the figures and the widget (lesson 04)."""

import pytest
from matplotlib.figure import Figure

import cnnlab as cl
from cnnlab.widgets import conv_explorer as ce

# --- text -----------------------------------------------------------------------------------


def test_describe_fills_in_the_formula():
    lines = ce.describe(ce.arithmetic(7, 3, 2, 1))
    text = "\n".join(lines)
    assert "floor((7 + 2*1 - 3) / 2) + 1 = floor(6 / 2) + 1 = 3 + 1 = 4" in text
    assert "The stride covers the input" in text and "does not cover" not in text


def test_describe_says_when_the_stride_does_not_cover():
    text = "\n".join(ce.describe(ce.arithmetic(7, 3, 3, 0)))
    assert "does not cover the input" in text and "4 mod 3 = 1" in text
    assert "1 row and 1 column of real input" in text
    padding_only = "\n".join(ce.describe(ce.arithmetic(8, 3, 2, 1)))
    assert "all of them padding zeros" in padding_only


def test_describe_gaps_and_kernels_that_do_not_fit():
    assert "1 position between neighbouring windows is skipped" in "\n".join(ce.describe(ce.arithmetic(9, 2, 3, 0)))
    text = "\n".join(ce.describe(ce.arithmetic(3, 9, 1, 2)))
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
    ce.draw_windows(3, 9, 1, 2, highlight=None, fig=fig)  # the kernel does not fit: still a figure
    assert len(fig.axes) == 2 and "does not fit" in fig.axes[0].get_title()


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


def test_explorer_follows_the_sliders():
    explorer = ce.ConvExplorer(n=7, k=3, stride=2, pad=1)
    text, image = explorer.text.value, explorer.image.value
    assert bytes(image).startswith(b"\x89PNG") and "= 4</li>" in text and "covers the input" in text
    assert explorer.window.max == 15

    explorer.n.value = 8                     # what the browser test does: one step right
    assert explorer.text.value != text and bytes(explorer.image.value) != bytes(image)
    assert "does not cover the input" in explorer.text.value

    text, image = explorer.text.value, explorer.image.value
    explorer.window.value = 3                # another window: a new figure, the same text
    assert bytes(explorer.image.value) != bytes(image) and explorer.text.value == text


def test_explorer_kernel_too_large_and_back():
    explorer = ce.ConvExplorer(n=3, k=3, stride=1, pad=0)
    explorer.k.value = 7
    assert "does not fit" in explorer.text.value and explorer.window.disabled
    explorer.k.value = 2
    assert not explorer.window.disabled and explorer.window.max == 3
    assert explorer.arithmetic.out == 2


def test_explorer_window_range_shrinks_with_the_output():
    explorer = ce.ConvExplorer(n=7, k=3, stride=1, pad=1)
    explorer.window.value = 48
    explorer.stride.value = 3                # output 3x3: the highlighted window is clamped
    assert explorer.window.max == 8 and explorer.window.value <= 8
    assert "output 3x3" in explorer.figure.axes[1].get_title()


def test_explorer_displays_as_its_box():
    explorer = ce.ConvExplorer()
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_explorer_bad_arguments():
    with pytest.raises(ValueError, match="^max_n must be an integer >= 9"):
        ce.ConvExplorer(n=9, max_n=8)
    with pytest.raises(ValueError, match="^stride must be"):
        ce.ConvExplorer(stride=0)
    with pytest.raises(TypeError, match="^n must be an integer"):
        ce.ConvExplorer(n=7.5)
