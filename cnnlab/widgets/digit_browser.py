"""Lesson 00's first widget: a slider that walks through a dataset, one image at a time.

It is there to show how widgets behave in a lesson (drag a slider, the figure and the text
follow), on data the student has just loaded::

    cl.widgets.digit_browser.DigitBrowser(X, y)     # the value of a cell displays it
    fig, text = cl.widgets.digit_browser.draw(X, y, 3)   # what it shows for image 3
"""

from __future__ import annotations

import functools
import html

import numpy as np
from matplotlib.figure import Figure

from .. import _checks, backend
from ..plot import enable_notebook_display
from ._explore import explore

enable_notebook_display()


def describe(X, y, index: int) -> str:
    """One line about image ``index``: its label and the range and mean of its pixels.

    Args:
        X: (N, C, H, W) images.
        y: (N,) integer labels.
        index: which image, 0..N-1.
    """
    index = _checks.integer(index, "index", minimum=0)
    if index >= len(X):
        raise ValueError(f"index must be in 0..{len(X) - 1}; got {index}")
    image = backend.asnumpy(X[index])
    return (f"image {index} of {len(X)}: label {int(y[index])}, shape {tuple(image.shape)}, "
            f"pixels from {image.min():.2f} to {image.max():.2f}, mean {image.mean():.3f}")


def figure(X, index: int) -> Figure:
    """Image ``index`` of X (its first channel) with a colour bar of pixel values."""
    fig = Figure(figsize=(3.4, 3.0))
    ax = fig.add_subplot()
    shown = ax.imshow(backend.asnumpy(X[index])[0], cmap="gray", vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def draw(X, y, index: int):
    """What the browser shows for image ``index``: ``(figure, html)``, :func:`figure` and the
    line of :func:`describe`."""
    text = f"<code>{html.escape(describe(X, y, index))}</code>"
    return figure(X, index), text


def DigitBrowser(X, y, index: int = 0):
    """A slider over the images of ``(X, y)``; the picture and the description follow it
    (:func:`draw`).

    Named like a class because lesson 00 makes one; it returns the widget.

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (``index``, the IntSlider).
    """
    import ipywidgets as w

    _checks.array(X, "X", ndim=4, layout="(N, C, H, W)")
    if len(y) != len(X):
        raise ValueError(f"y must have one label per image, length {len(X)}; got {len(y)}")
    controls = {"index": w.IntSlider(value=index, min=0, max=len(X) - 1, description="image",
                                     continuous_update=False)}
    return explore(controls, functools.partial(draw, X, np.asarray(backend.asnumpy(y))),
                   image_layout={"width": "280px"})  # not the page's width
