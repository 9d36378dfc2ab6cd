"""Layers with state: parameters, gradients and the cache of the last forward pass (``cl.nn``).

Each layer is a thin wrapper over a forward/backward pair of :mod:`cnnlab.functional` and
takes the same keyword names::

    import cnnlab as cl
    model = cl.nn.Sequential(
        cl.nn.Conv2d(1, 8, kernel_size=3, pad=1), cl.nn.ReLU(), cl.nn.MaxPool2d(2),
        cl.nn.Flatten(), cl.nn.Linear(8 * 14 * 14, 10),
    )
    logits = model(x)                              # forward: each layer caches what it needs
    loss, dlogits = cl.F.softmax_cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits)                        # adds dL/dp into every p.grad

``backward`` *adds* into ``Parameter.grad`` (a parameter used twice receives both
contributions), so clear the gradients with ``zero_grad()`` before each minibatch.

Parameters are float32 by default and live on the active backend (``backend.xp``). Inputs
must have the parameters' dtype: a float64 batch is refused rather than silently promoting
the whole network (convert the batch, or the model with ``model.astype(np.float64)``, which is
what gradient checks do).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from . import _checks, backend
from . import functional as F

__all__ = [
    "AvgPool2d", "Conv2d", "Dropout", "Flatten", "Linear", "MaxPool2d", "Module", "Parameter",
    "ReLU", "Sequential",
]


def _float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """``dtype`` as a NumPy floating dtype, or a TypeError (gradients need floating point)."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{name} must be a floating-point dtype such as np.float32; got {dtype!r}") from err
    if dt.kind != "f":
        raise TypeError(f"{name} must be a floating-point dtype such as np.float32; got {dt}")
    return dt


