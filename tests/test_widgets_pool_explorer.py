"""cnnlab.widgets.pool_explorer: gradient routing, the text, the figure, what the explorer draws
and its window slider (lesson 06)."""

import numpy as np
import pytest
from fixtures.figures import content
from matplotlib.figure import Figure

from cnnlab import plot
from cnnlab.widgets import pool_explorer as pe

#: What the explorers read of a PNG they show (its size), for a stubbed figure_png: 10x10 pixels.
PNG_STUB = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes([0, 0, 0, 10, 0, 0, 0, 10])


def test_example_input_is_seeded_small_integers():
    x = pe.example_input(8, seed=0)
    assert x.shape == (1, 1, 8, 8) and x.dtype == np.float64
    assert np.array_equal(x, np.round(x)) and x.min() >= 0 and x.max() <= 9
    assert np.array_equal(x, pe.example_input(8, seed=0)) and not np.array_equal(x, pe.example_input(8, seed=1))


def test_routes_without_overlap_send_each_gradient_once():
    x = pe.example_input(8)
    routes = pe.gradient_routes(x, 2, 2)
    assert routes.shape == (8, 8) and routes.sum() == 16 and set(np.unique(routes)) <= {0.0, 1.0}
    for i in range(4):                           # one position per window, holding its maximum
        for j in range(4):
            window = x[0, 0, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            chosen = routes[2 * i:2 * i + 2, 2 * j:2 * j + 2]
            assert chosen.sum() == 1 and window[chosen == 1][0] == window.max()


def test_routes_add_up_where_windows_overlap():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0                          # the maximum of all four 3x3 windows with stride 2
    routes = pe.gradient_routes(x, 3, 2)
    assert routes[2, 2] == 4 and routes.sum() == 4


def test_routes_of_average_pooling_spread_evenly():
    routes = pe.gradient_routes(np.zeros((1, 1, 4, 4)), 2, 1, mode="avg")
    # 2x2 windows, stride 1 on 4x4: a corner is in one window, the centre in four.
    assert np.isclose(routes[0, 0], 0.25) and np.isclose(routes[1, 1], 1.0) and np.isclose(routes.sum(), 9)


def test_describe_pooling():
    x = pe.example_input(8)
    text = "\n".join(pe.describe_pooling(8, 3, 2, "max", pe.gradient_routes(x, 3, 2)))
    assert "floor((8 - 3) / 2) + 1 = 3" in text and "overlap by 1" in text
    assert "the last 1 row(s) and column(s) are left over" in text
    assert "9 of 64 inputs receive gradient" in text and "added (+=)" not in text
    peak = np.zeros((1, 1, 5, 5))
    peak[0, 0, 2, 2] = 1.0
    shared = "\n".join(pe.describe_pooling(5, 3, 2, "max", pe.gradient_routes(peak, 3, 2)))
    assert "the maximum of 4 windows: its gradients are added (+=), not overwritten" in shared
    tiled = "\n".join(pe.describe_pooling(8, 2, 2, "max", pe.gradient_routes(x, 2, 2)))
    assert "tile the input" in tiled and "16 of 64 inputs receive gradient" in tiled
    gaps = "\n".join(pe.describe_pooling(7, 2, 3, "avg", pe.gradient_routes(pe.example_input(7), 2, 3, "avg")))
    assert "never looked at" in gaps and "1/4 = 0.25" in gaps


def test_draw_pooling_panels():
    fig = pe.draw_pooling(pe.example_input(8), 3, 2, "max", highlight=8)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert fig.axes[1].get_title() == "max-pool output 3x3"
    again = pe.draw_pooling(pe.example_input(6), 2, 2, "avg", highlight=None, fig=fig)
    assert again is fig and fig.axes[1].get_title() == "avg-pool output 3x3"


@pytest.mark.parametrize("call, error, message", [
    (lambda: pe.gradient_routes(pe.example_input(4), 2, 2, mode="min"), ValueError, "^mode must be 'max' or 'avg'"),
    (lambda: pe.gradient_routes(np.zeros((2, 1, 4, 4)), 2, 2), ValueError, r"^x must be one square map"),
    (lambda: pe.gradient_routes(np.zeros((4, 4)), 2, 2), ValueError, r"^x must be a 4-D array"),
    (lambda: pe.draw_pooling(pe.example_input(4), 5, 1), ValueError, "^size must be at most the input size 4"),
    (lambda: pe.draw_pooling(pe.example_input(4), 2, 2, highlight=4), ValueError, "^highlight must be a window index"),
    (lambda: pe.example_input(0), ValueError, "^n must be"),
    (lambda: pe.PoolExplorer(size=9, n=8), ValueError, "^size must be at most n = 8"),
    (lambda: pe.PoolExplorer(n=1), ValueError, "^n must be an integer >= 2"),
    (lambda: pe.PoolExplorer(stride=1.5), TypeError, "^stride must be an integer"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_draw_follows_the_controls():
    x = pe.example_input(8, seed=0)
    fig, text = pe.draw(x, 2, 2, "max", window=0)
    assert "tile the input" in text and fig.axes[1].get_title() == "max-pool output 4x4"
    overlapping, overlapping_text = pe.draw(x, 3, 2, "max", window=0)   # overlapping windows now
    assert overlapping_text != text and "overlap by 1" in overlapping_text
    assert content(overlapping) != content(fig)
    average = pe.draw(x, 3, 2, "avg", window=0)
    assert average[1] != overlapping_text and "average-pooling" in average[1]
    other, other_text = pe.draw(x, 3, 2, "avg", window=4)             # another window, the same text
    assert other_text == average[1] and content(other) != content(average[0])


def test_explorer_moves_the_window_range_with_size_and_stride(monkeypatch):
    monkeypatch.setattr(plot, "figure_png", lambda fig, dpi=None: PNG_STUB)
    explorer = pe.PoolExplorer(size=2, stride=2)
    window = explorer.controls["window"]
    assert window.max == 15 and not window.disabled
    explorer.controls["size"].value = 3
    assert window.max == 8 and "overlap by 1" in explorer.text.value
