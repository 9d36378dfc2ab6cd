"""cnnlab.backend: the NumPy default, the CuPy switch and its errors, the seeded generator."""

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest

from cnnlab import backend


def test_numpy_is_the_default():
    assert backend.name == "numpy" and backend.xp is np
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(1.0, [1, 2]) is np


def test_unknown_backend_name():
    with pytest.raises(ValueError, match=r"backend must be 'numpy' or 'cupy'; got 'torch'"):
        backend.use("torch")
    assert backend.name == "numpy"


def _cupy_usable():
    try:
        backend._import_cupy()
        return True
    except backend.BackendError:
        return False


@pytest.mark.skipif(_cupy_usable(), reason="CuPy and a GPU are present: the error path cannot be shown")
def test_cupy_request_without_cupy_or_gpu_fails_clearly():
    with pytest.raises(backend.BackendError, match=r"CuPy (is not installed|is installed but).*(pip install 'cnnlab\[gpu\]'|GPU)"):
        backend.use("cupy")
    assert backend.name == "numpy" and backend.xp is np  # a failed switch changes nothing


@pytest.mark.skipif(_cupy_usable(), reason="CuPy and a GPU are present")
def test_environment_variable_selects_the_backend_at_import():
    env = dict(os.environ, CNNLAB_BACKEND="cupy")
    done = subprocess.run([sys.executable, "-c", "import cnnlab"], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "BackendError" in done.stderr and "CuPy" in done.stderr


def test_asnumpy_and_asarray_round_trip():
    a = backend.asarray([1.0, 2.0], dtype=np.float32)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    np.testing.assert_array_equal(backend.asnumpy(a), [1.0, 2.0])


def test_seed_makes_draws_reproducible():
    backend.seed(5)
    first = backend.rng().random(3)
    backend.seed(5)
    np.testing.assert_array_equal(backend.rng().random(3), first)



def test_seeded_repeats_draws_and_gives_the_callers_generator_back():
    backend.seed(7)
    outer = backend.rng()
    expected_next = np.random.default_rng(7)
    expected_next.random(2)                               # where the outer generator will be
    outer.random(2)
    with backend.seeded(3) as inner:
        assert inner is backend.rng() and inner is not outer
        np.testing.assert_array_equal(backend.rng().random(4), np.random.default_rng(3).random(4))
    assert backend.rng() is outer
    np.testing.assert_array_equal(backend.rng().random(2), expected_next.random(2))
    with pytest.raises(RuntimeError, match="inside"):
        with backend.seeded(4):
            raise RuntimeError("inside")
    assert backend.rng() is outer


def test_as_generator():
    gen = np.random.default_rng(1)
    assert backend.as_generator(gen) is gen
    assert backend.as_generator(None) is backend.rng()
    np.testing.assert_array_equal(backend.as_generator(3).random(2), np.random.default_rng(3).random(2))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        backend.as_generator("seed")


def test_is_array():
    assert backend.is_array(np.zeros(1)) and not backend.is_array([0.0])
