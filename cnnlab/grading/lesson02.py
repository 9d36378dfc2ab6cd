"""Lesson 02 "Backprop for a chain of functions": layers as forward/backward pairs.

* ``linear_forward(x, W, b) -> (out, cache)``, ``linear_backward(dout, cache) -> (dx, dW, db)``:
  out = x W^T + b with x (N, D_in), W (D_out, D_in), b (D_out,).
* ``relu_forward(x) -> (out, cache)``, ``relu_backward(dout, cache) -> dx``.
* ``backprop_chain(layers, x, dloss) -> list``: run the chain forward, then its backward modules
  in reverse order, returning each layer's parameter-gradient dict in forward order.
* ``numerical_gradient(f, x, h=1e-5) -> ndarray``: central differences, x left as it was.
* ``softmax_cross_entropy(logits, y) -> (loss, dlogits)``: the mean of -log softmax(logits)[y] and
  its gradient (softmax - onehot(y)) / N, finite for logits of any size (log-sum-exp); loss and
  dlogits keep the dtype of logits.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import functional as F
from .. import gradcheck
from . import plain
from .core import Case, CheckFailure, Draw, Mistake, call_backward, call_forward, exercise, normal

# --- linear_forward / linear_backward ---------------------------------------------------------


def _linear_case(note, n, d_in, d_out, backward=False, dtype=np.float64):
    inputs = dict(x=normal(n, d_in, dtype=dtype), W=normal(d_out, d_in, dtype=dtype), b=normal(d_out, dtype=dtype))
    if backward:
        inputs["dout"] = normal(n, d_out, dtype=dtype)
    return Case(note, **inputs)


_HAND_X = np.array([[1.0, 2.0]])
_HAND_W = np.array([[1.0, 0.0], [-1.0, 3.0], [2.0, 1.0]])
_HAND_B = np.array([0.5, 0.0, -1.0])  # out = [1.5, 5, 3]


@exercise(
    "linear_forward", points=1,
        implemented_by=("cnnlab.functional.linear_forward", "cnnlab.nn.Linear", "cnnlab.autograd.linear"),
        call=call_forward,
    cases=[
        _linear_case("", 4, 5, 3),
        Case("worked out by hand: [1, 2] -> [1.5, 5, 3]", x=_HAND_X.copy(), W=_HAND_W.copy(),
             b=_HAND_B.copy(), expected=np.array([[1.5, 5.0, 3.0]])),
        _linear_case("square W (D_in = D_out)", 3, 4, 4),
        _linear_case("one sample", 1, 6, 2),
        _linear_case("one output", 5, 3, 1),
        Case("float32 stays float32", x=normal(2, 3, dtype=np.float32), W=normal(4, 3, dtype=np.float32),
             b=normal(4, dtype=np.float32)),
    ],
    mistakes=[
        Mistake("transposed W: W has shape (D_out, D_in), so out = x @ W.T + b (x @ W multiplies by "
                "the transpose)", lambda x, W, b: (x @ W + b, None)),
        Mistake("out must have shape (N, D_out), one row per sample: x @ W.T + b, not W @ x.T",
                lambda x, W, b: (W @ x.T + b[:, None], None)),
        Mistake("the bias b is missing: out = x @ W.T + b", lambda x, W, b: (x @ W.T, None)),
    ],
)
def _linear_forward(x, W, b):
    return F.linear_forward(x, W, b)


def _wrong_backward(fn):
    """A mistake model for linear_backward given as ``fn(dout, x, W)`` on the reference cache."""
    def backward(dout, cache):
        x, W = cache[0], cache[1]
        return fn(dout, x, W)
    return backward


@exercise(
    "linear_backward", points=2,
        implemented_by=("cnnlab.functional.linear_backward", "cnnlab.nn.Linear", "cnnlab.autograd.linear"),
        call=call_backward, partners={"forward": F.linear_forward},
    output_names=("dx", "dW", "db"),
    cases=[
        _linear_case("", 4, 5, 3, backward=True),
        Case("worked out by hand: dx = dout W, dW = dout^T x, db = dout", x=_HAND_X.copy(),
             W=_HAND_W.copy(), b=_HAND_B.copy(), dout=np.array([[1.0, -1.0, 2.0]]),
             expected=(np.array([[6.0, -1.0]]), np.array([[1.0, 2.0], [-1.0, -2.0], [2.0, 4.0]]),
                       np.array([1.0, -1.0, 2.0]))),
        _linear_case("square W (D_in = D_out)", 3, 4, 4, backward=True),
        _linear_case("one sample", 1, 3, 2, backward=True),
        _linear_case("a batch of 7", 7, 2, 5, backward=True),
        _linear_case("float32 gradients stay float32", 3, 4, 2, backward=True, dtype=np.float32),
    ],
    mistakes=[
        Mistake("transposed W: out = x W^T + b, so dx = dout @ W (shape (N, D_in)) and "
                "dW = dout.T @ x (shape (D_out, D_in), like W)",
                _wrong_backward(lambda dout, x, W: (dout @ W.T, x.T @ dout, dout.sum(axis=0)))),
        Mistake("transposed W: dW must have W's shape (D_out, D_in): dW = dout.T @ x",
                _wrong_backward(lambda dout, x, W: (dout @ W, x.T @ dout, dout.sum(axis=0)))),
        Mistake("transposed W: dx = dout @ W, which has x's shape (N, D_in)",
                _wrong_backward(lambda dout, x, W: (dout @ W.T, dout.T @ x, dout.sum(axis=0)))),
        Mistake("db not summed over batch: the bias is added to every sample's output, so its "
                "gradient is the sum of dout over the batch axis: db = dout.sum(axis=0)",
                _wrong_backward(lambda dout, x, W: (dout @ W, dout.T @ x, dout))),
        Mistake("db not summed over batch: sum dout over the samples (axis 0); the mean is N times "
                "too small", _wrong_backward(lambda dout, x, W: (dout @ W, dout.T @ x, dout.mean(axis=0)))),
        Mistake("db not summed over batch: sum over axis 0 (the samples), not over axis 1",
                _wrong_backward(lambda dout, x, W: (dout @ W, dout.T @ x, dout.sum(axis=1)))),
        Mistake("dx shape: dx must have x's shape (N, D_in): dx = dout @ W, not its transpose",
                _wrong_backward(lambda dout, x, W: (W.T @ dout.T, dout.T @ x, dout.sum(axis=0)))),
        Mistake("dW must be summed over the batch too: dout.T @ x adds up every sample's outer "
                "product; you used only the first sample",
                _wrong_backward(lambda dout, x, W: (dout @ W, np.outer(dout[0], x[0]), dout.sum(axis=0)))),
    ],
)
def _linear_backward(dout, cache):
    return F.linear_backward(dout, cache)


# --- relu_forward / relu_backward ------------------------------------------------------------------

_HAND_RELU = np.array([[-2.0, 0.0, 3.0], [1.5, -0.5, 0.0]])


@exercise(
    "relu_forward", points=1,
        implemented_by=("cnnlab.functional.relu_forward", "cnnlab.nn.ReLU", "cnnlab.autograd.relu"),
        call=call_forward,
    cases=[
        Case(x=normal(4, 5)),
        Case("worked out by hand, zeros included", x=_HAND_RELU.copy(),
             expected=np.array([[0.0, 0.0, 3.0], [1.5, 0.0, 0.0]])),
        Case("all negative: all zeros", x=Draw(lambda rng: -rng.uniform(0.1, 2.0, (3, 3)))),
        Case("a 4-D batch of feature maps", x=normal(2, 3, 4, 4)),
        Case("float32 stays float32", x=normal(6, dtype=np.float32)),
    ],
    mistakes=[
        Mistake("np.max(x, 0) is the largest entry along axis 0; np.maximum(x, 0) takes the maximum "
                "elementwise", lambda x: (np.max(x, 0), None)),
        Mistake("ReLU keeps the positive part: max(x, 0), not min(x, 0)", lambda x: (np.minimum(x, 0), None)),
        Mistake("ReLU is max(0, x): negative inputs become 0, not their absolute value",
                lambda x: (np.abs(x), None)),
    ],
)
def _relu_forward(x):
    return F.relu_forward(x)


def _relu_case(note, *shape):
    # Normal inputs are never exactly 0, where the two subgradient conventions would differ.
    return Case(note, x=normal(*shape), dout=normal(*shape))


@exercise(
    "relu_backward", points=1,
        implemented_by=("cnnlab.functional.relu_backward", "cnnlab.nn.ReLU", "cnnlab.autograd.relu"),
        call=call_backward, partners={"forward": F.relu_forward},
    cases=[
        _relu_case("", 4, 5),
        Case("worked out by hand: dout passes where x > 0", x=np.array([[-2.0, 1.0, 3.0, -0.5]]),
             dout=np.array([[10.0, 20.0, -30.0, 40.0]]), expected=np.array([[0.0, 20.0, -30.0, 0.0]])),
        _relu_case("a 4-D batch of feature maps", 2, 3, 4, 4),
        Case("all inputs positive: dx = dout", x=Draw(lambda rng: rng.uniform(0.1, 2.0, (3, 4))),
             dout=normal(3, 4)),
        Case("negative upstream gradients", x=normal(5), dout=Draw(lambda rng: -rng.uniform(0.5, 2.0, 5))),
        Case("x exactly 0 gets no gradient (the derivative at 0 is 0); float32 stays float32",
             x=np.array([[0.0, 1.5, -0.0, -1.0], [2.0, 0.0, 0.5, 0.0]], dtype=np.float32),
             dout=np.array([[5.0, 6.0, 7.0, 8.0], [1.0, 2.0, 3.0, 4.0]], dtype=np.float32),
             expected=np.array([[0.0, 6.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0]], dtype=np.float32)),
    ],
    mistakes=[
        Mistake("gradient passed at x = 0: the course takes ReLU's derivative at exactly 0 to be 0, so the "
                "mask is x > 0, not x >= 0", lambda dout, cache: dout * (cache >= 0)),
        Mistake("gradient passed where x < 0: ReLU's output does not change when a negative input "
                "moves, so dx = dout * (x > 0)", lambda dout, cache: dout),
        Mistake("gradient equal to output: dx is dout masked by where x > 0, not the forward output "
                "max(x, 0)", lambda dout, cache: np.maximum(cache, 0)),
        Mistake("gradient equal to output times dout: the local derivative of ReLU is 1 (x > 0) or 0, "
                "so multiply dout by the mask (x > 0), not by max(x, 0)",
                lambda dout, cache: dout * np.maximum(cache, 0)),
        Mistake("that applies ReLU to the gradient; the mask comes from the forward input: "
                "dx = dout * (x > 0)", lambda dout, cache: np.maximum(dout, 0)),
        Mistake("the mask (x > 0) is the local derivative; multiply it by the upstream gradient dout",
                lambda dout, cache: (cache > 0).astype(float)),
    ],
)
def _relu_backward(dout, cache):
    return F.relu_backward(dout, cache)


# --- backprop_chain --------------------------------------------------------------------------------

@plain.catalogue("lesson02.chain_linear", factory=True)
class _Linear:
    """A layer of the checks' chains: forward(x) caches, backward(g) -> (g_prev, {"W", "b"})."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        out, self.cache = F.linear_forward(x, self.W, self.b)
        return out

    def backward(self, g):
        dx, dW, db = F.linear_backward(g, self.cache)
        return dx, {"W": dW, "b": db}

    def __repr__(self):
        return f"Linear{tuple(self.W.shape[::-1])}"


