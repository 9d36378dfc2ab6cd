"""What both benchmark scripts need to know about the machine before and while they time.

Kept free of NumPy: :func:`preset_threads` must run before NumPy is first imported.
"""

from __future__ import annotations

import os


def preset_threads(argv) -> None:
    """Apply ``--threads N`` (or ``--threads=N``) in argv to the BLAS libraries.

    OpenBLAS reads its thread count once, when NumPy is imported, so a script calls this before
    its NumPy import; a thread variable already set in the environment wins.
    """
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else (
            argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else None)
        if value is not None and value.isdigit():
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, value)


def load_average() -> tuple | None:
    """The (1, 5, 15)-minute load averages, or None where the system has none (Windows).

    Other processes on a shared machine slow every timing, so runs record the load.
    """
    try:
        return tuple(round(v, 2) for v in os.getloadavg())
    except (AttributeError, OSError):
        return None
