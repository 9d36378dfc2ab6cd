"""Lesson 12 "Training a CNN": split, preprocess, augment, stop early, and train a network.

* ``split_data(X, y, fractions, rng) -> ((Xtr, ytr), (Xva, yva), (Xte, yte))``: random, so the
  check judges properties, not values: every sample in exactly one part, images still with
  their labels, each class cut in the given fractions (within the rounding of whole counts:
  less than one sample per part and class, plus the leftovers the last part takes), and the
  same split again for an identically seeded ``rng``.
* ``normalize(X_train, *others) -> tuple``: compared with :func:`cnnlab.data.normalize`.
* ``random_crop(x, size, pad, rng) -> ndarray``: each crop must be a ``size`` x ``size``
  window of its zero-padded image; the offsets must differ between images, cover the whole
  valid range, and repeat for an identically seeded ``rng``.
* ``early_stopping(val_losses, patience) -> int``: the rule of :func:`cnnlab.train.fit`.
* ``train_cnn``: ``cl.check("train_cnn", build_model)`` builds the student's network (with
  cnnlab's generator seeded, so the run is repeatable), checks that it has a convolution,
  trains it with a fixed recipe and passes when its accuracy on (part of) MNIST's test set
  reaches the pass mark of the mode, :data:`PASS_MARKS`.
"""

from __future__ import annotations

import copy
import os
import resource
import subprocess
import sys

import numpy as np

from .. import backend, nn
from .. import data as _data
from .. import train as _train
from . import plain
from .compare import difference
from .core import (
    Case,
    CheckFailure,
    Draw,
    Exercise,
    Mistake,
    exercise,
    register,
    uniform,
)

# --- reports: property checks for exercises with random results ---------------------------------


class _Report:
    """What is wrong with a random result: ``{kind: message}`` (empty when it is right).

    Two reports agree when they found the same kinds of problem, which is how a mistake
    model's result "equals" the student's for the hint machinery."""

    def __init__(self, problems: dict | None = None):
        self.problems = dict(problems or {})

    def __repr__(self):
        return f"_Report({sorted(self.problems)})"


def _compare_reports(expected, got, inputs):
    if not isinstance(got, _Report):  # the call hook always returns one; be safe anyway
        return f"unexpected result {type(got).__name__}"
    if set(expected.problems) == set(got.problems):
        return None
    return "; ".join(got.problems.values()) or "your result has none of the problems expected here"


def _detector(kind: str, hint: str):
    """A detector that shows ``hint`` when the student's report contains ``kind``."""
    def detect(inputs, got, expected):
        return hint if isinstance(got, _Report) and kind in got.problems else None
    return detect


def _seeded(inputs: dict) -> dict:
    """A deep copy of the inputs (the generator too, so a second call draws the same numbers)."""
    return copy.deepcopy(inputs)


def _same_arrays(a, b) -> bool:
    try:
        return all(np.array_equal(np.asarray(p), np.asarray(q)) for p, q in zip(a, b)) and len(a) == len(b)
    except (TypeError, ValueError):  # not arrays, or ragged: not the same split
        return False


# --- split_data ---------------------------------------------------------------------------------

_SPLIT_HINTS = {
    "overlap": "some samples are in two parts (or twice in one): shuffle the indices of each class once "
               "and cut that one permutation into consecutive pieces, so no index can be taken twice",
    "missing": "some samples are in no part: the pieces must cover every index (let the last part take "
               "whatever the rounding of the others left over)",
    "labels": "images and labels were separated: index X and y with the same indices (X[idx], y[idx]); "
              "never shuffle them independently",
    "sizes": "the parts must have the sizes the fractions ask for, in the order (train, val, test)",
    "stratified": "a part does not have the class mix of the whole data: split each class separately in "
                  "the given fractions (stratify), then join the pieces",
    "repeat": "two calls with identically seeded generators gave different splits: draw every random "
              "number from rng (rng.permutation), not from np.random",
}


def _split_inputs(counts, fractions, shape=(1, 2, 2), sort=False, classes=None, dtype=np.float64):
    """Inputs for a case: X of ``dtype`` whose first pixel is the sample's index (so samples can
    be traced), labels with ``counts[c]`` samples of class ``classes[c]``, and a seeded generator."""
    def make(rng):
        labels = np.repeat(np.asarray(classes if classes is not None else range(len(counts))), counts)
        if not sort:
            labels = rng.permutation(labels)
        n = labels.size
        X = rng.uniform(0.0, 1.0, (n, *shape)).astype(dtype)
        X.reshape(n, -1)[:, 0] = np.arange(n)
        return {"X": X, "y": labels.astype(np.int64), "fractions": tuple(fractions),
                "rng": np.random.default_rng(int(rng.integers(2 ** 31)))}
    return make


