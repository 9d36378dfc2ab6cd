"""The class report of ``cnnlab grade``: what a class got right, and which mistakes it made.

:func:`summary` turns the graded submissions into plain data (``OUT/report.json``): per lesson
the score distribution and, per exercise, its pass rate and the *named mistakes* -- the hints
of the grader's re-check, which name the mistake a result reproduces -- ranked by how many
students made them; then the submissions that used cnnlab's own implementation of an
exercise, those that ran out of time or killed their kernel, and those that could not be
graded. :func:`html` renders it as one self-contained page (``OUT/report.html``: inline CSS,
charts as embedded PNG images drawn with matplotlib), readable offline and printable.
"""

from __future__ import annotations

import base64
import html as _html
import statistics
from collections import Counter

from matplotlib.figure import Figure

from ..plot import figure_png

__all__ = ["html", "summary"]

_TROUBLE = ("ran past the time limit", "killed the kernel", "gave up", "total time limit")


def summary(subs, keys) -> dict:
    """The report's data. ``subs``: :class:`~cnnlab.course.grade.Submission` objects; ``keys``:
    ``(lesson, grade_id)`` of every graded exercise, in course order."""
    lessons = {}
    for lesson in dict.fromkeys(lesson for lesson, _ in keys):
        graded = [s for s in subs if s.lesson == lesson]
        totals = [s.total for s in graded]
        exercises = []
        for _, gid in [k for k in keys if k[0] == lesson]:
            entries = [(s, e) for s in graded for e in s.exercises if e.grade_id == gid]
            hints = Counter(h for _, e in entries for h in dict.fromkeys(e.hints))
            passed = sum(e.status == "passed" for _, e in entries)
            exercises.append({
                "id": gid, "max": entries[0][1].max if entries else 0, "graded": len(entries), "passed": passed,
                "pass_rate": round(passed / len(entries), 3) if entries else None,
                "mistakes": [{"hint": hint, "students": n, "share": round(n / len(entries), 3)}
                             for hint, n in hints.most_common()],
                "flagged": [s.file for s, e in entries if e.flags],
            })
        maximum = graded[0].max if graded else 0
        lessons[lesson] = {
            "submissions": len(graded), "max": maximum,
            "mean": round(statistics.fmean(totals), 2) if totals else None,
            "median": statistics.median(totals) if totals else None,
            "distribution": sorted(Counter(totals).items()),
            "exercises": exercises,
        }
    flagged = [{"file": s.file, "exercise": e.grade_id, "uses": e.flags} for s in subs for e in s.exercises if e.flags]
    trouble = [{"file": s.file, "what": event} for s in subs for event in s.events
               if any(word in event for word in _TROUBLE)]
    errors = [{"file": s.file, "reason": s.reason} for s in subs if not s.lesson]
    sandboxes = sorted({s.sandbox for s in subs})
    return {"submissions": len(subs), "sandbox": sandboxes, "lessons": lessons, "flagged": flagged,
            "trouble": trouble, "not_graded": errors}


# --- the page -------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 60rem;
       padding: 0 1rem; color: #1f2328; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; }
