"""benchmarks/capstone.py runs end to end (--fast: MNIST subsets, one epoch, a few seconds)."""

import json
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