def _split_report(inputs, result, again) -> _Report:
    X, y, fractions = inputs["X"], inputs["y"], inputs["fractions"]
    problems = {}
    k = len(fractions)
    if not (isinstance(result, (tuple, list)) and len(result) == k
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in result)):
        got = f"a {type(result).__name__}" + (f" of {len(result)} items" if isinstance(result, (tuple, list)) else "")
        raise CheckFailure(f"split_data must return {k} pairs ((X_train, y_train), (X_val, y_val), "
                           f"(X_test, y_test)); got {got}")
    index_of = {row.tobytes(): i for i, row in enumerate(X.reshape(len(X), -1))}
    seen = np.zeros(len(X), dtype=np.int64)
    per_part = []
    for part, (Xp, yp) in enumerate(result):
        Xp, yp = np.asarray(Xp), np.asarray(yp)
        if Xp.shape[1:] != X.shape[1:] or Xp.dtype != X.dtype or yp.shape != (Xp.shape[0],):
            raise CheckFailure(f"part {part}: X must be (n, {', '.join(map(str, X.shape[1:]))}) of dtype "
                               f"{X.dtype} and y (n,); got X {Xp.shape} {Xp.dtype}, y {yp.shape}")
        idx = [index_of.get(row.tobytes(), -1) for row in Xp.reshape(len(Xp), -1)]
        if -1 in idx:
            raise CheckFailure(f"part {part} holds images that are not in X: return the samples themselves, unchanged")
        idx = np.asarray(idx, dtype=np.int64)
        np.add.at(seen, idx, 1)
        if len(idx) and not np.array_equal(y[idx], yp):
            bad = int((y[idx] != yp).sum())
            problems["labels"] = f"part {part}: {bad} of {len(idx)} labels do not belong to their images"
        per_part.append(idx)
    if (seen > 1).any():
        problems["overlap"] = f"{int((seen > 1).sum())} samples appear more than once"
    if (seen == 0).any():
        problems["missing"] = f"{int((seen == 0).sum())} of {len(X)} samples are in no part"
    classes, class_counts = np.unique(y, return_counts=True)
    sizes = [len(idx) for idx in per_part]
    slack = k - 1  # each part's whole count is within 1 of its share, the rest takes the leftovers
    wanted = [f * len(X) for f in fractions]
    if any(abs(s - w) >= slack * len(classes) + 1 for s, w in zip(sizes, wanted)):
        problems["sizes"] = (f"part sizes {sizes}, expected about {[round(w, 1) for w in wanted]} "
                             f"for fractions {tuple(fractions)}")
    else:
        for part, idx in enumerate(per_part):
            got = np.array([(y[idx] == c).sum() for c in classes])
            share = np.asarray(class_counts) * fractions[part]
            off = np.abs(got - share)
            if (off >= max(slack, 1)).any():
                c = int(np.argmax(off))
                problems["stratified"] = (f"part {part} has {int(got[c])} samples of class {classes[c]}, "
                                          f"expected about {share[c]:.3g} ({fractions[part]:g} of {class_counts[c]})")
                break
    if again is not None and not all(_same_arrays(p, q) for p, q in zip(result, again)):
        problems["repeat"] = "a second call with an identically seeded rng gave a different split"
    return _Report(problems)


def _twice(fn, inputs):
    """Two calls from identically seeded inputs: ``{"result": ..., "again": ...}``."""
    second = _seeded(inputs)
    return {"result": fn(*inputs.values()), "again": fn(*second.values())}


def _pair_of_calls(report):
    """A ``summarize`` hook: ``report(inputs, result, again)`` on the two calls of :func:`_twice`."""
    def summarize(inputs, raw):
        if not (isinstance(raw, dict) and "result" in raw):
            raise CheckFailure("the results of the two calls did not come back")
        return report(inputs, raw["result"], raw.get("again"))
    return summarize


def _split_in_order(X, y, fractions, rng):
    """Mistake model: cut the data in its stored order, no shuffling at all."""
    cuts = np.cumsum([round(f * len(X)) for f in fractions[:-1]])
    return tuple((X[p], y[p]) for p in np.split(np.arange(len(X)), cuts))


def _split_unstratified(X, y, fractions, rng):
    """Mistake model: one permutation of all samples, cut without regard to the classes."""
    order = rng.permutation(len(X))
    cuts = np.cumsum([round(f * len(X)) for f in fractions[:-1]])
    return tuple((X[p], y[p]) for p in np.split(order, cuts))


def _split_each_part_drawn(X, y, fractions, rng):
    """Mistake model: each part drawn on its own with rng.choice, so parts overlap."""
    parts = []
    for f in fractions:
        idx = np.concatenate([rng.choice(np.flatnonzero(y == c), round(f * (y == c).sum()), replace=False)
                              for c in np.unique(y)])
        parts.append((X[idx], y[idx]))
    return tuple(parts)


def _split_labels_apart(X, y, fractions, rng):
    """Mistake model: a stratified split whose labels were shuffled with a second permutation."""
    parts = _data.split(X, y, fractions, rng)
    return tuple((Xp, yp[rng.permutation(len(yp))]) for Xp, yp in parts)


