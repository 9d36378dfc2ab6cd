"""Graded exercises: the registry and ``check`` (also available as ``cl.check``).

In a notebook::

    cl.check("scale_images", scale_images)                 # prints a line per case
    cl.check("relu_backward", relu_backward, forward=relu_forward)

Exercises live in ``cnnlab/grading/lessonNN.py`` (found automatically); how to write one is in
``docs/writing-checks.md``. The registry is readable by tools: :func:`exercises` maps each id
to its :class:`Exercise` (``.points``, ``.lesson``), :func:`points` gives one exercise's points.
``cnnlab grade`` does not trust this package inside a submission's kernel (a notebook can
change anything there): it re-checks every exercise in its own process, with
:func:`run_case` in the kernel and :func:`judge_case` on its side (see :mod:`.core`,
:mod:`.plain` and :mod:`.remote`).
"""

from __future__ import annotations

from .compare import difference
from .core import (
    BROKEN,
    Case,
    CaseVerdict,
    CheckFailure,
    Draw,
    Exercise,
    Mistake,
    call_backward,
    call_forward,
    call_plain,
    check,
    describe,
    draw,
    exercise,
    exercises,
    get,
    integers,
    judge_case,
    normal,
    points,
    register,
    run_case,
    uniform,
    unregister,
)

__all__ = [
    "BROKEN", "Case", "CaseVerdict", "CheckFailure", "Draw", "Exercise", "Mistake", "call_backward",
    "call_forward", "call_plain", "check", "describe", "difference", "draw", "exercise", "exercises",
    "get", "integers", "judge_case", "normal", "points", "register", "run_case", "uniform", "unregister",
]
