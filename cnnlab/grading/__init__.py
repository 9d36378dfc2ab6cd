"""Graded exercises: the registry and ``check`` (also available as ``cl.check``).

In a notebook::

    cl.check("scale_images", scale_images)                 # prints a line per case
    cl.check("relu_backward", relu_backward, forward=relu_forward)

Exercises live in ``cnnlab/grading/lessonNN.py`` (found automatically); how to write one is in
``docs/writing-checks.md``. The registry is readable by tools: :func:`exercises` maps each id
to its :class:`Exercise` (``.points``, ``.lesson``), :func:`points` gives one exercise's points.
:func:`restore` reloads this package from disk, undoing anything a notebook did to it (an
autograder calls it before running graded cells).
"""

from __future__ import annotations

import importlib
import sys

from . import compare, core

__all__ = [
    "BROKEN", "Case", "CheckFailure", "Draw", "Exercise", "Mistake", "call_backward",
    "call_forward", "call_plain", "check", "describe", "difference", "exercise", "exercises",
    "get", "integers", "normal", "points", "register", "restore", "uniform", "unregister",
]


def _bind() -> None:
    """(Re)bind the public names of this package to those of the current core module."""
    namespace = globals()
    namespace["core"] = sys.modules[f"{__name__}.core"]
    namespace["compare"] = sys.modules[f"{__name__}.compare"]
    for name in __all__:
        if name == "difference":
            namespace[name] = namespace["compare"].difference
        elif name != "restore":
            namespace[name] = getattr(namespace["core"], name)


def restore() -> None:
    """Reload the grading code from disk and rebind ``check`` here and as ``cnnlab.check``.

    Whatever a notebook replaced (``cl.check = ...``, ``cl.grading.check = ...``, an
    exercise's points or cases) is gone afterwards; every lesson module is imported afresh.
    """
    parent = sys.modules[__name__.rpartition(".")[0]]
    # Fresh module objects (not importlib.reload, which reuses the old, possibly patched
    # ones); the lesson modules are imported again by discovery, into the new registry.
    for name in [m for m in sys.modules if m.startswith(f"{__name__}.")]:
        del sys.modules[name]
    importlib.import_module(f"{__name__}.compare")
    importlib.import_module(f"{__name__}.core")
    _bind()
    # cnnlab resolves cl.check through its module __getattr__; an assignment shadows it.
    parent.__dict__.pop("check", None)
    parent.__dict__["grading"] = sys.modules[__name__]


_bind()
