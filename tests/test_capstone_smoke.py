"""The capstone: benchmarks/capstone.py runs end to end (--fast: MNIST subsets, one epoch, a few
seconds), and the outputs stored in lesson 12 come from a full run that met the target."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_capstone_fast_prints_and_saves_its_numbers(tmp_path):
    out_json = tmp_path / "capstone.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "capstone.py"), "--fast", "--no-progress", "--json", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "test accuracy: 0." in run.stdout and "per epoch" in run.stdout and "total time" in run.stdout
    result = json.loads(out_json.read_text())
    assert result["mode"] == "fast" and result["epochs"] == 1
    assert result["sizes"] == {"train": 4000, "val": 1000, "test": 2000}
    assert result["parameters"] == 9098
    assert 0.8 < result["test_acc"] <= 1.0           # one epoch on 4,000 digits already reads most
    assert result["total_s"] >= result["train_s"] >= sum(result["epoch_s"]) * 0.99 > 0
    assert result["recipe"]["lr"] == 0.05 and result["recipe"]["epochs"] == 1


def _stored_text(notebook: Path) -> str:
    cells = json.loads(notebook.read_text())["cells"]
    return "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code" for o in c["outputs"])


def test_lesson_12_stores_the_outputs_of_a_full_run_that_meets_the_target():
    # nbval runs the lesson in fast mode and ignores these cells, so only this test notices
    # if outputs of a fast run were ever committed (COURSE.md: stored outputs come from a full run).
    text = _stored_text(ROOT / "solutions" / "12_training_a_cnn.ipynb")
    assert "train 54,998, validation 5,002, test 10,000 images" in text
    accuracy = re.search(r"test accuracy ([0-9.]+)% on 10,000 images", text)
    assert accuracy and float(accuracy.group(1)) >= 98.5           # full MNIST ships: 98.5 % required
    epochs = [float(t) for t in re.findall(r"^epoch \d+: .*, (\d+) s$", text, flags=re.M)]
    assert 1 <= len(epochs) <= 5 and sum(epochs) < 180               # trained in under 3 minutes
