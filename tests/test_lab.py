"""``cnnlab lab`` (and ``make lab``): JupyterLab in the student's own folder, as root, headless.

The last test does what the student in issue 12 did, on a copy of this working tree: start
the lab as root with no display, save work in a lesson, stop the lab by its process id, then
run ``cnnlab build``, ``cnnlab validate`` and the notebook tests. Nothing may fail and the
work must still be there. It then repeats the student's old mistake (work saved in
``notebooks/``) and checks that build refuses and ``--force`` keeps a backup.
"""

import json
import os
import random
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import venvs
from worktree import copy_working_tree, wait_for_lab

from cnnlab.cli import main
from cnnlab.course import lab
from cnnlab.course.lessons import CourseError

LESSON = "00_start_here.ipynb"


# --- the pieces -----------------------------------------------------------------------------------

def test_the_command_adds_allow_root_for_root_only(tmp_path):
    as_root = lab.command(tmp_path, 9000, root_user=True, browser=True, open_file=None)
    as_user = lab.command(tmp_path, 9000, root_user=False, browser=True, open_file=None)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert as_user[:3] == [sys.executable, "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in as_user
    assert {"--ServerApp.port=9000", "--ServerApp.port_retries=0"} <= set(as_user)


def test_the_command_opens_no_browser_without_a_display_and_the_first_lesson_on_request(tmp_path):
    headless = lab.command(tmp_path, 9000, root_user=False, browser=False, open_file=LESSON)
    assert "--no-browser" in headless and headless[-1] == str(tmp_path / LESSON)
    assert lab.address(9000, "abc", LESSON) == f"http://localhost:9000/lab/tree/{LESSON}?token=abc"
    assert lab.address(9000, "abc", None) == "http://localhost:9000/lab?token=abc"


@pytest.mark.parametrize("env, platform, expected", [
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"DISPLAY": ""}, "linux", False),
    ({}, "darwin", True),
    ({}, "win32", True),
])
def test_a_display_is_found_where_a_browser_can_open(env, platform, expected):
    assert lab.has_display(env, platform) is expected


@pytest.mark.parametrize("cores, threads", [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_kernels_get_half_the_cores_in_blas_threads_at_most_four(cores, threads):
    assert lab.blas_threads(cores) == threads


def test_the_environment_sets_blas_threads_but_keeps_the_users_choice():
    env = lab.environment({"OPENBLAS_NUM_THREADS": "3", "HOME": "/h"}, cores=8)
    assert env == {"OPENBLAS_NUM_THREADS": "3", "OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4", "HOME": "/h"}


def test_the_working_folder_is_work_unless_chosen_and_never_the_courses_own(tmp_path):
    root = tmp_path / "course"
    assert lab.working_folder(root) == root / "work"
    assert lab.working_folder(root, tmp_path / "mine") == tmp_path / "mine"
    for theirs in (root, root / "notebooks", root / "solutions" / "x"):
        with pytest.raises(CourseError, match=r"--dir .*belongs to the course \(cnnlab build rewrites notebooks/\)"):
            lab.working_folder(root, theirs)


def test_lab_without_lessons_says_where_to_run_it(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    assert main(["lab", "--root", str(tmp_path)]) == 2
    expected = f"cnnlab lab: no lessons in {tmp_path / 'notebooks'}: run `cnnlab lab` in the course"
    assert expected in capsys.readouterr().err


def test_a_bad_port_is_refused_by_name(capsys):
    with pytest.raises(SystemExit):
        main(["lab", "--port", "70000"])
    assert "argument --port: must be a port number from 1 to 65535; got 70000" in capsys.readouterr().err


# --- what the student did -------------------------------------------------------------------------

def api(port, token, path, method="GET", body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def run(args, cwd, **kw):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, **kw)


STUDENT_CODE = "def scale_images(x):\n    return x.astype(np.float32) / np.float32(255)  # my answer"


def save_work_through_jupyterlab(port, token):
    """Put the student's code into lesson 00 and save it the way JupyterLab's Ctrl+S does."""
    model = api(port, token, f"contents/{LESSON}?content=1")
    nb = model["content"]
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "scale_images_solution")
    cell["source"] = STUDENT_CODE
    cell["outputs"], cell["execution_count"] = [], 3
    api(port, token, f"contents/{LESSON}", "PUT", {"type": "notebook", "format": "json", "content": nb})


def solution_of(path: Path) -> str:
    cell = next(c for c in json.loads(path.read_text())["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "scale_images_solution")
    return "".join(cell["source"])


@pytest.mark.slow
def test_the_students_work_survives_the_lab_build_validate_and_the_tests(tmp_path):
    course = copy_working_tree(tmp_path / "course")
    # `make lab` is `cnnlab lab` run from the course folder with the course's environment
    dry_run = run(["make", "--dry-run", "--no-print-directory", "-o", ".venv/.cnnlab-installed", "lab"], course)
    assert dry_run.stdout.splitlines() == [".venv/bin/cnnlab lab"], dry_run.stdout
    release = {p.name: p.read_bytes() for p in (course / "notebooks").glob("*.ipynb")}

    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "cnnlab", "lab", "--port", str(random.randint(20000, 40000))],
                                   cwd=course, env=venvs.clean_env(Path(sys.executable).parent, tmp_path / "jupyter"),
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        port, token = wait_for_lab(log, process)
        assert f"http://localhost:{port}/lab/tree/{LESSON}?token={token}" in log.read_text()  # first start: 00
        command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert b"--no-browser" in command_line  # this pid is JupyterLab itself (exec)
        assert (b"--allow-root" in command_line) == (os.geteuid() == 0)
        listing = {c["name"]: c["type"] for c in api(port, token, "contents")["content"]}
        assert listing == {**{name: "notebook" for name in release}, "data": "directory"}
        datasets = {c["name"] for c in api(port, token, "contents/data")["content"]}
        assert {"README.md", "digits8x8.npz", "mnist.npz"} <= datasets
        save_work_through_jupyterlab(port, token)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    saved = (course / "work" / LESSON).read_bytes()
    assert solution_of(course / "work" / LESSON) == STUDENT_CODE

    built = run([sys.executable, "-m", "cnnlab", "build"], course)
    assert built.returncode == 0, built.stderr
    assert all(line.startswith("unchanged ") for line in built.stdout.splitlines())
    validated = run([sys.executable, "-m", "cnnlab", "validate"], course)
    assert validated.returncode == 0, validated.stdout
    tested = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                  "tests/test_build.py::test_committed_notebooks_are_what_build_writes",
                  "tests/test_build.py::test_lesson_student_notebook_runs_with_only_graded_cells_failing[00_start_here]",
                  f"solutions/{LESSON}"], course)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert (course / "work" / LESSON).read_bytes() == saved
    assert {p.name: p.read_bytes() for p in (course / "notebooks").glob("*.ipynb")} == release

    # The student's old mistake: work saved in notebooks/ itself. Build refuses and names it.
    (course / "notebooks" / LESSON).write_bytes(saved)
    refused = run([sys.executable, "-m", "cnnlab", "build"], course)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"cnnlab build: notebooks/{LESSON}: changed by hand")
    assert (course / "notebooks" / LESSON).read_bytes() == saved
    forced = run([sys.executable, "-m", "cnnlab", "build", "--force"], course)
    assert forced.returncode == 0, forced.stderr
    backups = list((course / "notebooks" / ".backup").glob("00_start_here.*.ipynb"))
    assert [b.read_bytes() for b in backups] == [saved]
    assert (course / "notebooks" / LESSON).read_bytes() == release[LESSON]
