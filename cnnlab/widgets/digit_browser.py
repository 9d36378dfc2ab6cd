"""Lesson 00's first widget: a slider that walks through a dataset, one image at a time.

It is there to show how widgets behave in a lesson (drag a slider, the figure and the text
follow), on data the student has just loaded::

    cl.widgets.digit_browser.DigitBrowser(X, y)     # the value of a cell displays it
"""

from __future__ import annotations

import html

import numpy as np
from matplotlib.figure import Figure

from .. import _checks, backend
from ..plot import enable_notebook_display, figure_png

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


def draw(X, index: int, fig: Figure | None = None) -> Figure:
    """Draw image ``index`` of X (its first channel) with a colour bar of pixel values."""
    fig = fig if fig is not None else Figure(figsize=(3.4, 3.0))
    fig.clear()
    ax = fig.add_subplot()
    shown = ax.imshow(backend.asnumpy(X[index])[0], cmap="gray", vmin=0.0, vmax=1.0)
    fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


class DigitBrowser:
    """A slider over the images of ``(X, y)``; the picture and the description follow it.

    Attributes: ``index`` (the IntSlider), ``text`` (HTML), ``image`` (Image widget with the
    current figure as PNG), ``widget`` (the VBox that is displayed).
    """

    def __init__(self, X, y, index: int = 0):
        import ipywidgets as w

        _checks.array(X, "X", ndim=4, layout="(N, C, H, W)")
        if len(y) != len(X):
            raise ValueError(f"y must have one label per image, length {len(X)}; got {len(y)}")
        self.X, self.y = X, np.asarray(backend.asnumpy(y))
        self.index = w.IntSlider(value=index, min=0, max=len(X) - 1, description="image",
                                 continuous_update=False)
        self.text = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(width="280px"))  # not the page's width
        self.figure = Figure(figsize=(3.4, 3.0))
        self.widget = w.VBox([self.index, self.text, self.image])
        self.index.observe(self._redraw, names="value")
        self._redraw()

    def _redraw(self, change=None) -> None:
        self.text.value = f"<code>{html.escape(describe(self.X, self.y, self.index.value))}</code>"
        self.image.value = figure_png(draw(self.X, self.index.value, self.figure))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
