"""``python -m cnnlab ...``: the same as the ``cnnlab`` command (see :mod:`cnnlab.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
