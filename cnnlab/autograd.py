"""A small computation-graph engine over arrays: the grown-up version of lesson 03's ``Value``.

A :class:`Tensor` wraps a NumPy or CuPy array. Every operation on tensors returns a new tensor
that remembers the op, its inputs and a *backward closure*, written right beside the forward
computation, that turns the gradient of the result into gradients of the inputs::

    from cnnlab.autograd import Tensor
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(-3.0, requires_grad=True, name="b")
    f = (a * b + a).exp()
    f.backward()             # a.grad = (b + 1) e^(ab + a), b.grad = a e^(ab + a)

``backward`` orders the graph so that every node comes after its inputs (a topological order,
found without recursion), walks it from the root back to the leaves, and each node *adds*
(``+=``) its contribution into its inputs' ``.grad``: a tensor used twice receives both.

Gradients flow only into tensors that need them: a tensor requires a gradient when it was
created with ``requires_grad=True`` or computed from one that was; constants (plain arrays and
numbers, which are wrapped automatically) are never differentiated. Inside ``with no_grad():``
nothing is recorded at all.

The CNN ops (:func:`linear`, :func:`conv2d`, :func:`maxpool2d`, :func:`softmax_cross_entropy`)
call :mod:`cnnlab.functional`'s forward, keep its cache, and call its backward.
:func:`cnnlab.plot.draw_graph` draws a graph with matplotlib.
"""

from __future__ import annotations

import contextlib
import numbers

import numpy as np

from . import _checks, backend
from . import functional as F

__all__ = [
    "Tensor", "no_grad", "is_grad_enabled", "topological_order",
    "add", "sub", "neg", "mul", "truediv", "pow", "matmul", "sum", "mean", "exp", "log", "relu",
    "reshape", "transpose", "linear", "conv2d", "maxpool2d", "softmax_cross_entropy",
]

_grad_enabled = True  # switched off inside ``no_grad()``


@contextlib.contextmanager
def no_grad():
    """Context manager: ops inside it record no graph (for evaluation and parameter updates).

    Results computed inside have ``requires_grad=False`` and keep no inputs, so no memory is
    held for a backward pass that will never come. Nests, and restores the previous state on exit.
    """
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


def is_grad_enabled() -> bool:
    """False inside ``no_grad()``, True otherwise."""
    return _grad_enabled


