"""Plain data: the only thing that crosses between a submission's kernel and the grader.

``cnnlab grade`` re-checks every exercise in its own process: it sends the inputs of fresh
cases to the submission's kernel, the kernel calls the student's functions, and the results
come back. The kernel is the student's, so nothing it sends may be able to act in the grader:
no pickles, no objects whose methods run on comparison, no links to follow. What crosses is
*plain data*:

* ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``;
* NumPy arrays and NumPy scalars of a numeric or bool dtype (CuPy arrays arrive as NumPy);
* lists, tuples and dicts with ``str`` keys of the above, nested at most :data:`MAX_DEPTH` deep.

Anything else a student's function returns becomes an :class:`Opaque` (``a generator``) that
the comparison reports, and an exception it raised becomes an instance of the nearest built-in
exception class carrying the student's type name (see :func:`raised`). Inputs, which go the
other way and come from the grader, may also hold two richer kinds, rebuilt on arrival:

* a ``numpy.random.Generator``, sent as its bit generator's state;
* an object of the *catalogue* (:func:`catalogue`, :func:`named`): a function such as a loss,
  or a small object such as a layer of a test chain, sent as its name and plain arguments.

:func:`pack` / :func:`unpack` turn a value into the bytes of an uncompressed ``.npz`` file (a
JSON tree plus one ``.npy`` entry per array) and back; :func:`read_file` reads such a file
without following links or blocking on a pipe. Within one process, :func:`to_plain` and
:func:`copy_inputs` make the same round trip without the bytes, so ``cl.check`` in a notebook
judges exactly what the grader judges.
"""

from __future__ import annotations

import builtins
import io
import json
import numbers
import os
import re
import stat
import zipfile
from typing import Any, Callable

import numpy as np

from .. import backend

__all__ = [
    "MAX_BYTES", "MAX_DEPTH", "Opaque", "PlainError", "catalogue", "copy_inputs", "exception", "named",
    "pack", "raised", "read_file", "to_plain", "unpack",
]

#: The largest message (request or reply) in bytes, and the deepest nesting of containers.
MAX_BYTES = 64 * 2**20
MAX_DEPTH = 32
_MAX_ITEMS = 1_000_000  # containers and scalars in one message
_MAX_TEXT = 2_000  # characters kept of an exception's message
_ENTRY = re.compile(r"^(tree|a[0-9]{1,7})\.npy$")
_NUMERIC = "biufc"  # bool, signed and unsigned integers, floats, complex
_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


class PlainError(ValueError):
    """A value that is not plain data where plain data is required, or a message that cannot
    be read (too large, malformed, a link, ...). The text says what was wrong."""


class Opaque:
    """A result that is not plain data, known only by what it was: ``Opaque("a generator")``.

    It equals nothing, so any comparison with an expected value reports it.
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = str(kind)[:100]

    def __repr__(self):
        return self.kind

    def __eq__(self, other):
        return False

    __hash__ = None


# --- the catalogue: named inputs the kernel can rebuild --------------------------------------

_CATALOGUE: dict[str, Callable] = {}
_SPEC = "__cnnlab_named__"


def catalogue(name: str, factory: bool = False):
    """Decorator: register a function (or, with ``factory=True``, a factory of objects) under
    ``name``, so that it can be an input of a case and be rebuilt in the submission's kernel.

    ::

        @catalogue("half_squared")
        def half_squared(Y_hat, Y): ...          # sent as its name

        @catalogue("chain_linear", factory=True)
        class ChainLinear: ...                   # named("chain_linear", W, b) sends W and b
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"catalogue name must be a non-empty str; got {name!r}")

    def register(obj):
        old = _CATALOGUE.get(name)
        # A reload of the defining module registers a new object under the same name.
        if old is not None and getattr(old, "__qualname__", None) != getattr(obj, "__qualname__", None):
            raise ValueError(f"catalogue name {name!r} is already taken by {old!r}")
        if factory:
            _CATALOGUE[name] = obj
        else:
            setattr(obj, _SPEC, (name, ()))
            _CATALOGUE[name] = lambda: obj
            _CATALOGUE[name].__qualname__ = getattr(obj, "__qualname__", name)
        return obj
    return register


