"""``cnnlab grade``: autograde submitted notebooks, trusting none of them.

For each submission (the file itself is only read, never changed):

1. **read** it as notebook JSON, **identify** its lesson and **restore** its graded and locked
   cells from the lesson's student notebook (:mod:`.submission`);
2. **scan** the cells the student wrote for uses of cnnlab's own implementation of an exercise
   or of its grading code (:mod:`.scan`): such an exercise earns 0;
3. **run** the cells one by one in a fresh kernel, by default inside a bubblewrap sandbox
   (:mod:`.sandbox`) that sees only its scratch folder and read-only libraries and data, with
   a per-cell timeout, an address-space cap per process and, where control groups allow, a
   cap on its processes and their memory (:mod:`.limits`); a total time per submission;
   before each graded cell IPython's hooks are reset (:mod:`cnnlab.grading.remote`), so that
   what the student would see matches the verdict;
4. **re-check** each exercise right after its graded cell, in the grader's own process
   (:mod:`.recheck`): fresh and hidden cases, seeded from a secret of the run, sent to the
   kernel as plain data; the values the student's functions return are judged here;
5. **score**: a graded cell earns its points when its ``execute_reply`` says ``ok``, the
   re-check passes and the scan found nothing; every process of the kernel is gone before
   anything is written.

A cell past the timeout or a kernel that dies is recorded, the kernel is restarted and the
cells that had run cleanly run again, so the cells after it are still graded. The results:
``OUT/<submission>.json``, ``OUT/grades.csv``, ``OUT/report.json`` and ``OUT/report.html``
(:mod:`.report`), and ``OUT/run.json`` with the run's secret (``--seed`` repeats a run).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..grading import core, lesson12, plain
from . import build, leaks, recheck, report, sandbox
from . import notebook as nbk
from .kernel import CellResult, Kernel, Launch
from .lessons import CourseError, all_lessons
from .scan import scan
from .submission import MAX_BYTES, GradeError, Step, identify, read_submission, restore

DEFAULT_TIMEOUT = 60  # seconds per cell
DEFAULT_MEMORY = 4096  # MB of address space per kernel process (0: no limit)
DEFAULT_PIDS = 256  # processes and threads per kernel
MAX_RESTARTS = 3
GRADER_TIMEOUT = 120  # seconds for the grader's own cells (set-up, resets)
TRAIN_LIMITS = {True: (120, 2048), False: (600, 2048)}  # train_cnn's child: seconds, MiB (fast, full)
_REASON_CHARS = 300
_SETUP = ("# cnnlab grade: keep the kernel alive through exit(); remember IPython's hooks\n"
          "get_ipython().keepkernel_on_exit = True\n"
          "import cnnlab.grading.remote as _cnnlab_remote\n"
          "_cnnlab_remote.snapshot()\n"
          "del _cnnlab_remote")
_RESET = ("# cnnlab grade: IPython's hooks as they were\n"
          "import cnnlab.grading.remote as _cnnlab_remote\n"
          "_cnnlab_remote.reset()\n"
          "del _cnnlab_remote")


# --- results ------------------------------------------------------------------------------------

@dataclass
class ExerciseResult:
    grade_id: str
    max: float
    score: float = 0.0
    status: str = "not run"  # "passed", "failed" or "not run"
    feedback: str = ""
    ran_clean: bool | None = None  # the graded cell's execute_reply said "ok"
    recheck: str = "not run"  # the grader's own re-check: "passed", "failed" or "not run"
    hints: list = field(default_factory=list)
    cases: list = field(default_factory=list)
    flags: list = field(default_factory=list)  # uses of cnnlab's own implementation


@dataclass
class Submission:
    file: str
    lesson: str = ""
    status: str = "ok"  # "ok": every cell ran (pass or fail); "error": see reason
    reason: str = ""
    exercises: list[ExerciseResult] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    sha256: str = ""
    sandbox: str = "none"  # "bwrap" or "none"
    seconds: float = 0.0

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
                "events": self.events, "sha256": self.sha256, "sandbox": self.sandbox,
                "seconds": round(self.seconds, 1), "cnnlab_version": __version__}


@dataclass
class Options:
    """How a run grades: limits, mode, sandbox and the secret its case seeds come from."""

    timeout: float = DEFAULT_TIMEOUT
    memory_mb: int = DEFAULT_MEMORY
    pids: int = DEFAULT_PIDS
    fast: bool = True
    sandboxed: bool = True
    secret: str = ""
    submission_timeout: float = 0.0  # 0: 20 cell timeouts
    limits: str = ""  # the process cap the kernels got (see Launch.limits)

    @property
    def budget(self) -> float:
        return self.submission_timeout or 20 * self.timeout


# --- the course, as the grader needs it ---------------------------------------------------------

class Course:
    """Every lesson's source, student notebook, secret lines and hidden cases (loaded once)."""

    def __init__(self, root):
        self.root = Path(root).resolve()
        self.sources, self.students, self.secrets, self.hidden = {}, {}, {}, {}
        for lesson in all_lessons(self.root):
            source = nbk.read(lesson.source)
            self.sources[lesson.name] = source
            self.students[lesson.name] = build.student_notebook(source, lesson.name)
            self.secrets[lesson.name] = leaks.secrets(source)
            self.hidden[lesson.name] = recheck.hidden_cases(self.root, lesson.name)
        data = self.root / "data"
        self.data = data if data.is_dir() else None

    def graded_ids(self, lesson: str) -> list[str]:
        return [nbk.grade_id(c) for c in self.sources[lesson].cells if nbk.is_grade(c)]


