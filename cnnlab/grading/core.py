"""The exercise registry and :func:`check`, the function every graded cell calls.

An exercise is registered once, in ``cnnlab/grading/lessonNN.py``::

    @exercise("scale_images", points=1,
              cases=[Case(x=integers(0, 256, (2, 1, 8, 8), np.uint8)), ...],
              mistakes=[Mistake("divide by 255, not 256", lambda x: (x / 256).astype(np.float32))])
    def _scale_images(x):              # the reference: the expected result of every case
        return x.astype(np.float32) / 255

and checked in a notebook with ``cl.check("scale_images", scale_images)``. For each case the
check builds the inputs from a generator seeded for that case (never global random state) and
then does two things that ``cnnlab grade`` does in two different processes:

* :func:`run_case` (the submission's side) calls the student's function on a fresh copy of
  the inputs and returns a *reply* of plain data (:mod:`cnnlab.grading.plain`): the result, or
  the exception raised, and the inputs as the call left them;
* :func:`judge_case` (the grader's side) compares the reply with the reference's result on the
  same inputs, reports inputs changed in place, and, when the case fails, runs every mistake
  model on the same inputs: if one gives the student's result, its hint is printed.

In a notebook both run in the student's kernel, one after the other; the grader runs the
first in the submission's sandboxed kernel and the second in its own process, on cases with
fresh seeds plus hidden ones (:func:`draw`). All cases passed: the points are returned.
Otherwise ``AssertionError`` is raised, so notebooks, nbgrader and ``cnnlab grade`` all see
the failure.
"""

from __future__ import annotations

import copy
import difflib
import numbers
import os
import sys
import sysconfig
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .. import backend
from . import plain
from .compare import DTYPE_MODES, difference, float_precision_change

__all__ = [
    "BROKEN", "Case", "CaseVerdict", "CheckFailure", "Draw", "Exercise", "Mistake", "call_backward",
    "call_forward", "call_plain", "check", "describe", "draw", "exercise", "exercises", "get",
    "explain", "integers", "judge_case", "normal", "points", "register", "run_case", "uniform", "unregister",
]

PASS, FAIL = "\u2713", "\u2717"  # check mark and ballot x
_NOT_IMPLEMENTED = ("Not implemented yet: replace `raise NotImplementedError()` in {name} with your "
                    "code, then run this cell again.")
_MISSING = object()


class CheckFailure(Exception):
    """Raised by a ``call`` or ``summarize`` hook when the student's function breaks the
    exercise's contract (e.g. a forward that does not return ``(out, cache)``); the message is
    shown as the case's failure, not as a crash of the student's code."""


# --- inputs -------------------------------------------------------------------------------------

class Draw:
    """An input drawn from the case's seeded generator when the check runs.

    ``Draw(lambda rng: rng.permutation(10))``; the helpers :func:`normal`, :func:`uniform` and
    :func:`integers` cover the usual arrays.
    """

    def __init__(self, make: Callable[[np.random.Generator], Any]):
        if not callable(make):
            raise TypeError(f"Draw needs a function of a numpy Generator; got {make!r}")
        self.make = make

    def __call__(self, rng: np.random.Generator):
        return self.make(rng)


def normal(*shape: int, scale: float = 1.0, dtype=np.float64) -> Draw:
    """Standard normal numbers times ``scale``, of the given shape and dtype."""
    return Draw(lambda rng: (scale * rng.standard_normal(shape)).astype(dtype))


def uniform(low: float, high: float, shape: Sequence[int], dtype=np.float64) -> Draw:
    """Uniform numbers in [low, high)."""
    return Draw(lambda rng: rng.uniform(low, high, tuple(shape)).astype(dtype))


def integers(low: int, high: int, shape: Sequence[int], dtype=np.int64) -> Draw:
    """Integers in [low, high) (``high`` excluded, like ``Generator.integers``)."""
    return Draw(lambda rng: rng.integers(low, high, tuple(shape)).astype(dtype))


