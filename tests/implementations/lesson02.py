"""Lesson 02: right and wrong answers to linear_forward/backward, relu_forward/backward,
backprop_chain and numerical_gradient, written as students write them."""

import numpy as np

from . import Right, Wrong

# --- linear_forward: right ------------------------------------------------------------------


def linear_matmul(x, W, b):
    return x @ W.T + b, (x, W, b)


def linear_dot_loops(x, W, b):
    N, D_out = x.shape[0], W.shape[0]
    out = np.zeros((N, D_out), dtype=x.dtype)
    for n in range(N):
        for j in range(D_out):
            out[n, j] = np.dot(W[j], x[n]) + b[j]
    return out, (x, W)


def linear_einsum(x, W, b):
    return np.einsum("nd,od->no", x, W) + b[None, :], {"x": x, "W": W}


# --- linear_forward: wrong ------------------------------------------------------------------


def linear_transposed_w(x, W, b):
    return x @ W + b, (x, W)


# --- linear_backward: right (each with its own forward, whose cache it reads) ---------------


def linear_backward_matmul(dout, cache):
    x, W, b = cache
    return dout @ W, dout.T @ x, dout.sum(axis=0)


def linear_backward_loops(dout, cache):
    x, W = cache
    dx, dW, db = np.zeros_like(x), np.zeros_like(W), np.zeros(W.shape[0], dtype=W.dtype)
    for n in range(x.shape[0]):  # one sample at a time: its outer product adds into dW
        dx[n] = W.T @ dout[n]
        dW += np.outer(dout[n], x[n])
        db += dout[n]
    return dx, dW, db


def linear_backward_einsum(dout, cache):
    x, W = cache["x"], cache["W"]
    return (np.einsum("no,od->nd", dout, W), np.einsum("no,nd->od", dout, x),
            np.einsum("no->o", dout))


# --- linear_backward: wrong -----------------------------------------------------------------


def linear_backward_transposed(dout, cache):
    x, W, b = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def linear_backward_db_not_summed(dout, cache):
    x, W, b = cache
    return dout @ W, dout.T @ x, dout


def linear_backward_dx_shape(dout, cache):
    x, W, b = cache
    return W.T @ dout.T, dout.T @ x, dout.sum(axis=0)


# --- relu_forward: right --------------------------------------------------------------------


def relu_maximum(x):
    return np.maximum(x, 0), x


def relu_mask(x):
    out = x * (x > 0)
    return out, out  # caching the output works too: out > 0 exactly where x > 0


def relu_where(x):
    return np.where(x > 0, x, np.zeros_like(x)), (x > 0)


def relu_copy_and_clip(x):
    out = x.copy()
    out[out < 0] = 0
    return out, x


# --- relu_forward: wrong --------------------------------------------------------------------


def relu_in_place(x):
    x[x < 0] = 0  # changes the caller's array
    return x, x


# --- relu_backward: right -------------------------------------------------------------------


def relu_backward_mask(dout, cache):
    x = cache
    return dout * (x > 0)


def relu_backward_from_output(dout, cache):
    out = cache
    dx = dout.copy()
    dx[out <= 0] = 0
    return dx


def relu_backward_where(dout, cache):
    positive = cache
    return np.where(positive, dout, 0.0)


# --- relu_backward: wrong -------------------------------------------------------------------


def relu_backward_pass_everything(dout, cache):
    return dout


def relu_backward_zero_passes(dout, cache):
    # Zeroes only the negative inputs: x == 0 still lets the gradient through.
    x = cache
    dx = dout.copy()
    dx[x < 0] = 0
    return dx


def relu_backward_returns_output(dout, cache):
    x = cache
    return np.maximum(x, 0)


# --- backprop_chain: right ------------------------------------------------------------------


def chain_reversed_loop(layers, x, dloss):
    z = x
    for layer in layers:
        z = layer.forward(z)
    g = dloss(z)
    grads = [None] * len(layers)
    for i in range(len(layers) - 1, -1, -1):
        g, grads[i] = layers[i].backward(g)
    return grads


