"""``cnnlab grade``: correct, unfinished, broken and hostile submissions of the fixture lesson.

Every submission is graded in ONE sandboxed ``cnnlab grade --jobs 2 --timeout 3`` run (a kernel
start costs a second or two), shared by the tests through a module-scoped fixture; the run
itself is bounded by a thread's join timeout so a hang fails instead of blocking the suite.
The attacks a determined student would try are in ``tests/hostile/`` (``test_hostile.py``).
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
from cnnlab.course import grade, leaks, submission
from cnnlab.course import notebook as nbk

# Correct, but needs 4 GiB: fails only because of the grader's --memory 2048.
HOG = "def mean_image(X):\n    hog = bytearray(4 * 2**30)\n    return X.mean(axis=0)"
LEAK = ("def scale_images(x):\n"
        "    # try to show the grader's hidden cases, and the running cell, in the feedback\n"
        "    import glob\n"
        "    found = [open(p).read() for p in glob.glob({hidden!r})]\n"
        "    raise ValueError(get_ipython().user_ns['In'][-1] + ''.join(found))")


def submissions(student: dict, root: Path) -> dict:
    """name -> notebook dict (or raw bytes) of every submission the tests grade."""
    s = student
    solved = kit.solved
    # (Reaching into cnnlab.grading itself is flagged by the scan: tests/hostile/ shows it.)
    cheat = "cl.check = lambda *a, **k: 1\ncheck = cl.check"
    leak = LEAK.format(hidden=str(root / "solutions" / "hidden" / "*.py"))
    no_meta = solved(s, scale_images_solution=leak, mean_image_solution="def mean_image(X):\n    import sys\n    sys.exit()")
    del no_meta["metadata"]["cnnlab"]
    foreign = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    return {
        "correct": solved(s),
        "untouched": s,
        "loops": solved(s, scale_images_solution="def scale_images(x):\n    while True:\n        pass",
                        mean_image_solution=HOG),
        "os_exit": kit.insert_after(solved(s), "scale_images", "import os\nos._exit(1)"),
        "raises_and_cheats": kit.insert_after(kit.insert_after(
            solved(s, scale_images_solution="def scale_images(x):\n    raise ValueError('boom')",
                   mean_image_solution="def mean_image(X):\n    return 0"),
            "setup", "import sys\nprint('noise', file=sys.stderr)\nraise RuntimeError('top')"),
            "mean_image_solution", cheat),
        "deletes_and_edits": _edited(kit.delete(solved(s), "setup", "scale_images", "mean_image_solution", "summary")),
        "no_metadata_leaks": no_meta,
        "foreign": json.loads(nbformat.writes(foreign)),
        "garbage": b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
        "bad_json": b'{"cells": [',
        "not_a_notebook": b'{"cells": 3}',
        "empty": b"",
    }


def _edited(nb):
    kit.cell(nb, "mean_image")["source"] = "print('all good')"
    kit.cell(nb, "mean_image")["metadata"]["nbgrader"]["points"] = 100
    kit.cell(nb, "linear_answer")["source"] = "Because it is."
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every submission once; returns (course root, out dir, paths, original bytes)."""
    kit.require_sandbox()
    base = tmp_path_factory.mktemp("grade")
    root = kit.make_course(base)
    student = kit.load(root / kit.STUDENT)
    paths, before = {}, {}
    for name, content in submissions(student, root).items():
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
    assert (r["lesson"], r["status"], r["reason"], r["total"], r["max"]) == ("01_warmup", "ok", "", 2, 2)
    assert r["sandbox"] == "bwrap"
    for gid, e in r["exercises"].items():
        assert (e["status"], e["ran_clean"], e["recheck"], e["flags"]) == ("passed", True, "passed", []), gid
        # the grader's own cases: the public generators drawn afresh, then the hidden ones
        assert e["cases"][-1].startswith("\u2713 case") and "hidden case 1" in "".join(e["cases"])
    assert r["events"] == []


def test_untouched_student_notebook_gets_zero_with_not_implemented(graded):
    r = result(graded, "untouched")
    assert (r["status"], r["total"], r["max"]) == ("ok", 0, 2)
    assert r["reason"] == "failed: scale_images, mean_image"
    assert feedback(graded, "untouched") == {"scale_images": "NotImplementedError", "mean_image": "NotImplementedError"}
    assert [e["recheck"] for e in r["exercises"].values()] == ["failed", "failed"]
    assert "still raises NotImplementedError" in r["exercises"]["scale_images"]["cases"][0]


# --- broken and unruly submissions ----------------------------------------------------------------

