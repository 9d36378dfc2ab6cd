"""Lesson 11: right and wrong answers to dropout_forward and dropout_backward, written as
students write them. Each backward comes with the forward whose cache it reads."""

import numpy as np

from . import Right, Wrong

# --- dropout_forward: right -------------------------------------------------------------------


def dropout_mask_then_scale(x, keep, train, rng, inverted=True):
    if not train:
        return (x if inverted else x * keep), None
    mask = rng.random(x.shape) < keep
    out = x * mask
    if inverted:
        out = out / keep
    return out, (mask, keep, inverted)


def dropout_binomial_scaled_mask(x, keep, train, rng, inverted=True):
    # The mask already holds the scale: 1/keep (or 1) where kept, 0 where dropped.
    if train:
        scale = rng.binomial(1, keep, size=x.shape).astype(x.dtype)
        if inverted:
            scale /= x.dtype.type(keep)
    else:
        scale = x.dtype.type(1.0 if inverted else keep)
    return x * scale, {"scale": scale}


def dropout_uniform_where(x, keep, train, rng, inverted=True):
    if train:
        kept = rng.uniform(0.0, 1.0, size=x.shape) >= 1.0 - keep
        factor = 1.0 / keep if inverted else 1.0
        return np.where(kept, x * factor, 0.0).astype(x.dtype), (kept, factor)
    return x * (1.0 if inverted else keep), (None, 1.0 if inverted else keep)


# --- dropout_forward: wrong -------------------------------------------------------------------


def dropout_drop_probability(x, keep, train, rng, inverted=True):
    if not train:
        return (x if inverted else x * keep), None
    mask = rng.random(x.shape) > keep  # keeps a unit with probability 1 - keep
    return x * mask / (keep if inverted else 1.0), mask


def dropout_always_drops(x, keep, train, rng, inverted=True):
    mask = rng.random(x.shape) < keep  # train is never looked at
    out = x * mask / keep if inverted else x * mask
    return out, mask


def dropout_inverted_not_scaled(x, keep, train, rng, inverted=True):
    if not train:
        return (x if inverted else x * keep), None
    mask = rng.random(x.shape) < keep
    return x * mask, mask


def dropout_float_mask(x, keep, train, rng, inverted=True):
    if not train:
        return (x if inverted else x * keep), None
    mask = (rng.random(x.shape) < keep).astype(float)
    return (x * mask / keep if inverted else x * mask), mask


# --- dropout_backward: right (with the forward whose cache it reads) ----------------------------


def dropout_backward_mask(dout, cache):
    if cache is None:
        raise AssertionError("this backward goes with dropout_mask_then_scale_cached")
    mask, scale = cache
    return dout * mask * scale


def dropout_mask_then_scale_cached(x, keep, train, rng, inverted=True):
    if train:
        mask = rng.random(x.shape) < keep
        scale = 1.0 / keep if inverted else 1.0
    else:
        mask = np.ones(x.shape, dtype=bool)
        scale = 1.0 if inverted else keep
    return (x * mask * scale).astype(x.dtype), (mask, scale)


def dropout_backward_scale_array(dout, cache):
    return dout * cache["scale"]


def dropout_backward_where(dout, cache):
    kept, factor = cache
    if kept is None:
        return dout * factor
    return np.where(kept, dout * factor, 0.0).astype(dout.dtype)


# --- dropout_backward: wrong --------------------------------------------------------------------


def dropout_forward_keeps_rng(x, keep, train, rng, inverted=True):
    if not train:
        return (x if inverted else x * keep), (keep, train, rng, inverted)
    mask = rng.random(x.shape) < keep
    return (x * mask / keep if inverted else x * mask), (keep, train, rng, inverted)


def dropout_backward_redraws(dout, cache):
    keep, train, rng, inverted = cache
    if not train:
        return dout if inverted else dout * keep
    mask = rng.random(dout.shape) < keep  # a NEW mask: not the one the forward used
    return dout * mask / keep if inverted else dout * mask


def dropout_backward_mask_only(dout, cache):
    mask, scale = cache
    return dout * mask  # the forward's scale is forgotten


RIGHT = [
    Right("dropout_forward", dropout_mask_then_scale),
    Right("dropout_forward", dropout_binomial_scaled_mask),
    Right("dropout_forward", dropout_uniform_where),
    Right("dropout_backward", dropout_backward_mask, partners={"forward": dropout_mask_then_scale_cached}),
    Right("dropout_backward", dropout_backward_scale_array, partners={"forward": dropout_binomial_scaled_mask}),
    Right("dropout_backward", dropout_backward_where, partners={"forward": dropout_uniform_where}),
]

WRONG = [
    Wrong("dropout_forward", dropout_drop_probability, hint="keep and drop confused"),
    Wrong("dropout_forward", dropout_always_drops, hint="test mode still dropping"),
    Wrong("dropout_forward", dropout_inverted_not_scaled, hint="divides the kept units by keep during training"),
    Wrong("dropout_forward", dropout_float_mask, hint="promotes float32 x to float64"),
    Wrong("dropout_backward", dropout_backward_redraws, hint="mask redrawn in backward",
          partners={"forward": dropout_forward_keeps_rng}),
    Wrong("dropout_backward", dropout_backward_mask_only, hint="wrong scaling",
          partners={"forward": dropout_mask_then_scale_cached}),
]
