"""Lesson 07: right and wrong answers to minibatches, sgd_step and train_epoch, written as students
write them."""

import numpy as np

import cnnlab as cl

from . import Right, Wrong

# --- minibatches: right ---------------------------------------------------------------------


def batches_generator(X, y, batch_size, rng):
    idx = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        take = idx[start:start + batch_size]
        yield X[take], y[take]


def batches_list_shuffle_in_place(X, y, batch_size, rng):
    order = np.arange(X.shape[0])
    rng.shuffle(order)  # shuffles the index array, not X
    out = []
    i = 0
    while i < len(order):
        out.append((X[order[i:i + batch_size]], y[order[i:i + batch_size]]))
        i += batch_size
    return out


def batches_argsort_of_random_keys(X, y, batch_size, rng):
    order = np.argsort(rng.random(len(y)))
    n_batches = -(-len(y) // batch_size)
    return iter([(X[order[b * batch_size:(b + 1) * batch_size]], y[order[b * batch_size:(b + 1) * batch_size]])
                 for b in range(n_batches)])


def batches_choice_without_replacement(X, y, batch_size, rng):
    idx = rng.choice(len(X), size=len(X), replace=False)
    Xs, ys = X[idx], y[idx]  # one shuffled copy of both, then slices
    for start in range(0, len(Xs), batch_size):
        yield Xs[start:start + batch_size], ys[start:start + batch_size]


# --- minibatches: wrong ---------------------------------------------------------------------


def batches_with_replacement(X, y, batch_size, rng):
    # The batch sizes are right; only the indices are drawn with replacement.
    for start in range(0, len(X), batch_size):
        idx = rng.integers(0, len(X), min(batch_size, len(X) - start))
        yield X[idx], y[idx]


def batches_drop_last(X, y, batch_size, rng):
    idx = rng.permutation(len(X))
    for b in range(len(X) // batch_size):
        take = idx[b * batch_size:(b + 1) * batch_size]
        yield X[take], y[take]


def batches_shuffled_apart(X, y, batch_size, rng):
    Xs = X[rng.permutation(len(X))]
    ys = y[rng.permutation(len(y))]
    for start in range(0, len(X), batch_size):
        yield Xs[start:start + batch_size], ys[start:start + batch_size]


def batches_shuffle_x_in_place(X, y, batch_size, rng):
    idx = rng.permutation(len(X))
    X[:] = X[idx]  # the pairs stay together, but the caller's arrays are reordered
    y[:] = y[idx]
    for start in range(0, len(X), batch_size):
        yield X[start:start + batch_size], y[start:start + batch_size]


def batches_indices_only(X, y, batch_size, rng):
    idx = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        yield idx[start:start + batch_size], y[idx[start:start + batch_size]]


# --- sgd_step: right ------------------------------------------------------------------------


def sgd_subtract(w, grad, lr):
    return w - lr * grad


def sgd_copy_then_update(w, grad, lr):
    new = w.copy()
    new -= lr * grad
    return new


def sgd_np_subtract(w, grad, lr):
    step = np.multiply(grad, lr)
    return np.subtract(w, step)


# --- sgd_step: wrong ------------------------------------------------------------------------


def sgd_in_place(w, grad, lr):
    w -= lr * grad
    return w


def sgd_float64_lr(w, grad, lr):
    lr = np.float64(lr)
    return w - lr * grad


# --- train_epoch: right -----------------------------------------------------------------------


def train_epoch_recipe(model, batches, opt):
    total, seen = 0.0, 0
    for Xb, yb in batches:                                   # sample a minibatch
        opt.zero_grad()
        loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)   # forward pass, loss
        model.backward(dscores)                              # backpropagate
        opt.step()                                           # step
        total += loss * len(yb)
        seen += len(yb)
    return total / seen


def train_epoch_weighted_average(model, batches, opt):
    losses, sizes = [], []
    for Xb, yb in batches:
        scores = model.forward(Xb)
        loss, dscores = cl.F.softmax_cross_entropy(scores, yb)
        model.zero_grad()                                    # the model's own zero_grad works too
        model.backward(dscores)
        opt.step()
        losses.append(float(loss))
        sizes.append(Xb.shape[0])
    return float(np.average(losses, weights=sizes))


# --- train_epoch: wrong -----------------------------------------------------------------------


def train_epoch_zeroed_once(model, batches, opt):
    opt.zero_grad()                                          # only before the first batch
    total, n = 0.0, 0
    for Xb, yb in batches:
        loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        total += loss * len(yb)
        n += len(yb)
    return total / n


def train_epoch_batch_means(model, batches, opt):
    total = 0.0
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
        model.backward(dscores)
        opt.step()
        total += loss
    return total / len(batches)


def train_epoch_step_first(model, batches, opt):
    total, seen = 0.0, 0
    for Xb, yb in batches:
        opt.zero_grad()
        loss, dscores = cl.F.softmax_cross_entropy(model(Xb), yb)
        opt.step()
        model.backward(dscores)
        total += loss * len(yb)
        seen += len(yb)
    return total / seen


RIGHT = [
    Right("minibatches", batches_generator),
    Right("minibatches", batches_list_shuffle_in_place),
    Right("minibatches", batches_argsort_of_random_keys),
    Right("minibatches", batches_choice_without_replacement),
    Right("sgd_step", sgd_subtract),
    Right("sgd_step", sgd_copy_then_update),
    Right("sgd_step", sgd_np_subtract),
    Right("train_epoch", train_epoch_recipe),
    Right("train_epoch", train_epoch_weighted_average),
]

WRONG = [
    Wrong("minibatches", batches_with_replacement, hint="sampling with replacement"),
    Wrong("minibatches", batches_drop_last, hint="last batch dropped"),
    Wrong("minibatches", batches_shuffled_apart, hint="X and y shuffled apart"),
    Wrong("minibatches", batches_shuffle_x_in_place, hint="changed its input `X` in place"),
    Wrong("minibatches", batches_indices_only, hint="a batch must hold whole samples"),
    Wrong("sgd_step", sgd_in_place, hint="changed its input `w` in place"),
    Wrong("sgd_step", sgd_float64_lr, hint="keep w's dtype"),
    Wrong("train_epoch", train_epoch_zeroed_once, hint="gradients not zeroed"),
    Wrong("train_epoch", train_epoch_batch_means, hint="mean of batch means"),
    Wrong("train_epoch", train_epoch_step_first, hint="step before backward"),
]
