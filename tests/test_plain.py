"""Plain data between a submission's kernel and the grader: what survives, what is refused."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from cnnlab.grading import plain


def round_trip(value, inputs=False):
    return plain.unpack(plain.pack(value, inputs=inputs), inputs=inputs)


VALUES = [
    None, True, False, 0, -7, 2**80, 1.5, float("inf"), -0.0, 2 + 3j, "text", "",
    np.float32(1.25), np.int64(3), np.bool_(True), np.array(4.0), np.arange(6, dtype=np.int16).reshape(2, 3),
    np.zeros((0, 3)), np.ones((2, 2), dtype=np.complex64), np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    [1, (2.0, "three")], {"W": np.eye(2), "b": [np.zeros(2)]}, [], (), {},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_plain_values_survive_exactly(value):
    for back in (round_trip(value), plain.to_plain(value)):
        assert type(back) is type(value)
        if isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and back.shape == value.shape and np.array_equal(back, value)
        elif isinstance(value, dict):
            assert back.keys() == value.keys()
        elif isinstance(value, (float, np.floating)) and np.isnan(value):
            assert np.isnan(back)
        else:
            assert back == value and str(back) == str(value)


def test_nan_survives():
    assert np.isnan(round_trip(float("nan")))


class Agreeable(float):
    """A float subclass a hostile kernel might return: equal to everything."""

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class SneakyList(list):
    def __eq__(self, other):
        return True


def test_subclasses_arrive_as_their_plain_kind_without_their_behaviour():
    back = round_trip([Agreeable(1.0), SneakyList([1])])
    assert type(back[0]) is float and back[0] != 2.0
    assert type(back[1]) is list and back[1] != [2]


@pytest.mark.parametrize("value, kind", [
    (lambda x: x, "a function"), ((i for i in range(3)), "a generator"), ({1, 2}, "a set object"),
    (np.array(["a"]), "an array of <U1 values"), (np.array([object()]), "an array of object values"),
    ({1: 2}, "a dict whose keys are not all strings"), (np.random.default_rng(0), "a Generator object"),
])
def test_other_results_become_opaque_descriptions(value, kind):
    back = round_trip(value)
    assert isinstance(back, plain.Opaque) and repr(back) == kind
    assert back != back  # an Opaque equals nothing, not even itself


def test_deep_nesting_is_cut_off():
    value = []
    for _ in range(plain.MAX_DEPTH + 5):
        value = [value]
    back = round_trip(value)
    for _ in range(plain.MAX_DEPTH + 1):
        back = back[0]
    assert isinstance(back, plain.Opaque) and "nested" in repr(back)


def test_exceptions_arrive_as_their_nearest_builtin_class():
    class KernelTooBig(ValueError):
        pass

    back = round_trip(plain.exception(KernelTooBig("k > n + 2 pad"), "line 3 in f: raise"))
    assert type(back) is ValueError and str(back) == "k > n + 2 pad"
    assert (back.cnnlab_type, back.cnnlab_where) == ("KernelTooBig", "line 3 in f: raise")
    assert type(round_trip(plain.exception(SystemExit(2)))) is SystemExit


def test_inputs_may_hold_generators_in_their_state():
    rng = np.random.default_rng(7)
    rng.random(3)
    copy = round_trip(rng, inputs=True)
    assert isinstance(copy, np.random.Generator) and copy is not rng
    assert np.array_equal(copy.random(5), rng.random(5))
    mt = np.random.Generator(np.random.MT19937(3))
    assert np.array_equal(round_trip(mt, inputs=True).random(4), mt.random(4))


def test_inputs_may_hold_catalogue_objects_and_nothing_else():
    @plain.catalogue("test_plain.double")
    def double(x):
        return 2 * x

    @plain.catalogue("test_plain.scaled", factory=True)
    def scaled(factor):
        return lambda x: factor * x

    assert round_trip(double, inputs=True) is double
    rebuilt = round_trip(plain.named("test_plain.scaled", 3.0), inputs=True)
    assert rebuilt(2.0) == 6.0
    with pytest.raises(plain.PlainError, match="an input of a case must be plain data"):
        plain.pack(lambda x: x, inputs=True)
    # a result naming the catalogue is not rebuilt: results are plain data only
    assert isinstance(round_trip(double), plain.Opaque)
    with pytest.raises(plain.PlainError, match="unknown kind of value"):
        plain.unpack(plain.pack(double, inputs=True))


# --- hostile bytes ------------------------------------------------------------------------------

def npz(**entries) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **entries)
    return buffer.getvalue()


def tree(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def test_pickles_are_never_loaded():
    evil = np.array([object()], dtype=object)
    buffer = io.BytesIO()
    np.savez(buffer, tree=tree('{"a": 0}'), a0=evil)  # np.savez pickles object arrays
    with pytest.raises(plain.PlainError, match="not a readable message|numeric"):
        plain.unpack(buffer.getvalue())
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("tree.npy", pickle.dumps({"a": 1}))
    with pytest.raises(plain.PlainError):
        plain.unpack(raw.getvalue())


def test_compressed_and_unknown_entries_are_refused():
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("tree.npy", b"x" * 100)
    with pytest.raises(plain.PlainError, match="unexpected entry"):
        plain.unpack(raw.getvalue())
    with pytest.raises(plain.PlainError, match="unexpected entry"):
        plain.unpack(npz(tree=tree("0"), evil=np.zeros(1)))


def test_an_array_header_larger_than_its_data_is_refused_before_allocating():
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros(4))
    data = buffer.getvalue().replace(b"(4,)", b"(4000000000000,)".ljust(4))
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as z:
        z.writestr("tree.npy", data)
    with pytest.raises(plain.PlainError):
        plain.unpack(raw.getvalue())


@pytest.mark.parametrize("text", ['{"zz": 1}', '[1, 2]', '{"a": 5}', '{"d": [[1, 2]]}', '{"i": "' + "9" * 5000 + '"}',
                                  '{"g": ["PCG64", {}]}', "[" * 100000 + "]" * 100000, "not json"])
def test_malformed_trees_are_refused(text):
    with pytest.raises(plain.PlainError):
        plain.unpack(npz(tree=tree(text)))


def test_size_limits():
    with pytest.raises(plain.PlainError, match="more than"):
        plain.pack(np.zeros(plain.MAX_BYTES // 8 + 1))
    with pytest.raises(plain.PlainError, match="larger than"):
        plain.unpack(b"x" * 100, limit=10)


def test_read_file_refuses_links_pipes_and_big_files(tmp_path):
    (tmp_path / "real.npz").write_bytes(plain.pack([1, 2]))
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert plain.unpack(plain.read_file("real.npz", dir_fd=folder)) == [1, 2]
        os.symlink(tmp_path / "real.npz", tmp_path / "link.npz")
        with pytest.raises(plain.PlainError, match="cannot be opened safely"):
            plain.read_file("link.npz", dir_fd=folder)
        os.mkfifo(tmp_path / "pipe.npz")  # opening it for reading must not wait for a writer
        with pytest.raises(plain.PlainError, match="not a regular file"):
            plain.read_file("pipe.npz", dir_fd=folder)
        (tmp_path / "big.npz").write_bytes(b"x" * 2000)
        with pytest.raises(plain.PlainError, match="larger than"):
            plain.read_file("big.npz", dir_fd=folder, limit=1000)
        with pytest.raises(plain.PlainError, match="no file was written"):
            plain.read_file("missing.npz", dir_fd=folder)
    finally:
        os.close(folder)
