"""Time cnnlab's conv2d and max-pool kernels, and one training epoch of a small CNN, against
naive Python loops (cnnlab.grading.naive) and PyTorch on the CPU when it is installed.

    python benchmarks/bench.py                    # full run, prints a table
    python benchmarks/bench.py --json out.json    # ... and writes the results as JSON
    python benchmarks/bench.py --quick            # tiny sizes, one repeat: a smoke test
    python benchmarks/bench.py --backend cupy     # cnnlab on the GPU (PyTorch stays on the CPU
                                                  # unless --torch-device cuda)

Every timing is the median of several repeats after a warm-up call, read with
time.perf_counter (after synchronising the GPU when cnnlab runs on CuPy). Convolution and pooling
cases time one forward plus one backward pass (the input gradient included) in float32. The
naive loops are far too slow for a full batch: they run on a few samples and their time is
scaled to the full batch (the table says on how many).

NumPy's BLAS and PyTorch get the same number of threads (--threads, applied to OpenBLAS when the
script starts). Both keep busy-waiting worker threads, so the script pauses a second whenever it
switches between them, and it times cnnlab and PyTorch in alternating rounds so that both meet
the same background load. On a shared machine that load still skews everything (a BLAS worker
thread that has to wait for a busy core can make one matrix product ten times slower), so the
load average before and after the run is printed and saved with the results.
"""

from __future__ import annotations

import argparse
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
from _networks import random_images, sgd_step, small_cnn  # noqa: E402

if __name__ == "__main__":
    preset_threads(sys.argv[1:])

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing cnnlab

from cnnlab.grading import naive  # noqa: E402  (the loops a student writes first)

import cnnlab as cl  # noqa: E402
from cnnlab import backend  # noqa: E402
from cnnlab.widgets import training_knobs as knobs  # noqa: E402

#: (case name, input shape (N, C, H, W), filters, kernel, stride, pad). The first two are the
#: convolutions of the capstone's network (lesson 12) at its batch size.
CONV_CASES = [
    ("conv 1->8, 28x28, 3x3 p1", (64, 1, 28, 28), 8, 3, 1, 1),
    ("conv 8->16, 14x14, 3x3 p1", (64, 8, 14, 14), 16, 3, 1, 1),
    ("conv 3->32, 32x32, 5x5 p2", (128, 3, 32, 32), 32, 5, 1, 2),
    ("conv 8->16, 28x28, 3x3 s2 p1", (64, 8, 28, 28), 16, 3, 2, 1),
]
#: (case name, input shape, window size)
POOL_CASES = [("maxpool 2x2, 16x28x28", (64, 16, 28, 28), 2)]
EPOCH_CASE = "epoch, small CNN"

# Reported, not counted in the targets: the rest of the capstone's layers, a training step of
# its network with its recipe, and one image at a time, as a widget or predict() sends it.
CAPSTONE_POOL_CASES = [
    ("maxpool 2x2, 8x28x28 (capstone)", (64, 8, 28, 28), 2),
    ("maxpool 2x2, 16x14x14 (capstone)", (64, 16, 14, 14), 2),
]
CAPSTONE_STEP_CASE = "capstone training step"
#: (case name, input shape, filters, kernel, stride, pad): forward only, one image.
ONE_IMAGE_CONV_CASES = [
    ("conv 1->8, 28x28, forward, 1 image", (1, 1, 28, 28), 8, 3, 1, 1),
    ("conv 8->16, 14x14, forward, 1 image", (1, 8, 14, 14), 16, 3, 1, 1),
]
PREDICT_CASE = "capstone predict, 1 image"

#: The targets of issue 15, cnnlab ms / PyTorch ms measured in the same run: each convolution
#: case at most 2, their geometric mean at most 1.3, max-pool at most 1.0, the epoch at most 1.2.
TARGETS = {"conv": 2.0, "conv geometric mean": 1.3, "maxpool": 1.0, "epoch": 1.2}


# --- timing ---------------------------------------------------------------------------------------

def _no_sync():
    pass


