"""Lesson 02's picture of a chain of modules, and the stepper that walks through it."""

import pytest
from fixtures.figures import content

from cnnlab.widgets import chain


def test_step_text_walks_forward_then_backward():
    n = 3
    texts = [chain.step_text(s, n) for s in range(2 * n + 1)]
    assert texts[0].startswith("Nothing has run yet")
    assert texts[1].startswith("Forward 1/3: f_1 takes z_0 and w_1")
    assert "This is the loss z" in texts[3]
    assert texts[4].startswith("Backward 1/3: f_3's backward module takes g(z_3)")
    assert "g(z_3) = dz/dz_3 = 1" in texts[4]
    assert texts[6].startswith("Backward 3/3: f_1's backward")
    assert len(set(texts)) == len(texts)


def test_bad_steps_are_refused_with_their_name():
    with pytest.raises(ValueError, match="step must be in 0..6"):
        chain.step_text(7, 3)
    with pytest.raises(ValueError, match="n must be"):
        chain.figure(0)
    with pytest.raises(TypeError, match="step"):
        chain.figure(3, step=1.5)


def test_figure_draws_a_box_per_module():
    fig = chain.figure(4)
    assert len(fig.axes[0].patches) == 4
    assert "step 2 of 8" in chain.figure(4, step=2).axes[0].get_title()


def test_draw_follows_the_slider():
    fig, text = chain.draw(0, n=2)
    stepped, stepped_text = chain.draw(3, n=2)
    assert stepped_text != text and stepped_text.startswith("Backward 1/2")
    assert content(stepped) != content(fig)
