"""Where the course lives: the repository root, and the lessons in ``solutions/``.

A lesson ``NN_topic`` (``NN`` two digits, ``topic`` lowercase words joined by ``_``) has its
source in ``solutions/NN_topic.ipynb`` and its student notebook in ``notebooks/NN_topic.ipynb``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

LESSON_NAME = re.compile(r"^\d\d_[a-z0-9]+(?:_[a-z0-9]+)*$")
SOURCES, STUDENT = "solutions", "notebooks"


class CourseError(Exception):
    """A problem that stops a course command (no root, unknown lesson, ...); the CLI prints
    it as one line and exits with status 2."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a file: printed as ``path: cell N (grade_id): message``
    (cells counted from 1, as a reader counts them in JupyterLab)."""

    path: str
    message: str
    cell: int | None = None
    grade_id: str | None = None

    def __str__(self) -> str:
        where = "" if self.cell is None else f" cell {self.cell}" + (f" ({self.grade_id})" if self.grade_id else "")
        return f"{self.path}:{where}: {self.message}" if where else f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Lesson:
    name: str  # e.g. "04_convolution"
    root: Path

    @property
    def source(self) -> Path:
        return self.root / SOURCES / f"{self.name}.ipynb"

    @property
    def student(self) -> Path:
        return self.root / STUDENT / f"{self.name}.ipynb"


def _is_course_root(folder: Path) -> bool:
    if (folder / SOURCES).is_dir():
        return True
    pyproject = folder / "pyproject.toml"
    return pyproject.is_file() and re.search(
        r'^name\s*=\s*"cnnlab"', pyproject.read_text(encoding="utf-8", errors="replace"), re.M) is not None


def find_root(start=None) -> Path:
    """The nearest folder, from ``start`` (default: the current folder) upwards, that holds
    ``solutions/`` or the cnnlab ``pyproject.toml``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_course_root(folder):
            return folder
    raise CourseError(f"no course root found from {here} upwards (a folder with solutions/ "
                      "or cnnlab's pyproject.toml); pass --root")


def all_lessons(root) -> list[Lesson]:
    """Every lesson with a source in ``solutions/``, in lesson order (none: an empty list)."""
    root = Path(root)
    folder = root / SOURCES
    if not folder.is_dir():
        return []
    return [Lesson(p.stem, root) for p in sorted(folder.glob("*.ipynb")) if LESSON_NAME.match(p.stem)]


def misnamed_sources(root) -> list[Path]:
    """Notebooks in ``solutions/`` whose name is not ``NN_topic.ipynb`` (never built)."""
    folder = Path(root) / SOURCES
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.ipynb")) if not LESSON_NAME.match(p.stem)]


def select(root, wanted) -> list[Lesson]:
    """The lessons named by ``wanted`` -- each ``"04"``, ``"04_convolution"`` or a path such as
    ``solutions/04_convolution.ipynb`` -- or every lesson when ``wanted`` is empty."""
    lessons = all_lessons(root)
    if not wanted:
        return lessons
    chosen = []
    for item in wanted:
        key = Path(item).stem
        match = [lesson for lesson in lessons if key in (lesson.name, lesson.name[:2])]
        if not match:
            known = ", ".join(lesson.name for lesson in lessons) or "none"
            raise CourseError(f"unknown lesson {item!r}; lessons in {Path(root) / SOURCES}: {known}")
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def relative(path, root) -> str:
    """``path`` relative to ``root`` for messages (as given when it lies elsewhere)."""
    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)
