"""``cnnlab build``: the student notebook of each lesson, made from its source.

For each cell of ``solutions/NN_topic.ipynb``:

* hidden-test regions are removed (markers included);
* in a solution cell, each solution region becomes ``# YOUR CODE HERE`` +
  ``raise NotImplementedError()`` at the marker's indentation (``YOUR ANSWER HERE`` in a
  markdown cell); a solution cell without markers is replaced entirely, as nbgrader does;
* outputs and execution counts are cleared; only the ``tags``, ``jupyter``, ``slideshow`` and
  ``nbgrader`` metadata are kept;
* graded and locked cells become ``editable: false, deletable: false``, solution cells
  ``deletable: false`` (nbgrader's LockCells); nbgrader cells get nbgrader's ``checksum`` and
  ``cell_type``;
* the cell id is the ``grade_id`` for nbgrader cells, else the source cell's id.

The notebook gets the ``python3`` kernelspec and ``metadata.cnnlab = {"lesson", "version",
"build_sha256"}``: the lesson is how ``cnnlab grade`` knows the lesson of a submission, the hash
how a later build knows the file was not changed since (:mod:`cnnlab.course.release`). The
result depends on nothing but the source, so building twice gives the same bytes
(:func:`cnnlab.course.notebook.dumps`).

A file in ``notebooks/`` that a person changed is never overwritten: :func:`write_lessons`
refuses, naming it, unless ``force``, which first moves it to ``notebooks/.backup/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import nbformat

from .. import __version__
from . import notebook as nbk
from . import release
from .lessons import CourseError, Lesson, Problem, relative

KEPT_METADATA = ("tags", "jupyter", "slideshow")  # cell metadata kept besides nbgrader's
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class BuildError(CourseError):
    """A source that cannot be built; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


#: What to do about a notebook a person changed: never advice that would lose their work.
KEEP_THE_WORK = ("if the changes are work to keep, copy them elsewhere first (students work in their "
                 "own copies, made by `cnnlab lab`); then `cnnlab build --force` moves the file to "
                 "notebooks/.backup/ and writes the release")


class ChangedByHand(CourseError):
    """Notebooks that build would overwrite although a person changed them (``paths``)."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        super().__init__(f"{', '.join(paths)}: changed by hand since `cnnlab build` wrote "
                         f"{'it' if len(paths) == 1 else 'them'}; build overwrites nothing a person "
                         f"changed, so it wrote nothing. {KEEP_THE_WORK[0].upper()}{KEEP_THE_WORK[1:]}.")


def student_source(cell) -> str:
    """The cell's source as students see it (raises MarkerError for broken markers, or for
    solution markers outside a solution cell, which nbgrader refuses too)."""
    source = nbk.replace_regions(cell["source"], "hidden")
    if nbk.is_solution(cell):
        stub = nbk.CODE_STUB if cell["cell_type"] == "code" else nbk.TEXT_STUB
        if not any(r.kind == "solution" for r in nbk.regions(source)):
            return "\n".join(stub)
        return nbk.replace_regions(source, "solution", stub)
    if any(r.kind == "solution" for r in nbk.regions(source)):
        raise nbk.MarkerError("solution markers in a cell that is not a solution cell "
                              "(set nbgrader solution: true, or remove the markers)")
    return source


def _student_metadata(cell, source: str) -> dict:
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k in KEPT_METADATA}
    grading = nbk.nbgrader(cell)
    if not grading:
        return meta
    grading = dict(grading)
    grading["cell_type"] = cell["cell_type"]
    grading["checksum"] = nbk.compute_checksum({"source": source, "cell_type": cell["cell_type"],
                                                "metadata": {"nbgrader": grading}})
    meta["nbgrader"] = grading
    if nbk.is_locked(cell):
        meta["editable"] = False
    if nbk.kind(cell) is not None:
        meta["deletable"] = False
    return meta


def cell_ids(cells) -> list[str]:
    """Stable, unique ids: the grade_id, else the source's id, else ``cell-N``."""
    ids, used = [], set()
    for index, cell in enumerate(cells):
        candidates = [nbk.grade_id(cell), cell.get("id"), f"cell-{index}"]
        chosen = next((c for c in candidates if isinstance(c, str) and _CELL_ID.match(c)
                       and c not in used), None)
        while chosen is None or chosen in used:  # only if a source id is literally "cell-N"
            index += 1000
            chosen = f"cell-{index}"
        used.add(chosen)
        ids.append(chosen)
    return ids


