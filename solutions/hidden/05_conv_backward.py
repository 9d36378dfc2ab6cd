"""Hidden cases of lesson 05 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, normal
from cnnlab.grading.lesson05 import _adjoint_case, _backward_case, _col2im_case, _im2col_case, _probe_case

CASES = {
    "conv2d_backward_naive": [
        _backward_case("", (2, 2, 5, 5), (3, 2, 3, 3), 2, 1),
        _backward_case("", (1, 1, 6, 4), (2, 1, 2, 3), 1, 2),
        _backward_case("", (3, 2, 7, 7), (1, 2, 4, 4), 3, 0),
        Case(x=np.arange(1.0, 10.0).reshape(1, 1, 3, 3), w=np.ones((1, 1, 2, 2)), b=np.zeros(1), stride=1, pad=0,
             dout=np.ones((1, 1, 2, 2))),
    ],
    "im2col": [
        _im2col_case("", (2, 3, 5, 6), 3, 2, 2, 1),
        _im2col_case("", (1, 1, 4, 4), 4, 4, 1, 0),
        _im2col_case("", (3, 2, 6, 6), 1, 1, 2, 0),
        Case(x=np.arange(1.0, 17.0).reshape(1, 1, 4, 4), kh=2, kw=2, stride=2, pad=0,
             expected=np.array([[1.0, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]])),
        Case(x=normal(2, 2, 5, 5, dtype=np.float32), kh=2, kw=3, stride=1, pad=2),
    ],
    "col2im": [
        _col2im_case("", (2, 3, 5, 6), 3, 2, 2, 1),
        _col2im_case("", (1, 1, 4, 4), 4, 4, 1, 0),
        _col2im_case("", (3, 2, 6, 6), 1, 1, 2, 0),
        _col2im_case("", (2, 2, 5, 5), 2, 3, 1, 2, dtype=np.float32),
        _adjoint_case("", (2, 2, 6, 5), 2, 2, 1, 2),
    ],
    "conv2d_fast": [
        _backward_case("", (3, 2, 6, 7), (2, 2, 2, 3), 2, 2),
        _backward_case("", (1, 1, 4, 4), (1, 1, 4, 4), 1, 0),
        _backward_case("", (2, 3, 5, 5), (4, 3, 1, 1), 1, 0, dtype=np.float32),
        _probe_case("samples", (3, 1, 4, 4), (24, 1, 4, 4)),
        _probe_case("rows", (2, 1, 3, 4), (2, 1, 17, 4)),
    ],
}
