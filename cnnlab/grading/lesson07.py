"""Lesson 07 "SGD and minibatches": an epoch of shuffled minibatches, and one SGD step.

* ``minibatches(X, y, batch_size, rng) -> iterator`` of ``(Xb, yb)``: a fresh permutation per
  call, every sample exactly once, the last batch partial. Any way of drawing the permutation
  from ``rng`` is right, so the check does not compare batches with a reference; it calls the
  function several times and judges what it sees (see :func:`_facts`): batch sizes, repeated
  or missing samples, images still next to their labels, a shuffled order, a new order on
  every call, an order that comes from ``rng``. Mistake models give the same kind of verdict,
  so a student's mistake is recognised by what it does, whatever the code looks like.
* ``sgd_step(w, grad, lr) -> ndarray``: ``w - lr * grad``, a new array of w's dtype.
* ``train_epoch(model, batches, opt) -> float``: one epoch of the slides' loop (zero the
  gradients, forward pass and softmax cross-entropy, backward pass, ``opt.step()``) over the
  given minibatches; returns the loss averaged over samples. Checked by training a small
  float64 network on real digits (:mod:`.loops`) and comparing its weights and the loss with
  the same run of ``cnnlab.optim.SGD``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np

from .. import data as _data
from .. import functional as F
from .. import optim
from . import loops
from .core import Case, CheckFailure, Draw, Mistake, exercise, normal

# --- minibatches ------------------------------------------------------------------------------------

# Below this many samples a shuffled order can equal another by chance too often (1/N!): the
# facts that depend on randomness are then not judged.
_RANDOM_ENOUGH = 8
# A generator that keeps yielding is cut off here (plus a margin) instead of running forever.
_MARGIN = 5

_FACTS = {
    "sizes": "the batch sizes are {got_sizes}; expected {want_sizes}: full batches of batch_size, "
             "then one smaller batch with the rest",
    "no_repeats": "some samples appear more than once in one pass",
    "none_missing": "some samples never appear ({seen} of {n} samples seen)",
    "pairs": "some rows of Xb are no longer next to their own label in yb",
    "shuffled": "the samples come in their original order",
    "fresh": "two calls gave the same order; every call (every epoch) needs a new permutation",
    "reproducible": "the same rng state gave different batches: the order does not come from rng",
    "follows_rng": "generators with different seeds gave the same order: the order does not come from rng",
}


def _collect(fn, X, y, batch_size, rng) -> list:
    """Run ``fn`` once and return what it yields, as a list (cut off after one item too many)."""
    result = fn(X, y, batch_size, rng)
    name = getattr(fn, "__name__", "minibatches")
    if not isinstance(result, Iterable) or isinstance(result, (np.ndarray, tuple, str, dict)):
        raise CheckFailure(f"{name} must return an iterator of (Xb, yb) pairs (a generator with yield, "
                           f"or a list); got {type(result).__name__}")
    items = []
    for item in result:
        items.append(item)
        if len(items) > X.shape[0] + _MARGIN:
            break
    return items


def _batches(items, X, y) -> list:
    """The (Xb, yb) pairs of one call, or a CheckFailure saying what is wrong with them."""
    limit = X.shape[0] + _MARGIN
    if len(items) > limit:
        raise CheckFailure(f"minibatches yielded more than {limit} batches for {X.shape[0]} samples; "
                           "does its loop stop after one pass?")
    batches = []
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise CheckFailure(f"each batch must be a pair (Xb, yb); got {type(item).__name__}")
        Xb, yb = item
        if not (isinstance(Xb, np.ndarray) and isinstance(yb, np.ndarray)):
            raise CheckFailure(f"Xb and yb must be NumPy arrays (index X and y with an array of indices); "
                               f"got {type(Xb).__name__} and {type(yb).__name__}")
        if Xb.shape[1:] != X.shape[1:] or yb.shape[1:] != y.shape[1:] or Xb.shape[0] != yb.shape[0]:
            raise CheckFailure(f"a batch must hold whole samples: Xb (B, {', '.join(map(str, X.shape[1:]))}) and "
                               f"yb (B,) with the same B; got Xb {Xb.shape} and yb {yb.shape}")
        if Xb.dtype != X.dtype:
            raise CheckFailure(f"Xb must keep the dtype of X ({X.dtype}); got {Xb.dtype}: index X with the "
                               "batch's indices, X[idx], and convert nothing")
        batches.append((Xb, yb))
    return batches


def _order(X0, batches) -> np.ndarray:
    """The index in X0 of every row the batches hold, in the order they came."""
    where = {row.tobytes(): i for i, row in enumerate(X0.reshape(X0.shape[0], -1))}
    order = []
    for Xb, _ in batches:
        for row in np.ascontiguousarray(Xb, dtype=X0.dtype).reshape(Xb.shape[0], -1):
            i = where.get(row.tobytes())
            if i is None:
                raise CheckFailure("a batch holds a row that is not a sample of X: Xb must be rows of X, unchanged")
            order.append(i)
    return np.array(order, dtype=np.int64)


def _facts(X0, y0, batch_size, first, second, replay, other) -> dict:
    """What the batches of four calls show, as named booleans (None: not judged for this case).

    ``first`` and ``second`` come from two calls with the same generator; ``replay`` from a
    copy of the generator's state before ``first``; ``other`` from a generator seeded otherwise.
    Keys starting with ``_`` are details for the messages, not facts.
    """
    n = X0.shape[0]
    order = _order(X0, first)
    labels = np.concatenate([yb for _, yb in first]) if first else np.zeros(0, y0.dtype)
    sizes = [Xb.shape[0] for Xb, _ in first]
    want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    random_enough = n >= _RANDOM_ENOUGH
    judged = (lambda fact: bool(fact)) if random_enough else (lambda fact: None)
    return {
        "sizes": sizes == want,
        "no_repeats": len(set(order.tolist())) == order.size,
        "none_missing": set(order.tolist()) == set(range(n)),
        "pairs": labels.shape == y0[order].shape and bool(np.array_equal(labels, y0[order])),
        "shuffled": judged(not np.array_equal(order, np.arange(order.size))),
        "fresh": judged(not np.array_equal(order, _order(X0, second))),
        "reproducible": judged(np.array_equal(order, _order(X0, replay))),
        "follows_rng": judged(not np.array_equal(order, _order(X0, other))),
        "_sizes": sizes, "_want": want, "_seen": len(set(order.tolist())), "_n": n,
    }


def _call_minibatches(fn, inputs):
    """What four calls yield (see :func:`_facts`): plain data, judged by :func:`_summarize`."""
    X, y, batch_size, rng = (inputs[k] for k in ("X", "y", "batch_size", "rng"))
    X0, y0, state = X.copy(), y.copy(), copy.deepcopy(rng)
    first = _collect(fn, X, y, batch_size, rng)  # the case's own arrays: changing them is reported
    # Later calls get fresh copies, so a function that shuffles X in place is judged on what
    # one call does, not on the damage of the calls before it.
    return {
        "first": first,
        "second": _collect(fn, X0.copy(), y0.copy(), batch_size, rng),  # the same generator, drawn from again
        "replay": _collect(fn, X0.copy(), y0.copy(), batch_size, copy.deepcopy(state)),
        "other": _collect(fn, X0.copy(), y0.copy(), batch_size, np.random.default_rng(12345)),
        "model": bool(getattr(fn, "_mistake_model", False)),
    }


def _summarize(inputs, raw) -> dict:
    """The facts of four calls' batches (see :func:`_facts`), on the grader's side."""
    X0, y0 = inputs["X"], inputs["y"]
    keys = ("first", "second", "replay", "other")
    if not (isinstance(raw, dict) and all(isinstance(raw.get(key), list) for key in keys)):
        raise CheckFailure("the batches of the four calls did not come back")
    calls = {key: _batches(raw[key], X0, y0) for key in keys}
    facts = _facts(X0, y0, inputs["batch_size"], calls["first"], calls["second"], calls["replay"], calls["other"])
    facts["_model"] = raw.get("model") is True
    return facts


def _model(fn):
    """Mark ``fn`` as a mistake model (see :func:`_compare_facts`)."""
    fn._mistake_model = True
    return fn


def _compare_facts(expected, got, inputs):
    """None when every judged fact agrees; otherwise one message per fact that does not.

    When ``expected`` comes from a mistake model that behaves correctly on this case (dropping
    the last batch when batch_size divides N, say), nothing distinguishes it here: the
    comparison cannot tell, so it raises, and the model counts neither way (core.explain).
    """
    if expected.get("_model") and all(expected.get(key) is not False for key in _FACTS):
        raise CheckFailure("this mistake does not show in this case")
    problems = []
    for key, text in _FACTS.items():
        if expected.get(key) is not None and got.get(key) != expected[key]:
            problems.append(text.format(got_sizes=got["_sizes"], want_sizes=got["_want"], seen=got["_seen"],
                                        n=got["_n"]))
    return "; ".join(problems) or None


def _reference_minibatches(X, y, batch_size, rng):
    return _data.batches(X, y, batch_size, rng=rng)


def _split(X, y, batch_size, order):
    return [(X[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, len(order), batch_size)]


@_model
def _with_replacement(X, y, batch_size, rng):
    return _split(X, y, batch_size, rng.integers(0, len(X), len(X)))


@_model
def _last_dropped(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    stop = len(X) - len(X) % batch_size
    return _split(X, y, batch_size, order[:stop])


@_model
def _shuffled_apart(X, y, batch_size, rng):
    order_x, order_y = rng.permutation(len(X)), rng.permutation(len(y))
    return [(X[order_x[i:i + batch_size]], y[order_y[i:i + batch_size]]) for i in range(0, len(X), batch_size)]


@_model
def _not_shuffled(X, y, batch_size, rng):
    return _split(X, y, batch_size, np.arange(len(X)))


@_model
def _own_generator(X, y, batch_size, rng):
    return _split(X, y, batch_size, np.random.default_rng(0).permutation(len(X)))


@_model
def _global_state(X, y, batch_size, rng):
    return _split(X, y, batch_size, np.random.permutation(len(X)))


@_model
def _padded(X, y, batch_size, rng):
    order = rng.permutation(len(X))
    extra = (-len(X)) % batch_size
    return _split(X, y, batch_size, np.concatenate([order, order[:extra]]))


def _labels(n):
    return Draw(lambda rng: rng.integers(0, 10, n))


def _case(note, n, batch_size, shape=(3,), seed=0, dtype=np.float64):
    return Case(note, X=normal(n, *shape, dtype=dtype), y=_labels(n), batch_size=batch_size,
                rng=np.random.default_rng(seed))


@exercise(
    "minibatches", points=2,
        implemented_by=("cnnlab.data.batches",),
        call=_call_minibatches, summarize=_summarize, compare=_compare_facts,
    cases=[
        _case("10 = 3 + 3 + 3 + 1: the last batch is partial", 10, 3),
        _case("images (N, C, H, W); 20 = 4 batches of 5", 20, 5, shape=(1, 4, 4), seed=1),
        _case("37 samples in batches of 8: the last holds 5", 37, 8, shape=(2,), seed=2),
        _case("online: batches of one sample", 12, 1, seed=3),
        _case("one batch holding everything", 16, 16, seed=4),
        _case("batch size larger than N: one batch of all 9", 9, 32, seed=5),
        _case("a tiny set: 3 samples in batches of 2", 3, 2, seed=6),
        _case("float32 images: the batches stay float32", 14, 4, shape=(1, 2, 2), seed=7, dtype=np.float32),
    ],
    mistakes=[
        Mistake("sampling with replacement: an epoch visits every sample exactly once; shuffle with ONE "
                "permutation (rng.permutation(N)) and cut it into batches, instead of drawing indices with "
                "rng.integers or rng.choice with replacement (or per batch)", _with_replacement),
        Mistake("last batch dropped: when N is not a multiple of batch_size the last batch is smaller; keep it "
                "(start a batch at every i in range(0, N, batch_size))", _last_dropped),
        Mistake("X and y shuffled apart: draw ONE permutation and index both X and y with it, so every "
                "image stays with its label", _shuffled_apart),
        Mistake("not shuffled: visit the samples in a random order, idx = rng.permutation(N), then batches "
                "X[idx[i:i + batch_size]]", _not_shuffled),
        Mistake("the same order on every call: draw the permutation from the rng argument (rng.permutation), "
                "not from a generator you create inside the function", _own_generator),
        Mistake("use the rng argument (rng.permutation(N)), not NumPy's global np.random, so that a seeded "
                "generator repeats the same epochs", _global_state),
        Mistake("the last batch is smaller than batch_size; do not fill it up with samples from the start",
                _padded),
    ],
)
def _minibatches(X, y, batch_size, rng):
    return _reference_minibatches(X, y, batch_size, rng)


# --- sgd_step ---------------------------------------------------------------------------------------

@exercise(
    "sgd_step", points=1, implemented_by=("cnnlab.optim.SGD",), dtype="exact",
    cases=[
        Case("by hand: (1, 2) - 0.1 (0.5, -1) = (0.95, 2.1)", w=np.array([1.0, 2.0]),
             grad=np.array([0.5, -1.0]), lr=0.1, expected=np.array([0.95, 2.1])),
        Case("a weight matrix", w=normal(4, 3), grad=normal(4, 3), lr=0.05),
        Case("float32 weights stay float32", w=normal(5, 2, dtype=np.float32), grad=normal(5, 2, dtype=np.float32),
             lr=0.01),
        Case("a conv kernel (F, C, kh, kw)", w=normal(2, 3, 3, 3), grad=normal(2, 3, 3, 3), lr=0.3),
        Case("learning rate 0: nothing moves", w=normal(3), grad=normal(3), lr=0.0),
        Case("a large learning rate", w=normal(6), grad=normal(6), lr=2.5),
    ],
    mistakes=[
        Mistake("descent goes against the gradient: w - lr * grad, not w + lr * grad",
                lambda w, grad, lr: w + lr * grad),
        Mistake("the learning rate scales the step: w - lr * grad", lambda w, grad, lr: w - grad),
        Mistake("return the new weights w - lr * grad, not the step -lr * grad", lambda w, grad, lr: -lr * grad),
        Mistake("keep w's dtype: a NumPy float64 number (np.float64(lr)) turns a float32 array into float64; "
                "multiply by the plain Python number lr",
                lambda w, grad, lr: w - np.float64(lr) * grad),
    ],
)
def _sgd_step(w, grad, lr):
    return w - lr * grad


# --- train_epoch ------------------------------------------------------------------------------------
#
# The student's loop trains a fresh copy of the case's network with cnnlab.optim.SGD on the
# case's batches; the reference is the same run through the slides' recipe (loops.epoch_loop).

def _call_train_epoch(fn, inputs):
    """Train the case's network for one epoch with ``fn``; the loss it returned and the weights."""
    model = inputs["model"]
    opt = optim.SGD(model.parameters(), lr=inputs["lr"])
    return loops.outcome(fn(model, inputs["batches"], opt), model)


