"""The submission's side of ``cnnlab grade``: code the grader runs inside a submission's kernel.

Nothing here is trusted: a notebook can replace any of it. The grader's verdicts never rest
on it; it only spares a well-behaved notebook needless surprises:

* :func:`snapshot` (run right after the kernel starts) and :func:`reset` (run before each
  graded cell) put IPython's exception handlers, input and AST transformers, event callbacks
  and trace functions back the way they were, so that what a student sees when they run the
  notebook themselves matches the grader's verdict;
* :func:`serve` calls the student's functions on the cases the grader sent
  (:func:`cnnlab.grading.core.run_case`) and writes the replies back, as plain data
  (:mod:`cnnlab.grading.plain`). The grader judges them in its own process.
"""

from __future__ import annotations

import os
import sys
import threading

from . import core, plain

__all__ = ["reset", "serve", "snapshot"]

_SAVED: dict = {}


def _shell():
    from IPython import get_ipython

    return get_ipython()


def snapshot() -> None:
    """Remember the kernel's IPython hooks as they are before any notebook cell runs."""
    ip = _shell()
    manager = ip.input_transformer_manager
    _SAVED.clear()
    _SAVED.update(
        custom=(ip.custom_exceptions, ip.CustomTB),
        post=list(ip.input_transformers_post),
        manager=(manager, list(manager.cleanup_transforms), list(manager.line_transforms),
                 list(manager.token_transformers)),
        ast=list(ip.ast_transformers),
        events={name: list(callbacks) for name, callbacks in ip.events.callbacks.items()},
        excepthook=sys.excepthook,
    )


def reset() -> None:
    """Undo what a notebook did to the hooks :func:`snapshot` remembered."""
    if not _SAVED:
        return
    ip = _shell()
    ip.custom_exceptions, ip.CustomTB = _SAVED["custom"]
    ip.input_transformers_post = list(_SAVED["post"])
    manager, cleanup, line, token = _SAVED["manager"]
    ip.input_transformer_manager = manager
    manager.cleanup_transforms[:], manager.line_transforms[:], manager.token_transformers[:] = cleanup, line, token
    ip.ast_transformers = list(_SAVED["ast"])
    for name, callbacks in _SAVED["events"].items():
        ip.events.callbacks[name] = list(callbacks)
    for name in ("showtraceback", "_showtraceback", "run_cell", "run_ast_nodes", "run_code"):
        ip.__dict__.pop(name, None)  # an instance attribute shadowing the shell's own method
    sys.excepthook = _SAVED["excepthook"]
    sys.settrace(None)
    sys.setprofile(None)
    threading.settrace(None)
    threading.setprofile(None)


def serve(request: str, reply: str) -> None:
    """Answer the grader's request file ``request`` with the reply file ``reply``.

    The request names an exercise, the student's function and partners (names in the
    notebook's namespace) and the cases' inputs; the reply holds one
    :func:`~cnnlab.grading.core.run_case` reply per case, ``{"not_implemented": name}`` where
    a function is still the exercise's stub (the cases after it are not run), or ``{"error":
    message}`` when the functions cannot be found.
    """
    with open(request, "rb") as f:
        asked = plain.unpack(f.read(), inputs=True)
    try:
        answer = {"replies": _answer(asked)}
    except _Missing as err:
        answer = {"error": str(err)}
    try:
        data = plain.pack(answer)
    except plain.PlainError as err:
        data = plain.pack({"error": f"the results cannot be sent back: {err}"})
    temporary = f"{reply}.part"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, reply)


class _Missing(Exception):
    pass


def _answer(asked: dict) -> list:
    namespace = _shell().user_ns
    ex = core.get(asked["exercise"])

    def function(name):
        if name not in namespace:
            raise _Missing(f"name {name!r} is not defined")
        return namespace[name]

    fn = function(asked["function"])
    partners = {key: function(name) for key, name in asked["partners"].items()}
    replies = []
    for inputs in asked["cases"]:
        try:
            replies.append(core.run_case(ex, inputs, fn, partners))
        except NotImplementedError as err:
            replies.append({"not_implemented": core.raiser_name(err, asked["function"])})
            break
        except BaseException as err:  # SystemExit, KeyboardInterrupt, ...: this case failed
            replies.append({"raised": plain.exception(err)})
    return replies