def named(name: str, *args):
    """A fresh object from the catalogue factory ``name`` called with ``args`` (plain data),
    marked so that it travels as ``(name, args)``."""
    try:
        make = _CATALOGUE[name]
    except KeyError:
        raise PlainError(f"no catalogue entry {name!r}") from None
    obj = make(*args)
    if args or getattr(obj, _SPEC, None) is None:
        setattr(obj, _SPEC, (name, tuple(args)))
    return obj


# --- exceptions --------------------------------------------------------------------------------

def _builtin_base(err: BaseException) -> str:
    for klass in type(err).__mro__:
        if getattr(builtins, klass.__name__, None) is klass:
            return klass.__name__
    return "Exception"


def raised(type_name: str, message: str, where: str = "", base: str = "Exception") -> BaseException:
    """An exception standing for one the student's code raised: an instance of the built-in
    class ``base`` (so ``isinstance(err, ValueError)`` works as on the original), with the
    student's class name in ``cnnlab_type`` and the line it came from in ``cnnlab_where``."""
    klass = getattr(builtins, base, None)
    if not (isinstance(klass, type) and issubclass(klass, BaseException)):
        klass = Exception
    try:
        err = klass(message)
    except Exception:  # a built-in whose constructor wants other arguments
        err = Exception(message)
    err.cnnlab_type, err.cnnlab_where = str(type_name)[:100], str(where)[:_MAX_TEXT]
    return err


def exception(err: BaseException, where: str = "") -> BaseException:
    """``err`` as the grader sees it (see :func:`raised`); ``where``: the student's line."""
    return raised(type(err).__name__, _message(err), where, _builtin_base(err))


# --- encoding ----------------------------------------------------------------------------------