# --- running ------------------------------------------------------------------------------------

def _kernel_env(home: str, data: Path | None, fast: bool) -> dict:
    """Exactly the environment of a grading kernel (nothing of the grader's own leaks in)."""
    env = {"PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
           "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONNOUSERSITE": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "MPLCONFIGDIR": f"{home}/.config/matplotlib", "IPYTHONDIR": f"{home}/.ipython",
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if fast:
        env["CNNLAB_FAST"] = "1"
    if data is not None:
        env["CNNLAB_DATA"] = str(data)
    return env


def _seed_font_cache(home: Path) -> None:
    """Copy the grader's matplotlib font cache into a kernel's home: without it, matplotlib
    scans the system's fonts again in every kernel (a second or more each)."""
    try:
        import matplotlib
        from matplotlib import font_manager

        font_manager.fontManager  # builds the grader's own cache first, if it has none yet
        cache = Path(matplotlib.get_cachedir())
        target = home / ".config" / "matplotlib"
        target.mkdir(parents=True, exist_ok=True)
        for font_list in cache.glob("fontlist-*.json"):
            shutil.copy2(font_list, target / font_list.name)
    except Exception:  # only a speed-up
        pass


class _Runner:
    """Runs the steps of one submission in one kernel, restarting it when it dies or hangs."""

    def __init__(self, kernel: Kernel, deadline: float):
        self.kernel, self.deadline = kernel, deadline
        self.history: list[str] = []  # non-graded cells that ran cleanly, to replay after a restart
        self.trouble: list[str] = []  # timeouts, dead kernels, giving up: the submission's errors
        self.restarts = 0
        self.gave_up = False

    def left(self, limit: float | None) -> float:
        """The time a cell may take: its limit (default: the per-cell timeout), at most what
        is left of the submission's total time."""
        limit = self.kernel.timeout if limit is None else limit
        remaining = max(self.deadline - time.monotonic(), 0.5)
        return remaining if limit is None else min(limit, remaining)

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline

    def start(self) -> None:
        result = self.kernel.run(_SETUP, GRADER_TIMEOUT)
        if not result.ok:
            raise GradeError(f"the grader could not set up the kernel: {result.ename}: {result.evalue}")

    def run(self, source: str, label: str, limit: float | None = None, replay: bool = False) -> CellResult:
        """Run one cell; on a timeout or a dead kernel, restart and replay."""
        result = self.kernel.run(source, self.left(limit))
        if result.ok and replay:
            self.history.append(source)
        if result.status in ("timeout", "dead"):
            what = "ran past the time limit" if result.status == "timeout" else "killed the kernel"
            self.trouble.append(f"{label} {what}: kernel restarted")
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
        for source, limit in [(_SETUP, GRADER_TIMEOUT), *((s, None) for s in self.history)]:
            result = self.kernel.run(source, self.left(limit))
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
    return _short(leaks.redact(" ".join(text.split()), found))


def _short(text: str) -> str:
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


class _Grading:
    """One submission's run: its kernel, its folders, its verdicts."""

    def __init__(self, sub: Submission, course: Course, options: Options, work: Path):
        self.sub, self.course, self.options = sub, course, options
        self.folders = sandbox.Folders.make(work)
        self.requests = 0
        home = str(sandbox.HOME) if options.sandboxed else str(self.folders.home)
        data = course.data
        self.launch = Launch(self.folders, _kernel_env(home, data, options.fast), sandboxed=options.sandboxed,
                             memory_mb=options.memory_mb, pids=options.pids, data=data)
        _seed_font_cache(self.folders.home)

    def run(self, steps: list[Step], flags: dict) -> list[str]:
        """Run the steps, scoring ``sub.exercises``; returns what went wrong with the run itself."""
        results = {e.grade_id: e for e in self.sub.exercises}
        kernel = Kernel(timeout=self.options.timeout, launch=self.launch)
        runner = _Runner(kernel, time.monotonic() + self.options.budget)
        self.outbox = os.open(self.folders.outbox, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            _start(kernel)
            self.options.limits = self.launch.limits
            runner.start()
            for step in steps:
                if runner.gave_up or runner.out_of_time():
                    break
                if step.cell_type != "code" or not step.source.strip():
                    continue
                if step.role == "graded":
                    self._graded(step, runner, results[step.grade_id], flags.get(step.grade_id, []))
                else:
                    runner.run(step.source, step.label, replay=True)
            if runner.out_of_time() and not runner.gave_up:
                runner.trouble.append(f"the submission ran past its total time limit of {self.options.budget:g} s")
        finally:
            kernel.close()  # every process of the submission is gone after this
            os.close(self.outbox)
        for entry in self.sub.exercises:
            if entry.status == "not run":
                entry.feedback = "not run: " + ("the kernel kept dying or hanging" if runner.gave_up else
                                                "out of time" if runner.out_of_time() else "the graded cell is empty")
        return runner.trouble

    def _graded(self, step: Step, runner: _Runner, entry: ExerciseResult, flags: list) -> None:
        runner.run(_RESET, "the grader's reset", GRADER_TIMEOUT)
        result = runner.run(step.source, step.label)
        entry.ran_clean = result.ok
        verdict = self._recheck(step, runner, result)
        entry.recheck = "passed" if verdict.passed else "failed"
        entry.hints, entry.cases, entry.flags = verdict.hints, verdict.lines, [str(f) for f in flags]
        passed = result.ok and verdict.passed and not flags
        entry.status, entry.score = ("passed", entry.max) if passed else ("failed", 0.0)
        if flags:
            entry.feedback = (f"uses cnnlab's own implementation of {entry.grade_id} "
                              f"({'; '.join(entry.flags[:3])})")
        elif not result.ok:
            entry.feedback = _reason(result, self.course.secrets[self.sub.lesson])
        elif not verdict.passed:
            entry.feedback = _short("the grader's re-check failed: " + verdict.problem)

    def _recheck(self, step: Step, runner: _Runner, result: CellResult) -> recheck.Recheck:
        """The grader's own verdict on the exercise of a graded cell that has just run."""
        if result.status in ("timeout", "dead"):
            return recheck.failed("the graded cell did not finish")
        try:
            call = recheck.check_call(step.source)
            ex = core.get(call.exercise)
        except ValueError as err:
            return recheck.failed(f"grader error: {err}")
        self.requests += 1
        ask, answer = f"request-{self.requests}.npz", f"reply-{self.requests}.npz"
        seed = recheck.seed(self.options.secret.encode(), self.sub.sha256, ex.id)
        data, cases = recheck.request(ex, call, seed, self.course.hidden[self.sub.lesson].get(ex.id, ()))
        (self.folders.inbox / ask).write_bytes(data)
        seen = sandbox.INSIDE if self.options.sandboxed else self.folders.root  # where the kernel sees in/, out/
        served = runner.run(f"import cnnlab.grading.remote as _cnnlab_remote\n"
                            f"_cnnlab_remote.serve({str(seen / 'in' / ask)!r}, {str(seen / 'out' / answer)!r})\n"
                            f"del _cnnlab_remote", f"the re-check of {ex.id}")
        if served.status in ("timeout", "dead"):
            return recheck.failed("the re-check " + ("ran past the time limit" if served.status == "timeout"
                                                     else "killed the kernel"))
        try:
            reply = plain.unpack(plain.read_file(answer, dir_fd=self.outbox))
        except plain.PlainError as err:
            return recheck.failed(f"the re-check's results could not be read ({err})")
        return recheck.judge(ex, cases, reply)


def _start(kernel: Kernel) -> None:
    """Start the kernel, trying again when it dies on the way (a loaded machine, or, without a
    sandbox, a classmate's submission killing kernels)."""
    for attempt in range(MAX_RESTARTS):
        try:
            kernel.start()
            return
        except RuntimeError as err:
            kernel.close()
            if attempt == MAX_RESTARTS - 1:
                raise GradeError(f"the kernel would not start: {err}") from None


def _finish(sub: Submission, trouble: list[str]) -> None:
    sub.events += trouble
    if trouble:
        sub.status, sub.reason = "error", "; ".join(trouble)
    else:
        failed = [e.grade_id for e in sub.exercises if e.status != "passed"]
        sub.status, sub.reason = "ok", ("failed: " + ", ".join(failed)) if failed else ""


def grade_file(path, course: Course, options: Options, work: Path) -> Submission:
    """Grade one submission (see the module docstring). Never raises for a bad submission."""
    started = time.monotonic()
    sub = Submission(file=str(path), sandbox="bwrap" if options.sandboxed else "none")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)  # read_submission refuses anything larger
    except OSError as err:
        sub.status, sub.reason = "error", f"cannot read the file: {err.strerror or err}"
        return sub
    sub.sha256 = hashlib.sha256(data).hexdigest()
    grading = None
    try:
        nb = read_submission(data)
        sub.lesson = identify(nb, course.sources, sub.events)
        source, student = course.sources[sub.lesson], course.students[sub.lesson]
        sub.exercises = [ExerciseResult(nbk.grade_id(c), nbk.points(c)) for c in source.cells if nbk.is_grade(c)]
        steps, repaired = restore(nb, source, student)
        sub.events += repaired
        lesson_exercises = [ex for ex in core.exercises().values() if ex.id in {e.grade_id for e in sub.exercises}]
        flags = scan([(s.label, s.source, s.editable) for s in steps if s.cell_type == "code"], lesson_exercises)
        grading = _Grading(sub, course, options, work)
        trouble = grading.run(steps, flags)
    except GradeError as err:
        sub.status, sub.reason = "error", str(err)
        return sub
    except Exception as err:  # the kernel would not start, or a grader bug: still a row
        sub.status, sub.reason = "error", f"grading failed: {type(err).__name__}: {err}"
        return sub
    finally:
        if grading is not None:
            grading.folders.remove()
        sub.seconds = time.monotonic() - started
    _finish(sub, trouble)
    return sub


# --- many submissions ---------------------------------------------------------------------------

def _json_names(paths) -> list[str]:
    """``stem.json`` per submission; equal stems get ``-2``, ``-3``, ... in input order."""
    names, seen = [], {}
    for path in paths:
        stem = Path(path).stem or "submission"
        if stem in ("grades", "report", "run"):
            stem = f"{stem}-submission"  # never the name of a class-wide file
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.json" if seen[stem] == 1 else f"{stem}-{seen[stem]}.json")
    return names


def class_csv(subs: list[Submission], course: Course) -> str:
    """The class grade book: one row per submission, a column per graded exercise of the
    lessons submitted (named by grade id, or ``lesson:grade_id`` where two lessons share one)."""
    keys = course_keys(subs, course)
    clash = {gid for _, gid in keys if sum(g == gid for _, g in keys) > 1}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "lesson", "total", "max", "status", "reason", "sandbox",
                     *[f"{lesson}:{gid}" if gid in clash else gid for lesson, gid in keys]])
    for sub in subs:
        scores = {(sub.lesson, e.grade_id): e.score for e in sub.exercises}
        writer.writerow([sub.file, sub.lesson, f"{sub.total:g}", f"{sub.max:g}" if sub.lesson else "",
                         sub.status, sub.reason, sub.sandbox, *[_cell(scores.get(key)) for key in keys]])
    return buffer.getvalue()


