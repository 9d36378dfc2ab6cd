"""nbgrader as a first-class path: ``cnnlab build --nbgrader DIR`` and the course run by nbgrader.

The first tests check the course folder and the feedback preprocessor here. The last one
installs nbgrader 0.9.6 with cnnlab's wheel into a fresh venv (``venvs.py``) and does what an
instructor does, for lessons 00, 06 and 12: ``generate_assignment`` (the release must equal
``notebooks/``), ``autograde`` of a correct, an untouched and a partly right submission
(every cell's score must equal ``cnnlab grade``'s), and ``generate_feedback`` (no hidden-test
line anywhere in the HTML).
"""

import csv
import html
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import venvs
from fixtures import coursekit as kit
from worktree import copy_working_tree

from cnnlab.cli import main
from cnnlab.course import leaks, nbgrader_course
from cnnlab.course import notebook as nbk
from cnnlab.course.lessons import CourseError, all_lessons

NBGRADER = "nbgrader==0.9.6"
LESSONS = ["00_start_here", "06_pooling", "12_training_a_cnn"]
STUDENTS = ["correct", "untouched", "partly"]


@pytest.fixture
def course(tmp_path):
    return kit.make_course(tmp_path)


# --- the course folder --------------------------------------------------------------------------

def test_the_course_folder_holds_each_source_and_the_config(course, tmp_path, capsys):
    dest = tmp_path / "nbgrader"
    assert main(["build", "--root", str(course), "--nbgrader", str(dest)]) == 0
    source = dest / "source" / kit.LESSON / f"{kit.LESSON}.ipynb"
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"wrote {source}", f"wrote {dest / 'nbgrader_config.py'}",
        f"wrote the nbgrader course of 1 lesson(s) to {dest}"]
    nb = kit.load(source)
    student = kit.load(course / kit.STUDENT)
    assert [c["id"] for c in nb["cells"]] == [c["id"] for c in student["cells"]]
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in nb["cells"])
    assert set(nb["metadata"]) == {"kernelspec", "language_info", "cnnlab"}  # no saved widget state
    assert "build_sha256" not in nb["metadata"]["cnnlab"]
    # the source keeps solutions, hidden tests and nbgrader metadata, for nbgrader to strip
    original = kit.load(course / kit.SOURCE)
    assert [kit.text(c) for c in nb["cells"]] == [kit.text(c) for c in original["cells"]]
    grading = [c["metadata"].get("nbgrader") for c in original["cells"]]
    assert [c["metadata"].get("nbgrader") for c in nb["cells"]] == grading
    config = (dest / "nbgrader_config.py").read_text()
    compile(config, "nbgrader_config.py", "exec")
    for setting in ("c.Execute.timeout = 120", 'c.CourseDirectory.course_id = "cnnlab"',
                    "from cnnlab.course.nbgrader_feedback import HideHiddenTests",
                    "c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]",
                    '"CNNLAB_FAST", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"'):
        assert setting in config


def test_a_second_build_changes_nothing_and_an_edited_file_is_kept(course, tmp_path, capsys):
    dest = tmp_path / "nbgrader"
    lessons = all_lessons(course)
    nbgrader_course.write_course(dest, lessons)
    assert [w.changed for w in nbgrader_course.write_course(dest, lessons)] == [False, False]
    (dest / "gradebook.db").write_text("the class's grades")  # nbgrader's own files are never touched
    config = dest / "nbgrader_config.py"
    config.write_text(config.read_text() + 'c.CourseDirectory.course_id = "fall-term"\n')
    mine = config.read_bytes()
    with pytest.raises(CourseError, match=r"nbgrader_config\.py: already there with other content .*"
                                          r"--force moves each to .*\.backup/ first"):
        nbgrader_course.write_course(dest, lessons)
    assert config.read_bytes() == mine
    assert main(["build", "--root", str(course), "--nbgrader", str(dest), "--force"]) == 0
    backups = list((dest / ".backup").iterdir())
    assert [b.read_bytes() for b in backups] == [mine] and backups[0].name.startswith("nbgrader_config.")
    assert "the file it replaced is kept as" in capsys.readouterr().out
    assert config.read_text() == nbgrader_course.CONFIG
    assert (dest / "gradebook.db").read_text() == "the class's grades"


