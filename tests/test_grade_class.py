"""CI grades small classes of real submissions with the real checks (DESIGN.md): lesson 00, the
first one students meet, and lesson 12, whose full training run would outlast any cell timeout
(so grading runs lessons in fast mode, as CI does)."""

import csv
import json
import shutil
from pathlib import Path

import pytest
from fixtures import coursekit as kit

from cnnlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCALE = "def scale_images(x):\n    return (x / 255).astype(np.float32)\n"
MEAN = "def mean_image(X):\n    return X.sum(axis=0) / len(X)\n"


def _student(lesson: str) -> dict:
    return json.loads(next((ROOT / "notebooks").glob(f"{lesson}_*.ipynb")).read_text())


def _answer(nb: dict, **sources: str) -> dict:
    """A copy of nb with the solution cells named by grade id (``<id>_solution``) replaced."""
    nb = json.loads(json.dumps(nb))
    for grade_id, source in sources.items():
        cells = [c for c in nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == f"{grade_id}_solution"]
        if len(cells) != 1:
            raise KeyError(grade_id)
        cells[0]["source"] = source
    return nb


def _grade(base: Path, subs: dict, *options: str) -> Path:
    """Write the submissions to base, grade them, check none was modified; return the results folder."""
    kit.require_sandbox()
    for name, nb in subs.items():
        (base / f"{name}.ipynb").write_text(json.dumps(nb))
    before = {name: (base / f"{name}.ipynb").read_bytes() for name in subs}
    out = base / "grades"
    code = main(["grade", "--root", str(ROOT), "--out", str(out), "--jobs", "2", *options,
                 *(str(base / f"{name}.ipynb") for name in subs)])
    assert code == 0
    assert {name: (base / f"{name}.ipynb").read_bytes() for name in subs} == before
    return out


def _rows(out: Path) -> dict:
    return {Path(r["file"]).stem: r for r in csv.DictReader((out / "grades.csv").open())}


# --- lesson 00 ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def class00(tmp_path_factory):
    student = _student("00")
    subs = {
        "ada": _answer(student, scale_images=SCALE, mean_image=MEAN),
        # The classic slip: the sum instead of the mean. The check must refuse it.
        "ben": _answer(student, scale_images=SCALE, mean_image="def mean_image(X):\n    return X.sum(axis=0)\n"),
        "cy": student,
    }
    return _grade(tmp_path_factory.mktemp("class00"), subs, "--timeout", "60")


def test_a_class_of_lesson_00_gets_the_right_totals(class00):
    rows = _rows(class00)
    assert {name: float(rows[name]["total"]) for name in ("ada", "ben", "cy")} == {"ada": 2.0, "ben": 1.0, "cy": 0.0}
    assert all(float(r["max"]) == 2.0 for r in rows.values())


def test_feedback_names_the_failure(class00):
    ben = json.loads((class00 / "ben.json").read_text())
    assert ben["exercises"]["mean_image"]["score"] == 0
    assert "AssertionError" in ben["exercises"]["mean_image"]["feedback"]
    # the grader's own re-check recognised the mistake and named it
    assert ben["exercises"]["mean_image"]["recheck"] == "failed"
    assert ben["exercises"]["mean_image"]["hints"][0].startswith("that is the sum over the images")
    cy = json.loads((class00 / "cy.json").read_text())
    assert "NotImplementedError" in cy["exercises"]["scale_images"]["feedback"]


# --- lesson 12 ----------------------------------------------------------------------------------

NORMALIZE = ("def normalize(X_train, *others):\n"
             "    mean = X_train.mean(axis=(0, 2, 3), keepdims=True)\n"
             "    return tuple(X - mean for X in (X_train, *others))\n")
# Returns the last epoch instead of the best one: the check must refuse it.
LAST_EPOCH = "def early_stopping(val_losses, patience):\n    return len(val_losses) - 1\n"


@pytest.fixture(scope="module")
def class12(tmp_path_factory):
    solution = json.loads((ROOT / "solutions" / "12_training_a_cnn.ipynb").read_text())
    subs = {
        "dee": solution,  # every exercise solved (its hidden tests are replaced by the grader's)
        "eli": _answer(_student("12"), normalize=NORMALIZE, early_stopping=LAST_EPOCH),
    }
    return _grade(tmp_path_factory.mktemp("class12"), subs, "--timeout", "60")


@pytest.mark.slow
def test_the_capstone_is_graded_within_the_cell_timeout(class12):
    rows = _rows(class12)
    # Full marks need every cell, the training ones included, to finish inside 60 s: only fast mode does.
    assert (rows["dee"]["status"], rows["dee"]["reason"], float(rows["dee"]["total"])) == ("ok", "", 10.0)
    assert (rows["eli"]["status"], float(rows["eli"]["total"])) == ("ok", 1.0)


@pytest.mark.slow
def test_the_capstone_feedback_names_each_failure(class12):
    eli = json.loads((class12 / "eli.json").read_text())["exercises"]
    assert (eli["normalize"]["status"], eli["normalize"]["score"]) == ("passed", 1.0)
    assert "AssertionError" in eli["early_stopping"]["feedback"]
    assert "NotImplementedError" in eli["train_cnn"]["feedback"]
