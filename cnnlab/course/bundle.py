"""``cnnlab build --student DIR``: the student bundle, everything a student needs and nothing more.

::

    DIR/
      notebooks/NN_topic.ipynb   the student notebooks (built afresh, same bytes as notebooks/)
      data/                      the datasets
      cnnlab/                    the package
      pyproject.toml             cnnlab/course/student_pyproject.toml: `pip install .` installs
                                 cnnlab with the datasets inside (no test extras or settings)
      README.md, LICENSE         how to install and start (`cnnlab lab`)
      .cnnlab-bundle             marks DIR as a bundle (a later build may replace it)

No ``solutions/``, no tests, no hidden tests. After writing, the bundle is scanned: a marker, a
solution or hidden-test line in a notebook, a hidden-test assertion in any other text file, any
notebook outside ``notebooks/`` or a ``solutions/`` folder is reported as a problem. (In other
files only hidden ``assert`` lines are looked for, anywhere in a line: the package may well
contain code equal to a solution -- students have cnnlab -- or a hidden ``try:``.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from .. import __version__
from . import build, leaks, validate
from . import notebook as nbk
from .lab import WORKDIR
from .lessons import CourseError, Lesson, Problem, all_lessons, relative

MARK = ".cnnlab-bundle"
PYPROJECT = "student_pyproject.toml"  # in this folder; copied as the bundle's pyproject.toml
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")

README = """\
# cnnlab: train convolutional networks from first principles

Each lesson explains an idea, works an example and ends with graded exercises: write the
function where the notebook says `# YOUR CODE HERE`, run the cell below it, and `cl.check`
tells you, case by case, what is right and what is not.

## Start

```
python3 -m venv .venv
.venv/bin/python -m pip install .
.venv/bin/cnnlab lab
```

(On Windows: `.venv\\Scripts\\python -m pip install .` and `.venv\\Scripts\\cnnlab lab`.)
With an NVIDIA GPU, `pip install '.[gpu]'` adds CuPy; lesson 00 shows how to use it.

`cnnlab lab` copies the lessons from `notebooks/` into `work/`, your own folder, and opens
JupyterLab there, with the datasets in `work/data`. Your work is the notebooks in `work/`:
cnnlab never overwrites them. If you get a newer version of this folder, unpack it over this
one, run the `pip install` line again, then `cnnlab lab`: a lesson that changed arrives beside
your copy as `NN_topic (updated YYYY-MM-DD).ipynb`.

Hand in your notebooks from `work/`, saved after your last run.
"""


def _package_dir(root: Path) -> Path:
    """The cnnlab package to ship: the course's own, else the one running this code."""
    return root / "cnnlab" if (root / "cnnlab" / "__init__.py").is_file() else Path(__file__).resolve().parent.parent


def _fill(folder: Path, root: Path, lessons: list[Lesson]) -> None:
    (folder / "notebooks").mkdir()
    for lesson in lessons:
        nbk.write(folder / "notebooks" / lesson.student.name, build.build_lesson(lesson))
    if (root / "data").is_dir():
        shutil.copytree(root / "data", folder / "data", ignore=_IGNORE)
    package = _package_dir(root)
    shutil.copytree(package, folder / "cnnlab", ignore=_IGNORE)
    shutil.copy2(package / "course" / PYPROJECT, folder / "pyproject.toml")
    nbk.atomic_write(folder / "README.md", README)
    if (package.parent / "LICENSE").is_file():
        shutil.copy2(package.parent / "LICENSE", folder / "LICENSE")
    nbk.atomic_write(folder / MARK, json.dumps({"lessons": [l.name for l in lessons],
                                                "cnnlab_version": __version__}, indent=1) + "\n")


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # binary (datasets): nothing a student could read as a solution


def check_bundle(folder, root) -> list[Problem]:
    """Everything in the bundle at ``folder`` that reveals solutions or hidden tests of the
    course at ``root`` (empty: safe to hand out)."""
    folder = Path(folder)
    secrets = {lesson.name: leaks.secrets(nbk.read(lesson.source)) for lesson in all_lessons(root)}
    hidden = leaks.Secrets(frozenset(), frozenset().union(*map(leaks.hidden_asserts, secrets.values())))
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.name == "solutions"):
        name = relative(path, folder)
        if path.name == "solutions" or path.parent.name == "solutions":
            problems.append(Problem(name, "a solutions folder must not be in a student bundle"))
        elif path.suffix == ".ipynb":
            problems += _notebook_problems(path, name, folder, secrets)
        elif (text := _text(path)) is not None:
            problems += [Problem(name, f"reveals a hidden test: {m}")
                         for m in leaks.text_leaks(text, hidden, kinds=("hidden test",), markers=False,
                                                         anywhere=True)]
    return problems


def _notebook_problems(path: Path, name: str, folder: Path, secrets: dict) -> list[Problem]:
    if path.parent != folder / "notebooks" or path.stem not in secrets:
        return [Problem(name, "a notebook that is not a student notebook of the course")]
    return validate.student_problems(nbk.read(path), name, secrets[path.stem])


def write_bundle(root, dest, lessons: list[Lesson]) -> list[Problem]:
    """Write the bundle of ``lessons`` to ``dest`` and return what :func:`check_bundle` finds.

    ``dest`` must be new, empty, or an earlier bundle (it holds ``.cnnlab-bundle``), which is
    replaced -- unless it holds a student's working folder (``work/``, see ``cnnlab lab``):
    students' work is never overwritten. The bundle is assembled next to ``dest`` and moved
    into place when complete.
    """
    root, dest = Path(root).resolve(), Path(dest).resolve()
    # This also refuses the course root, its folders and any folder holding them.
    if dest.exists() and any(dest.iterdir()) and not (dest / MARK).is_file():
        raise CourseError(f"{dest} exists and is not a student bundle; choose a new or empty folder")
    if (dest / WORKDIR).exists():
        raise CourseError(f"{dest} holds a student's work in {WORKDIR}/ (made by `cnnlab lab`), which "
                          "replacing the bundle would delete; move that folder away or choose another one")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    staging.chmod(0o777 & ~nbk.current_umask())  # mkdtemp makes it private
    try:
        _fill(staging, root, lessons)
        problems = check_bundle(staging, root)
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [Problem(str(Path(dest.name) / p.path), p.message, p.cell, p.grade_id) for p in problems]
