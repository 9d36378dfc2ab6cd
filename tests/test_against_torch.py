"""cnnlab's kernels against PyTorch (CPU, float64), where PyTorch is installed (it is not a
dependency: `pip install torch==2.13.0` gives the CPU build the benchmarks use)."""

import numpy as np
import pytest

from cnnlab import conv, nn, pooling

torch = pytest.importorskip("torch")

CASES = [
    # x shape, w shape, stride, pad
    ((3, 1, 28, 28), (8, 1, 3, 3), 1, 1),           # the capstone's first layer
    ((3, 8, 14, 14), (16, 8, 3, 3), 1, 1),          # and its second
    ((2, 3, 12, 12), (5, 3, 5, 5), 1, 2),
    ((2, 8, 14, 13), (4, 8, 3, 3), 2, 1),
    ((2, 2, 11, 9), (3, 2, 3, 2), (3, 2), (2, 0)),
    ((1, 4, 5, 5), (2, 4, 5, 5), 1, 0),
]


def close(ours, theirs):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CASES)
def test_conv2d_matches_torch(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, cache = conv.conv2d_forward(x, w, b, stride, pad)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv.conv2d_backward(dout, cache)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
    out_t.backward(torch.from_numpy(dout))
    for ours, theirs in [(out, out_t), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)]:
        close(ours, theirs)


@pytest.mark.parametrize("shape, size, stride", [((2, 3, 8, 8), 2, None), ((2, 2, 9, 7), 3, 2)])
def test_maxpool_matches_torch(shape, size, stride):
    x = np.random.default_rng(4).standard_normal(shape)
    out, cache = pooling.maxpool2d_forward(x, size, stride)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    xt = torch.from_numpy(x).requires_grad_()
    out_t = torch.nn.functional.max_pool2d(xt, size, stride)
    out_t.backward(torch.from_numpy(dout))
    close(out, out_t)
    close(pooling.maxpool2d_backward(dout, cache), xt.grad)


def test_capstone_network_gradients_match_torch():
    # The capstone's architecture (conv 8, pool, conv 16, pool, linear), first layer without dx.
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, pad=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, pad=1, rng=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 10, rng=2),
    ).astype(np.float64)
    model.needs_input_grad = False
    tmodel = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 7 * 7, 10),
    ).double()
    with torch.no_grad():
        for tp, (_, p) in zip(tmodel.parameters(), model.named_parameters()):
            p.data[...] = np.random.default_rng(tp.numel()).standard_normal(p.shape) * 0.3
            tp.copy_(torch.from_numpy(p.data))
    x = np.random.default_rng(6).standard_normal((4, 1, 28, 28))
    out = model(x)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    assert model.backward(dout) is None
    out_t = tmodel(torch.from_numpy(x))
    out_t.backward(torch.from_numpy(dout))
    close(out, out_t)
    for tp, (name, p) in zip(tmodel.parameters(), model.named_parameters()):
        close(p.grad, tp.grad)
