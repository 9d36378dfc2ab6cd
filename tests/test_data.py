"""cnnlab.data: the shipped datasets, splitting, normalisation, minibatches, augmentation."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnnlab import data

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


# --- the shipped files ----------------------------------------------------------------------

def test_registry_hashes_match_the_shipped_files_and_the_readme():
    readme = (DATA_DIR / "README.md").read_text()
    for name, entry in data._REGISTRY.items():
        digest = hashlib.sha256((DATA_DIR / entry.file).read_bytes()).hexdigest()
        assert digest == entry.sha256, name
        assert digest in readme, f"data/README.md does not record the SHA-256 of {entry.file}"
        assert (DATA_DIR / entry.file).stat().st_size < 20 * 2**20


def test_available_describes_every_dataset():
    names = data.available()
    assert set(names) == {"digits8x8", "mnist5k", "mnist"}
    assert all(isinstance(d, str) and d and "\n" not in d for d in names.values())


@pytest.mark.parametrize("name, split, shape, counts", [
    ("digits8x8", None, (1797, 1, 8, 8), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
    ("mnist5k", None, (5000, 1, 28, 28), [500] * 10),
    ("mnist", "test", (10000, 1, 28, 28), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
    ("mnist", "train", (60000, 1, 28, 28), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]),
])
def test_load_shapes_dtypes_ranges_and_class_counts(name, split, shape, counts):
    X, y = data.load(name, split)
    assert X.shape == shape and X.dtype == np.float32
    assert y.shape == (shape[0],) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.bincount(y).tolist() == counts


def test_load_scales_by_the_stored_maximum_exactly():
    X, _ = data.load("digits8x8")
    # 17 grey levels 0..16, divided by 16: every value is k/16 exactly.
    levels = np.unique(X * 16)
    assert np.array_equal(levels, np.arange(17, dtype=np.float32))
    raw = np.load(DATA_DIR / "digits8x8.npz", allow_pickle=False)
    assert np.array_equal(X[:, 0] * 16, raw["images"].astype(np.float32))


def test_load_returns_fresh_arrays():
    X1, y1 = data.load("digits8x8")
    X1[:] = 5
    X2, _ = data.load("digits8x8")
    assert X2.max() == 1.0


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"name must be one of .*digits8x8.*mnist.*got 'cifar10'"):
        data.load("cifar10")


def test_split_argument_is_checked():
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'test'\].*got None"):
        data.load("mnist")
    with pytest.raises(ValueError, match=r"split must be None for dataset 'digits8x8'"):
        data.load("digits8x8", split="train")


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of the small datasets in a temp dir that CNNLAB_DATA points to."""
    for file in ("digits8x8.npz", "mnist5k.npz"):
        shutil.copy(DATA_DIR / file, tmp_path / file)
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path))
    return tmp_path


def test_cnnlab_data_overrides_the_folder(data_copy):
    assert data.data_dir() == data_copy
    X, y = data.load("digits8x8")
    assert X.shape == (1797, 1, 8, 8)


def test_data_is_looked_up_in_the_environment_then_the_package_then_the_repository(tmp_path, monkeypatch):
    packaged, repository = tmp_path / "site" / "cnnlab" / "_data", tmp_path / "repo" / "data"
    monkeypatch.setattr(data, "_PACKAGED", packaged)
    monkeypatch.setattr(data, "_REPOSITORY", repository)
    monkeypatch.delenv("CNNLAB_DATA", raising=False)
    assert data.data_dir() == repository  # an editable install or a checkout: no packaged data
    packaged.mkdir(parents=True)
    assert data.data_dir() == packaged  # a wheel install carries its own
    monkeypatch.setenv("CNNLAB_DATA", str(tmp_path / "mine"))
    assert data.data_dir() == tmp_path / "mine"


def test_a_flipped_byte_is_reported_with_both_hashes_and_how_to_restore(data_copy):
    path = data_copy / "digits8x8.npz"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    actual = hashlib.sha256(bytes(blob)).hexdigest()
    expected = data._REGISTRY["digits8x8"].sha256
    with pytest.raises(data.DataError) as info:
        data.load("digits8x8")
    message = str(info.value)
    assert str(path) in message and actual in message and expected in message
    assert "git checkout -- data/" in message


