"""Hidden cases of lesson 07 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, normal
from cnnlab.grading.lesson07 import _case, _train_case

CASES = {
    "minibatches": [
        _case("", 7, 3, shape=(2,), seed=3),
        _case("", 50, 8, shape=(1,), seed=1),
        _case("", 33, 11, shape=(1, 2, 2), seed=9),
        _case("", 10, 4, shape=(3,), seed=2, dtype=np.float32),
    ],
    "sgd_step": [
        Case(w=np.array([[1.0, -2.0], [0.5, 4.0]], dtype=np.float32),
             grad=np.array([[2.0, 2.0], [-1.0, 0.0]], dtype=np.float32), lr=0.25,
             expected=np.array([[0.5, -2.5], [0.75, 4.0]], dtype=np.float32)),
        Case(w=normal(7, 2), grad=normal(7, 2), lr=0.75),
    ],
    "train_epoch": [
        _train_case("", 77, 25, lr=0.3, hidden=8, seed=5),
        _train_case("", 40, 3, lr=0.05, seed=6),
        _train_case("", 130, 64, lr=1.0, hidden=32, seed=7),
    ],
}
