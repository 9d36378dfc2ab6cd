"""Lesson 09: right and wrong answers to weight_decay_step and l2_penalty, written as students write them."""

import numpy as np

from . import Right, Wrong

# --- weight_decay_step: right ---------------------------------------------------------------


def decay_gradient_first(w, grad, lr, decay):
    g = grad + decay * w
    return w - lr * g


def decay_shrink_then_step(w, grad, lr, decay):
    # (1 - lr decay) w - lr grad: the name "decay" made visible
    return (1 - lr * decay) * w - lr * grad


def decay_copy_in_place(w, grad, lr, decay):
    new = w.copy()
    new -= lr * decay * w
    new -= lr * grad
    return new


# --- weight_decay_step: wrong ---------------------------------------------------------------


def decay_on_w(w, grad, lr, decay):
    return w - lr * grad - decay * w


def decay_wrong_sign(w, grad, lr, decay):
    return w - lr * (grad - decay * w)


def decay_in_place(w, grad, lr, decay):
    w -= lr * (grad + decay * w)
    return w


# --- l2_penalty: right ----------------------------------------------------------------------


def penalty_loop(weights, lam):
    total = 0.0
    grads = []
    for W in weights:
        total += np.sum(W * W)
        grads.append(lam * W)
    return 0.5 * lam * total, grads


def penalty_comprehension(weights, lam):
    value = lam / 2 * sum(float(np.vdot(W, W)) for W in weights)
    return value, [W * lam for W in weights]


def penalty_norms(weights, lam):
    value = lam / 2 * sum(np.linalg.norm(W.ravel()) ** 2 for W in weights)
    return (value, tuple(np.multiply(W, lam) for W in weights))


# --- l2_penalty: wrong ----------------------------------------------------------------------


def penalty_no_half(weights, lam):
    return lam * sum((W ** 2).sum() for W in weights), [lam * W for W in weights]


def penalty_gradient_two_lam(weights, lam):
    return lam / 2 * sum((W ** 2).sum() for W in weights), [2 * lam * W for W in weights]


def penalty_float64_gradients(weights, lam):
    value = lam / 2 * sum((W ** 2).sum() for W in weights)
    return value, [np.float64(lam) * W for W in weights]


RIGHT = [
    Right("weight_decay_step", decay_gradient_first),
    Right("weight_decay_step", decay_shrink_then_step),
    Right("weight_decay_step", decay_copy_in_place),
    Right("l2_penalty", penalty_loop),
    Right("l2_penalty", penalty_comprehension),
    Right("l2_penalty", penalty_norms),
]

WRONG = [
    Wrong("weight_decay_step", decay_on_w, hint="decay added to w, not to the gradient"),
    Wrong("weight_decay_step", decay_wrong_sign, hint="sign: the slides add -a w to the step direction"),
    Wrong("weight_decay_step", decay_in_place, hint="changed its input `w` in place"),
    Wrong("l2_penalty", penalty_no_half, hint="missing 1/2"),
    Wrong("l2_penalty", penalty_gradient_two_lam, hint="gradient 2 lam W"),
    Wrong("l2_penalty", penalty_float64_gradients, hint="wrong dtype: expected float32, got float64"),
]


# --- weight_decay_optimizer: right (classes, handed to the check through a factory) ----------


class MomentumDecayList:
    def __init__(self, params, lr, mu, weight_decay=0.0):
        self.params = list(params)
        self.lr, self.mu, self.weight_decay = lr, mu, weight_decay
        self.v = None

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0.0

    def step(self):
        if self.v is None:
            self.v = [np.zeros_like(p.data) for p in self.params]
        for p, v in zip(self.params, self.v):
            g = p.grad + self.weight_decay * p.data      # decay goes into the gradient
            v *= self.mu
            v -= self.lr * g
            p.data += v


class MomentumDecayById:
    def __init__(self, params, lr, mu, weight_decay=0.0):
        self.params, self.lr, self.mu, self.weight_decay = list(params), lr, mu, weight_decay
        self.velocity = {}

    def zero_grad(self):
        for p in self.params:
            p.grad.fill(0)

    def step(self):
        for p in self.params:
            grad = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            self.velocity[id(p)] = self.mu * self.velocity.get(id(p), 0.0) - self.lr * grad
            p.data[...] = p.data + self.velocity[id(p)]


def momentum_decay_list(params, lr, mu, weight_decay=0.0):
    return MomentumDecayList(params, lr, mu, weight_decay)


def momentum_decay_by_id(params, lr, mu, weight_decay=0.0):
    return MomentumDecayById(params, lr, mu, weight_decay=weight_decay)


# --- weight_decay_optimizer: wrong ------------------------------------------------------------


class MomentumDecayAfter(MomentumDecayList):
    def step(self):
        if self.v is None:
            self.v = [np.zeros_like(p.data) for p in self.params]
        for i, p in enumerate(self.params):
            self.v[i] = self.mu * self.v[i] - self.lr * p.grad
            p.data += self.v[i]
            p.data -= self.lr * self.weight_decay * p.data      # then shrink the weights


class MomentumDecayOnVelocity(MomentumDecayList):
    def step(self):
        if self.v is None:
            self.v = [np.zeros_like(p.data) for p in self.params]
        for i, p in enumerate(self.params):
            v = self.v[i]
            self.v[i] = self.mu * v - self.lr * p.grad - self.lr * self.weight_decay * v
            p.data += self.v[i]


RIGHT += [
    Right("weight_decay_optimizer", momentum_decay_list),
    Right("weight_decay_optimizer", momentum_decay_by_id),
]

WRONG += [
    Wrong("weight_decay_optimizer", MomentumDecayAfter, hint="decay after the velocity"),
    Wrong("weight_decay_optimizer", MomentumDecayOnVelocity, hint="decay on the velocity"),
]
