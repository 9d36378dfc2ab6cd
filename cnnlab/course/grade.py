"""``cnnlab grade``: autograde submitted notebooks.

For each submission (the file itself is only read; the work happens on a copy in a temporary
folder):

1. **read** it as notebook JSON (garbage, an empty file or JSON that is not a notebook gets a
   row with ``status: error`` and the reason);
2. **identify the lesson** from ``metadata.cnnlab.lesson`` (written by ``cnnlab build``), or
   else from the grade ids of its cells -- never from the file name;
3. **restore** every graded and locked cell from the lesson source by ``grade_id`` (graded
   cells with their hidden tests), re-inserting deleted ones at their source position; solution
   cells and the student's own cells are kept (a deleted solution cell becomes the stub again);
4. **run** it cell by cell in a fresh kernel (working folder: the temporary folder, holding a
   copy of the course's ``data/``; ``CNNLAB_FAST=1`` unless ``fast=False``, because the checks'
   pass marks are set in fast mode and the capstone's full training would outlast any sensible
   cell timeout; one BLAS thread, so parallel jobs do not fight over cores), after a first injected cell that caps the kernel's
   address space (``RLIMIT_AS``) and keeps it alive through ``exit()``; before each graded cell
   an injected cell re-imports ``cnnlab`` and ``cnnlab.grading`` from disk and rebinds ``cl``
   (and ``check``), so a redefined or patched check earns nothing. A cell past the timeout or a
   kernel that dies is recorded, the kernel is restarted and the cells that had run cleanly are
   run again, so the cells after it are still graded;
5. **score** each graded cell: its points when it ran without error, else 0 with a short reason
   (exception type and message -- never hidden-test source).

The results: ``OUT/<submission>.json`` per submission and ``OUT/grades.csv`` for the class, each
written atomically. The isolation is against mistakes and casual cheating, not a determined
attacker: untrusted code runs with the grader's permissions (use a container for that).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from . import build, leaks
from . import notebook as nbk
from .kernel import CellResult, Kernel, kernel_env
from .lessons import CourseError, all_lessons

DEFAULT_TIMEOUT = 60  # seconds per cell
DEFAULT_MEMORY = 4096  # MB of address space per kernel (0: no limit)
MAX_RESTARTS = 3
GRADER_TIMEOUT = 120  # seconds for the grader's own cells (set-up, restoring the checks)
_REASON_CHARS = 300
_BARE_CHECK = re.compile(r"(?<![\w.])check\(")


class GradeError(Exception):
    """A submission that cannot be graded; the message is the reason shown in its row."""


# --- results ------------------------------------------------------------------------------------

@dataclass
class ExerciseResult:
    grade_id: str
    max: float
    score: float = 0.0
    status: str = "not run"  # "passed", "failed" or "not run"
    feedback: str = ""


@dataclass
class Submission:
    file: str
    lesson: str = ""
    status: str = "ok"  # "ok": every cell ran (pass or fail); "error": see reason
    reason: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    sha256: str = ""

    @property
    def total(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def max(self) -> float:
        return sum(e.max for e in self.exercises)

    def to_json(self) -> dict:
        return {"file": self.file, "lesson": self.lesson, "status": self.status, "reason": self.reason,
                "total": self.total, "max": self.max,
                "exercises": {e.grade_id: {k: v for k, v in asdict(e).items() if k != "grade_id"}
                              for e in self.exercises},
                "events": self.events, "sha256": self.sha256, "cnnlab_version": __version__}


# --- the course, as the grader needs it ---------------------------------------------------------

class Course:
    """Every lesson's source, student notebook and secret lines (loaded once per process)."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.sources, self.students, self.secrets = {}, {}, {}
        for lesson in all_lessons(self.root):
            source = nbk.read(lesson.source)
            self.sources[lesson.name] = source
            self.students[lesson.name] = build.student_notebook(source, lesson.name)
            self.secrets[lesson.name] = leaks.secrets(source)

    def graded_ids(self, lesson: str) -> list[str]:
        return [nbk.grade_id(c) for c in self.sources[lesson].cells if nbk.is_grade(c)]

    def identify(self, nb: dict, events: list[str]) -> str:
        """The lesson of a submission: its cnnlab metadata, else the most shared grade ids."""
        meta = nb.get("metadata")
        meta = meta.get("cnnlab") if isinstance(meta, dict) else None
        named = meta.get("lesson") if isinstance(meta, dict) else None
        if named in self.sources:
            return named
        ids = {nbk.grade_id(c) for c in _cells(nb)} - {None}
        shared = {name: len(ids & {nbk.grade_id(c) for c in src.cells}) for name, src in self.sources.items()}
        best = max(shared.values(), default=0)
        winners = [name for name, n in shared.items() if n == best]
        if best == 0 or len(winners) > 1:
            raise GradeError("cannot tell which lesson this is: no cnnlab lesson metadata and "
                             + ("no grade id of any lesson" if best == 0 else f"grade ids of {', '.join(winners)}"))
        events.append(f"lesson {winners[0]} identified from grade ids (notebook metadata "
                      + (f"names unknown lesson {named!r})" if named else "missing)"))
        return winners[0]


