"""Compare a student's result with the expected one and say, in one line, what differs.

:func:`difference` returns ``None`` when the two agree and otherwise a short message a
student can act on::

    wrong shape: expected (2, 3, 4, 4), got (2, 3, 5, 5)
    wrong dtype: expected float32, got float64
    values differ: max abs error 0.37 at [0, 1, 2, 2] (expected 1.25, got 0.88); 12 of 96 entries differ
    dW: wrong shape: expected (3, 4), got (4, 3)

Arrays are compared with a tolerance (``|got - expected| <= atol + rtol |expected|``), so any
correct implementation passes whatever order it adds things in. Integers, booleans and strings
must match exactly. Tuples and lists are interchangeable (a function documented to return a
tuple may return a list); dicts must have the same keys.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from .plain import Opaque

__all__ = ["difference", "float_precision_change", "DTYPE_MODES"]

#: How strictly array dtypes must match: ``"exact"`` (float32 is not float64, int32 is not
#: int64), ``"float"`` (the course's rule: float vs integer vs bool must match, and a floating
#: result has the expected precision, so float32 in gives float32 out; integers of any width),
#: ``"kind"`` (float vs integer vs bool, any precision) or ``"any"`` (values only).
DTYPE_MODES = ("exact", "float", "kind", "any")

# Above the tolerance an exercise asks for, a float32 or float16 result may be off by its own
# rounding: this many units in the last place, relative to the largest expected magnitude.
_ULPS = 100


def difference(expected, got, *, rtol: float = 1e-6, atol: float = 1e-8, dtype: str = "float",
               names=None) -> str | None:
    """What differs between ``got`` and ``expected``, or None when they agree.

    Args:
        expected: the reference result: an array, a number, a bool, a str, None, or a
            tuple/list/dict of those (nested freely).
        got: the student's result.
        rtol, atol: relative and absolute tolerance for floating-point values.
        dtype: one of :data:`DTYPE_MODES`.
        names: names of the items of a top-level tuple, e.g. ``("dx", "dW", "db")``, used to
            say which item is wrong.

    Returns:
        None, or a one-line message such as ``"values differ: max abs error 0.37 at [0, 1]
        (expected 1.25, got 0.88)"``, prefixed with the item's name or position when the
        difference is inside a tuple, list or dict.
    """
    if dtype not in DTYPE_MODES:
        raise ValueError(f"dtype must be one of {DTYPE_MODES}; got {dtype!r}")
    return _diff(expected, got, rtol, atol, dtype, names)


def _diff(expected, got, rtol, atol, dtype, names):
    if expected is None:
        return None if got is None else f"expected None, got {_kind(got)}"
    if got is None:
        return "your function returned None: did you forget `return`?"
    if backend.is_array(expected):
        return _diff_array(backend.asnumpy(expected), got, rtol, atol, dtype)
    if isinstance(expected, (bool, np.bool_)):
        return _diff_bool(bool(expected), got)
    if isinstance(expected, numbers.Integral):
        return _diff_int(int(expected), got)
    if isinstance(expected, numbers.Real):
        return _diff_real(float(expected), got, rtol, atol)
    if isinstance(expected, (tuple, list)):
        return _diff_sequence(expected, got, rtol, atol, dtype, names)
    if isinstance(expected, dict):
        return _diff_dict(expected, got, rtol, atol, dtype)
    if isinstance(expected, str):
        return None if got == expected else f"expected {expected!r}, got {_short(got)}"
    # Anything else (a class instance, a dtype, ...) must simply compare equal.
    try:
        same = bool(got == expected)
    except Exception:  # an object whose == raises or is ambiguous: not equal
        same = False
    return None if same else f"expected {_short(expected)}, got {_short(got)}"


# --- arrays -------------------------------------------------------------------------------------

def _diff_array(expected: np.ndarray, got, rtol, atol, dtype):
    if not backend.is_array(got):
        what = f"a {expected.ndim}-D NumPy array of shape {tuple(expected.shape)}"
        if isinstance(got, (list, tuple)):
            return f"expected {what}, got a {type(got).__name__}: convert it with np.array(...)"
        return f"expected {what}, got {_kind(got)}"
    got = backend.asnumpy(got)
    if got.shape != expected.shape:
        return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
    message = _diff_dtype(expected.dtype, got.dtype, dtype)
    values = _diff_values(expected, got, rtol, atol) if expected.size else None
    # Say both when both are wrong: fixing the dtype alone would not be enough.
    return "; ".join(m for m in (message, values) if m) or None


def _dtype_kind(dt) -> str:
    return {"f": "floating-point", "i": "integer", "u": "integer", "b": "bool",
            "c": "complex"}.get(dt.kind, str(dt))


def _diff_dtype(expected, got, mode):
    both_floating = expected.kind == "f" and got.kind == "f"
    if expected != got and (mode == "exact" or (mode == "float" and both_floating)):
        return f"wrong dtype: expected {expected}, got {got}"
    if mode in ("float", "kind") and _dtype_kind(expected) != _dtype_kind(got):
        return f"wrong dtype: expected {_dtype_kind(expected)} numbers ({expected}), got {got}"
    return None


def _diff_values(expected: np.ndarray, got: np.ndarray, rtol, atol):
    numeric = "fiuc"
    if expected.dtype.kind not in numeric or got.dtype.kind not in numeric:
        # bool or object arrays: only equality makes sense
        bad = expected != got
        if not bad.any():
            return None
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        return (f"values differ at {_index(where)} (expected {_short(expected[where])}, "
                f"got {_short(got[where])}); {int(bad.sum())} of {bad.size} entries differ")
    if expected.dtype.kind in "iu" and got.dtype.kind in "iu":
        rtol = atol = 0.0  # integers are exact
    exp = expected.astype(np.complex128 if "c" in (expected.dtype.kind + got.dtype.kind) else np.float64)
    g = got.astype(exp.dtype)
    # A float32 result (or reference) carries its own rounding error; never ask for more
    # than it can hold.
    low = [a.dtype for a in (expected, got) if a.dtype.kind in "fc" and np.finfo(a.dtype).eps > 1e-10]
    if low:
        eps = max(float(np.finfo(d).eps) for d in low) * _ULPS
        finite = np.abs(exp[np.isfinite(exp)])
        scale = float(finite.max()) if finite.size else 0.0
        rtol, atol = max(rtol, eps), max(atol, eps * scale)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.isclose(g, exp, rtol=rtol, atol=atol, equal_nan=True)
        if ok.all():
            return None
        err = np.abs(g - exp)
    # The worst mismatch: NaN/inf counts as infinitely far off.
    err = np.where(ok, -1.0, np.nan_to_num(err.real if err.dtype.kind == "c" else err,
                                           nan=np.inf, posinf=np.inf))
    where = np.unravel_index(int(np.argmax(err)), err.shape)
    if np.isnan(got[where]):
        head = "values differ: got nan"
    else:
        size = err[where]
        head = f"values differ: max abs error {size:.3g}" if np.isfinite(size) else \
            "values differ: max abs error inf"
    if got.ndim:
        head += f" at {_index(where)}"
    n_bad = int((~ok).sum())
    tail = f"; {n_bad} of {ok.size} entries differ" if ok.size > 1 else ""
    return f"{head} (expected {_short(expected[where])}, got {_short(got[where])}){tail}"


def float_precision_change(expected, got):
    """``(expected dtype, got dtype)`` of the first floating array in ``got`` whose precision
    differs from the matching array of ``expected`` (e.g. float64 for float32), or None.

    Walks tuples, lists and dicts like :func:`difference`; anything it cannot match is skipped.
    """
    if backend.is_array(expected) and backend.is_array(got):
        e, g = np.dtype(expected.dtype), np.dtype(got.dtype)
        return (e, g) if e.kind == "f" and g.kind == "f" and e != g else None
    if isinstance(expected, (tuple, list)) and isinstance(got, (tuple, list)):
        pairs = zip(expected, got)
    elif isinstance(expected, dict) and isinstance(got, dict):
        pairs = ((v, got[k]) for k, v in expected.items() if k in got)
    else:
        return None
    for e, g in pairs:
        found = float_precision_change(e, g)
        if found:
            return found
    return None


# --- scalars ------------------------------------------------------------------------------------

def _as_number(got):
    """A Python number from a Python/NumPy scalar or a 0-d array; None for anything else."""
    if backend.is_array(got):
        if got.ndim != 0:
            return None
        got = backend.asnumpy(got)[()]
    if isinstance(got, (bool, np.bool_)):
        return got
    if isinstance(got, numbers.Number):
        return got
    return None


def _diff_bool(expected: bool, got):
    value = _as_number(got)
    if not isinstance(value, (bool, np.bool_)):
        return f"expected {expected} (a bool), got {_kind(got)}"
    return None if bool(value) == expected else f"expected {expected}, got {bool(value)}"


def _diff_int(expected: int, got):
    value = _as_number(got)
    if value is None or isinstance(value, (bool, np.bool_)):
        return f"expected the integer {expected}, got {_kind(got)}"
    if not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value) == expected:
            return (f"expected the integer {expected}, got {type(value).__name__} {_short(value)}: "
                    "return an int, not a float")
        return f"expected {expected}, got {_short(value)}"
    return None if int(value) == expected else f"expected {expected}, got {int(value)}"


def _diff_real(expected: float, got, rtol, atol):
    value = _as_number(got)
    if value is None or isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return f"expected a number close to {_short(expected)}, got {_kind(got)}"
    value = float(value)
    if np.isnan(expected) and np.isnan(value):
        return None
    if abs(value - expected) <= atol + rtol * abs(expected):
        return None
    return f"expected {_short(expected)}, got {_short(value)} (error {abs(value - expected):.3g})"


# --- containers ---------------------------------------------------------------------------------

def _diff_sequence(expected, got, rtol, atol, dtype, names):
    kind = type(expected).__name__
    if not isinstance(got, (tuple, list)):
        return f"expected a {kind} of {len(expected)} items, got {_kind(got)}"
    if len(got) != len(expected):
        return f"expected a {kind} of {len(expected)} items, got {len(got)} items"
    for i, (e, g) in enumerate(zip(expected, got)):
        message = _diff(e, g, rtol, atol, dtype, None)
        if message:
            label = names[i] if names and i < len(names) else f"item {i}"
            return f"{label}: {message}"
    return None


def _diff_dict(expected: dict, got, rtol, atol, dtype):
    if not isinstance(got, dict):
        return f"expected a dict with keys {sorted(map(str, expected))}, got {_kind(got)}"
    missing = [k for k in expected if k not in got]
    extra = [k for k in got if k not in expected]
    if missing or extra:
        parts = ([f"missing keys {missing}"] if missing else []) + ([f"unexpected keys {extra}"] if extra else [])
        return "dict keys differ: " + ", ".join(parts)
    for key, e in expected.items():
        message = _diff(e, got[key], rtol, atol, dtype, None)
        if message:
            return f"[{key!r}]: {message}"
    return None


# --- formatting ---------------------------------------------------------------------------------

def _index(where) -> str:
    return "[" + ", ".join(str(int(i)) for i in where) + "]"


def _short(value) -> str:
    """A compact, stable rendering of a number or small object (4 significant digits)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, numbers.Complex):
        return f"{complex(value):.4g}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value) -> str:
    """Describe what a value is, for 'expected X, got Y' messages."""
    if value is None:
        return "None"
    if isinstance(value, Opaque):  # what a submission's function returned that is not plain data
        return value.kind
    if backend.is_array(value):
        return f"an array of shape {tuple(value.shape)} ({value.dtype})"
    if isinstance(value, (bool, np.bool_, numbers.Number, str)):
        return f"{type(value).__name__} {_short(value)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"