@plain.catalogue("lesson02.chain_relu", factory=True)
class _ReLU:
    """A parameter-free layer: its gradient dict is empty."""

    def forward(self, x):
        out, self.cache = F.relu_forward(x)
        return out

    def backward(self, g):
        return F.relu_backward(g, self.cache), {}

    def __repr__(self):
        return "ReLU()"


@plain.catalogue("lesson02.chain_tanh", factory=True)
class _Tanh:
    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, g):
        return g * (1 - self.out ** 2), {}

    def __repr__(self):
        return "Tanh()"


def _half_squared_error(target, out):
    """dL/d(out) of L = 1/2 ||out - target||^2."""
    return out - target


@plain.catalogue("lesson02.half_squared_error_grad", factory=True)
def _half_squared_error_grad(target):
    """The ``dloss`` of a chain case: out -> out - target, named for the case's line."""
    dloss = functools.partial(_half_squared_error, target)
    dloss.__name__ = "half_squared_error_grad"
    return dloss


_NAMES = {"linear": "lesson02.chain_linear", "relu": "lesson02.chain_relu", "tanh": "lesson02.chain_tanh"}


def _layer(kind, *args):
    """A layer of the checks' chains, from the catalogue (so a kernel can rebuild it)."""
    return plain.named(_NAMES[kind], *args)