class Case:
    """One public test case: the inputs, in the order of the function's parameters.

    Args:
        note: what is special about this case, shown after the inputs
            (e.g. ``"all pixels 0"``).
        raises: an exception type the function must raise for these inputs (the case passes
            when it does); no reference is called then.
        expected: the expected result, when it is written by hand instead of computed by the
            exercise's reference.
        make: ``make(rng) -> dict`` of further inputs that depend on each other (appended
            after the keyword inputs).
        label: replaces the automatic description entirely.
        seed: the seed of this case's generator (default: the exercise's seed + the case's
            position).
        **inputs: the arguments, passed positionally in this order. A :class:`Draw` is drawn
            from the case's generator; anything else is used as given (deep-copied).
    """

    def __init__(self, note: str = "", *, raises: type[BaseException] | None = None,
                 expected=_MISSING, make: Callable | None = None, label: str | None = None,
                 seed: int | None = None, **inputs):
        if raises is not None and not (isinstance(raises, type) and issubclass(raises, Exception)):
            raise TypeError(f"raises must be an exception class; got {raises!r}")
        if make is not None and not callable(make):
            raise TypeError(f"make must be a function rng -> dict of inputs; got {make!r}")
        if not inputs and make is None:
            raise ValueError("a Case needs inputs: Case(x=..., ...) or Case(make=...)")
        self.note, self.raises, self.expected = note, raises, expected
        self.make, self.label, self.seed, self.inputs = make, label, seed, inputs

    def build(self, rng: np.random.Generator) -> dict:
        """The inputs of this case, drawn from ``rng`` (fresh objects on every call)."""
        values = {k: v(rng) if isinstance(v, Draw) else copy.deepcopy(v) for k, v in self.inputs.items()}
        if self.make is not None:
            values.update(self.make(rng))
        return values

    def __repr__(self):
        return f"Case({self.label or self.note or ', '.join(self.inputs)})"


def describe(inputs: dict, note: str = "") -> str:
    """One-line description of a case: ``x (2, 3, 5, 5), stride 2, pad 1; note``.

    Arrays show their shape (and dtype unless float64); numbers and short strings their
    value; other things their type.
    """
    parts = []
    for name, value in inputs.items():
        if backend.is_array(value):
            dtype = "" if value.dtype == np.float64 else f" {value.dtype}"
            parts.append(f"{name} {tuple(value.shape)}{dtype}")
        elif value is None or isinstance(value, (bool, numbers.Number)):
            parts.append(f"{name} {value!r}" if isinstance(value, float) else f"{name} {value}")
        elif isinstance(value, str) and len(value) <= 20:
            parts.append(f"{name} {value!r}")
        elif isinstance(value, (list, tuple)):
            parts.append(f"{name} {type(value).__name__} of {len(value)}")
        elif isinstance(value, np.random.Generator):
            parts.append(f"{name} seeded")
        elif callable(value):
            parts.append(f"{name} {getattr(value, '__name__', type(value).__name__)}")
        else:
            parts.append(f"{name} {type(value).__name__}")
    text = ", ".join(parts)
    return f"{text}; {note}" if note and text else (note or text)


# --- how a student's function is called ----------------------------------------------------------

def call_plain(fn: Callable, inputs: dict):
    """``fn(*inputs)``: the default for an ordinary function."""
    return fn(*inputs.values())


def _pair(result, name: str):
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        got = f"a {type(result).__name__}" + (f" of {len(result)} items" if isinstance(result, (tuple, list)) else "")
        raise CheckFailure(f"{name} must return a pair (out, cache); got {got}")
    return result


def call_forward(fn: Callable, inputs: dict):
    """For a forward function ``fn(*inputs) -> (out, cache)``: only ``out`` is compared (the
    cache is the student's own business)."""
    return _pair(fn(*inputs.values()), getattr(fn, "__name__", "the forward function"))[0]


def call_backward(fn: Callable, inputs: dict, forward: Callable):
    """For a backward function: the case's inputs are the forward's inputs plus ``dout``;
    the cache comes from the ``forward`` passed along (the student's own in a notebook)."""
    inputs = dict(inputs)
    dout = inputs.pop("dout")
    _, cache = _pair(forward(*inputs.values()), getattr(forward, "__name__", "forward"))
    return fn(dout, cache)


# --- exercises ----------------------------------------------------------------------------------

@dataclass
class Mistake:
    """A known wrong implementation and the hint shown when a student's result equals its result.

    ``fn`` has the student's signature (and goes through the exercise's ``call`` hook with the
    reference partners), so it is literally a small wrong solution.
    """

    hint: str
    fn: Callable

    def __post_init__(self):
        if not isinstance(self.hint, str) or not self.hint:
            raise TypeError(f"Mistake hint must be a non-empty str; got {self.hint!r}")
        if not callable(self.fn):
            raise TypeError(f"Mistake fn must be a function; got {self.fn!r}")


