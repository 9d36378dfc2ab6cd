"""``cnnlab grade``: correct, unfinished, broken and hostile submissions of the fixture lesson.

Every submission is graded in ONE ``cnnlab grade --jobs 2 --timeout 3`` run (a kernel start
costs a second or two), shared by the tests through a module-scoped fixture; the run itself is
bounded by a thread's join timeout so a hang fails instead of blocking the suite.
"""

import contextlib
import csv
import io
import json
import threading
from pathlib import Path

import nbformat
import pytest
from fixtures import coursekit as kit

from cnnlab.cli import main
from cnnlab.course import grade, leaks
from cnnlab.course import notebook as nbk

FAIL_CHECK_ROWS = "AssertionError: fx_row_sums: 2 of 2 cases failed"
# Correct, but needs 4 GiB: fails only because of the grader's --memory 2048.
HOG = "def row_sums(a):\n    hog = bytearray(4 * 2**30)\n    return a.sum(axis=1)"
LEAK = ("def double(x):\n"
        "    if isinstance(x, int) and x == 21:  # the first hidden case: echo the running cell back\n"
        "        raise ValueError(get_ipython().user_ns['In'][-1])\n"
        "    return 2 * x")


def submissions(student: dict) -> dict:
    """name -> notebook dict (or raw bytes) of every submission the tests grade."""
    s = student
    solved = kit.solved
    cheat = ("cl.check = lambda *a, **k: 3\n"
             "import cnnlab.grading\n"
             "cnnlab.grading.check = cl.check\n"
             "cnnlab.grading.get('fx_row_sums').cases = []\n"
             "check = cl.check")
    no_meta = solved(s, double_solution=LEAK, row_sums_solution="def row_sums(a):\n    import sys\n    sys.exit()")
    del no_meta["metadata"]["cnnlab"]
    foreign = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    return {
        "correct": solved(s),
        "untouched": s,
        "loops": solved(s, double_solution="def double(x):\n    while True:\n        pass",
                        row_sums_solution=HOG),
        "os_exit": kit.insert_after(solved(s), "fx_double", "import os\nos._exit(1)"),
        "raises_and_cheats": kit.insert_after(kit.insert_after(
            solved(s, double_solution="def double(x):\n    raise ValueError('boom')",
                   row_sums_solution="def row_sums(a):\n    return 0"),
            "setup", "import sys\nprint('noise', file=sys.stderr)\nraise RuntimeError('top')"),
            "row_sums_solution", cheat),
        "deletes_and_edits": _edited(kit.delete(solved(s), "setup", "fx_double", "row_sums_solution", "summary")),
        "no_metadata_leaks": no_meta,
        "foreign": json.loads(nbformat.writes(foreign)),
        "garbage": b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
        "bad_json": b'{"cells": [',
        "not_a_notebook": b'{"cells": 3}',
        "empty": b"",
    }