def _chain_case(note, n, widths, activation="relu", seed=None, dtype=np.float64):
    """A chain Linear, activation, Linear, ... through ``widths``, with input and target drawn
    (every array of ``dtype``)."""
    def draw(rng, *shape):
        return rng.standard_normal(shape).astype(dtype)

    def make(rng):
        layers = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            if i:
                layers.append(_layer(activation))
            layers.append(_layer("linear", draw(rng, d_out, d_in) / dtype(np.sqrt(d_in)), draw(rng, d_out)))
        target = draw(rng, n, widths[-1])
        return {"layers": layers, "x": draw(rng, n, widths[0]),
                "dloss": plain.named("lesson02.half_squared_error_grad", target)}
    return Case(note, make=make, seed=seed)


def _hand_chain(rng):
    """x = 2 -> 3x -> ReLU -> -z + 1, loss 1/2 out^2: worked out in the lesson."""
    return {"layers": [_layer("linear", np.array([[3.0]]), np.array([0.0])), _layer("relu"),
                       _layer("linear", np.array([[-1.0]]), np.array([1.0]))],
            "x": np.array([[2.0]]), "dloss": plain.named("lesson02.half_squared_error_grad", np.zeros((1, 1)))}


def _forward(layers, x):
    for layer in layers:
        x = layer.forward(x)
    return x