@dataclass
class Exercise:
    """A graded exercise.

    Args:
        id: the exercise id (= the nbgrader ``grade_id`` of its graded cell).
        points: what the graded cell is worth (= its nbgrader ``points``).
        cases: the public cases, in the order they are shown. Their inputs must be plain data
            (:mod:`cnnlab.grading.plain`): arrays, numbers, strings, containers of those,
            generators, and catalogue objects for functions and small objects.
        reference: a correct implementation with the student's signature (None only when
            every case has ``expected`` or ``raises``).
        mistakes: :class:`Mistake` models whose hint is shown when they explain a failure.
        detectors: further ``detector(inputs, got, expected) -> hint or None`` for mistakes
            not expressible as a model; ``got`` is the exception when the student's code raised.
        call: ``call(fn, inputs, **partners) -> result`` (:func:`call_plain`,
            :func:`call_forward`, :func:`call_backward` or your own). It runs where the
            student's function runs (in ``cnnlab grade``: the submission's kernel), so it only
            calls and collects; it judges nothing the verdict depends on.
        partners: functions the student passes along, with the reference version of each,
            e.g. ``{"forward": F.relu_forward}`` for ``check("relu_backward", fn, forward=...)``.
        summarize: ``summarize(inputs, result) -> view``, run on the grader's side on the plain
            result of every call (student, reference and mistake models alike) before they are
            compared: where a result is random, the view states its properties. A case's
            hand-written ``expected`` is a view.
        compare: ``compare(expected, got, inputs) -> message or None`` replacing
            :func:`difference`.
        rtol, atol, dtype: tolerances and dtype strictness of :func:`difference`; the default
            ``"float"`` is the course's rule (float32 in, float32 out).
        output_names: names of the items of a tuple result, used in messages.
        may_modify: names of inputs the function is allowed to change in place.
        implemented_by: dotted names of cnnlab's own implementations of the exercise (e.g.
            ``"cnnlab.conv.conv2d_forward"``); ``cnnlab grade`` gives 0 to a submission whose
            cells reach one of them.
        seed: case i draws from ``np.random.default_rng(seed + i)``.
        lesson: set by discovery (``"00"`` for ``lesson00.py``).
    """

    id: str
    points: float
    cases: Sequence[Case]
    reference: Callable | None = None
    mistakes: Sequence[Mistake] = ()
    detectors: Sequence[Callable] = ()
    call: Callable = call_plain
    partners: dict = field(default_factory=dict)
    summarize: Callable | None = None
    compare: Callable | None = None
    rtol: float = 1e-6
    atol: float = 1e-8
    dtype: str = "float"
    output_names: Sequence[str] | None = None
    may_modify: Sequence[str] = ()
    implemented_by: Sequence[str] = ()
    seed: int = 0
    lesson: str = ""

    def __post_init__(self):
        if not isinstance(self.id, str) or not self.id.isidentifier():
            raise ValueError(f"Exercise id must be a Python identifier such as 'conv2d_forward'; got {self.id!r}")
        if isinstance(self.points, bool) or not isinstance(self.points, numbers.Real) or not self.points > 0:
            raise ValueError(f"Exercise {self.id!r}: points must be a positive number; got {self.points!r}")
        self.cases = list(self.cases)
        if not self.cases or not all(isinstance(c, Case) for c in self.cases):
            raise ValueError(f"Exercise {self.id!r}: cases must be a non-empty list of Case; got {self.cases!r}")
        self.mistakes = list(self.mistakes)
        if not all(isinstance(m, Mistake) for m in self.mistakes):
            raise TypeError(f"Exercise {self.id!r}: mistakes must be Mistake(hint, fn) objects")
        if self.dtype not in DTYPE_MODES:
            raise ValueError(f"Exercise {self.id!r}: dtype must be one of {DTYPE_MODES}; got {self.dtype!r}")
        if self.reference is None and any(c.expected is _MISSING and c.raises is None for c in self.cases):
            raise ValueError(f"Exercise {self.id!r}: without a reference every case needs expected= or raises=")
        if not all(callable(f) for f in self.partners.values()):
            raise TypeError(f"Exercise {self.id!r}: partners must map names to reference functions")
        if self.summarize is not None and not callable(self.summarize):
            raise TypeError(f"Exercise {self.id!r}: summarize must be a function (inputs, result) -> view")
        self.implemented_by = tuple(self.implemented_by)
        if not all(isinstance(n, str) and n.startswith("cnnlab.") for n in self.implemented_by):
            raise ValueError(f"Exercise {self.id!r}: implemented_by must list dotted names such as "
                             f"'cnnlab.conv.conv2d_forward'; got {self.implemented_by!r}")

    def view(self, inputs: dict, result):
        """What is compared of a plain ``result`` (see ``summarize``)."""
        return result if self.summarize is None else self.summarize(inputs, result)

    def outcome_of(self, fn: Callable, inputs: dict, partners: dict):
        """The view of ``fn``'s result on a fresh copy of ``inputs`` (reference and mistake models)."""
        return self.view(inputs, plain.to_plain(self.call(fn, plain.copy_inputs(inputs), **partners)))

    def expected(self, case: Case, inputs: dict):
        """The expected view for ``case`` with these inputs (the inputs are not modified)."""
        if case.expected is not _MISSING:
            return case.expected
        return self.outcome_of(self.reference, inputs, self.partners)

    def differ(self, expected, got, inputs: dict) -> str | None:
        """The comparison this exercise uses: None when ``got`` is right, else a message."""
        if self.compare is not None:
            return self.compare(expected, got, inputs)
        return difference(expected, got, rtol=self.rtol, atol=self.atol, dtype=self.dtype,
                          names=self.output_names)