def _train_case(note, n, batch_size, lr=0.1, hidden=16, seed=0):
    return Case(note, model=loops.net(hidden, seed), batches=loops.digits_batches(n, batch_size), lr=lr)


def _no_zero_grad(model, batches, opt):
    total, seen = 0.0, 0
    for Xb, yb in batches:
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        total, seen = total + loss * len(yb), seen + len(yb)
    return total / seen


def _mean_of_batch_means(model, batches, opt):
    losses = []
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        losses.append(loss)
    return float(np.mean(losses))


def _step_before_backward(model, batches, opt):
    total, seen = 0.0, 0
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        opt.step()
        model.backward(dscores)
        total, seen = total + loss * len(yb), seen + len(yb)
    return total / seen


def _last_batch_loss(model, batches, opt):
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
    return loss


def _summed_losses(model, batches, opt):
    total = 0.0
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        total += loss * len(yb)
    return total


# W = 0 gives equal scores, p = (1/2, 1/2) and a loss of ln 2 for each sample; the gradient of
# the batch's mean loss is dscores = (p - onehot(y)) / 2 = [[-1/4, 1/4], [1/4, -1/4]], so
# dW = dscores.T @ X = [[-1/4, 1/4], [1/4, -1/4]] and db = 0; one step with lr 2 gives W = -2 dW.
_BY_HAND = Case(
    "by hand: W = 0 scores both classes equally, loss ln 2; one step with lr 2 gives "
    "W = [[0.5, -0.5], [-0.5, 0.5]]",
    model=loops.linear_net(np.zeros((2, 2)), np.zeros(2)),
    batches=[(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 1]))], lr=2.0,
    expected={"loss": float(np.log(2)), "weights": [np.array([[0.5, -0.5], [-0.5, 0.5]]), np.zeros(2)]})


