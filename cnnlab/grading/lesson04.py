"""Lesson 04 "Convolution": output-size arithmetic, padding, a naive convolution, AlexNet's shapes.

* ``conv_output_size(n, k, stride=1, pad=0) -> int``: floor((n + 2 pad - k) / stride) + 1;
  ValueError when the kernel is larger than the padded input.
* ``covers_input(n, k, stride, pad) -> bool``: no rows/columns left over after the last window.
* ``pad2d(x, pad) -> ndarray``: zero-pad the last two axes of an NCHW array.
* ``conv2d_forward_naive(x, w, b, stride=1, pad=0) -> (out, cache)``: loops, cross-correlation.
* ``alexnet_shapes() -> list`` of (C, H, W) after each conv and pool of AlexNet on 3x227x227.
"""

from __future__ import annotations

import numpy as np

from .. import conv
from .core import Case, Mistake, call_forward, exercise, normal
from .naive import conv2d_forward_naive

# --- conv_output_size ---------------------------------------------------------------------------


def _too_big(inputs, got, expected):
    """Detector: a kernel larger than the padded input must raise, not return a size."""
    n, k, stride, pad = inputs.values()
    if expected is None and k > n + 2 * pad and not isinstance(got, BaseException):
        return (f"here k = {k} is larger than the padded input n + 2*pad = {n + 2 * pad}: no window fits, "
                "so raise ValueError (e.g. `if k > n + 2 * pad: raise ValueError(...)`) instead of returning a size")
    return None


def _exact_fit_rejected(inputs, got, expected):
    """Detector: a kernel exactly as large as the padded input fits once."""
    n, k, stride, pad = inputs.values()
    if isinstance(got, ValueError) and k == n + 2 * pad:
        return ("a kernel exactly as large as the padded input fits once (output size 1): "
                "raise only when k > n + 2*pad, not when k >= n + 2*pad")
    return None


def _raising(formula):
    """A mistake model with a wrong formula but the right ValueError, so that on the case that
    must raise it explains nothing (a student who forgot to raise gets the detector's hint only)."""
    def model(n, k, stride=1, pad=0):
        if k > n + 2 * pad:
            raise ValueError("kernel larger than the padded input")
        return formula(n, k, stride, pad)
    return model


