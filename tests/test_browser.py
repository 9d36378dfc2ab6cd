"""The course as students meet it: real JupyterLab, real Chromium, Run All, a slider moved.

Skips with a reason where Debian's Chromium or Playwright is missing; `.ci/run` installs
Chromium and sets CNNLAB_REQUIRE_BROWSER=1, which turns that skip into a failure.
Screenshots land in ``artifacts/`` (an artefact for people, not an assertion).
"""

import json
import os
from pathlib import Path

import pytest

from browser_lab import CHROMIUM, CHROMIUM_ARGS, WIDGET_MANAGER, LabServer, file_browser, run_all

from cnnlab.course import workdir
from cnnlab.data import data_dir

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"

pytestmark = pytest.mark.browser

# Lesson 00 shows a small widget in its JupyterLab tour; lesson 04 has the convolution explorer.
LESSONS = {"00_start_here.ipynb": True, "04_convolution.ipynb": True}


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python Playwright is not installed (pip install 'cnnlab[test]')"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_missing()
    if reason:
        if os.environ.get("CNNLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CNNLAB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _without_outputs(source: Path, target: Path):
    """Copy a notebook with its outputs, execution counts and saved widget state removed, so
    whatever the browser shows afterwards was produced by running it there."""
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"].pop("widgets", None)
    target.write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def lesson_copy(tmp_path_factory):
    """A student's working folder as `cnnlab lab` makes it (every lesson, a data link) in
    which the lessons run here are finished: copies of solutions/ (Run All of an unfinished
    student notebook stops at its first graded cell)."""
    root = tmp_path_factory.mktemp("lab") / "work"
    workdir.update(root, ROOT / "notebooks", data_dir())
    for name in LESSONS:
        _without_outputs(ROOT / "solutions" / name, root / name)
    return root


@pytest.fixture(scope="module")
def lab(lesson_copy):
    with LabServer(lesson_copy) as server:
        yield server


@pytest.mark.parametrize("notebook", sorted(LESSONS))
def test_lesson_runs_in_jupyterlab(lab, browser, notebook):
    report = run_all(lab, browser, notebook, screenshot=ARTIFACTS / f"browser-{Path(notebook).stem}.png")
    assert report.code_cells > 0
    assert report.problems(widget_expected=LESSONS[notebook]) == []


def test_the_lab_shows_the_working_folder_and_the_data(lab, browser):
    top, data = file_browser(lab, browser, open_folder="data")
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert {*lessons, "data"} <= set(top)
    assert {"README.md", "digits8x8.npz", "mnist5k.npz", "mnist.npz"} <= set(data)


def _break_a_cell(source: Path, target: Path):
    """Copy a lesson with one demo cell made to raise."""
    nb = json.loads(source.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and not c["metadata"].get("nbgrader", {}).get("grade")]
    code[1]["source"] = "raise RuntimeError('deliberately broken cell')\n"
    target.write_text(json.dumps(nb))


def test_a_cell_error_is_reported(lab, browser):
    _break_a_cell(lab.root / "04_convolution.ipynb", lab.root / "broken_cell.ipynb")
    problems = run_all(lab, browser, "broken_cell.ipynb", move_slider=False).problems(widget_expected=True)
    assert any("deliberately broken cell" in p for p in problems), problems


def test_a_missing_widget_front_end_is_reported(lesson_copy, browser):
    with LabServer(lesson_copy, disabled_extensions=[WIDGET_MANAGER]) as no_widgets:
        problems = run_all(no_widgets, browser, "04_convolution.ipynb").problems(widget_expected=True)
    assert any("no widget rendered" in p for p in problems), problems