# --- reading and restoring ----------------------------------------------------------------------

def read_submission(data: bytes) -> dict:
    """The submission's notebook JSON, or GradeError saying why it is not one."""
    if not data.strip():
        raise GradeError("not a notebook: the file is empty")
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
    """One cell to run: ``role`` is "graded", "locked", "solution" or "free"."""

    role: str
    label: str  # the grade_id, or "cell N" (N counted from 1 in the submission)
    cell_type: str
    source: str
    grade_id: str | None = None


def restore(nb: dict, source, student) -> tuple[list[Step], list[str]]:
    """The cells to run: graded and locked cells from ``source`` in source order, each followed
    by the student's own cells that followed it in the submission; solution cells as submitted
    (the stub of ``student`` if deleted). Returns the steps and what was repaired."""
    skeleton = [(nbk.grade_id(c), c) for c in source.cells if nbk.kind(c) and nbk.grade_id(c)]
    public = {nbk.grade_id(c): c for c in student.cells if nbk.grade_id(c)}
    anchors, segments, head, events = {}, {gid: [] for gid, _ in skeleton}, [], []
    current = head
    for index, cell in enumerate(_cells(nb)):
        gid = nbk.grade_id(cell)
        if gid in segments and gid not in anchors:
            anchors[gid], current = cell, segments[gid]
        else:
            current.append(Step("free", f"cell {index + 1}", _cell_type(cell), _source(cell)))
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
            steps.append(Step(role, gid, src["cell_type"], src["source"], gid))
        steps.extend(segments[gid])
    return steps, events


# --- running ------------------------------------------------------------------------------------

def setup_code(memory_mb: int) -> str:
    """The first cell run in a grading kernel."""
    lines = ["# cnnlab grade: keep the kernel alive through exit(); cap its memory",
             "get_ipython().keepkernel_on_exit = True"]
    if memory_mb:
        lines += ["import resource as _cnnlab_resource",
                  f"_cnnlab_limit = {int(memory_mb) * 2**20}",
                  "_cnnlab_hard = _cnnlab_resource.getrlimit(_cnnlab_resource.RLIMIT_AS)[1]",
                  "if _cnnlab_hard != _cnnlab_resource.RLIM_INFINITY:",
                  "    _cnnlab_limit = min(_cnnlab_limit, _cnnlab_hard)",
                  "_cnnlab_resource.setrlimit(_cnnlab_resource.RLIMIT_AS, (_cnnlab_limit, _cnnlab_limit))",
                  "del _cnnlab_resource, _cnnlab_limit, _cnnlab_hard"]
    return "\n".join(lines)


def restore_code(graded_source: str) -> str:
    """The cell run before a graded cell: cnnlab and its checks fresh from disk.

    Only ``cnnlab`` itself and ``cnnlab.grading*`` are re-imported: the other submodules (and
    so ``cl.nn`` classes, the backend's state) stay the objects the student's code uses.
    """
    lines = ["# cnnlab grade: the real checks, whatever the notebook did to them",
             "import sys as _cnnlab_sys",
             "for _cnnlab_name in [n for n in list(_cnnlab_sys.modules) if n in ('cnnlab', 'cnnlab.grading')",
             "                     or n.startswith('cnnlab.grading.')]:",
             "    del _cnnlab_sys.modules[_cnnlab_name]",
             "import cnnlab as cl",
             "import cnnlab.grading",
             "cnnlab.grading.exercises()  # import the lesson modules now, not on the student's time",
             "del _cnnlab_sys, _cnnlab_name"]
    if _BARE_CHECK.search(graded_source):
        lines.append("check = cnnlab.grading.check")
    return "\n".join(lines)


