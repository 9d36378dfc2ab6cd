"""Lesson 11 "Dropout": the forward pass with a random mask, and its backward pass.

* ``dropout_forward(x, keep, train, rng, inverted=True) -> (out, cache)``: keep is the
  probability of keeping a unit. Inverted (what frameworks do): kept units are divided by keep
  in training, test time is the identity. Not inverted (the classic form): training only zeroes
  the dropped units, test time multiplies every unit by keep.
* ``dropout_backward(dout, cache) -> dx``, checked with the student's own forward:
  ``cl.check("dropout_backward", dropout_backward, forward=dropout_forward)``.

The mask is random, and a correct implementation may draw its random numbers in any way and
any order (``rng.random``, ``rng.uniform``, ``rng.binomial``, ...). So nothing is compared with
a reference draw. Each case runs the student's function and summarises what it did in a
*report*: which fraction of the units was kept (against keep, with a tolerance of five binomial
standard deviations on inputs of up to 100,000 units), what the kept units hold (x / keep, x,
...), whether the same generator state repeats the mask, whether the next call draws a new
one, and, at test time, whether the output is deterministic. The backward pass is judged
against the student's own forward: dx must be dout scaled exactly as the forward scaled x,
unit by unit, and 0 where the forward dropped a unit. Reports are compared item by item, and a
mistake model's hint is shown when its report equals the student's.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import backend
from .. import functional as F
from .core import Case, CheckFailure, Draw, Mistake, exercise, normal

# --- reports ----------------------------------------------------------------------------------


def _host(a) -> np.ndarray:
    return np.asarray(backend.asnumpy(a), dtype=np.float64)


def _rtol(*arrays) -> float:
    """Relative tolerance for 'the same multiple of x': float32 rounding, or float64's."""
    return 1e-5 if any(a.dtype == np.float32 for a in arrays) else 1e-9


def _multiple(ratio: np.ndarray, keep: float, rtol: float) -> str:
    """Name the fixed multiple of x that ``ratio`` (= out / x over some units) equals."""
    factors = [("x / keep", 1 / keep), ("x, unscaled", 1.0), ("keep * x", keep)]
    if keep < 1:
        factors += [("x / (1 - keep)", 1 / (1 - keep)), ("(1 - keep) * x", 1 - keep)]
    for name, factor in factors:
        if np.allclose(ratio, factor, rtol=rtol, atol=0.0):
            return name
    return "not one fixed multiple of x"


def _fraction(kept: np.ndarray, keep: float) -> str:
    """Name the fraction of kept units: about keep, about 1 - keep, or the number itself.

    Five binomial standard deviations: a correct implementation fails with probability about
    one in a million."""
    n = kept.size
    f = float(kept.mean())
    tol = 5 * math.sqrt(keep * (1 - keep) / n) + 0.5 / n
    if abs(f - keep) <= tol:
        return f"about keep = {keep:g}"
    if f in (0.0, 1.0):
        return "none" if f == 0.0 else "all"
    if abs(f - (1 - keep)) <= tol:
        return f"about 1 - keep = {1 - keep:g}"
    return f"{f:.2f}"


def _output(fn, x, keep, train, rng, inverted):
    """Call a forward and return its ``(out, cache)``, checking the form of the result."""
    result = fn(x, keep, train, rng, inverted)
    name = getattr(fn, "__name__", "dropout_forward")
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise CheckFailure(f"{name} must return a pair (out, cache); got a {type(result).__name__}")
    return result


def _array_like(value, what: str, like: str, shape) -> np.ndarray:
    """``value`` if it is an array shaped like the input ``like``; else a CheckFailure."""
    if not backend.is_array(value):
        raise CheckFailure(f"{what} must be an array shaped like {like} {tuple(shape)}; got a {type(value).__name__}")
    if tuple(value.shape) != tuple(shape):
        raise CheckFailure(f"{what} must have {like}'s shape {tuple(shape)}; got {tuple(value.shape)}")
    return value


def _call_forward(fn, inputs):
    """Three calls of a dropout forward: first, again from the same generator state, and a later
    call from the state after the first (plain data, judged by :func:`_forward_report`)."""
    x, keep, train, rng, inverted = (inputs[k] for k in ("x", "keep", "train", "rng", "inverted"))
    fresh = copy.deepcopy(rng)  # the generator's state before the first call
    out, _ = _output(fn, x, keep, train, rng, inverted)
    again, _ = _output(fn, x, keep, train, fresh, inverted)  # the same state once more
    later, _ = _output(fn, x, keep, train, rng, inverted)  # the state after the first call
    return {"out": out, "again": again, "later": later}