_REGISTRY: dict[str, Exercise] = {}
_discovered = False
#: lesson modules that failed to import, by name, with the error (so one broken lesson does
#: not take every other lesson's checks down with it; the tests assert this stays empty).
BROKEN: dict[str, str] = {}


def register(ex: Exercise, replace: bool = False) -> Exercise:
    """Add ``ex`` to the registry; a second exercise with the same id is an error unless
    ``replace`` is true (reloading a lesson module replaces its own exercises)."""
    if not isinstance(ex, Exercise):
        raise TypeError(f"register expects an Exercise; got {type(ex).__name__}")
    old = _REGISTRY.get(ex.id)
    # Re-running the module that defined it (a reload) replaces an exercise; any other
    # registration of a taken id is a clash between lessons.
    same_module = old is not None and old.reference is not None and ex.reference is not None \
        and (old.reference.__module__, old.reference.__qualname__) == \
        (ex.reference.__module__, ex.reference.__qualname__)
    if old is not None and not (replace or same_module):
        raise ValueError(f"exercise id {ex.id!r} is registered twice; ids must be unique across lessons")
    _REGISTRY[ex.id] = ex
    return ex


def unregister(exercise_id: str) -> None:
    """Remove an exercise (tests use this for throwaway exercises)."""
    _REGISTRY.pop(exercise_id, None)


def exercise(id: str, points: float, cases: Sequence[Case], **options) -> Callable:
    """Decorator: register the decorated function as the reference of a new exercise.

    The keyword options are those of :class:`Exercise`; the function is returned unchanged.
    """
    def decorate(reference: Callable) -> Callable:
        register(Exercise(id=id, points=points, cases=cases, reference=reference, **options))
        return reference
    return decorate


def _discover() -> None:
    """Import every ``cnnlab/grading/lesson*.py`` once, so their exercises register."""
    global _discovered
    if _discovered:
        return
    import importlib
    import pkgutil

    package = __name__.rpartition(".")[0]
    folder = os.path.dirname(os.path.abspath(__file__))
    for info in sorted(pkgutil.iter_modules([folder]), key=lambda m: m.name):
        if info.name.startswith("lesson"):
            before = set(_REGISTRY)
            try:
                importlib.import_module(f"{package}.{info.name}")
            except Exception as err:
                BROKEN[info.name] = f"{type(err).__name__}: {err}"
                continue
            for key in set(_REGISTRY) - before:
                _REGISTRY[key].lesson = info.name[len("lesson"):]
    _discovered = True


def exercises() -> dict[str, Exercise]:
    """Every registered exercise by id (the lesson modules are imported on first use)."""
    _discover()
    return dict(_REGISTRY)


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; ``ValueError`` listing close matches for an unknown id."""
    _discover()
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a str such as 'scale_images'; got {exercise_id!r}")
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        pass
    close = difflib.get_close_matches(exercise_id, list(_REGISTRY), n=3, cutoff=0.6)
    if close:
        advice = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        advice = "known ids: " + ", ".join(sorted(_REGISTRY)[:20]) + (", ..." if len(_REGISTRY) > 20 else "")
    if BROKEN:
        advice += " (could not load " + "; ".join(f"{k}: {v}" for k, v in BROKEN.items()) + ")"
    raise ValueError(f"unknown exercise_id {exercise_id!r}; {advice}")


def points(exercise_id: str) -> float:
    """The points of an exercise (what its graded notebook cell is worth)."""
    return get(exercise_id).points


# --- running a check ----------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple({os.path.abspath(p) for k, p in sysconfig.get_paths().items()
                       if k in ("stdlib", "platstdlib", "purelib", "platlib")})


def library_file(filename: str) -> bool:
    """Whether code from ``filename`` is a library's (cnnlab, the standard library, installed
    packages, frozen modules), not the student's (notebook cells, their own files)."""
    if filename.startswith("<"):
        return filename.startswith("<frozen")
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or path.startswith(_LIBRARY_DIRS)