def _split_global_random(X, y, fractions, rng):
    """Mistake model: a stratified split drawn from NumPy's global generator instead of rng."""
    return _data.split(X, y, fractions, np.random.default_rng(np.random.randint(2 ** 31)))


@exercise(
    "split_data", points=2,
        implemented_by=("cnnlab.data.split",),
        call=_twice, summarize=_pair_of_calls(_split_report), compare=_compare_reports,
    cases=[
        Case("3 classes of 100, shuffled labels", make=_split_inputs([100, 100, 100], (0.6, 0.2, 0.2))),
        Case("stored sorted by class, like mnist5k", make=_split_inputs([30] * 10, (0.8, 0.1, 0.1), sort=True)),
        Case("classes of different sizes, colour images",
             make=_split_inputs([40, 60, 80, 100, 120], (0.5, 0.25, 0.25), shape=(3, 2, 2))),
        Case("2 classes of 5: each part gets 3, 1 and 1 of each",
             make=_split_inputs([5, 5], (0.6, 0.2, 0.2), shape=(1, 1, 1))),
        Case("labels 0, 3 and 7 only, fractions (0.7, 0.15, 0.15)",
             make=_split_inputs([80, 70, 90], (0.7, 0.15, 0.15), classes=[0, 3, 7])),
        Case("float32 images stay float32", make=_split_inputs([20, 30], (0.6, 0.2, 0.2), dtype=np.float32)),
    ],
    mistakes=[
        Mistake(_SPLIT_HINTS["stratified"], _split_unstratified),
        Mistake(_SPLIT_HINTS["overlap"], _split_each_part_drawn),
        Mistake(_SPLIT_HINTS["labels"], _split_labels_apart),
        Mistake(_SPLIT_HINTS["repeat"], _split_global_random),
        Mistake(_SPLIT_HINTS["stratified"], _split_in_order),
    ],
    detectors=[_detector(kind, hint) for kind, hint in _SPLIT_HINTS.items()],
)
def _split_data(X, y, fractions, rng):
    return _data.split(X, y, fractions, rng)


# --- normalize ----------------------------------------------------------------------------------

def _channel_mean(X):
    return X.mean(axis=(0, 2, 3), keepdims=True)


def _shifted(shape, shifts, dtype=np.float64):
    """Uniform numbers with a different offset per channel, so per-channel means differ."""
    return Draw(lambda rng: (rng.uniform(0, 1, shape) + np.asarray(shifts).reshape(1, -1, 1, 1)).astype(dtype))


@exercise(
    "normalize", points=1, implemented_by=("cnnlab.data.normalize",),
    cases=[
        Case("three channels, validation and test sets",
             X_train=_shifted((20, 3, 4, 4), (0.0, 2.0, -1.0)), X_val=_shifted((6, 3, 4, 4), (0.5, 1.0, 0.0)),
             X_test=_shifted((5, 3, 4, 4), (1.0, 3.0, -2.0))),
        Case("grey float32 images, one other set", X_train=uniform(0, 1, (30, 1, 8, 8), np.float32),
             X_val=Draw(lambda rng: rng.uniform(0.3, 1, (10, 1, 8, 8)).astype(np.float32))),
        Case("only the training set", X_train=_shifted((8, 2, 3, 5), (1.0, -1.0))),
        Case("worked out by hand: channel means 2 and 15",
             X_train=np.array([[[[1.0, 3.0]], [[10.0, 20.0]]]]),
             X_test=np.array([[[[2.0, 2.0]], [[15.0, 16.0]]]]),
             expected=(np.array([[[[-1.0, 1.0]], [[-5.0, 5.0]]]]), np.array([[[[0.0, 0.0]], [[0.0, 1.0]]]]))),
        Case("three other sets of different sizes", X_train=_shifted((12, 2, 5, 5), (0.0, 5.0)),
             X_a=_shifted((3, 2, 5, 5), (1.0, 1.0)), X_b=_shifted((1, 2, 5, 5), (-1.0, 0.0)),
             X_c=_shifted((7, 2, 5, 5), (2.0, 2.0))),
    ],
    mistakes=[
        Mistake("the mean must come from X_train only: computing it on all the data lets the validation "
                "and test images leak into training",
                lambda X_train, *others: tuple(X - _channel_mean(np.concatenate([X_train, *others])) for X in
                                               (X_train, *others))),
        Mistake("one mean per channel: average over the axes (0, 2, 3) with keepdims=True, not over "
                "every number at once",
                lambda X_train, *others: tuple(X - X_train.mean() for X in (X_train, *others))),
        Mistake("that subtracts the mean image (one value per pixel, axis 0); this exercise asks for one "
                "value per channel, the mean over the axes (0, 2, 3)",
                lambda X_train, *others: tuple(X - X_train.mean(axis=0) for X in (X_train, *others))),
        Mistake("every array must have the mean of X_train subtracted, not its own mean",
                lambda X_train, *others: tuple(X - _channel_mean(X) for X in (X_train, *others))),
        Mistake("subtract the mean only; do not divide by the standard deviation",
                lambda X_train, *others: tuple((X - _channel_mean(X_train)) / X_train.std(axis=(0, 2, 3), keepdims=True)
                                               for X in (X_train, *others))),
        Mistake("average over the whole training set (axes 0, 2, 3), not over each image separately",
                lambda X_train, *others: tuple(X - X.mean(axis=(2, 3), keepdims=True) for X in (X_train, *others))),
        Mistake("return X_train too: the result is the tuple (X_train, *others), each normalised",
                lambda X_train, *others: tuple(X - _channel_mean(X_train) for X in others)),
    ],
)
def _normalize(X_train, *others):
    return _data.normalize(X_train, *others)