def _forward_report(inputs, raw):
    """What a dropout forward did on these inputs, item by item (see the module docstring)."""
    x, keep, train = inputs["x"], inputs["keep"], inputs["train"]
    if not isinstance(raw, dict):
        raise CheckFailure("the forward's outputs did not come back")
    out, again, later = (_array_like(raw.get(k), "dropout_forward: out", "x", x.shape)
                         for k in ("out", "again", "later"))
    xs, o = _host(x), _host(out)
    rtol = _rtol(x, out)
    report = {"dtype of out": str(out.dtype)}
    if not train:
        if ((o == 0) & (xs != 0)).any():
            report["test-time output"] = "some units dropped"
        else:
            report["test-time output"] = _multiple(o / xs, keep, rtol)
        report["a second call"] = "gives the same output" if np.array_equal(o, _host(later)) \
            else "gives a different output"
        return report
    kept = o != 0
    report["units kept"] = _fraction(kept, keep)
    report["kept units hold"] = _multiple(o[kept] / xs[kept], keep, rtol) if kept.any() else "nothing"
    if xs.ndim >= 2 and xs.shape[0] > 1:
        flat = kept.reshape(kept.shape[0], -1)
        shared = (flat == flat[:1]).all() and 0 < kept.mean() < 1
        report["masks"] = "one mask shared by every sample" if shared else "drawn unit by unit"
    report["the same rng state"] = "repeats the mask" if np.array_equal(o, _host(again)) \
        else "gives another mask"
    report["the next call"] = "draws the same mask again" if np.array_equal(kept, _host(later) != 0) \
        else "draws a new mask"
    return report


def _compare_reports(expected: dict, got: dict, inputs):
    """One clause per item of the report that differs: ``item: got ... (expected ...)``."""
    wrong = [f"{key}: {got.get(key, 'not measured')} (expected {value})"
             for key, value in expected.items() if got.get(key) != value]
    return "; ".join(wrong) or None


# --- dropout_forward ----------------------------------------------------------------------------

def _rng():
    """A generator for the student's function, seeded from the case's own generator."""
    return Draw(lambda rng: np.random.default_rng(int(rng.integers(2 ** 32))))


def _forward_case(note, x, keep, train, inverted):
    return Case(note, x=x, keep=keep, train=train, rng=_rng(), inverted=inverted)


def _mask(rng, shape, keep):
    return rng.random(shape) < keep


def _forward_model(keep_of=lambda keep: keep, train_scale=None, test_scale=None, drop_at_test=False,
                   mask=_mask, dtype_of=lambda x: x.dtype):
    """A mistake model of dropout_forward built from its parts.

    ``keep_of(keep)``: the probability actually used to keep a unit; ``train_scale(keep,
    inverted)`` / ``test_scale(keep, inverted)``: the factors used (default: the right ones);
    ``drop_at_test``: draw a mask at test time too; ``mask(rng, shape, p)``: how the mask is
    drawn; ``dtype_of(x)``: the dtype of the mask (a float64 mask promotes float32 inputs).
    """
    right_train = lambda keep, inverted: 1 / keep if inverted else 1.0  # noqa: E731
    right_test = lambda keep, inverted: 1.0 if inverted else keep  # noqa: E731
    train_scale = train_scale or right_train
    test_scale = test_scale or right_test

    def forward(x, keep, train, rng, inverted=True):
        if train or drop_at_test:
            m = mask(rng, x.shape, keep_of(keep)).astype(dtype_of(x))
            return x * m * train_scale(keep, inverted), (m, train_scale(keep, inverted))
        return x * test_scale(keep, inverted), (None, test_scale(keep, inverted))
    return forward


def _unseeded_mask(rng, shape, keep):
    return np.random.default_rng().random(shape) < keep


def _fixed_seed_mask(rng, shape, keep):
    return np.random.default_rng(0).random(shape) < keep


def _batch_mask(rng, shape, keep):
    return np.broadcast_to(rng.random((1,) + tuple(shape[1:])) < keep, shape)


