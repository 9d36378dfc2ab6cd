"""``cnnlab validate``: each kind of problem is caught, with one clear line naming it.

Every test breaks one thing in a fresh copy of the fixture course and checks the exit status
and the exact problem line (``path: cell N (grade_id): problem``, cells counted from 1).
"""

import json
from pathlib import Path

import pytest
from fixtures import coursekit as kit

from cnnlab.cli import main

SRC, NB = kit.SOURCE, kit.STUDENT


@pytest.fixture
def course(tmp_path):
    return kit.make_course(tmp_path)


def validate(course, capsys):
    """Exit status and the problem lines printed."""
    status = main(["validate", "--root", str(course)])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def edit_source(course, which, change):
    """Apply ``change(cell)`` to the source cell whose grade_id is ``which``."""
    nb = kit.load(course / SRC)
    change(kit.cell(nb, which))
    kit.save(course / SRC, nb)


def set_source(course, which, text):
    edit_source(course, which, lambda c: c.update(source=text))


def set_meta(course, which, **values):
    edit_source(course, which, lambda c: c["metadata"]["nbgrader"].update(values))


def only_problem(course, capsys, expected):
    status, lines, err = validate(course, capsys)
    assert status == 1
    assert lines == [expected]
    assert "cnnlab validate: 1 problem(s)" in err


# --- a course without problems ------------------------------------------------------------------

def test_clean_course_passes_with_a_summary(course, capsys):
    status, lines, err = validate(course, capsys)
    assert status == 0 and err == ""
    assert lines == ["cnnlab validate: 1 lesson(s), 2 graded cell(s) worth 2 point(s); sources well "
                     "formed, notebooks/ up to date, no leaks"]


# --- notebooks/ in sync with the sources --------------------------------------------------------

def test_missing_student_notebook(course, capsys):
    (course / NB).unlink()
    only_problem(course, capsys, f"{NB}: missing; run `cnnlab build`")


def test_extra_student_notebook(course, capsys):
    (course / "notebooks" / "02_extra.ipynb").write_text((course / NB).read_text())
    only_problem(course, capsys, "notebooks/02_extra.ipynb: has no source solutions/02_extra.ipynb; "
                                 "remove it or add its source")


def test_stale_student_notebook(course, capsys):
    set_source(course, "summary", "## Summary\n\nA changed summary.")
    only_problem(course, capsys, f"{NB}: differs from what `cnnlab build` writes (first at cell 11): "
                                 "out of date; run `cnnlab build`")


KEEP_THE_WORK = ("and was changed by hand since a build wrote it: if the changes are work to keep, copy them "
                 "elsewhere first (students work in their own copies, made by `cnnlab lab`); then "
                 "`cnnlab build --force` moves the file to notebooks/.backup/ and writes the release")


def test_student_notebook_metadata_changed(course, capsys):
    nb = kit.load(course / NB)
    nb["metadata"]["cnnlab"]["lesson"] = "99_other"
    (course / NB).write_text(json.dumps(nb, indent=1, sort_keys=True) + "\n")
    only_problem(course, capsys, f"{NB}: differs from what `cnnlab build` writes (in its notebook "
                                 f"metadata or formatting) {KEEP_THE_WORK}")


def test_student_notebook_changed_by_hand_is_never_sent_to_build(course, capsys):
    nb = kit.load(course / NB)
    kit.cell(nb, "scale_images_solution")["source"] = "def scale_images(x):\n    return x.astype(np.float32) / 255"
    kit.save(course / NB, nb)
    only_problem(course, capsys, f"{NB}: differs from what `cnnlab build` writes (first at cell 4) {KEEP_THE_WORK}")


def edit_student(course, grade_id, change):
    nb = kit.load(course / NB)
    change(kit.cell(nb, grade_id))
    kit.save(course / NB, nb)


def student_lines(course, capsys):
    status, lines, _ = validate(course, capsys)
    assert status == 1
    assert lines[0].startswith(f"{NB}: differs from what `cnnlab build` writes (first at cell")
    return lines[1:]


HIDDEN = "assert scale_images(np.zeros((2, 1, 2, 2), dtype=np.uint8)).sum() == 0.0"


