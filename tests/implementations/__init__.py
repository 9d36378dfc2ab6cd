"""Right and wrong implementations of every graded exercise, one module per lesson.

``tests/implementations/lessonNN.py`` declares two lists::

    RIGHT = [Right("scale_images", scale_images_convert_first), ...]   # >= 2 per exercise
    WRONG = [Wrong("scale_images", scale_float64, hint="gives float64"), ...]   # >= 1

``tests/test_wrong_implementations.py`` finds these modules itself and asserts that each right
implementation earns the exercise's points silently and that each wrong one is rejected with
output containing ``hint`` (``tests/test_recheck.py`` asserts the same of the grader). Functions
a check takes along (``forward=...``) go in ``partners``.

The exercises' own ``Mistake`` models are run as wrong implementations by those tests already;
``WRONG`` holds what they cannot stand for: one student-style implementation of each mistake
COURSE.md says a check must catch (independent code, so the hint is shown to fire on code a
student writes), and code that raises, changes its inputs in place or returns another dtype or
container (see docs/writing-checks.md, "Right and wrong implementations").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Right:
    """A correct implementation: ``cl.check(exercise, fn, **partners)`` must return the points."""

    exercise: str
    fn: Callable
    partners: dict = field(default_factory=dict)


@dataclass
class Wrong:
    """A wrong implementation: the check must fail and print ``hint`` (a substring)."""

    exercise: str
    fn: Callable
    hint: str
    partners: dict = field(default_factory=dict)