# --- random_crop --------------------------------------------------------------------------------

_CROP_HINTS = {
    "window": "each crop must be a size x size window of its image padded with zeros on all four sides: "
              "np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))), then slice",
    "edge": "pad with zeros (np.pad's default mode='constant'), not by repeating the edge pixels",
    "channels": "cut every channel of an image at the same offset: slice [n, :, rows, cols]",
    "same": "draw an offset for each image (e.g. rng.integers(0, hi, size=N)), not one for the whole batch",
    "diagonal": "draw the row offset and the column offset separately; they need not be equal",
    "unpadded": "every crop is the unpadded image: pad first, then cut the window out of the padded image",
    "range": "offsets run from 0 to H + 2 pad - size inclusive: rng.integers(0, H + 2 * pad - size + 1) "
             "(the upper end of integers is excluded)",
    "repeat": "two calls with identically seeded generators gave different crops: draw every offset "
              "from rng, not from np.random",
}


def _crop_inputs(shape, size, pad, dtype=np.float64):
    def make(rng):
        # Positive values everywhere: no window of the padded image equals another.
        return {"x": rng.uniform(0.1, 1.0, shape).astype(dtype), "size": size, "pad": pad,
                "rng": np.random.default_rng(int(rng.integers(2 ** 31)))}
    return make


def _offsets(padded, out):
    """(N, 2) offsets at which out[n, 0] is a window of padded[n, 0], -1 where there is none,
    and whether every channel was cut at that offset."""
    N, _, Hp, Wp = padded.shape
    s_h, s_w = out.shape[2:]
    found = np.full((N, 2), -1)
    channels_ok = True
    for n in range(N):
        for oy in range(Hp - s_h + 1):
            for ox in range(Wp - s_w + 1):
                if np.array_equal(padded[n, 0, oy:oy + s_h, ox:ox + s_w], out[n, 0]):
                    found[n] = oy, ox
                    channels_ok &= bool(np.array_equal(padded[n, :, oy:oy + s_h, ox:ox + s_w], out[n]))
                    break
            if found[n, 0] >= 0:
                break
    return found, channels_ok


def _crop_report(inputs, out, again) -> _Report:
    x, size, pad = inputs["x"], inputs["size"], inputs["pad"]
    N, C, H, W = x.shape
    if not hasattr(out, "shape") or not hasattr(out, "dtype"):
        raise CheckFailure(f"random_crop must return an array; got {type(out).__name__}")
    out = np.asarray(out)
    if out.shape != (N, C, size, size):
        raise CheckFailure(f"wrong shape: expected (N, C, size, size) = {(N, C, size, size)}, got {out.shape}")
    if out.dtype != x.dtype:
        raise CheckFailure(f"wrong dtype: expected {x.dtype} like x, got {out.dtype}")
    problems = {}
    zero = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    offsets, channels_ok = _offsets(zero, out)
    if (offsets < 0).any():
        missing = int((offsets[:, 0] < 0).sum())
        edge_offsets, _ = _offsets(np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge"), out)
        kind = "edge" if pad and (edge_offsets >= 0).all() else "window"
        problems[kind] = f"{missing} of {N} crops are not a window of their zero-padded image"
        return _Report(problems)
    if not channels_ok:
        problems["channels"] = "the channels of an image were cut at different offsets"
    ranges = (H + 2 * pad - size + 1, W + 2 * pad - size + 1)
    if N >= 8 and min(ranges) > 1 and (offsets == offsets[0]).all():
        if pad and (offsets == pad).all():
            problems["unpadded"] = "every crop equals the image without its padding"
        else:
            problems["same"] = f"all {N} images were cropped at the same offset {tuple(int(o) for o in offsets[0])}"
    else:
        if N >= 16 and min(ranges) > 1 and (offsets[:, 0] == offsets[:, 1]).all():
            problems["diagonal"] = "every image has equal row and column offsets"
        for axis, n_offsets in enumerate(ranges):
            # Checked only where a right answer misses an end with probability below 1e-4.
            if n_offsets > 1 and (1 - 1 / n_offsets) ** N < 1e-4:
                low, high = offsets[:, axis].min(), offsets[:, axis].max()
                if low != 0 or high != n_offsets - 1:
                    problems["range"] = (f"{'row' if axis == 0 else 'column'} offsets span {low}..{high}, "
                                         f"expected 0..{n_offsets - 1}")
    if again is not None and not np.array_equal(np.asarray(again), out):
        problems["repeat"] = "a second call with an identically seeded rng gave different crops"
    return _Report(problems)


def _pad(x, pad):
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))