class Parameter:
    """A learnable array and the gradient of the loss with respect to it.

    Attributes:
        data: the values, a float array on NumPy or CuPy; optimisers update it in place.
        grad: an array shaped like ``data`` (zeros at first). ``Module.backward`` *adds* into it.
        name: the local name given by the layer (``"weight"``, ``"bias"``), or None.
    """

    def __init__(self, data, name: str | None = None):
        _checks.array(data, "data")
        _checks.floating(data, "data")
        self.data = data
        self.grad = backend.get_array_module(data).zeros_like(data)
        self.name = name

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self) -> None:
        """Set the gradient to zero in place (arrays others hold stay valid)."""
        self.grad[...] = 0

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return f"Parameter({label}shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of every layer and network.

    A subclass calls ``super().__init__()`` first, assigns its :class:`Parameter` and
    sub-:class:`Module` objects as attributes (they are registered automatically, in
    assignment order), and implements:

    * ``forward(x) -> out``, storing in ``self._cache`` what backward needs;
    * ``backward(dout) -> dx``: ``dout`` is dL/d(out) shaped like ``out``; adds dL/dp into
      ``p.grad`` of each parameter and returns dL/dx shaped like ``x``.

    ``needs_input_grad`` (True by default) says whether the caller will use that dL/dx. When it
    is False, ``backward`` still adds every parameter gradient but may skip dL/dx and return
    None; every layer of :mod:`cnnlab.nn` does. Nothing upstream of a network's first layer is
    trained, so its input gradient is wasted work, and for a convolution it is a matrix product
    and a col2im (40 % of the time of the capstone's 8->16 layer). A :class:`Sequential`'s flag
    is its first layer's; :func:`cnnlab.train.fit` turns it off while it trains.
    """

    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_cache", None)
        object.__setattr__(self, "_needs_input_grad", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning attributes"
            )
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    # --- computing ------------------------------------------------------------------------

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not implemented")

    def __call__(self, x):
        return self.forward(x)

    @property
    def needs_input_grad(self) -> bool:
        """Whether ``backward`` must return dL/dx (True) or may skip it and return None (False)."""
        return self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        if not isinstance(value, bool):
            raise TypeError(f"needs_input_grad must be True or False; got {value!r}")
        object.__setattr__(self, "_needs_input_grad", value)

    def _saved(self):
        """The cache of the last forward pass, or a RuntimeError saying forward must come first."""
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward was called before forward: run the forward pass "
                "(model(x)) first, then backward on the gradient of its output"
            )
        return self._cache

    @staticmethod
    def _check_dout(dout, out_shape):
        _checks.array(dout, "dout")
        if tuple(dout.shape) != tuple(out_shape):
            raise ValueError(
                f"dout must have the shape of the forward output, {tuple(out_shape)}; got {tuple(dout.shape)}"
            )

    def _check_input_dtype(self, x, dtype):
        if x.dtype != dtype:
            raise TypeError(
                f"x has dtype {x.dtype} but the parameters of {type(self).__name__} are {dtype}; "
                f"convert the input (x.astype(np.{dtype})) or the model (model.astype(np.{x.dtype}))"
            )

    # --- parameters -----------------------------------------------------------------------

    def children(self) -> list:
        """The direct sub-modules, in registration order."""
        return list(self._modules.values())

    def named_parameters(self) -> list:
        """``(dotted name, Parameter)`` pairs, own parameters first, then each child's in order.

        A parameter shared by two layers is listed once, under its first name.
        """
        seen, result = set(), []

        def walk(module, prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    result.append((prefix + name, p))
            for name, child in module._modules.items():
                walk(child, f"{prefix}{name}.")

        walk(self, "")
        return result

    def parameters(self) -> list:
        """Every :class:`Parameter` of the module and its children, each once, in a stable order."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """The number of learnable scalars."""
        return sum(int(p.data.size) for p in self.parameters())

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero (in place)."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True):
        """Switch this module and all its children to training (``mode=True``) or evaluation mode.

        Only layers whose behaviour differs (Dropout) care. Returns the module, so
        ``model.eval()(x)`` works.
        """
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be True or False; got {mode!r}")
        object.__setattr__(self, "training", mode)
        for child in self._modules.values():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation (test-time) mode: ``train(False)``."""
        return self.train(False)

    def astype(self, dtype):
        """Convert every parameter (and its gradient) to the floating dtype ``dtype``; returns self.

        Convert before creating the optimiser, and feed inputs of the same dtype afterwards.
        """
        dt = _float_dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dt, copy=False)
            p.grad = p.grad.astype(dt, copy=False)
        return self

    to = astype

    # --- saving and loading -----------------------------------------------------------------

    def state_dict(self) -> dict:
        """``{dotted name: NumPy copy of the parameter}``; ``np.savez(path, **model.state_dict())`` saves it."""
        return {name: np.array(backend.asnumpy(p.data), copy=True) for name, p in self.named_parameters()}

    def load_state_dict(self, state) -> None:
        """Copy the arrays of ``state`` (e.g. from :meth:`state_dict` or ``np.load(path)``) into the parameters.

        Keys and shapes must match exactly; nothing is changed when anything is wrong. Values
        are copied into the existing arrays, on the active backend, in the parameters' dtype.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict of arrays such as model.state_dict(); got {type(state).__name__}")
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing or unexpected:
            raise ValueError(
                f"state does not match this model: missing keys {missing}, unexpected keys {unexpected}"
            )
        values = {}
        for name, p in own.items():
            value = state[name]
            if not backend.is_array(value):
                value = np.asarray(value)
            if value.dtype.kind != "f":
                raise TypeError(f"state[{name!r}] must hold floating-point numbers; got dtype {value.dtype}")
            if tuple(value.shape) != p.shape:
                raise ValueError(f"state[{name!r}] must have shape {p.shape}; got {tuple(value.shape)}")
            values[name] = value
        for name, p in own.items():  # every check passed: now copy
            p.data[...] = backend.get_array_module(p.data).asarray(values[name], dtype=p.data.dtype)

    # --- printing -----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Layers applied one after the other; backward visits them in reverse order.

    Indexable (``model[0]``, ``model[-1]``, ``model[1:3]`` gives a Sequential sharing the
    layers), iterable and sized. Parameter names are ``"<index>.<name>"``, e.g. ``"0.weight"``.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"layer {i} of Sequential must be a cnnlab.nn.Module (e.g. Linear(4, 3) or ReLU()); "
                    f"got {type(layer).__name__}"
                )
            self._modules[str(i)] = layer

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        index = _checks.integer(index, "index")
        if not -len(layers) <= index < len(layers):
            raise IndexError(f"index {index} is out of range for a Sequential of {len(layers)} layers")
        return layers[index]

    # The input of the sequence is the input of its first layer, so the flag is that layer's (the
    # other layers' inputs are activations, whose gradients backward always needs).
    @property
    def needs_input_grad(self) -> bool:
        """Whether ``backward`` must return dL/d(input): the first layer's flag."""
        return self[0].needs_input_grad if self._modules else self._needs_input_grad

    @needs_input_grad.setter
    def needs_input_grad(self, value):
        Module.needs_input_grad.fset(self, value)
        if self._modules:
            self[0].needs_input_grad = value

    def forward(self, x):
        """x: the first layer's input; returns the last layer's output."""
        for layer in self._modules.values():
            x = layer.forward(x)
        self._cache = True
        return x

    def backward(self, dout):
        """dout: dL/d(output); returns dL/d(input), adding every layer's parameter gradients
        (None instead of dL/d(input) when ``needs_input_grad`` is False)."""
        self._saved()
        layers = list(self._modules.values())
        for i in range(len(layers) - 1, -1, -1):
            if dout is None:
                raise RuntimeError(
                    f"layer {i + 1} of the Sequential returned no input gradient (its needs_input_grad "
                    f"is False), but layer {i} needs one: only the first layer may skip it"
                )
            dout = layers[i].backward(dout)
        return dout


