"""Lesson 08: right and wrong answers to momentum_step, ema_momentum_step and sutskever_mu,
written as students write them."""

import math

import numpy as np

from . import Right, Wrong

# --- momentum_step: right -------------------------------------------------------------------


def momentum_two_lines(w, v, grad, lr, mu):
    v = mu * v - lr * grad
    w = w + v
    return w, v


def momentum_copies_in_place(w, v, grad, lr, mu):
    v_new = v.copy()
    v_new *= mu
    v_new -= lr * grad
    w_new = w.copy()
    w_new += v_new
    return [w_new, v_new]  # a list is accepted as well as a tuple


def momentum_expanded(w, v, grad, lr, mu):
    step = np.multiply(mu, v) + np.multiply(-lr, grad)
    return np.add(w, step), step


# --- momentum_step: wrong -------------------------------------------------------------------


def momentum_w_first(w, v, grad, lr, mu):
    w = w + v
    v = mu * v - lr * grad
    return w, v


def momentum_plus_gradient(w, v, grad, lr, mu):
    v = mu * v + lr * grad
    return w + v, v


def momentum_minus_velocity(w, v, grad, lr, mu):
    # The velocity is right; the step then subtracts it, as in plain gradient descent.
    v_new = mu * v - lr * grad
    w_new = w - v_new
    return w_new, v_new


def momentum_in_place(w, v, grad, lr, mu):
    v *= mu
    v -= lr * grad
    w += v
    return w, v


# --- ema_momentum_step: right ---------------------------------------------------------------


def ema_two_lines(w, p, grad, lr, beta):
    p = beta * p + (1 - beta) * grad
    return w - lr * p, p


def ema_interpolation(w, p, grad, lr, beta):
    # p + (1 - beta) (grad - p): move the average a fraction (1 - beta) towards the new gradient
    p_new = p + (1.0 - beta) * (grad - p)
    w_new = w.copy()
    w_new -= lr * p_new
    return (w_new, p_new)


# --- ema_momentum_step: wrong ---------------------------------------------------------------


def ema_beta_on_new_gradient(w, p, grad, lr, beta):
    p = (1 - beta) * p + beta * grad
    return w - lr * p, p


# --- sutskever_mu: right --------------------------------------------------------------------


def mu_floor_division(t, mu_max):
    return min(mu_max, 1 - 0.5 / (t // 250 + 1))


def mu_power_of_two(t, mu_max):
    # Tomasi's notes write it as 1 - 2^(-1 - log2(floor(t/250) + 1))
    return float(min(mu_max, 1 - 2.0 ** (-1 - math.log2(math.floor(t / 250) + 1))))


def mu_numpy(t, mu_max):
    k = np.floor(t / 250)
    return np.minimum(mu_max, 1.0 - 1.0 / (2.0 * (k + 1)))


# --- sutskever_mu: wrong --------------------------------------------------------------------


def mu_missing_plus_one(t, mu_max):
    return min(mu_max, 1 - 0.5 / (t // 250))


RIGHT = [
    Right("momentum_step", momentum_two_lines),
    Right("momentum_step", momentum_copies_in_place),
    Right("momentum_step", momentum_expanded),
    Right("ema_momentum_step", ema_two_lines),
    Right("ema_momentum_step", ema_interpolation),
    Right("sutskever_mu", mu_floor_division),
    Right("sutskever_mu", mu_power_of_two),
    Right("sutskever_mu", mu_numpy),
]

WRONG = [
    Wrong("momentum_step", momentum_w_first, hint="velocity not updated before w"),
    Wrong("momentum_step", momentum_plus_gradient, hint="sign: the velocity moves against the gradient"),
    Wrong("momentum_step", momentum_minus_velocity, hint="already points downhill, so the step is w = w + v"),
    Wrong("momentum_step", momentum_in_place, hint="changed its input `w` in place"),
    Wrong("ema_momentum_step", ema_beta_on_new_gradient, hint="beta weighs the OLD average"),
    Wrong("sutskever_mu", mu_missing_plus_one, hint="off-by-one in the floor"),
]


# --- momentum_optimizer: right (a class each, handed to the check through a factory) ---------


class MomentumList:
    def __init__(self, params, lr, mu):
        self.params = list(params)
        self.lr = lr
        self.mu = mu
        self.v = None

    def zero_grad(self):
        for p in self.params:
            p.grad[...] = 0.0

    def step(self):
        if self.v is None:                        # the first step: one zero velocity per parameter
            self.v = [np.zeros_like(p.data) for p in self.params]
        for p, v in zip(self.params, self.v):
            v *= self.mu
            v -= self.lr * p.grad
            p.data += v


class MomentumById:
    def __init__(self, params, lr, mu):
        self.params, self.lr, self.mu = list(params), lr, mu
        self.velocity = {}

    def zero_grad(self):
        for p in self.params:
            p.grad.fill(0)

    def step(self):
        for p in self.params:
            old = self.velocity.get(id(p), 0.0)
            self.velocity[id(p)] = self.mu * old - self.lr * p.grad
            p.data[...] = p.data + self.velocity[id(p)]


def momentum_list(params, lr, mu):
    return MomentumList(params, lr, mu)


def momentum_by_id(params, lr, mu):
    return MomentumById(params=params, lr=lr, mu=mu)


# --- momentum_optimizer: wrong ----------------------------------------------------------------


class MomentumOneVelocity(MomentumList):
    def step(self):
        if self.v is None:
            self.v = np.zeros_like(self.params[0].data)
        for p in self.params:
            self.v = self.mu * self.v - self.lr * p.grad
            p.data += self.v


class MomentumFreshVelocity(MomentumList):
    def step(self):
        for p in self.params:
            v = np.zeros_like(p.data)
            v = self.mu * v - self.lr * p.grad
            p.data += v


class MomentumMinusV(MomentumList):
    def step(self):
        if self.v is None:
            self.v = [np.zeros_like(p.data) for p in self.params]
        for i, p in enumerate(self.params):
            self.v[i] = self.mu * self.v[i] - self.lr * p.grad
            p.data -= self.v[i]


RIGHT += [
    Right("momentum_optimizer", momentum_list),
    Right("momentum_optimizer", momentum_by_id),
]

WRONG += [
    Wrong("momentum_optimizer", MomentumOneVelocity, hint="one velocity shared by all parameters"),
    Wrong("momentum_optimizer", MomentumFreshVelocity, hint="velocity reset every step"),
    Wrong("momentum_optimizer", MomentumMinusV, hint="parameters move by +v"),
]
