"""Hidden cases of lesson 08 (see README.md)."""

import numpy as np

from cnnlab.grading import Case
from cnnlab.grading.lesson08 import _ema_case, _mu_case, _step_case
from cnnlab.grading.loops import optimizer_case

CASES = {
    "momentum_step": [
        Case(w=np.array([0.0]), v=np.array([1.0]), grad=np.array([1.0]), lr=0.5, mu=0.5,
             expected=(np.array([0.0]), np.array([0.0]))),
        _step_case("", (3, 2), 0.1, 0.8),
        _step_case("", (4, 4), 0.02, 0.95, dtype=np.float32),
    ],
    "ema_momentum_step": [
        Case(w=np.array([1.0]), p=np.array([2.0]), grad=np.array([4.0]), lr=1.0, beta=0.5,
             expected=(np.array([-2.0]), np.array([3.0]))),
        _ema_case("", (2,), 0.1, 0.8),
        _ema_case("", (3, 3), 0.3, 0.5, dtype=np.float32),
    ],
    "sutskever_mu": [_mu_case(749, 0.99, 1 - 0.5 / 3), _mu_case(750, 0.99, 0.875), _mu_case(37, 0.9),
                     _mu_case(4995, 0.999), _mu_case(1250, 0.9), _mu_case(2000, 0.5, 0.5)],
    "momentum_optimizer": [
        optimizer_case("", 90, 7, lr=0.03, mu=0.8, hidden=8, seed=5),
        optimizer_case("", 140, 40, lr=0.2, mu=0.95, seed=6),
    ],
}