def test_infinite_loop_times_out_and_later_cells_are_still_graded(graded):
    r = result(graded, "loops")
    assert (r["status"], r["reason"]) == ("error", "scale_images ran past the time limit: kernel restarted")
    # mean_image ran in the restarted kernel, where the memory limit stopped its 4 GiB array
    assert feedback(graded, "loops") == {"scale_images": "timeout: the cell ran longer than 3 s",
                                         "mean_image": "AssertionError: mean_image: 5 of 5 cases failed"}
    assert "MemoryError" in " ".join(r["exercises"]["mean_image"]["cases"])


def test_os_exit_kills_the_kernel_without_zeroing_other_cells(graded):
    r = result(graded, "os_exit")
    assert scores(graded, "os_exit") == {"scale_images": 1, "mean_image": 1}
    assert (r["status"], r["reason"]) == ("error", "cell 6 killed the kernel: kernel restarted")


def test_code_that_raises_everywhere_and_redefines_check_earns_nothing(graded):
    r = result(graded, "raises_and_cheats")
    assert (r["status"], r["total"]) == ("ok", 0)
    scale, mean = r["exercises"]["scale_images"], r["exercises"]["mean_image"]
    # the check counts an exception in the student's function as a failed case
    assert scale["feedback"] == "AssertionError: scale_images: 5 of 5 cases failed"
    # cl.check replaced by `lambda: 1`: the graded cell ran clean, the grader's re-check did not pass
    assert (mean["ran_clean"], mean["recheck"], mean["score"]) == (True, "failed", 0)
    assert mean["feedback"].startswith("the grader's re-check failed: case 1/")
    assert "got the integer 0" in mean["feedback"] or "got int 0" in mean["feedback"]


def test_deleted_and_edited_cells_are_restored_from_the_source(graded):
    r = result(graded, "deletes_and_edits")
    assert (r["total"], r["max"]) == (1, 2)  # points come from the source, not the submission
    assert scores(graded, "deletes_and_edits") == {"scale_images": 1, "mean_image": 0}
    assert feedback(graded, "deletes_and_edits")["mean_image"] == "NotImplementedError"
    assert r["events"] == ["locked cell 'setup' was deleted: restored from the source",
                           "graded cell 'scale_images' was deleted: restored from the source",
                           "solution cell 'mean_image_solution' was deleted: replaced by the empty exercise",
                           "graded cell 'mean_image' was edited: restored from the source",
                           "locked cell 'summary' was deleted: restored from the source"]


def test_lesson_found_from_grade_ids_and_hidden_tests_never_reach_the_kernel(graded):
    r = result(graded, "no_metadata_leaks")
    assert r["lesson"] == "01_warmup"
    assert r["events"] == ["lesson 01_warmup identified from grade ids (notebook metadata missing)"]
    # The function raised with the running cell and whatever hidden cases it could read as the
    # message: in the grader's re-check the cell is the grader's own request, the files unseen.
    scale = r["exercises"]["scale_images"]
    assert scale["feedback"] == "AssertionError: scale_images: 5 of 5 cases failed"
    assert "your code raised ValueError: import cnnlab.grading.remote" in scale["cases"][0]
    assert feedback(graded, "no_metadata_leaks")["mean_image"] == "SystemExit"  # a BaseException


def test_no_hidden_test_or_hidden_case_in_any_result(graded):
    hidden = leaks.secrets(nbk.read(graded["root"] / kit.SOURCE)).hidden
    cases = (graded["root"] / "solutions" / "hidden" / "01_warmup.py").read_text().splitlines()
    assert hidden and cases
    texts = [p.read_text() for p in graded["out"].iterdir() if p.suffix != ".html"] + [graded["stdout"]]
    for text in texts:
        assert not any(line in text for line in hidden)
        assert not any(line in text for line in cases if len(line) >= 20)


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
    assert list(rows[0]) == ["file", "lesson", "total", "max", "status", "reason", "sandbox", "scale_images",
                             "mean_image"]
    by_name = {Path(r["file"]).stem: r for r in rows}
    assert by_name["correct"] | {"file": ""} == {"file": "", "lesson": "01_warmup", "total": "2", "max": "2",
                                                 "status": "ok", "reason": "", "sandbox": "bwrap",
                                                 "scale_images": "1", "mean_image": "1"}
    assert by_name["empty"]["status"] == "error" and by_name["empty"]["scale_images"] == ""
    assert by_name["loops"]["reason"] == "scale_images ran past the time limit: kernel restarted"
    assert {r["sandbox"] for r in rows} == {"bwrap"}


