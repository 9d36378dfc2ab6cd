"""The small CNN that benchmarks train, built from whichever cnnlab.nn (or torch.nn) is given.

Kept free of imports of cnnlab: benchmarks/ab.py builds it from a checkout of its choice.
"""

from __future__ import annotations


def small_cnn(nn):
    """conv 1->8 3x3 p1, ReLU, max-pool 2, conv 8->16 3x3 p1, ReLU, max-pool 2, flatten, linear
    784->10, in ``nn`` = ``cnnlab.nn``, seeded. The first layer computes no gradient for the
    images, as in ``fit()`` and as in PyTorch for an input that does not require one."""
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, pad=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, pad=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, rng=2),
    )
    model.needs_input_grad = False
    return model


def sgd_step(cl, model, opt, x, y):
    """One SGD step of a ``cl.nn`` model on a batch (``cl`` the cnnlab module): forward, softmax
    cross-entropy, backward, update."""
    opt.zero_grad()
    _, dlogits = cl.F.softmax_cross_entropy(model(x), y)
    model.backward(dlogits)
    opt.step()


def random_images(count, seed=0):
    """``count`` random float32 28x28 images (count, 1, 28, 28), labels 0-9, and batches of 64
    indices in a random order (the last one smaller), as NumPy arrays."""
    import numpy as np

    gen = np.random.default_rng(seed)
    X = gen.standard_normal((count, 1, 28, 28), dtype=np.float32)
    y = gen.integers(0, 10, count)
    order = gen.permutation(count)
    return X, y, [order[i:i + 64] for i in range(0, count, 64)]