h3 { margin-bottom: .3rem; } .muted { color: #59636e; } .warn { color: #9a6700; font-weight: 600; }
table { border-collapse: collapse; margin: .6rem 0 1rem; } td, th { padding: .25rem .7rem; text-align: left;
        border-bottom: 1px solid #eaeef2; vertical-align: top; } th { font-weight: 600; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } img { max-width: 100%; }
.bar { display: inline-block; height: .7rem; background: #0969da; border-radius: 2px; }
"""


def _png(fig) -> str:
    return f'<img alt="{_html.escape(fig.axes[0].get_title())}" src="data:image/png;base64,' \
           f'{base64.b64encode(figure_png(fig, dpi=110)).decode()}">'


def _distribution_figure(lesson: str, data: dict) -> Figure:
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.subplots()
    scores = [score for score, _ in data["distribution"]]
    ax.bar(scores, [n for _, n in data["distribution"]], width=0.6 if len(scores) > 1 else 0.3, color="#0969da")
    ax.set_title(f"{lesson}: total scores of {data['submissions']} submission(s)")
    ax.set_xlabel(f"points (of {data['max']:g})")
    ax.set_ylabel("students")
    ax.set_xlim(-0.5, data["max"] + 0.5)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _mistakes_figure(exercise: dict) -> Figure:
    mistakes = exercise["mistakes"][:8][::-1]
    fig = Figure(figsize=(6.4, 0.45 * len(mistakes) + 0.9))
    ax = fig.subplots()
    ax.barh(range(len(mistakes)), [m["share"] * 100 for m in mistakes], color="#cf222e")
    ax.set_yticks(range(len(mistakes)), [_clip(m["hint"], 60) for m in mistakes], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the submissions")
    ax.set_title(f"{exercise['id']}: the mistakes the grader recognised")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def html(data: dict) -> str:
    """The report page for :func:`summary`'s ``data``."""
    e = _html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>cnnlab grade: class report</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>Class report</h1>",
             f'<p class="muted">{data["submissions"]} submission(s), graded by <code>cnnlab grade</code> '
             f'(sandbox: {e(", ".join(data["sandbox"]) or "none")}).</p>']
    if "none" in data["sandbox"]:
        parts.append('<p class="warn">Some kernels ran without a sandbox: a hostile submission could have '
                     "changed files or disturbed its classmates (see the README).</p>")
    for lesson, info in data["lessons"].items():
        parts += [f"<h2>{e(lesson)}</h2>",
                  f"<p>Mean {info['mean']:g} and median {info['median']:g} of {info['max']:g} points over "
                  f"{info['submissions']} submission(s).</p>" if info["submissions"] else "<p>No submissions.</p>"]
        if info["submissions"]:
            parts.append(_png(_distribution_figure(lesson, info)))
        parts.append("<table><tr><th>exercise</th><th>points</th><th>passed</th><th></th></tr>")
        for ex in info["exercises"]:
            rate = ex["pass_rate"] or 0.0
            parts.append(f"<tr><td><code>{e(ex['id'])}</code></td><td class=n>{ex['max']:g}</td>"
                         f"<td class=n>{ex['passed']} of {ex['graded']} ({rate:.0%})</td>"
                         f'<td><span class="bar" style="width:{rate * 12:.2f}rem"></span></td></tr>')
        parts.append("</table>")
        for ex in info["exercises"]:
            if not ex["mistakes"]:
                continue
            parts += [f"<h3><code>{e(ex['id'])}</code>: the mistakes, most frequent first</h3>",
                      _png(_mistakes_figure(ex)),
                      "<table><tr><th>students</th><th>the mistake (the hint they got)</th></tr>"]
            parts += [f"<tr><td class=n>{m['students']} ({m['share']:.0%})</td><td>{e(m['hint'])}</td></tr>"
                      for m in ex["mistakes"]]
            parts.append("</table>")
    parts.append("<h2>Submissions to look at</h2>")
    rows = ([("used cnnlab's own implementation", f["file"], f"{f['exercise']}: {'; '.join(f['uses'])}")
             for f in data["flagged"]]
            + [("ran out of time or killed its kernel", t["file"], t["what"]) for t in data["trouble"]]
            + [("not graded", n["file"], n["reason"]) for n in data["not_graded"]])
    if rows:
        parts.append("<table><tr><th>why</th><th>submission</th><th>details</th></tr>")
        parts += [f"<tr><td>{e(why)}</td><td><code>{e(file)}</code></td><td>{e(details)}</td></tr>"
                  for why, file, details in rows]
        parts.append("</table>")
    else:
        parts.append("<p>None: no submission used cnnlab's own implementations, ran out of time or "
                     "could not be graded.</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
