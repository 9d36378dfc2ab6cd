"""The feedback step of the nbgrader course; imported only by its ``nbgrader_config.py``.

``nbgrader generate_feedback`` turns each autograded notebook into the HTML a student reads.
That notebook holds the hidden tests (autograde puts them back into the graded cells), and
its outputs can print them too: IPython's tracebacks show the lines around the failing one,
and a warning shows the line that raised it. :class:`HideHiddenTests` removes them first:

* from the source of every cell, each hidden-test region with its markers (what nbgrader's
  ``ClearHiddenTests`` does to the students' release);
* from every text output (streams, tracebacks, error messages, plain-text results), each line
  that shows a hidden-test line: its code equal to one (colour codes and a traceback's line
  number set aside), or holding one of 12 characters or more anywhere. One note takes the
  place of each run of removed lines.

This module imports nbconvert, which comes with nbgrader; cnnlab itself never needs it.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from . import notebook as nbk

NOTE = "(lines of the hidden tests are not shown)"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LINE_NUMBER = re.compile(r"^\s*(?:-*>\s*)?\d+ ")  # a traceback's "----> 5 " or "      6 "
_SEARCHED_ANYWHERE = 12  # shorter hidden lines ("])", "x = 1") are matched as whole lines only


def split_hidden(source: str) -> tuple[str, list[str]]:
    """``source`` without its hidden-test regions, and the lines removed (markers included).

    Broken markers hide everything from the first line naming a hidden-test marker on."""
    lines = source.split("\n")
    try:
        found = [r for r in nbk.regions(source) if r.kind == "hidden"]
    except nbk.MarkerError:
        start = next((i for i, line in enumerate(lines) if "BEGIN HIDDEN" in line), len(lines))
        return "\n".join(lines[:start]), lines[start:]
    removed = [line for r in found for line in lines[r.begin: r.end + 1]]
    return nbk.replace_regions(source, "hidden"), removed


class HideHiddenTests(Preprocessor):
    """nbconvert preprocessor: the notebook without its hidden tests (module docstring)."""

    # nbconvert's preprocessors are off unless enabled; this one is on wherever it is listed.
    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        hidden = set()
        for cell in nb.cells:
            cell.source, removed = split_hidden(cell.source)
            hidden.update(line.strip() for line in removed if line.strip())
        long = [line for line in hidden if len(line) >= _SEARCHED_ANYWHERE]
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                _scrub_output(output, hidden, long)
        return nb, resources


def _shows(line: str, hidden: set, long: list) -> bool:
    plain = _ANSI.sub("", line)
    code = _LINE_NUMBER.sub("", plain, count=1).strip()
    return code in hidden or any(h in plain for h in long)


def scrub(text: str, hidden: set, long: list) -> str:
    """``text`` without the lines that show a hidden-test line (see the module docstring)."""
    kept = []
    for line in text.split("\n"):
        if not _shows(line, hidden, long):
            kept.append(line)
        elif not kept or kept[-1] != NOTE:
            kept.append(NOTE)
    return "\n".join(kept)


def _scrub_output(output, hidden: set, long: list) -> None:
    if "text" in output:
        output.text = scrub(_joined(output.text), hidden, long)
    if output.get("output_type") == "error":
        output.evalue = scrub(output.get("evalue", ""), hidden, long)
        output.traceback = [scrub(entry, hidden, long) for entry in output.get("traceback", [])]
    data = output.get("data", {})
    if "text/plain" in data:
        data["text/plain"] = scrub(_joined(data["text/plain"]), hidden, long)


def _joined(text) -> str:
    return "".join(text) if isinstance(text, list) else text