@exercise(
    "conv_output_size", points=1, implemented_by=("cnnlab.conv.conv_output_size",),
    cases=[
        Case(n=32, k=5, stride=1, pad=0),
        Case("stride 2 covers a padded 7x7 input", n=7, k=3, stride=2, pad=1),
        Case("stride 2 does not cover: one row left over", n=8, k=3, stride=2, pad=1),
        Case("VGG: 3x3, stride 1, pad 1 keeps the size", n=224, k=3, stride=1, pad=1),
        Case("AlexNet's first layer", n=227, k=11, stride=4, pad=0),
        Case("stride 3 leaves two rows over", n=10, k=3, stride=3, pad=0),
        Case("a kernel as large as the padded input fits once", n=5, k=7, stride=2, pad=1),
        Case("stride larger than the kernel", n=9, k=2, stride=4, pad=2),
        Case("kernel larger than the padded input", n=5, k=8, stride=1, pad=1, raises=ValueError),
    ],
    mistakes=[
        Mistake("missing floor: `/` gives a float such as 4.5 when the stride does not cover the input; "
                "use integer division `//` so the size is an int",
                _raising(lambda n, k, stride, pad: (n + 2 * pad - k) / stride + 1)),
        Mistake("padding goes on both sides of the input: add 2*pad, not pad",
                _raising(lambda n, k, stride, pad: (n + pad - k) // stride + 1)),
        Mistake("missing +1: the first window sits at position 0 before any stride is taken; "
                "the size is floor((n + 2 pad - k) / stride) + 1",
                _raising(lambda n, k, stride, pad: (n + 2 * pad - k) // stride)),
        Mistake("the padding was left out: the window slides over n + 2*pad positions",
                _raising(lambda n, k, stride, pad: (n - k) // stride + 1)),
        Mistake("rounded up (ceil): a window that would run past the padded input does not exist, "
                "so round down (floor, `//`)",
                _raising(lambda n, k, stride, pad: -(-(n + 2 * pad - k) // stride) + 1)),
        Mistake("rounded to the nearest integer: a window that would run past the padded input does not "
                "exist, so round down (floor, `//`)",
                _raising(lambda n, k, stride, pad: round((n + 2 * pad - k) / stride) + 1)),
        Mistake("the +1 is added before dividing: floor((n + 2 pad - k) / stride) + 1, with the +1 "
                "outside the division", _raising(lambda n, k, stride, pad: (n + 2 * pad - k + 1) // stride)),
    ],
    detectors=[_too_big, _exact_fit_rejected],
)
def _conv_output_size(n, k, stride=1, pad=0):
    return conv.conv_output_size(n, k, stride, pad)


# --- covers_input ---------------------------------------------------------------------------------


@exercise(
    "covers_input", points=1, implemented_by=("cnnlab.conv.arithmetic",),
    cases=[
        Case("7x7, 3x3, stride 2, pad 1: windows end at the last padded column", n=7, k=3, stride=2, pad=1),
        Case("8x8, 3x3, stride 2, pad 1: one column left over", n=8, k=3, stride=2, pad=1),
        Case("stride 1 always covers", n=6, k=4, stride=1, pad=0),
        Case("without the padding it would not cover", n=7, k=3, stride=3, pad=1),
        Case("with the padding it does not cover", n=6, k=3, stride=3, pad=1),
        Case("stride 3 > kernel 2: pixels skipped between windows, but none left over",
             n=8, k=2, stride=3, pad=0),
        Case("AlexNet's first layer", n=227, k=11, stride=4, pad=0),
        Case("224 with AlexNet's first layer does not cover", n=224, k=11, stride=4, pad=0),
        Case("n = 6 is a multiple of the stride 3, but n + 2p - k = 4 is not", n=6, k=2, stride=3, pad=0),
    ],
    mistakes=[
        Mistake("the padding counts: the windows slide over n + 2*pad positions, so test whether "
                "(n + 2*pad - k) is a multiple of the stride",
                lambda n, k, stride, pad: (n - k) % stride == 0),
        Mistake("padding goes on both sides: use n + 2*pad",
                lambda n, k, stride, pad: (n + pad - k) % stride == 0),
        Mistake("what matters is what is left after the last window, (n + 2*pad - k) mod stride, "
                "not whether n itself is a multiple of the stride",
                lambda n, k, stride, pad: n % stride == 0),
        Mistake("what matters is (n + 2*pad - k) mod stride; the kernel size must be subtracted",
                lambda n, k, stride, pad: (n + 2 * pad) % stride == 0),
        Mistake("pixels skipped *between* windows (stride > k) are a separate matter: covers_input asks "
                "only whether rows or columns are left over after the last window",
                lambda n, k, stride, pad: (n + 2 * pad - k) % stride == 0 and stride <= k),
        Mistake("the answer is reversed: True means nothing is left over",
                lambda n, k, stride, pad: (n + 2 * pad - k) % stride != 0),
    ],
)
def _covers_input(n, k, stride, pad):
    return (n + 2 * pad - k) % stride == 0


# --- pad2d ----------------------------------------------------------------------------------------


@exercise(
    "pad2d", points=1, implemented_by=("cnnlab.conv.pad2d",), dtype="exact",
    cases=[
        Case(x=normal(2, 3, 4, 5), pad=1),
        Case("pad 2, one sample, one channel", x=normal(1, 1, 3, 3), pad=2),
        Case("pad 0: a copy with the same values", x=normal(2, 2, 3, 4), pad=0),
        Case("float32 stays float32", x=normal(3, 2, 5, 4, dtype=np.float32), pad=1),
        Case("numbers worked out by hand", x=np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), pad=1,
             expected=np.array([[[[0.0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]]]])),
        Case("a tall, thin image", x=normal(1, 2, 6, 1), pad=3),
    ],
    mistakes=[
        Mistake("pads N or C axes: np.pad(x, pad) pads every axis; pad only the last two, "
                "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))", lambda x, pad: np.pad(x, pad)),
        Mistake("pads N or C axes: the batch and channel axes come first in NCHW; pad the last two (H, W)",
                lambda x, pad: np.pad(x, ((pad, pad), (pad, pad), (0, 0), (0, 0)))),
        Mistake("pads N or C axes: only H and W (axes 2 and 3) are padded, not the channels",
                lambda x, pad: np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))),
        Mistake("padding goes on both sides: `pad` zeros above and below, left and right",
                lambda x, pad: np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad)))),
        Mistake("padding goes on both sides: `pad` zeros above and below, left and right",
                lambda x, pad: np.pad(x, ((0, 0), (0, 0), (pad, 0), (pad, 0)))),
        Mistake("zero padding: mode='edge' repeats the border pixels; pad with zeros (mode='constant')",
                lambda x, pad: np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")),
        Mistake("the dtype changed: np.zeros makes float64 unless told otherwise; "
                "use np.zeros(..., dtype=x.dtype) so float32 input stays float32",
                lambda x, pad: np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))),
        Mistake("only the rows were padded: pad the columns (axis 3) too",
                lambda x, pad: np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)))),
    ],
)
def _pad2d(x, pad):
    return conv.pad2d(x, pad)


# --- conv2d_forward_naive -------------------------------------------------------------------------


# The mistakes are the loops of .naive (stride ignored) or the right loops on other inputs.

def _flipped(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x, w[:, :, ::-1, ::-1], b, stride, pad)


def _bias_in_sum(x, w, b, stride=1, pad=0):
    """b[f] added to each of the C*kh*kw products of the window."""
    return conv2d_forward_naive(x, w, b * w[0].size, stride, pad)


def _bias_per_channel(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x, w, b * w.shape[1], stride, pad)


def _no_bias(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x, w, np.zeros_like(b), stride, pad)


def _stride_ignored(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x, w, b, stride, pad, ignore_stride=True)


def _first_channel(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x[:, :1], w[:, :1], b, stride, pad)


def _last_channel(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x[:, -1:], w[:, -1:], b, stride, pad)


def _average_channels(x, w, b, stride=1, pad=0):
    return conv2d_forward_naive(x, w / w.shape[1], b, stride, pad)


def _conv_case(note, x_shape, w_shape, stride, pad, dtype=np.float64):
    return Case(note, x=normal(*x_shape, dtype=dtype), w=normal(*w_shape, dtype=dtype),
                b=normal(w_shape[0], dtype=dtype), stride=stride, pad=pad)


_HAND_X = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
_HAND_W = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[i, j] - x[i+1, j+1] = -5 everywhere


@exercise(
    "conv2d_forward_naive", points=3,
        implemented_by=("cnnlab.conv.conv2d_forward", "cnnlab.nn.Conv2d", "cnnlab.autograd.conv2d"),
        call=call_forward,
    cases=[
        _conv_case("", (2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
        _conv_case("stride 2, pad 1", (2, 3, 7, 7), (2, 3, 3, 3), 2, 1),
        Case("worked out by hand: every output is 1 - 6 + 0.5 = -4.5", x=_HAND_X, w=_HAND_W,
             b=np.array([0.5]), stride=1, pad=0, expected=np.full((1, 1, 3, 3), -4.5)),
        _conv_case("a non-square image and kernel", (1, 2, 6, 5), (3, 2, 3, 2), 1, 1),
        _conv_case("stride 3 does not cover the input", (2, 1, 8, 8), (2, 1, 3, 3), 3, 0),
        _conv_case("a 1x1 kernel mixes channels only", (1, 4, 3, 3), (2, 4, 1, 1), 1, 0),
        _conv_case("CIFAR-10's shape: 3x5x5 filters on 3x32x32, stride 3, pad 2",
                   (1, 3, 32, 32), (2, 3, 5, 5), 3, 2),
        _conv_case("float32 inputs", (2, 2, 5, 5), (2, 2, 3, 3), 2, 1, dtype=np.float32),
    ],
    mistakes=[
        Mistake("kernel flipped: a CNN's 'convolution' is a cross-correlation, w[f, c, di, dj] multiplies "
                "x[c, s*i + di, s*j + dj] (no w[..., ::-1, ::-1])", _flipped),
        Mistake("bias per position: the bias is added once per output value, after the 3-D sum, not to "
                "every product inside the window", _bias_in_sum),
        Mistake("bias per position: add b[f] once to the sum over channels, rows and columns, "
                "not once per channel", _bias_per_channel),
        Mistake("the bias b[f] is missing: out[n, f, i, j] = sum(window * w[f]) + b[f]", _no_bias),
        Mistake("stride ignored: output (i, j) reads the window starting at row stride*i, column stride*j",
                _stride_ignored),
        Mistake("channels not summed: the window is a 3-D block (channel, row, column) and every channel "
                "is multiplied by its own slice w[f, c] and added in", _first_channel),
        Mistake("channels not summed: sum over all channels c, not only one of them", _last_channel),
        Mistake("the 3-D sum is a sum, not an average over channels", _average_channels),
    ],
)
def _conv2d_forward_naive(x, w, b, stride=1, pad=0):
    out, _ = conv.conv2d_forward(x, w, b, stride, pad)
    return out, (x, w, b, stride, pad)


# --- alexnet_shapes -------------------------------------------------------------------------------

# (kind, channels, kernel, stride, pad) of AlexNet's feature layers, single tower (as in the lecture slides "ConvNets").
_ALEXNET = [("conv", 96, 11, 4, 0), ("pool", None, 3, 2, 0), ("conv", 256, 5, 1, 2), ("pool", None, 3, 2, 0),
            ("conv", 384, 3, 1, 1), ("conv", 384, 3, 1, 1), ("conv", 256, 3, 1, 1), ("pool", None, 3, 2, 0)]


def _shapes(size=227, layers=_ALEXNET, order="chw"):
    channels, shapes = 3, []
    for kind, out_channels, k, stride, pad in layers:
        size = (size + 2 * pad - k) // stride + 1
        channels = out_channels or channels
        shapes.append((channels, size, size) if order == "chw" else (size, size, channels))
    return shapes


def _no_pad(layers):
    return [(kind, c, k, s, 0) for kind, c, k, s, _ in layers]


@exercise(
    "alexnet_shapes", points=2,
    cases=[Case(make=lambda rng: {}, label="AlexNet (single tower) on a 3x227x227 image: 8 shapes")],
    mistakes=[
        Mistake("224 instead of 227: the paper says 224, but (224 - 11) / 4 + 1 is not a whole number; the "
                "arithmetic works for a 227x227 input", lambda: _shapes(224)),
        Mistake("pad forgotten: the 5x5 conv has pad 2 and the 3x3 convs pad 1, which keep the size",
                lambda: _shapes(227, _no_pad(_ALEXNET))),
        Mistake("the shapes are (C, H, W), channels first", lambda: _shapes(227, order="hwc")),
        Mistake("pad forgotten and 224 instead of 227", lambda: _shapes(224, _no_pad(_ALEXNET))),
    ],
)
def _alexnet_shapes():
    return _shapes()
