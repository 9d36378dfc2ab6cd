#!/usr/bin/env bash
# The GPU check, made to fit one slot of at most 8 minutes on a machine without network access:
# the gpu-marked tests, the benchmark (every case, the epoch included) on CuPy against PyTorch on
# the same GPU and on NumPy on the same machine, then a profile of a CuPy training step.
#
# Usage: bash benchmarks/gpu.sh OUTDIR      (from the repository root; OUTDIR default gpu-results)
#
# Nothing is installed: the scripts import cnnlab from this checkout, and the machine's Python
# must already have numpy, cupy and pytest (PyTorch with CUDA is optional: it adds the PyTorch
# column and the kernel counts). Each step has its own time limit, 7 minutes in all; a step that
# fails or runs out of time is logged and the next one still runs.
set -o pipefail
out=${1:-gpu-results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

step() {  # step SECONDS NAME COMMAND...: run, log to OUTDIR/NAME.log, show the tail
    local limit=$1 name=$2
    shift 2
    echo "== $name (at most ${limit}s)"
    timeout "$limit" "$@" > "$out/$name.log" 2>&1
    echo "exit status $?" >> "$out/$name.log"
    tail -25 "$out/$name.log"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$py" -c "import sys, numpy; print('python', sys.version.split()[0], 'numpy', numpy.__version__)"
    "$py" -c "import cupy; print('cupy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"
    "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" \
        || echo "torch: not importable (no PyTorch column, no kernel counts)"
    nproc
} 2>&1 | tee "$out/versions.log"

step 100 gpu_tests "$py" -m pytest -o addopts="" -p no:cacheprovider -q -m gpu \
    tests/test_gpu.py tests/test_conv.py tests/test_pooling.py tests/test_scratch.py
step 150 bench_cupy "$py" benchmarks/bench.py --backend cupy --no-naive --torch-device cuda \
    --json "$out/bench_cupy.json"
step 110 bench_numpy "$py" benchmarks/bench.py --no-naive --no-torch --json "$out/bench_numpy.json"
step 60 profile_cupy "$py" benchmarks/gpu_profile.py --json "$out/profile_cupy.json" \
    --trace "$out/profile_cupy_trace.json"