def chain_insert_front(layers, x, dloss):
    out = x
    for layer in layers:
        out = layer.forward(out)
    g, grads = dloss(out), []
    for layer in layers[::-1]:
        g, param_grads = layer.backward(g)
        grads.insert(0, param_grads)
    return grads


def chain_recursive(layers, x, dloss):
    # Forward on the way in, backward on the way out of the recursion.
    def run(i, z):
        if i == len(layers):
            return dloss(z), []
        g, later = run(i + 1, layers[i].forward(z))
        g_prev, mine = layers[i].backward(g)
        return g_prev, [mine] + later
    return run(0, x)[1]


# --- backprop_chain: wrong ------------------------------------------------------------------


def chain_forward_order(layers, x, dloss):
    z = x
    for layer in layers:
        z = layer.forward(z)
    g, grads = dloss(z), []
    for layer in layers:
        g, param_grads = layer.backward(g)
        grads.append(param_grads)
    return grads


def chain_g_not_propagated(layers, x, dloss):
    z = x
    for layer in layers:
        z = layer.forward(z)
    g = dloss(z)
    grads = []
    for layer in reversed(layers):
        _, param_grads = layer.backward(g)
        grads = [param_grads] + grads
    return grads


def chain_same_input(layers, x, dloss):
    for layer in layers:
        z = layer.forward(x)
    g, grads = dloss(z), []
    for layer in reversed(layers):
        g, param_grads = layer.backward(g)
        grads.insert(0, param_grads)
    return grads


# --- numerical_gradient: right --------------------------------------------------------------


