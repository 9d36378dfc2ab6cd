"""Drive a real JupyterLab in headless Chromium (Debian's), through Python Playwright.

Used by ``tests/test_browser.py``. Two pieces:

* :class:`LabServer` starts JupyterLab the way ``cnnlab lab`` does (its command line and
  environment, from :mod:`cnnlab.course.lab`) over a working folder, on a free loopback port
  with a token, with settings that keep the run quiet and deterministic (no news pop-up,
  every cell kept in the page);
* :func:`run_all` opens a notebook, runs Run > Run All Cells, waits for the kernel to stay
  idle, and returns a :class:`LabReport` of what a person would see: error outputs, rendered
  markdown and equations, decoded images, widgets, and what moving a slider changed.

The assertions live in :func:`LabReport.problems`, so a deliberately broken notebook can be
shown to produce problems with exactly the same code.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cnnlab.course import lab

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager"

# User settings, one file per plugin: no news or update checks (their pop-up covers cells),
# no notebook windowing, so every cell is in the DOM and can be inspected, and no kernel
# selection dialog (the notebook's own kernel starts by itself).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none", "autoStartDefaultKernel": True,
    },
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``with LabServer(root) as lab:`` runs JupyterLab over ``root`` until the block ends.

    ``disabled_extensions`` lists front-end extensions to switch off (a test uses it to
    remove the widget manager and show that the browser test notices).
    """

    def __init__(self, root: Path, disabled_extensions=(), startup_timeout: float = 90):
        self.root = Path(root)
        self.token = os.urandom(16).hex()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.disabled_extensions = list(disabled_extensions)
        self.startup_timeout = startup_timeout
        self._home = Path(tempfile.mkdtemp(prefix="cnnlab-lab-"))
        self._process = None
        self.log_path = self._home / "lab.log"

    def _write_settings(self) -> dict:
        settings = self._home / "settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        config = self._home / "config"
        (config / "labconfig").mkdir(parents=True)
        disabled = {name: True for name in self.disabled_extensions}
        (config / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
        return {
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(self._home / "workspaces"),
            "JUPYTER_CONFIG_DIR": str(config),
            "JUPYTER_RUNTIME_DIR": str(self._home / "runtime"),
        }

    def __enter__(self):
        env = lab.environment(dict(os.environ, **self._write_settings(), JUPYTER_TOKEN=self.token))
        env.pop("CNNLAB_FAST", None)  # the stored outputs come from full runs
        command = lab.command(self.root, self.port, root_user=hasattr(os, "geteuid") and os.geteuid() == 0,
                              browser=False, open_file=None)
        command += ["--ServerApp.ip=127.0.0.1", "--LabApp.news_url=None"]
        self._log = open(self.log_path, "w")
        self._process = subprocess.Popen(command, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_until_up()
        return self

    def _wait_until_up(self):
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start-up:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {self.startup_timeout} s")

    def api(self, path: str):
        request = urllib.request.Request(f"{self.url}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def shutdown_kernels(self):
        """Stop every kernel, so the next notebook runs alone (two cores are not many)."""
        try:
            for session in self.api("sessions"):
                request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}", method="DELETE",
                                                 headers={"Authorization": f"token {self.token}"})
                urllib.request.urlopen(request, timeout=30).close()
        except OSError:
            pass  # best effort: a kernel left running costs time, not correctness

    def kernels_idle(self) -> bool:
        try:
            kernels = self.api("kernels")
        except OSError:  # a server slowed down by a loaded machine: ask again later
            return False
        return bool(kernels) and all(k["execution_state"] == "idle" for k in kernels)

    def __exit__(self, *exc):
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        shutil.rmtree(self._home, ignore_errors=True)


@dataclass
class LabReport:
    """What the browser showed after Run All on one notebook."""

    notebook: str
    code_cells: int = 0
    executed: list = field(default_factory=list)   # per code cell: ran (has an execution count)
    errors: dict = field(default_factory=dict)     # code-cell index -> error text
    graded: set = field(default_factory=set)       # code-cell indices of nbgrader grade cells
    markdown_cells: int = 0
    rendered_markdown: int = 0
    equations_expected: bool = False
    equations: int = 0
    images_decoded: int = 0
    images_broken: int = 0
    widgets: int = 0
    slider_moved: bool = False
    text_changed: bool = False
    figure_changed: bool = False
    page_errors: list = field(default_factory=list)
    screenshot: str | None = None

    def problems(self, widget_expected: bool) -> list[str]:
        """Every way the run fell short; empty when the notebook worked as a student would see it."""
        found = []
        for i, ran in enumerate(self.executed):
            if not ran and i not in self.graded:
                found.append(f"code cell {i} did not run")
        for i, text in sorted(self.errors.items()):
            if i not in self.graded:
                found.append(f"code cell {i} shows an error or stderr output: {text[:300]}")
        if self.markdown_cells and self.rendered_markdown < self.markdown_cells:
            found.append(f"only {self.rendered_markdown} of {self.markdown_cells} markdown cells rendered")
        if self.equations_expected and not self.equations:
            found.append("the notebook has LaTeX but no equation was typeset")
        if not self.images_decoded:
            found.append("no plot image was decoded")
        if self.images_broken:
            found.append(f"{self.images_broken} image(s) failed to decode")
        if widget_expected:
            if not self.widgets:
                found.append("no widget rendered (is the ipywidgets front end missing?)")
            elif not self.slider_moved:
                found.append("no slider could be moved")
            else:
                if not self.text_changed:
                    found.append("moving the slider did not change the output text")
                if not self.figure_changed:
                    found.append("moving the slider did not change the figure")
        found += [f"uncaught page error: {e}" for e in self.page_errors]
        return found


# JavaScript run in the page: a snapshot of every cell, in notebook order. JupyterLab renders
# tracebacks and stderr text with the same mime type; a lesson should show neither.
_CELLS_JS = """
() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')).map(cell => ({
  code: cell.classList.contains('jp-CodeCell'),
  markdown: cell.classList.contains('jp-MarkdownCell'),
  prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
  errors: Array.from(cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')).map(e => e.innerText),
  rendered: !!cell.querySelector('.jp-RenderedMarkdown') && !cell.classList.contains('jp-mod-editMode'),
  equations: cell.querySelectorAll('mjx-container, .MathJax').length,
  imagesOk: Array.from(cell.querySelectorAll('.jp-OutputArea img')).filter(i => i.complete && i.naturalWidth > 0).length,
  imagesBroken: Array.from(cell.querySelectorAll('.jp-OutputArea img')).filter(i => i.complete && i.naturalWidth === 0).length,
  widgets: cell.querySelectorAll('.jp-OutputArea .jupyter-widgets.widget-slider, .jp-OutputArea .widget-slider').length,
}))
"""

# The output a widget cell shows besides its controls: text and figure.
_WIDGET_OUTPUT_JS = """
(cell) => {
  const outputs = Array.from(cell.querySelectorAll('.widget-output .jp-OutputArea-output, .jp-OutputArea-output'))
    .filter(o => !o.closest('.widget-slider, .widget-inline-hbox, .widget-readout'));
  const text = outputs.map(o => Array.from(o.querySelectorAll('.jp-RenderedText, .jp-RenderedHTMLCommon, .widget-html-content, .widget-label'))
      .map(t => t.innerText).join('\\n')).join('\\n');
  const images = Array.from(cell.querySelectorAll('.jp-OutputArea img')).map(i => i.src.length + ':' + i.src.slice(-200)).join('|');
  return {text, images};
}
"""


def _graded_code_cells(path: Path) -> set:
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    return {i for i, c in enumerate(code) if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def _has_latex(path: Path) -> bool:
    cells = json.loads(path.read_text())["cells"]
    return any("$" in "".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _wait_steadily_idle(lab: LabServer, page, timeout: float, steady: float = 3.0):
    """Wait until the kernel is idle and no cell is queued ([*]) for ``steady`` seconds."""
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        busy_prompts = page.evaluate(
            "() => Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => p.textContent.includes('*'))")
        if lab.kernels_idle() and not busy_prompts:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= steady:
                return
        else:
            idle_since = None
        time.sleep(0.5)
    raise TimeoutError(f"the kernel was still busy after {timeout} s")


_STARTED_JS = "() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')).some(p => /[0-9*]/.test(p.textContent))"


def _run_all_cells(page, attempts: int = 3):
    """Run > Run All Cells, from the menu as a student would; retried if no cell starts
    (a click that lands while the kernel is still connecting is dropped)."""
    for _ in range(attempts):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(_STARTED_JS, timeout=15_000)
            return
        except Exception:  # Playwright's TimeoutError: try the menu again
            page.keyboard.press("Escape")
    raise TimeoutError("Run > Run All Cells started no cell")


def _move_a_slider(page, report: LabReport):
    """Press the right-arrow key on a slider; record whether its cell's text and figure changed."""
    handle = page.locator(".jp-OutputArea .widget-slider .noUi-handle").first
    cell = handle.locator("xpath=ancestor::div[contains(@class, 'jp-Cell')][1]")
    before = cell.evaluate(_WIDGET_OUTPUT_JS)
    handle.focus()
    handle.press("ArrowRight")
    report.slider_moved = True
    deadline = time.monotonic() + 30
    after = before
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        after = cell.evaluate(_WIDGET_OUTPUT_JS)
        if after["text"] != before["text"] and after["images"] != before["images"]:
            break
    report.text_changed = after["text"] != before["text"]
    report.figure_changed = after["images"] != before["images"]


def run_all(lab: LabServer, browser, notebook: str, screenshot: Path | None = None,
            timeout: float = 180, move_slider: bool = True) -> LabReport:
    """Open ``notebook`` (relative to the server root), Run All, and report what rendered."""
    path = lab.root / notebook
    report = LabReport(notebook=notebook, graded=_graded_code_cells(path), equations_expected=_has_latex(path))
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda err: report.page_errors.append(str(err)))
    try:
        # ?reset: a fresh workspace, so notebooks opened by earlier runs are not restored.
        page.goto(f"{lab.url}/lab/tree/{notebook}?reset&token={lab.token}")
        page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
        _wait_steadily_idle(lab, page, 90, steady=1.0)  # the kernel has started
        _run_all_cells(page)
        _wait_steadily_idle(lab, page, timeout)
        cells = page.evaluate(_CELLS_JS)
        code = [c for c in cells if c["code"]]
        report.code_cells = len(code)
        report.executed = [any(ch.isdigit() for ch in c["prompt"]) for c in code]
        report.errors = {i: "\n".join(c["errors"]) for i, c in enumerate(code) if c["errors"]}
        markdown = [c for c in cells if c["markdown"]]
        report.markdown_cells = len(markdown)
        report.rendered_markdown = sum(c["rendered"] for c in markdown)
        report.equations = sum(c["equations"] for c in markdown)
        report.images_decoded = sum(c["imagesOk"] for c in code)
        report.images_broken = sum(c["imagesBroken"] for c in code)
        report.widgets = sum(c["widgets"] for c in code)
        if move_slider and report.widgets:
            _move_a_slider(page, report)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=False)
            report.screenshot = str(screenshot)
    finally:
        context.close()
        lab.shutdown_kernels()
    return report


_NAMES_JS = "() => Array.from(document.querySelectorAll('.jp-DirListing-itemText')).map(e => e.innerText.trim())"


def file_browser(lab: LabServer, browser, open_folder: str) -> tuple[list, list]:
    """What JupyterLab's file browser lists at the top of the lab, and in ``open_folder``
    after a double-click on it, as a student would."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{lab.url}/lab?reset&token={lab.token}")
        page.wait_for_selector(".jp-DirListing-itemText", timeout=60_000)
        top = page.evaluate(_NAMES_JS)
        page.locator(".jp-DirListing-itemText", has_text=open_folder).first.dblclick()
        page.wait_for_function(f"() => !({_NAMES_JS})().includes({json.dumps(open_folder)})", timeout=30_000)
        page.wait_for_selector(".jp-DirListing-itemText", timeout=30_000)
        return top, page.evaluate(_NAMES_JS)
    finally:
        context.close()
