"""Stateless network operations as forward/backward pairs (``cl.F``).

The contract, the same for every layer::

    out, cache = something_forward(x, ...)     # cache: whatever backward needs
    dx, ...    = something_backward(dout, cache)

``dout`` is dL/d(out), shaped like ``out``; each returned gradient is shaped like the input
it belongs to. Layout is NCHW; linear weights are (D_out, D_in) so ``out = x @ W.T + b``
(the lecture notes' ``W x`` for one column sample). The convolution and pooling kernels live in
:mod:`cnnlab.conv` and :mod:`cnnlab.pooling` and are re-exported here. The per-sample losses of
lesson 01 and the L2 penalty of lesson 09 are plain functions.
"""

from __future__ import annotations

import numpy as np

from . import _checks, _scratch, backend
from .conv import conv2d_backward, conv2d_forward, conv_output_size
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward

__all__ = [
    "avgpool2d_backward", "avgpool2d_forward", "conv2d_backward", "conv2d_forward",
    "conv_output_size", "dropout_backward", "dropout_forward", "flatten_backward",
    "flatten_forward", "hinge_loss", "l1_loss", "l2_loss", "l2_penalty", "linear_backward",
    "linear_forward", "maxpool2d_backward", "maxpool2d_forward", "relu_backward", "relu_forward",
    "softmax_cross_entropy", "zero_one_loss",
]


# --- linear ---------------------------------------------------------------------------------

def linear_forward(x, W, b):
    """Affine layer ``out = x @ W.T + b``.

    Args:
        x: (N, D_in) inputs, one row per sample.
        W: (D_out, D_in) weights.
        b: (D_out,) biases.

    Returns:
        out (N, D_out) and the cache ``(x, W)``.
    """
    _checks.array(x, "x", ndim=2, layout="(N, D_in)")
    _checks.array(W, "W", ndim=2, layout="(D_out, D_in)")
    _checks.array(b, "b", ndim=1, layout="(D_out,)")
    if W.shape[1] != x.shape[1]:
        raise ValueError(
            f"W must have shape (D_out, {x.shape[1]}) to match x of shape {tuple(x.shape)}; "
            f"got {tuple(W.shape)}"
        )
    if b.shape[0] != W.shape[0]:
        raise ValueError(f"b must have shape ({W.shape[0]},), one bias per output; got {tuple(b.shape)}")
    return x @ W.T + b, (x, W)


def linear_backward(dout, cache, *, need_dx=True):
    """Gradients of the affine layer.

    Args:
        dout: (N, D_out) upstream gradient.
        cache: ``(x, W)`` from :func:`linear_forward`.
        need_dx: False skips the input gradient (returned as None), e.g. for a first layer.

    Returns:
        dx (N, D_in) = dout W (or None), dW (D_out, D_in) = dout^T x, db (D_out,) = sum of dout
        over the batch.
    """
    x, W = cache
    return (dout @ W if need_dx else None), dout.T @ x, dout.sum(axis=0)


# --- ReLU ---------------------------------------------------------------------------------------

def relu_forward(x):
    """Rectified linear unit ``max(0, x)``, elementwise; any shape. Cache: the input."""
    _checks.array(x, "x")
    xp = backend.get_array_module(x)
    # Against an array of zeros rather than the scalar 0: same result, four times faster on
    # NumPy (see cnnlab._scratch.zeros).
    return xp.maximum(x, _scratch.zeros(x.shape, x.dtype, xp)), x


def relu_backward(dout, cache):
    """Pass ``dout`` where the input was positive, zero elsewhere (the subgradient 0 at x = 0)."""
    x = cache
    return dout * (x > 0)


# --- flatten ------------------------------------------------------------------------------------

def flatten_forward(x):
    """Reshape (N, ...) to (N, D), D the product of the other axes. Cache: the input shape."""
    _checks.array(x, "x")
    if x.ndim < 1:
        raise ValueError(f"x must have a batch axis, shape (N, ...); got shape {tuple(x.shape)}")
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """Reshape the (N, D) gradient back to the input's shape."""
    return dout.reshape(cache)


# --- dropout ------------------------------------------------------------------------------------