def _crop_at(padded, oy, ox, size):
    return np.stack([padded[n, :, oy[n]:oy[n] + size, ox[n]:ox[n] + size] for n in range(len(padded))])


def _crop_one_offset(x, size, pad, rng):
    padded = _pad(x, pad)
    oy, ox = rng.integers(0, padded.shape[2] - size + 1), rng.integers(0, padded.shape[3] - size + 1)
    return padded[:, :, oy:oy + size, ox:ox + size]


def _crop_excluding_last(x, size, pad, rng):
    padded = _pad(x, pad)
    N = len(x)
    return _crop_at(padded, rng.integers(0, padded.shape[2] - size, N), rng.integers(0, padded.shape[3] - size, N), size)


def _crop_diagonal(x, size, pad, rng):
    padded = _pad(x, pad)
    o = rng.integers(0, min(padded.shape[2:]) - size + 1, len(x))
    return _crop_at(padded, o, o, size)


def _crop_edge_padding(x, size, pad, rng):
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    N = len(x)
    return _crop_at(padded, rng.integers(0, padded.shape[2] - size + 1, N),
                    rng.integers(0, padded.shape[3] - size + 1, N), size)


def _crop_no_padding(x, size, pad, rng):
    N = len(x)
    return _crop_at(x, rng.integers(0, x.shape[2] - size + 1, N), rng.integers(0, x.shape[3] - size + 1, N), size)


def _crop_global_random(x, size, pad, rng):
    return _data.random_crop(x, size, pad, np.random.default_rng(np.random.randint(2 ** 31)))


@exercise(
    "random_crop", points=2,
        implemented_by=("cnnlab.data.random_crop",),
        call=_twice, summarize=_pair_of_calls(_crop_report), compare=_compare_reports,
    cases=[
        Case("28 -> 28 with pad 2 in miniature: 8x8 crops of 8x8 images padded by 2",
             make=_crop_inputs((64, 1, 8, 8), 8, 2, np.float32)),
        Case("colour images, crops smaller than the image", make=_crop_inputs((64, 3, 6, 6), 4, 1)),
        Case("non-square images", make=_crop_inputs((64, 2, 5, 7), 5, 2)),
        Case("no padding: plain random crops", make=_crop_inputs((64, 1, 6, 6), 4, 0)),
        Case("size = padded size: the only window is the whole padded image",
             make=_crop_inputs((3, 2, 3, 3), 5, 1)),
    ],
    mistakes=[
        Mistake(_CROP_HINTS["same"], _crop_one_offset),
        Mistake(_CROP_HINTS["range"], _crop_excluding_last),
        Mistake(_CROP_HINTS["diagonal"], _crop_diagonal),
        Mistake(_CROP_HINTS["edge"], _crop_edge_padding),
        Mistake(_CROP_HINTS["unpadded"], _crop_no_padding),
        Mistake(_CROP_HINTS["repeat"], _crop_global_random),
    ],
    detectors=[_detector(kind, hint) for kind, hint in _CROP_HINTS.items()],
)
def _random_crop(x, size, pad, rng):
    return _data.random_crop(x, size, pad, rng)


# --- early_stopping -----------------------------------------------------------------------------

def _stop_rule(val_losses, patience, improves=lambda new, best: new < best, runs_out=lambda wait, p: wait >= p,
               result="best"):
    """Walk the epochs like :func:`cnnlab.train.fit`; the keyword arguments make the mistake models."""
    best = 0
    for epoch in range(1, len(val_losses)):
        if improves(val_losses[epoch], val_losses[best]):
            best = epoch
        elif runs_out(epoch - best, patience):
            return epoch if result == "stop" else best
    return len(val_losses) - 1 if result == "stop" else best


