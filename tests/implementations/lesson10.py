"""Lesson 10: right and wrong answers to step_decay and exponential_decay, written as students
write them."""

import math

import numpy as np

import cnnlab as cl

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


# --- train_with_schedule: right ---------------------------------------------------------------


def train_recipe(model, X, y, epochs, batch_size, opt, schedule, rng):
    losses = []
    for epoch in range(epochs):
        opt.lr = schedule(epoch)                             # the rate of this epoch
        total, seen = 0.0, 0
        for Xb, yb in cl.data.batches(X, y, batch_size, rng):
            opt.zero_grad()
            loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
            model.backward(dscores)
            opt.step()
            total += loss * len(yb)
            seen += len(yb)
        losses.append(total / seen)
    return losses


def _one_epoch(model, batches, opt):
    losses, sizes = [], []
    for Xb, yb in batches:
        scores = model.forward(Xb)
        loss, dscores = cl.F.softmax_cross_entropy(scores, yb)
        model.zero_grad()
        model.backward(dscores)
        opt.step()
        losses.append(loss)
        sizes.append(len(yb))
    return float(np.dot(losses, sizes) / np.sum(sizes))


def train_with_helper(model, X, y, epochs, batch_size, opt, schedule, rng):
    history = []
    for lr in [schedule(epoch) for epoch in range(epochs)]:
        opt.lr = lr
        history.append(_one_epoch(model, cl.data.batches(X, y, batch_size, rng=rng), opt))
    return history


# --- train_with_schedule: wrong ---------------------------------------------------------------


def train_schedule_per_batch(model, X, y, epochs, batch_size, opt, schedule, rng):
    losses, it = [], 0
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for Xb, yb in cl.data.batches(X, y, batch_size, rng):
            opt.lr = schedule(it)
            it += 1
            opt.zero_grad()
            loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
            model.backward(dscores)
            opt.step()
            total += loss * len(yb)
            seen += len(yb)
        losses.append(total / seen)
    return losses


def train_epochs_from_one(model, X, y, epochs, batch_size, opt, schedule, rng):
    losses = []
    for epoch in range(1, epochs + 1):
        opt.lr = schedule(epoch)
        total, seen = 0.0, 0
        for Xb, yb in cl.data.batches(X, y, batch_size, rng):
            opt.zero_grad()
            loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
            model.backward(dscores)
            opt.step()
            total += loss * len(yb)
            seen += len(yb)
        losses.append(total / seen)
    return losses


RIGHT += [
    Right("train_with_schedule", train_recipe),
    Right("train_with_schedule", train_with_helper),
]

WRONG += [
    Wrong("train_with_schedule", train_schedule_per_batch, hint="schedule stepped per batch"),
    Wrong("train_with_schedule", train_epochs_from_one, hint="epoch counted from 1"),
]
