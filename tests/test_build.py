"""``cnnlab build``: student notebooks made from the lesson sources, deterministically.

Runs on the fixture course (tests/fixtures/course) and checks the repository's own lessons
against its committed notebooks/.
"""

import hashlib
import json
import re
import runpy
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures import coursekit as kit

from cnnlab.cli import main
from cnnlab.course import build, kernel, leaks
from cnnlab.course import notebook as nbk
from cnnlab.course.lessons import CourseError, all_lessons, find_root, select

REPO = Path(__file__).resolve().parent.parent
REPO_LESSONS = all_lessons(REPO)


@pytest.fixture
def course(tmp_path):
    return kit.make_course(tmp_path)


def graded(grade_id, source="cl.check('x', f)", points=2):
    meta = {"nbgrader": {"schema_version": 3, "grade": True, "solution": False, "locked": True,
                         "grade_id": grade_id, "points": points}}
    return nbformat.v4.new_code_cell(source, metadata=meta)


# --- nbgrader's checksum ------------------------------------------------------------------------

def test_checksum_is_nbgraders_md5_worked_out_by_hand():
    # nbgrader hashes source, cell type, is-grade, is-solution, is-locked, grade_id, float points.
    cell = graded("tst", source="print(1)", points=2)
    expected = hashlib.md5(b"print(1)" b"code" b"True" b"False" b"True" b"tst" b"2.0").hexdigest()
    assert nbk.compute_checksum(cell) == expected


def test_checksum_of_solution_and_locked_cells_has_no_points():
    solution = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", metadata={"nbgrader": {
        "schema_version": 3, "grade": False, "solution": True, "locked": True, "grade_id": "ans"}})
    # a solution cell is never locked, whatever its metadata says (nbgrader's is_locked)
    assert nbk.compute_checksum(solution) == hashlib.md5(
        b"YOUR ANSWER HERE" b"markdown" b"False" b"True" b"False" b"ans").hexdigest()
    locked = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {
        "schema_version": 3, "grade": False, "solution": False, "locked": True, "grade_id": "setup"}})
    assert nbk.compute_checksum(locked) == hashlib.md5(
        b"x = 1" b"code" b"False" b"False" b"True" b"setup").hexdigest()


def test_built_cells_carry_the_checksum_of_their_student_source(course):
    nb = kit.load(course / kit.STUDENT)
    for c in nb["cells"]:
        if "nbgrader" in c["metadata"]:
            meta = c["metadata"]["nbgrader"]
            assert meta["cell_type"] == c["cell_type"]
            assert meta["checksum"] == nbk.compute_checksum({**c, "source": kit.text(c)})


# --- markers ------------------------------------------------------------------------------------

def test_solution_region_becomes_the_stub_at_the_markers_indentation():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n# after"
    assert nbk.replace_regions(source, "solution", nbk.CODE_STUB) == (
        "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n# after")


def test_hidden_region_is_removed_with_its_markers():
    source = "check(1)\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\nprint('done')"
    assert nbk.replace_regions(source, "hidden") == "check(1)\nprint('done')"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx\n### BEGIN SOLUTION\n### END SOLUTION", "cannot be nested"),
    ("x = 1\n### END SOLUTION", "without a matching '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("### BEGIN HIDDEN TESTS\n### END SOLUTION", "without a matching '### BEGIN SOLUTION'"),
    ("## BEGIN SOLUTION\nx\n## END SOLUTION", "malformed marker"),
])
def test_broken_markers_raise(source, message):
    with pytest.raises(nbk.MarkerError, match=message):
        nbk.regions(source)


def test_solution_markers_outside_a_solution_cell_refuse_to_build():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx\n### END SOLUTION")])
    with pytest.raises(build.BuildError, match=r"les\.ipynb: cell 1: solution markers in a cell that is not"):
        build.student_notebook(nb, "00_x", "les.ipynb")


# --- the student notebook -----------------------------------------------------------------------

