"""Hidden cases of lesson 01 (see README.md)."""

import numpy as np

from cnnlab.examples import TABLE_X, TABLE_Y
from cnnlab.grading import Case, Draw, normal, uniform
from cnnlab.grading.lesson01 import _absolute, _half_squared, _hinge, _linear, _scaled

CASES = {
    "empirical_risk": [
        Case(loss=_absolute, predict=_linear, theta=np.array([1.0, -1.0]), X=np.arange(6.0).reshape(3, 2),
             Y=np.zeros(3), expected=1.0),
        Case(loss=_half_squared, predict=_scaled, theta=0.0, X=TABLE_X.copy(), Y=TABLE_Y.copy()),
        Case(loss=_hinge, predict=_linear, theta=normal(5), X=normal(40, 5),
             Y=Draw(lambda rng: rng.choice([-1.0, 1.0], size=40))),
    ],
    "squared_loss_grad": [
        Case(w=1.01, x=2.0, y=1.9, expected=2.0 * (2.02 - 1.9)),
        Case(w=0.3, x=-2.0, y=1.0),
        Case(w=1.7, x=0.5, y=4.0),
    ],
    "hinge_loss": [
        Case(score=np.array([3.0, 1.0, 0.0, -2.0]), y=np.array([1.0, 1.0, -1.0, 1.0]),
             expected=np.array([0.0, 0.0, 1.0, 3.0])),
        Case(score=normal(4, 5), y=Draw(lambda rng: rng.choice([-1.0, 1.0], size=(4, 5)))),
        Case(score=normal(2, 3, dtype=np.float32),
             y=Draw(lambda rng: rng.choice([-1.0, 1.0], size=(2, 3)).astype(np.float32))),
    ],
    "gd_1d": [
        Case(xs=TABLE_X.copy(), ys=TABLE_Y.copy(), w0=0.0, lr=0.01, epochs=3),
        Case(xs=[2.0, -1.0], ys=[1.0, 3.0], w0=0.5, lr=0.1, epochs=2),
        Case(xs=uniform(-1.0, 1.0, (9,)), ys=uniform(-1.0, 1.0, (9,)), w0=-0.3, lr=0.2, epochs=3),
        Case(xs=uniform(-1.0, 1.0, (4,), np.float32), ys=uniform(-1.0, 1.0, (4,), np.float32), w0=0.2,
             lr=0.3, epochs=2),
    ],
}