class _Runner:
    """Runs the steps of one submission in one kernel, restarting it when it dies or hangs."""

    def __init__(self, kernel: Kernel, memory_mb: int):
        self.kernel, self.setup = kernel, setup_code(memory_mb)
        self.history: list[str] = []  # non-graded cells that ran cleanly, to replay after a restart
        self.trouble: list[str] = []  # timeouts, dead kernels, giving up: the submission's errors
        self.restarts = 0
        self.gave_up = False

    def start(self) -> None:
        result = self.kernel.run(self.setup, GRADER_TIMEOUT)
        if not result.ok:
            raise GradeError(f"the grader could not set up the kernel: {result.ename}: {result.evalue}")

    def run(self, step: Step) -> CellResult | None:
        """Run one step; None for cells that do not run (markdown, raw, empty)."""
        if step.cell_type != "code" or not step.source.strip():
            return None
        if step.role == "graded":
            result = self.kernel.run(restore_code(step.source), GRADER_TIMEOUT)
            if result.ok:
                result = self.kernel.run(step.source)
            elif result.status == "error":
                result = CellResult("error", "GraderError", f"could not restore cnnlab's checks "
                                    f"({result.ename}: {result.evalue})")
        else:
            result = self.kernel.run(step.source)
            if result.ok:
                self.history.append(step.source)
        if result.status in ("timeout", "dead"):
            what = "ran past the time limit" if result.status == "timeout" else "killed the kernel"
            self.trouble.append(f"{step.label} {what}: kernel restarted")
            self._recover()
        return result

    def _recover(self) -> None:
        """A fresh kernel in the state of the cells that ran cleanly; give up if that fails."""
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.gave_up = True
            self.trouble.append(f"gave up after {MAX_RESTARTS} kernel restarts")
            return
        self.kernel.restart()
        for source, limit in [(self.setup, GRADER_TIMEOUT), *((s, None) for s in self.history)]:
            result = self.kernel.run(source, limit)
            if not result.ok:
                self.gave_up = True
                self.trouble.append(f"gave up: a cell that had run cleanly failed when run again "
                                   f"after the restart ({result.ename or result.status})")
                return


def _reason(result: CellResult, found: leaks.Secrets) -> str:
    if result.status == "timeout":
        text = f"timeout: {result.evalue}"
    elif result.status == "dead":
        text = "the kernel died while running this cell (exit, os._exit or a crash)"
    else:
        text = f"{result.ename}: {result.evalue}" if result.evalue else result.ename
    text = " ".join(text.split())
    text = text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."
    return leaks.redact(text, found)


def _execute(steps: list[Step], sub: Submission, course: Course, lesson: str, workdir: Path,
             timeout: float, memory_mb: int, fast: bool) -> list[str]:
    """Run the steps, scoring ``sub.exercises``; returns what went wrong with the run itself."""
    results = {e.grade_id: e for e in sub.exercises}
    env = kernel_env(course.root, fast=fast, threads=1)
    if (course.root / "data").is_dir():
        # A copy, so that a notebook writing into data/ cannot change the course's files.
        shutil.copytree(course.root / "data", workdir / "data")
        env["CNNLAB_DATA"] = str(workdir / "data")
    with Kernel(workdir, env, timeout=timeout) as kernel:
        runner = _Runner(kernel, memory_mb)
        runner.start()
        for step in steps:
            if runner.gave_up:
                break
            result = runner.run(step)
            if step.role == "graded" and result is not None:
                entry = results[step.grade_id]
                if result.ok:
                    entry.score, entry.status = entry.max, "passed"
                else:
                    entry.status, entry.feedback = "failed", _reason(result, course.secrets[lesson])
    for entry in sub.exercises:
        if entry.status == "not run":
            entry.feedback = "not run: " + ("the kernel kept dying or hanging" if runner.gave_up
                                            else "the graded cell is empty")
    return runner.trouble


def _finish(sub: Submission, trouble: list[str]) -> None:
    sub.events += trouble
    if trouble:
        sub.status, sub.reason = "error", "; ".join(trouble)
    else:
        failed = [e.grade_id for e in sub.exercises if e.status != "passed"]
        sub.status, sub.reason = "ok", ("failed: " + ", ".join(failed)) if failed else ""