@exercise(
    "dropout_forward", points=2,
        implemented_by=("cnnlab.functional.dropout_forward", "cnnlab.nn.Dropout"),
        call=_call_forward, summarize=_forward_report, compare=_compare_reports,
    cases=[
        _forward_case("training, keep 0.8: a large batch, so the fraction kept is measured well",
                      normal(200, 500), 0.8, True, True),
        _forward_case("p = 1/2, the usual choice for hidden units, on feature maps",
                      normal(8, 4, 10, 10), 0.5, True, True),
        _forward_case("the classic form (inverted=False): kept units are not scaled in training",
                      normal(100, 300), 0.3, True, False),
        _forward_case("test time, inverted: the identity", normal(20, 30), 0.8, False, True),
        _forward_case("test time, the classic form: every unit times keep", normal(20, 30), 0.6, False, False),
        _forward_case("keep = 1: nothing is dropped", normal(30, 40), 1.0, True, True),
        _forward_case("float32 stays float32", normal(64, 256, dtype=np.float32), 0.7, True, True),
        _forward_case("a single sample", normal(1, 2000), 0.25, True, True),
        _forward_case("float32 at test time, the classic form", normal(16, 8, dtype=np.float32), 0.5, False, False),
    ],
    mistakes=[
        Mistake("keep and drop confused: keep is the probability of KEEPING a unit, so the mask is "
                "rng.random(x.shape) < keep (you kept about 1 - keep of them)",
                _forward_model(keep_of=lambda keep: 1 - keep)),
        Mistake("keep and drop confused in the scale: inverted dropout divides the kept units by "
                "keep (the probability of keeping), not by 1 - keep",
                _forward_model(train_scale=lambda keep, inverted: 1 / (1 - keep) if inverted else 1.0)),
        Mistake("keep and drop confused: the mask must keep a unit with probability keep, and the "
                "kept units are divided by keep, not by 1 - keep",
                _forward_model(keep_of=lambda keep: 1 - keep,
                               train_scale=lambda keep, inverted: 1 / (1 - keep) if inverted else 1.0)),
        Mistake("test mode still dropping: with train=False no unit is dropped; apply the test-time "
                "scaling instead (identity when inverted, times keep in the classic form)",
                _forward_model(drop_at_test=True)),
        Mistake("wrong scaling: inverted dropout divides the kept units by keep during training, so "
                "that their expected value stays x",
                _forward_model(train_scale=lambda keep, inverted: 1.0)),
        Mistake("wrong scaling: inverted dropout DIVIDES the kept units by keep during training "
                "(x / keep), it does not multiply them",
                _forward_model(train_scale=lambda keep, inverted: keep if inverted else 1.0)),
        Mistake("wrong scaling: in the classic form (inverted=False) training only zeroes the dropped "
                "units; the scaling happens at test time (times keep)",
                _forward_model(train_scale=lambda keep, inverted: 1 / keep)),
        Mistake("wrong scaling: in the classic form (inverted=False) test time multiplies every unit "
                "by keep, the expected fraction of units that were on in training",
                _forward_model(test_scale=lambda keep, inverted: 1.0)),
        Mistake("wrong scaling: with inverted dropout the scaling already happened in training "
                "(x / keep), so test time is the identity",
                _forward_model(test_scale=lambda keep, inverted: keep)),
        Mistake("wrong scaling: the two conventions are swapped: inverted=True scales by 1/keep in "
                "training and not at test; inverted=False scales by keep at test only",
                _forward_model(train_scale=lambda keep, inverted: 1.0 if inverted else 1 / keep,
                               test_scale=lambda keep, inverted: keep if inverted else 1.0)),
        Mistake("draw the mask from the rng you are given (rng.random(x.shape) < keep), not from "
                "np.random: then the same seed gives the same mask",
                _forward_model(mask=_unseeded_mask)),
        Mistake("a generator created inside the function with a fixed seed gives the same mask on "
                "every call; draw from the rng argument instead",
                _forward_model(mask=_fixed_seed_mask)),
        Mistake("one mask shared by every sample: draw a separate coin for every unit of every "
                "sample, i.e. a mask of x's full shape",
                _forward_model(mask=_batch_mask)),
        Mistake("the mask is float64 (from rng.binomial, .astype(float) or np.ones), and multiplying "
                "promotes float32 x to float64: make the mask bool or x.dtype",
                _forward_model(dtype_of=lambda x: np.float64)),
    ],
)
def _dropout_forward(x, keep, train, rng, inverted=True):
    return F.dropout_forward(x, keep, train=train, rng=rng, inverted=inverted)


