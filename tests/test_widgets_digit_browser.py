"""Lesson 00's digit browser: the text and the picture it draws for the slider's image."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from fixtures.figures import content  # noqa: E402

from cnnlab.widgets.digit_browser import DigitBrowser, describe, draw, figure  # noqa: E402


@pytest.fixture
def digits():
    X = np.zeros((3, 1, 4, 4), np.float32)
    X[1, 0, 0, 0] = 1.0
    X[2] = 0.5
    return X, np.array([7, 1, 4])


def test_describe_by_hand(digits):
    X, y = digits
    assert describe(X, y, 1) == ("image 1 of 3: label 1, shape (1, 4, 4), pixels from 0.00 to 1.00, "
                                 "mean 0.062")


def test_describe_rejects_an_index_past_the_end(digits):
    with pytest.raises(ValueError, match=r"index must be in 0\.\.2; got 3"):
        describe(*digits, 3)


def test_figure_shows_the_chosen_image(digits):
    fig = figure(digits[0], 2)
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(shown, np.full((4, 4), 0.5))


def test_draw_follows_the_slider(digits):
    fig, text = draw(*digits, 0)
    moved, moved_text = draw(*digits, 1)
    assert moved_text == "<code>image 1 of 3: label 1, shape (1, 4, 4), pixels from 0.00 to 1.00, mean 0.062</code>"
    assert moved_text != text and content(moved) != content(fig)


def test_labels_must_match_images(digits):
    with pytest.raises(ValueError, match="y must have one label per image, length 3; got 2"):
        DigitBrowser(digits[0], digits[1][:2])
