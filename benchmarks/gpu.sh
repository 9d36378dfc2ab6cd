#!/usr/bin/env bash
# The GPU check: the gpu-marked tests and the benchmarks on CuPy and on NumPy, on one machine.
# Usage: bash benchmarks/gpu.sh OUTDIR   (needs CuPy and an NVIDIA GPU; pytest, numpy, matplotlib)
set -o pipefail
out=${1:-gpu-results}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -c "import cupy, numpy; print('cupy', cupy.__version__, 'numpy', numpy.__version__)"
python3 -m pytest -o addopts="" -p no:cacheprovider -q -m gpu tests/test_gpu.py tests/test_conv.py tests/test_pooling.py \
    2>&1 | tee "$out/gpu_tests.log" | tail -15
python3 benchmarks/bench.py --backend cupy --no-naive --torch-device cuda --json "$out/bench_cupy.json" \
    2>&1 | tee "$out/bench_cupy.log" | tail -12
python3 benchmarks/bench.py --no-naive --no-torch --json "$out/bench_numpy.json" \
    2>&1 | tee "$out/bench_numpy.log" | tail -12