# --- the feedback preprocessor --------------------------------------------------------------------

HIDDEN = "assert double(21) == 42, 'hidden case: 21'"
ANSI = "\x1b[0;32m"


def autograded_cell() -> nbformat.NotebookNode:
    """A graded cell as nbgrader autograde leaves it: hidden tests inside, and an error whose
    traceback shows them (IPython colours its context lines), and a warning that shows one."""
    cell = nbformat.v4.new_code_cell(f"cl.check('fx_double', double)\n### BEGIN HIDDEN TESTS\nx = 1\n{HIDDEN}\n"
                                     "### END HIDDEN TESTS")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "fx_double", "points": 2}
    frame = (f"{ANSI}Cell In[6], line 4\x1b[0m\n{ANSI}      1\x1b[0m cl.check('fx_double', double)\n"
             f"{ANSI}      2\x1b[0m \x1b[38;5;66m### BEGIN HIDDEN TESTS\x1b[0m\n{ANSI}      3\x1b[0m x = 1\n"
             f"{ANSI}----> 4\x1b[0m {HIDDEN.replace('21', ANSI + '21' + chr(27) + '[0m', 1)}\n")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=f"<cell>:4: RuntimeWarning: overflow\n  {HIDDEN}\n"),
        nbformat.v4.new_output("error", ename="AssertionError", evalue="hidden case: 21", traceback=[
            "\x1b[31m-----\x1b[0m", frame, "\x1b[31mAssertionError\x1b[0m: hidden case: 21"]),
    ]
    return cell


def test_feedback_keeps_no_hidden_test_line_in_sources_or_outputs():
    from cnnlab.course.nbgrader_feedback import NOTE, HideHiddenTests

    nb = nbformat.v4.new_notebook(cells=[autograded_cell()])
    nb, _ = HideHiddenTests()(nb, {})  # as nbconvert's exporter calls it
    cell = nb.cells[0]
    assert cell.source == "cl.check('fx_double', double)"
    stream, error = cell.outputs
    assert stream.text == f"<cell>:4: RuntimeWarning: overflow\n{NOTE}\n"
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error.traceback))
    assert shown == ("-----\nCell In[6], line 4\n      1 cl.check('fx_double', double)\n"
                     f"{NOTE}\n\nAssertionError: hidden case: 21")
    assert error.evalue == "hidden case: 21"


def test_broken_markers_hide_everything_from_the_first_hidden_marker():
    from cnnlab.course.nbgrader_feedback import split_hidden

    assert split_hidden("check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4") == (
        "check(f)", ["### BEGIN HIDDEN TESTS", "assert f(2) == 4"])


# --- the course under nbgrader ------------------------------------------------------------------

def solution_code(cell) -> str:
    return "\n".join(line for line in kit.text(cell).split("\n")
                     if line.strip() not in (nbk.BEGIN_SOLUTION, nbk.END_SOLUTION))


def submission(release: dict, source: dict, solved: set) -> dict:
    """An honest submission: the released notebook with the ``solved`` solution cells written
    as the solution would be, the others left as released."""
    nb = json.loads(json.dumps(release))
    solutions = {kit.gid(c): c for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("solution")}
    for cell in nb["cells"]:
        if kit.gid(cell) in solved:
            cell["source"] = solution_code(solutions[kit.gid(cell)])
    return nb


def comparable(cell: dict) -> dict:
    """A cell without what may differ between nbgrader's release and notebooks/."""
    meta = {k: v for k, v in cell["metadata"].items() if k != "execution"}
    return {**{k: v for k, v in cell.items() if k != "id"}, "metadata": meta, "source": kit.text(cell)}


def html_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


GRADEBOOK = """
import json, sys
from nbgrader.api import Gradebook
scores = {}
with Gradebook("sqlite:///gradebook.db") as gb:
    for lesson in sys.argv[1:]:
        for student in %r:
            nb = gb.find_submission_notebook(lesson, lesson, student)
            scores.update({f"{lesson} {student} {g.name}": g.score for g in nb.grades})
print(json.dumps(scores))
""" % STUDENTS