class _Encoder:
    def __init__(self, inputs: bool):
        self.inputs, self.arrays, self.items = inputs, [], 0

    def array(self, a: np.ndarray) -> int:
        self.arrays.append(np.array(a, order="C", copy=True))  # ascontiguousarray would make 0-d 1-d
        return len(self.arrays) - 1

    def opaque(self, kind: str):
        if self.inputs:
            raise PlainError(f"an input of a case must be plain data or a catalogue object; got {kind}")
        return {"o": kind}

    def encode(self, value: Any, depth: int = 0):
        self.items += 1
        if self.items > _MAX_ITEMS:
            raise PlainError(f"more than {_MAX_ITEMS:,} values")
        if depth > MAX_DEPTH:
            return self.opaque(f"a structure nested more than {MAX_DEPTH} levels deep")
        if value is None or type(value) in (bool, str):
            return value
        if isinstance(value, str):
            return str(value)
        if type(value) is int:
            return value if abs(value) < 2**63 else {"i": str(value)}
        if type(value) is float:
            return value if np.isfinite(value) else {"f": repr(value)}
        if type(value) is complex:
            return {"c": [self.encode(value.real, depth + 1), self.encode(value.imag, depth + 1)]}
        if isinstance(value, Opaque):
            return self.opaque(value.kind)
        if isinstance(value, BaseException):
            return {"e": [getattr(value, "cnnlab_type", type(value).__name__), _message(value),
                          getattr(value, "cnnlab_where", ""), _builtin_base(value)]}
        if backend.is_array(value) or isinstance(value, np.generic):
            host = np.asarray(backend.asnumpy(value))
            if host.dtype.kind not in _NUMERIC:
                return self.opaque(f"an array of {host.dtype} values")
            return {"s" if isinstance(value, np.generic) else "a": self.array(host)}
        spec = getattr(value, _SPEC, None) if self.inputs else None
        if spec is not None:
            name, args = spec
            return {"n": [name, self.encode(list(args), depth + 1)]}
        if self.inputs and isinstance(value, np.random.Generator):
            bits = value.bit_generator
            return {"g": [type(bits).__name__, self.encode(_json_safe(bits.state), depth + 1)]}
        # Exact built-in containers and subclasses alike travel as the built-in kind; a
        # subclass's own behaviour (an __eq__ that always agrees, say) stays behind.
        if isinstance(value, tuple):
            return {"t": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return {"l": [self.encode(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            if not all(type(k) is str for k in value):
                return self.opaque("a dict whose keys are not all strings")
            return {"d": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        if isinstance(value, bool):  # a NumPy bool is np.generic above; this is a subclass of bool
            return bool(value)
        if isinstance(value, numbers.Integral):
            return self.encode(int(value), depth)
        if isinstance(value, numbers.Real):
            return self.encode(float(value), depth)
        return self.opaque(_describe(value))


def _message(err: BaseException) -> str:
    try:
        text = str(err)
    except Exception:
        text = "(the message could not be shown)"
    return text[:_MAX_TEXT]


def _describe(value) -> str:
    kind = type(value).__name__
    if kind in ("generator", "function", "method", "builtin_function_or_method", "module"):
        return f"a {kind}"
    return f"a {kind} object"


def _json_safe(state):
    """A bit generator's state with its NumPy arrays (MT19937's key) as lists."""
    if isinstance(state, dict):
        return {k: _json_safe(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return {"array": state.tolist(), "dtype": str(state.dtype)}
    return state


def _state_from_json(state):
    if isinstance(state, dict):
        if set(state) == {"array", "dtype"}:
            return np.asarray(state["array"], dtype=np.dtype(state["dtype"]))
        return {k: _state_from_json(v) for k, v in state.items()}
    return state


# --- decoding ----------------------------------------------------------------------------------

def _decode(node, arrays: list, inputs: bool, depth: int = 0):
    if depth > MAX_DEPTH + 2:
        raise PlainError("nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list) or not (isinstance(node, dict) and len(node) == 1):
        raise PlainError("malformed value")
    (tag, body), = node.items()
    if tag == "l":
        return [_decode(v, arrays, inputs, depth + 1) for v in _list(body)]
    if tag == "t":
        return tuple(_decode(v, arrays, inputs, depth + 1) for v in _list(body))
    if tag == "d":
        out = {}
        for pair in _list(body):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise PlainError("malformed dict")
            out[pair[0]] = _decode(pair[1], arrays, inputs, depth + 1)
        return out
    if tag in ("a", "s"):
        if not (type(body) is int and 0 <= body < len(arrays)):
            raise PlainError("reference to a missing array")
        a = arrays[body].copy()
        return a[()] if tag == "s" and a.ndim == 0 else a
    if tag == "i":
        return int(_str(body))
    if tag == "f":
        return float(_str(body))
    if tag == "c":
        re_, im = _list(body)
        return complex(float(_decode(re_, arrays, inputs)), float(_decode(im, arrays, inputs)))
    if tag == "o":
        return Opaque(_str(body))
    if tag == "e":
        type_name, message, where, base = (_str(v) for v in _list(body, 4))
        return raised(type_name, message, where, base)
    if inputs and tag == "g":
        kind, state = _list(body, 2)
        if kind not in _GENERATORS:
            raise PlainError(f"unknown bit generator {kind!r}")
        bits = getattr(np.random, kind)()
        bits.state = _state_from_json(_decode(state, arrays, inputs, depth + 1))
        return np.random.Generator(bits)
    if inputs and tag == "n":
        name, args = _list(body, 2)
        return named(_str(name), *_decode(args, arrays, inputs, depth + 1))
    raise PlainError(f"unknown kind of value {tag!r}")


def _list(body, length: int | None = None) -> list:
    if not isinstance(body, list) or (length is not None and len(body) != length):
        raise PlainError("malformed value")
    return body


def _str(body) -> str:
    if not isinstance(body, str):
        raise PlainError("malformed value")
    return body


# --- in one process ----------------------------------------------------------------------------

def to_plain(value):
    """``value`` as the grader would receive it: plain data, :class:`Opaque` where it is not."""
    enc = _Encoder(inputs=False)
    tree = enc.encode(value)
    return _decode(tree, enc.arrays, inputs=False)


def copy_inputs(value):
    """A fresh copy of a case's inputs, rebuilt the way the submission's kernel rebuilds them
    (new arrays, new generators in the same state, new catalogue objects)."""
    enc = _Encoder(inputs=True)
    tree = enc.encode(value)
    return _decode(tree, enc.arrays, inputs=True)


# --- bytes ---------------------------------------------------------------------------------------

def pack(value, *, inputs: bool = False) -> bytes:
    """The bytes of an ``.npz`` file holding ``value`` (``inputs``: generators and catalogue
    objects allowed). Raises :class:`PlainError` above :data:`MAX_BYTES`."""
    enc = _Encoder(inputs=inputs)
    tree = json.dumps(enc.encode(value), separators=(",", ":"), allow_nan=False)
    entries = {"tree": np.frombuffer(tree.encode("utf-8"), dtype=np.uint8)}
    entries.update({f"a{i}": a for i, a in enumerate(enc.arrays)})
    if sum(a.nbytes for a in entries.values()) > MAX_BYTES:
        raise PlainError(f"more than {MAX_BYTES // 2**20} MiB of data")
    buffer = io.BytesIO()
    np.savez(buffer, **entries)  # uncompressed (ZIP_STORED): nothing to inflate on reading
    return buffer.getvalue()


def unpack(data: bytes, *, inputs: bool = False, limit: int = MAX_BYTES):
    """The value in the ``.npz`` bytes ``data``; :class:`PlainError` for anything else.

    Only stored (uncompressed) entries named ``tree.npy`` and ``aN.npy`` are read, each array's
    header is checked against its size before any memory is set aside, and no pickle is ever
    loaded, so a hostile file can at worst be refused.
    """
    if len(data) > limit:
        raise PlainError(f"larger than {limit // 2**20} MiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if len(infos) > 10_000 or sum(i.file_size for i in infos) > limit:
                raise PlainError("too many or too large entries")
            entries = {}
            for info in infos:
                match = _ENTRY.match(info.filename)
                if not match or info.compress_type != zipfile.ZIP_STORED or match.group(1) in entries:
                    raise PlainError(f"unexpected entry {info.filename[:40]!r}")
                with archive.open(info) as f:
                    entries[match.group(1)] = _read_array(f, info.file_size)
    except PlainError:
        raise
    except Exception as err:  # a broken zip, a bad header, ...
        raise PlainError(f"not a readable message ({type(err).__name__})") from None
    tree = entries.pop("tree", None)
    if tree is None or tree.dtype != np.uint8 or tree.ndim != 1:
        raise PlainError("no tree entry")
    arrays = [entries.pop(f"a{i}") for i in range(len(entries)) if f"a{i}" in entries]
    if entries:
        raise PlainError("array entries are not numbered 0, 1, 2, ...")
    try:
        node = json.loads(tree.tobytes().decode("utf-8"))
    except Exception as err:
        raise PlainError(f"malformed tree ({type(err).__name__})") from None
    try:
        return _decode(node, arrays, inputs)
    except PlainError:
        raise
    except Exception as err:  # e.g. an int of 5,000 digits, a float that is not a number
        raise PlainError(f"malformed value ({type(err).__name__})") from None


def _read_array(f, size: int) -> np.ndarray:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise PlainError(f"unsupported .npy version {version}")
    if dtype.kind not in _NUMERIC or dtype.hasobject or dtype.fields is not None:
        raise PlainError(f"arrays must be numeric; got dtype {dtype}")
    count = 1
    for n in shape:
        count *= int(n)
    nbytes = count * dtype.itemsize
    header = f.tell()
    if nbytes != size - header:
        raise PlainError("an array's header does not match its size")
    flat = np.frombuffer(f.read(nbytes), dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def read_file(name: str, *, dir_fd: int | None = None, limit: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file ``name`` (relative to ``dir_fd`` when given), refusing a
    symbolic link, a pipe or a device (no waiting on them) and anything above ``limit``."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise PlainError("no file was written") from None
    except OSError as err:
        raise PlainError(f"the file cannot be opened safely ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PlainError("not a regular file")
        if info.st_size > limit:
            raise PlainError(f"larger than {limit // 2**20} MiB")
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise PlainError(f"larger than {limit // 2**20} MiB")
        return data
    finally:
        os.close(fd)
