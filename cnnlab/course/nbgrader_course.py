"""``cnnlab build --nbgrader DIR``: a ready nbgrader course folder.

::

    DIR/
      nbgrader_config.py                what the course needs from nbgrader (see CONFIG)
      source/NN_topic/NN_topic.ipynb    each lesson's source, where nbgrader looks for it

A source notebook here is the lesson source without outputs, execution counts, saved widget
state or run-time cell metadata (nbgrader would carry saved widget state into the students'
copies), with the cell ids ``cnnlab build`` gives: ``nbgrader generate_assignment`` then
releases notebooks equal to ``notebooks/`` cell for cell, checksums included.

Only those files are written. Nothing else in DIR is touched (the gradebook, submissions,
autograded notebooks, feedback), and a file that exists with other content (an instructor's
edit, or an older version of the course) stops the command, named, unless ``force``, which
moves it to ``DIR/.backup/`` first (outside ``source/``, so nbgrader never releases it).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import nbformat

from .. import __version__
from . import build, release
from . import notebook as nbk
from .lessons import CourseError, Lesson, relative

CONFIG_NAME = "nbgrader_config.py"

CONFIG = '''\
"""nbgrader configuration for the cnnlab course (written by `cnnlab build --nbgrader`).

nbgrader reads this file when it runs in this folder. It needs cnnlab installed beside
nbgrader, as in the students' image (see "nbgrader on a JupyterHub" in cnnlab's README).
"""

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from cnnlab.course.nbgrader_feedback import HideHiddenTests

c = get_config()  # noqa: F821 (nbgrader defines it)

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
# The course id students fetch assignments from: use the one your hub's nbgrader set-up names.
c.CourseDirectory.course_id = "cnnlab"

# Kernels that run submissions inherit this process's environment (set here unless already
# set): the lessons in fast mode, as `cnnlab grade` and CI run them (the capstone trains on a
# subset for one epoch; the checks' pass marks are set in this mode), and one BLAS thread per
# kernel (on a busy machine, lesson 11's training took 49 s with a thread per core, 3 s with one).
for name in ("CNNLAB_FAST", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(name, "1")

# Seconds per cell: nbgrader's default of 30 cuts off lesson 12's training on a busy machine.
c.Execute.timeout = 120

# Feedback shows students their graded notebook without the hidden tests: neither in the
# graded cells nor in outputs, where tracebacks print the lines around a failing one.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
'''

class Wrote(NamedTuple):
    path: str  # relative to the nbgrader folder
    changed: bool  # False: the file already held this and was left alone
    backup: str | None = None  # where a file with other content was moved first


def source_notebook(lesson: Lesson) -> nbformat.NotebookNode:
    """The lesson source as nbgrader's ``source/`` wants it (see the module docstring)."""
    nb = nbk.read(lesson.source)
    for cell, cell_id in zip(nb.cells, build.cell_ids(nb.cells)):
        cell.id = cell_id
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in (*build.KEPT_METADATA, "nbgrader")}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata = {"kernelspec": dict(nbk.KERNELSPEC), "language_info": {"name": "python"},
                   "cnnlab": {"lesson": lesson.name, "version": __version__}}
    return nb


def write_course(dest, lessons: list[Lesson], force: bool = False) -> list[Wrote]:
    """Write the nbgrader course folder of ``lessons`` to ``dest`` (see the module docstring).

    Raises:
        CourseError: a file to write exists with other content and ``force`` is false.
    """
    dest = Path(dest).resolve()
    files = {f"source/{lesson.name}/{lesson.name}.ipynb": nbk.dumps(source_notebook(lesson)) for lesson in lessons}
    files[CONFIG_NAME] = CONFIG
    current = {name: (dest / name).read_text(encoding="utf-8", errors="replace")
               for name in files if (dest / name).is_file()}
    differ = [name for name, text in files.items() if name in current and current[name] != text]
    if differ and not force:
        raise CourseError(f"{', '.join(str(dest / n) for n in differ)}: already there with other content "
                          "(your edits, or an earlier version of the course), so nothing was written. "
                          f"--force moves each to {dest / release.BACKUP}/ first.")
    done = []
    for name, text in files.items():
        if current.get(name) == text:
            done.append(Wrote(name, False))
            continue
        backup = release.back_up(dest / name, dest / release.BACKUP) if name in differ else None
        nbk.atomic_write(dest / name, text)
        done.append(Wrote(name, True, relative(backup, dest) if backup else None))
    return done
