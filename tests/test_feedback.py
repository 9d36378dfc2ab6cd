"""What a check prints when it fails: the hints that fit, after the case lines, and one short
line instead of a traceback; coloured case lines in a notebook, plain ones everywhere else."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from cnnlab import grading
from cnnlab.grading import Case, Exercise, Mistake, core

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def failing_output(capsys, exercise_id, fn, **partners) -> str:
    with pytest.raises(AssertionError, match=f"^{exercise_id}: [0-9]+ of [0-9]+ cases failed$"):
        grading.check(exercise_id, fn, **partners)
    return capsys.readouterr().out


def hints(out: str) -> list[str]:
    return [line[len("  hint: "):] for line in out.splitlines() if line.startswith("  hint: ")]


@pytest.fixture
def register():
    added = []

    def add(**options):
        options.setdefault("points", 1)
        added.append(grading.register(Exercise(**options)).id)

    grading.exercises()
    yield add
    for exercise_id in added:
        grading.unregister(exercise_id)


# --- which hints: the models that reproduce every failed case -----------------------------------

def test_only_the_model_that_reproduces_every_failed_case_is_named(register, capsys):
    register(id="t_scale", reference=lambda x: 2 * x,
             cases=[Case(x=np.array([1.0, 2.0])), Case(x=np.array([-1.0, 3.0])), Case(x=np.array([0.0, 5.0]))],
             mistakes=[Mistake("three times", lambda x: 3 * x),
                       # reproduces the third case only: a mistake the student did not make
                       Mistake("three times where x starts with 0", lambda x: 3 * x if x[0] == 0 else 2 * x - 1)])
    out = failing_output(capsys, "t_scale", lambda x: 3 * x)
    assert hints(out) == ["three times"]
    lines = out.splitlines()
    assert [line[:8] for line in lines[:3]] == ["\u2717 case 1", "\u2717 case 2", "\u2717 case 3"]
    assert lines[3:] == ["  hint: three times"]  # hints come after every case line


def test_a_model_that_cannot_run_on_a_case_is_not_counted_against_it(register, capsys):
    def three_times_but_not_zero(x):
        if x[0] == 0:
            raise ZeroDivisionError("the model cannot run here")
        return 3 * x

    register(id="t_scale", reference=lambda x: 2 * x,
             cases=[Case(x=np.array([1.0, 2.0])), Case(x=np.array([0.0, 5.0]))],
             mistakes=[Mistake("three times", three_times_but_not_zero)])
    assert hints(failing_output(capsys, "t_scale", lambda x: 3 * x)) == ["three times"]


def test_a_model_the_student_contradicts_on_a_passed_case_is_not_named(register, capsys):
    # A reversed answer reproduces every failed case of any wrong bool; the passed ones tell.
    register(id="t_even", reference=lambda n: n % 2 == 0,
             cases=[Case(n=2), Case(n=3), Case(n=4), Case(n=7)],
             mistakes=[Mistake("the answer is reversed", lambda n: n % 2 != 0)])
    assert hints(failing_output(capsys, "t_even", lambda n: n % 4 == 0)) == []
    assert hints(failing_output(capsys, "t_even", lambda n: n % 2 == 1)) == ["the answer is reversed"]


def test_detector_hints_still_follow_each_failed_case(register, capsys):
    register(id="t_scale", reference=lambda x: 2 * x, cases=[Case(x=np.array([1.0]))],
             detectors=[lambda inputs, got, expected: "you raised" if isinstance(got, BaseException) else None])
    assert hints(failing_output(capsys, "t_scale", lambda x: x[5])) == ["you raised"]


def test_an_input_changed_in_place_is_the_only_hint(register, capsys):
    def doubles_in_place(x):
        x *= 3  # and returns the changed input: its result equals the model's
        return x

    register(id="t_scale", reference=lambda x: 2 * x,
             cases=[Case(x=np.array([1.0, 2.0])), Case(x=np.array([-1.0, 3.0]))],
             mistakes=[Mistake("three times", lambda x: 3 * x)])
    out = failing_output(capsys, "t_scale", doubles_in_place)
    assert "\u2717 case 1/2: x (2,) \u2014 your function changed its input `x` in place; values differ" in out
    assert len(hints(out)) == 1 and hints(out)[0].startswith("leave the inputs as they are: work on a copy (x = x.copy())")


# --- the examples on the course's exercises -------------------------------------------

def test_covers_input_with_n_mod_stride_gets_only_its_own_hint(capsys):
    out = failing_output(capsys, "covers_input", lambda n, k, stride, pad: n % stride == 0)
    assert hints(out) == ["what matters is what is left after the last window, (n + 2*pad - k) mod stride, "
                          "not whether n itself is a multiple of the stride"]


def test_maxpool_backward_with_assignment_is_not_told_about_code_it_does_not_have(capsys):
    def forward(x, size=2, stride=2):
        return grading.get("maxpool_forward_naive").reference(x, size, stride)

    def backward_assigns(dout, cache):
        x, size, stride = cache
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(*dout.shape):
            window = x[n, c, i * stride:i * stride + size, j * stride:j * stride + size]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            dx[n, c, i * stride + a, j * stride + b] = dout[n, c, i, j]
        return dx

    found = hints(failing_output(capsys, "maxpool_backward_naive", backward_assigns, forward=forward))
    assert len(found) == 1 and "use dx[...] += dout[...]" in found[0]


def test_conv_output_size_with_true_division_gets_one_consistent_advice(capsys):
    def size_with_slash(n, k, stride=1, pad=0):
        if k > n + 2 * pad:
            raise ValueError("kernel too large")
        return (n + 2 * pad - k) / stride + 1

    out = failing_output(capsys, "conv_output_size", size_with_slash)
    assert "int(" not in out  # the comparison no longer prescribes int(...) next to the hint's `//`
    assert "return an int, not a float" in out
    assert len(hints(out)) == 1 and "use integer division `//`" in hints(out)[0]


# --- the re-check names the same hints -----------------------------------------------------------

def test_the_grader_names_the_same_hints_as_the_notebook(capsys):
    from test_recheck import recheck_of

    result = recheck_of("covers_input", lambda n, k, stride, pad: n % stride == 0)
    assert result.hints == [hints(failing_output(capsys, "covers_input",
                                                 lambda n, k, stride, pad: n % stride == 0))[0]]
    assert not any(ANSI.search(line) for line in result.lines)  # the grade report's lines are plain


# --- colours and the one-line ending ------------------------------------------------------------

def test_case_lines_are_coloured_where_a_person_reads_them(register, capsys, monkeypatch):
    register(id="t_scale", reference=lambda x: 2 * x, cases=[Case(x=np.array([1.0])), Case(x=np.array([0.0]))])
    monkeypatch.setattr(core, "_coloured", lambda: True)
    with pytest.raises(AssertionError) as info:
        grading.check("t_scale", lambda x: x + 1)  # right for 1, wrong for 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == ["\x1b[32m\u2713 case 1/2: x (1,)\x1b[0m",
                                    "\x1b[31m\u2717 case 2/2: x (1,) \u2014 values differ: max abs error 1 at [0] "
                                    "(expected 0, got 1)\x1b[0m"]
    assert info.value._render_traceback_() == [
        "\x1b[31mAssertionError: t_scale: 1 of 2 cases failed; the lines above say which and why.\x1b[0m"]


def test_no_colour_without_a_notebook_or_terminal_or_with_no_color(monkeypatch):
    assert core._coloured() is False  # pytest captures stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert core._coloured() is False


def test_in_a_kernel_a_failed_check_ends_with_one_line_and_still_fails(tmp_path):
    """The real thing: IPython renders the one line, execute_reply says error, the streams are
    coloured, and nbval's sanitize file makes them compare equal to plain stored text."""
    from nbclient import NotebookClient

    from cnnlab.course.kernel import kernel_env

    source = ("import numpy as np, cnnlab as cl\n"
              "from cnnlab.grading import Case, Exercise, register\n"
              "register(Exercise('t_twice', 1, [Case(x=np.array([1.0])), Case(x=np.array([2.0]))], "
              "reference=lambda x: 2 * x))\n"
              "cl.check('t_twice', lambda x: x + 1)")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source),
                                         nbformat.v4.new_code_cell("def f(x): raise NotImplementedError()\n"
                                                                   "cl.check('t_twice', f)")])
    root = core._PACKAGE_DIR.rsplit("/", 1)[0]
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute(
        cwd=str(tmp_path), env=kernel_env(root))
    *streams, error = nb.cells[0].outputs
    stream = nbformat.v4.new_output("stream", name="stdout", text="".join(o.text for o in streams))
    assert error.output_type == "error" and error.ename == "AssertionError"
    assert error.evalue == "t_twice: 1 of 2 cases failed"
    assert [ANSI.sub("", line) for line in error.traceback] == [
        "AssertionError: t_twice: 1 of 2 cases failed; the lines above say which and why."]
    assert "\x1b[32m\u2713 case 1/2: x (1,)\x1b[0m\n" in stream.text
    assert "\x1b[31m\u2717 case 2/2: x (1,) \u2014" in stream.text
    sanitize = open(f"{root}/tests/nbval_sanitize.cfg").read()
    patterns = re.findall("^regex: (.*)$\n^replace: (.*)$", sanitize, flags=re.MULTILINE)  # as nbval reads it
    cleaned = stream.text
    for regex, replace in patterns:
        cleaned = re.sub(regex, replace, cleaned)
    assert cleaned == ANSI.sub("", stream.text)
    error = nb.cells[1].outputs[-1]
    assert error.ename == "NotImplementedError" and len(error.traceback) == 1


# --- the mistakes a student trial met without a hint ----------------------------------------------

def _wrong(name):
    from test_wrong_implementations import WRONG

    return next(impl for _, impl in WRONG if impl.fn.__name__ == name)


@pytest.mark.parametrize("name", ["maxpool_backward_size_as_stride", "maxpool_backward_overwrite",
                                  "momentum_minus_velocity"])
def test_the_trial_mistakes_are_named_with_exactly_their_hint(name, capsys):
    impl = _wrong(name)
    found = hints(failing_output(capsys, impl.exercise, impl.fn, **impl.partners))
    assert len(found) == 1 and impl.hint in found[0], found