def dropout_forward(x, keep, train=True, rng=None, inverted=True):
    """Dropout: keep each unit with probability ``keep`` during training.

    Two conventions give the same expected activation at training and test time:

    * ``inverted=True`` (what frameworks do): training multiplies the kept units by 1/keep,
      test time is the identity;
    * ``inverted=False`` (the classic form, Srivastava et al.): training only zeroes dropped
      units, test time multiplies every unit by ``keep``.

    Args:
        x: array of any shape.
        keep: probability of keeping a unit, in (0, 1].
        train: training mode (draw a mask) or test mode (deterministic scaling).
        rng: a ``numpy.random.Generator``, an int seed, or None for ``backend.rng()``.
        inverted: which convention, see above.

    Returns:
        out shaped like ``x``, and the cache ``(scale, mode)`` where ``scale`` is the array
        (training) or number (test) that ``x`` was multiplied by.
    """
    _checks.array(x, "x")
    keep = _checks.real(keep, "keep", low=0.0, high=1.0, low_open=True)
    xp = backend.get_array_module(x)
    if not train:
        scale = 1.0 if inverted else keep
        return x * x.dtype.type(scale), (scale, "test")
    gen = backend.as_generator(rng)
    # Draw on the host with the seeded NumPy generator, so a seed gives the same mask on
    # every backend; one uniform per unit, kept when below ``keep``.
    kept = xp.asarray(gen.random(x.shape) < keep)
    scale = kept.astype(x.dtype) * x.dtype.type(1.0 / keep if inverted else 1.0)
    return x * scale, (scale, "train")


def dropout_backward(dout, cache):
    """The gradient is scaled exactly as the activations were (the same mask, not a new one)."""
    scale, mode = cache
    return dout * (scale if mode == "train" else dout.dtype.type(scale))


# --- losses -------------------------------------------------------------------------------------

def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of the softmax of ``logits`` against integer labels, and its gradient.

    ``L = -(1/N) sum_n log softmax(logits_n)[y_n]``, computed from logits shifted by their row
    maximum (log-sum-exp), so huge logits neither overflow nor underflow.

    Args:
        logits: (N, K) class scores.
        y: (N,) integer labels in 0..K-1.

    Returns:
        loss (a Python float) and dlogits (N, K) = (softmax(logits) - onehot(y)) / N.
    """
    _checks.array(logits, "logits", ndim=2, layout="(N, K)")
    _checks.floating(logits, "logits")
    _checks.labels(y, "y", logits.shape[0], logits.shape[1])
    xp = backend.get_array_module(logits)
    if not bool(xp.isfinite(logits).all()):
        raise ValueError("logits contain NaN or inf; the forward pass diverged (is the learning rate too large?)")
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    loss = float(-log_probs[rows, y].sum() / n)
    dlogits = xp.exp(log_probs)
    dlogits[rows, y] -= 1
    return _checks.finite_scalar(loss, "loss"), dlogits / n


def _loss_inputs(y_hat, y):
    _checks.array(y_hat, "y_hat")
    _checks.array(y, "y")
    _checks.same_shape(y_hat, y, "y_hat", "y")
    xp = backend.get_array_module(y_hat, y)
    if not (bool(xp.isfinite(y_hat).all()) and bool(xp.isfinite(y).all())):
        raise ValueError("y_hat and y must be finite; got NaN or inf")
    return xp


def l1_loss(y_hat, y):
    """Per-sample absolute error ``|y_hat - y|``, shaped like the inputs (take ``.mean()`` for the risk)."""
    xp = _loss_inputs(y_hat, y)
    return xp.abs(y_hat - y)


def l2_loss(y_hat, y):
    """Per-sample squared error ``(y_hat - y)^2``, shaped like the inputs."""
    _loss_inputs(y_hat, y)
    return (y_hat - y) ** 2


def zero_one_loss(y_hat, y):
    """Per-sample 0-1 loss: 1.0 where the prediction differs from the label, 0.0 where it equals it.

    Piecewise constant, so its gradient is zero almost everywhere: useful to report, useless to
    descend on.
    """
    _loss_inputs(y_hat, y)
    return (y_hat != y).astype(float)


def hinge_loss(score, y):
    """Per-sample hinge loss ``max(0, 1 - y * score)`` for labels y in {-1, +1}."""
    xp = _loss_inputs(score, y)
    if not bool(xp.isin(y, xp.asarray([-1, 1])).all()):
        raise ValueError("y must hold labels -1 or +1 for the hinge loss; got other values")
    return xp.maximum(0, 1 - y * score)


# --- L2 regularisation --------------------------------------------------------------------------

def l2_penalty(weights, lam: float):
    """The L2 penalty ``lam/2 * sum_k ||W_k||^2`` over a list of arrays, and its gradients
    (weight decay with strength ``lam`` is gradient descent on it, lesson 09).

    Args:
        weights: a list (or tuple) of float arrays of any shapes.
        lam: the regularisation strength lambda >= 0.

    Returns:
        ``(value, grads)``: value a Python float (summed in float64), grads a list of arrays
        ``lam * W_k``, each shaped and typed like its ``W_k``.
    """
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"weights must be a list of arrays; got {type(weights).__name__}")
    lam = _checks.real(lam, "lam", low=0.0)
    value = 0.0
    for i, w in enumerate(weights):
        _checks.array(w, f"weights[{i}]")
        _checks.floating(w, f"weights[{i}]")
        value += float((backend.asnumpy(w).astype(np.float64) ** 2).sum())
    return lam / 2 * value, [w * w.dtype.type(lam) for w in weights]