@exercise(
    "early_stopping", points=2,
    cases=[
        Case("worked out by hand: best 3, patience runs out at epoch 5",
             val_losses=[0.31, 0.29, 0.30, 0.28, 0.33, 0.34, 0.27], patience=2, expected=3),
        Case("a late improvement after the patience ran out does not count",
             val_losses=[1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.65, 0.6], patience=3),
        Case("an equal loss is not an improvement", val_losses=[0.5, 0.4, 0.4, 0.4, 0.3], patience=2),
        Case("improving every epoch: patience never runs out", val_losses=[3.0, 2.0, 1.5, 1.2, 1.1], patience=2),
        Case("a NumPy array, patience 1", val_losses=np.array([0.9, 0.7, 0.8, 0.6]), patience=1),
        Case("one epoch only", val_losses=[0.5], patience=3),
        Case("worse from the start", val_losses=[0.5, 0.6, 0.7, 0.8, 0.9], patience=2),
        Case("an improvement just in time", val_losses=[1.0, 0.9, 0.95, 0.96, 0.85, 0.9, 0.91, 0.92],
             patience=3),
        Case("never improving for long, patience 4",
             val_losses=Draw(lambda rng: list(np.round(1 / np.arange(1, 21) + rng.uniform(0, 0.3, 20), 3))),
             patience=4),
    ],
    mistakes=[
        Mistake("off by one: training stops once `patience` epochs in a row brought no improvement, "
                "i.e. when epoch - best_epoch >= patience (not >)",
                lambda val_losses, patience: _stop_rule(val_losses, patience, runs_out=lambda w, p: w > p)),
        Mistake("off by one: wait until `patience` epochs without improvement have passed "
                "(epoch - best_epoch >= patience), not patience - 1",
                lambda val_losses, patience: _stop_rule(val_losses, patience, runs_out=lambda w, p: w >= p - 1)),
        Mistake("return the index of the best epoch (whose weights are restored), not the epoch at which "
                "training stopped",
                lambda val_losses, patience: _stop_rule(val_losses, patience, result="stop")),
        Mistake("an equal loss is not an improvement: compare with <, not <=",
                lambda val_losses, patience: _stop_rule(val_losses, patience, improves=lambda n, b: n <= b)),
        Mistake("training stops when the patience runs out: the best epoch after that point does not count "
                "(you returned the best over all epochs)",
                lambda val_losses, patience: int(np.argmin(val_losses))),
        Mistake("lower validation loss is better: track the minimum, not the maximum",
                lambda val_losses, patience: _stop_rule(val_losses, patience, improves=lambda n, b: n > b)),
        Mistake("epochs are counted from 0: return a 0-based index",
                lambda val_losses, patience: _stop_rule(val_losses, patience) + 1),
    ],
)
def _early_stopping(val_losses, patience):
    return _stop_rule(val_losses, patience)


# --- train_cnn ----------------------------------------------------------------------------------

#: The accuracy on MNIST test images that ``train_cnn`` asks for, in fast mode (``CNNLAB_FAST=1``:
#: 4,000 training images, one epoch, 1,000 test images) and otherwise (12,000 images, two epochs,
#: all 10,000 test images). Measured with this check's recipe and seed (one run each, the check
#: is deterministic): the lesson's network (``training_knobs.cnn()``) reached 0.915 in fast mode
#: and 0.972 in full mode, so the marks leave margins of 3.5 and 3.2 points; a network with one
#: 5x5 convolution of 16 filters reached 0.939 in fast mode. Networks without a convolution come
#: close or pass on accuracy alone (fast mode: a linear classifier 0.870, one hidden layer of 100
#: units 0.882), so the check asks for a convolution in a case of its own and trains none without.
PASS_MARKS = {True: 0.88, False: 0.94}

#: Training images, epochs and test images of the check, in fast mode and otherwise.
CHECK_SIZES = {True: (4000, 1, 1000), False: (12000, 2, 10000)}
#: The largest network the check trains (parameters).
MAX_PARAMETERS = 200_000
#: ``cnnlab grade`` sets this to ``(seconds, MiB)``: the grader then trains a submitted network
#: in a child process with these limits instead of in its own process (and prints nothing).
CHILD_LIMITS: tuple | None = None
_CHECK_RECIPE = _train.RECIPE.replace(batch_size=32, step_size=0, patience=0, crop_pad=0)
_CHECK_DATA = {}
_INPUT = (2, 1, 28, 28)  # the batch whose scores must have shape (2, 10)


def _check_data(fast: bool):
    """((X_train, y_train), (X_test, y_test)) for the check, normalised with the training mean."""
    if fast not in _CHECK_DATA:
        n_train, _, n_test = CHECK_SIZES[fast]
        X, y = _data.load("mnist", split="train")
        X_test, y_test = _data.load("mnist", split="test")
        X, y, X_test, y_test = X[:n_train], y[:n_train], X_test[:n_test], y_test[:n_test]
        X, X_test = _data.normalize(X, X_test)
        _CHECK_DATA[fast] = ((X, y), (X_test, y_test))
    return _CHECK_DATA[fast]


# A network travels as a list of layer specs ``[kind, {argument: value}]``: the grader rebuilds
# and trains it itself, so nothing the submission's kernel reports about accuracy counts.
_LAYERS = {
    "Conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "pad", "dtype"),
    "Linear": ("in_features", "out_features", "dtype"),
    "ReLU": (), "Flatten": (),
    "MaxPool2d": ("size", "stride"), "AvgPool2d": ("size", "stride"),
    "Dropout": ("keep", "inverted"),
}