def test_student_notebook_content(course):
    nb = kit.load(course / kit.STUDENT)
    stub = kit.text(kit.cell(nb, "scale_images_solution"))
    assert stub == 'def scale_images(x):\n    """(N, C, H, W) uint8 -> float32 in [0, 1]."""\n' \
                   "    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert kit.text(kit.cell(nb, "linear_answer")) == "Why is doubling linear?\n\nYOUR ANSWER HERE"
    assert kit.text(kit.cell(nb, "scale_images")) == 'cl.check("scale_images", scale_images)'
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] == 5
    recorded = nb["metadata"]["cnnlab"]["build_sha256"]
    assert nb["metadata"] == {"cnnlab": {"lesson": kit.LESSON, "version": nb["metadata"]["cnnlab"]["version"],
                                         "build_sha256": recorded},
                              "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                             "name": "python3"},
                              "language_info": {"name": "python"}}
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))
    # the build hash: SHA-256 of the canonical JSON (sorted keys, no spaces) without the hash itself
    del nb["metadata"]["cnnlab"]["build_sha256"]
    canonical = json.dumps(nb, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert recorded == hashlib.sha256(canonical).hexdigest()


def test_cells_are_locked_by_kind_and_ids_are_stable(course):
    nb = kit.load(course / kit.STUDENT)
    meta = {kit.gid(c): c["metadata"] for c in nb["cells"] if kit.gid(c)}
    for locked in ("setup", "scale_images", "mean_image", "summary"):
        assert meta[locked]["editable"] is False and meta[locked]["deletable"] is False
    for solution in ("scale_images_solution", "mean_image_solution", "linear_answer"):
        assert meta[solution]["deletable"] is False and "editable" not in meta[solution]
    assert [c["id"] for c in nb["cells"]] == [
        "fx00", "setup", "fx02", "scale_images_solution", "scale_images", "fx05", "linear_answer", "fx07",
        "mean_image_solution", "mean_image", "summary"]
    plain = [c for c in nb["cells"] if not kit.gid(c)]
    assert all(c["metadata"] == {} for c in plain)


def test_outputs_execution_counts_and_extra_metadata_are_dropped(course):
    source = kit.load(course / kit.SOURCE)
    setup = kit.cell(source, "setup")
    setup["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "(2, 3)\n"}]
    setup["execution_count"] = 7
    setup["metadata"].update(execution={"iopub.status.busy": "2024"}, tags=["keep-me"], scrolled=True)
    source["metadata"]["widgets"] = {"state": {}}
    kit.save(course / kit.SOURCE, source)
    nb = build.build_lesson(select(course, ["01"])[0])
    cell = nb.cells[kit.index(nb, "setup")]
    assert cell.outputs == [] and cell.execution_count is None
    assert set(cell.metadata) == {"nbgrader", "editable", "deletable", "tags"}
    assert "widgets" not in nb.metadata


def test_student_notebook_has_no_solution_or_hidden_text(course):
    found = leaks.secrets(nbk.read(course / kit.SOURCE))
    assert "scaled = x.astype(np.float32) / 255" in found.solution
    assert "assert scale_images(np.zeros((2, 1, 2, 2), dtype=np.uint8)).sum() == 0.0" in found.hidden
    text = (course / kit.STUDENT).read_text()
    assert "BEGIN" not in text and "END SOLUTION" not in text and "HIDDEN" not in text
    for line in found.solution | found.hidden:
        assert line not in text


# --- determinism --------------------------------------------------------------------------------

def test_building_twice_gives_identical_bytes(course, tmp_path):
    first = (course / kit.STUDENT).read_bytes()
    mtime = (course / kit.STUDENT).stat().st_mtime_ns
    assert build.write_lessons(all_lessons(course))[0].changed is False  # unchanged: not rewritten
    assert (course / kit.STUDENT).stat().st_mtime_ns == mtime
    other = tmp_path / "again"
    build.write_lessons(all_lessons(course), other)
    assert (other / f"{kit.LESSON}.ipynb").read_bytes() == first
    assert first.endswith(b"}\n")


@pytest.mark.skipif(not REPO_LESSONS, reason="the repository has no lessons in solutions/ yet")
@pytest.mark.parametrize("lesson", REPO_LESSONS, ids=lambda lesson: lesson.name)
def test_committed_notebooks_are_what_build_writes(lesson):
    expected = nbk.dumps(build.build_lesson(lesson))
    assert lesson.student.is_file(), f"{lesson.student} is missing: run `cnnlab build`"
    # Never "run cnnlab build" here: the file may hold a person's work. validate tells an
    # out-of-date file from one changed by hand, and says what to do about each.
    assert lesson.student.read_text(encoding="utf-8") == expected, \
        f"{lesson.student.name} differs from what `cnnlab build` writes: `cnnlab validate` says why"


# --- a notebook a person changed is never overwritten -------------------------------------------

def edit_by_hand(path: Path, text: str = "my own notes") -> bytes:
    """Change a notebook as a person would in JupyterLab (a new cell, saved); its bytes."""
    nb = kit.load(path)
    nb["cells"].append(kit.code_cell(text))
    kit.save(path, nb)
    return path.read_bytes()


def test_build_refuses_a_notebook_changed_by_hand_names_it_and_writes_nothing(course, capsys):
    mine = edit_by_hand(course / kit.STUDENT)
    kit.cell(source := kit.load(course / kit.SOURCE), "summary")["source"] = "## Summary\n\nNew."
    kit.save(course / kit.SOURCE, source)  # the release changed too: build has something to write
    assert main(["build", "--root", str(course)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"cnnlab build: {kit.STUDENT}: changed by hand since `cnnlab build` "
                                   "wrote it; build overwrites nothing a person changed, so it wrote nothing.")
    assert "`cnnlab build --force` moves the file to notebooks/.backup/" in captured.err
    assert (course / kit.STUDENT).read_bytes() == mine
    assert not (course / "notebooks" / ".backup").exists()


def test_force_moves_the_changed_notebook_to_a_backup_never_overwritten(course, capsys):
    first = edit_by_hand(course / kit.STUDENT, "first edit")
    assert main(["build", "--root", str(course), "--force"]) == 0
    out = capsys.readouterr().out
    backups = sorted((course / "notebooks" / ".backup").iterdir())
    assert [b.read_bytes() for b in backups] == [first]
    assert re.fullmatch(rf"{kit.LESSON}\.\d{{8}}T\d{{6}}Z\.ipynb", backups[0].name)
    assert out == f"wrote {kit.STUDENT} (the file it replaced is kept as notebooks/.backup/{backups[0].name})\n"
    assert (course / kit.STUDENT).read_text() == nbk.dumps(build.build_lesson(select(course, ["01"])[0]))
    second = edit_by_hand(course / kit.STUDENT, "second edit")  # within the same second, usually
    assert main(["build", "--root", str(course), "--force"]) == 0
    after = sorted((course / "notebooks" / ".backup").iterdir())
    assert backups[0].read_bytes() == first  # the first backup is untouched
    assert len(after) == 2 and {b.read_bytes() for b in after} == {first, second}


def test_a_notebook_nobody_changed_is_rebuilt_without_a_backup(course, capsys):
    kit.cell(source := kit.load(course / kit.SOURCE), "summary")["source"] = "## Summary\n\nNew."
    kit.save(course / kit.SOURCE, source)
    # reformatted JSON is still the same notebook: no person's work in it
    (course / kit.STUDENT).write_text(json.dumps(kit.load(course / kit.STUDENT), indent=4))
    assert main(["build", "--root", str(course)]) == 0
    assert capsys.readouterr().out == f"wrote {kit.STUDENT}\n"
    assert "New." in (course / kit.STUDENT).read_text()
    assert not (course / "notebooks" / ".backup").exists()


def test_a_notebook_from_a_build_without_hashes_is_rebuilt_only_if_unchanged(course, capsys):
    nb = kit.load(course / kit.STUDENT)
    del nb["metadata"]["cnnlab"]["build_sha256"]
    (course / kit.STUDENT).write_text(nbk.dumps(nbformat.from_dict(nb)))
    assert main(["build", "--root", str(course)]) == 0  # what build writes, but for the hash
    assert capsys.readouterr().out == f"wrote {kit.STUDENT}\n"
    nb["cells"][0]["source"] = "# My title"
    (course / kit.STUDENT).write_text(nbk.dumps(nbformat.from_dict(nb)))
    assert main(["build", "--root", str(course)]) == 2
    assert "changed by hand" in capsys.readouterr().err
    (course / kit.STUDENT).write_text("not a notebook any more")
    assert main(["build", "--root", str(course)]) == 2
    assert (course / kit.STUDENT).read_text() == "not a notebook any more"


# --- the command --------------------------------------------------------------------------------

def test_cli_builds_selected_lessons(course, capsys):
    (course / kit.STUDENT).unlink()
    assert main(["build", "--root", str(course), "01"]) == 0
    assert capsys.readouterr().out == f"wrote {kit.STUDENT}\n"
    assert main(["build", "--root", str(course), kit.SOURCE]) == 0
    assert capsys.readouterr().out == f"unchanged {kit.STUDENT}\n"


def test_cli_unknown_lesson_exits_2(course, capsys):
    assert main(["build", "--root", str(course), "07"]) == 2
    assert "unknown lesson '07'; lessons in" in capsys.readouterr().err


def test_cli_broken_source_exits_2_and_writes_nothing(course, capsys):
    nb = kit.load(course / kit.SOURCE)
    kit.cell(nb, "scale_images_solution")["source"] += "\n### END SOLUTION"
    kit.save(course / kit.SOURCE, nb)
    before = (course / kit.STUDENT).read_bytes()
    assert main(["build", "--root", str(course)]) == 2
    err = capsys.readouterr().err
    assert f"{kit.SOURCE}: cell 4 (scale_images_solution): line 7: '### END SOLUTION' without a matching" in err
    assert (course / kit.STUDENT).read_bytes() == before


def test_cli_metadata_without_grade_id_exits_2(course, capsys):
    nb = kit.load(course / kit.SOURCE)
    del kit.cell(nb, "scale_images")["metadata"]["nbgrader"]["grade_id"]
    kit.save(course / kit.SOURCE, nb)
    assert main(["build", "--root", str(course)]) == 2
    assert f"{kit.SOURCE}: cell 5: nbgrader metadata without a grade_id (got None)" in capsys.readouterr().err


def test_empty_course_builds_and_validates_nothing(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    assert main(["build", "--root", str(tmp_path)]) == 0
    assert "no lessons" in capsys.readouterr().out
    assert main(["validate", "--root", str(tmp_path)]) == 0
    assert "no lessons in solutions/" in capsys.readouterr().out


def test_root_is_found_upwards_and_missing_root_is_an_error(course, tmp_path):
    (course / "solutions" / "deeper").mkdir()
    assert find_root(course / "solutions" / "deeper") == course
    (tmp_path / "nowhere").mkdir()
    with pytest.raises(CourseError, match="no course root found"):
        find_root(tmp_path / "nowhere")


def test_python_dash_m_cnnlab_is_the_command(course, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cnnlab", "validate", "--root", str(course)])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("cnnlab", run_name="__main__")
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("cnnlab validate: 1 lesson(s)")


# --- the student notebook runs: only graded cells fail, with NotImplementedError --------------

def run_cell_by_cell(nb, root):
    """Run every code cell in a fresh kernel from ``root``; (grade_id or index, CellResult)."""
    outcomes = []
    env = kernel.kernel_env(root)
    with kernel.Kernel(root, env, timeout=120) as k:
        for i, c in enumerate(nb.cells):
            if c.cell_type == "code" and c.source.strip():
                outcomes.append((nbk.grade_id(c) or f"cell {i + 1}", nbk.is_grade(c), k.run(c.source)))
    return outcomes


def assert_only_graded_cells_fail(outcomes):
    for name, is_graded, result in outcomes:
        if is_graded:
            assert (result.status, result.ename) == ("error", "NotImplementedError"), (name, result)
        else:
            assert result.ok, (name, result)
    assert any(is_graded for _, is_graded, _ in outcomes)


def test_fixture_student_notebook_runs_with_only_graded_cells_failing(course):
    outcomes = run_cell_by_cell(nbk.read(course / kit.STUDENT), course)
    assert_only_graded_cells_fail(outcomes)
    assert [name for name, graded, _ in outcomes if graded] == ["scale_images", "mean_image"]
    # check printed its friendly line before raising again
    assert "Not implemented yet" in outcomes[2][2].stdout


@pytest.mark.slow
@pytest.mark.skipif(not REPO_LESSONS, reason="the repository has no lessons in solutions/ yet")
@pytest.mark.parametrize("lesson", REPO_LESSONS, ids=lambda lesson: lesson.name)
def test_lesson_student_notebook_runs_with_only_graded_cells_failing(lesson, monkeypatch):
    monkeypatch.setenv("CNNLAB_FAST", "1")  # lessons train on a subset, as in CI
    assert_only_graded_cells_fail(run_cell_by_cell(build.build_lesson(lesson), REPO))


# --- --execute ----------------------------------------------------------------------------------

def test_execute_refreshes_source_outputs_in_place(course, capsys, monkeypatch):
    monkeypatch.setenv("CNNLAB_FAST", "1")  # --execute runs in full mode: the kernel must not see it
    nb = kit.load(course / kit.SOURCE)
    kit.cell(nb, "summary")  # cells and their metadata must survive execution
    probe = kit.code_cell("import os\nprint('fast' if os.environ.get('CNNLAB_FAST') else 'full', os.getcwd())")
    nb["cells"].insert(2, probe)
    kit.save(course / kit.SOURCE, nb)
    before_student = (course / kit.STUDENT).read_bytes()
    assert main(["build", "--root", str(course), "--execute"]) == 0
    assert capsys.readouterr().out == f"executing {kit.SOURCE} ...\nwrote {kit.STUDENT}\n"
    executed = kit.load(course / kit.SOURCE)
    outputs = {kit.gid(c) or i: c.get("outputs") for i, c in enumerate(executed["cells"])}
    text = lambda output: "".join(output["text"])  # noqa: E731 (stored as a list of lines)
    assert text(outputs["setup"][0]) == "(2, 3)\n"  # data/ resolved: the course root is the cwd
    assert text(outputs[2][0]) == f"full {course}\n"
    assert [c.get("id") for c in executed["cells"]] == [c.get("id") for c in nb["cells"]]
    assert [c["metadata"] for c in executed["cells"]] == [c["metadata"] for c in nb["cells"]]
    assert text(kit.cell(executed, "scale_images")["outputs"][-1]).endswith("all 5 cases passed, 1 point.\n")
    # the student notebook gains the probe cell only: outputs never reach it
    assert (course / kit.STUDENT).read_bytes() != before_student
    assert validate_clean(course, capsys)


def validate_clean(course, capsys):
    status = main(["validate", "--root", str(course)])
    capsys.readouterr()
    return status == 0


def test_execute_failure_exits_2_and_leaves_the_source(course, capsys):
    nb = kit.load(course / kit.SOURCE)
    nb["cells"].insert(2, kit.code_cell("raise RuntimeError('broken lesson')"))
    kit.save(course / kit.SOURCE, nb)
    before = (course / kit.SOURCE).read_bytes()
    assert main(["build", "--root", str(course), "--execute"]) == 2
    err = capsys.readouterr().err
    assert f"cnnlab build: {kit.SOURCE}: execution failed: CellExecutionError: RuntimeError: broken lesson" in err
    assert (course / kit.SOURCE).read_bytes() == before