def _student_line(err: BaseException) -> str:
    """``line 3 in scale_images: return x / 0``: the last traceback line in the student's code
    (not in cnnlab, the standard library or installed packages), or '' if there is none."""
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if library_file(frame.filename):
            continue
        text = f"line {frame.lineno} in {frame.name}"
        return f"{text}: {frame.line.strip()}" if frame.line else text
    return ""


def raiser_name(err: BaseException, fallback: str) -> str:
    """Name of the function whose ``raise NotImplementedError()`` was hit."""
    frames = traceback.extract_tb(err.__traceback__)
    name = frames[-1].name if frames else fallback
    return fallback if name.startswith("<") else name


def _changed(before, after) -> bool:
    """True when an array (or a list/tuple/dict of arrays) was modified in place."""
    if backend.is_array(before):
        a, b = backend.asnumpy(before), backend.asnumpy(after)
        return a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(
            a, b, equal_nan=a.dtype.kind in "fc")
    if isinstance(before, (list, tuple)):
        return not isinstance(after, (list, tuple)) or len(before) != len(after) or any(
            _changed(x, y) for x, y in zip(before, after))
    if isinstance(before, dict):
        return not isinstance(after, dict) or before.keys() != after.keys() or any(
            _changed(before[k], after[k]) for k in before)
    return False


def _write(line: str) -> None:
    """Print one line of feedback to stdout, falling back to ASCII on a terminal that has none."""
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        print(line.replace(PASS, "ok").replace(FAIL, "FAIL").replace("\u2014", "--")
              .encode("ascii", "replace").decode("ascii"), flush=True)


# --- the submission's side: call the student's function ------------------------------------------

def _mutable(value) -> bool:
    """Inputs a function could change in place, reported back after the call."""
    return backend.is_array(value) or isinstance(value, (list, dict))