def cnnlab_grade(course: Path, files: list, out: Path) -> dict:
    """Grade ``files`` (one student's) with the `cnnlab grade` command, as an instructor does;
    its grades.csv as {"lesson grade_id": score}."""
    done = subprocess.run([sys.executable, "-m", "cnnlab", "grade", *map(str, files), "--root", str(course),
                           "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    scores = {}
    for row in csv.DictReader((out / "grades.csv").open()):
        assert row["sandbox"] == "bwrap", row  # CI grades only inside the sandbox
        for key, value in row.items():
            if key not in ("file", "lesson", "total", "max", "status", "reason", "sandbox") and value != "":
                scores[f"{row['lesson']} {key}"] = float(value)
    return scores


@pytest.mark.slow
@pytest.mark.venv
def test_nbgrader_releases_grades_and_gives_feedback_as_cnnlab_does(tmp_path):
    course = copy_working_tree(tmp_path / "course")
    started = time.monotonic()
    bin_dir = venvs.make(tmp_path / "venv", NBGRADER, venvs.wheel(course, tmp_path / "dist"))
    made = time.monotonic() - started
    env = venvs.clean_env(bin_dir, tmp_path / "jupyter")
    env.pop("CNNLAB_FAST", None)  # the course's nbgrader_config.py must set it
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    folder = tmp_path / "class"
    assert main(["build", "--root", str(course), "--nbgrader", str(folder), *LESSONS]) == 0
    nbgrader = lambda *args: venvs.run([bin_dir / "nbgrader", *args], cwd=folder, env=env)  # noqa: E731

    nbgrader("generate_assignment", "*")
    for lesson in LESSONS:
        released = kit.load(folder / "release" / lesson / f"{lesson}.ipynb")
        ours = kit.load(course / "notebooks" / f"{lesson}.ipynb")
        assert [comparable(c) for c in released["cells"]] == [comparable(c) for c in ours["cells"]]

    files = {student: [] for student in STUDENTS}
    for lesson in LESSONS:
        released = kit.load(folder / "release" / lesson / f"{lesson}.ipynb")
        source = kit.load(course / "solutions" / f"{lesson}.ipynb")
        solvable = [kit.gid(c) for c in source["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
        for student, solved in zip(STUDENTS, (set(solvable), set(), set(solvable[: len(solvable) // 2]))):
            files[student].append(kit.save(folder / "submitted" / student / lesson / f"{lesson}.ipynb",
                                           submission(released, source, solved)))
    # cnnlab grade, one student at a time, runs beside nbgrader's autograde (two graders, two cores)
    with ThreadPoolExecutor(1) as pool:
        graded = {s: pool.submit(cnnlab_grade, course, files[s], tmp_path / "cnnlab-grades" / s) for s in STUDENTS}
        nbgrader("autograde", "*")
        ours = {f"{k.split()[0]} {s} {k.split()[1]}": v for s in STUDENTS for k, v in graded[s].result().items()}
    theirs = json.loads(venvs.run([bin_dir / "python", "-c", GRADEBOOK, *LESSONS], cwd=folder, env=env).stdout)
    assert theirs == ours
    for lesson in LESSONS:  # the correct submission earns every point, the untouched one none
        scores = {s: [v for k, v in theirs.items() if k.startswith(f"{lesson} {s} ")] for s in STUDENTS}
        assert all(v > 0 for v in scores["correct"]) and not any(scores["untouched"])
        assert 0 < sum(scores["partly"]) < sum(scores["correct"])

    nbgrader("generate_feedback", "*")
    for lesson in LESSONS:
        hidden = [line for line in leaks.secrets(nbk.read(course / "solutions" / f"{lesson}.ipynb")).hidden
                  if len(line) >= 20]
        assert hidden
        for student in STUDENTS:
            text = html_text(folder / "feedback" / student / lesson / f"{lesson}.html")
            assert [line for line in hidden if line in text] == [], (lesson, student)
            assert "BEGIN HIDDEN" not in text and "Score:" in text
            if student == "untouched":
                assert "NotImplementedError" in text  # the student still sees what went wrong
    print(f"nbgrader venv made in {made:.0f} s, the course run in {time.monotonic() - started - made:.0f} s")