def sample_ms(fn, repeats, sync=_no_sync, warmup=1):
    """Wall times of ``repeats`` calls of ``fn()`` in milliseconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(1e3 * (time.perf_counter() - start))
    return times


class Timer:
    """Times cnnlab (on the chosen backend), the naive loops and, when importable, PyTorch."""

    def __init__(self, args):
        self.args = args
        self.xp = backend.xp
        self.sync = _cupy_sync if backend.name == "cupy" else _no_sync
        self.torch = _import_torch(args)
        self.last = None  # "numpy" or "torch": who ran last, for the pause between them

    def _switch_to(self, who):
        # Both keep spinning worker threads for a while after a call: let them go to sleep
        # before the other library's threads need the cores.
        if self.last is not None and self.last != who:
            time.sleep(1.0)
        self.last = who

    def paired(self, cnnlab_fn, torch_fn, repeats, rounds=None):
        """Median ms of cnnlab and of PyTorch (None without it). The repeats are split into
        alternating rounds (``--rounds`` unless given), so that both meet the same background
        load on a shared machine."""
        rounds = max(1, min(rounds or self.args.rounds, repeats))
        per_round = -(-repeats // rounds)
        torch_sync = _no_sync
        if self.torch is not None and self.args.torch_device.startswith("cuda"):
            torch_sync = self.torch.cuda.synchronize
        ours, theirs = [], []
        for r in range(rounds):
            self._switch_to("numpy")
            ours += sample_ms(cnnlab_fn, per_round, self.sync, warmup=int(r == 0))
            if torch_fn is not None and self.torch is not None:
                self._switch_to("torch")
                theirs += sample_ms(torch_fn, per_round, torch_sync, warmup=int(r == 0))
        return statistics.median(ours), (statistics.median(theirs) if theirs else None)

    def naive(self, fn, repeats):
        self._switch_to("numpy")
        return statistics.median(sample_ms(fn, repeats, warmup=0))


def _cupy_sync():
    backend.xp.cuda.Device().synchronize()


def _import_torch(args):
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(args.threads)
    return torch


# --- cases ----------------------------------------------------------------------------------------

def _quick_shape(shape):
    """--quick: at most two samples of at most 12x12, enough to run every code path in well under a second."""
    return (min(shape[0], 2), shape[1], min(shape[2], 12), min(shape[3], 12))


def _row(timer, name, batch, repeats, run_cnnlab, run_torch, run_naive=None, naive_samples=None, rounds=None):
    """Time one case: cnnlab and PyTorch in alternating rounds, then the naive loops (scaled)."""
    row = {"case": name, "batch": batch}
    row["cnnlab_ms"], torch_ms = timer.paired(run_cnnlab, run_torch, repeats, rounds)
    if torch_ms is not None:
        row["torch_ms"] = torch_ms
    if run_naive is not None and not timer.args.no_naive:
        row["naive_ms"] = timer.naive(run_naive, timer.args.naive_repeats) * batch / naive_samples
        row["naive_samples"] = naive_samples
    return row


def conv_case(timer, name, shape, filters, k, stride, pad, backward=True):
    """conv2d forward and (unless ``backward`` is False) backward, the input gradient included."""
    args, xp = timer.args, timer.xp
    if args.quick:
        shape = _quick_shape(shape)
    gen = np.random.default_rng(0)
    x = gen.standard_normal(shape, dtype=np.float32)
    w = gen.standard_normal((filters, shape[1], k, k), dtype=np.float32) * np.float32(0.1)
    b = np.zeros(filters, np.float32)
    out_h, out_w = (cl.conv.conv_output_size(n, k, stride, pad) for n in shape[2:])
    dout = gen.standard_normal((shape[0], filters, out_h, out_w), dtype=np.float32)

    xc, wc, bc, doutc = (xp.asarray(a) for a in (x, w, b, dout))

    def run_cnnlab():
        _, cache = cl.conv.conv2d_forward(xc, wc, bc, stride=stride, pad=pad)
        if backward:
            cl.conv.conv2d_backward(doutc, cache)

    n = min(args.naive_samples, shape[0])

    def run_naive():
        _, cache = naive.conv2d_forward_naive(x[:n], w, b, stride, pad)
        if backward:
            naive.conv2d_backward_naive(dout[:n], cache)

    run_torch = None
    torch = timer.torch
    if torch is not None:
        dev = args.torch_device
        xt = torch.from_numpy(x).to(dev).requires_grad_()
        wt = torch.from_numpy(w).to(dev).requires_grad_()
        bt = torch.from_numpy(b).to(dev).requires_grad_()
        dt = torch.from_numpy(dout).to(dev)

        def run_torch():
            with torch.set_grad_enabled(backward):
                out = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
            if backward:
                xt.grad = wt.grad = bt.grad = None
                out.backward(dt)

    return _row(timer, name, shape[0], args.repeats, run_cnnlab, run_torch, run_naive, n)


def pool_case(timer, name, shape, size):
    args, xp = timer.args, timer.xp
    if args.quick:
        shape = _quick_shape(shape)
    gen = np.random.default_rng(0)
    x = gen.standard_normal(shape, dtype=np.float32)
    dout = gen.standard_normal(shape[:2] + (shape[2] // size, shape[3] // size), dtype=np.float32)
    xc, doutc = xp.asarray(x), xp.asarray(dout)

    def run_cnnlab():
        _, cache = cl.pooling.maxpool2d_forward(xc, size)
        cl.pooling.maxpool2d_backward(doutc, cache)

    n = min(args.naive_samples, shape[0])

    def run_naive():
        _, cache = naive.maxpool2d_forward_naive(x[:n], size)
        naive.maxpool2d_backward_naive(dout[:n], cache)

    run_torch = None
    torch = timer.torch
    if torch is not None:
        dev = args.torch_device
        xt = torch.from_numpy(x).to(dev).requires_grad_()
        dt = torch.from_numpy(dout).to(dev)

        def run_torch():
            out = torch.nn.functional.max_pool2d(xt, size)
            xt.grad = None
            out.backward(dt)

    return _row(timer, name, shape[0], args.repeats, run_cnnlab, run_torch, run_naive, n)


def _torch_step(torch, model, opt, x, y):
    """The same step in PyTorch."""
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def epoch_case(timer):
    """One epoch of SGD with momentum over random 28x28 images, batch 64 (cnnlab.nn vs torch.nn)."""
    args, xp = timer.args, timer.xp
    X, y, batches = random_images(128 if args.quick else args.epoch_images)
    batch = len(batches[0])
    model = small_cnn(cl.nn)
    opt = cl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    Xc, yc = xp.asarray(X), xp.asarray(y)
    cbatches = [xp.asarray(idx) for idx in batches]

    def run_cnnlab():
        for idx in cbatches:
            sgd_step(cl, model, opt, Xc[idx], yc[idx])

    run_torch = None
    torch = timer.torch
    if torch is not None:
        dev = args.torch_device
        tmodel = _torch_cnn(torch, dev)
        topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
        Xt, yt = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
        tbatches = [torch.from_numpy(idx).to(dev) for idx in batches]

        def run_torch():
            for idx in tbatches:
                _torch_step(torch, tmodel, topt, Xt[idx], yt[idx])

    # One epoch takes seconds, long enough for a shared machine's speed to change between two
    # rounds of several epochs: the libraries take turns after every epoch.
    return _row(timer, EPOCH_CASE, f"{batch} x {len(batches)}", args.epoch_repeats, run_cnnlab, run_torch,
                rounds=args.epoch_repeats)


def _torch_cnn(torch, dev, keep=1.0):
    """The epoch's network in torch.nn: conv 8, pool, conv 16, pool, linear; with ``keep`` < 1 a
    dropout layer before the linear one makes it the capstone's (knobs.cnn(), keep 0.75)."""
    tnn = torch.nn
    torch.manual_seed(0)
    dropout = [tnn.Dropout(1 - keep)] if keep < 1 else []
    return tnn.Sequential(
        tnn.Conv2d(1, 8, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(8, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), *dropout, tnn.Linear(16 * 7 * 7, 10),
    ).to(dev)


def capstone_step_case(timer):
    """One training step of the capstone: knobs.cnn() in training mode (dropout on), softmax
    cross-entropy, backward without the input gradient, SGD with RECIPE's momentum and weight decay."""
    args, xp = timer.args, timer.xp
    recipe = knobs.RECIPE
    batch = 2 if args.quick else recipe.batch_size
    gen = np.random.default_rng(0)
    X = gen.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = gen.integers(0, 10, batch)
    model = knobs.cnn(rng=0)
    model.needs_input_grad = False
    opt = cl.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                       weight_decay=recipe.weight_decay)
    Xc, yc = xp.asarray(X), xp.asarray(y)

    def run_cnnlab():
        sgd_step(cl, model, opt, Xc, yc)

    run_torch = None
    torch = timer.torch
    if torch is not None:
        dev = args.torch_device
        tmodel = _torch_cnn(torch, dev, keep=0.75).train()
        topt = torch.optim.SGD(tmodel.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                               weight_decay=recipe.weight_decay)
        Xt, yt = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)

        def run_torch():
            _torch_step(torch, tmodel, topt, Xt, yt)

    return _row(timer, CAPSTONE_STEP_CASE, batch, args.repeats, run_cnnlab, run_torch)


