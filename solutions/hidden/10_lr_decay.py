"""Hidden cases of lesson 10 (see README.md)."""

import numpy as np

from cnnlab.grading import plain
from cnnlab.grading.lesson10 import _exp_case, _step, _step_case, _train_case

CASES = {
    "step_decay": [
        _step_case("", 0.7, range(40), 6, 0.25),
        _step_case("", 0.1, [2, 3, 4], 3, 0.5, expected=[0.1, 0.05, 0.05]),
        _step_case("", 0.2, list(np.arange(12, dtype=np.int32)), 5, 0.9),
    ],
    "exponential_decay": [
        _exp_case("", 0.05, range(25), 0.15),
        _exp_case("", 0.3, [0, 10], 0.1, expected=[0.3, 0.3 * np.exp(-1.0)]),
    ],
    "train_with_schedule": [
        _train_case("", 70, 5, 12, _step(0.3, 3, 0.2), momentum=0.5, hidden=8, seed=5),
        _train_case("", 50, 2, 50, plain.named("lesson10.exponential_schedule", 0.5, 2.0), seed=6),
    ],
}
