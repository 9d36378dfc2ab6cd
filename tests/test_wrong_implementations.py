"""Every check accepts several right implementations and rejects known wrong ones with a hint.

The implementations live in ``tests/implementations/lessonNN.py`` (lists ``RIGHT`` and
``WRONG``, see that package's docstring); this file finds them by itself, so a lesson author
only adds a module there. It also runs every exercise's own mistake models through the check
(the known mistakes as data: ``WRONG`` does not spell them again): each must be rejected with
its own hint, which proves that the public cases tell it apart from the reference.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path

import pytest

from cnnlab import grading

_FOLDER = Path(__file__).parent / "implementations"


def _load_implementations():
    """Import tests/implementations and its lesson modules by path (tests/ is not a package)."""
    name = "cnnlab_test_implementations"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, _FOLDER / "__init__.py", submodule_search_locations=[str(_FOLDER)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    right, wrong = [], []
    for info in sorted(pkgutil.iter_modules([str(_FOLDER)]), key=lambda m: m.name):
        if info.name.startswith("lesson"):
            module = importlib.import_module(f"{name}.{info.name}")
            right += [(info.name, r) for r in module.RIGHT]
            wrong += [(info.name, w) for w in module.WRONG]
    return right, wrong


RIGHT, WRONG = _load_implementations()
EXERCISES = grading.exercises()
MISTAKES = [(ex.id, i, m) for ex in EXERCISES.values() for i, m in enumerate(ex.mistakes)]


def _ids(pairs):
    return [f"{module}-{impl.exercise}-{impl.fn.__name__}" for module, impl in pairs]


@pytest.mark.parametrize("module, impl", RIGHT, ids=_ids(RIGHT))
def test_right_implementation_earns_the_points(module, impl, capsys):
    result = grading.check(impl.exercise, impl.fn, **impl.partners)
    out, err = capsys.readouterr()
    assert result == EXERCISES[impl.exercise].points
    assert err == ""
    assert "\u2717" not in out and "hint:" not in out
    assert f"{impl.exercise}: all" in out


@pytest.mark.parametrize("module, impl", WRONG, ids=_ids(WRONG))
def test_wrong_implementation_is_rejected_with_its_hint(module, impl, capsys):
    with pytest.raises(AssertionError, match=f"^{impl.exercise}: [0-9]+ of [0-9]+ cases failed$"):
        grading.check(impl.exercise, impl.fn, **impl.partners)
    out = capsys.readouterr().out
    assert impl.hint in out, f"expected the hint {impl.hint!r} in:\n{out}"


@pytest.mark.parametrize("exercise_id, index, mistake", MISTAKES,
                         ids=[f"{e}-mistake{i}" for e, i, _ in MISTAKES])
def test_every_mistake_model_is_caught_with_its_own_hint(exercise_id, index, mistake, capsys):
    ex = EXERCISES[exercise_id]
    with pytest.raises(AssertionError):
        grading.check(exercise_id, mistake.fn, **ex.partners)
    out = capsys.readouterr().out
    assert f"hint: {mistake.hint}" in out


def test_every_exercise_has_right_and_wrong_implementations():
    right = {ex: 0 for ex in EXERCISES}
    wrong = {ex: 0 for ex in EXERCISES}
    for _, impl in RIGHT:
        assert impl.exercise in EXERCISES, f"RIGHT names an unknown exercise {impl.exercise!r}"
        right[impl.exercise] += 1
    for _, impl in WRONG:
        assert impl.exercise in EXERCISES, f"WRONG names an unknown exercise {impl.exercise!r}"
        wrong[impl.exercise] += 1
    assert [ex for ex, n in right.items() if n < 2] == [], "needs >= 2 right implementations"
    assert [ex for ex, n in wrong.items() if n < 1] == [], "needs >= 1 wrong implementation"


def test_right_implementations_are_different_functions():
    by_exercise = {}
    for _, impl in RIGHT:
        by_exercise.setdefault(impl.exercise, set()).add(impl.fn.__code__.co_code)
    assert all(len(codes) >= 2 for codes in by_exercise.values())


def test_every_lesson_module_loaded():
    assert grading.BROKEN == {}
    assert "00" in {ex.lesson for ex in EXERCISES.values()}
