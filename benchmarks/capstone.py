"""Run the capstone of lesson 12 outside the notebook: train the lesson's CNN on MNIST with the
lesson's recipe, then report the test accuracy (measured once), the total time and the time of
each epoch.

    python benchmarks/capstone.py                  # the full run (about 1.5 minutes on 2 idle cores)
    python benchmarks/capstone.py --json out.json  # ... and save the numbers
    python benchmarks/capstone.py --fast           # subsets and one epoch: a smoke test (seconds)
    python benchmarks/capstone.py --threads 1      # one BLAS thread

The steps are those of solutions/12_training_a_cnn.ipynb. From cnnlab.widgets.training_knobs:
capstone_data() (MNIST's 60,000 training images split, stratified, eleven to one into 54,998
for training and 5,002 for validation; MNIST's 10,000 test images as the test set; the training
mean subtracted from all three) and cnn() (conv 3x3 8 -> ReLU -> max-pool, conv 3x3 16 -> ReLU
-> max-pool, dropout keep 0.75, linear). From cnnlab.train: fit_recipe() with RECIPE (SGD lr
0.05, momentum 0.9, weight decay 5e-4, batch 64, step decay x0.1 after 3 epochs, random crops
with pad 2, early stopping with patience 2, at most 5 epochs). Everything is seeded, so two runs
train the same network; only the times change. The machine's load average is printed before
and after, since other processes on a shared machine slow every epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import load_average, preset_threads  # noqa: E402  (no NumPy inside)

if __name__ == "__main__":
    preset_threads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import cnnlab as cl  # noqa: E402
from cnnlab.widgets import training_knobs as knobs  # noqa: E402


def _load() -> str:
    loads = load_average()
    return " ".join(f"{v:.2f}" for v in loads) if loads else "n/a"


def run(fast: bool, seed: int = 0, progress: bool = True) -> dict:
    """Train and test once; return the numbers as a dict."""
    load_before = _load()
    start = time.perf_counter()
    data = knobs.capstone_data(fast=fast, rng=seed)
    loaded = time.perf_counter()
    cl.backend.seed(seed)
    model = knobs.cnn(rng=seed)
    recipe = cl.train.recipe(fast)
    history = cl.train.fit_recipe(model, data.train, data.val, recipe, rng=seed, progress=progress)
    trained = time.perf_counter()
    test_loss, test_acc = cl.train.evaluate(model, *data.test)   # the one look at the test set
    done = time.perf_counter()
    return {
        "date": datetime.date.today().isoformat(),
        "mode": "fast" if fast else "full",
        "sizes": {"train": len(data.train[1]), "val": len(data.val[1]), "test": len(data.test[1])},
        "parameters": model.num_parameters(),
        "recipe": dataclasses.asdict(recipe),
        "epochs": history.epochs, "best_epoch": history.best_epoch, "stopped_early": history.stopped_early,
        "val_acc": [round(v, 4) for v in history.val_acc], "train_loss": [round(v, 4) for v in history.train_loss],
        "test_acc": round(test_acc, 4), "test_loss": round(test_loss, 4),
        "epoch_s": [round(t, 2) for t in history.time],
        "data_s": round(loaded - start, 2), "train_s": round(trained - loaded, 2),
        "test_s": round(done - trained, 2), "total_s": round(done - start, 2),
        "load_before": load_before, "load_after": _load(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                   f"NumPy {np.__version__}, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}",
    }


def report(r: dict) -> str:
    sizes = r["sizes"]
    lines = [
        (f"capstone ({r['mode']}): MNIST {sizes['train']:,} train / {sizes['val']:,} val / "
         f"{sizes['test']:,} test, {r['parameters']:,} parameters"),
        (f"epochs run: {r['epochs']} (best {r['best_epoch'] + 1 if r['best_epoch'] is not None else '-'}"
         f"{', stopped early' if r['stopped_early'] else ''}); validation accuracy per epoch: "
         + ", ".join(f"{v:.4f}" for v in r["val_acc"])),
        f"test accuracy: {r['test_acc']:.4f} ({sizes['test']:,} images, evaluated once)",
        (f"total time: {r['total_s']:.1f} s (data {r['data_s']:.1f} s, training {r['train_s']:.1f} s, "
         f"test {r['test_s']:.1f} s)"),
        (f"per epoch (validation included): median {statistics.median(r['epoch_s']):.1f} s; "
         + ", ".join(f"{t:.1f}" for t in r["epoch_s"])),
        f"load average (1, 5, 15 min) before: {r['load_before']}; after: {r['load_after']}",
        f"machine: {r['machine']}",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="subsets and one epoch (what CNNLAB_FAST=1 does)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, the weights and the batches")
    parser.add_argument("--threads", type=int, help="BLAS threads (set before NumPy loads)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    result = run(args.fast, args.seed, progress=not args.no_progress)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
