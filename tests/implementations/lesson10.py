"""Lesson 10: right and wrong answers to step_decay and exponential_decay, written as students
write them."""

import math

import numpy as np

from . import Right, Wrong

# --- step_decay: right ----------------------------------------------------------------------


def step_decay_floor_division(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** (epoch // step_size)


def step_decay_loop(lr0, epoch, step_size, gamma):
    # Walk through the epochs, multiplying by gamma whenever a new step begins.
    lr = lr0
    for e in range(1, int(epoch) + 1):
        if e % step_size == 0:
            lr *= gamma
    return lr


def step_decay_numpy(lr0, epoch, step_size, gamma):
    return float(lr0 * np.power(gamma, np.floor(epoch / step_size)))


# --- step_decay: wrong ----------------------------------------------------------------------


def step_decay_plus_one(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** ((epoch + 1) // step_size)


def step_decay_ceil(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** math.ceil(epoch / step_size)


def step_decay_loop_from_zero(lr0, epoch, step_size, gamma):
    # Off by one: counts epoch 0 as the end of a step when step_size divides it.
    lr = lr0
    for e in range(int(epoch) + 1):
        if (e + 1) % step_size == 0:
            lr *= gamma
    return lr


def step_decay_no_floor(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** (epoch / step_size)


def step_decay_from_one(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** (max(epoch - 1, 0) // step_size)


def step_decay_times_k(lr0, epoch, step_size, gamma):
    k = epoch // step_size
    return lr0 * gamma * k if k > 0 else lr0


# --- exponential_decay: right ---------------------------------------------------------------


def exponential_decay_math(lr0, epoch, k):
    return lr0 * math.exp(-k * epoch)


def exponential_decay_factor_per_epoch(lr0, epoch, k):
    gamma = np.exp(-k)  # what ExponentialLR calls gamma
    return float(lr0 * gamma ** epoch)


def exponential_decay_divide(lr0, epoch, k):
    return lr0 / np.exp(k * epoch)


# --- exponential_decay: wrong ---------------------------------------------------------------


def exponential_decay_no_minus(lr0, epoch, k):
    return lr0 * math.exp(k * epoch)


def exponential_decay_from_one(lr0, epoch, k):
    return lr0 * math.exp(-k * (epoch + 1))


def exponential_decay_one_minus_k(lr0, epoch, k):
    return lr0 * (1 - k) ** epoch


def exponential_decay_time_constant(lr0, epoch, k):
    return lr0 * np.exp(-epoch / k) if k else lr0


def exponential_decay_no_lr0(lr0, epoch, k):
    return math.exp(-k * epoch)


RIGHT = [
    Right("step_decay", step_decay_floor_division),
    Right("step_decay", step_decay_loop),
    Right("step_decay", step_decay_numpy),
    Right("exponential_decay", exponential_decay_math),
    Right("exponential_decay", exponential_decay_factor_per_epoch),
    Right("exponential_decay", exponential_decay_divide),
]

WRONG = [
    Wrong("step_decay", step_decay_plus_one, hint="decays one epoch early"),
    Wrong("step_decay", step_decay_ceil, hint="decays one epoch early (and already at epoch 1)"),
    Wrong("step_decay", step_decay_loop_from_zero, hint="decays one epoch early"),
    Wrong("step_decay", step_decay_no_floor, hint="a smooth curve, not a staircase"),
    Wrong("step_decay", step_decay_from_one, hint="decays one epoch late"),
    Wrong("step_decay", step_decay_times_k, hint="gamma ** k"),
    Wrong("exponential_decay", exponential_decay_no_minus, hint="with a minus sign"),
    Wrong("exponential_decay", exponential_decay_from_one, hint="epoch 0 uses lr0 itself"),
    Wrong("exponential_decay", exponential_decay_one_minus_k, hint="only approximates"),
    Wrong("exponential_decay", exponential_decay_time_constant, hint="not a time constant"),
    Wrong("exponential_decay", exponential_decay_no_lr0, hint="multiply by lr0"),
]
