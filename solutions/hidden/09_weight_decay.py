"""Hidden cases of lesson 09 (see README.md)."""

import numpy as np

from cnnlab.grading import Case
from cnnlab.grading.lesson09 import _step_case, _wd_case, _weights

CASES = {
    "weight_decay_step": [
        _step_case("", (3, 4), 0.05, 0.1, dtype=np.float32),
        Case(w=np.array([10.0]), grad=np.array([0.0]), lr=0.1, decay=1.0, expected=np.array([9.0])),
        _step_case("", (2, 2, 3, 3), 0.5, 0.3),
    ],
    "l2_penalty": [
        Case(weights=_weights((3, 2), (4,)), lam=0.3),
        Case(weights=[np.ones((2, 2))], lam=0.5, expected=(1.0, [0.5 * np.ones((2, 2))])),
        Case(weights=_weights((5, 1, 3, 3), (2, 45), (2,), dtype=np.float32), lam=1e-3),
    ],
    "weight_decay_optimizer": [
        _wd_case("", 90, 7, lr=0.03, mu=0.8, weight_decay=0.05, hidden=8, seed=5),
        _wd_case("", 140, 40, lr=0.2, mu=0.95, weight_decay=0.002, seed=6),
    ],
}
