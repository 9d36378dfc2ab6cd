"""Compare two checkouts of cnnlab on the training step of the small CNN in bench.py.

    python benchmarks/ab.py ../cnnlab-before            # that checkout against this one
    python benchmarks/ab.py OLD NEW --processes 4 --rounds 30

Why not two runs of bench.py: on a shared VM the machine's speed drifts by tens of percent within
seconds, and each process is lucky or unlucky in where its memory lands in the processor's caches
(the same code, timed in fresh processes, differs by up to 10 % from process to process). So
this script starts several processes per checkout, each importing cnnlab from its own checkout
and training the network of bench.py's epoch case on random images, and lets them take turns:
one process runs a block of training steps while the others wait, in a fixed order that is
reversed every round. It reports, per checkout, the median of each process's median time per
step, and the ratio of the second checkout to the first. Both checkouts meet the same drift, and
the process-to-process luck is averaged over several processes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import load_average, preset_threads  # noqa: E402  (no NumPy inside)


def child(checkout: str, block: int) -> None:
    """Train steps from ``checkout``'s cnnlab: one block per line read, its ms per step written."""
    sys.path.insert(0, checkout)
    import cnnlab as cl
    from _networks import random_images, sgd_step, small_cnn

    if Path(cl.__file__).resolve().parent.parent != Path(checkout).resolve():
        raise SystemExit(f"cnnlab was imported from {cl.__file__}, not from the checkout {checkout}")
    X, y, batches = random_images(10_000)
    model = small_cnn(cl.nn)
    opt = cl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    for idx in batches[:5]:   # warm-up: scratch buffers, BLAS threads
        sgd_step(cl, model, opt, X[idx], y[idx])
    print("ready", flush=True)
    done = 0
    for _ in sys.stdin:
        start = time.perf_counter()
        for _ in range(block):
            idx = batches[done % len(batches)]
            sgd_step(cl, model, opt, X[idx], y[idx])
            done += 1
        print(1e3 * (time.perf_counter() - start) / block, flush=True)


def compare(checkouts, processes: int, rounds: int, block: int, threads, pause: float) -> list:
    """For each checkout, the median ms per step of each of its processes."""
    env = dict(os.environ)
    if threads:
        preset_threads(["--threads", str(threads)])
        env.update({k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    kids = []   # (index of the checkout, process, its times)
    for i, checkout in enumerate(checkouts):
        for _ in range(processes):
            p = subprocess.Popen([sys.executable, __file__, "--child", checkout, "--block", str(block)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            if p.stdout.readline().strip() != "ready":
                raise SystemExit(f"a process for {checkout} did not start; run it alone to see why")
            kids.append((i, p, []))
    try:
        for r in range(rounds):
            for _, p, times in (kids if r % 2 == 0 else kids[::-1]):
                # OpenBLAS's worker threads keep spinning for a while after a product: let the
                # last process's threads go to sleep before the next one needs the cores.
                time.sleep(pause)
                p.stdin.write("go\n")
                p.stdin.flush()
                times.append(float(p.stdout.readline()))
    finally:
        for _, p, _ in kids:
            p.stdin.close()
            p.wait()
    return [[statistics.median(times) for j, _, times in kids if j == i] for i in range(len(checkouts))]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", nargs="?", help="a checkout of cnnlab (the folder holding cnnlab/)")
    parser.add_argument("after", nargs="?", default=str(HERE.parent), help="another (default: this one)")
    parser.add_argument("--processes", type=int, default=4, help="processes per checkout (default 4)")
    parser.add_argument("--rounds", type=int, default=25, help="blocks each process runs (default 25)")
    parser.add_argument("--block", type=int, default=16, help="training steps per block (default 16)")
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own)")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between two blocks (default 0.2)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.block)
    if args.before is None:
        parser.error("give the checkout to compare with, e.g. python benchmarks/ab.py ../cnnlab-before")
    checkouts = [str(Path(c).resolve()) for c in (args.before, args.after)]
    for c in checkouts:
        if not (Path(c) / "cnnlab" / "__init__.py").is_file():
            parser.error(f"{c} holds no cnnlab/ package; give the folder of a checkout")
    load_before = load_average()
    results = compare(checkouts, args.processes, args.rounds, args.block, args.threads, args.pause)
    base = statistics.median(results[0])
    print(f"small CNN training step, batch 64; {args.processes} processes per checkout, "
          f"{args.rounds} blocks of {args.block} steps each; load average {load_before and load_before[0]} "
          f"before, {(load_average() or [None])[0]} after")
    print("| checkout | ms per step | / first | each process |")
    print("| --- | --- | --- | --- |")
    for c, per_process in zip(checkouts, results):
        med = statistics.median(per_process)
        print(f"| {c} | {med:.2f} | {med / base:.3f} | {', '.join(f'{v:.2f}' for v in per_process)} |")


if __name__ == "__main__":
    main()
