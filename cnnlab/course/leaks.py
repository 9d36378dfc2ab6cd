"""Finding solution and hidden-test text where students could read it.

The secret lines of a lesson are the lines inside its solution and hidden-test regions that
appear nowhere in its public text (everything outside the regions, and the stubs). A student
notebook is built from public text only, so a secret line in it -- or any marker -- is a leak,
with no false alarm from a line such as ``return out`` that the lesson also shows elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import notebook as nbk

_MIN_CHARS = 4  # shorter lines ("x", "})") say nothing about a solution


@dataclass(frozen=True)
class Secrets:
    solution: frozenset
    hidden: frozenset

    def kind_of(self, line: str, anywhere: bool = False) -> str | None:
        """``"solution"``, ``"hidden test"`` or None for one line of text: the line is a secret
        line, or (``anywhere``) contains one, e.g. commented out or inside a string."""
        text = line.strip()
        for kind, lines in (("hidden test", self.hidden), ("solution", self.solution)):
            if text in lines or anywhere and any(secret in text for secret in lines):
                return kind
        return None


def hidden_asserts(found: "Secrets") -> frozenset:
    """The hidden-test lines that are assertions of some length: distinctive enough to look
    for inside any text (a hidden ``else:`` or ``try:`` would be found everywhere)."""
    return frozenset(s for s in found.hidden if s.startswith("assert") and len(s) >= 20)


def _significant(line: str) -> bool:
    text = line.strip()
    return len(text) >= _MIN_CHARS and any(ch.isalnum() for ch in text)


def secrets(source) -> Secrets:
    """The secret lines of a source notebook (cells with broken markers are skipped: validate
    reports those)."""
    public = {s.strip() for s in nbk.CODE_STUB + nbk.TEXT_STUB}
    inside = {"solution": set(), "hidden": set()}
    for cell in source.cells:
        text = cell["source"]
        try:
            regions = nbk.regions(text)
        except nbk.MarkerError:
            continue
        lines = text.split("\n")
        covered = set()
        for region in regions:
            covered.update(range(region.begin, region.end + 1))
            inside[region.kind].update(line.strip() for line in lines[region.begin + 1: region.end])
        public.update(line.strip() for i, line in enumerate(lines) if i not in covered)
    keep = lambda lines: frozenset(s for s in lines - public if _significant(s))  # noqa: E731
    return Secrets(keep(inside["solution"]), keep(inside["hidden"]))


def _short(line: str, width: int = 50) -> str:
    text = line.strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def text_leaks(text: str, found: Secrets | None, kinds=("solution", "hidden test"),
               markers: bool = True, anywhere: bool = False) -> list[str]:
    """What in ``text`` reveals a solution: one message per offending line.

    Lines are compared whole (a notebook built from public text never holds a secret line),
    or with ``anywhere`` searched for secret lines inside them (for other files).
    """
    problems = []
    for number, line in enumerate(text.split("\n"), 1):
        if markers and nbk.has_marker_text(line):
            problems.append(f"line {number}: marker text {_short(line)!r}")
            continue
        what = found.kind_of(line, anywhere) if found is not None else None
        if what in kinds:
            problems.append(f"line {number}: {what} text {_short(line)!r}")
    return problems


def redact(text: str, found: Secrets, replacement: str = "(details withheld)") -> str:
    """``text`` or, when it contains a hidden-test line, ``replacement`` (grading feedback
    must never show hidden-test source, even echoed back by a student's exception)."""
    return replacement if any(line in text for line in found.hidden) else text