def course_keys(subs: list[Submission], course: Course) -> list[tuple[str, str]]:
    """(lesson, grade id) of every graded exercise of the lessons submitted, in course order."""
    graded = {s.lesson for s in subs}
    return [(lesson, gid) for lesson in course.sources if lesson in graded for gid in course.graded_ids(lesson)]


def _cell(value) -> str:
    return "" if value is None else f"{value:g}"


def grade(paths, root, out, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = DEFAULT_MEMORY,
          fast: bool = True, sandboxed: bool = True, seed: str | None = None, pids: int = DEFAULT_PIDS,
          submission_timeout: float = 0.0) -> list[Submission]:
    """Grade ``paths`` against the course at ``root``; write the results into ``out``.

    ``jobs`` > 1 grades that many submissions at once (one kernel each); ``fast=False`` runs
    the lessons in full mode (``CNNLAB_FAST`` unset in the kernels); ``sandboxed=False`` runs
    the kernels without bubblewrap (refused by :class:`CourseError` where bwrap cannot run
    unless so); ``seed``: the secret of an earlier run (``run.json``), to repeat it exactly.
    """
    if sandboxed and (why := sandbox.probe()):
        raise CourseError(f"cannot sandbox the kernels: {why}")
    if not sandboxed and os.environ.get("CNNLAB_REQUIRE_SANDBOX", "") not in ("", "0"):
        raise CourseError("CNNLAB_REQUIRE_SANDBOX is set: this machine never grades without a sandbox")
    course = Course(root)
    if not course.sources:
        raise CourseError(f"no lessons in {course.root / 'solutions'}: nothing to grade against")
    options = Options(timeout, memory_mb, pids, fast, sandboxed, seed or secrets.token_hex(32), submission_timeout)
    paths = [str(p) for p in paths]
    started = time.time()
    saved = lesson12.CHILD_LIMITS, os.environ.get("CNNLAB_FAST")
    lesson12.CHILD_LIMITS = TRAIN_LIMITS[fast]  # train submitted networks in a bounded child process
    os.environ.pop("CNNLAB_FAST", None)
    if fast:
        os.environ["CNNLAB_FAST"] = "1"  # the grader's own cases are drawn in the kernels' mode
    try:
        with tempfile.TemporaryDirectory(prefix="cnnlab-grade-") as work:
            if jobs > 1 and len(paths) > 1:
                # Threads suffice: each drives its own kernel process and mostly waits for it.
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    futures = [pool.submit(grade_file, p, course, options, Path(work)) for p in paths]
                    subs = [_collect(f, p, options) for f, p in zip(futures, paths)]
            else:
                subs = [grade_file(p, course, options, Path(work)) for p in paths]
    finally:
        lesson12.CHILD_LIMITS = saved[0]
        os.environ.pop("CNNLAB_FAST", None)
        if saved[1] is not None:
            os.environ["CNNLAB_FAST"] = saved[1]
    write_results(subs, course, options, Path(out), started)
    return subs