def test_a_missing_file_is_reported_with_its_path(data_copy):
    with pytest.raises(data.DataError, match=r"cannot read dataset file .*mnist\.npz.*git checkout"):
        data.load("mnist", split="test")  # not copied into data_copy


# --- split ----------------------------------------------------------------------------------

def _labelled(counts):
    """Samples whose value is their own index, labels with the given class counts."""
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y), dtype=np.float64).reshape(-1, 1, 1, 1)
    return X, y


def test_split_is_disjoint_covering_and_keeps_pairs_together():
    X, y = _labelled([30, 17, 53])
    parts = data.split(X, y, (0.6, 0.2, 0.2), rng=0)
    ids = [part[0].ravel().astype(int) for part in parts]
    together = np.concatenate(ids)
    assert len(together) == len(y) and len(np.unique(together)) == len(y)  # covering, disjoint
    for (Xp, yp), idx in zip(parts, ids):
        assert np.array_equal(yp, y[idx])  # each sample kept its label


def test_split_is_stratified_within_one_sample_per_class():
    X, y = _labelled([30, 17, 53, 9])
    fractions = (0.7, 0.2, 0.1)
    parts = data.split(X, y, fractions, rng=3)
    for (_, yp), f in zip(parts, fractions):
        counts = np.bincount(yp, minlength=4)
        assert np.all(np.abs(counts - f * np.array([30, 17, 53, 9])) < 1.0 + 1e-9), counts


def test_split_hand_computed_counts():
    # 10 per class with (0.8, 0.1, 0.1): exactly 8/1/1 of each class.
    X, y = _labelled([10, 10])
    (_, ytr), (_, yva), (_, yte) = data.split(X, y, rng=0)
    assert np.bincount(ytr).tolist() == [8, 8]
    assert np.bincount(yva).tolist() == [1, 1] and np.bincount(yte).tolist() == [1, 1]


