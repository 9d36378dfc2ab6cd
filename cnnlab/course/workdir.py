"""The student's working folder: their own copies of the lessons (``cnnlab lab``).

Students never work in ``notebooks/``, the release a build rewrites: :func:`update` gives them
a folder of their own (``work/`` by default) and keeps it stocked, under one rule: **no file
in it is ever overwritten or removed**.

* A lesson the folder does not hold yet (``NN_topic.ipynb``) is copied in from the release.
* A lesson whose release changed since the student's copy was made arrives beside it as
  ``NN_topic (updated YYYY-MM-DD).ipynb``. Each copy carries the build hash of the release it
  came from (``metadata.cnnlab.build_sha256``, see :mod:`cnnlab.course.release`; JupyterLab
  keeps it when the student saves), so a release is new to the student when neither their
  copy nor an earlier updated copy came from it. A name already taken gets ``, 2``, ``, 3``...
* ``data`` is a link to the folder :func:`cnnlab.data.data_dir` reads, so the datasets (and
  their README) sit beside the lessons in JupyterLab's file browser, as lesson 00 says. A
  ``data`` the student made is left alone; a link made earlier is pointed at the datasets
  again if they moved (a link holds no work).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from . import release
from .lessons import LESSON_NAME

DATA = "data"


@dataclass
class Update:
    """What :func:`update` did, as lines to show the student (file names in the folder)."""

    folder: Path
    copied: list[str] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)  # (new file, the student's copy)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        found = []
        if self.copied:
            found.append(f"new lessons in {self.folder}: {', '.join(self.copied)}")
        for new, mine in self.updated:
            found.append(f"{mine} has a newer version: it is in {new!r}; your {mine} is unchanged")
        return found + self.notes


def _release_lessons(release_dir: Path) -> list[Path]:
    return [p for p in sorted(Path(release_dir).glob("*.ipynb")) if LESSON_NAME.match(p.stem)]


def _identity(path: Path) -> str | None:
    """The release a notebook file came from (None: unreadable, so from no release we know)."""
    try:
        data = release.load(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # a folder, or a file the student made unreadable
        return None
    return release.identity(data) if data is not None else None


def _copy_new(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless ``target`` exists (checked by the open itself)."""
    try:
        with open(target, "xb") as f:
            f.write(source.read_bytes())
    except FileExistsError:
        return False
    shutil.copymode(source, target)
    return True


def _updated_name(lesson: str, day: date, n: int) -> str:
    return f"{lesson} (updated {day.isoformat()}{'' if n == 1 else f', {n}'}).ipynb"


def _offer_update(folder: Path, source: Path, wanted: str, day: date) -> str | None:
    """Copy the release ``source`` beside the student's copy unless some copy already came
    from it; return the new file's name (None: nothing was written)."""
    lesson = source.stem
    earlier = sorted(folder.glob(f"{lesson} (updated *).ipynb"))
    if any(_identity(p) == wanted for p in earlier):
        return None
    for n in range(1, 1000):
        name = _updated_name(lesson, day, n)
        if _copy_new(source, folder / name):
            return name
    raise FileExistsError(f"no free name for the update of {lesson} in {folder}")


def _link_data(folder: Path, data_dir: Path, report: Update) -> None:
    link = folder / DATA
    target = Path(data_dir).resolve()
    if link.is_symlink():
        if link.resolve() == target:
            return
        link.unlink()  # a link made by an earlier start, to datasets that have moved
    elif link.exists():
        report.notes.append(f"{link} is yours, so it stays; cnnlab reads the datasets from {target}")
        return
    try:
        link.symlink_to(target, target_is_directory=True)
    except OSError as err:  # e.g. Windows without the right to make links
        report.notes.append(f"could not link {link} to the datasets ({err.strerror or err}); "
                            f"they are in {target}")


def update(folder, release_dir, data_dir, today: date | None = None) -> Update:
    """Create the working ``folder`` if needed and bring it up to date with the lessons in
    ``release_dir`` (a course's ``notebooks/``) and a link to ``data_dir``, never overwriting
    or removing a file (see the module docstring). Returns what was done."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    report = Update(folder)
    day = today or date.today()
    for source in _release_lessons(release_dir):
        mine = folder / source.name
        if _copy_new(source, mine):
            report.copied.append(source.name)
            continue
        wanted = _identity(source)
        if wanted is not None and _identity(mine) != wanted:
            new = _offer_update(folder, source, wanted, day)
            if new:
                report.updated.append((new, source.name))
    _link_data(folder, data_dir, report)
    return report
