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
    Wrong("exponential_decay", exponential_decay_no_minus, hint="with a minus sign"),
]