@pytest.mark.parametrize("grade_id, change, problem", [
    pytest.param("scale_images_solution",
                 {"source": "def scale_images(x):\n    scaled = x.astype(np.float32) / 255"},
                 "cell 4 (scale_images_solution): reveals the answer: line 2: solution text "
                 "'scaled = x.astype(np.float32) / 255'", id="solution text"),
    pytest.param("scale_images", {"source": HIDDEN},
                 f"cell 5 (scale_images): reveals the answer: line 1: hidden test text '{HIDDEN[:47]}...'",
                 id="hidden test text"),
    pytest.param("scale_images_solution", {"source": "### BEGIN SOLUTION\npass"},
                 "cell 4 (scale_images_solution): reveals the answer: line 1: marker text '### BEGIN SOLUTION'",
                 id="marker"),
    pytest.param("setup", {"outputs": [{"output_type": "stream", "name": "stdout", "text": "(2, 3)\n"}]},
                 "cell 2 (setup): has stored outputs (students must start from a clean notebook)",
                 id="stored output"),
    pytest.param("setup", {"execution_count": 3}, "cell 2 (setup): has an execution count", id="execution count"),
])
def test_what_a_student_notebook_must_not_hold(course, capsys, grade_id, change, problem):
    edit_student(course, grade_id, lambda c: c.update(change))
    assert student_lines(course, capsys) == [f"{NB}: {problem}"]


# --- one broken thing, one problem line --------------------------------------------------------

def meta(which, **values):
    return lambda course: set_meta(course, which, **values)


def source(which, text):
    return lambda course: set_source(course, which, text)


def ordinary_cell(text):
    """Set the source of cell 6, an ordinary cell (no nbgrader metadata)."""
    def change(course):
        nb = kit.load(course / SRC)
        nb["cells"][5]["source"] = text
        kit.save(course / SRC, nb)
    return change


def copy_of_the_source(name):
    return lambda course: (course / "solutions" / name).write_text((course / SRC).read_text())


NOT_A_SOLUTION_CELL = ("solution markers in a cell that is not a solution cell (set nbgrader solution: true, or "
                       "remove the markers)")
CHECK_CALL = ('the graded cell must start with cl.check("<exercise id>", <function name>[, <partner>=<function '
              'name> ...])')
WHY_THE_CALL = "(cnnlab grade reads the exercise and the function names from it)"

ONE_PROBLEM = [
    # source metadata
    pytest.param([meta("mean_image_solution", grade_id="scale_images_solution")],
                 f"{SRC}: cell 9 (scale_images_solution): grade_id 'scale_images_solution' is also used by cell 4; "
                 "grade ids must be unique", id="duplicate grade_id"),
    pytest.param([meta("setup", schema_version=2)],
                 f"{SRC}: cell 2 (setup): nbgrader schema_version must be 3; got 2", id="schema_version must be 3"),
    pytest.param([meta("setup", locked="yes")],
                 f"{SRC}: cell 2 (setup): nbgrader 'locked' must be true or false; got 'yes'", id="flags are booleans"),
    pytest.param([meta("mean_image", locked=False)],
                 f"{SRC}: cell 10 (mean_image): a graded test cell must be locked (locked: true)",
                 id="graded cell locked"),
    pytest.param([source("mean_image", "# check(row_sums) is only mentioned in a comment\nrow_sums")],
                 f"{SRC}: cell 10 (mean_image): a graded test cell must test something: a cl.check(...) call or an "
                 "assert", id="graded cell tests something"),
    pytest.param([source("mean_image", "assert mean_image(np.ones((2, 1, 1, 1))).tolist() == [[[1.0]]]")],
                 f"{SRC}: cell 10 (mean_image): {CHECK_CALL} {WHY_THE_CALL}", id="graded cell starts with the check"),
    pytest.param([source("mean_image", 'cl.check("mean_image", lambda X: X.mean(axis=0))')],
                 f"{SRC}: cell 10 (mean_image): {CHECK_CALL}, with bare names {WHY_THE_CALL}",
                 id="check names bare functions"),
    pytest.param([meta("mean_image", points=1), source("mean_image", 'cl.check("scale_images", mean_image)')],
                 f"{SRC}: cell 10 (mean_image): grade_id 'mean_image' differs from the exercise id it checks "
                 "('scale_images'); name the graded cell after its exercise", id="named after another exercise"),
    pytest.param([meta("mean_image", points=3)],
                 f"{SRC}: cell 10 (mean_image): points 3 differ from the 1 registered for exercise 'mean_image' in "
                 "cnnlab.grading", id="points of the registry"),
    # markers
    pytest.param([source("mean_image_solution", "def row_sums(a):\n    return a.sum(axis=1)\n    ### END SOLUTION")],
                 f"{SRC}: cell 9 (mean_image_solution): line 3: '### END SOLUTION' without a matching "
                 "'### BEGIN SOLUTION' before it", id="unbalanced end marker"),
    pytest.param([source("mean_image_solution",
                         "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx\n### END SOLUTION\n### END SOLUTION")],
                 f"{SRC}: cell 9 (mean_image_solution): line 2: '### BEGIN SOLUTION' inside the solution region "
                 "opened on line 1 (regions cannot be nested)", id="nested markers"),
    pytest.param([source("scale_images", 'cl.check("scale_images", scale_images)\n### BEGIN HIDDEN TESTS\nassert 1')],
                 f"{SRC}: cell 5 (scale_images): line 2: '### BEGIN HIDDEN TESTS' is never closed by "
                 "'### END HIDDEN TESTS'", id="unclosed marker"),
    pytest.param([source("mean_image_solution",
                         "def row_sums(a):\n    ## BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")],
                 f"{SRC}: cell 9 (mean_image_solution): malformed marker '## BEGIN SOLUTION': a marker line holds "
                 "exactly '### BEGIN SOLUTION', '### END SOLUTION', '### BEGIN HIDDEN TESTS' or "
                 "'### END HIDDEN TESTS'", id="malformed marker"),
    pytest.param([source("mean_image_solution", "def row_sums(a):\n    return a.sum(axis=1)")],
                 f"{SRC}: cell 9 (mean_image_solution): a solution cell without '### BEGIN SOLUTION' / "
                 "'### END SOLUTION' markers", id="solution cell without markers"),
    pytest.param([source("setup", "import numpy as np\n### BEGIN SOLUTION\nsecret = 1\n### END SOLUTION")],
                 f"{SRC}: cell 2 (setup): {NOT_A_SOLUTION_CELL}", id="solution markers in a locked cell"),
    pytest.param([ordinary_cell("### BEGIN SOLUTION\nprint(1)\n### END SOLUTION")],
                 f"{SRC}: cell 6: {NOT_A_SOLUTION_CELL}", id="solution markers in an ordinary cell"),
    pytest.param([source("setup", "import numpy as np\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS")],
                 f"{SRC}: cell 2 (setup): hidden tests outside a graded test cell",
                 id="hidden tests outside a graded cell"),
    # files
    pytest.param([copy_of_the_source("warmup.ipynb")],
                 "solutions/warmup.ipynb: not a lesson name: sources are named NN_topic.ipynb (two digits, lowercase "
                 "words joined by _)", id="misnamed source"),
]


