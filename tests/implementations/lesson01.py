"""Lesson 01: right and wrong answers to empirical_risk, squared_loss_grad, hinge_loss and gd_1d,
written as students write them."""

import numpy as np

from . import Right, Wrong

# --- empirical_risk: right ------------------------------------------------------------------


def risk_mean(loss, predict, theta, X, Y):
    return float(np.mean(loss(predict(X, theta), Y)))


def risk_loop(loss, predict, theta, X, Y):
    losses = loss(predict(X, theta), Y)
    total = 0.0
    for value in losses:
        total += value
    return total / len(Y)


def risk_sum_over_n(loss, predict, theta, X, Y):
    Y_hat = predict(X, theta)
    return loss(Y_hat, Y).sum() / Y.shape[0]


# --- empirical_risk: wrong ------------------------------------------------------------------


def risk_sum(loss, predict, theta, X, Y):
    return float(np.sum(loss(predict(X, theta), Y)))


def risk_of_mean_prediction(loss, predict, theta, X, Y):
    return float(loss(np.mean(predict(X, theta)), np.mean(Y)))


# --- squared_loss_grad: right ---------------------------------------------------------------


def grad_factored(w, x, y):
    return x * (w * x - y)


def grad_from_residual(w, x, y):
    y_hat = w * x
    return -(y - y_hat) * x


def grad_expanded(w, x, y):
    # d/dw of 1/2 (w^2 x^2 - 2 w x y + y^2)
    return w * x ** 2 - x * y


# --- squared_loss_grad: wrong ---------------------------------------------------------------


def grad_sign(w, x, y):
    return (y - w * x) * x


def grad_no_x(w, x, y):
    return w * x - y


def grad_factor_two(w, x, y):
    return 2 * x * (w * x - y)


# --- hinge_loss: right ----------------------------------------------------------------------


def hinge_maximum(score, y):
    return np.maximum(0, 1 - y * score)


def hinge_clip(score, y):
    return np.clip(1.0 - y * score, 0.0, None)


def hinge_where(score, y):
    margin = 1 - y * score
    return np.where(margin > 0, margin, 0.0)


def hinge_loop(score, y):
    out = np.zeros_like(score)
    for i in np.ndindex(*np.shape(score)):
        out[i] = max(0.0, 1.0 - y[i] * score[i])
    return out


# --- hinge_loss: wrong ----------------------------------------------------------------------


def hinge_loop_float64(score, y):
    out = np.zeros(np.shape(score))  # always float64: float32 scores give a float64 result
    for i in np.ndindex(*np.shape(score)):
        out[i] = max(0.0, 1.0 - y[i] * score[i])
    return out


def hinge_no_max(score, y):
    return 1 - y * score


def hinge_no_margin(score, y):
    return np.maximum(0, -y * score)


def hinge_python_max(score, y):
    return max(0, 1 - y * score)


# --- gd_1d: right ---------------------------------------------------------------------------


def gd_loops(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        for x, y in zip(xs, ys):
            w -= lr * x * (w * x - y)
            path.append(w)
    return np.array(path)


def gd_preallocated(xs, ys, w0, lr, epochs):
    xs, ys = np.asarray(xs), np.asarray(ys)
    n = len(xs)
    out = np.empty(epochs * n, dtype=xs.dtype)
    w = w0
    for t in range(epochs * n):
        x, y = xs[t % n], ys[t % n]
        y_hat = w * x
        grad = -(y - y_hat) * x
        w = w - lr * grad
        out[t] = w
    return out


def gd_with_helper(xs, ys, w0, lr, epochs):
    def grad(w, x, y):
        return w * x * x - x * y

    ws = [w0]
    for _ in range(epochs):
        for i in range(len(xs)):
            ws.append(ws[-1] - lr * grad(ws[-1], xs[i], ys[i]))
    return np.array(ws[1:])


# --- gd_1d: wrong ---------------------------------------------------------------------------


def gd_batch(xs, ys, w0, lr, epochs):
    xs, ys = np.asarray(xs), np.asarray(ys)
    w, path = w0, []
    for _ in range(epochs):
        w = w - lr * np.mean(xs * (w * xs - ys))
        path.append(w)
    return np.array(path)


def gd_reversed(xs, ys, w0, lr, epochs):
    w, path = w0, []
    for _ in range(epochs):
        for x, y in zip(reversed(list(xs)), reversed(list(ys))):
            w -= lr * x * (w * x - y)
            path.append(w)
    return np.array(path)


RIGHT = [
    Right("empirical_risk", risk_mean),
    Right("empirical_risk", risk_loop),
    Right("empirical_risk", risk_sum_over_n),
    Right("squared_loss_grad", grad_factored),
    Right("squared_loss_grad", grad_from_residual),
    Right("squared_loss_grad", grad_expanded),
    Right("hinge_loss", hinge_maximum),
    Right("hinge_loss", hinge_clip),
    Right("hinge_loss", hinge_where),
    Right("hinge_loss", hinge_loop),
    Right("gd_1d", gd_loops),
    Right("gd_1d", gd_preallocated),
    Right("gd_1d", gd_with_helper),
]

WRONG = [
    Wrong("empirical_risk", risk_sum, hint="sum instead of mean"),
    Wrong("empirical_risk", risk_of_mean_prediction, hint="not the loss of the mean prediction"),
    Wrong("squared_loss_grad", grad_sign, hint="sign error"),
    Wrong("squared_loss_grad", grad_no_x, hint="missing x"),
    Wrong("squared_loss_grad", grad_factor_two, hint="missing 1/2 handling"),
    Wrong("hinge_loss", hinge_no_max, hint="missing max with 0"),
    Wrong("hinge_loss", hinge_no_margin, hint="wrong margin"),
    Wrong("hinge_loss", hinge_python_max, hint="np.maximum(0, ...) takes the maximum elementwise"),
    Wrong("hinge_loss", hinge_loop_float64, hint="your result is float64 for float32 inputs"),
    Wrong("gd_1d", gd_batch, hint="one update per epoch instead of per sample"),
    Wrong("gd_1d", gd_reversed, hint="wrong order"),
]
