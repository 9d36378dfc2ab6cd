"""Hidden cases of lesson 06 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, Draw, normal
from cnnlab.grading.lesson06 import _avg_case, _pool_case

_PEAK = np.zeros((1, 1, 5, 5))
_PEAK[0, 0, 2, 2] = 1.0  # the maximum of all four overlapping 3x3 windows (stride 2)


def _shifted(*shape):
    return Draw(lambda rng: rng.standard_normal(shape) - 2.0)


CASES = {
    "maxpool_forward_naive": [
        Case(x=_shifted(2, 3, 6, 6), size=2, stride=2),
        Case(x=_shifted(1, 2, 7, 5), size=3, stride=2),
        Case(x=_shifted(2, 1, 5, 5), size=2, stride=1),
        Case(x=_shifted(1, 1, 4, 4), size=4, stride=4),
        Case(x=-np.ones((1, 1, 4, 4)), size=2, stride=2, expected=-np.ones((1, 1, 2, 2))),
    ],
    "maxpool_backward_naive": [
        _pool_case("", normal(2, 2, 5, 5), 3, 2),
        _pool_case("", normal(1, 3, 6, 6), 2, 1),
        _pool_case("", normal(2, 1, 7, 7), 2, 3),
        _pool_case("four-way ties everywhere", np.zeros((1, 1, 4, 4)), 2, 2),
        _pool_case("one peak, the maximum of four windows", _PEAK, 3, 2),
    ],
    "avgpool_backward": [
        _avg_case("", normal(2, 2, 6, 6), 2, 2),
        _avg_case("", normal(1, 3, 7, 5), 3, 2),
        _avg_case("", normal(2, 1, 5, 5), 2, 1),
        Case(x=np.arange(16.0).reshape(1, 1, 4, 4), size=2, stride=2, dout=np.ones((1, 1, 2, 2)),
             expected=(np.array([[[[2.5, 4.5], [10.5, 12.5]]]]), np.full((1, 1, 4, 4), 0.25))),
    ],
}
