"""CI grades a small class of real lesson-00 submissions with the real checks (DESIGN.md)."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from cnnlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "notebooks" / "00_start_here.ipynb"
SCALE = "def scale_images(x):\n    return (x / 255).astype(np.float32)\n"
MEAN = "def mean_image(X):\n    return X.sum(axis=0) / len(X)\n"


def _answer(nb: dict, grade_id: str, source: str) -> dict:
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell["source"] = source
            return nb
    raise KeyError(grade_id)


@pytest.fixture(scope="module")
def class_results(tmp_path_factory):
    base = tmp_path_factory.mktemp("class00")
    student = json.loads(STUDENT.read_text())
    both = _answer(_answer(json.loads(json.dumps(student)), "scale_images_solution", SCALE),
                   "mean_image_solution", MEAN)
    # The classic slip: the sum instead of the mean. The check must refuse it.
    half = _answer(_answer(json.loads(json.dumps(student)), "scale_images_solution", SCALE),
                   "mean_image_solution", "def mean_image(X):\n    return X.sum(axis=0)\n")
    subs = {"ada": both, "ben": half, "cy": student}
    for name, nb in subs.items():
        (base / f"{name}.ipynb").write_text(json.dumps(nb))
    shutil.copy(base / "ada.ipynb", base / "ada-before.ipynb")
    out = base / "grades"
    code = main(["grade", "--root", str(ROOT), "--out", str(out), "--jobs", "2", "--timeout", "60",
                 *(str(base / f"{name}.ipynb") for name in subs)])
    assert code == 0
    return base, out


def test_a_class_of_lesson_00_gets_the_right_totals(class_results):
    base, out = class_results
    rows = {Path(r["file"]).stem: r for r in csv.DictReader((out / "grades.csv").open())}
    assert {name: float(rows[name]["total"]) for name in ("ada", "ben", "cy")} == {"ada": 2.0, "ben": 1.0, "cy": 0.0}
    assert all(float(r["max"]) == 2.0 for r in rows.values())


def test_feedback_names_the_failure_and_the_submission_is_untouched(class_results):
    base, out = class_results
    ben = json.loads((out / "ben.json").read_text())
    assert ben["exercises"]["mean_image"]["score"] == 0
    assert "AssertionError" in ben["exercises"]["mean_image"]["feedback"]
    cy = json.loads((out / "cy.json").read_text())
    assert "NotImplementedError" in cy["exercises"]["scale_images"]["feedback"]
    assert (base / "ada.ipynb").read_bytes() == (base / "ada-before.ipynb").read_bytes()