def numgrad_ndindex(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numgrad_nditer(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        fp = f(x)
        x[i] = saved - h
        fm = f(x)
        x[i] = saved
        grad[i] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def numgrad_on_copies(f, x, h=1e-5):
    # Never touches x: perturbs copies instead.
    flat = x.ravel()
    grad = np.empty(flat.size)
    for k in range(flat.size):
        step = np.zeros(flat.size)
        step[k] = h
        grad[k] = (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * h)
    return grad.reshape(x.shape)


# --- numerical_gradient: wrong --------------------------------------------------------------


def numgrad_forward_difference(f, x, h=1e-5):
    grad = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(*x.shape):
        old = x[i]
        x[i] = old + h
        grad[i] = (f(x) - fx) / h
        x[i] = old
    return grad


def numgrad_not_restored(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numgrad_restored_by_arithmetic(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        x[i] += h
        plus = f(x)
        x[i] -= 2 * h
        minus = f(x)
        x[i] += h  # x + h - 2h + h is not always exactly x in floating point
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numgrad_first_axis_only(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for i in range(len(x)):  # a whole row at once when x is 2-D
        old = x[i].copy()
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


RIGHT = [
    Right("linear_forward", linear_matmul),
    Right("linear_forward", linear_dot_loops),
    Right("linear_forward", linear_einsum),
    Right("linear_backward", linear_backward_matmul, partners={"forward": linear_matmul}),
    Right("linear_backward", linear_backward_loops, partners={"forward": linear_dot_loops}),
    Right("linear_backward", linear_backward_einsum, partners={"forward": linear_einsum}),
    Right("relu_forward", relu_maximum),
    Right("relu_forward", relu_mask),
    Right("relu_forward", relu_where),
    Right("relu_forward", relu_copy_and_clip),
    Right("relu_backward", relu_backward_mask, partners={"forward": relu_maximum}),
    Right("relu_backward", relu_backward_from_output, partners={"forward": relu_mask}),
    Right("relu_backward", relu_backward_where, partners={"forward": relu_where}),
    Right("backprop_chain", chain_reversed_loop),
    Right("backprop_chain", chain_insert_front),
    Right("backprop_chain", chain_recursive),
    Right("numerical_gradient", numgrad_ndindex),
    Right("numerical_gradient", numgrad_nditer),
    Right("numerical_gradient", numgrad_on_copies),
]

WRONG = [
    Wrong("linear_forward", linear_transposed_w, hint="transposed W"),
    Wrong("linear_backward", linear_backward_transposed, hint="transposed W",
          partners={"forward": linear_matmul}),
    Wrong("linear_backward", linear_backward_db_not_summed, hint="db not summed over batch",
          partners={"forward": linear_matmul}),
    Wrong("linear_backward", linear_backward_dx_shape, hint="dx shape",
          partners={"forward": linear_matmul}),
    Wrong("relu_forward", relu_in_place, hint="changed its input `x` in place"),
    Wrong("relu_backward", relu_backward_pass_everything, hint="gradient passed where x < 0",
          partners={"forward": relu_maximum}),
    Wrong("relu_backward", relu_backward_zero_passes, hint="gradient passed at x = 0",
          partners={"forward": relu_maximum}),
    Wrong("relu_backward", relu_backward_returns_output, hint="gradient equal to output",
          partners={"forward": relu_maximum}),
    Wrong("backprop_chain", chain_forward_order, hint="layers visited in forward order"),
    Wrong("backprop_chain", chain_g_not_propagated, hint="g not propagated"),
    Wrong("backprop_chain", chain_same_input, hint="every layer got x"),
    Wrong("numerical_gradient", numgrad_forward_difference, hint="one-sided difference"),
    Wrong("numerical_gradient", numgrad_not_restored, hint="x left modified"),
    Wrong("numerical_gradient", numgrad_restored_by_arithmetic, hint="x left modified"),
    Wrong("numerical_gradient", numgrad_first_axis_only, hint="values differ"),
]

# --- softmax_cross_entropy ------------------------------------------------------------------


def softmax_ce_log_sum_exp(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dlogits = np.exp(log_p)
    dlogits[np.arange(n), y] -= 1
    return -log_p[np.arange(n), y].mean(), dlogits / n


def softmax_ce_rows(logits, y):
    # One sample at a time, the probabilities first and a one-hot matrix for the labels.
    n, k = logits.shape
    loss = 0.0
    dlogits = np.empty_like(logits)
    onehot = np.eye(k, dtype=logits.dtype)[y]
    for i in range(n):
        s = logits[i] - np.max(logits[i])
        e = np.exp(s)
        loss += np.log(e.sum()) - s[y[i]]          # -log p_y, without the log of a tiny p_y
        dlogits[i] = (e / e.sum() - onehot[i]) / n
    return logits.dtype.type(loss / n), dlogits


def softmax_ce_no_max(logits, y):
    n = logits.shape[0]
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(n), y]))
    p[np.arange(n), y] -= 1
    return loss, p / n


def softmax_ce_sum_not_mean_grad(logits, y):
    # Stable loss (log-sum-exp), so that the gradient's missing 1/N is its one mistake.
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    loss = -(shifted[np.arange(n), y] - log_sum).mean()
    p = np.exp(shifted - log_sum[:, None])
    p[np.arange(n), y] -= 1
    return loss, p


def softmax_ce_probabilities_only(logits, y):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(n), y].mean(), np.exp(log_p) / n


def softmax_ce_log_of_underflow(logits, y):
    # The maximum is subtracted, but the log is taken of probabilities that underflowed to 0.
    n = logits.shape[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    p[np.arange(n), y] -= 1
    return loss, p / n


def softmax_ce_float64(logits, y):
    loss, dlogits = softmax_ce_log_sum_exp(logits.astype(np.float64), y)
    return loss, dlogits


RIGHT += [
    Right("softmax_cross_entropy", softmax_ce_log_sum_exp),
    Right("softmax_cross_entropy", softmax_ce_rows),
]

WRONG += [
    Wrong("softmax_cross_entropy", softmax_ce_no_max, hint="overflow (no max subtracted)"),
    Wrong("softmax_cross_entropy", softmax_ce_sum_not_mean_grad, hint="gradient not divided by N"),
    Wrong("softmax_cross_entropy", softmax_ce_probabilities_only, hint="onehot missing"),
    Wrong("softmax_cross_entropy", softmax_ce_float64, hint="wrong dtype: expected float32, got float64"),
    Wrong("softmax_cross_entropy", softmax_ce_log_of_underflow, hint="overflow (no max subtracted)"),
]