# --- dropout_backward -----------------------------------------------------------------------------

def _call_backward(fn, inputs, forward):
    """The given forward's output and the backward's dx after it (plain data, judged by
    :func:`_backward_report`)."""
    inputs = dict(inputs)
    dout = inputs.pop("dout")
    out, cache = _output(forward, *inputs.values())
    return {"out": out, "dx": fn(dout, cache)}


def _backward_report(inputs, raw):
    """What a dropout backward did after the given forward (see the module docstring)."""
    x, dout = inputs["x"], inputs["dout"]
    if not isinstance(raw, dict):
        raise CheckFailure("the backward's result did not come back")
    out = _array_like(raw.get("out"), "dropout_forward: out", "x", x.shape)
    dx = _array_like(raw.get("dx"), "dropout_backward: dx", "dout", dout.shape)
    g, d, o = _host(dx), _host(dout), _host(out)
    scale = o / _host(x)  # what the forward multiplied each unit by (x is never 0 here)
    kept = o != 0
    rtol = _rtol(dx, dout)
    report = {"dtype of dx": str(dx.dtype)}
    if np.allclose(g[kept], d[kept] * scale[kept], rtol=rtol, atol=0.0):
        report["where the forward kept a unit"] = "dx = dout times the forward's scale"
    elif np.allclose(g[kept], d[kept], rtol=rtol, atol=0.0):
        report["where the forward kept a unit"] = "dx = dout, not scaled like the forward"
    elif (g[kept] == 0).any():
        report["where the forward kept a unit"] = "dx is 0 for some of them"
    else:
        report["where the forward kept a unit"] = "dx is not dout times the forward's scale"
    if kept.all():
        report["where the forward dropped a unit"] = "no unit was dropped"
    elif (g[~kept] == 0).all():
        report["where the forward dropped a unit"] = "dx = 0"
    else:
        report["where the forward dropped a unit"] = "dx is not 0 for some of them"
    return report


def _backward_case(note, shape, keep, train, inverted, dtype=np.float64):
    return Case(note, x=normal(*shape, dtype=dtype), keep=keep, train=train, rng=_rng(),
                inverted=inverted, dout=normal(*shape, dtype=dtype))


def _redrawn(dout, cache):
    """Mistake model on the reference cache ``(scale, mode)``: a fresh mask in backward."""
    scale, mode = cache
    if mode != "train":
        return dout * scale
    kept = scale != 0
    factor = float(scale[kept].max()) if kept.any() else 1.0
    fresh = np.random.default_rng(12345).random(dout.shape) < kept.mean()
    return dout * fresh * factor


def _unscaled(dout, cache):
    scale, mode = cache
    return dout * (scale != 0) if mode == "train" else dout


@exercise(
    "dropout_backward", points=1,
        implemented_by=("cnnlab.functional.dropout_backward", "cnnlab.nn.Dropout"),
        call=_call_backward, summarize=_backward_report, compare=_compare_reports,
    partners={"forward": F.dropout_forward},
    cases=[
        _backward_case("training, inverted, keep 0.8", (40, 100), 0.8, True, True),
        _backward_case("p = 1/2 on feature maps", (4, 3, 5, 5), 0.5, True, True),
        _backward_case("the classic form in training: kept units unscaled", (30, 50), 0.3, True, False),
        _backward_case("test time, inverted: dx = dout", (10, 20), 0.7, False, True),
        _backward_case("test time, the classic form: dx = keep * dout", (10, 20), 0.6, False, False),
        _backward_case("float32 stays float32", (16, 64), 0.5, True, True, dtype=np.float32),
        _backward_case("a single sample", (1, 500), 0.25, True, True),
    ],
    mistakes=[
        Mistake("mask redrawn in backward: the gradient must flow through the units the forward "
                "kept, so reuse the forward's mask from the cache instead of drawing a new one",
                _redrawn),
        Mistake("wrong scaling: dx is scaled exactly as the forward scaled x: dout * mask / keep "
                "for inverted dropout in training, dout * keep at test time in the classic form",
                _unscaled),
        Mistake("a dropped unit gets no gradient: multiply dout by the forward's mask (and scale); "
                "passing dout through unchanged ignores the mask",
                lambda dout, cache: dout),
    ],
)
def _dropout_backward(dout, cache):
    return F.dropout_backward(dout, cache)
