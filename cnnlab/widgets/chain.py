"""Lesson 02: the chain of modules z_i = f_i(z_{i-1}, w_i), drawn with its forward and backward flow.

::

    import cnnlab as cl
    cl.widgets.chain.figure(n=3)             # the whole picture
    cl.widgets.chain.figure(n=3, step=5)     # as it stands after step 5 of the 2n steps
    cl.widgets.chain.stepper(n=3)            # a slider that walks through the steps

Each module is drawn as one box with two halves: the forward module on top (takes z_{i-1} and
w_i, returns z_i) and the backward module below (takes g(z_i), returns g(z_{i-1}) and g(w_i)).
Step 1..n runs the forward modules left to right; step n+1..2n the backward modules right to
left. :func:`step_text` says in words what a step does; :func:`stepper` wires :func:`draw` to a slider.
"""

from __future__ import annotations

import functools

from .. import _checks
from ._explore import explore

__all__ = ["draw", "figure", "step_text", "stepper"]

_FORWARD, _BACKWARD, _IDLE = "tab:blue", "tab:red", "0.75"
_GAP, _LABEL = 3.0, 0.5  # distance between z labels; room left for each label


def _check(n, step):
    n = _checks.integer(n, "n", minimum=1)
    if n > 8:
        raise ValueError(f"n must be at most 8 (the figure gets unreadable); got {n}")
    if step is not None:
        step = _checks.integer(step, "step", minimum=0)
        if step > 2 * n:
            raise ValueError(f"step must be in 0..{2 * n} (n forward and n backward steps); got {step}")
    return n, step


def step_text(step: int, n: int = 3) -> str:
    """What step ``step`` (0..2n) of the forward and backward pass through n modules does."""
    n, step = _check(n, step)
    if step == 0:
        return (f"Nothing has run yet. The input z_0 = x and the weights w_1..w_{n} are given; "
                f"z = z_{n} is the loss.")
    if step <= n:
        i = step
        last = " This is the loss z." if i == n else ""
        return (f"Forward {i}/{n}: f_{i} takes z_{i - 1} and w_{i}, keeps what its backward module "
                f"will need, and outputs z_{i}.{last}")
    i = 2 * n - step + 1  # the module whose backward runs, from n down to 1
    seed = f" It starts from g(z_{n}) = dz/dz_{n} = 1." if i == n else ""
    tail = " The gradient of every weight is now known." if i == 1 else ""
    return (f"Backward {n - i + 1}/{n}: f_{i}'s backward module takes g(z_{i}) and returns "
            f"g(z_{i - 1}) = g(z_{i}) \u2202z_{i}/\u2202z_{i - 1} and g(w_{i}) = g(z_{i}) "
            f"\u2202z_{i}/\u2202w_{i}.{seed}{tail}")


def figure(n: int = 3, step: int | None = None):
    """The chain of ``n`` modules with forward arrows (blue, top) and backward arrows (red,
    bottom). With ``step`` (0..2n), only what has happened by then is coloured and the active
    module is outlined. Returns a ``matplotlib.figure.Figure``."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch

    n, step = _check(n, step)
    done = 2 * n if step is None else step
    active = None if step in (None, 0) else (step if step <= n else 2 * n - step + 1)

    fig = Figure(figsize=(2.3 * n + 1.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(-0.8, _GAP * n + 0.8)
    ax.set_ylim(-2.9, 2.9)
    ax.set_axis_off()

    def arrow(start, end, colour, lw=1.6):
        ax.annotate("", xy=end, xytext=start,
                    arrowprops=dict(arrowstyle="-|>", color=colour, lw=lw, shrinkA=0, shrinkB=0))

    def label(x, y, text, colour):
        ax.text(x, y, text, ha="center", va="center", fontsize=11, color=colour)

    for i in range(1, n + 1):
        x = _GAP * i - _GAP / 2  # the box's centre; z_{i-1} and z_i sit half a gap away
        left, right = x - _GAP / 2 + _LABEL, x + _GAP / 2 - _LABEL
        forward_done = done >= i
        backward_done = done >= 2 * n - i + 1
        edge = "black" if i == active else "0.5"
        ax.add_patch(FancyBboxPatch((x - 0.55, -0.85), 1.1, 1.7, boxstyle="round,pad=0.05",
                                    facecolor="white", edgecolor=edge, lw=2.5 if i == active else 1))
        ax.plot([x - 0.55, x + 0.55], [0, 0], color="0.6", lw=0.8, ls=":")
        ax.text(x, 0.42, f"$f_{{{i}}}$\nforward", ha="center", va="center", fontsize=10,
                color=_FORWARD if forward_done else "0.5")
        ax.text(x, -0.42, f"$f_{{{i}}}$\nbackward", ha="center", va="center", fontsize=10,
                color=_BACKWARD if backward_done else "0.5")
        # forward: z_{i-1} -> box -> z_i, and w_i from above; the z labels sit between boxes
        colour = _FORWARD if forward_done else _IDLE
        arrow((left, 0.45), (x - 0.6, 0.45), colour)
        arrow((x + 0.6, 0.45), (right, 0.45), colour)
        label(x, 2.2, f"$w_{{{i}}}$", "black")
        arrow((x, 1.95), (x, 0.9), colour)
        # backward: g(z_i) -> box -> g(z_{i-1}), and g(w_i) downwards
        colour = _BACKWARD if backward_done else _IDLE
        arrow((right, -0.45), (x + 0.6, -0.45), colour)
        arrow((x - 0.6, -0.45), (left, -0.45), colour)
        arrow((x, -0.9), (x, -1.95), colour)
        label(x, -2.2, f"$g(w_{{{i}}})$", _BACKWARD if backward_done else "0.6")

    for i in range(n + 1):
        x = _GAP * i
        name = "$x$" if i == 0 else (f"$z = z_{{{n}}}$" if i == n else f"$z_{{{i}}}$")
        label(x, 0.45, name, _FORWARD if done >= i else "0.6")
        # g(z_i) exists once module i+1's backward has run (g(z_n) = 1 once the forward is done)
        known = done >= 2 * n - i
        text = "$g(z_{%d})$\n$= 1$" % n if i == n else f"$g(z_{{{i}}})$"
        label(x, -0.45, text, _BACKWARD if known else "0.6")
    if n:
        ax.text(0, 0.9, "$= z_0$", ha="center", va="center", fontsize=9, color="0.4")

    title = "forward (blue): left to right, caching inputs;  backward (red): right to left"
    if step is not None:
        title = f"step {step} of {2 * n}: " + ("start" if step == 0 else
                                               "forward" if step <= n else "backward")
    ax.set_title(title, fontsize=11)
    return fig


def draw(step: int, n: int = 3):
    """What the stepper shows at this step: ``(figure, html)``, :func:`figure` and
    :func:`step_text`."""
    return figure(n, step), step_text(step, n)


def stepper(n: int = 3, step: int = 0):
    """A slider over the 2n steps of one forward and backward pass through n modules; moving it
    redraws (:func:`draw`).

    Returns:
        the ``ipywidgets.VBox`` of :func:`cnnlab.widgets._explore.explore`, with ``.controls``
        (``step``, the slider).
    """
    import ipywidgets as widgets

    n, step = _check(n, step)
    controls = {"step": widgets.IntSlider(value=step, min=0, max=2 * n, description="step",
                                          continuous_update=False)}
    return explore(controls, functools.partial(draw, n=n), image_layout={"max_width": "760px"})