@pytest.mark.parametrize("changes, problem", ONE_PROBLEM)
def test_one_broken_thing_one_problem_line(course, capsys, changes, problem):
    for change in changes:
        change(course)
    only_problem(course, capsys, problem)


# --- a broken thing named in the line, or several problems ----------------------------------

@pytest.mark.parametrize("bad", ["Double", "2nd", "fx-double", ""])
def test_malformed_grade_id(course, capsys, bad):
    set_meta(course, "scale_images_solution", grade_id=bad)
    status, lines, _ = validate(course, capsys)
    assert status == 1
    where = f"cell 4 ({bad})" if bad else "cell 4"
    assert lines == [f"{SRC}: {where}: grade_id {bad!r} is malformed: it must match ^[a-z][a-z0-9_]*$"]


@pytest.mark.parametrize("points", [0, -1, "2", True, None])
def test_graded_cell_needs_numeric_points(course, capsys, points):
    set_meta(course, "mean_image", points=points)
    only_problem(course, capsys, f"{SRC}: cell 10 (mean_image): a graded cell needs numeric points > 0; "
                                 f"got {points!r}")


def test_hidden_cases_missing_or_broken(course, capsys):
    hidden = course / "solutions" / "hidden" / "01_warmup.py"
    hidden.write_text("from cnnlab.grading import Case\nCASES = {'scale_images': [Case(x=3)], 'gd_1d': []}\n")
    status, lines, _ = validate(course, capsys)
    assert lines[:2] == ["solutions/hidden/01_warmup.py: has cases for 'gd_1d', which is not an exercise of this lesson",
                         "solutions/hidden/01_warmup.py: no hidden cases for exercise 'mean_image': add some (the "
                         "grader re-checks every exercise on them)"]
    hidden.write_text("CASES = 3\n")
    assert validate(course, capsys)[1][0].startswith("solutions/hidden/01_warmup.py: cannot be loaded: ValueError")


def test_manually_graded_answer_is_refused(course, capsys):
    set_meta(course, "mean_image", solution=True)
    status, lines, _ = validate(course, capsys)
    assert status == 1
    assert "cell 10 (mean_image): grade and solution both true" in lines[0]


def test_unreadable_source(course, capsys):
    (course / SRC).write_text("{ not json")
    status, lines, _ = validate(course, capsys)
    assert status == 1
    assert lines[0].startswith(f"{SRC}: not a readable notebook:")


def test_several_problems_one_line_each(course, capsys):
    set_meta(course, "setup", schema_version=1)
    set_meta(course, "mean_image", points=0)
    status, lines, err = validate(course, capsys)
    assert status == 1 and len(lines) == 2
    assert "cnnlab validate: 2 problem(s)" in err


# --- the repository itself ----------------------------------------------------------------------

def test_the_repository_validates(capsys):
    root = Path(__file__).resolve().parent.parent
    status, lines, err = validate(root, capsys)
    assert status == 0, "cnnlab validate found problems:\n" + "\n".join(lines)
