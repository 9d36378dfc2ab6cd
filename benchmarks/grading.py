"""What the trusted grader costs: a class of 30 lesson-04 submissions, before and after.

::

    git worktree add ../cnnlab-before 29a508e       # the grader before the sandbox and the re-check
    python benchmarks/grading.py --before ../cnnlab-before
    python benchmarks/grading.py --before ../cnnlab-before --repeats 5 --json results/grading.json

Builds 30 submissions of lesson 04 (whole student notebooks: a third right, a third with one of
the usual mistakes, a third untouched), then grades the class with ``--jobs 2`` in alternating
rounds with each configuration:

* ``before``: ``python -m cnnlab grade`` from the ``--before`` checkout (its own cnnlab first on
  ``PYTHONPATH``, so its kernels import it too);
* ``after``: this checkout's grader as instructors run it (bubblewrap sandbox, re-check);
* ``after --no-sandbox``: the same without the sandbox, to show what the sandbox itself costs.

It prints the median wall time of each and the ratios to ``before``, with the load average
(the machines are shared; see benchmarks/README.md). Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LESSON = "04_convolution"

RIGHT = {
    "conv_output_size": "def conv_output_size(n, k, stride=1, pad=0):\n    if k > n + 2 * pad:\n"
                        "        raise ValueError('kernel larger than the padded input')\n"
                        "    return (n + 2 * pad - k) // stride + 1",
    "covers_input": "def covers_input(n, k, stride, pad):\n    return (n + 2 * pad - k) % stride == 0",
    "pad2d": "def pad2d(x, pad):\n    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
    "conv2d_forward_naive": (
        "def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n    N, C, H, W = x.shape\n    F, _, kh, kw = w.shape\n"
        "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
        "    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1\n"
        "    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)\n    for n in range(N):\n        for f in range(F):\n"
        "            for i in range(Ho):\n                for j in range(Wo):\n"
        "                    win = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]\n"
        "                    out[n, f, i, j] = (win * w[f]).sum() + b[f]\n    return out, (x, w, b, stride, pad)"),
    "alexnet_shapes": "def alexnet_shapes():\n    return [(96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13),\n"
                      "            (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6)]",
}
WRONG = {  # one usual mistake each
    "conv_output_size": RIGHT["conv_output_size"].replace("(n + 2 * pad - k) //", "(n + pad - k) //"),
    "covers_input": "def covers_input(n, k, stride, pad):\n    return n % stride == 0",
    "pad2d": "def pad2d(x, pad):\n    return np.pad(x, pad)",
    "conv2d_forward_naive": RIGHT["conv2d_forward_naive"].replace("(win * w[f]).sum() + b[f]", "(win * w[f] + b[f]).sum()"),
    "alexnet_shapes": RIGHT["alexnet_shapes"].replace("(96, 55, 55)", "(96, 54, 54)"),
}


def make_class(folder: Path, n: int = 30) -> list[Path]:
    """``n`` submissions of lesson 04: right, one wrong exercise, untouched, in turn."""
    student = json.loads((ROOT / "notebooks" / f"{LESSON}.ipynb").read_text())
    names = list(RIGHT)
    paths = []
    for i in range(n):
        nb = json.loads(json.dumps(student))
        kind = i % 3
        for cell in nb["cells"]:
            gid = cell["metadata"].get("nbgrader", {}).get("grade_id", "")
            exercise = gid[: -len("_solution")] if gid.endswith("_solution") else None
            if exercise and kind == 0:
                cell["source"] = RIGHT[exercise]
            elif exercise and kind == 1:
                cell["source"] = WRONG[exercise] if names.index(exercise) == (i // 3) % len(names) else RIGHT[exercise]
        path = folder / f"student{i:02d}.ipynb"
        path.write_text(json.dumps(nb))
        paths.append(path)
    return paths


def grade_seconds(tree: Path, subs: list[Path], out: Path, extra: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cnnlab", "grade", "--root", str(tree), "--out", str(out),
                           "--jobs", "2", *extra, *map(str, subs)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cnnlab grade from {tree} failed:\n{done.stderr[-2000:]}")
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, type=Path, help="a checkout of the grader to compare with")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of every configuration (default 3)")
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    configs = {"before": (args.before.resolve(), []), "after": (ROOT, []),
               "after --no-sandbox": (ROOT, ["--no-sandbox"])}
    load = [os.getloadavg()[0]]
    times = {name: [] for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        subs = make_class(Path(tmp), args.submissions)
        for round_ in range(args.repeats):
            for name, (tree, extra) in configs.items():
                times[name].append(grade_seconds(tree, subs, Path(tmp) / f"out-{round_}-{name.split()[0]}-{len(extra)}",
                                                 extra))
                print(f"round {round_ + 1}: {name}: {times[name][-1]:.1f} s", file=sys.stderr)
    load.append(os.getloadavg()[0])
    base = statistics.median(times["before"])
    print(f"Grading {args.submissions} lesson-04 submissions with --jobs 2; medians of {args.repeats} rounds; "
          f"load average {load[0]:.2f} before, {load[1]:.2f} after.\n")
    print("| configuration | median s | runs (s) | / before |")
    print("| --- | --- | --- | --- |")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.1f} | {', '.join(f'{v:.1f}' for v in values)} | {median / base:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"submissions": args.submissions, "load": load, "seconds": times}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
