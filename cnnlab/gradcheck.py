"""Numerical gradients, to check hand-written backward passes.

Central differences in float64::

    df/dx_i  ~  (f(x + h e_i) - f(x - h e_i)) / (2 h)

have error O(h^2), so with h = 1e-5 a correct backward agrees to about 1e-8 relative error
(1e-6 is a safe pass mark; around 1e-2 something is wrong). Every input is converted to float64
first: float32 rounding (about 1e-7 relative) would swamp the differences.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from . import _checks, backend

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error", "check_backward",
           "check_directional"]


def numerical_gradient(f: Callable, x, h: float = 1e-5):
    """Gradient of the scalar function ``f`` at ``x`` by central differences.

    Args:
        f: called as ``f(x)``; returns a scalar. ``x`` is perturbed in place, one entry at a time.
        x: float array of any shape; left exactly as it was on return.
        h: step size.

    Returns:
        array shaped like ``x``: entry i is (f(x + h e_i) - f(x - h e_i)) / (2h).
    """
    return numerical_gradient_array(lambda v: np.asarray(f(v), dtype=np.float64), x, 1.0, h)


def numerical_gradient_array(f: Callable, x, dout, h: float = 1e-5):
    """Gradient of ``sum(f(x) * dout)`` at ``x``: the vector-Jacobian product a backward computes.

    Args:
        f: called as ``f(x)``; returns an array shaped like ``dout`` (or a scalar when dout is 1).
        x: float array (modified in place during the call, restored on return).
        dout: upstream gradient dL/d f(x).
        h: step size.

    Returns:
        array shaped like ``x``.
    """
    _checks.array(x, "x")
    _checks.floating(x, "x")
    xp = backend.get_array_module(x)
    grad = xp.zeros(x.shape, dtype=np.float64)
    if not x.flags.c_contiguous:  # reshape(-1) must be a view, so that edits reach x
        raise ValueError("x must be a C-contiguous array so it can be perturbed in place")
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i].item()
        try:
            flat_x[i] = old + h
            plus = _snapshot(f(x))
            flat_x[i] = old - h
            minus = _snapshot(f(x))
        finally:
            flat_x[i] = old
        flat_g[i] = xp.sum((plus - minus) * dout) / (2 * h)
    return grad


def _snapshot(value):
    """A copy of f's output: it may be a view of x (reshape, flatten), which the next edit of x changes."""
    return value.copy() if backend.is_array(value) else value


def rel_error(a, b, eps: float = 1e-12) -> float:
    """Largest elementwise relative error ``|a - b| / max(|a| + |b|, eps)``, as a float.

    About 1e-7 or less means two gradients agree; scale-free, so it works for tiny and huge values.
    """
    a = backend.asnumpy(a).astype(np.float64)
    b = backend.asnumpy(b).astype(np.float64)
    _checks.same_shape(a, b, "a", "b")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), eps)))


def _as_tuple(grads):
    return tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)


def _float64_inputs(inputs: Sequence):
    return [x.astype(np.float64) if backend.is_array(x) and x.dtype.kind == "f" else x
            for x in inputs]


def check_backward(forward: Callable, backward: Callable, inputs: Sequence, wrt=None,
                   h: float = 1e-5, tol: float = 1e-6, seed: int = 0) -> list[float]:
    """Compare ``backward`` with central differences of ``forward``; raise if they disagree.

    Args:
        forward: ``forward(*inputs) -> (out, cache)``.
        backward: ``backward(dout, cache)`` -> one gradient or a tuple, one per input in ``wrt``.
        inputs: the arguments of ``forward``; float arrays are converted to float64.
        wrt: indices of the inputs the gradients belong to, in ``backward``'s order
            (default: every array input, in order).
        h, tol: finite-difference step and largest relative error allowed.
        seed: seed of the random upstream gradient ``dout``.

    Returns:
        the relative error of each gradient.
    """
    inputs = _float64_inputs(inputs)
    if wrt is None:
        wrt = [i for i, x in enumerate(inputs) if backend.is_array(x)]
    out, cache = forward(*inputs)
    xp = backend.get_array_module(out)
    dout = xp.asarray(np.random.default_rng(seed).standard_normal(out.shape))
    grads = _as_tuple(backward(dout, cache))
    if len(grads) != len(wrt):
        raise ValueError(f"backward returned {len(grads)} gradients; expected {len(wrt)} (one per wrt)")
    errors = []
    for grad, i in zip(grads, wrt):
        def f(v, i=i):
            args = list(inputs)
            args[i] = v
            return forward(*args)[0]
        numeric = numerical_gradient_array(f, inputs[i], dout, h)
        err = rel_error(grad, numeric)
        if not err <= tol:
            raise AssertionError(f"gradient of input {i} is off: relative error {err:.2e} > {tol:.0e}")
        errors.append(err)
    return errors


def check_directional(forward: Callable, backward: Callable, inputs: Sequence, wrt=None,
                      n_directions: int = 3, h: float = 1e-5, tol: float = 1e-6,
                      seed: int = 0) -> list[float]:
    """Like :func:`check_backward`, but along random directions: cheap for large inputs.

    For a random direction v (all inputs in ``wrt`` moved together) the derivative of
    ``sum(forward(inputs + t v) * dout)`` at t = 0 is estimated by central differences in t
    and compared with ``sum(grad * v)`` from ``backward``. Two forward calls per direction,
    whatever the input size.

    Returns:
        the relative error for each direction.
    """
    inputs = _float64_inputs(inputs)
    if wrt is None:
        wrt = [i for i, x in enumerate(inputs) if backend.is_array(x)]
    gen = np.random.default_rng(seed)
    out, cache = forward(*inputs)
    xp = backend.get_array_module(out)
    dout = xp.asarray(gen.standard_normal(out.shape))
    grads = _as_tuple(backward(dout, cache))
    if len(grads) != len(wrt):
        raise ValueError(f"backward returned {len(grads)} gradients; expected {len(wrt)} (one per wrt)")
    errors = []
    for _ in range(n_directions):
        dirs = {i: xp.asarray(gen.standard_normal(inputs[i].shape)) for i in wrt}

        def moved(t):
            args = list(inputs)
            for i, v in dirs.items():
                args[i] = inputs[i] + t * v
            return float(xp.sum(forward(*args)[0] * dout))

        numeric = (moved(h) - moved(-h)) / (2 * h)
        analytic = sum(float(xp.sum(g * dirs[i])) for g, i in zip(grads, wrt))
        err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-12)
        if not err <= tol:
            raise AssertionError(
                f"directional derivative is off: backward gives {analytic:.6g}, "
                f"finite differences {numeric:.6g} (relative error {err:.2e} > {tol:.0e})"
            )
        errors.append(err)
    return errors
