"""benchmarks/bench.py runs end to end (--quick: tiny sizes, one repeat, well under a few seconds),
and gpu_profile.py reads a CUPTI trace right (the rest of it needs a GPU)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [
    "conv 1->8, 28x28, 3x3 p1",
    "conv 8->16, 14x14, 3x3 p1",
    "conv 3->32, 32x32, 5x5 p2",
    "conv 8->16, 28x28, 3x3 s2 p1",
    "maxpool 2x2, 16x28x28",
    "epoch, small CNN",
    "maxpool 2x2, 8x28x28 (capstone)",
    "maxpool 2x2, 16x14x14 (capstone)",
    "capstone training step",
    "conv 1->8, 28x28, forward, 1 image",
    "conv 8->16, 14x14, forward, 1 image",
    "capstone predict, 1 image",
]


def test_bench_quick_prints_and_saves_every_case(tmp_path):
    out_json = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench.py"), "--quick", "--no-torch", "--json", str(out_json)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    table_rows = [line for line in run.stdout.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in table_rows[1:]] == CASES
    results = json.loads(out_json.read_text())["results"]
    assert [r["case"] for r in results] == CASES
    assert all(r["cnnlab_ms"] > 0 and "torch_ms" not in r for r in results)
    whole_networks = {"epoch, small CNN", "capstone training step", "capstone predict, 1 image"}
    with_naive = [r for r in results if r["case"] not in whole_networks]   # single layers
    assert len(with_naive) == 9
    assert all(r["naive_ms"] > 0 and r["naive_over_cnnlab"] > 0 for r in with_naive)
    assert json.loads(out_json.read_text())["targets"] == {}     # no PyTorch: nothing to compare


def test_gpu_profile_counts_a_trace_per_step():
    # benchmarks/gpu_profile.py runs only on a GPU; its reading of the CUPTI trace is checked here.
    spec = importlib.util.spec_from_file_location("gpu_profile", ROOT / "benchmarks" / "gpu_profile.py")
    profile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(profile)
    events = (
        [{"cat": "kernel", "name": "cupy_copy__float32_float32(...)", "dur": 5}] * 6
        + [{"cat": "kernel", "name": "gemm", "dur": 20}] * 2
        + [{"cat": "gpu_memcpy", "name": "Memcpy DtoH (Device -> Pageable)"}] * 2
        + [{"cat": "gpu_memcpy", "name": "Memcpy HtoD (Pageable -> Device)"}] * 2
        + [{"cat": "cuda_runtime", "name": "cudaMemcpyAsync"}] * 4
        + [{"cat": "cuda_runtime", "name": "cudaStreamSynchronize"}] * 2
        + [{"cat": "cuda_runtime", "name": "cudaLaunchKernel"}] * 8
    )
    counts = profile.trace_counts(events, steps=2)
    assert counts["kernels"] == 4 and counts["memcpy"] == 2 and counts["memcpy_device_to_host"] == 1
    assert counts["runtime_calls_that_wait"] == 1 and counts["waiting_calls"] == {"cudaStreamSynchronize": 2}
    assert counts["kernel_ms"] == 0.035
    assert counts["top_kernels"][0] == ("cupy_copy__float32_float32", 6)


def test_ab_compares_two_checkouts_and_refuses_a_folder_without_cnnlab(tmp_path):
    script = str(ROOT / "benchmarks" / "ab.py")
    run = subprocess.run([sys.executable, script, str(ROOT), str(ROOT), "--processes", "1", "--rounds", "2",
                          "--block", "1", "--pause", "0"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith(f"| {ROOT}")]
    assert len(rows) == 2
    ms, ratio = (float(v) for v in rows[1].split("|")[2:4])
    assert ms > 0 and ratio > 0
    bad = subprocess.run([sys.executable, script, str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "holds no cnnlab/ package" in bad.stderr
