"""Notebook files and nbgrader cell metadata: reading, writing, markers and checksums.

A lesson source holds three kinds of nbgrader cells (``cell.metadata.nbgrader``, schema 3):

=============  =================================================  ===========================
kind           metadata                                           markers inside
=============  =================================================  ===========================
``solution``   ``solution: true, grade: false, locked: false``    ``### BEGIN/END SOLUTION``
``grade``      ``grade: true, solution: false, locked: true``,    ``### BEGIN/END HIDDEN
               ``points: P``                                      TESTS`` (optional)
``locked``     ``locked: true, grade: false, solution: false``    none
=============  =================================================  ===========================

Every nbgrader cell has a ``grade_id``; cells without ``metadata.nbgrader`` are ordinary cells
that students may edit or delete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

SCHEMA_VERSION = 3
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
#: marker lines by region kind: (begin, end)
MARKERS = {"solution": (BEGIN_SOLUTION, END_SOLUTION), "hidden": (BEGIN_HIDDEN, END_HIDDEN)}
#: what replaces a solution region, as nbgrader writes it
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
TEXT_STUB = ("YOUR ANSWER HERE",)
GRADE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# The words of every marker: a line holding one of these is a marker, well formed or not.
_MARKER_WORDS = re.compile(r"\b(BEGIN|END) (SOLUTION|HIDDEN TESTS)\b")


# --- files -------------------------------------------------------------------------------------

def read(path) -> nbformat.NotebookNode:
    """Read a notebook file (any nbformat 4 minor version) without validating it."""
    with open(path, encoding="utf-8") as f:
        return nbformat.read(f, as_version=4)


def dumps(nb: nbformat.NotebookNode) -> str:
    """The notebook as text, byte-for-byte the same for the same notebook.

    nbformat sorts keys and indents by one space; a trailing newline is added, as Jupyter does.
    """
    text = nbformat.writes(nb, version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def dumps_cell(cell) -> str:
    """One cell as canonical JSON (for comparing cells)."""
    return json.dumps(cell, sort_keys=True, ensure_ascii=False)


def atomic_write(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and
    ``os.replace``, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would make shared files private
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write(path, nb: nbformat.NotebookNode) -> None:
    """Write a notebook deterministically (see :func:`dumps`) and atomically."""
    atomic_write(path, dumps(nb))


# --- nbgrader metadata --------------------------------------------------------------------------

def nbgrader(cell) -> dict:
    """The cell's ``metadata.nbgrader`` (an empty dict when it has none)."""
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_grade(cell) -> bool:
    return bool(nbgrader(cell).get("grade", False))


def is_solution(cell) -> bool:
    return bool(nbgrader(cell).get("solution", False))


def is_locked(cell) -> bool:
    """nbgrader's rule: solution cells are never locked, graded cells always are."""
    if is_solution(cell):
        return False
    if is_grade(cell):
        return True
    return bool(nbgrader(cell).get("locked", False))


def kind(cell) -> str | None:
    """``"grade"``, ``"solution"``, ``"locked"`` or None for an ordinary cell."""
    if is_grade(cell):
        return "grade"
    if is_solution(cell):
        return "solution"
    if is_locked(cell):
        return "locked"
    return None


def grade_id(cell) -> str | None:
    value = nbgrader(cell).get("grade_id")
    return value if isinstance(value, str) else None


def points(cell) -> float:
    """The points of a graded cell (0 for any other cell, or when they are not a number)."""
    value = nbgrader(cell).get("points", 0)
    if not is_grade(cell) or isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    return float(value)


def compute_checksum(cell) -> str:
    """nbgrader's checksum of a cell: the MD5 of, in this order, the source, the cell type,
    ``str()`` of is-grade, is-solution and is-locked (``"True"``/``"False"``), the grade_id
    and, for a graded cell only, ``str(float(points))`` -- each encoded as UTF-8.

    Raises:
        ValueError: the cell has no grade_id, or is graded without numeric points.
    """
    meta = nbgrader(cell)
    if not isinstance(meta.get("grade_id"), str):
        raise ValueError(f"nbgrader metadata without a grade_id (got {meta.get('grade_id')!r})")
    parts = [cell["source"], cell["cell_type"], str(is_grade(cell)), str(is_solution(cell)),
             str(is_locked(cell)), meta["grade_id"]]
    if is_grade(cell):
        try:
            parts.append(str(float(meta["points"])))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"a graded cell needs numeric points; got {meta.get('points')!r}") from None
    digest = hashlib.md5()
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


# --- marker regions -----------------------------------------------------------------------------

class MarkerError(ValueError):
    """Unbalanced, nested, unclosed or malformed ``### BEGIN/END ...`` markers."""


@dataclass(frozen=True)
class Region:
    """Lines ``begin`` .. ``end`` (0-based, both marker lines included) of one region."""

    kind: str  # "solution" or "hidden"
    begin: int
    end: int
    indent: str  # the whitespace before the BEGIN marker


def _marker(line: str) -> tuple[str, str] | None:
    """``(kind, "begin"/"end")`` for an exact marker line; MarkerError for a line that names
    a marker but is not one (``## BEGIN SOLUTION``, ``### BEGIN SOLUTION here``)."""
    text = line.strip()
    for region_kind, (begin, end) in MARKERS.items():
        if text == begin:
            return region_kind, "begin"
        if text == end:
            return region_kind, "end"
    if _MARKER_WORDS.search(line):
        raise MarkerError(f"malformed marker {text!r}: a marker line holds exactly "
                          f"'{BEGIN_SOLUTION}', '{END_SOLUTION}', '{BEGIN_HIDDEN}' or '{END_HIDDEN}'")
    return None


def regions(source: str) -> list[Region]:
    """The marker regions of a cell's source, in order.

    Raises:
        MarkerError: a region inside another, an END without its BEGIN (or of the other
            kind), a BEGIN never closed, or a malformed marker line.
    """
    found, open_region = [], None
    for number, line in enumerate(source.split("\n")):
        marker = _marker(line)
        if marker is None:
            continue
        region_kind, edge = marker
        if edge == "begin":
            if open_region is not None:
                raise MarkerError(f"line {number + 1}: '{line.strip()}' inside the "
                                  f"{open_region[0]} region opened on line {open_region[1] + 1} "
                                  "(regions cannot be nested)")
            open_region = (region_kind, number, line[: len(line) - len(line.lstrip())])
        elif open_region is None or open_region[0] != region_kind:
            raise MarkerError(f"line {number + 1}: '{line.strip()}' without a matching "
                              f"'{MARKERS[region_kind][0]}' before it")
        else:
            found.append(Region(region_kind, open_region[1], number, open_region[2]))
            open_region = None
    if open_region is not None:
        raise MarkerError(f"line {open_region[1] + 1}: '{MARKERS[open_region[0]][0]}' is never "
                          f"closed by '{MARKERS[open_region[0]][1]}'")
    return found


def replace_regions(source: str, region_kind: str, stub: tuple[str, ...] = ()) -> str:
    """``source`` with every region of ``region_kind`` (markers included) replaced by the
    ``stub`` lines, indented like the region's BEGIN marker (no stub: the region is removed)."""
    lines = source.split("\n")
    for region in reversed([r for r in regions(source) if r.kind == region_kind]):
        lines[region.begin: region.end + 1] = [region.indent + s for s in stub]
    return "\n".join(lines)


def has_marker_text(source: str) -> bool:
    """Whether any line names a marker (well formed or not)."""
    return bool(_MARKER_WORDS.search(source))
