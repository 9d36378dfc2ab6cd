"""Interactive explorers (ipywidgets) for the lessons, one module per topic.

Every explorer is one pattern: its controls and a pure ``draw(**values) -> (figure, html)``
(each module's :func:`draw`), wired together by :func:`._explore.explore`. So a widget's tests
call its ``draw``, and the wiring is tested once. Only lessons import these modules; nothing in
cnnlab does (the computations a check relies on live in the computing modules). Modules load
on first use: ``cl.widgets.conv_explorer``.
"""

from __future__ import annotations

import importlib

# One entry per topic module in this package; lesson authors append their module's name.
_MODULES = {
    "conv_explorer",
    "digit_browser",
    "learning_rate",
    "pool_explorer",
    "chain",
    "batch_size",
    "momentum",
    "weight_decay",
    "lr_schedule",
    "dropout",
    "training_knobs",
}


def __getattr__(name: str):
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'cnnlab.widgets' has no attribute {name!r}")
