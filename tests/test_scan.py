"""The grader's scan: cells a student wrote that reach cnnlab's own implementation of an exercise."""

import json

import pytest

from cnnlab import grading
from cnnlab.course import grade, submission
from cnnlab.course import notebook as nbk
from cnnlab.course.lessons import all_lessons
from cnnlab.course.scan import forbidden, scan

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
CONV = grading.get("conv2d_forward_naive")
SETUP = ("setup", "import numpy as np\nimport cnnlab as cl", False)


def found(*cells, exercises=(CONV,)):
    """The findings (as text) of scanning the lesson's setup and then ``cells`` (all student-written)."""
    labelled = [SETUP] + [(f"cell {i + 2}", source, True) for i, source in enumerate(cells)]
    return {k: [str(f) for f in v] for k, v in scan(labelled, list(exercises)).items() if v}


@pytest.mark.parametrize("source, written", [
    ("def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n    return cl.F.conv2d_forward(x, w, b, stride, pad)",
     "cl.F.conv2d_forward"),
    ("conv2d_forward_naive = cl.conv.conv2d_forward", "cl.conv.conv2d_forward"),
    ("import cnnlab.functional as fn\ndef conv2d_forward_naive(*a):\n    return fn.conv2d_forward(*a)",
     "fn.conv2d_forward"),
    ("from cnnlab.conv import conv2d_forward as mine", "cnnlab.conv.conv2d_forward"),
    ("from cnnlab.conv import *", "from cnnlab.conv import *"),
    ("f = getattr(cl.F, 'conv2d_forward')", "getattr(cl.F, 'conv2d_forward')"),
    ("import importlib\nm = importlib.import_module('cnnlab.conv')\ng = m.conv2d_forward", "m.conv2d_forward"),
    ("m = __import__('cnnlab.functional')\ng = m.functional.conv2d_forward", "m.functional.conv2d_forward"),
    ("layer = cl.nn.Conv2d(3, 4, 3)", "cl.nn.Conv2d"),
    ("class Mine(cl.nn.Conv2d):\n    pass", "cl.nn.Conv2d"),
    ("out = cl.autograd.conv2d", "cl.autograd.conv2d"),
    ("a, b = cl.F, cl.conv\nz = b.conv2d_forward", "b.conv2d_forward"),
    # cnnlab.grading: the references of every exercise, and anything else in it but check
    ("ref = cl.grading.get('conv2d_forward_naive').reference", "cl.grading.get"),
    ("from cnnlab.grading.lesson04 import _conv2d_forward_naive as conv2d_forward_naive",
     "cnnlab.grading.lesson04._conv2d_forward_naive"),
    ("import cnnlab.grading.core as core", "cnnlab.grading.core"),
    ("%time x = cl.F.conv2d_forward", "cl.F.conv2d_forward"),  # magics are read as Python
    ("%%timeit -n 1\ncl.F.conv2d_forward(x, w, b)", "cl.F.conv2d_forward"),
    # a file written by the cell and run later (lesson 05's my_conv.py) is the student's code too
    ("%%writefile my_conv.py\nimport cnnlab.conv as c\ndef conv2d_forward_naive(*a):\n    return c.conv2d_forward(*a)",
     "c.conv2d_forward"),
])
def test_uses_of_the_implementation_are_found(source, written):
    assert found(source)["conv2d_forward_naive"][0] == f"{written} in cell 2"


@pytest.mark.parametrize("source", [
    "cl.check('conv2d_forward_naive', conv2d_forward_naive)",
    "from cnnlab.grading import check\ncheck('conv2d_forward_naive', conv2d_forward_naive)",
    "cnnlab_result = cl.conv.conv_output_size(5, 3)",  # another exercise's implementation: not this one's
    "x = cl.data.load('digits8x8')",
    "def f(cl):\n    return cl.F.conv2d_forward",  # a parameter named cl is not the module
    "for F in range(3):\n    y = F * 2",
    "F, C, kh, kw = w.shape",
    "getattr(cl, 'con' + 'v')",  # computed at run time: out of the scan's sight (the README says so)
    "def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n    return np.zeros(1), None",
])
def test_honest_code_is_not_flagged(source):
    assert found(source) == {}


def test_aliases_made_in_lesson_cells_count_but_their_own_uses_do_not():
    lesson = [("cell 1", "import cnnlab.functional as LF\ndemo = LF.conv2d_forward", False),
              ("cell 2", "def conv2d_forward_naive(x, w, b, stride=1, pad=0):\n    return demo(x, w, b, stride, pad)",
               True)]
    findings = scan(lesson, [CONV])["conv2d_forward_naive"]
    assert [str(f) for f in findings] == ["demo in cell 2"]
    assert findings[0].reached == "cnnlab.conv.conv2d_forward"


def test_every_implemented_by_name_exists():
    for ex in grading.exercises().values():
        assert len(forbidden(ex.implemented_by)) == len(ex.implemented_by), ex.id
    with pytest.raises(ValueError, match="not in the cnnlab package"):
        forbidden(["cnnlab.conv.no_such_thing"])


@pytest.mark.parametrize("lesson", all_lessons(ROOT), ids=lambda lesson: lesson.name)
def test_a_solved_lesson_is_not_flagged(lesson):
    """The lessons' own cells use cnnlab everywhere; only what a student wrote is scanned."""
    course = grade.Course(ROOT)
    source, student = course.sources[lesson.name], course.students[lesson.name]
    nb = json.loads(nbk.dumps(student))
    answers = {nbk.grade_id(c): c["source"] for c in source.cells if nbk.is_solution(c)}
    for cell in nb["cells"]:
        if nbk.grade_id(cell) in answers:
            cell["source"] = answers[nbk.grade_id(cell)]
    steps, _ = submission.restore(nb, source, student)
    exercises = [grading.get(gid) for gid in course.graded_ids(lesson.name)]
    findings = scan([(s.label, s.source, s.editable) for s in steps if s.cell_type == "code"], exercises)
    assert {k: v for k, v in findings.items() if v} == {}
    assert {s.role for s in steps} >= {"lesson", "solution", "graded"}
    # the same cells, changed by the student, are theirs: the lesson's uses of cnnlab count then
    edited = [(s.label, s.source, s.editable or s.role == "lesson") for s in steps if s.cell_type == "code"]
    assert any(scan(edited, exercises).values()) == (lesson.name not in ("00_start_here",))
