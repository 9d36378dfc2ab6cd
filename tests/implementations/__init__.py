"""Right and wrong implementations of every graded exercise, one module per lesson.

``tests/implementations/lessonNN.py`` declares two lists::

    RIGHT = [Right("scale_images", scale_images_convert_first), ...]   # >= 2 per exercise
    WRONG = [Wrong("scale_images", scale_images_by_256, hint="not by 256"), ...]   # >= 1

``tests/test_wrong_implementations.py`` finds these modules itself and asserts that each right
implementation earns the exercise's points silently and that each wrong one is rejected with
output containing ``hint``. Functions a check takes along (``forward=...``) go in ``partners``.
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