def _leaves(module) -> list:
    """The cnnlab layers of ``module`` in the order they were registered (Sequentials and other
    containers opened), or a CheckFailure naming a layer the check cannot rebuild."""
    kind = type(module).__name__
    if kind in _LAYERS and type(module) is getattr(nn, kind):
        return [module]
    if module._parameters:
        raise CheckFailure(f"the check rebuilds your network from cnnlab.nn layers ({', '.join(_LAYERS)}); "
                           f"{kind} holds parameters of its own")
    if not module.children():
        raise CheckFailure(f"the check rebuilds your network from cnnlab.nn layers ({', '.join(_LAYERS)}); "
                           f"{kind} is none of them")
    return [leaf for child in module.children() for leaf in _leaves(child)]


def _spec(model) -> list:
    """The network as layer specs. A Module of its own counts when its forward applies its
    layers one after the other, in the order it created them (checked on a batch)."""
    leaves = _leaves(model)
    if not isinstance(model, nn.Sequential) or any(isinstance(c, nn.Sequential) for c in model.children()):
        x = backend.xp.asarray(np.random.default_rng(0).standard_normal(_INPUT).astype(np.float32))
        chain = nn.Sequential(*leaves)  # the same layer objects, so the same weights
        model.eval()
        try:
            same = np.allclose(backend.asnumpy(model(x)), backend.asnumpy(chain(x)), rtol=1e-5, atol=1e-6)
        except (TypeError, ValueError):
            same = False
        finally:
            model.train()
        if not same:
            raise CheckFailure("the check rebuilds your network as a chain of its cnnlab.nn layers, in the order "
                               "you created them, but your forward computes something else; build the network "
                               "as cl.nn.Sequential(...)")
    specs = []
    for layer in leaves:
        kind = type(layer).__name__
        specs.append([kind, {name: str(layer.weight.dtype) if name == "dtype" else getattr(layer, name)
                             for name in _LAYERS[kind]}])
    return specs


def _from_spec(spec) -> nn.Sequential:
    """The network of a spec list, built with cnnlab's generator as it is (seed it first)."""
    if not (isinstance(spec, list) and 0 < len(spec) <= 100):
        raise CheckFailure("the network did not come back as a list of layers")
    layers = []
    for item in spec:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and item[0] in _LAYERS
                and isinstance(item[1], dict) and set(item[1]) == set(_LAYERS[item[0]])):
            raise CheckFailure("the network's layers could not be read")
        kind, args = item
        if "dtype" in args and args["dtype"] not in ("float32", "float64"):
            raise CheckFailure(f"layer dtype {args['dtype']!r}: use float32 (the default)")
        try:
            layers.append(getattr(nn, kind)(**args))
        except (TypeError, ValueError) as err:
            raise CheckFailure(f"{kind} could not be built: {err}") from None
        if sum(int(p.data.size) for layer in layers for p in layer.parameters()) > MAX_PARAMETERS:
            raise CheckFailure(f"the network has more than {MAX_PARAMETERS:,} parameters, the most this "
                               "check trains; use fewer or smaller layers")
    return nn.Sequential(*layers)


def _build(build_model):
    """The student's network, or a CheckFailure saying what build_model returned instead."""
    model = build_model()
    if not isinstance(model, nn.Module):
        kind = type(model).__name__
        raise CheckFailure(f"build_model must return the network, a cnnlab.nn.Module such as "
                           f"cl.nn.Sequential(...); got {kind}" + (
                               " (wrap the layers in cl.nn.Sequential(*layers))" if kind in ("list", "tuple") else ""))
    return model


def _scores_shape(model, dtype=np.float32):
    model.eval()
    try:
        out = model(backend.xp.zeros(_INPUT, dtype=dtype))
    finally:
        model.train()
    return tuple(int(d) for d in out.shape)


def _call_train(fn, inputs):
    """The student's network as layer specs, after running it once on a batch of two images
    (so that a network that cannot run fails with its own error, which the hints explain)."""
    with backend.seeded(0):
        model = _build(fn)
        _scores_shape(model)
        return _spec(model)


def _train_view(inputs, spec):
    """What the check measures of a network (on the grader's side): the shape of its scores,
    or its test accuracy after training with the fixed recipe."""
    with backend.seeded(0):
        model = _from_spec(spec)
        try:
            shape = _scores_shape(model)
        except (TypeError, ValueError) as err:
            raise CheckFailure(f"your network raised {type(err).__name__}: {err}") from None
    has_conv = any(kind == "Conv2d" for kind, _ in spec)
    if inputs["stage"] == "has_conv":
        return has_conv
    if inputs["stage"] == "shape":
        return shape
    if shape != (2, 10):
        raise CheckFailure(f"not trained: the scores must have shape (B, 10) first; got {shape} for B = 2")
    if not has_conv:
        raise CheckFailure("not trained: the network must have a convolution first")
    fast = bool(inputs["fast"])
    accuracy = _accuracy_in_child(spec, fast) if CHILD_LIMITS else _accuracy(spec, fast)
    n_train, epochs, n_test = CHECK_SIZES[fast]
    if CHILD_LIMITS is None:  # in a notebook: show what was measured; the grader prints nothing
        print(f"  trained {epochs} epoch(s) on {n_train:,} MNIST images: accuracy {accuracy:.3f} "
              f"on {n_test:,} test images (pass mark {PASS_MARKS[fast]})")
    return round(accuracy, 4)


