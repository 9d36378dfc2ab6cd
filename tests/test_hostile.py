"""The attacks of ``tests/hostile/`` against ``cnnlab grade``, graded in one class run beside
honest classmates (see ``tests/hostile/make_attacks.py`` for what each one tries).

With the sandbox (the default): every attack gets exactly its expected score, every classmate
the score it gets when graded alone, the results do not change after the grader exits, no
file outside the grader's scratch folders changes, and the run ends within its bound.

Without the sandbox (``--no-sandbox``), hostile code runs with the grader's permissions, so that
run happens only inside one outer bubblewrap over a throw-away copy of the course: the attacks
the README lists as stopped only by the sandbox (``sandbox_only`` in their metadata) must show
their effect there, and every other attack must still get its expected score.
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fixtures import coursekit as kit

from cnnlab.course import limits, sandbox

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.long
HOSTILE = ROOT / "tests" / "hostile"
GRADE = [sys.executable, "-m", "cnnlab", "grade", "--jobs", "2", "--timeout", "10", "--submission-timeout", "20"]
BOUND = 400  # seconds for the whole class run (about 100 s on two cores)
_SKIP = {".venv", ".git", "__pycache__", ".pytest_cache", "artifacts", ".ruff_cache", ".whl", ".gl", "work"}


def meta(path: Path) -> dict:
    return json.loads(path.read_text())["metadata"]["cnnlab_test"]


ATTACKS = sorted(p for p in HOSTILE.glob("*.ipynb") if "attack" in meta(p))
CLASSMATES = sorted(p for p in HOSTILE.glob("*.ipynb") if "classmate" in meta(p))


def snapshot(folder: Path) -> dict:
    """path -> sha256 of every file under ``folder`` but tooling caches and the virtual environment."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _SKIP]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def results(out: Path) -> dict:
    """submission name -> its JSON result (as the grader wrote it, before any attack appended to it)."""
    return {p.stem: json.loads(p.read_text().split("\nrewritten by detached_rewriter")[0])
            for p in out.glob("*.json") if p.stem not in ("report", "run")}


def scores(result: dict) -> dict:
    return {gid: e["score"] for gid, e in result["exercises"].items()}


def _grade(args, env=None, timeout=BOUND) -> float:
    started = time.monotonic()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.monotonic() - started


# --- with the sandbox ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sandboxed(tmp_path_factory):
    kit.require_sandbox()
    base = tmp_path_factory.mktemp("hostile")
    subs = base / "submissions"
    subs.mkdir()
    for path in ATTACKS + CLASSMATES:
        shutil.copy(path, subs / path.name)
    before = {"course": snapshot(ROOT), "submissions": snapshot(subs)}
    seconds = _grade([*GRADE, "--out", str(base / "out"), *map(str, sorted(subs.glob("*.ipynb")))])
    exited = time.monotonic()
    right_after = {p.name: p.read_bytes() for p in (base / "out").iterdir()}
    # the classmates again, without the attackers
    _grade([*GRADE, "--out", str(base / "alone"), *(str(subs / p.name) for p in CLASSMATES)])
    alone = results(base / "alone")
    time.sleep(max(0.0, exited + 10 - time.monotonic()))  # detached_rewriter waits 4 s after the grader exits
    return {"out": base / "out", "seconds": seconds, "right_after": right_after, "alone": alone, "before": before,
            "subs": subs, "after": {"course": snapshot(ROOT), "submissions": snapshot(subs)}}


@pytest.mark.parametrize("path", ATTACKS, ids=lambda p: p.stem)
def test_every_attack_gets_exactly_its_expected_score(sandboxed, path):
    result = results(sandboxed["out"])[path.stem]
    assert result["sandbox"] == "bwrap"
    assert scores(result) == meta(path)["expected"], (meta(path)["attack"], result["exercises"])


def test_there_are_at_least_twenty_attacks():
    assert len(ATTACKS) >= 20 and len(CLASSMATES) >= 3


@pytest.mark.parametrize("path", CLASSMATES, ids=lambda p: p.stem)
def test_every_classmate_scores_as_when_graded_alone(sandboxed, path):
    beside = results(sandboxed["out"])[path.stem]
    alone = sandboxed["alone"][path.stem]
    assert (scores(beside), beside["status"]) == (scores(alone), alone["status"])
    assert beside["total"] == {"classmate_right": 2, "classmate_partial": 1, "classmate_untouched": 0,
                               "classmate_conv": 3}[path.stem]


def test_results_do_not_change_after_the_grader_exits(sandboxed):
    time.sleep(1)
    now = {p.name: p.read_bytes() for p in sandboxed["out"].iterdir()}
    assert now == sandboxed["right_after"]
    rows = list(csv.DictReader((sandboxed["out"] / "grades.csv").open()))
    assert len(rows) == len(ATTACKS) + len(CLASSMATES)


def test_no_file_outside_the_scratch_folders_changed(sandboxed):
    assert sandboxed["after"] == sandboxed["before"]
    assert not (ROOT / "fork_count.txt").exists() and not (ROOT / "hacked.txt").exists()


def test_the_class_run_ends_within_its_bound(sandboxed):
    assert sandboxed["seconds"] < BOUND
    endless = results(sandboxed["out"])["endless_cells"]
    assert endless["status"] == "error" and endless["seconds"] < 20 + 30  # its 20 s budget, and a margin


def test_the_report_names_the_flagged_and_the_troubled(sandboxed):
    report = json.loads((sandboxed["out"] / "report.json").read_text())
    flagged = {Path(f["file"]).stem for f in report["flagged"]}
    assert {"library_implementation", "check_reference", "aliased_import", "patched_grading_code"} <= flagged
    troubled = {Path(t["file"]).stem for t in report["trouble"]}
    assert {"endless_cells", "keeps_exiting"} <= troubled


