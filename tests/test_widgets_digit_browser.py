"""Lesson 00's digit browser: the text and the picture follow the slider."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnnlab.widgets.digit_browser import DigitBrowser, describe, draw  # noqa: E402


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


def test_draw_shows_the_chosen_image(digits):
    fig = draw(digits[0], 2)
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(shown, np.full((4, 4), 0.5))


def test_moving_the_slider_changes_text_and_picture(digits):
    browser = DigitBrowser(*digits)
    text, picture = browser.text.value, browser.image.value
    browser.index.value = 1
    assert "label 1" in browser.text.value and browser.text.value != text
    assert browser.image.value != picture and browser.image.value[:4] == b"\x89PNG"


def test_labels_must_match_images(digits):
    with pytest.raises(ValueError, match="y must have one label per image, length 3; got 2"):
        DigitBrowser(digits[0], digits[1][:2])