@exercise(
    "train_epoch", points=3, implemented_by=("cnnlab.train.fit",), call=_call_train_epoch,
    cases=[
        _BY_HAND,
        _train_case("150 digits in batches of 32: the last batch holds 22", 150, 32),
        _train_case("batches of 10, a larger network", 95, 10, lr=0.05, hidden=24, seed=3),
        _train_case("one batch holding all 64 digits", 64, 64, lr=0.5, seed=1),
        _train_case("online: 20 batches of one digit", 20, 1, lr=0.02, seed=2),
        _train_case("200 digits in batches of 48: the last holds 8", 200, 48, lr=0.2, seed=4),
    ],
    mistakes=[
        Mistake("gradients not zeroed: backward ADDS into every p.grad, so call opt.zero_grad() before the "
                "backward pass of every batch; otherwise each step also uses all the earlier batches' "
                "gradients", _no_zero_grad),
        Mistake("mean of batch means: the last batch is smaller, so weight each batch's loss by its size "
                "(total += loss * len(yb)) and divide by the number of samples at the end",
                _mean_of_batch_means),
        Mistake("step before backward: opt.step() uses the gradients in p.grad, which backward fills; "
                "call model.backward(dscores) first, then opt.step()", _step_before_backward),
        Mistake("return the mean loss of the whole epoch, weighted by batch size, not the loss of the last "
                "batch", _last_batch_loss),
        Mistake("return the MEAN loss per sample: divide the weighted sum by the number of samples",
                _summed_losses),
    ],
)
def _train_epoch(model, batches, opt):
    return loops.epoch_loop(model, batches, opt)
