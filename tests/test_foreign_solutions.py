"""No student notebook hands out another lesson's graded answer.

``cnnlab validate`` finds a lesson's own solution text in its own student notebook. A lesson can
still give away an *earlier* lesson's answer in one of its ordinary cells (lesson 05 once
printed lesson 04's ``conv2d_forward_naive`` in full, as a cell to build on), and the student
bundle releases every lesson at once. This test compares every solution region of every lesson
with the code cells of every other lesson's student notebook.
"""

from pathlib import Path

import pytest

from cnnlab.course import notebook as nbk
from cnnlab.course.lessons import all_lessons

REPO = Path(__file__).resolve().parent.parent
LESSONS = all_lessons(REPO)
MIN_LINES = 4  # a block this long is an answer, not a coincidence such as `return out, cache`


def significant(text: str) -> list[str]:
    """The lines that carry code: stripped, without blank lines and comments."""
    lines = (line.strip() for line in text.split("\n"))
    return [line for line in lines if line and not line.startswith("#")]


def solution_blocks(source) -> list[tuple[str, list[str]]]:
    """(grade_id, significant lines) of each solution region of a lesson source."""
    blocks = []
    for cell in source.cells:
        if not nbk.is_solution(cell):
            continue
        text = cell["source"].split("\n")
        for region in nbk.regions(cell["source"]):
            if region.kind == "solution":
                lines = significant("\n".join(text[region.begin + 1:region.end]))
                if len(lines) >= MIN_LINES:
                    blocks.append((nbk.grade_id(cell), lines))
    return blocks


def contains(cell: list[str], answer: list[str]) -> bool:
    """Whether ``cell`` holds the answer: at least 80 % of its lines (a pasted answer with a line
    or two rewritten, as lesson 05's copy of lesson 04's forward pass with np.pad for pad2d)."""
    present = set(cell)
    return sum(line in present for line in answer) >= 0.8 * len(answer)


def foreign_answers(sources: dict, students: dict) -> list[str]:
    """``"notebooks/05: lesson 04's conv2d_forward_naive_solution"`` for each answer of lesson k
    found in a code cell of the student notebook of lesson j != k."""
    found = []
    for k, source in sources.items():
        for grade_id, block in solution_blocks(source):
            for j, student in students.items():
                if j != k and any(contains(significant(c["source"]), block)
                                  for c in student.cells if c["cell_type"] == "code"):
                    found.append(f"notebooks/{j}: lesson {k}'s {grade_id}")
    return found


def test_no_student_notebook_contains_another_lessons_answer():
    sources = {lesson.name: nbk.read(lesson.source) for lesson in LESSONS}
    students = {lesson.name: nbk.read(lesson.student) for lesson in LESSONS}
    assert foreign_answers(sources, students) == []


@pytest.mark.parametrize("pasted, expected", [
    ("def f(x):\n    a = x + 1\n    # a comment the answer did not have\n\n    c = 0\n    b = a * 2\n    d = b\n    return b\n",
     True),
    ("def f(x):\n    a = x - 1\n    c = 0\n    b = a * 2\n    d = b\n    return b\n", True),  # one line changed
    ("def f(x):\n    a = x + 1\n    return a * 2\n", False),  # two of the answer's lines only
])
def test_an_answer_is_found_in_another_lessons_notebook(pasted, expected):
    import nbformat

    answer = nbformat.v4.new_code_cell(
        "def f(x):\n    ### BEGIN SOLUTION\n    a = x + 1\n    c = 0\n    b = a * 2\n    d = b\n    return b\n    ### END SOLUTION",
        metadata={"nbgrader": {"schema_version": 3, "solution": True, "grade": False, "locked": False,
                               "grade_id": "f_solution"}})
    sources = {"01_a": nbformat.v4.new_notebook(cells=[answer]), "02_b": nbformat.v4.new_notebook()}
    students = {"01_a": nbformat.v4.new_notebook(),
                "02_b": nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(pasted)])}
    assert foreign_answers(sources, students) == (["notebooks/02_b: lesson 01_a's f_solution"] if expected else [])