def _forward_order(layers, x, dloss):
    g, grads = dloss(_forward(layers, x)), []
    for layer in layers:
        g, grad = layer.backward(g)
        grads.append(grad)
    return grads


def _not_propagated(layers, x, dloss):
    g, grads = dloss(_forward(layers, x)), []
    for layer in reversed(layers):
        _, grad = layer.backward(g)
        grads.insert(0, grad)
    return grads


def _backward_list_order(layers, x, dloss):
    g, grads = dloss(_forward(layers, x)), []
    for layer in reversed(layers):
        g, grad = layer.backward(g)
        grads.append(grad)
    return grads


def _input_to_every_layer(layers, x, dloss):
    out = x
    for layer in layers:
        out = layer.forward(x)
    g, grads = dloss(out), []
    for layer in reversed(layers):
        g, grad = layer.backward(g)
        grads.insert(0, grad)
    return grads


@exercise(
    "backprop_chain", points=2, implemented_by=("cnnlab.nn.Sequential",),
    cases=[
        _chain_case("Linear, ReLU, Linear; all widths 4", 3, (4, 4, 4)),
        Case("worked out by hand: x = 2, W1 = 3, ReLU, W2 = -1, b2 = 1, L = 1/2 out^2",
             make=_hand_chain, label="layers Linear(1, 1), ReLU, Linear(1, 1); x = 2; worked out by hand",
             expected=[{"W": np.array([[10.0]]), "b": np.array([5.0])}, {},
                       {"W": np.array([[-30.0]]), "b": np.array([-5.0])}]),
        _chain_case("widths 5 -> 3 -> 2", 4, (5, 3, 2)),
        _chain_case("one linear layer", 2, (3, 2)),
        _chain_case("a deeper chain with tanh, all widths 3", 2, (3, 3, 3, 3), activation="tanh"),
        _chain_case("float32 layers and input: float32 gradients", 3, (4, 3, 2), dtype=np.float32),
    ],
    mistakes=[
        Mistake("layers visited in forward order: the backward pass starts at the last layer, "
                "whose output the loss sees, and walks back to the first (reversed(layers))",
                _forward_order),
        Mistake("g not propagated: each backward module returns g(z_{i-1}), the gradient for the "
                "layer before it; pass that on instead of giving every layer dloss(out)",
                _not_propagated),
        Mistake("the list must be in forward order, entry i for layers[i]: you appended while "
                "walking backwards, so reverse it at the end (or insert at the front)",
                _backward_list_order),
        Mistake("each layer's input is the previous layer's output, z_i = f_i(z_{i-1}, w_i); "
                "every layer got x", _input_to_every_layer),
    ],
)
def _backprop_chain(layers, x, dloss):
    g, grads = dloss(_forward(layers, x)), []
    for layer in reversed(layers):
        g, grad = layer.backward(g)
        grads.append(grad)
    return grads[::-1]


