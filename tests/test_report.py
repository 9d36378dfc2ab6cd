"""The class report of ``cnnlab grade``: the numbers, and the page as a teacher opens it.

A class of ten real-looking lesson-06 submissions (right, wrong and partly done, each the whole
student notebook) is graded for real; the report must rank the mistakes the grader recognised
by how many students made them, and render in Chromium with its charts decoded. The screenshot
is kept in ``artifacts/report.png``.
"""

import json
import os
from pathlib import Path

import pytest
from browser_lab import CHROMIUM, CHROMIUM_ARGS
from fixtures import coursekit as kit

from cnnlab.cli import main
from cnnlab.course import report
from cnnlab.course.grade import ExerciseResult, Submission

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.long
ARTIFACTS = ROOT / "artifacts"


def _solution(name: str) -> str:
    nb = json.loads((ROOT / "solutions" / "06_pooling.ipynb").read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == name)
    lines = "".join(cell["source"]).split("\n")
    return "\n".join(line for line in lines if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


FORWARD, BACKWARD, AVG = (_solution(f"{n}_solution") for n in ("maxpool_forward_naive", "maxpool_backward_naive",
                                                                   "avgpool_backward"))
EVERY = BACKWARD.replace(  # the whole window gets the gradient
    "dx[n, c, stride * i + r, stride * j + q] += dout[n, c, i, j]",
    "dx[n, c, stride * i:stride * i + size, stride * j:stride * j + size] += dout[n, c, i, j]")
OVERWRITE = BACKWARD.replace("] += dout[n, c, i, j]", "] = dout[n, c, i, j]")
UNSTRIDED = FORWARD.replace("x[:, :, stride * i:stride * i + size, stride * j:stride * j + size]",
                            "x[:, :, i:i + size, j:j + size]")
NOT_DIVIDED = AVG.replace("share = dout[:, :, i, j] / (size * size)", "share = dout[:, :, i, j]")
CLASS = {  # student -> {exercise: source}; missing exercises stay as released (unfinished)
    "ana": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": BACKWARD, "avgpool_backward": AVG},
    "bo": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": BACKWARD, "avgpool_backward": AVG},
    "cai": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": EVERY, "avgpool_backward": AVG},
    "dev": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": EVERY, "avgpool_backward": NOT_DIVIDED},
    "eda": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": OVERWRITE, "avgpool_backward": AVG},
    "fin": {"maxpool_forward_naive": UNSTRIDED, "maxpool_backward_naive": BACKWARD, "avgpool_backward": AVG},
    "gus": {},
    "hal": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": BACKWARD, "avgpool_backward": NOT_DIVIDED},
    "ivy": {"maxpool_forward_naive": FORWARD, "maxpool_backward_naive": EVERY},
    "jo": {"maxpool_forward_naive": FORWARD},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    kit.require_sandbox()
    base = tmp_path_factory.mktemp("report")
    student = json.loads((ROOT / "notebooks" / "06_pooling.ipynb").read_text())
    for name, answers in CLASS.items():
        nb = json.loads(json.dumps(student))
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
            if gid.endswith("_solution") and gid[: -len("_solution")] in answers:
                cell["source"] = answers[gid[: -len("_solution")]]
        (base / f"{name}.ipynb").write_text(json.dumps(nb))
    out = base / "out"
    assert main(["grade", "--root", str(ROOT), "--out", str(out), "--jobs", "2", "--timeout", "60",
                 *(str(base / f"{name}.ipynb") for name in CLASS)]) == 0
    return out


def test_the_report_counts_scores_pass_rates_and_mistakes(graded):
    data = json.loads((graded / "report.json").read_text())
    lesson = data["lessons"]["06_pooling"]
    assert lesson["submissions"] == 10 and lesson["max"] == 7
    totals = {name: json.loads((graded / f"{name}.json").read_text())["total"] for name in CLASS}
    assert totals == {"ana": 7, "bo": 7, "cai": 4, "dev": 2, "eda": 4, "fin": 5, "gus": 0, "hal": 5, "ivy": 2, "jo": 2}
    assert sorted(lesson["distribution"]) == [[0, 1], [2, 3], [4, 2], [5, 2], [7, 2]]
    by_id = {ex["id"]: ex for ex in lesson["exercises"]}
    assert [(i, by_id[i]["passed"], by_id[i]["pass_rate"]) for i in by_id] == [
        ("maxpool_forward_naive", 8, 0.8), ("maxpool_backward_naive", 4, 0.4), ("avgpool_backward", 5, 0.5)]
    top = by_id["maxpool_backward_naive"]["mistakes"][0]
    assert top["hint"].startswith("gradient to every position of the window") and (top["students"], top["share"]) == (
        3, 0.3)
    assert any(m["hint"].startswith("overlapping windows (stride < size) overwritten") and m["students"] == 1
               for m in by_id["maxpool_backward_naive"]["mistakes"])
    assert by_id["avgpool_backward"]["mistakes"][0]["students"] == 2
    assert by_id["maxpool_forward_naive"]["mistakes"][0]["hint"].startswith("stride ignored")
    assert data["flagged"] == [] and data["not_graded"] == []


def test_the_report_page_renders_in_chromium(graded):
    if not CHROMIUM.exists():
        if os.environ.get("CNNLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CNNLAB_REQUIRE_BROWSER=1 but Chromium is not installed at {CHROMIUM}")
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto((graded / "report.html").as_uri())
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
        text = page.inner_text("body")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(images) == 4 and all(complete and width > 300 for complete, width, _ in images)  # 1 + 3 charts
    assert "06_pooling: total scores of 10 submission(s)" in [alt for _, _, alt in images]
    assert "Class report" in text and "gradient to every position of the window" in text
    assert "3 (30%)" in text and "4 of 10 (40%)" in text


def test_summary_of_a_made_up_class():
    def sub(name, status, *scores, hints=(), flags=(), events=(), lesson="00_x"):
        exercises = [ExerciseResult(gid, 1.0, score, "passed" if score else "failed", hints=list(hints) if not score
                                    else [], flags=list(flags)) for gid, score in zip(("a", "b"), scores)]
        return Submission(name, lesson, status, exercises=exercises, events=list(events), sandbox="bwrap")

    subs = [sub("p.ipynb", "ok", 1, 1), sub("q.ipynb", "ok", 1, 0, hints=["off by one"]),
            sub("r.ipynb", "ok", 0, 0, hints=["off by one", "sign"], flags=["cl.F.x in cell 3"]),
            sub("s.ipynb", "error", 0, 0, events=["cell 4 ran past the time limit: kernel restarted"]),
            Submission("t.ipynb", "", "error", "not a notebook: the file is empty")]
    data = report.summary(subs, [("00_x", "a"), ("00_x", "b")])
    lesson = data["lessons"]["00_x"]
    assert (lesson["submissions"], lesson["mean"], lesson["median"]) == (4, 0.75, 0.5)
    b = lesson["exercises"][1]
    assert (b["passed"], b["pass_rate"]) == (1, 0.25)
    assert b["mistakes"] == [{"hint": "off by one", "students": 2, "share": 0.5},
                             {"hint": "sign", "students": 1, "share": 0.25}]
    assert [f["file"] for f in data["flagged"]] == ["r.ipynb", "r.ipynb"]
    assert data["trouble"] == [{"file": "s.ipynb", "what": "cell 4 ran past the time limit: kernel restarted"}]
    assert data["not_graded"] == [{"file": "t.ipynb", "reason": "not a notebook: the file is empty"}]
    page = report.html(data)
    assert page.startswith("<!DOCTYPE html>") and page.count("<img ") == 3
    assert "off by one" in page and "&lt;" not in report.html(report.summary([], []))
