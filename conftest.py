"""Test-wide settings for `pytest` run from the repository root (unit tests and nbval)."""

import os

# Lessons read CNNLAB_FAST to train on a subset: set before any kernel is launched, so the
# notebooks nbval executes inherit it.
os.environ.setdefault("CNNLAB_FAST", "1")
os.environ.setdefault("PYTHONHASHSEED", "0")
# `make test` runs two pytest workers, each starting kernels, on machines with few cores: one
# BLAS thread per process avoids oversubscription, where small matrix products can take 1000x
# longer while threads spin waiting for a core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _cupy_usable():
    try:
        from cnnlab import backend
        backend._import_cupy()
        return True
    except Exception:
        return False


def pytest_collection_modifyitems(config, items):
    import pytest

    if any("gpu" in item.keywords for item in items) and not _cupy_usable():
        skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU (pip install 'cnnlab[gpu]')")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
    # The files with a test that builds venvs or otherwise takes minutes run first: started last
    # (xdist hands out files in collection order, see --no-loadscope-reorder in pyproject.toml)
    # it would run alone at the end while the other worker waits.
    first = {item.path for item in items if "venv" in item.keywords or "long" in item.keywords}
    items.sort(key=lambda item: item.path not in first)  # stable: the order within each group stays
