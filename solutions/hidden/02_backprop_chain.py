"""Hidden cases of lesson 02 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, normal
from cnnlab.grading.lesson02 import (_chain_case, _hand_chain, _linear_case, _logits_case, log_sum_exp, sum_exp_3x,
                                     sum_of_squares)

CASES = {
    "linear_forward": [
        Case(x=np.ones((2, 3)), W=np.arange(6.0).reshape(2, 3), b=np.array([1.0, -1.0]),
             expected=np.array([[4.0, 11.0], [4.0, 11.0]])),
        _linear_case("", 4, 7, 2),
    ],
    "linear_backward": [
        _linear_case("", 5, 3, 4, backward=True),
        Case(x=normal(5, 3), W=normal(4, 3), b=normal(4), dout=np.ones((5, 4))),
        _linear_case("", 4, 2, 3, backward=True, dtype=np.float32),
    ],
    "relu_forward": [
        Case(x=np.array([-1.0, 0.0, 2.5], dtype=np.float32), expected=np.array([0.0, 0.0, 2.5], dtype=np.float32)),
        Case(x=normal(3, 4, 5)),
    ],
    "relu_backward": [
        Case(x=normal(3, 4, 5), dout=normal(3, 4, 5)),
        Case(x=np.array([-1.0, 1.0]), dout=np.array([5.0, 6.0]), expected=np.array([0.0, 6.0])),
    ],
    "backprop_chain": [
        Case(make=_hand_chain, expected=[{"W": np.array([[10.0]]), "b": np.array([5.0])}, {},
                                         {"W": np.array([[-30.0]]), "b": np.array([-5.0])}]),
        _chain_case("", 3, (4, 6, 2)),
        _chain_case("", 2, (2, 5, 5, 3), activation="tanh"),
        _chain_case("", 2, (3, 4, 2), activation="tanh", dtype=np.float32),
    ],
    "numerical_gradient": [
        Case(f=sum_of_squares, x=np.array([[0.5, -1.0], [2.0, 0.25]]), h=1e-5,
             expected=np.array([[1.0, -2.0], [4.0, 0.5]])),
        Case(f=sum_exp_3x, x=np.zeros(3), h=1e-4),
        Case(f=log_sum_exp, x=normal(2, 3, 2), h=1e-5),
    ],
    "softmax_cross_entropy": [
        Case(logits=np.array([[1e4, 0.0], [0.0, 1e4]]), y=np.array([0, 0]),
             expected=(5e3, np.array([[0.0, 0.0], [-0.5, 0.5]]))),
        _logits_case("", 6, 5),
        _logits_case("", 3, 7, scale=2e4, dtype=np.float32),
        _logits_case("", 16, 3, scale=800.0),
    ],
}
