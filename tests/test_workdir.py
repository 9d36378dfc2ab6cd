"""The student's working folder (``cnnlab lab``): lessons copied in, updates beside, nothing overwritten.

The release is the fixture course's ``notebooks/``, rebuilt from a changed source whenever a
test needs "a new version of the lesson".
"""

from datetime import date
from pathlib import Path

import pytest
from fixtures import coursekit as kit

from cnnlab.course import build, workdir
from cnnlab.course.lessons import all_lessons

DAY = date(2031, 3, 14)
LESSON = f"{kit.LESSON}.ipynb"
UPDATED = f"{kit.LESSON} (updated 2031-03-14).ipynb"


@pytest.fixture
def course(tmp_path):
    return kit.make_course(tmp_path)


@pytest.fixture
def datasets(tmp_path):
    folder = tmp_path / "datasets"
    folder.mkdir()
    (folder / "README.md").write_text("the datasets")
    return folder


def release(course) -> Path:
    return course / "notebooks"


def new_release(course, text: str) -> bytes:
    """Change the lesson's summary in its source and rebuild notebooks/; the new release's bytes."""
    nb = kit.load(course / kit.SOURCE)
    kit.cell(nb, "summary")["source"] = f"## Summary\n\n{text}"
    kit.save(course / kit.SOURCE, nb)
    build.write_lessons(all_lessons(course))
    return (course / kit.STUDENT).read_bytes()


def save_work(path: Path, code: str) -> bytes:
    """What JupyterLab's save does with a student's code: the file rewritten, metadata kept."""
    nb = kit.load(path)
    kit.cell(nb, "scale_images_solution")["source"] = code
    nb["cells"][0]["outputs"] = []
    kit.save(path, nb)
    return path.read_bytes()


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_first_start_copies_every_lesson_and_links_the_data(course, datasets, tmp_path):
    work = tmp_path / "work"
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.copied == [LESSON] and report.updated == [] and report.notes == []
    assert (work / LESSON).read_bytes() == (course / kit.STUDENT).read_bytes()
    assert (work / "data").is_symlink() and (work / "data" / "README.md").read_text() == "the datasets"
    assert report.lines() == [f"new lessons in {work}: {LESSON}"]


def test_a_later_start_changes_nothing_the_student_saved(course, datasets, tmp_path):
    work = tmp_path / "work"
    workdir.update(work, release(course), datasets, DAY)
    mine = save_work(work / LESSON, "def scale_images(x):\n    return (x / 255).astype(np.float32)")
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.lines() == []
    assert snapshot(work) == {LESSON: mine}


def test_a_changed_release_arrives_beside_the_students_copy_once(course, datasets, tmp_path):
    work = tmp_path / "work"
    workdir.update(work, release(course), datasets, DAY)
    mine = save_work(work / LESSON, "def scale_images(x):\n    return x.astype(np.float32) / 255")
    newer = new_release(course, "Version two.")
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.updated == [(UPDATED, LESSON)]
    assert report.lines() == [f"{LESSON} has a newer version: it is in {UPDATED!r}; your {LESSON} is unchanged"]
    assert snapshot(work) == {LESSON: mine, UPDATED: newer}
    # the next start sees that the student already has this release, even after working in it
    save_work(work / UPDATED, "def scale_images(x):\n    return (x / 255).astype(np.float32)  # redone")
    assert workdir.update(work, release(course), datasets, DAY).lines() == []


def test_a_second_release_on_the_same_day_never_overwrites_the_first_update(course, datasets, tmp_path):
    work = tmp_path / "work"
    workdir.update(work, release(course), datasets, DAY)
    new_release(course, "Version two.")
    workdir.update(work, release(course), datasets, DAY)
    second = snapshot(work)[UPDATED]
    third = new_release(course, "Version three.")
    report = workdir.update(work, release(course), datasets, DAY)
    again = f"{kit.LESSON} (updated 2031-03-14, 2).ipynb"
    assert report.updated == [(again, LESSON)]
    assert snapshot(work)[UPDATED] == second and snapshot(work)[again] == third


def test_an_untouched_copy_is_not_replaced_either(course, datasets, tmp_path):
    work = tmp_path / "work"
    workdir.update(work, release(course), datasets, DAY)
    old = (work / LESSON).read_bytes()
    new_release(course, "Version two.")
    workdir.update(work, release(course), datasets, DAY)
    assert (work / LESSON).read_bytes() == old and (work / UPDATED).is_file()


def test_a_deleted_lesson_comes_back_and_a_new_one_is_added(course, datasets, tmp_path):
    work = tmp_path / "work"
    workdir.update(work, release(course), datasets, DAY)
    (work / LESSON).unlink()
    (release(course) / "02_more.ipynb").write_bytes((course / kit.STUDENT).read_bytes())
    (release(course) / "notes.ipynb").write_text("{}")  # not a lesson name: never copied
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.copied == [LESSON, "02_more.ipynb"]
    assert sorted(p.name for p in work.iterdir()) == [LESSON, "02_more.ipynb", "data"]


def test_an_unreadable_copy_is_kept_and_the_release_offered_beside_it(course, datasets, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / LESSON).write_text("half a notebook {")
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.updated == [(UPDATED, LESSON)]
    assert (work / LESSON).read_text() == "half a notebook {"


def test_the_students_own_data_folder_is_kept(course, datasets, tmp_path):
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    (work / "data" / "mine.csv").write_text("1,2")
    report = workdir.update(work, release(course), datasets, DAY)
    assert report.notes == [f"{work / 'data'} is yours, so it stays; cnnlab reads the datasets from {datasets}"]
    assert (work / "data" / "mine.csv").read_text() == "1,2" and not (work / "data").is_symlink()


def test_an_old_data_link_follows_the_datasets(course, datasets, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(tmp_path / "gone")  # e.g. an environment since removed
    workdir.update(work, release(course), datasets, DAY)
    assert (work / "data").resolve() == datasets.resolve()