def _he_normal(shape, fan_in: int, dtype, rng):
    """He (Kaiming) normal initialisation: N(0, 2 / fan_in), suited to ReLU networks.

    Drawn on the host from the seeded NumPy generator (the same numbers on every backend),
    then placed on the active backend in ``dtype``.
    """
    gen = backend.as_generator(rng)
    values = gen.standard_normal(shape) * math.sqrt(2.0 / fan_in)
    return backend.xp.asarray(values.astype(dtype))


class Linear(Module):
    """Fully connected layer ``out = x @ weight.T + bias`` (see :func:`cnnlab.functional.linear_forward`).

    Args:
        in_features: D_in, the length of each input row.
        out_features: D_out.
        dtype: floating dtype of the parameters.
        rng: generator or int seed for the initial weights (default: ``backend.rng()``).

    Parameters: ``weight`` (D_out, D_in), He-normal; ``bias`` (D_out,), zeros.
    Input (N, D_in); output (N, D_out).
    """

    def __init__(self, in_features: int, out_features: int, dtype=np.float32, rng=None):
        super().__init__()
        self.in_features = _checks.integer(in_features, "in_features", minimum=1)
        self.out_features = _checks.integer(out_features, "out_features", minimum=1)
        dt = _float_dtype(dtype)
        self.weight = Parameter(_he_normal((self.out_features, self.in_features), self.in_features, dt, rng),
                                name="weight")
        self.bias = Parameter(backend.xp.zeros(self.out_features, dtype=dt), name="bias")

    def forward(self, x):
        _checks.array(x, "x", ndim=2, layout="(N, D_in)")
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have shape (N, {self.in_features}) for {self!r}; got {tuple(x.shape)}"
            )
        self._check_input_dtype(x, self.weight.dtype)
        out, cache = F.linear_forward(x, self.weight.data, self.bias.data)
        self._cache = (cache, out.shape)
        return out

    def backward(self, dout):
        cache, out_shape = self._saved()
        self._check_dout(dout, out_shape)
        dx, dW, db = F.linear_backward(dout, cache, need_dx=self.needs_input_grad)
        self.weight.grad += dW
        self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def _compact(value: tuple):
    """``3`` for (3, 3), ``(3, 5)`` otherwise: the shortest way the user could have written it."""
    return value[0] if value[0] == value[1] else value