def test_the_output_folder_holds_the_results_the_report_and_the_run(graded):
    names = sorted(p.name for p in graded["out"].iterdir())
    assert names == sorted(["grades.csv", "report.html", "report.json", "run.json",
                            *(f"{n}.json" for n in graded["paths"])])
    run = json.loads((graded["out"] / "run.json").read_text())
    assert len(run["secret"]) == 64 and run["sandbox"] == "bwrap" and run["submissions"] == len(graded["paths"])
    assert (run["timeout"], run["memory_mb"], run["fast"]) == (3, 2048, True)


def test_summary_printed_per_submission(graded):
    lines = graded["stdout"].splitlines()
    assert lines[0].endswith("correct.ipynb: 01_warmup 2/2 ok")
    assert lines[-1].startswith(f"cnnlab grade: {len(graded['paths'])} submission(s), 7 with errors")


# --- pieces, without kernels --------------------------------------------------------------------

@pytest.fixture(scope="module")
def course_obj(tmp_path_factory):
    return grade.Course(kit.make_course(tmp_path_factory.mktemp("unit")))


def test_restore_puts_cells_back_in_source_order_and_keeps_student_cells(course_obj):
    student = json.loads(nbk.dumps(course_obj.students[kit.LESSON]))
    nb = kit.solved(student)
    copy_of_graded = json.loads(json.dumps(kit.cell(nb, "scale_images")))
    nb["cells"].insert(0, copy_of_graded)  # a copy first: the first one is the anchor
    kit.insert_after(nb, "scale_images_solution", "helper = 1")
    nb["cells"].reverse()  # every anchor moved: the source order comes back
    steps, events = submission.restore(nb, course_obj.sources[kit.LESSON], course_obj.students[kit.LESSON])
    labels = [s.label for s in steps if s.role not in ("free", "lesson")]
    assert labels == ["setup", "scale_images_solution", "scale_images", "linear_answer", "mean_image_solution",
                      "mean_image", "summary"]
    graded_cell = next(s for s in steps if s.label == "scale_images")
    # as students see it: the grader never runs hidden tests in a submission's kernel
    assert graded_cell.source == 'cl.check("scale_images", scale_images)'
    assert [s.editable for s in steps if s.label in ("setup", "scale_images", "scale_images_solution")] == [
        False, True, False]
    assert events == []


def test_restore_reinserts_deleted_solution_as_stub(course_obj):
    student = json.loads(nbk.dumps(course_obj.students[kit.LESSON]))
    nb = kit.delete(student, "scale_images_solution")
    steps, events = submission.restore(nb, course_obj.sources[kit.LESSON], course_obj.students[kit.LESSON])
    stub = next(s for s in steps if s.label == "scale_images_solution")
    assert stub.source.endswith("# YOUR CODE HERE\n    raise NotImplementedError()")
    assert events == ["solution cell 'scale_images_solution' was deleted: replaced by the empty exercise"]


def test_identify_by_metadata_then_grade_ids(course_obj):
    events, sources = [], course_obj.sources
    assert submission.identify({"metadata": {"cnnlab": {"lesson": kit.LESSON}}, "cells": []}, sources,
                               events) == kit.LESSON
    assert events == []
    cells = [{"metadata": {"nbgrader": {"grade_id": "scale_images"}}}]
    assert submission.identify({"metadata": {"cnnlab": {"lesson": "99_gone"}}, "cells": cells}, sources,
                               events) == kit.LESSON
    assert events == ["lesson 01_warmup identified from grade ids (notebook metadata names unknown lesson '99_gone')"]
    with pytest.raises(submission.GradeError, match="cannot tell which lesson"):
        submission.identify({"metadata": [], "cells": [{"metadata": 3}]}, sources, [])
    with pytest.raises(submission.GradeError, match="cannot tell which lesson"):  # a list is not a lesson name
        submission.identify({"metadata": {"cnnlab": {"lesson": ["x"]}}, "cells": []}, sources, [])


def test_source_lists_are_joined_and_odd_cells_tolerated():
    assert submission._source({"source": ["a\n", "b"]}) == "a\nb"
    assert submission._source({"source": 3}) == ""
    assert submission._cell_type({"cell_type": "weird"}) == "raw"


def test_a_submission_too_large_to_read_is_refused():
    with pytest.raises(submission.GradeError, match="larger than 50 MB"):
        submission.read_submission(b"{" + b" " * (submission.MAX_BYTES + 1) + b"}")


def test_json_names_do_not_collide_with_each_other_or_the_class_files():
    assert grade._json_names(["a/x.ipynb", "b/x.ipynb", "y.ipynb", "c/x.ipynb"]) == [
        "x.json", "x-2.json", "y.json", "x-3.json"]
    assert grade._json_names(["run.ipynb", "report.ipynb", "grades.ipynb"]) == [
        "run-submission.json", "report-submission.json", "grades-submission.json"]


