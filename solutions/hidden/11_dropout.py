"""Hidden cases of lesson 11 (see README.md)."""

import numpy as np

from cnnlab.grading.lesson11 import _backward_case, _forward_case
from cnnlab.grading import normal

CASES = {
    "dropout_forward": [
        _forward_case("", np.ones((1000, 100)), 0.3, True, False),
        _forward_case("", np.ones((1000, 100)), 0.25, True, True),
        _forward_case("", normal(3, 7, dtype=np.float32), 0.5, True, True),
        _forward_case("", normal(3, 7, dtype=np.float32), 0.5, False, True),
        _forward_case("", normal(6, 5), 0.4, False, False),
    ],
    "dropout_backward": [
        _backward_case("", (4, 6), 0.6, True, True),
        _backward_case("", (200, 50), 0.35, True, False),
        _backward_case("", (3, 2, 4, 4), 0.9, False, False),
    ],
}