class Conv2d(Module):
    """2-D convolution (cross-correlation) over NCHW input (see :func:`cnnlab.functional.conv2d_forward`).

    Args:
        in_channels: C.
        out_channels: F, the number of filters.
        kernel_size: kh = kw as an int, or (kh, kw).
        stride, pad: int or (rows, cols), as in ``conv2d_forward``.
        dtype: floating dtype of the parameters.
        rng: generator or int seed for the initial weights (default: ``backend.rng()``).

    Parameters: ``weight`` (F, C, kh, kw), He-normal with fan_in = C kh kw; ``bias`` (F,), zeros.
    Input (N, C, H, W); output (N, F, H_out, W_out).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, pad=0,
                 dtype=np.float32, rng=None):
        super().__init__()
        self.in_channels = _checks.integer(in_channels, "in_channels", minimum=1)
        self.out_channels = _checks.integer(out_channels, "out_channels", minimum=1)
        self.kernel_size = _checks.pair(kernel_size, "kernel_size", 1)
        self.stride = _checks.pair(stride, "stride", 1)
        self.pad = _checks.pair(pad, "pad", 0)
        dt = _float_dtype(dtype)
        kh, kw = self.kernel_size
        fan_in = self.in_channels * kh * kw
        self.weight = Parameter(_he_normal((self.out_channels, self.in_channels, kh, kw), fan_in, dt, rng),
                                name="weight")
        self.bias = Parameter(backend.xp.zeros(self.out_channels, dtype=dt), name="bias")

    def forward(self, x):
        _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have {self.in_channels} channels, shape (N, {self.in_channels}, H, W), "
                f"for {self!r}; got {tuple(x.shape)}"
            )
        self._check_input_dtype(x, self.weight.dtype)
        out, cache = F.conv2d_forward(x, self.weight.data, self.bias.data, stride=_compact(self.stride),
                                    pad=_compact(self.pad))
        self._cache = (cache, out.shape)
        return out

    def backward(self, dout):
        cache, out_shape = self._saved()
        self._check_dout(dout, out_shape)
        dx, dw, db = F.conv2d_backward(dout, cache, need_dx=self.needs_input_grad)
        self.weight.grad += dw
        self.bias.grad += db
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={_compact(self.kernel_size)}, "
                f"stride={_compact(self.stride)}, pad={_compact(self.pad)}")


class _Stateless(Module):
    """A layer without parameters wrapping ``forward_fn(x, **kwargs)`` and ``backward_fn(dout, cache)``."""

    forward_fn = None
    backward_fn = None

    def _kwargs(self) -> dict:
        return {}

    def forward(self, x):
        out, cache = type(self).forward_fn(x, **self._kwargs())
        self._cache = (cache, out.shape)
        return out

    def backward(self, dout):
        cache, out_shape = self._saved()
        self._check_dout(dout, out_shape)
        return type(self).backward_fn(dout, cache) if self.needs_input_grad else None


class ReLU(_Stateless):
    """``max(0, x)`` elementwise; any shape."""

    forward_fn = staticmethod(F.relu_forward)
    backward_fn = staticmethod(F.relu_backward)


class Flatten(_Stateless):
    """(N, ...) -> (N, D): joins every axis but the batch axis (e.g. before a Linear layer)."""

    forward_fn = staticmethod(F.flatten_forward)
    backward_fn = staticmethod(F.flatten_backward)


class _Pool2d(_Stateless):
    def __init__(self, size=2, stride=None):
        super().__init__()
        self.size = _checks.pair(size, "size", 1)
        self.stride = self.size if stride is None else _checks.pair(stride, "stride", 1)

    def _kwargs(self) -> dict:
        return {"size": _compact(self.size), "stride": _compact(self.stride)}

    def extra_repr(self) -> str:
        return f"size={_compact(self.size)}, stride={_compact(self.stride)}"


class MaxPool2d(_Pool2d):
    """Max pooling over ``size`` windows every ``stride`` pixels (default stride = size); NCHW.

    See :func:`cnnlab.functional.maxpool2d_forward`: the gradient goes to each window's maximum.
    """

    forward_fn = staticmethod(F.maxpool2d_forward)
    backward_fn = staticmethod(F.maxpool2d_backward)


class AvgPool2d(_Pool2d):
    """Average pooling over ``size`` windows every ``stride`` pixels (default stride = size); NCHW."""

    forward_fn = staticmethod(F.avgpool2d_forward)
    backward_fn = staticmethod(F.avgpool2d_backward)


class Dropout(Module):
    """Dropout with keep probability ``keep`` (see :func:`cnnlab.functional.dropout_forward`).

    In training mode each forward draws a fresh mask; in evaluation mode (``model.eval()``)
    it applies the test-time rule: identity when ``inverted`` (kept units were scaled by
    1/keep in training), multiplication by ``keep`` otherwise (the classic form).

    Args:
        keep: probability of keeping a unit, in (0, 1].
        inverted: which convention.
        rng: generator or int seed for the masks (default: ``backend.rng()`` at each call).
    """

    def __init__(self, keep=0.5, inverted=True, rng=None):
        super().__init__()
        self.keep = _checks.real(keep, "keep", low=0.0, high=1.0, low_open=True)
        if not isinstance(inverted, bool):
            raise TypeError(f"inverted must be True or False; got {inverted!r}")
        self.inverted = inverted
        # An int seed becomes one generator now; making it at each call would repeat one mask.
        self._rng = None if rng is None else backend.as_generator(rng)

    def forward(self, x):
        out, cache = F.dropout_forward(x, self.keep, train=self.training, rng=self._rng,
                                       inverted=self.inverted)
        self._cache = (cache, out.shape)
        return out

    def backward(self, dout):
        cache, out_shape = self._saved()
        self._check_dout(dout, out_shape)
        return F.dropout_backward(dout, cache) if self.needs_input_grad else None

    def extra_repr(self) -> str:
        return f"keep={self.keep:g}, inverted={self.inverted}"
