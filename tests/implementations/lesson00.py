"""Lesson 00: right and wrong answers to scale_images and mean_image."""

import numpy as np

from . import Right, Wrong


# --- scale_images: right --------------------------------------------------------------------

def scale_convert_first(x):
    return x.astype(np.float32) / 255


def scale_divide_then_convert(x):
    return (x / 255.0).astype(np.float32)


def scale_by_reciprocal(x):
    return x * np.float32(1 / 255)  # one rounding more than dividing: within tolerance


def scale_loop(x):
    out = np.empty(x.shape, dtype=np.float32)
    for index in np.ndindex(*x.shape):
        out[index] = x[index] / 255.0
    return out


# --- scale_images: wrong --------------------------------------------------------------------

def scale_float64(x):
    return x / 255


def scale_integer_division(x):
    return x // 255


def scale_as_list(x):
    return (x.astype(np.float32) / 255).tolist()


def scale_forgot_return(x):
    x.astype(np.float32) / 255


# --- mean_image: right ----------------------------------------------------------------------

def mean_numpy(X):
    return X.mean(axis=0)


def mean_sum_over_count(X):
    return X.sum(axis=0) / X.shape[0]


def mean_loop_float64(X):
    total = np.zeros(X.shape[1:])  # float64: float32 images give a float64 average
    for image in X:
        total += image
    return total / len(X)


def mean_accumulated_in_float64(X):
    total = np.zeros(X.shape[1:])  # add up in float64, then give back X's dtype
    for image in X:
        total += image
    return (total / len(X)).astype(X.dtype)


def mean_average(X):
    return np.average(X, axis=0)


# --- mean_image: wrong ----------------------------------------------------------------------

def mean_in_place(X):
    X /= len(X)  # changes the caller's array
    return X.sum(axis=0)


def mean_divided_by_channels(X):
    return X.sum(axis=0) / X.shape[1]


RIGHT = [
    Right("scale_images", scale_convert_first),
    Right("scale_images", scale_divide_then_convert),
    Right("scale_images", scale_by_reciprocal),
    Right("scale_images", scale_loop),
    Right("mean_image", mean_numpy),
    Right("mean_image", mean_sum_over_count),
    Right("mean_image", mean_accumulated_in_float64),
    Right("mean_image", mean_average),
]

WRONG = [
    Wrong("scale_images", scale_float64, hint="gives float64"),
    Wrong("scale_images", scale_integer_division, hint="integer division"),
    Wrong("scale_images", scale_as_list, hint="convert it with np.array"),
    Wrong("scale_images", scale_forgot_return, hint="did you forget `return`"),
    Wrong("mean_image", mean_in_place, hint="changed its input `X`"),
    Wrong("mean_image", mean_divided_by_channels, hint="values differ"),
    Wrong("mean_image", mean_loop_float64, hint="your result is float64 for float32 inputs"),
]