def _edited(nb):
    kit.cell(nb, "fx_row_sums")["source"] = "print('all good')"
    kit.cell(nb, "fx_row_sums")["metadata"]["nbgrader"]["points"] = 100
    kit.cell(nb, "linear_answer")["source"] = "Because it is."
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every submission once; returns (course root, out dir, paths, original bytes)."""
    base = tmp_path_factory.mktemp("grade")
    root = kit.make_course(base)
    student = kit.load(root / kit.STUDENT)
    paths, before = {}, {}
    for name, content in submissions(student).items():
        path = base / "submitted" / f"{name}.ipynb"
        if isinstance(content, bytes):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        else:
            kit.save(path, content)
        paths[name] = path
        before[name] = (path.read_bytes(), path.stat().st_mtime_ns)
    out = base / "out"
    argv = ["grade", "--root", str(root), "--out", str(out), "--jobs", "2", "--timeout", "3",
            "--memory", "2048", *map(str, paths.values())]
    status, printed = {}, io.StringIO()
    # In a thread so that a hang fails the test (join's limit) instead of blocking the suite.
    run = threading.Thread(target=lambda: status.update(code=main(argv)), daemon=True)
    with contextlib.redirect_stdout(printed):
        run.start()
        run.join(240)
    assert not run.is_alive(), "cnnlab grade did not finish in 240 s"
    assert status["code"] == 0
    return {"root": root, "out": out, "paths": paths, "before": before, "stdout": printed.getvalue()}


def result(graded, name) -> dict:
    return json.loads((graded["out"] / f"{name}.json").read_text())


def scores(graded, name) -> dict:
    return {gid: e["score"] for gid, e in result(graded, name)["exercises"].items()}


def feedback(graded, name) -> dict:
    return {gid: e["feedback"] for gid, e in result(graded, name)["exercises"].items()}


# --- ordinary submissions -----------------------------------------------------------------------

def test_correct_submission_gets_full_marks(graded):
    r = result(graded, "correct")
    assert (r["lesson"], r["status"], r["reason"], r["total"], r["max"]) == ("01_warmup", "ok", "", 5, 5)
    assert {g: e["status"] for g, e in r["exercises"].items()} == {"fx_double": "passed", "fx_row_sums": "passed"}
    assert r["events"] == []


def test_untouched_student_notebook_gets_zero_with_not_implemented(graded):
    r = result(graded, "untouched")
    assert (r["status"], r["total"], r["max"]) == ("ok", 0, 5)
    assert r["reason"] == "failed: fx_double, fx_row_sums"
    assert feedback(graded, "untouched") == {"fx_double": "NotImplementedError", "fx_row_sums": "NotImplementedError"}


# --- hostile submissions ------------------------------------------------------------------------

def test_infinite_loop_times_out_and_later_cells_are_still_graded(graded):
    r = result(graded, "loops")
    assert (r["status"], r["reason"]) == ("error", "fx_double ran past the time limit: kernel restarted")
    # fx_row_sums ran in the restarted kernel, where the memory limit stopped its 4 GiB array
    assert feedback(graded, "loops") == {"fx_double": "timeout: the cell ran longer than 3 s",
                                         "fx_row_sums": FAIL_CHECK_ROWS}


def test_os_exit_kills_the_kernel_without_zeroing_other_cells(graded):
    r = result(graded, "os_exit")
    assert scores(graded, "os_exit") == {"fx_double": 2, "fx_row_sums": 3}
    assert (r["status"], r["reason"]) == ("error", "cell 6 killed the kernel: kernel restarted")


def test_code_that_raises_everywhere_and_redefines_check_earns_nothing(graded):
    r = result(graded, "raises_and_cheats")
    assert (r["status"], r["total"]) == ("ok", 0)
    # the check counts an exception in the student's function as a failed case
    assert feedback(graded, "raises_and_cheats") == {
        "fx_double": "AssertionError: fx_double: 2 of 2 cases failed", "fx_row_sums": FAIL_CHECK_ROWS}


def test_deleted_and_edited_cells_are_restored_from_the_source(graded):
    r = result(graded, "deletes_and_edits")
    assert (r["total"], r["max"]) == (2, 5)  # points come from the source, not the submission
    assert scores(graded, "deletes_and_edits") == {"fx_double": 2, "fx_row_sums": 0}
    assert feedback(graded, "deletes_and_edits")["fx_row_sums"] == "NotImplementedError"
    assert r["events"] == ["locked cell 'setup' was deleted: restored from the source",
                           "graded cell 'fx_double' was deleted: restored from the source",
                           "solution cell 'row_sums_solution' was deleted: replaced by the empty exercise",
                           "graded cell 'fx_row_sums' was edited: restored from the source",
                           "locked cell 'summary' was deleted: restored from the source"]


def test_lesson_found_from_grade_ids_and_hidden_tests_never_shown(graded):
    r = result(graded, "no_metadata_leaks")
    assert r["lesson"] == "01_warmup"
    assert r["events"] == ["lesson 01_warmup identified from grade ids (notebook metadata missing)"]
    assert feedback(graded, "no_metadata_leaks") == {
        "fx_double": "(details withheld)",  # the error message held the hidden tests
        "fx_row_sums": "SystemExit"}  # a BaseException: the check does not catch it


def test_no_hidden_test_source_in_any_result(graded):
    hidden = leaks.secrets(nbk.read(graded["root"] / kit.SOURCE)).hidden
    assert hidden
    texts = [p.read_text() for p in graded["out"].iterdir()] + [graded["stdout"]]
    for text in texts:
        assert not any(line in text for line in hidden)


@pytest.mark.parametrize("name, reason", [
    ("garbage", "not a notebook: the file is not UTF-8 text"),
    ("bad_json", "not a notebook: invalid JSON (Expecting value, line 1)"),
    ("not_a_notebook", "not a notebook: JSON without a list of cells (nbformat 4 expected)"),
    ("empty", "not a notebook: the file is empty"),
    ("foreign", "cannot tell which lesson this is: no cnnlab lesson metadata and no grade id of any lesson"),
])
def test_unreadable_submissions_get_an_error_row(graded, name, reason):
    r = result(graded, name)
    assert (r["status"], r["reason"], r["total"], r["lesson"]) == ("error", reason, 0, "")


# --- files --------------------------------------------------------------------------------------

def test_submissions_are_never_modified(graded):
    for name, path in graded["paths"].items():
        assert (path.read_bytes(), path.stat().st_mtime_ns) == graded["before"][name], name


def test_class_csv_has_one_row_per_submission(graded):
    rows = list(csv.DictReader((graded["out"] / "grades.csv").open()))
    assert [Path(r["file"]).stem for r in rows] == list(graded["paths"])
    assert list(rows[0]) == ["file", "lesson", "total", "max", "status", "reason", "fx_double", "fx_row_sums"]
    by_name = {Path(r["file"]).stem: r for r in rows}
    assert by_name["correct"] | {"file": ""} == {"file": "", "lesson": "01_warmup", "total": "5", "max": "5",
                                                 "status": "ok", "reason": "", "fx_double": "2", "fx_row_sums": "3"}
    assert by_name["empty"]["status"] == "error" and by_name["empty"]["fx_double"] == ""
    assert by_name["loops"]["reason"] == "fx_double ran past the time limit: kernel restarted"


def test_only_results_are_left_in_the_output_folder(graded):
    names = sorted(p.name for p in graded["out"].iterdir())
    assert names == sorted(["grades.csv", *(f"{n}.json" for n in graded["paths"])])


def test_summary_printed_per_submission(graded):
    lines = graded["stdout"].splitlines()
    assert lines[0].endswith("correct.ipynb: 01_warmup 5/5 ok")
    assert lines[-1].startswith(f"cnnlab grade: {len(graded['paths'])} submission(s), 7 with errors")


# --- pieces, without kernels --------------------------------------------------------------------

@pytest.fixture(scope="module")
def course_obj(tmp_path_factory):
    return grade.Course(kit.make_course(tmp_path_factory.mktemp("unit")))


def test_restore_puts_cells_back_in_source_order_and_keeps_student_cells(course_obj):
    student = json.loads(nbk.dumps(course_obj.students[kit.LESSON]))
    nb = kit.solved(student)
    copy_of_graded = json.loads(json.dumps(kit.cell(nb, "fx_double")))
    nb["cells"].insert(0, copy_of_graded)  # a copy first: the first one is the anchor
    kit.insert_after(nb, "double_solution", "helper = 1")
    nb["cells"].reverse()  # every anchor moved: the source order comes back
    steps, events = grade.restore(nb, course_obj.sources[kit.LESSON], course_obj.students[kit.LESSON])
    labels = [s.label for s in steps if s.role != "free"]
    assert labels == ["setup", "double_solution", "fx_double", "linear_answer", "row_sums_solution",
                      "fx_row_sums", "summary"]
    graded_cell = next(s for s in steps if s.label == "fx_double")
    assert "### BEGIN HIDDEN TESTS" in graded_cell.source  # the source version, hidden tests included
    assert events == []


def test_restore_reinserts_deleted_solution_as_stub(course_obj):
    student = json.loads(nbk.dumps(course_obj.students[kit.LESSON]))
    nb = kit.delete(student, "double_solution")
    steps, events = grade.restore(nb, course_obj.sources[kit.LESSON], course_obj.students[kit.LESSON])
    stub = next(s for s in steps if s.label == "double_solution")
    assert stub.source.endswith("# YOUR CODE HERE\n    raise NotImplementedError()")
    assert events == ["solution cell 'double_solution' was deleted: replaced by the empty exercise"]


def test_identify_by_metadata_then_grade_ids(course_obj):
    events = []
    assert course_obj.identify({"metadata": {"cnnlab": {"lesson": kit.LESSON}}, "cells": []}, events) == kit.LESSON
    assert events == []
    cells = [{"metadata": {"nbgrader": {"grade_id": "fx_double"}}}]
    assert course_obj.identify({"metadata": {"cnnlab": {"lesson": "99_gone"}}, "cells": cells}, events) == kit.LESSON
    assert events == ["lesson 01_warmup identified from grade ids (notebook metadata names unknown lesson '99_gone')"]
    with pytest.raises(grade.GradeError, match="cannot tell which lesson"):
        course_obj.identify({"metadata": [], "cells": [{"metadata": 3}]}, [])


def test_source_lists_are_joined_and_odd_cells_tolerated():
    assert grade._source({"source": ["a\n", "b"]}) == "a\nb"
    assert grade._source({"source": 3}) == ""
    assert grade._cell_type({"cell_type": "weird"}) == "raw"


def test_json_names_do_not_collide():
    assert grade._json_names(["a/x.ipynb", "b/x.ipynb", "y.ipynb", "c/x.ipynb"]) == [
        "x.json", "x-2.json", "y.json", "x-3.json"]


def test_restore_code_rebinds_bare_check_only_when_used():
    assert "check = cnnlab.grading.check" in grade.restore_code("check('a', f)")
    assert "check = cnnlab.grading.check" not in grade.restore_code("cl.check('a', f)")


def test_grading_without_lessons_is_an_error(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    assert main(["grade", "--root", str(tmp_path), "--out", str(tmp_path / "o"), "x.ipynb"]) == 2
    assert "no lessons" in capsys.readouterr().err


def test_cli_rejects_bad_numbers(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "x.ipynb", "--out", "o", "--jobs", "0"])
    assert "--jobs: must be at least 1; got 0" in capsys.readouterr().err


def test_memory_limit_setup_code_caps_the_address_space():
    code = grade.setup_code(1024)
    assert f"_cnnlab_limit = {1024 * 2**20}" in code and "RLIMIT_AS" in code
    assert "RLIMIT_AS" not in grade.setup_code(0)


def test_grader_compares_with_the_built_student_notebook(course_obj):
    # the grader's idea of an unedited cell is what cnnlab build wrote
    assert nbk.dumps(course_obj.students[kit.LESSON]) == (course_obj.root / kit.STUDENT).read_text()


# --- fast and full mode -------------------------------------------------------------------------

def test_lessons_are_graded_in_fast_mode_unless_full_is_asked_for(tmp_path):
    root = kit.make_course(tmp_path)
    # Right only where CNNLAB_FAST=1 reaches the kernel, so the score shows which mode ran.
    fast_only = ("def double(x):\n    import os\n"
                 "    return 2 * x if os.environ.get('CNNLAB_FAST') == '1' else x")
    path = tmp_path / "sub.ipynb"
    kit.save(path, kit.solved(kit.load(root / kit.STUDENT), double_solution=fast_only))
    totals = {}
    for mode, extra in [("default", []), ("full", ["--full"])]:
        out = tmp_path / mode
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["grade", "--root", str(root), "--out", str(out), "--timeout", "10", *extra, str(path)]) == 0
        totals[mode] = json.loads((out / "sub.json").read_text())["exercises"]["fx_double"]["score"]
    assert totals == {"default": 2, "full": 0}
