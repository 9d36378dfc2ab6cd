"""``cnnlab validate``: the lesson sources are well formed and ``notebooks/`` is what
``cnnlab build`` writes from them.

Each problem is one line, ``path: cell N (grade_id): problem``; no problem gives a one-line
summary. Checked in each source: nbgrader metadata (schema 3, boolean flags, a well-formed and
unique ``grade_id``, numeric ``points`` > 0 on graded cells, the cell kinds of
:mod:`cnnlab.course.notebook`), markers (balanced, not nested, solution markers only in solution
cells and present in each, hidden tests only in graded cells), and that every graded cell tests
something (a ``check(`` call or an ``assert``) -- and, where it calls ``cl.check("id", ...)``
with an exercise registered in :mod:`cnnlab.grading`, that ``grade_id`` and points agree with it.
Checked in ``notebooks/``: a student notebook per lesson and none more, each equal to what build
writes, with no solution or hidden-test text, no marker and no output or execution count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from . import build, leaks, recheck, release
from . import notebook as nbk
from ..grading import core, plain
from .lessons import SOURCES, STUDENT, Lesson, Problem, all_lessons, misnamed_sources, relative

_CHECK_CALL = re.compile(r"(?<![\w])check\(")
_ASSERT = re.compile(r"^\s*assert\b", re.M)
_CHECK_ID = re.compile(r"""(?<![\w])check\(\s*["']([^"']+)["']""")
_FLAGS = ("grade", "solution", "locked")


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    lessons: int = 0
    graded: int = 0
    points: float = 0.0

    def summary(self) -> str:
        if self.problems:
            return f"cnnlab validate: {len(self.problems)} problem(s)"
        if not self.lessons:
            return "cnnlab validate: no lessons in solutions/ (nothing to check)"
        return (f"cnnlab validate: {self.lessons} lesson(s), {self.graded} graded cell(s) worth "
                f"{self.points:g} point(s); sources well formed, notebooks/ up to date, no leaks")


# --- one source cell ----------------------------------------------------------------------------

def _metadata_problems(cell) -> list[str]:
    meta = nbk.nbgrader(cell)
    found = []
    if meta.get("schema_version") != nbk.SCHEMA_VERSION:
        found.append(f"nbgrader schema_version must be {nbk.SCHEMA_VERSION}; got {meta.get('schema_version')!r}")
    for flag in _FLAGS:
        if not isinstance(meta.get(flag, False), bool):
            found.append(f"nbgrader {flag!r} must be true or false; got {meta[flag]!r}")
    gid = meta.get("grade_id")
    if not isinstance(gid, str) or not nbk.GRADE_ID.match(gid):
        found.append(f"grade_id {gid!r} is malformed: it must match {nbk.GRADE_ID.pattern}")
    if nbk.is_grade(cell):
        found.extend(_graded_problems(cell, meta))
    elif nbk.is_solution(cell) and meta.get("locked"):
        found.append("a solution cell cannot be locked (set locked: false)")
    return found


def _graded_problems(cell, meta) -> list[str]:
    found = []
    value = meta.get("points")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        found.append(f"a graded cell needs numeric points > 0; got {value!r}")
    if nbk.is_solution(cell):
        found.append("grade and solution both true (a manually graded answer): cnnlab grades "
                     "test cells only; split it into a solution cell and a graded test cell")
    if not meta.get("locked"):
        found.append("a graded test cell must be locked (locked: true)")
    if cell["cell_type"] != "code":
        found.append(f"a graded test cell must be a code cell; got {cell['cell_type']}")
    code = "\n".join(line for line in cell["source"].split("\n") if not line.lstrip().startswith("#"))
    if not (_CHECK_CALL.search(code) or _ASSERT.search(code)):
        found.append("a graded test cell must test something: a cl.check(...) call or an assert")
    elif cell["cell_type"] == "code":
        try:  # cnnlab grade re-checks the exercise of that call with the functions it names
            recheck.check_call(nbk.replace_regions(cell["source"], "hidden"))
        except nbk.MarkerError:
            pass  # reported with the markers
        except ValueError as err:
            found.append(f"{err} (cnnlab grade reads the exercise and the function names from it)")
    return found


def _marker_problems(cell) -> list[str]:
    try:
        regions = nbk.regions(cell["source"])
    except nbk.MarkerError as err:
        return [str(err)]
    kinds = {r.kind for r in regions}
    found = []
    if nbk.is_solution(cell) and "solution" not in kinds:
        found.append(f"a solution cell without '{nbk.BEGIN_SOLUTION}' / '{nbk.END_SOLUTION}' markers")
    if "solution" in kinds and not nbk.is_solution(cell):
        found.append("solution markers in a cell that is not a solution cell "
                     "(set nbgrader solution: true, or remove the markers)")
    if "hidden" in kinds and not nbk.is_grade(cell):
        found.append("hidden tests outside a graded test cell")
    return found


def _registry():
    """cnnlab's exercise registry, or None where it cannot be loaded."""
    try:
        from .. import grading
        return grading.exercises()
    except Exception:
        return None


def _registry_problems(cell, registry) -> list[str]:
    """A graded cell that calls ``check("id", ...)`` for registered exercises must be named
    after one of them and be worth the same points (ids unknown here are not judged)."""
    ids = _CHECK_ID.findall(nbk.replace_regions(cell["source"], "hidden"))
    known = [i for i in ids if registry and i in registry]
    if not known:
        return []
    gid = nbk.grade_id(cell)
    if gid not in ids:
        return [f"grade_id {gid!r} differs from the exercise id it checks ({', '.join(map(repr, ids))}); "
                "name the graded cell after its exercise"]
    value = nbk.nbgrader(cell).get("points")
    expected = registry[gid].points
    if isinstance(value, (int, float)) and float(value) != float(expected):
        return [f"points {value!r} differ from the {expected:g} registered for exercise {gid!r} in cnnlab.grading"]
    return []


def source_problems(nb, path: str, registry=None) -> list[Problem]:
    """Everything wrong with one lesson source."""
    problems, seen = [], {}
    for index, cell in enumerate(nb.cells):
        gid = nbk.grade_id(cell)
        messages = _marker_problems(cell)
        if nbk.nbgrader(cell):
            messages = _metadata_problems(cell) + messages
            if gid is not None and gid in seen:
                messages.append(f"grade_id {gid!r} is also used by cell {seen[gid]}; grade ids must be unique")
            if gid is not None:
                seen.setdefault(gid, index + 1)
        if nbk.is_grade(cell) and not messages:
            messages = _registry_problems(cell, registry)
        problems.extend(Problem(path, m, index + 1, gid) for m in messages)
    return problems


# --- one student notebook -----------------------------------------------------------------------

def student_problems(nb, path: str, found: leaks.Secrets | None) -> list[Problem]:
    """Leaks and stored outputs in a student notebook."""
    problems = []
    for index, cell in enumerate(nb.cells):
        gid = nbk.grade_id(cell)
        messages = [f"reveals the answer: {m}" for m in leaks.text_leaks(cell.get("source", ""), found)]
        if cell.get("outputs"):
            messages.append("has stored outputs (students must start from a clean notebook)")
        if cell.get("execution_count") is not None:
            messages.append("has an execution count")
        problems.extend(Problem(path, m, index + 1, gid) for m in messages)
    return problems


def _first_difference(built, current) -> int | None:
    """1-based index of the first cell that differs, or None if every cell is equal."""
    for index, (a, b) in enumerate(zip(built.cells, current.cells)):
        if nbk.dumps_cell(a) != nbk.dumps_cell(b):
            return index + 1
    return None if len(built.cells) == len(current.cells) else min(len(built.cells), len(current.cells)) + 1


def _sync_problems(lesson: Lesson, source, path: str) -> list[Problem]:
    """The student notebook exists and has exactly the bytes build would write."""
    expected = build.student_notebook(source, lesson.name, path)
    target = relative(lesson.student, lesson.root)
    if not lesson.student.is_file():
        return [Problem(target, "missing; run `cnnlab build`")]
    text = lesson.student.read_text(encoding="utf-8", errors="replace")
    wanted = nbk.dumps(expected)
    if text == wanted:
        return []
    try:
        cell = _first_difference(expected, nbk.read(lesson.student))
        where = f"first at cell {cell}" if cell else "in its notebook metadata or formatting"
    except Exception as err:
        where = f"not a readable notebook: {type(err).__name__}"
    if release.unchanged_since_build(text, wanted):
        return [Problem(target, f"differs from what `cnnlab build` writes ({where}): out of date; run `cnnlab build`")]
    return [Problem(target, f"differs from what `cnnlab build` writes ({where}) and was changed by hand "
                            f"since a build wrote it: {build.KEEP_THE_WORK}")]


def hidden_problems(lesson: Lesson, source, registry) -> list[Problem]:
    """The grader's hidden cases of the lesson (``solutions/hidden/<lesson>.py``): loadable,
    for exercises of this lesson, at least one for each, and each one drawable as plain data."""
    path = relative(lesson.root / SOURCES / recheck.HIDDEN / f"{lesson.name}.py", lesson.root)
    try:
        cases = recheck.hidden_cases(lesson.root, lesson.name)
    except Exception as err:
        return [Problem(path, f"cannot be loaded: {type(err).__name__}: {err}")]
    graded = [nbk.grade_id(c) for c in source.cells if nbk.is_grade(c) and registry and nbk.grade_id(c) in registry]
    problems = [Problem(path, f"has cases for {gid!r}, which is not an exercise of this lesson")
                for gid in cases if gid not in graded]
    for gid in graded:
        if not cases.get(gid):
            problems.append(Problem(path, f"no hidden cases for exercise {gid!r}: add some (the grader re-checks "
                                          "every exercise on them)"))
            continue
        try:
            for _, _, inputs in core.draw(registry[gid], seed=0, extra=cases[gid]):
                plain.pack(inputs, inputs=True)
        except Exception as err:
            problems.append(Problem(path, f"a case of {gid!r} cannot be drawn and sent: {type(err).__name__}: {err}"))
    return problems


def validate_lesson(lesson: Lesson, registry=None) -> tuple[list[Problem], int, float]:
    """Problems of one lesson, its number of graded cells and their points."""
    path = relative(lesson.source, lesson.root)
    try:
        source = nbk.read(lesson.source)
    except Exception as err:
        return [Problem(path, f"not a readable notebook: {type(err).__name__}: {err}")], 0, 0.0
    problems = source_problems(source, path, registry)
    graded = [c for c in source.cells if nbk.is_grade(c)]
    total = sum(nbk.points(c) for c in graded)
    if not problems:  # a broken source cannot be built; its own problems come first
        problems = _sync_problems(lesson, source, path)
    problems += hidden_problems(lesson, source, registry)
    if lesson.student.is_file():
        try:
            student = nbk.read(lesson.student)
            problems += student_problems(student, relative(lesson.student, lesson.root), leaks.secrets(source))
        except Exception:
            pass  # reported by _sync_problems as unreadable
    return problems, len(graded), total


def validate(root) -> Report:
    """Validate the course at ``root``."""
    root = Path(root)
    report = Report()
    registry = _registry()
    lessons = all_lessons(root)
    for path in misnamed_sources(root):
        report.problems.append(Problem(relative(path, root), "not a lesson name: sources are named "
                                       "NN_topic.ipynb (two digits, lowercase words joined by _)"))
    for lesson in lessons:
        problems, graded, total = validate_lesson(lesson, registry)
        report.problems += problems
        report.lessons += 1
        report.graded += graded
        report.points += total
    names = {lesson.name for lesson in lessons}
    for extra in sorted((root / STUDENT).glob("*.ipynb")) if (root / STUDENT).is_dir() else []:
        if extra.stem not in names:
            report.problems.append(Problem(relative(extra, root), f"has no source solutions/{extra.name}; "
                                           "remove it or add its source"))
    return report

