"""The grader's re-check: fresh and hidden cases, sent as plain data, judged in the grader.

The pipeline is run here in one process, exactly as ``cnnlab grade`` splits it: the request is
packed to bytes and unpacked as the kernel does, the student's function runs through
``run_case`` (what the kernel's ``serve`` calls), the replies are packed and unpacked again,
and ``judge`` decides. Every right implementation in ``tests/implementations/`` must pass
it, and every wrong one and every exercise's own mistake model fail with its hint; malformed
replies fail without crashing.
"""

import numpy as np
import pytest
from test_wrong_implementations import MISTAKES, RIGHT, WRONG, _ids

from cnnlab import grading
from cnnlab.course import recheck
from cnnlab.course.lessons import all_lessons
from cnnlab.grading import core, plain

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
HIDDEN = {gid: cases for lesson in all_lessons(ROOT) for gid, cases in recheck.hidden_cases(ROOT, lesson.name).items()}


def kernel_side(data: bytes, fn, partners) -> bytes:
    """What remote.serve does with a request, minus the notebook namespace."""
    asked = plain.unpack(data, inputs=True)
    ex, replies = core.get(asked["exercise"]), []
    for inputs in asked["cases"]:
        try:
            replies.append(core.run_case(ex, inputs, fn, partners))
        except NotImplementedError:
            replies.append({"not_implemented": getattr(fn, "__name__", "?")})
            break
    return plain.pack({"replies": replies})


def recheck_of(exercise_id, fn, partners=None, seed=2024):
    ex = grading.get(exercise_id)
    partners = partners or {}
    call = recheck.CheckCall(exercise_id, "fn", {name: name for name in partners})
    data, cases = recheck.request(ex, call, seed, HIDDEN.get(exercise_id, ()))
    return recheck.judge(ex, cases, plain.unpack(kernel_side(data, fn, partners)))


@pytest.mark.parametrize("module, impl", RIGHT, ids=_ids(RIGHT))
def test_every_right_implementation_passes_the_grader(module, impl):
    result = recheck_of(impl.exercise, impl.fn, impl.partners)
    assert result.passed, result.problem
    assert len(result.lines) == len(grading.get(impl.exercise).cases) + len(HIDDEN[impl.exercise])


@pytest.mark.parametrize("module, impl", WRONG, ids=_ids(WRONG))
def test_every_wrong_implementation_fails_the_grader_with_its_hint(module, impl):
    result = recheck_of(impl.exercise, impl.fn, impl.partners)
    assert not result.passed and result.problem
    assert impl.hint in " ".join(result.hints + result.lines), (impl.hint, result.hints, result.problem)


@pytest.mark.parametrize("exercise_id, index, mistake", MISTAKES, ids=[f"{e}-mistake{i}" for e, i, _ in MISTAKES])
def test_every_mistake_model_fails_the_grader_with_its_hint(exercise_id, index, mistake):
    """The known mistakes, each as a submission: fresh and hidden cases catch every one."""
    result = recheck_of(exercise_id, mistake.fn, grading.get(exercise_id).partners)
    assert not result.passed and result.problem
    assert mistake.hint in result.hints, (mistake.hint, result.hints, result.problem)


def test_every_exercise_has_hidden_cases():
    assert set(HIDDEN) == set(grading.exercises())


# --- seeds --------------------------------------------------------------------------------------

def test_seeds_are_secret_per_submission_and_exercise():
    a = recheck.seed(b"secret", "ab" * 32, "pad2d")
    assert a == recheck.seed(b"secret", "ab" * 32, "pad2d")
    assert len({a, recheck.seed(b"other", "ab" * 32, "pad2d"), recheck.seed(b"secret", "cd" * 32, "pad2d"),
                recheck.seed(b"secret", "ab" * 32, "im2col")}) == 4


def test_the_grader_draws_the_public_generators_afresh_and_hides_its_own_labels():
    ex = grading.get("pad2d")
    public = core.draw(ex)
    mine = core.draw(ex, seed=99, extra=HIDDEN["pad2d"])
    assert len(mine) == len(public) + len(HIDDEN["pad2d"])
    assert not np.array_equal(mine[0][2]["x"], public[0][2]["x"])  # drawn: fresh numbers
    assert np.array_equal(mine[4][2]["x"], public[4][2]["x"])  # written by hand: the same
    assert [label for label, _, _ in mine[len(public):]] == [f"hidden case {k + 1}" for k in range(4)]
    again = core.draw(ex, seed=99, extra=HIDDEN["pad2d"])
    assert all(np.array_equal(a[2]["x"], b[2]["x"]) for a, b in zip(mine, again))


# --- the check call -----------------------------------------------------------------------------

@pytest.mark.parametrize("source, call", [
    ('cl.check("relu_backward", relu_backward, forward=relu_forward)',
     recheck.CheckCall("relu_backward", "relu_backward", {"forward": "relu_forward"})),
    ('# NBVAL_IGNORE_OUTPUT\ncl.check("train_cnn", build_model)\nprint("more")',
     recheck.CheckCall("train_cnn", "build_model", {})),
])
def test_the_check_call_is_read_from_the_graded_cell(source, call):
    assert recheck.check_call(source) == call


@pytest.mark.parametrize("source", [
    'x = 1\ncl.check("pad2d", pad2d)', 'check("pad2d", pad2d)', 'cl.check("pad2d", lambda x, p: x)',
    'cl.check(name, pad2d)', 'cl.check("pad2d", pad2d, forward=helpers.f)', "cl.check(", "",
])
def test_anything_else_is_refused(source):
    with pytest.raises(ValueError, match="the graded cell"):
        recheck.check_call(source)


# --- replies a hostile kernel could send --------------------------------------------------------

def _judge(reply, exercise="mean_image"):
    ex = grading.get(exercise)
    cases = core.draw(ex, seed=1)
    return recheck.judge(ex, cases, reply)


@pytest.mark.parametrize("reply, problem", [
    (None, "the re-check sent back nothing readable"),
    ([1, 2], "the re-check sent back nothing readable"),
    ({"replies": "all good"}, "the re-check sent back nothing readable"),
    ({"error": "name 'mean_image' is not defined"}, "could not call your function: name 'mean_image' is not defined"),
    ({"replies": []}, "no result came back for this case"),
    ({"replies": [{"not_implemented": "mean_image"}]}, "not implemented yet: mean_image still raises"),
    ({"replies": [{"result": plain.Opaque("a generator")}] * 5}, "got a generator"),
    ({"replies": ["passed"] * 5}, "no result came back for this case"),
    ({"replies": [{"raised": "not an exception"}] * 5}, "your function returned None"),
])
def test_malformed_replies_fail_the_exercise_without_crashing(reply, problem):
    result = _judge(reply)
    assert not result.passed and problem in result.problem, result.problem


def test_a_correct_reply_for_fewer_cases_fails():
    ex = grading.get("mean_image")
    cases = core.draw(ex, seed=1)
    replies = [{"result": inputs["X"].mean(axis=0), "after": {"X": inputs["X"]}} for _, _, inputs in cases]
    assert recheck.judge(ex, cases, {"replies": replies}).passed
    assert not recheck.judge(ex, cases, {"replies": replies[:-1]}).passed
