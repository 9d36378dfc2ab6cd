"""The grader's own verdict on an exercise: the student's functions, called on fresh cases.

Right after a graded cell ``cl.check("conv2d_forward_naive", conv2d_forward_naive)`` has run
in a submission's kernel, the grader:

1. reads the exercise id and the function names from that call (:func:`check_call`; the call
   must be the cell's first statement, with bare names, as ``cnnlab validate`` enforces);
2. draws the exercise's public case generators afresh and adds its hidden cases
   (``solutions/hidden/<lesson>.py``, :func:`hidden_cases`), seeded per submission and
   exercise from a secret of the run (:func:`seed`): a submission cannot know its inputs;
3. sends the inputs to the kernel as plain data (:func:`request`); the kernel calls the named
   functions (:mod:`cnnlab.grading.remote`) and sends plain results back;
4. judges the results in its own process (:func:`judge`), with the same comparisons and hints
   as ``cl.check``, on its own copy of the inputs.

Nothing the kernel printed, patched or claimed enters the verdict; only the values its
functions returned.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..grading import core, plain
from .lessons import SOURCES

__all__ = ["CheckCall", "Recheck", "check_call", "hidden_cases", "judge", "request", "seed"]

HIDDEN = "hidden"  # solutions/hidden/<lesson>.py: the hidden cases, never given to students
# Judging runs in the grader's threads; the mistake models silence warnings, which Python
# does process-wide, so one exercise is judged at a time (it takes milliseconds).
_JUDGE = threading.Lock()


@dataclass(frozen=True)
class CheckCall:
    """``cl.check(exercise, function, **partners)`` as a graded cell writes it."""

    exercise: str
    function: str
    partners: dict


def check_call(source: str) -> CheckCall:
    """The check call that starts a graded cell, or ValueError saying what is wrong."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ValueError(f"the graded cell is not valid Python ({err.msg})") from None
    first = tree.body[0] if tree.body else None
    call = first.value if isinstance(first, ast.Expr) else None
    shape = "cl.check(\"<exercise id>\", <function name>[, <partner>=<function name> ...])"
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "check"
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "cl"):
        raise ValueError(f"the graded cell must start with {shape}")
    args, keywords = call.args, call.keywords
    if not (len(args) == 2 and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str)
            and isinstance(args[1], ast.Name) and all(k.arg and isinstance(k.value, ast.Name) for k in keywords)):
        raise ValueError(f"the graded cell must start with {shape}, with bare names")
    return CheckCall(args[0].value, args[1].id, {k.arg: k.value.id for k in keywords})


def seed(secret: bytes, sha256: str, exercise: str) -> int:
    """The seed of one submission's cases for one exercise: HMAC-SHA256 of the run's secret
    over the submission's hash and the exercise id (reproducible with the secret alone)."""
    digest = hmac.new(secret, f"{sha256}:{exercise}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def hidden_cases(root, lesson: str) -> dict[str, list]:
    """``CASES`` of ``solutions/hidden/<lesson>.py`` (exercise id -> list of Case), {} if none."""
    path = Path(root) / SOURCES / HIDDEN / f"{lesson}.py"
    if not path.is_file():
        return {}
    spec = importlib.util.spec_from_file_location(f"cnnlab_hidden_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = getattr(module, "CASES", None)
    if not isinstance(cases, dict) or not all(isinstance(c, core.Case) for v in cases.values() for c in v):
        raise ValueError(f"{path}: CASES must be a dict of exercise id -> list of cnnlab.grading.Case")
    return cases


def request(ex: core.Exercise, call: CheckCall, case_seed: int, hidden=()) -> tuple[bytes, list]:
    """The request for the kernel (bytes of a plain-data file) and the cases it holds, as
    ``(label, case, inputs)`` for :func:`judge`."""
    cases = core.draw(ex, seed=case_seed, extra=hidden)
    data = plain.pack({"exercise": ex.id, "function": call.function, "partners": dict(call.partners),
                       "cases": [inputs for _, _, inputs in cases]}, inputs=True)
    return data, cases


@dataclass
class Recheck:
    """The grader's verdict on one exercise: ``passed``, one line per case, the hints of the
    mistakes it recognised, and ``problem``: the first thing that went wrong (for a summary)."""

    passed: bool
    lines: list = field(default_factory=list)
    hints: list = field(default_factory=list)
    problem: str = ""


def failed(problem: str) -> Recheck:
    return Recheck(False, [], [], problem)


def judge(ex: core.Exercise, cases: list, reply) -> Recheck:
    """Judge the kernel's ``reply`` (a value read with :func:`plain.unpack`) to :func:`request`."""
    if not isinstance(reply, dict):
        return failed("the re-check sent back nothing readable")
    if "error" in reply:
        return failed(f"the re-check could not call your function: {str(reply['error'])[:300]}")
    replies = reply.get("replies")
    if not isinstance(replies, list):
        return failed("the re-check sent back nothing readable")
    result, judged = Recheck(True), []
    for i, (label, case, inputs) in enumerate(cases):
        answer = replies[i] if i < len(replies) else None
        if isinstance(answer, dict) and "not_implemented" in answer:
            name = str(answer["not_implemented"])[:100]
            result.passed, result.problem = False, result.problem or f"not implemented yet: {name} still raises " \
                                                                     "NotImplementedError"
            result.lines.append(f"{core.FAIL} case {i + 1}/{len(cases)}: {label} \u2014 {result.problem}")
            break
        with _JUDGE:
            verdict = core.judge_case(ex, case, inputs, answer)
        judged.append((case, inputs, verdict))
        result.lines += core.case_lines(i + 1, len(cases), label, verdict)
        if not verdict.passed:
            result.passed = False
            result.problem = result.problem or f"case {i + 1}/{len(cases)} ({label}): {verdict.problems[0]}"
    with _JUDGE:  # the hints need every case: see core.explain
        result.hints = core.explain(ex, judged)
    return result