def predict_case(timer):
    """The capstone's network on one image in evaluation mode, what predict() does per image."""
    args, xp = timer.args, timer.xp
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28), dtype=np.float32)
    model = knobs.cnn(rng=0).eval()
    xc = xp.asarray(x)

    def run_cnnlab():
        model(xc).argmax(axis=1)

    run_torch = None
    torch = timer.torch
    if torch is not None:
        tmodel = _torch_cnn(torch, args.torch_device, keep=0.75).eval()
        xt = torch.from_numpy(x).to(args.torch_device)

        def run_torch():
            with torch.no_grad():
                tmodel(xt).argmax(dim=1)

    return _row(timer, PREDICT_CASE, 1, args.repeats, run_cnnlab, run_torch)


# --- report ---------------------------------------------------------------------------------------

def _ratio(a, b):
    return None if a is None or b is None else a / b


def finish(rows):
    for r in rows:
        r["cnnlab_over_torch"] = _ratio(r["cnnlab_ms"], r.get("torch_ms"))
        r["naive_over_cnnlab"] = _ratio(r.get("naive_ms"), r["cnnlab_ms"])
    return rows


def check_targets(rows):
    """{target: (measured ratio, limit, met)} for the rows the targets count; {} without PyTorch."""
    ratio = {r["case"]: r["cnnlab_over_torch"] for r in rows}
    conv = [ratio[case[0]] for case in CONV_CASES]
    if None in conv:
        return {}
    limits = [(case[0], ratio[case[0]], TARGETS["conv"]) for case in CONV_CASES]
    limits.append(("conv geometric mean", statistics.geometric_mean(conv), TARGETS["conv geometric mean"]))
    limits += [(case[0], ratio[case[0]], TARGETS["maxpool"]) for case in POOL_CASES]
    limits.append((EPOCH_CASE, ratio[EPOCH_CASE], TARGETS["epoch"]))
    return {name: (value, limit, value <= limit) for name, value, limit in limits}