def _accuracy(spec, fast: bool) -> float:
    """Build the network of ``spec`` with cnnlab's generator seeded, train it, test it."""
    (X, y), (X_test, y_test) = _check_data(fast)
    _, epochs, _ = CHECK_SIZES[fast]
    # cnnlab's generator seeded while the network is built and trained, so its initial weights
    # (and dropout masks drawn from the shared generator) repeat; the caller's comes back after.
    with backend.seeded(0):
        model = _from_spec(spec)
        _train.fit_recipe(model, (X, y), None, _CHECK_RECIPE.replace(epochs=epochs), rng=0)
        _, accuracy = _train.evaluate(model, X_test, y_test)
    return float(accuracy)


def _accuracy_in_child(spec, fast: bool) -> float:
    """:func:`_accuracy` in a child process bounded by :data:`CHILD_LIMITS` (seconds, MiB)."""
    seconds, memory_mb = CHILD_LIMITS
    code = ("import sys; from cnnlab.grading import lesson12, plain; "
            "spec, fast = plain.unpack(sys.stdin.buffer.read()); "
            "sys.stdout.buffer.write(plain.pack(lesson12._accuracy(spec, fast)))")
    try:
        done = subprocess.run([sys.executable, "-c", code], input=plain.pack([spec, fast]), capture_output=True,
                              timeout=seconds, preexec_fn=lambda: _limit_memory(memory_mb),
                              env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    except subprocess.TimeoutExpired:
        raise CheckFailure(f"training took longer than {seconds:g} s, the most the check allows") from None
    if done.returncode != 0:
        last = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["it ended early"]
        raise CheckFailure(f"training failed: {last[0][:200]}")
    return float(plain.unpack(done.stdout))


def _limit_memory(memory_mb: int) -> None:
    limit = int(memory_mb) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _compare_train(expected, got, inputs):
    if isinstance(expected, bool):
        return None if got is expected else "the network has no convolution (no cl.nn.Conv2d layer)"
    if isinstance(expected, tuple) or isinstance(got, tuple):
        return difference(expected, got)
    mark = PASS_MARKS[bool(inputs["fast"])]
    if got < mark:
        return (f"test accuracy {got:.3f} is below the pass mark {mark}: check that every layer is "
                f"followed by what it needs (a ReLU after each convolution) and compare with the lesson's network")
    return None


def _no_convolution(inputs, got, expected):
    if inputs.get("stage") == "has_conv" and got is False:
        return ("a convolutional network needs at least one convolution: start with "
                "cl.nn.Conv2d(1, 8, kernel_size=3, pad=1) and a ReLU before Flatten, as the lesson's network does")
    return None


def _linear_mismatch(inputs, got, expected):
    if isinstance(got, ValueError) and "Linear" in str(got) and "must have shape" in str(got):
        return ("the in_features of the Linear layer must equal channels x height x width of what reaches it: "
                "each 2x2 pool halves 28 (28 -> 14 -> 7), so 16 channels of 7x7 give 16 * 7 * 7 = 784")
    return None


def _dtype_mismatch(inputs, got, expected):
    if isinstance(got, TypeError) and "dtype" in str(got):
        return "build the layers in float32 (the default): the images are float32"
    return None


register(Exercise(
    "train_cnn", points=3, call=_call_train, summarize=_train_view, compare=_compare_train,
    cases=[
        Case(label="the network maps a batch (2, 1, 28, 28) to scores (2, 10)", stage="shape", expected=(2, 10)),
        Case(label="the network has a convolution (a cl.nn.Conv2d layer)", stage="has_conv", expected=True),
        Case(label=(f"trained with the fixed recipe, accuracy on MNIST test images of at least the pass mark "
                    f"({PASS_MARKS[True]} in fast mode, {PASS_MARKS[False]} otherwise)"),
             stage="train", fast=Draw(lambda rng: backend.fast_mode()), expected="the pass mark of the mode"),
    ],
    mistakes=[
        Mistake("the network must end with a layer that gives one score per class: "
                "cl.nn.Linear(in_features, 10) after Flatten",
                lambda: nn.Sequential(nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())),
        Mistake("scores must be a (B, 10) matrix: flatten the (B, 10, 1, 1) output of a final "
                "convolution with cl.nn.Flatten()",
                lambda: nn.Sequential(nn.Conv2d(1, 8, 3, pad=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 10, 14))),
    ],
    detectors=[_linear_mismatch, _dtype_mismatch, _no_convolution],
))
