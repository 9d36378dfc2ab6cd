"""Hidden cases of lesson 04 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, normal
from cnnlab.grading.lesson04 import _conv_case


def _sizes(*rows, raises=None):
    return [Case(n=n, k=k, stride=s, pad=p, raises=raises) for n, k, s, p in rows]


CASES = {
    "conv_output_size": _sizes((32, 5, 1, 0), (32, 3, 1, 1), (227, 11, 4, 0), (5, 3, 2, 1), (4, 4, 1, 0),
                               (9, 2, 2, 0), (13, 3, 2, 0), (6, 1, 5, 0), (10, 4, 3, 2), (28, 5, 1, 2), (1, 3, 1, 1))
    + _sizes((3, 4, 1, 0), (2, 7, 2, 2), raises=ValueError),
    "covers_input": _sizes((5, 3, 2, 1), (10, 3, 2, 1), (32, 3, 1, 1), (11, 2, 3, 0), (9, 3, 3, 1), (13, 3, 2, 0),
                           (6, 1, 5, 0), (10, 4, 3, 2), (28, 5, 1, 2), (12, 5, 4, 1)),
    "pad2d": [
        Case(x=np.ones((2, 3, 2, 2)), pad=1),
        Case(x=np.ones((1, 1, 3, 3), dtype=np.float32), pad=2),
        Case(x=normal(3, 2, 4, 6), pad=3),
        Case(x=normal(3, 2, 4, 6), pad=0),
    ],
    "conv2d_forward_naive": [
        _conv_case("", (2, 3, 6, 6), (4, 3, 3, 3), 1, 1),
        _conv_case("", (1, 2, 9, 7), (2, 2, 4, 3), 2, 0),
        _conv_case("", (3, 1, 5, 5), (1, 1, 5, 5), 1, 0),
        _conv_case("", (1, 3, 8, 8), (2, 3, 2, 2), 3, 2),
        Case(x=np.ones((1, 2, 3, 3)), w=np.ones((1, 2, 3, 3)), b=np.array([1.0]), stride=1, pad=1,
             expected=np.array([[[[9.0, 13, 9], [13, 19, 13], [9, 13, 9]]]])),
    ],
    "alexnet_shapes": [Case(make=lambda rng: {}, label="AlexNet's 8 shapes")],
}
