"""The ``cnnlab`` command (also ``python -m cnnlab``): build, validate, grade and open the course.

::

    cnnlab build [--execute] [--student DIR] [--nbgrader DIR] [--force] [LESSON ...]
    cnnlab validate
    cnnlab grade SUBMISSION ... --out DIR [--jobs N] [--timeout S] [--memory MB] [--pids N]
                 [--submission-timeout S] [--full] [--seed SECRET] [--no-sandbox]
    cnnlab lab [--dir DIR] [--port N]

Every command takes ``--root DIR`` (default: the nearest folder upwards from here holding
``solutions/`` or cnnlab's ``pyproject.toml``). Exit status: 0 done, 1 problems found (validate,
a leaky bundle), 2 the command could not run (bad arguments, no root, a broken source, a
notebook a person changed that build would overwrite).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import build as _build
from .course.grade import DEFAULT_MEMORY, DEFAULT_PIDS, DEFAULT_TIMEOUT, grade
from .course.lessons import CourseError, find_root, relative, select


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0; got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", help="the course folder (default: found upwards from the current folder)")
    top = argparse.ArgumentParser(prog="cnnlab", description="Build, validate, grade and open the cnnlab course.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    b = commands.add_parser("build", parents=[common], help="write notebooks/ from solutions/",
                            description="Write the student notebook notebooks/NN_topic.ipynb of each lesson.")
    b.add_argument("lessons", nargs="*", metavar="LESSON", help="04, 04_convolution or a source path (default: all)")
    b.add_argument("--execute", action="store_true",
                   help="first re-run the solution notebooks in place (full mode, CNNLAB_FAST unset)")
    b.add_argument("--timeout", type=_positive_float, default=None,
                   help="with --execute: seconds allowed per cell (default: no limit)")
    b.add_argument("--student", metavar="DIR", help="also write the student bundle of these lessons to DIR")
    _add_release_options(b)

    commands.add_parser("validate", parents=[common], help="check sources, notebooks/ and leaks",
                        description="Check the lesson sources and that notebooks/ is what build writes.")

    g = commands.add_parser("grade", parents=[common], help="autograde submitted notebooks",
                            description="Grade submitted notebooks, each in a sandboxed kernel, re-checking every "
                                        "exercise on fresh and hidden cases; write OUT/<name>.json, OUT/grades.csv, "
                                        "OUT/report.html (and .json) and OUT/run.json.")
    g.add_argument("submissions", nargs="+", metavar="SUBMISSION")
    g.add_argument("--out", required=True, metavar="DIR", help="folder for the results")
    g.add_argument("--jobs", type=_positive_int, default=1, help="submissions graded at once (default 1)")
    g.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT,
                   help=f"seconds per cell (default {DEFAULT_TIMEOUT})")
    g.add_argument("--memory", type=_non_negative_int, default=DEFAULT_MEMORY,
                   help=f"address-space limit per kernel process in MB; 0: none (default {DEFAULT_MEMORY})")
    g.add_argument("--pids", type=_positive_int, default=DEFAULT_PIDS,
                   help=f"processes and threads per kernel (default {DEFAULT_PIDS})")
    g.add_argument("--submission-timeout", type=_positive_float, default=0.0, metavar="S",
                   help="seconds for a whole submission (default: 20 times --timeout)")
    g.add_argument("--seed", metavar="SECRET", help="the secret of an earlier run (its run.json), to repeat it "
                                                    "exactly; default: a new random secret")
    g.add_argument("--no-sandbox", action="store_true",
                   help="run the kernels without bubblewrap (macOS, or no user namespaces): a hostile "
                        "submission can then change files and disturb its classmates; see the README")
    g.add_argument("--full", action="store_true",
                   help="run the lessons in full mode; by default CNNLAB_FAST=1, as in CI, so the capstone "
                        "trains on a subset for one epoch (its full run takes minutes per submission)")
    _add_lab(commands, common)
    return top


def _add_release_options(b: argparse.ArgumentParser) -> None:
    b.add_argument("--nbgrader", metavar="DIR",
                   help="also write an nbgrader course folder to DIR: source/NN_topic/NN_topic.ipynb "
                        "for these lessons and nbgrader_config.py")
    b.add_argument("--force", action="store_true",
                   help="replace files a person changed (in notebooks/ or the --nbgrader folder) "
                        "after moving each to notebooks/.backup/ or DIR/.backup/")


def _add_lab(commands, common) -> None:
    lab = commands.add_parser("lab", parents=[common], help="open the course in JupyterLab, in your own folder",
                              description="Copy the lessons into your working folder (never overwriting "
                                          "a file there) and open JupyterLab in it.")
    lab.add_argument("--dir", metavar="DIR",
                     help="your working folder (default: work/ in the course folder)")
    lab.add_argument("--port", type=_port, default=8888,
                     help="the first port to try (default 8888; the next free one is used)")


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535; got {value}")
    return value


def _root(args) -> Path:
    if args.root is None:
        return find_root()
    root = Path(args.root).resolve()
    if not root.is_dir():
        raise CourseError(f"--root {args.root}: no such folder")
    return root


def run_build(args) -> int:
    root = _root(args)
    lessons = select(root, args.lessons)
    if not lessons:
        print(f"cnnlab build: no lessons in {root / 'solutions'}; nothing to build")
        return 0
    if args.execute:
        _build.execute_sources(lessons, args.timeout)
    _write_notebooks(root, lessons, args.force)
    if args.nbgrader:
        _write_nbgrader(args.nbgrader, lessons, args.force)
    if args.student:
        from .course.bundle import write_bundle

        problems = write_bundle(root, args.student, lessons)
        for problem in problems:
            print(problem)
        if problems:
            print(f"cnnlab build: the student bundle in {args.student} reveals solutions "
                  f"({len(problems)} problem(s)); do not hand it out", file=sys.stderr)
            return 1
        print(f"wrote the student bundle of {len(lessons)} lesson(s) to {args.student}")
    return 0


def _write_notebooks(root: Path, lessons, force: bool) -> None:
    for done in _build.write_lessons(lessons, force=force):
        name = f"notebooks/{done.lesson.student.name}"
        print(f"{'wrote' if done.changed else 'unchanged'} {name}"
              + (f" (the file it replaced is kept as {relative(done.backup, root)})" if done.backup else ""))


def _write_nbgrader(dest, lessons, force: bool) -> None:
    from .course.nbgrader_course import write_course

    for done in write_course(dest, lessons, force=force):
        print(f"{'wrote' if done.changed else 'unchanged'} {Path(dest) / done.path}"
              + (f" (the file it replaced is kept as {Path(dest) / done.backup})" if done.backup else ""))
    print(f"wrote the nbgrader course of {len(lessons)} lesson(s) to {dest}")


def run_lab(args) -> int:
    from .course.lab import start

    return start(_root(args), args.dir, args.port)


def run_validate(args) -> int:
    from .course.validate import validate

    report = validate(_root(args))
    for problem in report.problems:
        print(problem)
    print(report.summary(), file=sys.stderr if report.problems else sys.stdout)
    return 1 if report.problems else 0


def run_grade(args) -> int:
    subs = grade(args.submissions, _root(args), args.out, jobs=args.jobs, timeout=args.timeout,
                 memory_mb=args.memory, fast=not args.full, sandboxed=not args.no_sandbox, seed=args.seed,
                 pids=args.pids, submission_timeout=args.submission_timeout)
    for sub in subs:
        score = f"{sub.total:g}/{sub.max:g}" if sub.lesson else "-"
        print(f"{sub.file}: {sub.lesson or '?'} {score} {sub.status}" + (f" ({sub.reason})" if sub.reason else ""))
    errors = sum(s.status != "ok" for s in subs)
    print(f"cnnlab grade: {len(subs)} submission(s), {errors} with errors; results in {args.out} "
          f"(report.html: the class report)")
    if args.no_sandbox:
        print("cnnlab grade: WARNING: graded without a sandbox (--no-sandbox): the submissions' code ran with "
              "your permissions and could have changed files or disturbed each other", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    command = {"build": run_build, "validate": run_validate, "grade": run_grade, "lab": run_lab}[args.command]
    try:
        return command(args)
    except CourseError as err:
        print(f"cnnlab {args.command}: {err}", file=sys.stderr)
        return 2
