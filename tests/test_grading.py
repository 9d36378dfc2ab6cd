"""cnnlab.grading: registry, check's report, comparison messages, input-modification detection."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

import cnnlab as cl
from cnnlab import grading
from cnnlab.grading import Case, Draw, Exercise, Mistake, difference, normal


# --- throwaway exercises --------------------------------------------------------------------

def _mean_rows(x):
    return x.mean(axis=0)


def _relu_forward(x):
    return np.maximum(x, 0), x


def _relu_backward(dout, cache):
    return dout * (cache > 0)


def _safe_divide(a, b):
    if b == 0:
        raise ValueError("b must not be 0")
    return a / b


@pytest.fixture
def register():
    """Register throwaway exercises for one test, removing them afterwards."""
    added = []

    def add(**options):
        options.setdefault("points", 2)
        ex = grading.register(Exercise(**options))
        added.append(ex.id)
        return ex

    grading.exercises()  # discover the real lessons first, so they cannot clash later
    yield add
    for exercise_id in added:
        grading.unregister(exercise_id)


@pytest.fixture
def mean_rows(register):
    return register(
        id="t_mean_rows", reference=_mean_rows,
        cases=[Case(x=normal(3, 4)), Case("one row", x=normal(1, 5)),
               Case(x=np.arange(6.0).reshape(2, 3), expected=np.array([1.5, 2.5, 3.5]))],
        mistakes=[Mistake("sum instead of the mean: divide by the number of rows",
                          lambda x: x.sum(axis=0))],
    )


# --- reporting ------------------------------------------------------------------------------

def test_passing_check_prints_one_line_per_case_and_returns_points(mean_rows, capsys):
    assert grading.check("t_mean_rows", lambda x: x.sum(axis=0) / len(x)) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "\u2713 case 1/3: x (3, 4)",
        "\u2713 case 2/3: x (1, 5); one row",
        "\u2713 case 3/3: x (2, 3)",
        "t_mean_rows: all 3 cases passed, 2 points.",
    ]
    assert err == ""


def test_cl_check_is_grading_check(mean_rows, capsys):
    assert cl.check("t_mean_rows", _mean_rows) == 2
    assert "all 3 cases passed" in capsys.readouterr().out


def test_failing_check_marks_cases_then_prints_hints_and_raises(mean_rows, capsys):
    with pytest.raises(AssertionError, match="^t_mean_rows: 2 of 3 cases failed$"):
        grading.check("t_mean_rows", lambda x: x.sum(axis=0))
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("\u2717 case 1/3: x (3, 4) \u2014 values differ: max abs error")
    assert lines[1] == "\u2713 case 2/3: x (1, 5); one row"  # sum == mean for one row
    assert lines[2] == ("\u2717 case 3/3: x (2, 3) \u2014 values differ: max abs error 3.5 at [2] "
                        "(expected 3.5, got 7); 3 of 3 entries differ")
    assert lines[3:] == ["  hint: sum instead of the mean: divide by the number of rows"]  # after all cases
    assert "\x1b[" not in out  # no colour codes in captured output
    assert err == ""


def test_no_hint_when_no_mistake_model_explains_the_result(mean_rows, capsys):
    with pytest.raises(AssertionError):
        grading.check("t_mean_rows", lambda x: x.mean(axis=0) + 1)
    assert "hint:" not in capsys.readouterr().out


def test_wrong_shape_reported(mean_rows, capsys):
    with pytest.raises(AssertionError):
        grading.check("t_mean_rows", lambda x: x.mean(axis=1))
    assert "\u2717 case 1/3: x (3, 4) \u2014 wrong shape: expected (4,), got (3,)" in capsys.readouterr().out


def test_inputs_are_seeded_per_case_and_independent_of_global_state(mean_rows):
    seen = []

    def spy(x):
        seen.append(x.copy())
        return x.mean(axis=0)

    grading.check("t_mean_rows", spy)
    np.random.seed(123)
    cl.backend.rng().standard_normal(10)  # neither global nor cnnlab state matters
    grading.check("t_mean_rows", spy)
    assert all(np.array_equal(a, b) for a, b in zip(seen[:3], seen[3:]))
    assert np.array_equal(seen[0], np.random.default_rng(0).standard_normal((3, 4)))
    assert np.array_equal(seen[1], np.random.default_rng(1).standard_normal((1, 5)))


# --- unfinished and crashing student code ---------------------------------------------------

def test_not_implemented_prints_friendly_line_and_reraises(mean_rows, capsys):
    def mean_rows_student(x):
        # YOUR CODE HERE
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        grading.check("t_mean_rows", mean_rows_student)
    out, err = capsys.readouterr()
    assert out == ("Not implemented yet: replace `raise NotImplementedError()` in mean_rows_student "
                   "with your code, then run this cell again.\n")
    assert err == ""


def test_exception_in_student_code_fails_that_case_only(mean_rows, capsys):
    def fragile(x):
        if x.shape[0] == 1:
            return x[5]  # IndexError on the one-row case
        return x.mean(axis=0)

    with pytest.raises(AssertionError, match="1 of 3 cases failed"):
        grading.check("t_mean_rows", fragile)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("\u2713 case 1/3")
    assert lines[1].startswith("\u2717 case 2/3: x (1, 5); one row \u2014 your code raised IndexError: "
                               "index 5 is out of bounds")
    line = fragile.__code__.co_firstlineno + 2
    assert lines[1].endswith(f"(line {line} in fragile: return x[5]  # IndexError on the one-row case)")
    assert lines[2].startswith("\u2713 case 3/3")


def test_warnings_of_passing_code_stay_off_stderr(mean_rows, capsys):
    def noisy(x):
        np.log(np.zeros(1))  # RuntimeWarning: divide by zero
        return x.mean(axis=0)

    assert grading.check("t_mean_rows", noisy) == 2
    assert capsys.readouterr().err == ""


def test_warning_is_mentioned_when_a_case_fails(mean_rows, capsys):
    def overflowing(x):
        return x.mean(axis=0) * np.exp(np.float64(1000))  # inf, with an overflow warning

    with pytest.raises(AssertionError):
        grading.check("t_mean_rows", overflowing)
    out = capsys.readouterr().out
    assert "  note: Python warned: RuntimeWarning: overflow encountered in exp" in out


# --- input modification, raises cases, partners, call hooks ---------------------------------

def test_modified_input_is_a_failure(mean_rows, capsys):
    def in_place(x):
        x /= len(x)
        return x.sum(axis=0)

    with pytest.raises(AssertionError):
        grading.check("t_mean_rows", in_place)
    out = capsys.readouterr().out
    assert "your function changed its input `x` in place" in out


def test_may_modify_allows_changing_an_input(register):
    register(id="t_double", reference=lambda v: v * 2, may_modify=("v",), cases=[Case(v=normal(4))])

    def doubles_in_place(v):
        v *= 2
        return v

    assert grading.check("t_double", doubles_in_place) == 2


def test_raises_case(register, capsys):
    register(id="t_divide", reference=_safe_divide,
             cases=[Case(a=1.0, b=4.0), Case("b = 0", a=1.0, b=0.0, raises=ValueError)])
    assert grading.check("t_divide", _safe_divide) == 2
    assert "\u2713 case 2/2: a 1.0, b 0.0; b = 0" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="1 of 2 cases failed"):
        grading.check("t_divide", lambda a, b: a / b if b else float("inf"))
    assert "expected ValueError to be raised for these inputs, but your function returned inf" in \
        capsys.readouterr().out
    with pytest.raises(AssertionError):
        grading.check("t_divide", lambda a, b: a / b)
    assert "your code raised ZeroDivisionError" in capsys.readouterr().out


def test_backward_check_uses_the_students_forward_cache(register, capsys):
    register(id="t_relu_backward", reference=_relu_backward, call=grading.call_backward,
             partners={"forward": _relu_forward},
             cases=[Case(x=normal(2, 3), dout=normal(2, 3))],
             mistakes=[Mistake("gradient passed where x < 0", lambda dout, cache: dout)])

    def my_forward(x):
        return np.maximum(x, 0), {"mask": x > 0}  # a different cache than the reference's

    assert grading.check("t_relu_backward", lambda d, c: d * c["mask"], forward=my_forward) == 2
    with pytest.raises(AssertionError):
        grading.check("t_relu_backward", lambda d, c: d, forward=my_forward)
    assert "hint: gradient passed where x < 0" in capsys.readouterr().out


def test_forward_must_return_a_pair(register, capsys):
    register(id="t_relu_forward", reference=_relu_forward, call=grading.call_forward,
             cases=[Case(x=normal(2, 3))])
    assert grading.check("t_relu_forward", lambda x: (x * (x > 0), None)) == 2
    with pytest.raises(AssertionError):
        grading.check("t_relu_forward", lambda x: np.maximum(x, 0))
    assert "<lambda> must return a pair (out, cache); got a ndarray" in capsys.readouterr().out


def test_missing_or_unexpected_partner_is_a_type_error(register):
    register(id="t_relu_backward", reference=_relu_backward, call=grading.call_backward,
             partners={"forward": _relu_forward}, cases=[Case(x=normal(2), dout=normal(2))])
    with pytest.raises(TypeError, match=r"t_relu_backward: missing forward; call it as cl.check\('t_relu_backward', t_relu_backward, forward=your_forward\)"):
        grading.check("t_relu_backward", _relu_backward)
    with pytest.raises(TypeError, match="unexpected backward"):
        grading.check("t_relu_backward", _relu_backward, forward=_relu_forward, backward=_relu_backward)
    with pytest.raises(TypeError, match="forward must be a function; got int"):
        grading.check("t_relu_backward", _relu_backward, forward=3)


def test_detector_hint(register, capsys):
    def said_list(inputs, got, expected):
        return "you returned a list" if isinstance(got, list) else None

    register(id="t_detect", reference=lambda x: x + 1, cases=[Case(x=normal(3))], detectors=[said_list])
    with pytest.raises(AssertionError):
        grading.check("t_detect", lambda x: list(x + 1))
    out = capsys.readouterr().out
    assert "convert it with np.array(...)" in out and "  hint: you returned a list" in out


def test_float32_result_passes_within_its_precision(register):
    # float32 inputs: a float32 result is allowed its own rounding against a float64 reference
    register(id="t_mean32", reference=lambda x: x.astype(np.float64).mean(axis=0).astype(np.float32),
             cases=[Case(x=normal(300, 4, scale=1e3, dtype=np.float32))])
    assert grading.check("t_mean32", lambda x: x.mean(axis=0)) == 2


def test_dtype_rule_rejects_float64_for_float32_inputs_with_its_hint(register, capsys):
    register(id="t_double", reference=lambda x: 2 * x,
             cases=[Case(x=normal(3)), Case(x=normal(3, dtype=np.float32))])
    with pytest.raises(AssertionError):
        grading.check("t_double", lambda x: 2 * x.astype(np.float64))
    out = capsys.readouterr().out
    assert "case 2/2: x (3,) float32 \u2014 wrong dtype: expected float32, got float64" in out
    assert out.count("hint:") == 1
    assert "hint: your result is float64 for float32 inputs: a result keeps the floating dtype" in out
    with pytest.raises(AssertionError):
        grading.check("t_double", lambda x: 2 * x.astype(np.float32))
    assert "hint: your result is float32 for float64 inputs: " \
           "a result keeps the floating dtype of its inputs, so leave out the conversion to float32" \
           in capsys.readouterr().out
    assert grading.check("t_double", lambda x: x + x) == 2


def test_dtype_rule_leaves_integer_widths_and_kind_mode_alone(register):
    register(id="t_argmax", reference=lambda x: np.argmax(x, axis=1), cases=[Case(x=normal(3, 4))])
    assert grading.check("t_argmax", lambda x: np.argmax(x, axis=1).astype(np.int32)) == 2
    register(id="t_kind", reference=lambda x: 2 * x, dtype="kind", cases=[Case(x=normal(3, dtype=np.float32))])
    assert grading.check("t_kind", lambda x: 2 * x.astype(np.float64)) == 2


def test_dtype_exact_mode(register, capsys):
    register(id="t_as32", reference=lambda x: x.astype(np.float32), dtype="exact", cases=[Case(x=normal(3))])
    with pytest.raises(AssertionError):
        grading.check("t_as32", lambda x: x.copy())
    assert "wrong dtype: expected float32, got float64" in capsys.readouterr().out


def test_ascii_terminal_gets_ascii_feedback(mean_rows, monkeypatch):
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    grading.check("t_mean_rows", _mean_rows)
    stream.seek(0)
    assert stream.read().splitlines()[0] == "ok case 1/3: x (3, 4)"


# --- lookup and registration errors ---------------------------------------------------------

def test_unknown_id_suggests_close_matches():
    with pytest.raises(ValueError, match=r"unknown exercise_id 'scale_image'; did you mean 'scale_images'"):
        grading.check("scale_image", _mean_rows)
    with pytest.raises(ValueError, match="unknown exercise_id .zzz.; known ids: "):
        grading.check("zzz", _mean_rows)
    with pytest.raises(TypeError, match="exercise_id must be a str"):
        grading.check(3, _mean_rows)


def test_fn_must_be_callable():
    with pytest.raises(TypeError, match=r"fn must be your function, e.g. cl.check\('mean_image', mean_image\); got ndarray"):
        grading.check("mean_image", np.zeros(3))


def test_duplicate_id_is_an_error(mean_rows):
    with pytest.raises(ValueError, match="'t_mean_rows' is registered twice"):
        grading.register(Exercise(id="t_mean_rows", points=1, reference=lambda x: x, cases=[Case(x=1)]))


@pytest.mark.parametrize("options, error, match", [
    (dict(id="not an id"), ValueError, "id must be a Python identifier"),
    (dict(points=0), ValueError, "points must be a positive number; got 0"),
    (dict(points=True), ValueError, "points must be a positive number"),
    (dict(cases=[]), ValueError, "cases must be a non-empty list of Case"),
    (dict(dtype="strict"), ValueError, "dtype must be one of"),
    (dict(mistakes=["hint"]), TypeError, "mistakes must be Mistake"),
    (dict(reference=None), ValueError, "every case needs expected= or raises="),
    (dict(partners={"forward": 1}), TypeError, "partners must map names to reference functions"),
])
def test_exercise_validation(options, error, match):
    args = dict(id="t_ok", points=1, reference=_mean_rows, cases=[Case(x=normal(2, 2))])
    args.update(options)
    with pytest.raises(error, match=match):
        Exercise(**args)


def test_case_and_mistake_validation():
    with pytest.raises(ValueError, match="a Case needs inputs"):
        Case("nothing")
    with pytest.raises(TypeError, match="raises must be an exception class"):
        Case(x=1, raises="ValueError")
    with pytest.raises(TypeError, match="make must be a function"):
        Case(make=3)
    with pytest.raises(TypeError, match="Mistake hint must be a non-empty str"):
        Mistake("", _mean_rows)
    with pytest.raises(TypeError, match="Mistake fn must be a function"):
        Mistake("hint", None)
    with pytest.raises(TypeError, match="Draw needs a function"):
        Draw(3)
    with pytest.raises(TypeError, match="register expects an Exercise"):
        grading.register("t_x")


def test_registry_exposes_points_and_lessons():
    registered = grading.exercises()
    assert {"scale_images", "mean_image"} <= set(registered)
    assert registered["scale_images"].lesson == "00"
    assert grading.points("scale_images") == registered["scale_images"].points == 1
    assert grading.BROKEN == {}


def test_describe_and_make():
    assert grading.describe({"x": np.zeros((2, 3, 5, 5)), "stride": 2, "pad": 1}) == "x (2, 3, 5, 5), stride 2, pad 1"
    assert grading.describe({"y": np.zeros(3, np.int64), "lr": 0.5, "f": _mean_rows}, "edge") == \
        "y (3,) int64, lr 0.5, f _mean_rows; edge"
    case = Case(make=lambda rng: {"x": rng.integers(0, 5, 3), "k": 2})
    assert list(case.build(np.random.default_rng(0))) == ["x", "k"]


# --- comparison messages --------------------------------------------------------------------

@pytest.mark.parametrize("expected, got, message", [
    (np.zeros((2, 3)), np.zeros((3, 2)), "wrong shape: expected (2, 3), got (3, 2)"),
    (np.zeros(2), np.zeros(2, np.int64), "wrong dtype: expected floating-point numbers (float64), got int64"),
    (np.array([[1.0, 2.0], [3.0, 1.25]]), np.array([[1.0, 2.0], [3.0, 0.88]]),
     "values differ: max abs error 0.37 at [1, 1] (expected 1.25, got 0.88); 1 of 4 entries differ"),
    (np.ones(3), np.array([1.0, np.nan, 1.0]),
     "values differ: got nan at [1] (expected 1, got nan); 1 of 3 entries differ"),
    (np.ones(2), [1.0, 1.0], "expected a 1-D NumPy array of shape (2,), got a list: convert it with np.array(...)"),
    (np.ones(2), None, "your function returned None: did you forget `return`?"),
    (np.array([True, False]), np.array([True, True]),
     "values differ at [1] (expected False, got True); 1 of 2 entries differ"),
    (np.array([1, 2]), np.array([1, 3]),
     "values differ: max abs error 1 at [1] (expected 2, got 3); 1 of 2 entries differ"),
    (3, 3.0, "expected the integer 3, got float 3: return an int, not a float"),
    (3, 3.5, "expected 3, got 3.5"),
    (3, "3", "expected the integer 3, got str '3'"),
    (True, 1, "expected True (a bool), got int 1"),
    (0.5, 0.75, "expected 0.5, got 0.75 (error 0.25)"),
    (0.5, np.ones(2), "expected a number close to 0.5, got an array of shape (2,) (float64)"),
    ((np.ones(2), 1.0), (np.ones(2), 2.0), "item 1: expected 1, got 2 (error 1)"),
    ((1, 2), (1, 2, 3), "expected a tuple of 2 items, got 3 items"),
    ({"W": 1.0}, {"b": 1.0}, "dict keys differ: missing keys ['W'], unexpected keys ['b']"),
    ({"W": np.ones(2)}, {"W": np.zeros(2)},
     "['W']: values differ: max abs error 1 at [0] (expected 1, got 0); 2 of 2 entries differ"),
    ("abc", "abd", "expected 'abc', got 'abd'"),
    (None, 0, "expected None, got int 0"),
])
def test_difference_messages(expected, got, message):
    assert difference(expected, got) == message


def test_difference_accepts_equivalent_results():
    assert difference((np.ones(2), 1.0), [np.ones(2), 1.0]) is None  # tuple or list
    assert difference(np.float64(2.0), np.array(2.0)) is None  # 0-d array for a number
    assert difference(2.0, 2) is None
    assert difference(np.int64(3), 3) is None
    assert difference(np.array([1.0, np.nan]), np.array([1.0, np.nan])) is None
    assert difference(np.ones(3), np.ones(3) * (1 + 1e-9)) is None
    # a float32 result is allowed its own rounding (the dtype itself is the rule's business)
    assert difference(np.ones(3), np.ones(3, np.float32) * np.float32(1 + 2e-7), dtype="kind") is None
    assert difference(np.zeros((0, 3)), np.zeros((0, 3))) is None


def test_difference_names_tuple_items_and_checks_dtype_mode():
    names = ("dx", "dW", "db")
    assert difference((np.ones(2), np.ones((2, 2)), np.ones(2)), (np.ones(2), np.ones((2, 3)), np.ones(2)),
                      names=names) == "dW: wrong shape: expected (2, 2), got (2, 3)"
    assert difference(np.ones(2, np.float32), np.ones(2), dtype="exact") == \
        "wrong dtype: expected float32, got float64"
    assert difference(np.ones(2), np.ones(2, np.int64), dtype="any") is None
    assert difference(np.ones(2, np.float32), np.ones(2)) == "wrong dtype: expected float32, got float64"
    assert difference(np.ones(2, np.float32), np.ones(2), dtype="kind") is None
    assert difference(np.ones(2, np.int64), np.ones(2, np.int32)) is None
    assert difference(np.ones(2, np.int64), np.ones(2, np.int32), dtype="exact") == \
        "wrong dtype: expected int64, got int32"
    assert difference(np.ones(2, np.float32), np.ones(2) * 1.001, dtype="exact") == (
        "wrong dtype: expected float32, got float64; values differ: max abs error 0.001 at [0] "
        "(expected 1, got 1.001); 2 of 2 entries differ")
    with pytest.raises(ValueError, match="dtype must be one of"):
        difference(1, 1, dtype="loose")