class Tensor:
    """An array that remembers how it was computed, so gradients can flow back through it.

    Args:
        data: a NumPy/CuPy array (kept as it is, with its dtype), or a Python number or
            (nested) list, converted to a float64 array of the active backend.
        requires_grad: whether ``backward`` should compute a gradient for this tensor.
            Needs floating-point data.
        name: an optional label, shown by :func:`cnnlab.plot.draw_graph`.

    Attributes:
        data: the array.
        grad: ``None`` until a backward pass reaches this tensor, then an array shaped like
            ``data`` holding d(root)/d(this tensor), summed over every path.
        requires_grad, name: as given (ops set ``requires_grad`` from their inputs).
        op: the operation that produced this tensor (``"mul"``, ``"conv2d"``, ...), or ``None``
            for a leaf: a tensor created by the user, or computed inside ``no_grad()``.
        inputs: the tensors it was computed from (empty for a leaf).
    """

    # Make NumPy (and CuPy) hand ``array + tensor`` to Tensor.__radd__ instead of looping over
    # the tensor as if it were a sequence of objects.
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            raise TypeError("data must be an array or a number; got a Tensor "
                            "(use t.detach() for a constant copy of a tensor t)")
        if isinstance(data, np.generic):
            data = np.asarray(data)  # a NumPy scalar keeps its dtype, as an array does
        elif not backend.is_array(data):
            expected = f"data must be an array, a number or a list of numbers; got {type(data).__name__}"
            if not isinstance(data, (numbers.Real, list, tuple)):
                raise TypeError(expected)
            try:
                data = backend.xp.asarray(data, dtype=np.float64)
            except (TypeError, ValueError):  # a list holding something other than numbers
                raise TypeError(expected) from None
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be True or False; got {requires_grad!r}")
        if requires_grad:
            _checks.floating(data, "data (of a tensor with requires_grad=True)")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string or None; got {type(name).__name__}")
        self.data = data
        self.grad = None
        self.requires_grad = requires_grad
        self.name = name
        self.op = None
        self.inputs = ()
        self._backward = None  # set by the op that made this tensor: grad of result -> inputs

    # --- array-like properties ----------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return int(self.data.size)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for a tensor made by the user rather than by an op."""
        return self.op is None

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item() needs a tensor with one element; got shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The data as a NumPy array (copied from the GPU when it lives there)."""
        return backend.asnumpy(self.data)

    def detach(self) -> "Tensor":
        """A constant leaf sharing this tensor's data: gradients stop here."""
        return Tensor(self.data, name=self.name)

    def zero_grad(self) -> None:
        """Forget the gradient (``grad = None``); leaves accumulate over backward passes otherwise."""
        self.grad = None

    def __repr__(self) -> str:
        parts = [f"shape={self.shape}", f"dtype={self.dtype}"]
        if self.size == 1:
            parts = [f"{self.data.item():.6g}"]
        if self.name:
            parts.append(f"name={self.name!r}")
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.requires_grad:
            parts.append("requires_grad=True")
        return f"Tensor({', '.join(parts)})"

    # --- backward -----------------------------------------------------------------------------

    def _accumulate(self, g) -> None:
        """Add ``g`` (shaped like ``data``) into ``.grad``, creating it at the first contribution."""
        if self.grad is None:
            xp = backend.get_array_module(self.data)
            self.grad = xp.zeros_like(self.data)
        self.grad += g

    def backward(self, grad=None) -> None:
        """Fill ``.grad`` of every tensor this one depends on, by reverse-mode differentiation.

        Args:
            grad: d(loss)/d(this tensor), shaped like it. May be left out when the tensor holds
                one number (a loss): it is then 1.

        The gradients of intermediate tensors are recomputed from scratch on every call; those
        of leaves accumulate (``+=``) over calls, like a parameter's gradient over minibatches,
        so zero them (``t.zero_grad()``) between independent passes.
        """
        if not self.requires_grad:
            raise ValueError("backward() was called on a tensor that does not require a gradient: "
                             "no input of its graph was created with requires_grad=True")
        xp = backend.get_array_module(self.data)
        if grad is None:
            if self.size != 1:
                raise ValueError(
                    f"backward() without a grad needs a tensor of one element (a scalar loss); "
                    f"got shape {self.shape}. Pass grad=, an array of shape {self.shape}")
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            grad = xp.asarray(grad, dtype=self.dtype)
            if grad.shape != self.data.shape:
                raise ValueError(f"grad must have the shape of the tensor, {self.shape}; "
                                 f"got {tuple(grad.shape)}")
        order = topological_order(self, only_requires_grad=True)
        for node in order:
            if not node.is_leaf:
                node.grad = None  # intermediates start afresh, so a second pass does not double
        self._accumulate(grad)
        for node in reversed(order):
            if node._backward is not None and node.grad is not None:
                node._backward(node.grad)

    # --- operators: thin aliases of the module functions below ----------------------------------

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __neg__(self):
        return neg(self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return truediv(self, other)

    def __rtruediv__(self, other):
        return truediv(other, self)

    def __pow__(self, exponent):
        return pow(self, exponent)

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(other, self)

    def sum(self, axis=None, keepdims=False):
        return sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return mean(self, axis, keepdims)

    def exp(self):
        return exp(self)

    def log(self):
        return log(self)

    def relu(self):
        return relu(self)

    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list))
                       else shape)

    def transpose(self):
        return transpose(self)

    @property
    def T(self):
        return transpose(self)


# --- graph bookkeeping --------------------------------------------------------------------------

