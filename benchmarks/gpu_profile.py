"""Where the time of one training step goes on CuPy: the counts that decide a GPU's speed.

    python benchmarks/gpu_profile.py                    # 30 training steps, batch 64
    python benchmarks/gpu_profile.py --json out.json --trace trace.json

On a GPU, cnnlab's small layers are bound by the host, not by arithmetic: every array operation
is one kernel launch from Python, every float()/int()/bool() of a device value makes the host
wait until the GPU has finished everything queued, and every new array asks CuPy's memory pool.
Per training step as fit() takes it (forward, its checks, softmax cross-entropy, backward, SGD with
momentum) of bench.py's small CNN, this prints:

* host milliseconds per step, and GPU milliseconds per step (CUDA events around the steps);
* from a CUPTI trace that torch.profiler records when PyTorch with CUDA is installed (CUPTI sees
  CuPy's work too; without PyTorch these counts are missing): kernel launches, device-to-host
  copies (every float(), int(), bool() or asnumpy() of a device value is one, and the host waits
  for it), the CUDA runtime calls that make the host wait (synchronize, blocking copies), and
  the most frequent kernels;
* allocations from CuPy's memory pool and new device memory (a cupy memory hook);
* the functions with the most host time (cProfile).

It needs CuPy and a GPU; PyTorch is optional.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

import cnnlab as cl  # noqa: E402
from cnnlab import backend  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _networks import small_cnn  # noqa: E402


def make_step(batch):
    cp = backend.xp
    gen = np.random.default_rng(0)
    x = cp.asarray(gen.standard_normal((batch, 1, 28, 28), dtype=np.float32))
    y = cp.asarray(gen.integers(0, 10, batch))
    model = small_cnn(cl.nn)   # bench.py's epoch network
    opt = cl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        # What fit() does with each batch: forward, the divergence checks, loss, backward, update.
        cl.train._train_step(model, opt, cl.F.softmax_cross_entropy, x, y, epoch=0, batch=0)
    return step


def allocation_hook():
    from cupy.cuda import memory_hook

    class CountAllocations(memory_hook.MemoryHook):
        name = "CountAllocations"

        def __init__(self):
            self.from_pool = 0     # arrays served by CuPy's pool
            self.new_device = 0    # cudaMalloc calls: the pool had to grow

        def malloc_postprocess(self, **kwargs):
            self.from_pool += 1

        def alloc_postprocess(self, **kwargs):
            self.new_device += 1

    return CountAllocations()


def cupti_counts(step, steps, trace_path):
    """Per step: kernel launches, copies and the runtime calls that make the host wait, from a
    CUPTI trace of ``steps`` steps (written to ``trace_path``, viewable in chrome://tracing)."""
    try:
        import torch
        from torch.profiler import ProfilerActivity, profile
        if not torch.cuda.is_available():
            return {"note": "PyTorch cannot see a GPU: no CUPTI trace"}
    except ImportError:
        return {"note": "PyTorch is not installed: no CUPTI trace"}
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        backend.xp.cuda.Device().synchronize()
    prof.export_chrome_trace(str(trace_path))
    return trace_counts(json.loads(Path(trace_path).read_text()).get("traceEvents", []), steps)


def trace_counts(events, steps):
    """Count the events of a chrome trace (torch.profiler's export) per step."""
    kernels = [e for e in events if e.get("cat") == "kernel"]
    copies = [e for e in events if e.get("cat") == "gpu_memcpy"]
    runtime = Counter(e.get("name", "") for e in events if e.get("cat") == "cuda_runtime")
    waits = {name: n for name, n in runtime.items()
             if "Synchronize" in name or (name.startswith("cudaMemcpy") and "Async" not in name)}
    per_step = {
        "kernels": len(kernels), "memcpy": len(copies),
        "memcpy_device_to_host": sum("DtoH" in e.get("name", "") for e in copies),
        "runtime_calls_that_wait": sum(waits.values()),
        "kernel_ms": sum(e.get("dur", 0) for e in kernels) / 1e3,
    }
    return {**{k: v / steps for k, v in per_step.items()}, "waiting_calls": waits,
            "event_categories": dict(Counter(e.get("cat") for e in events)),
            "top_kernels": Counter(e["name"].split("(")[0][:60] for e in kernels).most_common(12)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30, help="training steps measured")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--trace", type=Path, default=Path("gpu_trace.json"), help="CUPTI trace file")
    args = parser.parse_args(argv)

    backend.use("cupy")
    cp = backend.xp
    step = make_step(args.batch)
    for _ in range(5):  # warm-up: kernel compilation, pool growth, cuBLAS handles
        step()
    cp.cuda.Device().synchronize()

    start_event, end_event = cp.cuda.Event(), cp.cuda.Event()
    start = time.perf_counter()
    start_event.record()
    for _ in range(args.steps):
        step()
    end_event.record()
    host_s = time.perf_counter() - start   # time to queue the work (and wait where it must)
    end_event.synchronize()
    result = {
        "gpu": cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode(),
        "cupy": cp.__version__, "batch": args.batch, "steps": args.steps,
        "host_ms_per_step": 1e3 * host_s / args.steps,
        "wall_ms_per_step": 1e3 * (time.perf_counter() - start) / args.steps,
        "gpu_ms_per_step": cp.cuda.get_elapsed_time(start_event, end_event) / args.steps,
    }

    hook = allocation_hook()
    with hook:
        for _ in range(args.steps):
            step()
    result["pool_allocations_per_step"] = hook.from_pool / args.steps
    result["device_mallocs_per_step"] = hook.new_device / args.steps
    result["cupti"] = cupti_counts(step, args.steps, args.trace)

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step()
    cp.cuda.Device().synchronize()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)

    print(json.dumps(result, indent=2))
    print(text.getvalue())
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