def run_case(ex: Exercise, inputs: dict, fn: Callable, partners: dict) -> dict:
    """Call ``fn`` (through the exercise's ``call`` hook) on a fresh copy of ``inputs``.

    Returns the reply, plain data: ``{"result": ...}`` or ``{"raised": exception}`` or
    ``{"failure": message}`` (the hook found the result malformed), with ``"after"`` (the
    inputs that could be changed in place, as the call left them) and ``"warning"`` (the first
    warning Python gave, if any). ``NotImplementedError`` propagates.
    """
    mine = plain.copy_inputs(inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # collected, shown only if the case fails
        try:
            reply = {"result": ex.call(fn, mine, **partners)}
        except NotImplementedError:
            raise
        except CheckFailure as failure:
            reply = {"failure": str(failure)}
        except Exception as err:  # the student's code crashed (or raised on purpose)
            reply = {"raised": plain.exception(err, _student_line(err))}
    reply["after"] = {name: mine.get(name) for name, value in inputs.items()
                      if _mutable(value) and name not in ex.may_modify}
    if caught:
        reply["warning"] = f"{caught[0].category.__name__}: {caught[0].message}"
    try:
        return plain.to_plain(reply)
    except plain.PlainError as err:  # e.g. a result of millions of tiny objects
        return {"failure": f"your function's result cannot be read: {err}"}


# --- the grader's side: judge a reply ------------------------------------------------------------

@dataclass
class CaseVerdict:
    """What one case showed: its problems (none: passed), hints and notes.

    ``hints`` are this case's own (detectors', or the advice for an input changed in place);
    the mistake models' hints need every case of a check and come from :func:`explain`.
    ``changed`` names the inputs the function changed in place; ``got`` is the student's
    result as compared (None when the function raised or broke the contract).
    """

    problems: list
    hints: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    got: Any = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return not self.problems


def judge_case(ex: Exercise, case: Case, inputs: dict, reply: dict) -> CaseVerdict:
    """Judge the plain ``reply`` of :func:`run_case` for ``case`` with these ``inputs``.

    Everything here runs on the grader's side: the reference and the mistake models on the
    grader's own copy of the inputs, every comparison on plain data.
    """
    if not isinstance(reply, dict):
        return CaseVerdict(["no result came back for this case"])
    if reply.get("failure") is not None:
        return CaseVerdict([str(reply["failure"])])
    raised = reply.get("raised")
    if raised is not None and not isinstance(raised, BaseException):
        raised = None
    got = raised
    out = CaseVerdict([])
    if raised is not None and not (case.raises and isinstance(raised, case.raises)):
        where = getattr(raised, "cnnlab_where", "")
        name = getattr(raised, "cnnlab_type", type(raised).__name__)
        out.problems.append(f"your code raised {name}: {raised}" + (f" ({where})" if where else ""))
    elif raised is None and case.raises:
        out.problems.append(f"expected {case.raises.__name__} to be raised for these inputs, "
                            f"but your function returned {_short_result(reply.get('result'))}")
    elif raised is None:
        try:
            got = ex.view(inputs, reply.get("result"))
            message = ex.differ(ex.expected(case, inputs), got, inputs)
        except CheckFailure as failure:
            got, message = None, str(failure)
        except Exception as err:  # a result so odd that comparing it fails
            got = None
            message = (f"could not compare your result ({type(reply.get('result')).__name__}) with the "
                       f"expected one: {err}")
        if message:
            out.problems.append(message)
    after = reply.get("after") if isinstance(reply.get("after"), dict) else {}
    out.changed = [name for name, before in inputs.items()
                   if _mutable(before) and name in after and name not in ex.may_modify
                   and _safe(lambda: _changed(before, after[name])) is not False]
    if out.changed:  # first: what else differs may well follow from it
        out.problems[:0] = [f"your function changed its input `{name}` in place" for name in out.changed]
    if raised is None and not case.raises:
        out.got = got
    if out.problems:
        out.hints = [_changed_hint(out.changed)] if out.changed else _detected(ex, case, inputs, got, raised)
        warning = reply.get("warning")
        if isinstance(warning, str) and warning:
            out.notes = [f"Python warned: {warning}"]
    return out


def _changed_hint(names: list) -> str:
    name = names[0]
    return (f"leave the inputs as they are: work on a copy ({name} = {name}.copy()) or build a new array "
            f"({name} * 2, not {name} *= 2); what else differs here may come from that change")


def _detected(ex: Exercise, case: Case, inputs: dict, got, raised) -> list[str]:
    """The hints of the exercise's detectors for one failed case."""
    expected = None if case.raises else _safe(lambda: ex.expected(case, inputs))
    hints = []
    for detector in ex.detectors:
        hint = _safe(lambda: detector(inputs, raised if raised is not None else got, expected))
        if hint and hint not in hints:
            hints.append(hint)
    return hints


def explain(ex: Exercise, judged: Sequence[tuple[Case, dict, CaseVerdict]]) -> list[str]:
    """The hints of a whole check: ``judged`` holds ``(case, inputs, verdict)`` of every case.

    An input changed in place explains everything else, so its advice is then the only hint.
    Otherwise a mistake model's hint is shown when the model reproduces the student's result on
    every case where both gave one (a model that raises there, or a case where the student's
    code raised, counts neither way) and on at least one failed case: a model that explains
    only some failures names a mistake the student did not make. Several models may share a
    hint (variants of one mistake); the hint counts as reproduced on a case when one of them
    does. When no hint qualifies under the exercise's comparison and the student's values
    (not only their dtype) are wrong, values alone are compared, so that e.g. a float64 result
    of a float32 mistake still gets its hint. When no model explains the failures and a result
    has another floating precision than the reference's (float64 for float32 inputs), the
    course's dtype rule is the hint. The detectors' hints of each failed case follow.
    """
    failed = [(case, inputs, v) for case, inputs, v in judged if not v.passed]
    if not failed:
        return []
    if any(v.changed for _, _, v in failed):
        return [_changed_hint(next(v.changed for _, _, v in failed if v.changed))]
    order = sorted(judged, key=lambda item: item[2].passed)  # failed cases first: they decide most
    models = _ModelRuns(ex)
    hints = _reproducing(ex, order, models, strict=True)
    if not hints and ex.compare is None and any(
            v.got is not None and _values_differ(ex, _safe(lambda: ex.expected(c, i)), v.got)
            for c, i, v in failed if not c.raises):
        hints = _reproducing(ex, order, models, strict=False)
    if not hints and ex.dtype in ("float", "exact"):
        hints = _precision_hint(ex, failed)
    for _, _, v in failed:
        hints += [h for h in v.hints if h not in hints]
    return hints


def _precision_hint(ex: Exercise, failed) -> list[str]:
    """The dtype rule's hint, when a failed case's result has another floating precision than
    the reference's (e.g. float64 where float32 inputs give float32)."""
    for case, inputs, v in failed:
        if v.got is None or case.raises:
            continue
        found = _safe(lambda: float_precision_change(ex.expected(case, inputs), v.got))
        if found:
            wanted, got = found
            advice = ("create new arrays with np.zeros_like(x) or dtype=x.dtype, and mix in no float64 "
                      "arrays or NumPy scalars such as np.sqrt(2.0) (Python numbers such as 0.5 are fine)"
                      if got.itemsize > wanted.itemsize else f"leave out the conversion to {got}")
            return [f"your result is {got} for {wanted} inputs: a result keeps the floating dtype of "
                    f"its inputs, so {advice}"]
    return []


class _ModelRuns:
    """Each mistake model's result on each case, computed once and only when asked for."""

    def __init__(self, ex: Exercise):
        self.ex, self.done = ex, {}

    def __call__(self, index: int, position: int, inputs: dict):
        key = (index, position)
        if key not in self.done:
            try:
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    self.done[key] = (True, self.ex.outcome_of(self.ex.mistakes[index].fn, inputs, self.ex.partners))
            except Exception:  # a model that cannot run on these inputs explains nothing here
                self.done[key] = (False, None)
        return self.done[key]


def _reproducing(ex: Exercise, judged, models: _ModelRuns, strict: bool) -> list[str]:
    """The hints (in the order of ``ex.mistakes``) whose models reproduce the student's result
    on every case where both gave one, failed cases among them (see :func:`explain`)."""
    def same(theirs, got, inputs):
        """True or False; None when the comparison cannot tell (it raised: e.g. an exercise's
        ``compare`` saying that this model's mistake does not show on this case)."""
        if strict:
            return _safe(lambda: ex.differ(theirs, got, inputs) is None)
        differs = _values_differ(ex, theirs, got)
        return None if differs is None else not differs

    by_hint = {}
    for index, mistake in enumerate(ex.mistakes):
        by_hint.setdefault(mistake.hint, []).append(index)
    hints = []
    for hint, indices in by_hint.items():
        explained = False
        for position, (case, inputs, verdict) in enumerate(judged):
            if verdict.got is None:
                continue
            ran = matched = False
            for index in indices:
                ok, theirs = models(index, position, inputs)
                verdict_of_model = same(theirs, verdict.got, inputs) if ok else None
                ran = ran or verdict_of_model is not None
                if verdict_of_model:
                    matched = True
                    break
            if ran and not matched:
                break
            explained = explained or (matched and not verdict.passed)
        else:
            if explained:
                hints.append(hint)
    return hints


def _values_differ(ex: Exercise, expected, got):
    """Whether ``got`` differs from ``expected`` in values, ignoring dtypes (None if unknown)."""
    return _safe(lambda: difference(expected, got, rtol=ex.rtol, atol=ex.atol, dtype="any",
                                    names=ex.output_names) is not None)


def _safe(thunk):
    try:
        return thunk()
    except Exception:
        return None


def _short_result(got) -> str:
    if backend.is_array(got):
        return f"an array of shape {tuple(got.shape)}"
    text = repr(got)
    return text if len(text) <= 40 else f"a {type(got).__name__}"


# --- cases ---------------------------------------------------------------------------------------

def draw(ex: Exercise, seed: int | None = None, extra: Sequence[Case] = ()) -> list[tuple[str, Case, dict]]:
    """The cases of ``ex`` as ``(label, case, inputs)``.

    ``seed=None``: the public cases as every notebook draws them (case i from ``ex.seed + i``,
    or its own ``seed``). With a ``seed`` (the grader's, secret): the same case generators drawn
    afresh (case i from ``default_rng([seed, i])``), followed by the ``extra`` (hidden) cases,
    labelled ``hidden case k`` so that their details stay hidden.
    """
    drawn = []
    for i, case in enumerate(list(ex.cases) + list(extra)):
        if seed is None:
            rng = np.random.default_rng(ex.seed + i if case.seed is None else case.seed)
        else:
            rng = np.random.default_rng([seed, i])
        inputs = case.build(rng)
        hidden = i >= len(ex.cases)
        label = f"hidden case {i - len(ex.cases) + 1}" if hidden else case.label or describe(inputs, case.note)
        drawn.append((label, case, inputs))
    return drawn


def case_lines(index: int, total: int, label: str, verdict: CaseVerdict) -> list[str]:
    """The line a check prints for one case, without colour (the hints of a check come after
    all its case lines; see :func:`explain`)."""
    if verdict.passed:
        return [f"{PASS} case {index}/{total}: {label}"]
    return [f"{FAIL} case {index}/{total}: {label} \u2014 " + "; ".join(verdict.problems)]


# --- the notebook's check ------------------------------------------------------------------------

_GREEN, _RED, _RESET = "\x1b[32m", "\x1b[31m", "\x1b[0m"


def _coloured() -> bool:
    """Colour the case lines where a person reads them: in a Jupyter kernel (JupyterLab and
    nbconvert render the codes; nbval's sanitize file removes them before comparing) or on a
    terminal; never in captured or redirected output, nor when ``NO_COLOR`` is set."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = sys.stdout
    if type(stream).__module__.startswith("ipykernel"):
        return True
    try:
        return stream.isatty()
    except Exception:
        return False


def _paint(line: str, passed: bool) -> str:
    return f"{_GREEN if passed else _RED}{line}{_RESET}" if _coloured() else line


def _one_line(err: BaseException, text: str) -> BaseException:
    """``err`` shown by IPython as the single line ``text`` instead of a traceback through
    cnnlab (IPython calls an exception's ``_render_traceback_``); its type stays, so the cell
    still fails (``execute_reply`` status "error") and every grader still sees it."""
    line = _paint(text, passed=False)
    err._render_traceback_ = lambda: [line]
    return err


def check(exercise_id: str, fn: Callable, **partners) -> float:
    """Run the public cases of an exercise on ``fn``; print one line per case, then the hints.

    Args:
        exercise_id: the exercise's id, e.g. ``"scale_images"``.
        fn: the student's function.
        **partners: further functions the exercise needs, e.g. ``forward=relu_forward`` for
            ``relu_backward``.

    Returns:
        the exercise's points, when every case passes.

    Raises:
        AssertionError: when a case fails (the printed lines say which and why); in a notebook
            it shows as one line.
        NotImplementedError: when ``fn`` (or a partner) has not been written yet.
    """
    ex = get(exercise_id)
    check_arguments(ex, fn, partners)
    cases = draw(ex)
    judged, notes = [], []
    for i, (label, case, inputs) in enumerate(cases):
        try:
            reply = run_case(ex, inputs, fn, partners)
        except NotImplementedError as err:
            name = raiser_name(err, getattr(fn, "__name__", exercise_id))
            _write(_NOT_IMPLEMENTED.format(name=name))
            raise _one_line(err, f"NotImplementedError: {name} is not written yet")
        verdict = judge_case(ex, case, inputs, reply)
        judged.append((case, inputs, verdict))
        for line in case_lines(i + 1, len(cases), label, verdict):
            _write(_paint(line, verdict.passed))
        notes += [n for n in verdict.notes if n not in notes]
    failed = sum(not v.passed for _, _, v in judged)
    if failed:
        for hint in explain(ex, judged):
            _write(f"  hint: {hint}")
        for note in notes:
            _write(f"  note: {note}")
        summary = f"{exercise_id}: {failed} of {len(cases)} cases failed"
        raise _one_line(AssertionError(summary), f"AssertionError: {summary}; the lines above say which and why.")
    _write(f"{exercise_id}: all {len(cases)} cases passed, {_points_text(ex.points)}.")
    return ex.points


def check_arguments(ex: Exercise, fn: Callable, partners: dict) -> None:
    """TypeError unless ``fn`` and ``partners`` are what ``cl.check(ex.id, ...)`` needs."""
    exercise_id = ex.id
    if not callable(fn):
        raise TypeError(f"fn must be your function, e.g. cl.check({exercise_id!r}, {exercise_id}); "
                        f"got {type(fn).__name__}")
    missing = [name for name in ex.partners if name not in partners]
    unknown = [name for name in partners if name not in ex.partners]
    if missing or unknown:
        wanted = "".join(f", {name}=your_{name}" for name in ex.partners)
        problem = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(unknown)}"
        raise TypeError(f"{exercise_id}: {problem}; call it as cl.check({exercise_id!r}, {exercise_id}{wanted})")
    for name, partner in partners.items():
        if not callable(partner):
            raise TypeError(f"{name} must be a function; got {type(partner).__name__}")


def _points_text(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")