def topological_order(root, only_requires_grad: bool = False) -> list:
    """Every node ``root`` depends on (``root`` included), each once, after all of its inputs.

    A node is anything with a sequence ``.inputs`` of nodes: a :class:`Tensor`, or lesson 03's
    scalar ``Value`` (whose check uses this function). An iterative depth-first search with an
    explicit stack, so graphs deeper than Python's recursion limit work. With
    ``only_requires_grad``, constants (tensors whose ``requires_grad`` is False) are left out:
    backward never needs them.
    """
    order, visited = [], {id(root)}
    stack = [(root, iter(root.inputs))]
    while stack:
        node, pending = stack[-1]
        for child in pending:
            if id(child) not in visited and (not only_requires_grad or child.requires_grad):
                visited.add(id(child))
                stack.append((child, iter(child.inputs)))
                break
        else:  # every input is placed: the node may follow them
            stack.pop()
            order.append(node)
    return order


def _tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; numbers and arrays become constants.

    A Python number takes the dtype (and array module) of ``like``, so ``x32 * 2.0`` stays
    float32 instead of being promoted by a float64 constant.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Real) and like is not None:
        xp = backend.get_array_module(like.data)
        dtype = like.dtype if like.dtype.kind == "f" else np.float64
        return Tensor(xp.asarray(value, dtype=dtype))
    return Tensor(value)


def _operands(a, b) -> tuple[Tensor, Tensor]:
    a = _tensor(a, b if isinstance(b, Tensor) else None)
    return a, _tensor(b, a)


def _node(data, op: str, inputs: tuple, backward) -> Tensor:
    """The result tensor of ``op``, with its place in the graph (none inside ``no_grad``).

    The backward closure is kept only when some input needs a gradient; a result of constants
    alone is a constant too (its inputs are kept so that :func:`cnnlab.plot.draw_graph` can show it).
    """
    out = Tensor(data)
    if _grad_enabled:
        out.op, out.inputs = op, inputs
        if any(t.requires_grad for t in inputs):
            out.requires_grad = True
            out._backward = backward
    return out


def _broadcast_shape(op: str, a: Tensor, b: Tensor) -> None:
    """Raise a ValueError naming both shapes when they do not broadcast."""
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {a.shape} and {b.shape} do not broadcast; expected equal sizes, or 1, "
            "in each trailing axis") from None


