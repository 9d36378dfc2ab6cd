"""Hidden cases of lesson 12 (see README.md)."""

import numpy as np

from cnnlab.grading import Case, Draw
from cnnlab.grading.lesson12 import _crop_inputs, _shifted, _split_inputs

CASES = {
    "split_data": [
        Case(make=_split_inputs([500] * 10, (0.8, 0.1, 0.1), shape=(1, 1, 1))),
        Case(make=_split_inputs([7, 13, 200], (0.5, 0.3, 0.2))),
        Case(make=_split_inputs([12, 9], (0.5, 0.25, 0.25), dtype=np.float32)),
    ],
    "normalize": [
        Case(X_train=_shifted((9, 3, 4, 4), (0.0, 1.0, 5.0)), X_other=_shifted((4, 3, 4, 4), (0.0, 0.0, 0.0))),
        Case(X_train=_shifted((5, 1, 6, 6), (2.0,), dtype=np.float32)),
    ],
    "random_crop": [
        Case(make=_crop_inputs((100, 2, 6, 6), 6, 3)),
        Case(make=_crop_inputs((40, 1, 6, 6), 6, 0)),
        Case(make=_crop_inputs((64, 3, 9, 5), 4, 1, np.float32)),
    ],
    "early_stopping": [
        Case(val_losses=Draw(lambda rng: list(np.round(rng.uniform(0, 1, int(rng.integers(1, 12))), 1))),
             patience=Draw(lambda rng: int(rng.integers(1, 5))))
        for _ in range(12)
    ],
    "train_cnn": [Case(label="the network has a convolution", stage="has_conv", expected=True)],
}