def table(rows):
    def fmt(v, spec):
        return "-" if v is None else format(v, spec)

    head = ["case", "batch", "cnnlab ms", "naive ms", "torch ms", "cnnlab/torch", "naive/cnnlab"]
    body = []
    for r in rows:
        naive_ms = fmt(r.get("naive_ms"), ".4g")
        if r.get("naive_samples") is not None and r["naive_samples"] != r["batch"]:
            naive_ms += f" ({r['naive_samples']}*)"
        body.append([r["case"], str(r["batch"]), fmt(r["cnnlab_ms"], ".3g"), naive_ms,
                     fmt(r.get("torch_ms"), ".3g"), fmt(r["cnnlab_over_torch"], ".2f"),
                     fmt(r["naive_over_cnnlab"], ".0f")])
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(wd) for c, wd in zip(line, widths)) + " |" for line in [head] + body]
    lines.insert(1, "|" + "|".join("-" * (wd + 2) for wd in widths) + "|")
    return "\n".join(lines)


def machine(args):
    info = {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": args.threads, "backend": backend.name}
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            info["processor"] = names[0]
    except OSError:
        pass
    if args.torch_version:
        info["torch"] = args.torch_version
    if backend.name == "cupy":
        cp = backend.xp
        info["cupy"] = cp.__version__
        info["gpu"] = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    return info


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and one repeat (smoke test)")
    p.add_argument("--backend", choices=["numpy", "cupy"], default="numpy", help="cnnlab's array backend")
    p.add_argument("--repeats", type=int, default=7, help="repeats per conv/pool case (median)")
    p.add_argument("--epoch-repeats", type=int, default=7, help="repeats of the training epoch (median)")
    p.add_argument("--rounds", type=int, default=3,
                   help="alternate cnnlab and PyTorch this many times per case, splitting the repeats "
                        "(the epoch alternates after every repeat)")
    p.add_argument("--epoch-images", type=int, default=10_000, help="images in the training epoch")
    p.add_argument("--naive-samples", type=int, default=2, help="samples the naive loops run on")
    p.add_argument("--naive-repeats", type=int, default=3, help="repeats of the naive loops")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for NumPy's BLAS and for PyTorch (default: OPENBLAS_NUM_THREADS or "
                        "OMP_NUM_THREADS, else the number of CPUs, which is what OpenBLAS uses)")
    p.add_argument("--torch-device", default="cpu", help="device PyTorch runs on (cpu, cuda)")
    p.add_argument("--no-torch", action="store_true", help="do not time PyTorch even if it is installed")
    p.add_argument("--no-naive", action="store_true", help="do not time the naive loops")
    p.add_argument("--json", metavar="PATH", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = args.epoch_repeats = args.naive_samples = args.naive_repeats = 1
    if args.threads is None:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        args.threads = int(env) if env else os.cpu_count()
    return args


def _load():
    """The 1-minute load average: other processes on the machine skew every timing."""
    loads = load_average()
    return loads[0] if loads else None


def main(argv=None):
    args = parse_args(argv)
    load_before = _load()
    backend.use(args.backend)
    timer = Timer(args)
    args.torch_version = timer.torch.__version__ if timer.torch is not None else None
    rows = [conv_case(timer, *case) for case in CONV_CASES]
    rows += [pool_case(timer, *case) for case in POOL_CASES]
    rows.append(epoch_case(timer))
    rows += [pool_case(timer, *case) for case in CAPSTONE_POOL_CASES]
    rows.append(capstone_step_case(timer))
    rows += [conv_case(timer, *case, backward=False) for case in ONE_IMAGE_CONV_CASES]
    rows.append(predict_case(timer))
    rows = finish(rows)
    targets = check_targets(rows)
    info = machine(args)
    info["load_average"] = [load_before, _load()]
    print(f"cnnlab on {info['backend']}; {info['processor']}, {info['cpus']} CPUs; "
          f"threads {args.threads}; torch {args.torch_version or 'not timed'}; "
          f"load average {load_before} before, {info['load_average'][1]} after")
    print(table(rows))
    print(f"rows after '{EPOCH_CASE}' are reported, not counted in the targets")
    if targets and not args.quick:
        missed = [f"{name} {value:.2f} > {limit}" for name, (value, limit, met) in targets.items() if not met]
        print("targets (cnnlab/torch): " + ("all met" if not missed else "MISSED: " + "; ".join(missed))
              + f"; conv geometric mean {targets['conv geometric mean'][0]:.2f}")
    if args.quick:
        print("--quick: every case shrunk to 2 samples of at most 12x12 (the epoch to 128 images); "
              "the times only show that each path runs")
    if any(r.get("naive_samples") not in (None, r["batch"]) for r in rows):
        print("* naive loops timed on this many samples, scaled to the full batch")
    if args.json:
        stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        met = {name: {"ratio": value, "limit": limit, "met": ok} for name, (value, limit, ok) in targets.items()}
        Path(args.json).write_text(json.dumps({"date": stamp, "machine": info, "quick": args.quick,
                                               "results": rows, "targets": met}, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