def _unbroadcast(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving back ``shape``.

    Broadcasting copies an input along those axes, and a copied value's gradient is the sum of
    its copies' gradients.
    """
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g


# --- elementwise and matrix ops -----------------------------------------------------------------
# Each op computes its result, then defines the closure that maps the result's gradient g to
# its inputs' gradients, skipping inputs that need none.

def add(a, b) -> Tensor:
    """``a + b`` with broadcasting; either may be a number or array."""
    a, b = _operands(a, b)
    _broadcast_shape("add", a, b)

    def backward(g):
        if a.requires_grad:
            a._accumulate(_unbroadcast(g, a.shape))
        if b.requires_grad:
            b._accumulate(_unbroadcast(g, b.shape))
    return _node(a.data + b.data, "add", (a, b), backward)


def sub(a, b) -> Tensor:
    """``a - b`` with broadcasting."""
    a, b = _operands(a, b)
    _broadcast_shape("sub", a, b)

    def backward(g):
        if a.requires_grad:
            a._accumulate(_unbroadcast(g, a.shape))
        if b.requires_grad:
            b._accumulate(_unbroadcast(-g, b.shape))
    return _node(a.data - b.data, "sub", (a, b), backward)


def neg(a) -> Tensor:
    """``-a``."""
    a = _tensor(a)

    def backward(g):
        a._accumulate(-g)
    return _node(-a.data, "neg", (a,), backward)


def mul(a, b) -> Tensor:
    """``a * b`` elementwise, with broadcasting."""
    a, b = _operands(a, b)
    _broadcast_shape("mul", a, b)

    def backward(g):
        if a.requires_grad:
            a._accumulate(_unbroadcast(g * b.data, a.shape))
        if b.requires_grad:
            b._accumulate(_unbroadcast(g * a.data, b.shape))
    return _node(a.data * b.data, "mul", (a, b), backward)


def truediv(a, b) -> Tensor:
    """``a / b`` elementwise, with broadcasting; d/da = 1/b, d/db = -a/b^2."""
    a, b = _operands(a, b)
    _broadcast_shape("truediv", a, b)

    def backward(g):
        if a.requires_grad:
            a._accumulate(_unbroadcast(g / b.data, a.shape))
        if b.requires_grad:
            b._accumulate(_unbroadcast(-g * a.data / (b.data * b.data), b.shape))
    return _node(a.data / b.data, "div", (a, b), backward)


def pow(a, exponent) -> Tensor:  # noqa: A001 (shadows the builtin inside this module on purpose)
    """``a ** exponent`` for a constant real ``exponent``; d/da = exponent a^(exponent - 1)."""
    a = _tensor(a)
    if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real):
        raise TypeError(f"exponent must be a real number (a constant); got {type(exponent).__name__}")
    p = exponent

    def backward(g):
        a._accumulate(g * p * a.data ** (p - 1))
    return _node(a.data ** p, "pow", (a,), backward)


def matmul(a, b) -> Tensor:
    """Matrix product ``a @ b`` of a (n, k) and a (k, m) tensor, giving (n, m).

    Backward: da = g b^T (n, k), db = a^T g (k, m).
    """
    a, b = _operands(a, b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"matmul needs two 2-D tensors (n, k) @ (k, m); got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"matmul: the inner sizes differ; a has shape {a.shape}, so b must have "
                         f"shape ({a.shape[1]}, m); got {b.shape}")

    def backward(g):
        if a.requires_grad:
            a._accumulate(g @ b.data.T)
        if b.requires_grad:
            b._accumulate(a.data.T @ g)
    return _node(a.data @ b.data, "matmul", (a, b), backward)


def _axes(axis, ndim: int) -> tuple:
    """``axis`` (None, an int or a tuple of ints) as a tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    result = []
    for ax in axes:
        ax = _checks.integer(ax, "axis")
        if not -ndim <= ax < ndim:
            raise ValueError(f"axis must be in {-ndim}..{ndim - 1} for a tensor of {ndim} dimensions; "
                             f"got {ax}")
        result.append(ax % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"axis must not repeat an axis; got {axis!r}")
    return tuple(result)


def _spread(g, shape: tuple, axes: tuple, keepdims: bool):
    """Undo a reduction over ``axes``: give ``g`` its size-1 axes back and copy it along them."""
    xp = backend.get_array_module(g)
    if not keepdims:
        g = xp.expand_dims(g, axes) if axes else g
    return xp.broadcast_to(g, shape)


def sum(a, axis=None, keepdims=False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (None: all axes; an int or tuple). Each input gets the result's gradient."""
    a = _tensor(a)
    axes = _axes(axis, a.ndim)

    def backward(g):
        a._accumulate(_spread(g, a.shape, axes, keepdims))
    return _node(a.data.sum(axis=axes, keepdims=keepdims), "sum", (a,), backward)


def mean(a, axis=None, keepdims=False) -> Tensor:
    """Mean over ``axis``; each input gets the result's gradient divided by the count averaged."""
    a = _tensor(a)
    axes = _axes(axis, a.ndim)
    count = int(np.prod([a.shape[i] for i in axes]))

    def backward(g):
        a._accumulate(_spread(g, a.shape, axes, keepdims) / count)
    return _node(a.data.mean(axis=axes, keepdims=keepdims), "mean", (a,), backward)


def exp(a) -> Tensor:
    """``e^a`` elementwise; its derivative is itself."""
    a = _tensor(a)
    xp = backend.get_array_module(a.data)
    out = xp.exp(a.data)

    def backward(g):
        a._accumulate(g * out)
    return _node(out, "exp", (a,), backward)


def log(a) -> Tensor:
    """Natural logarithm elementwise (for positive entries); d/da = 1/a."""
    a = _tensor(a)
    xp = backend.get_array_module(a.data)

    def backward(g):
        a._accumulate(g / a.data)
    return _node(xp.log(a.data), "log", (a,), backward)


def relu(a) -> Tensor:
    """``max(0, a)`` elementwise (:func:`cnnlab.functional.relu_forward`)."""
    a = _tensor(a)
    out, cache = F.relu_forward(a.data)

    def backward(g):
        a._accumulate(F.relu_backward(g, cache))
    return _node(out, "relu", (a,), backward)


def reshape(a, shape) -> Tensor:
    """The same entries in a new shape (one size may be -1: inferred); backward reshapes back."""
    a = _tensor(a)
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    for n in shape:
        _checks.integer(n, "shape", minimum=-1)
    known = int(np.prod([n for n in shape if n != -1]))
    n_free = shape.count(-1)
    fits = (n_free == 0 and known == a.size) or (n_free == 1 and known > 0 and a.size % known == 0)
    if n_free > 1 or not fits:
        raise ValueError(f"cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                         f"to {shape}: expected a shape with {a.size} elements (at most one -1)")

    def backward(g):
        a._accumulate(g.reshape(a.shape))
    return _node(a.data.reshape(shape), "reshape", (a,), backward)


def transpose(a) -> Tensor:
    """The transpose of a 2-D tensor (``a.T``)."""
    a = _tensor(a)
    if a.ndim != 2:
        raise ValueError(f"transpose needs a 2-D tensor; got shape {a.shape}")

    def backward(g):
        a._accumulate(g.T)
    return _node(a.data.T, "transpose", (a,), backward)


# --- CNN ops: cnnlab.functional's forward/backward pairs as graph nodes ------------------------

def _add_grads(tensors, grads) -> None:
    for t, g in zip(tensors, grads):
        if t.requires_grad:
            t._accumulate(g)


def linear(x, W, b) -> Tensor:
    """Affine layer ``x @ W.T + b``: x (N, D_in), W (D_out, D_in), b (D_out,) -> (N, D_out)."""
    x, W, b = _tensor(x), _tensor(W), _tensor(b)
    out, cache = F.linear_forward(x.data, W.data, b.data)

    def backward(g):
        _add_grads((x, W, b), F.linear_backward(g, cache, need_dx=x.requires_grad))
    return _node(out, "linear", (x, W, b), backward)


def conv2d(x, w, b, stride=1, pad=0) -> Tensor:
    """2-D convolution (cross-correlation): x (N, C, H, W), w (F, C, kh, kw), b (F,) -> (N, F, Ho, Wo).

    ``stride`` and ``pad`` are ints or (rows, cols) pairs, as in
    :func:`cnnlab.functional.conv2d_forward`.
    """
    x, w, b = _tensor(x), _tensor(w), _tensor(b)
    out, cache = F.conv2d_forward(x.data, w.data, b.data, stride=stride, pad=pad)

    def backward(g):
        # An input that needs no gradient (the data) spares the col2im.
        _add_grads((x, w, b), F.conv2d_backward(g, cache, need_dx=x.requires_grad))
    return _node(out, "conv2d", (x, w, b), backward)


def maxpool2d(x, size=2, stride=None) -> Tensor:
    """Max-pooling over ``size`` windows (stride defaults to size): x (N, C, H, W) -> (N, C, Ho, Wo)."""
    x = _tensor(x)
    out, cache = F.maxpool2d_forward(x.data, size=size, stride=stride)

    def backward(g):
        x._accumulate(F.maxpool2d_backward(g, cache))
    return _node(out, "maxpool2d", (x,), backward)


def softmax_cross_entropy(logits, y) -> Tensor:
    """Mean softmax cross-entropy of logits (N, K) against integer labels y (N,): a scalar tensor.

    ``y`` is a plain integer array (labels get no gradient). The gradient with respect to the
    logits, (softmax - onehot) / N, comes from the functional forward and is scaled by the
    upstream gradient.
    """
    logits = _tensor(logits)
    y = y.data if isinstance(y, Tensor) else y
    loss, dlogits = F.softmax_cross_entropy(logits.data, y)
    xp = backend.get_array_module(logits.data)

    def backward(g):
        logits._accumulate(g * dlogits)
    return _node(xp.asarray(loss, dtype=logits.dtype), "softmax_ce", (logits,), backward)
