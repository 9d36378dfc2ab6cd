"""Interactive explorers (ipywidgets) for the lessons, one module per topic.

Each module keeps its pure computations apart from the ipywidgets glue, so both can be
tested. Modules load on first use: ``cl.widgets.conv_explorer``.
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