# --- numerical_gradient -----------------------------------------------------------------------------

@plain.catalogue("lesson02.sin_times_cube")
def sin_times_cube(x):
    return float(np.sum(np.sin(x) * x ** 3))


@plain.catalogue("lesson02.log_sum_exp")
def log_sum_exp(x):
    return float(np.log(np.sum(np.exp(x))))


@plain.catalogue("lesson02.sum_exp_3x")
def sum_exp_3x(x):
    return float(np.sum(np.exp(3 * x)))


@plain.catalogue("lesson02.sum_of_squares")
def sum_of_squares(x):
    return float(np.sum(x ** 2))


@plain.catalogue("lesson02.neighbour_products")
def neighbour_products(x):
    # couples entries, so an entry left perturbed changes the others' derivatives
    return float(np.sum(x * np.roll(x, 1)) + np.sum(x ** 3))


def _call_numerical(fn, inputs):
    """Call the student's numerical_gradient and insist that x comes back exactly as it was."""
    x = inputs["x"]
    before = x.copy()
    result = fn(*inputs.values())
    if x.shape != before.shape or not np.array_equal(x, before):
        raise CheckFailure(
            "x left modified: after perturbing x[i], put the saved value back (old = x[i]; ...; "
            "x[i] = old). Adding and subtracting h does not always give back the same float.")
    return result


@exercise(
    "numerical_gradient", points=2,
        implemented_by=("cnnlab.gradcheck.numerical_gradient", "cnnlab.gradcheck.numerical_gradient_array"),
        call=_call_numerical, rtol=1e-7, atol=1e-9,
    cases=[
        Case(f=sin_times_cube, x=normal(5), h=1e-5),
        Case("f = sum of squares at [1, 2, 3]: the gradient is 2x = [2, 4, 6]", f=sum_of_squares,
             x=np.array([1.0, 2.0, 3.0]), h=1e-5, expected=np.array([2.0, 4.0, 6.0])),
        Case("a 2-D x", f=log_sum_exp, x=normal(3, 4), h=1e-5),
        Case("a larger step h = 1e-2 (a steep function)", f=sum_exp_3x, x=normal(4, scale=0.5), h=1e-2),
        Case("entries that interact", f=neighbour_products, x=normal(2, 3), h=1e-5),
        Case("a 3-D x", f=sin_times_cube, x=normal(2, 2, 2), h=1e-4),
    ],
    mistakes=[
        Mistake("one-sided difference: (f(x + h) - f(x)) / h has an error proportional to h; "
                "the central difference (f(x + h) - f(x - h)) / (2h) is accurate to h^2",
                lambda f, x, h=1e-5: _one_sided(f, x, h, +1)),
        Mistake("one-sided difference: (f(x) - f(x - h)) / h has an error proportional to h; "
                "use the central difference (f(x + h) - f(x - h)) / (2h)",
                lambda f, x, h=1e-5: _one_sided(f, x, h, -1)),
        Mistake("divide by 2h: the two evaluations are 2h apart",
                lambda f, x, h=1e-5: 2 * gradcheck.numerical_gradient(f, x, h)),
        Mistake("use the step h you are given (it is an argument), not a fixed 1e-5",
                lambda f, x, h=1e-5: gradcheck.numerical_gradient(f, x, 1e-5)),
    ],
)
def _numerical_gradient(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x, h)