def test_kernel_environment_is_built_from_scratch(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hunter2")
    env = grade._kernel_env("/tmp", tmp_path, fast=True)
    assert "AWS_SECRET_ACCESS_KEY" not in env and env["HOME"] == "/tmp" and env["CNNLAB_FAST"] == "1"
    assert env["CNNLAB_DATA"] == str(tmp_path) and env["PYTHONNOUSERSITE"] == "1"
    assert "CNNLAB_FAST" not in grade._kernel_env("/tmp", None, fast=False)


def test_grading_without_lessons_is_an_error(tmp_path, capsys):
    kit.require_sandbox()
    (tmp_path / "solutions").mkdir()
    assert main(["grade", "--root", str(tmp_path), "--out", str(tmp_path / "o"), "x.ipynb"]) == 2
    assert "no lessons" in capsys.readouterr().err


def test_cli_rejects_bad_numbers(capsys):
    with pytest.raises(SystemExit):
        main(["grade", "x.ipynb", "--out", "o", "--jobs", "0"])
    assert "--jobs: must be at least 1; got 0" in capsys.readouterr().err


def test_no_sandbox_is_refused_where_one_is_required(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CNNLAB_REQUIRE_SANDBOX", "1")
    root = kit.make_course(tmp_path)
    assert main(["grade", "--root", str(root), "--out", str(tmp_path / "o"), "--no-sandbox", "x.ipynb"]) == 2
    assert "CNNLAB_REQUIRE_SANDBOX is set" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_without_bwrap_grading_is_refused_with_what_to_install(tmp_path, capsys, monkeypatch):
    from cnnlab.course import sandbox

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on this PATH
    sandbox.probe.cache_clear()
    try:
        root = kit.make_course(tmp_path)
        assert main(["grade", "--root", str(root), "--out", str(tmp_path / "o"), "x.ipynb"]) == 2
    finally:
        sandbox.probe.cache_clear()
    err = capsys.readouterr().err
    assert "bubblewrap is not installed: `sudo apt-get install bubblewrap`" in err and "--no-sandbox" in err


def test_grader_compares_with_the_built_student_notebook(course_obj):
    # the grader's idea of an unedited cell is what cnnlab build wrote
    assert nbk.dumps(course_obj.students[kit.LESSON]) == (course_obj.root / kit.STUDENT).read_text()


def test_course_loads_the_hidden_cases(course_obj):
    assert {k: len(v) for k, v in course_obj.hidden[kit.LESSON].items()} == {"scale_images": 2, "mean_image": 1}


# --- fast and full mode, seeds -------------------------------------------------------------------

def test_lessons_are_graded_in_fast_mode_unless_full_is_asked_for(tmp_path):
    kit.require_sandbox()
    root = kit.make_course(tmp_path)
    # Right only where CNNLAB_FAST=1 reaches the kernel, so the score shows which mode ran.
    fast_only = ("def scale_images(x):\n    import os\n"
                 "    return (x / 255).astype(np.float32) if os.environ.get('CNNLAB_FAST') == '1' else x")
    path = tmp_path / "sub.ipynb"
    kit.save(path, kit.solved(kit.load(root / kit.STUDENT), scale_images_solution=fast_only))
    totals = {}
    for mode, extra in [("default", []), ("full", ["--full"])]:
        out = tmp_path / mode
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["grade", "--root", str(root), "--out", str(out), "--timeout", "10", *extra, str(path)]) == 0
        totals[mode] = json.loads((out / "sub.json").read_text())["exercises"]["scale_images"]["score"]
    assert totals == {"default": 1, "full": 0}


def test_a_run_is_repeated_exactly_with_its_secret(tmp_path):
    kit.require_sandbox()
    root = kit.make_course(tmp_path)
    # A wrong answer shows the first case that differs and its numbers: they depend on the seeds.
    path = kit.save(tmp_path / "sub.ipynb", kit.solved(kit.load(root / kit.STUDENT),
                                                       mean_image_solution="def mean_image(X):\n    return X[0]"))
    cases = {}
    for run, extra in [("first", []), ("again", None), ("other", [])]:
        if extra is None:
            extra = ["--seed", json.loads((tmp_path / "first" / "run.json").read_text())["secret"]]
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["grade", "--root", str(root), "--out", str(tmp_path / run), "--timeout", "10", *extra,
                         str(path)]) == 0
        cases[run] = json.loads((tmp_path / run / "sub.json").read_text())["exercises"]["mean_image"]["cases"]
    assert cases["first"] == cases["again"]
    assert cases["first"] != cases["other"]  # another secret, other inputs
