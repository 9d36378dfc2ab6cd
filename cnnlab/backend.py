"""The array module cnnlab computes with: NumPy by default, CuPy on request.

Every function in cnnlab asks this module for its array library at call time, either
``backend.get_array_module(x)`` (the library that owns the array ``x``) or ``backend.xp``
(the library chosen with :func:`use`). So one call switches every module::

    import cnnlab as cl
    cl.backend.use("cupy")      # or: export CNNLAB_BACKEND=cupy before starting Python

CuPy is imported only when it is asked for. Randomness comes from one seeded NumPy
generator (:func:`rng`); arrays drawn from it are moved to the active backend by the caller,
so a seed gives the same numbers on both backends.

The other switch the environment gives is ``CNNLAB_FAST=1`` (set by the tests and the grader):
:func:`fast_mode` tells the lessons, the capstone's recipe and its check to train on subsets
for one epoch.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

__all__ = [
    "BackendError",
    "asarray",
    "as_generator",
    "asnumpy",
    "fast_mode",
    "get_array_module",
    "is_array",
    "name",
    "rng",
    "seed",
    "seeded",
    "use",
    "xp",
]

#: The active array module (``numpy`` or ``cupy``). Read it as ``backend.xp`` at call time.
xp = np
#: The name of the active array module: ``"numpy"`` or ``"cupy"``.
name = "numpy"

_cupy = None  # the cupy module once it has been imported successfully
_DEFAULT_SEED = 0
_rng = np.random.default_rng(_DEFAULT_SEED)

_INSTALL_HINT = (
    "Install it with `pip install 'cnnlab[gpu]'` (CuPy for CUDA 12) or `pip install "
    "'cnnlab[gpu-cuda13]'` (CuPy for CUDA 13), whichever matches the machine's CUDA (needs an "
    "NVIDIA GPU and driver), or keep the default NumPy backend with cl.backend.use('numpy')."
)


class BackendError(RuntimeError):
    """The requested array backend cannot be used on this machine."""


def _import_cupy():
    """Import CuPy and make sure it can reach a GPU, or raise a BackendError saying why."""
    global _cupy
    if _cupy is not None:
        return _cupy
    try:
        import cupy
    except ImportError as err:
        raise BackendError(f"CuPy is not installed ({err}). {_INSTALL_HINT}") from err
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CUDA raises its own error types; all mean "no usable GPU"
        raise BackendError(
            f"CuPy is installed but cannot use a GPU: {type(err).__name__}: {err}. "
            "Check that an NVIDIA GPU is present and its driver works (nvidia-smi), "
            "or use cl.backend.use('numpy')."
        ) from err
    if count < 1:
        raise BackendError("CuPy is installed but no CUDA GPU was found. Use cl.backend.use('numpy').")
    _cupy = cupy
    return cupy


def use(backend: str) -> None:
    """Make ``backend`` ("numpy" or "cupy") the array module of every cnnlab function.

    Raises ``ValueError`` for an unknown name and :class:`BackendError` when CuPy is asked
    for but is not installed or finds no GPU; the active backend is then left unchanged.
    """
    global xp, name
    if not isinstance(backend, str) or backend.lower() not in ("numpy", "cupy"):
        raise ValueError(f"backend must be 'numpy' or 'cupy'; got {backend!r}")
    backend = backend.lower()
    xp = _import_cupy() if backend == "cupy" else np
    name = backend


def get_array_module(*arrays):
    """Return the array module (numpy or cupy) that owns the given arrays.

    NumPy arrays and Python scalars give ``numpy``; any CuPy array gives ``cupy``. Unlike
    ``backend.xp`` this follows the data, so a function works on whatever it is handed.
    """
    if _cupy is not None:
        for a in arrays:
            if isinstance(a, _cupy.ndarray):
                return _cupy
    return np


def is_array(a) -> bool:
    """True for a NumPy array or, when CuPy is loaded, a CuPy array."""
    return isinstance(a, np.ndarray) or (_cupy is not None and isinstance(a, _cupy.ndarray))


def asarray(a, dtype=None):
    """``a`` as an array of the active backend (copied to the GPU when that is CuPy)."""
    return xp.asarray(a, dtype=dtype)


def asnumpy(a):
    """``a`` as a NumPy array (copied from the GPU when it is a CuPy array)."""
    if _cupy is not None and isinstance(a, _cupy.ndarray):
        return _cupy.asnumpy(a)
    return np.asarray(a)


def seed(value: int) -> None:
    """Reseed cnnlab's generator, so every later draw from :func:`rng` is reproducible."""
    global _rng
    _rng = np.random.default_rng(value)


@contextlib.contextmanager
def seeded(value: int):
    """Within the block, cnnlab's generator is a fresh one seeded with ``value``; afterwards the
    previous generator is back, untouched, even when the block raises. For code that must repeat
    its draws without disturbing the caller's (a check building a student's network)."""
    global _rng
    saved = _rng
    _rng = np.random.default_rng(value)
    try:
        yield _rng
    finally:
        _rng = saved


def rng() -> np.random.Generator:
    """cnnlab's one shared NumPy random generator (seeded with 0 at import, see :func:`seed`)."""
    return _rng


def as_generator(rng=None) -> np.random.Generator:
    """The generator to draw from: ``rng`` itself, a new one seeded with the int ``rng``,
    or cnnlab's shared generator for None. Functions with an ``rng=`` argument use this."""
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, a non-negative int seed or None; got {rng!r}")


def fast_mode() -> bool:
    """True when the environment variable ``CNNLAB_FAST`` is set to anything but ``""``/``"0"``
    (the tests set ``CNNLAB_FAST=1``): train on subsets for one epoch."""
    return os.environ.get("CNNLAB_FAST", "").strip().lower() not in ("", "0", "false", "no")


_requested = os.environ.get("CNNLAB_BACKEND", "").strip()
if _requested:
    use(_requested)