def _one_sided(f, x, h, direction):
    """Forward (direction +1) or backward (-1) differences, x restored."""
    grad = np.zeros_like(x)
    base = f(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + direction * h
        grad[i] = direction * (f(x) - base) / h
        x[i] = old
    return grad


# --- softmax_cross_entropy --------------------------------------------------------------------------


def _logits_case(note, n, k, scale=1.0, dtype=np.float64):
    def make(rng):
        return {"logits": (scale * rng.standard_normal((n, k))).astype(dtype), "y": rng.integers(0, k, n)}
    return Case(note, make=make)


def _unstable(logits, y):
    """The textbook form, exp of the raw logits: inf / inf = nan once a logit passes ~709."""
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    n = len(y)
    dlogits = p.copy()
    dlogits[np.arange(n), y] -= 1
    return -np.log(p[np.arange(n), y]).mean(), dlogits / n


def _probs(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _loss(logits, y):
    return F.softmax_cross_entropy(logits, y)[0]


def _onehot(y, k, dtype):
    out = np.zeros((len(y), k), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return out


def _overflowed(inputs, got, expected):
    """The unstable form gives inf or nan (or raises) on large logits, whatever the exact code."""
    logits = inputs.get("logits")
    if not (isinstance(logits, np.ndarray) and logits.size and np.abs(logits).max() > 80):
        return None
    values = got if isinstance(got, (tuple, list)) else [got]
    broken = isinstance(got, (FloatingPointError, OverflowError)) or any(
        not np.all(np.isfinite(np.asarray(v, dtype=np.float64))) for v in values
        if isinstance(v, (np.ndarray, float, np.floating)))
    return _OVERFLOW if broken else None


_OVERFLOW = ("overflow (no max subtracted): exp of a logit above about 709 (88 in float32) is inf, and "
             "the log of a probability that underflowed to 0 is -inf. Subtract each row's maximum m "
             "first (the softmax does not change) and take log p_y = (s_y - m) - log(sum(exp(s - m))), "
             "the log-sum-exp")


@exercise(
    "softmax_cross_entropy", points=2,
    implemented_by=("cnnlab.functional.softmax_cross_entropy", "cnnlab.autograd.softmax_cross_entropy"),
    output_names=("loss", "dlogits"), dtype="exact", rtol=1e-5,
    cases=[
        _logits_case("", 4, 3),
        Case("worked out by hand: equal logits give p = 1/4, loss log 4 = 1.386, dlogits (p - onehot) / 2",
             logits=np.zeros((2, 4)), y=np.array([2, 0]),
             expected=(np.log(4.0), np.array([[0.125, 0.125, -0.375, 0.125], [-0.375, 0.125, 0.125, 0.125]]))),
        _logits_case("float32 stays float32", 5, 4, dtype=np.float32),
        _logits_case("logits of size 1e4: subtract each row's maximum first", 3, 5, scale=1e4),
        _logits_case("logits of size 1e4 in float32", 4, 3, scale=1e4, dtype=np.float32),
        _logits_case("one sample, ten classes", 1, 10),
        _logits_case("a batch of 8, two classes", 8, 2, scale=3.0),
    ],
    detectors=[_overflowed],
    mistakes=[
        Mistake(_OVERFLOW, _unstable),
        Mistake("gradient not divided by N: the loss is the mean over the N samples, so every row of "
                "dlogits carries a factor 1/N: (p - onehot(y)) / N",
                lambda logits, y: (_loss(logits, y), _probs(logits) - _onehot(y, logits.shape[1], logits.dtype))),
        Mistake("onehot missing: d(-log p_y)/d s_k = p_k - [k = y]; subtract 1 at each sample's label "
                "from the probabilities", lambda logits, y: (_loss(logits, y), _probs(logits) / len(y))),
        Mistake("the loss is the mean over the samples, not their sum: divide by N",
                lambda logits, y: (_loss(logits, y) * len(y), F.softmax_cross_entropy(logits, y)[1])),
        Mistake("sign: the gradient of -log p_y is p - onehot(y), not onehot(y) - p",
                lambda logits, y: (_loss(logits, y), -F.softmax_cross_entropy(logits, y)[1])),
    ],
)
def _softmax_cross_entropy(logits, y):
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    return logits.dtype.type(loss), dlogits