# --- without the sandbox, inside an outer one --------------------------------------------------

def _outer(work: Path, command: list[str], cgroup) -> list[str]:
    """``command`` in an outer sandbox: everything read-only but the throw-away ``work`` folder,
    no network, its own processes, no capabilities."""
    # A fresh /tmp, with the course and its Python bound back on top where they live under the
    # host's /tmp (a CI clone): the grader must still run from them.
    kept = [path for path in {ROOT, *sandbox.python_paths()} if Path("/tmp") in path.parents]
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            *(arg for path in sorted(kept) for arg in ("--ro-bind", str(path), str(path))),
            "--bind", str(work), str(work), "--unshare-all", "--die-with-parent", "--cap-drop", "ALL",
            "--chdir", str(work), "--setenv", "HOME", str(work), "--unsetenv", "CNNLAB_REQUIRE_SANDBOX",
            "--setenv", "MPLCONFIGDIR", str(work / "mpl"), "--", *command]
    return cgroup.wrap(args) if cgroup else args


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    kit.require_sandbox()
    cgroup = limits.create(1500, 12 * 1024) if os.geteuid() == 0 else None
    if os.geteuid() == 0 and cgroup is None:
        pytest.skip("as root without control groups nothing would bound a fork bomb outside the sandbox")
    work = tmp_path_factory.mktemp("outer")
    course = work / "course"
    course.mkdir()
    for name in ("solutions", "notebooks", "data"):
        shutil.copytree(ROOT / name, course / name)
    shutil.copy(ROOT / "pyproject.toml", course / "pyproject.toml")
    subs = work / "submissions"
    subs.mkdir()
    for path in ATTACKS + CLASSMATES:
        shutil.copy(path, subs / path.name)
    alone = [p for p in ATTACKS if not meta(p)["sandbox_only"]] + CLASSMATES
    grade = [*GRADE, "--no-sandbox", "--root", str(course)]
    lines = ["set -u", " ".join([*grade, "--out", str(work / "batch"), *(str(subs / p.name) for p in alone)])]
    # Attacks whose effects show on their own files and scores share a run; those that harm
    # whoever is graded beside them get a run each, with one honest classmate.
    runs = {"together": ["course_files", "detached_rewriter", "read_solutions", "steal_classmate"],
            "kill": ["kill_neighbours"], "fork": ["fork_bomb"]}
    assert sorted(sum(runs.values(), [])) == sorted(p.stem for p in ATTACKS if meta(p)["sandbox_only"])
    for run, names in runs.items():
        out = work / f"run-{run}"
        lines += [" ".join([*grade, "--out", str(out), *(str(subs / f"{n}.ipynb") for n in names),
                            str(subs / "classmate_right.ipynb")]), f"cp {out}/grades.csv {work}/at-exit-{run}.csv"]
    lines.append("sleep 4")  # detached_rewriter strikes 2 s after its grader has exited
    (work / "driver.sh").write_text("\n".join(lines) + "\n")
    try:
        env = {k: v for k, v in os.environ.items() if k != "CNNLAB_REQUIRE_SANDBOX"}
        done = subprocess.run(_outer(work, ["/bin/sh", str(work / "driver.sh")], cgroup), env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=900)
    finally:
        if cgroup:
            cgroup.remove()
    assert done.returncode == 0, done.stderr[-3000:]
    return work


@pytest.mark.parametrize("path", [p for p in ATTACKS if not meta(p)["sandbox_only"]], ids=lambda p: p.stem)
def test_without_the_sandbox_the_grader_still_stops_the_other_attacks(unsandboxed, path):
    result = results(unsandboxed / "batch")[path.stem]
    assert result["sandbox"] == "none"
    assert scores(result) == meta(path)["expected"], (meta(path)["attack"], result["exercises"])


def _run(unsandboxed, name):
    return results(unsandboxed / f"run-{name}")


def test_without_the_sandbox_the_sandbox_only_attacks_succeed(unsandboxed):
    """What the README says only the sandbox stops, shown happening without it."""
    course = unsandboxed / "course"
    effects = {
        "course_files": (course / "hacked.txt").exists() and (course / "sitecustomize.py").exists(),
        "detached_rewriter": "rewritten by detached_rewriter" in (unsandboxed / "run-together" / "grades.csv").read_text()
        and "rewritten" not in (unsandboxed / "at-exit-together.csv").read_text(),
        "read_solutions": _run(unsandboxed, "together")["read_solutions"]["total"] == 2,
        "steal_classmate": _run(unsandboxed, "together")["steal_classmate"]["total"] == 2,
        "kill_neighbours": _run(unsandboxed, "kill")["classmate_right"]["total"] < 2,
        "fork_bomb": int((course / "fork_count.txt").read_text()) > 256,  # more than a sandboxed kernel may have
    }
    sandbox_only = {p.stem for p in ATTACKS if meta(p)["sandbox_only"]}
    assert set(effects) == sandbox_only
    assert all(effects.values()), effects


def test_the_readme_lists_what_only_the_sandbox_stops():
    readme = (ROOT / "README.md").read_text()
    for path in ATTACKS:
        if meta(path)["sandbox_only"]:
            assert f"`{path.stem}`" in readme, path.stem


def test_the_attack_notebooks_are_up_to_date():
    sys.path.insert(0, str(HOSTILE))
    try:
        import make_attacks
    finally:
        sys.path.remove(str(HOSTILE))
    built = make_attacks.build()
    assert sorted(built) == sorted(p.name for p in HOSTILE.glob("*.ipynb"))
    for name, text in built.items():
        assert (HOSTILE / name).read_text() == text, f"run python tests/hostile/make_attacks.py ({name})"
