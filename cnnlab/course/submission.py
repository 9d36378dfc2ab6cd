"""A submitted notebook, as the grader reads it: never trusted, never modified.

:func:`read_submission` accepts only notebook JSON (anything else is a :class:`GradeError`
with the reason), :func:`identify` finds its lesson (from ``metadata.cnnlab.lesson`` or, else,
its grade ids; never from the file name), and :func:`restore` lists the cells to run: every
graded and locked cell as the lesson's student notebook has it (deleted ones put back, edited
ones replaced), the solution cells and the student's own cells as submitted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from . import notebook as nbk

#: The largest submission read, in bytes.
MAX_BYTES = 50 * 2**20


class GradeError(Exception):
    """A submission that cannot be graded; the message is the reason shown in its row."""


def read_submission(data: bytes) -> dict:
    """The submission's notebook JSON, or GradeError saying why it is not one."""
    if not data.strip():
        raise GradeError("not a notebook: the file is empty")
    if len(data) > MAX_BYTES:
        raise GradeError(f"not graded: the file is larger than {MAX_BYTES // 2**20} MB")
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise GradeError("not a notebook: the file is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise GradeError(f"not a notebook: invalid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise GradeError("not a notebook: JSON without a list of cells (nbformat 4 expected)")
    return nb


def _cells(nb: dict) -> list[dict]:
    return [c for c in nb.get("cells", []) if isinstance(c, dict)]


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def _cell_type(cell: dict) -> str:
    value = cell.get("cell_type")
    return value if value in ("code", "markdown", "raw") else "raw"


@dataclass
class Step:
    """One cell to run: ``role`` is "graded", "locked", "solution", "lesson" (a plain cell of
    the lesson as released) or "free" (a cell the student wrote or changed)."""

    role: str
    label: str  # the grade_id, or "cell N" (N counted from 1 in the submission)
    cell_type: str
    source: str
    grade_id: str | None = None

    @property
    def editable(self) -> bool:
        """Written by the student: a solution cell, or a cell of their own ("free"). A plain
        cell of the lesson left as released has the role "lesson"."""
        return self.role in ("solution", "free")


def restore(nb: dict, source, student) -> tuple[list[Step], list[str]]:
    """The cells to run: graded and locked cells from ``student`` (the student notebook built
    from ``source``) in source order, each followed by the student's own cells that followed it
    in the submission; solution cells as submitted (the stub if deleted). Returns the steps and
    what was repaired."""
    skeleton = [(nbk.grade_id(c), c) for c in source.cells if nbk.kind(c) and nbk.grade_id(c)]
    public = {nbk.grade_id(c): c for c in student.cells if nbk.grade_id(c)}
    released = {c["source"] for c in student.cells if not nbk.kind(c)}  # the lesson's plain cells
    anchors, segments, head, events = {}, {gid: [] for gid, _ in skeleton}, [], []
    current = head
    for index, cell in enumerate(_cells(nb)):
        gid = nbk.grade_id(cell)
        if gid in segments and gid not in anchors:
            anchors[gid], current = cell, segments[gid]
        else:
            text = _source(cell)
            current.append(Step("lesson" if text in released else "free", f"cell {index + 1}", _cell_type(cell), text))
    steps = list(head)
    for gid, src in skeleton:
        role = {"grade": "graded", "locked": "locked", "solution": "solution"}[nbk.kind(src)]
        mine = anchors.get(gid)
        if mine is None:
            events.append(f"{role} cell {gid!r} was deleted: " + ("restored from the source" if role != "solution"
                                                                 else "replaced by the empty exercise"))
        if role == "solution":
            mine = mine or public[gid]
            steps.append(Step(role, gid, _cell_type(mine), _source(mine), gid))
        else:
            if mine is not None and (_source(mine) != public[gid]["source"] or _cell_type(mine) != src["cell_type"]):
                events.append(f"{role} cell {gid!r} was edited: restored from the source")
            # Graded cells as students see them: without hidden tests, which the grader never
            # shows a submission's kernel (its verdict comes from its own re-check).
            steps.append(Step(role, gid, src["cell_type"], public[gid]["source"], gid))
        steps.extend(segments[gid])
    return steps, events


def identify(nb: dict, sources: dict, events: list[str]) -> str:
    """The lesson of a submission: its cnnlab metadata, else the most shared grade ids."""
    meta = nb.get("metadata")
    meta = meta.get("cnnlab") if isinstance(meta, dict) else None
    named = meta.get("lesson") if isinstance(meta, dict) else None
    if isinstance(named, str) and named in sources:
        return named
    ids = {nbk.grade_id(c) for c in _cells(nb)} - {None}
    shared = {name: len(ids & {nbk.grade_id(c) for c in src.cells}) for name, src in sources.items()}
    best = max(shared.values(), default=0)
    winners = [name for name, n in shared.items() if n == best]
    if best == 0 or len(winners) > 1:
        raise GradeError("cannot tell which lesson this is: no cnnlab lesson metadata and "
                         + ("no grade id of any lesson" if best == 0 else f"grade ids of {', '.join(winners)}"))
    events.append(f"lesson {winners[0]} identified from grade ids (notebook metadata "
                  + (f"names unknown lesson {named!r})" if named else "missing)"))
    return winners[0]