def student_cell(cell, cell_id: str) -> nbformat.NotebookNode:
    """The student version of one source cell (see the module docstring)."""
    source = student_source(cell)
    new = {"cell_type": cell["cell_type"], "id": cell_id,
           "metadata": _student_metadata(cell, source), "source": source}
    if cell["cell_type"] == "code":
        new.update(execution_count=None, outputs=[])
    elif "attachments" in cell:
        new["attachments"] = cell["attachments"]
    return nbformat.from_dict(new)


def student_notebook(source: nbformat.NotebookNode, lesson: str,
                     path: str = "") -> nbformat.NotebookNode:
    """The student notebook of ``source`` (lesson name ``lesson``), in memory.

    Raises:
        BuildError: markers that cannot be processed, nbgrader cells without a grade_id or
            graded cells without numeric points; ``path`` names the source in messages.
    """
    cells, problems = [], []
    for index, (cell, cell_id) in enumerate(zip(source.cells, cell_ids(source.cells))):
        try:
            cells.append(student_cell(cell, cell_id))
        except ValueError as err:  # broken markers (MarkerError) or metadata without which
            problems.append(Problem(path or lesson, str(err), index + 1, nbk.grade_id(cell)))
    if problems:
        raise BuildError(problems)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata = {"kernelspec": dict(nbk.KERNELSPEC), "language_info": {"name": "python"},
                   "cnnlab": {"lesson": lesson, "version": __version__}}
    release.stamp(nb)
    return nb


def build_lesson(lesson: Lesson) -> nbformat.NotebookNode:
    """Read a lesson's source and return its student notebook."""
    return student_notebook(nbk.read(lesson.source), lesson.name, relative(lesson.source, lesson.root))


class Written(NamedTuple):
    """What :func:`write_lessons` did with one lesson."""

    lesson: Lesson
    changed: bool  # False: the file already held these bytes and was left alone
    backup: Path | None = None  # where a file a person had changed was moved first


def write_lessons(lessons: list[Lesson], folder: Path | None = None, force: bool = False) -> list[Written]:
    """Build each lesson into ``folder`` (default: the course's ``notebooks/``).

    Every lesson is built and every target checked before anything is written, so a broken
    source or a refusal leaves ``notebooks/`` untouched.

    Raises:
        BuildError: a source cannot be built.
        ChangedByHand: a target was changed by a person since a build wrote it (its build
            hash no longer matches) and ``force`` is false. With ``force`` such a file is
            moved to ``.backup/`` beside it (:func:`cnnlab.course.release.back_up`) first.
    """
    built, problems = [], []
    for lesson in lessons:
        target = (folder / lesson.student.name) if folder is not None else lesson.student
        try:
            built.append((lesson, target, nbk.dumps(build_lesson(lesson))))
        except BuildError as err:
            problems.extend(err.problems)
    if problems:
        raise BuildError(problems)
    current = {target: target.read_text(encoding="utf-8", errors="replace")
               for _, target, _ in built if target.is_file()}
    by_hand = [target for _, target, text in built
               if target in current and current[target] != text
               and not release.unchanged_since_build(current[target], text)]
    if by_hand and not force:
        raise ChangedByHand([relative(t, lessons[0].root) for t in by_hand])
    results = []
    for lesson, target, text in built:
        if current.get(target) == text:
            results.append(Written(lesson, False))
            continue
        backup = release.back_up(target) if target in by_hand else None
        nbk.atomic_write(target, text)
        results.append(Written(lesson, True, backup))
    return results


def execute_sources(lessons: list[Lesson], timeout: int | None = None, log=print) -> None:
    """Run each source notebook top to bottom (full mode: ``CNNLAB_FAST`` unset) in a fresh
    kernel whose working folder is the course root, and store its outputs in place.

    Cell and notebook metadata are kept (nbclient adds ``language_info`` and widget state).

    Raises:
        CourseError: a cell failed; that notebook is left as it was.
    """
    from . import kernel  # nbclient and a kernel only for this

    for lesson in lessons:
        log(f"executing {relative(lesson.source, lesson.root)} ...")
        nb = nbk.read(lesson.source)
        try:
            kernel.execute_notebook(nb, lesson.root, kernel.kernel_env(lesson.root, fast=False), timeout)
        except Exception as err:  # CellExecutionError, timeout, dead kernel: say which and stop
            raise CourseError(f"{relative(lesson.source, lesson.root)}: execution failed: "
                              f"{type(err).__name__}: {_first_line(err)}") from err
        nbk.write(lesson.source, nb)


def _first_line(err: BaseException) -> str:
    from .kernel import strip_ansi

    text = strip_ansi(str(err)).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""

