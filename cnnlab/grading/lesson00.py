"""Lesson 00 "Start here": two warm-up exercises on image arrays.

* ``scale_images(x) -> ndarray``: uint8 pixels (N, C, H, W) in 0..255 to float32 in [0, 1],
  i.e. ``x / 255`` stored as float32 (what ``cl.data.load`` does for the MNIST files).
* ``mean_image(X) -> ndarray``: the average image of a batch, (N, C, H, W) -> (C, H, W).
"""

from __future__ import annotations

import numpy as np

from .core import Case, Draw, Mistake, exercise, integers, normal, uniform

# --- scale_images -------------------------------------------------------------------------------

_HAND_PIXELS = np.array([[[[0, 255], [51, 102]]]], dtype=np.uint8)  # -> 0, 1, 0.2, 0.4


@exercise(
    "scale_images", points=1, dtype="exact",
    cases=[
        Case(x=integers(0, 256, (2, 1, 8, 8), np.uint8)),
        Case("four pixels worked out by hand: 0, 1, 0.2, 0.4", x=_HAND_PIXELS),
        Case("colour images", x=integers(0, 256, (3, 3, 5, 4), np.uint8)),
        Case("a dark image: no pixel above 40", x=integers(0, 41, (1, 1, 8, 8), np.uint8)),
        Case("every pixel 255", x=np.full((4, 1, 3, 3), 255, dtype=np.uint8)),
    ],
    mistakes=[
        Mistake("x / 255 on uint8 gives float64; the result must be float32: convert first, "
                "x.astype(np.float32) / 255", lambda x: x / 255),
        Mistake("`//` is integer division (every pixel becomes 0 or 1); use `/`",
                lambda x: x // 255),
        Mistake("`//` is integer division (every pixel becomes 0 or 1); use `/`",
                lambda x: x.astype(np.float32) // 255),
        Mistake("the largest uint8 value is 255, so divide by 255, not by 256",
                lambda x: (x / 256).astype(np.float32)),
        Mistake("divide by 255, the largest possible pixel value, not by the largest value in "
                "the data: a dark image would be brightened and an all-zero one divided by 0",
                lambda x: (x / x.max()).astype(np.float32)),
        Mistake("the dtype is right but the values were not divided by 255",
                lambda x: x.astype(np.float32)),
    ],
)
def _scale_images(x):
    """(N, C, H, W) uint8 -> (N, C, H, W) float32 with values x / 255."""
    return x.astype(np.float32) / np.float32(255)


# --- mean_image ---------------------------------------------------------------------------------

@exercise(
    "mean_image", points=1,
    cases=[
        Case(X=uniform(0, 1, (5, 1, 8, 8), np.float32)),
        Case("as many images as channels", X=normal(3, 3, 4, 6)),
        Case("one image: the mean is the image itself", X=normal(1, 2, 3, 3)),
        Case("numbers worked out by hand",
             X=np.arange(8.0).reshape(2, 1, 2, 2), expected=np.array([[[2.0, 3.0], [4.0, 5.0]]])),
        Case("seven 1x1 images", X=Draw(lambda rng: rng.permutation(7).astype(np.float64).reshape(7, 1, 1, 1))),
    ],
    mistakes=[
        Mistake("that is the sum over the images; divide by the number of images N (or use .mean)",
                lambda X: X.sum(axis=0)),
        Mistake("you averaged over the channel axis (axis 1); the images run along axis 0",
                lambda X: X.mean(axis=1)),
        Mistake("you averaged over every number at once; average over the images only (axis 0)",
                lambda X: X.mean()),
        Mistake("keepdims=True kept the batch axis: the result must have shape (C, H, W)",
                lambda X: X.mean(axis=0, keepdims=True)),
        Mistake("you averaged the pixels of each image (axes 2 and 3); average over the images "
                "(axis 0) instead", lambda X: X.mean(axis=(2, 3))),
    ],
)
def _mean_image(X):
    """(N, C, H, W) -> (C, H, W): the pixel-wise average over the N images."""
    return X.mean(axis=0)