def grade_file(path, course: Course, timeout: float = DEFAULT_TIMEOUT,
               memory_mb: int = DEFAULT_MEMORY, fast: bool = True) -> Submission:
    """Grade one submission (see the module docstring). Never raises for a bad submission."""
    sub = Submission(file=str(path))
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        sub.status, sub.reason = "error", f"cannot read the file: {err.strerror or err}"
        return sub
    sub.sha256 = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="cnnlab-grade-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp)
        copy = workdir / "submission.ipynb"
        copy.write_bytes(data)  # everything below reads the copy, never the original
        try:
            nb = read_submission(copy.read_bytes())
            sub.lesson = course.identify(nb, sub.events)
            source, student = course.sources[sub.lesson], course.students[sub.lesson]
            sub.exercises = [ExerciseResult(nbk.grade_id(c), nbk.points(c))
                             for c in source.cells if nbk.is_grade(c)]
            steps, repaired = restore(nb, source, student)
            sub.events += repaired
            trouble = _execute(steps, sub, course, sub.lesson, workdir, timeout, memory_mb, fast)
        except GradeError as err:
            sub.status, sub.reason = "error", str(err)
            return sub
        except Exception as err:  # the kernel would not start, or a grader bug: still a row
            sub.status, sub.reason = "error", f"grading failed: {type(err).__name__}: {err}"
            return sub
    _finish(sub, trouble)
    return sub


# --- many submissions ---------------------------------------------------------------------------

def _json_names(paths) -> list[str]:
    """``stem.json`` per submission; equal stems get ``-2``, ``-3``, ... in input order."""
    names, seen = [], {}
    for path in paths:
        stem = Path(path).stem or "submission"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.json" if seen[stem] == 1 else f"{stem}-{seen[stem]}.json")
    return names


def class_csv(subs: list[Submission], course: Course) -> str:
    """The class grade book: one row per submission, a column per graded exercise of the
    lessons submitted (named by grade id, or ``lesson:grade_id`` where two lessons share one)."""
    graded = {s.lesson for s in subs}
    keys = [(lesson, gid) for lesson in course.sources if lesson in graded for gid in course.graded_ids(lesson)]
    clash = {gid for _, gid in keys if sum(g == gid for _, g in keys) > 1}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "lesson", "total", "max", "status", "reason",
                     *[f"{lesson}:{gid}" if gid in clash else gid for lesson, gid in keys]])
    for sub in subs:
        scores = {(sub.lesson, e.grade_id): e.score for e in sub.exercises}
        writer.writerow([sub.file, sub.lesson, f"{sub.total:g}", f"{sub.max:g}" if sub.lesson else "",
                         sub.status, sub.reason, *[_cell(scores.get(key)) for key in keys]])
    return buffer.getvalue()


def _cell(value) -> str:
    return "" if value is None else f"{value:g}"


def grade(paths, root, out, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT,
          memory_mb: int = DEFAULT_MEMORY, fast: bool = True) -> list[Submission]:
    """Grade ``paths`` against the course at ``root``; write ``out/<name>.json`` and
    ``out/grades.csv``. ``jobs`` > 1 grades that many submissions at once (one kernel each);
    ``fast=False`` runs the lessons in full mode (``CNNLAB_FAST`` unset in the kernels)."""
    course = Course(root)
    if not course.sources:
        raise CourseError(f"no lessons in {course.root / 'solutions'}: nothing to grade against")
    paths = [str(p) for p in paths]
    if jobs > 1 and len(paths) > 1:
        # Threads suffice: each drives its own kernel process and mostly waits for it.
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_file, p, course, timeout, memory_mb, fast) for p in paths]
            subs = [_collect(f, p) for f, p in zip(futures, paths)]
    else:
        subs = [grade_file(p, course, timeout, memory_mb, fast) for p in paths]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub, name in zip(subs, _json_names(paths)):
        nbk.atomic_write(out / name, json.dumps(sub.to_json(), indent=1, ensure_ascii=False) + "\n")
    nbk.atomic_write(out / "grades.csv", class_csv(subs, course))
    return subs


def _collect(future, path: str) -> Submission:
    try:
        return future.result()
    except Exception as err:  # a grader bug in that thread: the row still appears
        return Submission(file=path, status="error", reason=f"grading failed: {type(err).__name__}: {err}")

