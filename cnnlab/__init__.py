"""cnnlab: train convolutional networks from first principles.

The helper package every lesson imports::

    import cnnlab as cl
    out, cache = cl.F.conv2d_forward(x, w, b, stride=1, pad=1)
    cl.check("conv2d_forward_naive", conv2d_forward_naive)

Submodules load on first use (``cl.nn``, ``cl.optim``, ...), so ``import cnnlab`` stays quick
and pulls in matplotlib or ipywidgets only for the lessons that draw.
"""

from __future__ import annotations

import importlib

from . import backend

__version__ = "0.1.0"

_SUBMODULES = {
    "autograd", "conv", "course", "data", "examples", "functional", "gradcheck", "grading", "nn",
    "optim", "plot", "pooling", "train", "widgets",
}
_ALIASES = {"F": "functional"}
_FROM_GRADING = {"check"}

__all__ = sorted(_SUBMODULES | set(_ALIASES) | _FROM_GRADING | {"backend"})


def __getattr__(name: str):
    if name in _SUBMODULES or name in _ALIASES:
        module = importlib.import_module(f".{_ALIASES.get(name, name)}", __name__)
        globals()[name] = module
        return module
    if name in _FROM_GRADING:
        # Looked up on every access (never cached here), so restoring cnnlab.grading.check
        # restores cl.check too.
        return getattr(importlib.import_module(".grading", __name__), name)
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")


def __dir__():
    return __all__
