"""Hidden cases of lesson 00 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, integers, normal

CASES = {
    "scale_images": [
        Case(x=np.array([[[[0, 51], [102, 255]]]], dtype=np.uint8), expected=np.array([[[[0.0, 0.2], [0.4, 1.0]]]],
                                                                                      dtype=np.float32)),
        Case(x=integers(0, 256, (6, 3, 9, 7), np.uint8)),
        Case(x=integers(200, 256, (1, 2, 1, 5), np.uint8)),
    ],
    "mean_image": [
        Case(X=np.array([[[[0.0, 1.0]], [[2.0, 3.0]]], [[[4.0, 5.0]], [[6.0, 7.0]]]]),
             expected=np.array([[[2.0, 3.0]], [[4.0, 5.0]]])),
        Case(X=normal(9, 3, 4, 5)),
        Case(X=normal(2, 1, 7, 3, dtype=np.float32)),
    ],
}