def write_results(subs: list[Submission], course: Course, options: Options, out: Path, started: float) -> None:
    """The per-submission JSON files, the class CSV, the report and run.json (each atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    for sub, name in zip(subs, _json_names([s.file for s in subs])):
        nbk.atomic_write(out / name, json.dumps(sub.to_json(), indent=1, ensure_ascii=False) + "\n")
    nbk.atomic_write(out / "grades.csv", class_csv(subs, course))
    summary = report.summary(subs, course_keys(subs, course))
    nbk.atomic_write(out / "report.json", json.dumps(summary, indent=1, ensure_ascii=False) + "\n")
    nbk.atomic_write(out / "report.html", report.html(summary))
    run = {"secret": options.secret, "cnnlab_version": __version__, "sandbox": "bwrap" if options.sandboxed else "none",
           "timeout": options.timeout, "memory_mb": options.memory_mb, "pids": options.pids,
           "submission_timeout": options.budget, "kernel_limits": options.limits, "fast": options.fast,
           "submissions": len(subs),
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
           "seconds": round(time.time() - started, 1)}
    nbk.atomic_write(out / "run.json", json.dumps(run, indent=1) + "\n")


def _collect(future, path: str, options: Options) -> Submission:
    try:
        return future.result()
    except Exception as err:  # a grader bug in that thread: the row still appears
        return Submission(file=path, status="error", reason=f"grading failed: {type(err).__name__}: {err}",
                          sandbox="bwrap" if options.sandboxed else "none")