def test_split_is_seeded_and_shuffles():
    X, y = _labelled([40, 40])
    a = data.split(X, y, rng=7)
    b = data.split(X, y, rng=np.random.default_rng(7))
    c = data.split(X, y, rng=8)
    assert all(np.array_equal(pa[0], pb[0]) for pa, pb in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.all(np.diff(a[0][0].ravel()) > 0)  # not left in sorted order


def test_split_two_parts():
    X, y = _labelled([20, 20])
    parts = data.split(X, y, (0.5, 0.5), rng=0)
    assert len(parts) == 2 and [len(p[1]) for p in parts] == [20, 20]


@pytest.mark.parametrize("fractions, match", [
    ((0.8, 0.3, 0.1), "fractions must sum to 1"),
    ((1.2, -0.1, -0.1), r"fractions must be in \(0"),
    ((1.0, 0.0), r"fractions must be in \(0"),
    ((1.0,), "fractions must be a tuple of at least two"),
    (0.8, "fractions must be a tuple of at least two"),
])
def test_split_bad_fractions(fractions, match):
    X, y = _labelled([10, 10])
    with pytest.raises(ValueError, match=match):
        data.split(X, y, fractions)


def test_split_bad_inputs():
    X, y = _labelled([10, 10])
    with pytest.raises(ValueError, match=r"y must have one label per sample of X, shape \(20,\); got \(19,\)"):
        data.split(X, y[:-1])
    with pytest.raises(TypeError, match=r"y must hold integer class labels; got dtype float64"):
        data.split(X, y.astype(float))
    with pytest.raises(ValueError, match=r"fractions\[2\] = 0.01 of 20 samples gives an empty part"):
        data.split(X, y, (0.9, 0.09, 0.01), rng=0)


# --- normalisation --------------------------------------------------------------------------

def test_normalize_uses_only_the_training_split():
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(20, 3, 4, 4)).astype(np.float32) + np.array([1.0, -2.0, 5.0], np.float32)[:, None, None]
    X_test = rng.normal(size=(10, 3, 4, 4)).astype(np.float32) * 3 + 10
    Ntr, Nte = data.normalize(X_train, X_test)
    mean = X_train.astype(np.float64).mean(axis=(0, 2, 3)).reshape(1, 3, 1, 1)
    assert np.allclose(Ntr, X_train - mean, atol=1e-6)
    assert np.allclose(Nte, X_test - mean, atol=1e-6)  # the training mean, not the test mean
    assert np.allclose(Ntr.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    assert not np.allclose(Nte.mean(axis=(0, 2, 3)), 0, atol=1)
    assert Ntr.dtype == np.float32 and Nte.dtype == np.float32


def test_normalizer_hand_computed_per_channel():
    # channel 0 holds 1 and 3 (mean 2, std 1); channel 1 holds 10 everywhere (std 0: unscaled).
    X = np.zeros((2, 2, 1, 1))
    X[0, 0], X[1, 0], X[:, 1] = 1.0, 3.0, 10.0
    norm = data.Normalizer(std=True).fit(X)
    assert np.allclose(norm.mean_.ravel(), [2.0, 10.0]) and np.allclose(norm.std_.ravel(), [1.0, 1.0])
    assert np.allclose(norm.transform(X)[:, :, 0, 0], [[-1.0, 0.0], [1.0, 0.0]])
    assert np.allclose(norm.transform(X + 1)[:, 0, 0, 0], [0.0, 2.0])
    assert np.allclose(data.Normalizer().fit_transform(X)[:, 0, 0, 0], [-1.0, 1.0])


def test_normalizer_errors():
    with pytest.raises(RuntimeError, match="not fitted yet"):
        data.Normalizer().transform(np.zeros((1, 1, 2, 2)))
    norm = data.Normalizer().fit(np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"X must have 3 channels.*got shape \(1, 1, 2, 2\)"):
        norm.transform(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"X must be a 4-D array \(N, C, H, W\); got shape \(5, 4\)"):
        data.normalize(np.zeros((5, 4)))
    with pytest.raises(TypeError, match=r"X must hold floating-point numbers; got dtype uint8"):
        data.normalize(np.zeros((1, 1, 2, 2), np.uint8))


# --- batches --------------------------------------------------------------------------------

def test_batches_visit_every_sample_once_with_a_partial_last_batch():
    X = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    got = list(data.batches(X, y, 4, rng=0))
    assert [len(yb) for _, yb in got] == [4, 4, 2]
    order = np.concatenate([yb for _, yb in got])
    assert sorted(order.tolist()) == list(range(10))
    assert all(np.array_equal(xb.ravel(), yb) for xb, yb in got)  # X and y shuffled together


def test_batches_fresh_permutation_each_epoch_and_seeded():
    X, y = np.zeros((50, 2)), np.arange(50)
    gen = np.random.default_rng(1)
    epoch1 = np.concatenate([yb for _, yb in data.batches(X, y, 8, rng=gen)])
    epoch2 = np.concatenate([yb for _, yb in data.batches(X, y, 8, rng=gen)])
    assert not np.array_equal(epoch1, epoch2)
    assert sorted(epoch1) == sorted(epoch2) == list(range(50))
    again = np.concatenate([yb for _, yb in data.batches(X, y, 8, rng=np.random.default_rng(1))])
    assert np.array_equal(epoch1, again)


def test_batches_without_shuffle_and_drop_last():
    X, y = np.zeros((7, 1)), np.arange(7)
    assert [yb.tolist() for _, yb in data.batches(X, y, 3, shuffle=False)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [len(yb) for _, yb in data.batches(X, y, 3, rng=0, drop_last=True)] == [3, 3]


def test_batches_bad_arguments_fail_at_the_call():
    X, y = np.zeros((7, 1)), np.arange(7)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1; got 0"):
        data.batches(X, y, 0)
    with pytest.raises(ValueError, match=r"y must have one entry per sample of X, length 7; got shape \(6,\)"):
        data.batches(X, y[:6], 2)
    with pytest.raises(TypeError, match="X must be a NumPy or CuPy array; got list"):
        data.batches([1, 2], y, 2)


# --- augmentation ---------------------------------------------------------------------------

def test_random_crop_hand_computed():
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    gen = np.random.default_rng(0)
    oy, ox = gen.integers(0, 3, size=1), gen.integers(0, 3, size=1)  # the draws crop will make
    padded = np.zeros((5, 5), np.float32)
    padded[1:4, 1:4] = x[0, 0]
    out = data.random_crop(x, 3, pad=1, rng=np.random.default_rng(0))
    assert np.array_equal(out[0, 0], padded[oy[0]:oy[0] + 3, ox[0]:ox[0] + 3])
    # With every offset of the 5x5 padded image possible, check each one explicitly.
    expected_windows = {(i, j): padded[i:i + 3, j:j + 3] for i in range(3) for j in range(3)}
    many = data.random_crop(np.repeat(x, 200, axis=0), 3, pad=1, rng=1)
    found = set()
    for crop in many[:, 0]:
        match = [k for k, w in expected_windows.items() if np.array_equal(w, crop)]
        assert len(match) == 1  # every crop is a window of the zero-padded image
        found.add(match[0])
    assert found == set(expected_windows)  # offsets drawn per image cover all 9


def test_random_crop_differs_per_image_keeps_shape_dtype_and_channels_together():
    x = np.random.default_rng(0).random((64, 3, 6, 6)).astype(np.float32)
    x[:, 1] = x[:, 0] * 2  # a relation between channels that a per-image crop preserves
    out = data.random_crop(np.repeat(x[:1], 64, axis=0), 4, pad=2, rng=0)
    assert out.shape == (64, 3, 4, 4) and out.dtype == np.float32
    assert len({crop.tobytes() for crop in out}) > 10  # different windows for identical images
    crops = data.random_crop(x, (5, 4), pad=0, rng=0)
    assert crops.shape == (64, 3, 5, 4)
    assert np.allclose(crops[:, 1], crops[:, 0] * 2)


def test_random_crop_without_padding_of_full_size_is_identity():
    x = np.random.default_rng(0).random((3, 2, 4, 4))
    assert np.array_equal(data.random_crop(x, 4, pad=0, rng=0), x)


def test_random_crop_errors():
    x = np.zeros((2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"size must fit in the padded image \(6, 6\).*got \(7, 7\)"):
        data.random_crop(x, 7, pad=1)
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\); got shape \(4, 4\)"):
        data.random_crop(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match="pad must be an integer >= 0; got -1"):
        data.random_crop(x, 2, pad=-1)


def test_random_flip_per_image():
    x = np.arange(40 * 3, dtype=np.float32).reshape(40, 1, 1, 3)
    before = x.copy()
    out = data.random_flip(x, rng=0)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped ^ kept)            # each image either mirrored or untouched
    assert 5 < flipped.sum() < 35            # about half, chosen per image
    assert np.array_equal(x, before)         # input unchanged
    expected = np.random.default_rng(0).random(40) < 0.5
    assert np.array_equal(flipped, expected)
    assert np.array_equal(data.random_flip(x, rng=0, p=0.0), x)
    assert np.array_equal(data.random_flip(x, rng=0, p=1.0), x[..., ::-1])


def test_random_flip_errors():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]; got 1.5"):
        data.random_flip(np.zeros((1, 1, 2, 2)), p=1.5)
    with pytest.raises(ValueError, match=r"x must be images .*got shape \(4, 4\)"):
        data.random_flip(np.zeros((4, 4)))


def test_augment_composes_steps_in_order():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    aug = data.Augment(data.RandomCrop(4, pad=0), data.RandomFlip(p=1.0))
    assert np.array_equal(aug(x, rng=0), x[..., ::-1])
    calls = []
    data.Augment(lambda v, g: calls.append("a") or v, lambda v, g: calls.append("b") or v)(x, 0)
    assert calls == ["a", "b"]
    assert repr(aug) == "Augment(RandomCrop(size=(4, 4), pad=0), RandomFlip(p=1))"
    with pytest.raises(TypeError, match=r"steps\[0\] must be callable"):
        data.Augment(3)
