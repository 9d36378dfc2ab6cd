"""Argument checks shared by cnnlab's public functions.

Each check raises ``TypeError`` or ``ValueError`` whose message names the argument, what was
received and what was expected, so a student never meets a bare ``IndexError`` from deep
inside NumPy.
"""

from __future__ import annotations

import numbers

from . import backend


def array(x, name: str, ndim: int | None = None, layout: str | None = None):
    """Check that ``x`` is a NumPy/CuPy array (of ``ndim`` dimensions when given).

    ``layout`` names the axes for the message, e.g. ``"(N, C, H, W)"``.
    """
    if not backend.is_array(x):
        raise TypeError(f"{name} must be a NumPy or CuPy array; got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        expected = f"a {ndim}-D array {layout}" if layout else f"a {ndim}-D array"
        raise ValueError(f"{name} must be {expected}; got shape {tuple(x.shape)}")
    return x


def floating(x, name: str):
    """Check that ``x`` holds floating-point numbers (gradients need them)."""
    if x.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point numbers; got dtype {x.dtype}")
    return x


def same_shape(a, b, name_a: str, name_b: str) -> None:
    """Check that two arrays have the same shape."""
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def integer(value, name: str, minimum: int | None = None) -> int:
    """Check that ``value`` is an integer (not a bool) of at least ``minimum``."""
    # A plain int (type() is int: a bool is not) skips the abstract-class checks, which cost more
    # than a small convolution's arithmetic; kernels check their sizes at every call.
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
        value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value}")
    return value


def pair(value, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as ``(rows, cols)``, each at least ``minimum``.

    >>> pair(2, "stride", 1)
    (2, 2)
    """
    values = value if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair (rows, cols); got {value!r}")
    return tuple(integer(v, name, minimum) for v in values)


def real(value, name: str, low: float | None = None, high: float | None = None,
         low_open: bool = False) -> float:
    """Check that ``value`` is a finite real number in [low, high] ((low, high] if low_open)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and value > high
    if value != value or bad_low or bad_high or value in (float("inf"), float("-inf")):
        left = "(" if low_open else "["
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must be in {left}{lo}, {hi}]; got {value!r}")
    return value


def _integer_labels(y, name: str) -> None:
    """Check that y is a 1-D array of integer class labels."""
    array(y, name, ndim=1, layout="(N,)")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels; got dtype {y.dtype}")


def samples(X, y, x_name: str = "X", y_name: str = "y"):
    """Check (N, ...) samples X and their (N,) integer class labels y; return them."""
    array(X, x_name)
    _integer_labels(y, y_name)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{y_name} must have one label per sample of {x_name}, shape ({X.shape[0]},); "
                         f"got {tuple(y.shape)}")
    return X, y


def labels(y, name: str, n_samples: int, n_classes: int):
    """Check integer class labels: shape (n_samples,), values in 0..n_classes-1."""
    _integer_labels(y, name)
    if y.shape[0] != n_samples:
        raise ValueError(f"{name} must have one label per sample, shape ({n_samples},); got {tuple(y.shape)}")
    if y.size:
        # One read-back for both ends: on a GPU every int() of a device value waits for it.
        low, high = backend.asnumpy(backend.get_array_module(y).stack([y.min(), y.max()])).tolist()
        if low < 0 or high >= n_classes:
            raise ValueError(
                f"{name} must be class indices in 0..{n_classes - 1}; got values from {low} to {high}"
            )
    return y


def finite_scalar(value, name: str):
    """Raise ``ValueError`` when a computed scalar such as a loss is NaN or infinite."""
    v = float(value)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(
            f"{name} is {v}: the computation overflowed or received NaN/inf. "
            "Check the inputs for NaN/inf; during training this usually means the learning rate is too large."
        )
    return value
