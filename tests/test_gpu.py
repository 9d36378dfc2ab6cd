"""The CuPy backend: every op, autograd and a short training run agree with NumPy.

Marked ``gpu``: skipped (by conftest.py) where CuPy or a CUDA GPU is missing.
"""

import numpy as np
import pytest

import cnnlab as cl
from cnnlab import backend

pytestmark = pytest.mark.gpu

F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=2e-4, atol=1e-5)


@pytest.fixture
def cupy():
    backend.use("cupy")
    yield backend.xp
    backend.use("numpy")


def _both(fn, *arrays, **kwargs):
    """Run ``fn`` on NumPy inputs and on their CuPy copies; return both results as NumPy."""
    import cupy

    on_cpu = fn(*arrays, **kwargs)
    on_gpu = fn(*[cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays], **kwargs)
    return on_cpu, on_gpu


def _assert_tree_close(cpu, gpu, tol):
    if isinstance(cpu, (tuple, list)):
        assert len(cpu) == len(gpu)
        for a, b in zip(cpu, gpu):
            _assert_tree_close(a, b, tol)
    elif backend.is_array(gpu) or isinstance(cpu, np.ndarray):
        assert type(gpu).__module__.startswith("cupy"), f"expected a CuPy result, got {type(gpu)}"
        assert gpu.dtype == cpu.dtype
        np.testing.assert_allclose(backend.asnumpy(gpu), cpu, **tol)
    elif isinstance(cpu, float):
        assert gpu == pytest.approx(cpu, rel=tol["rtol"], abs=tol["atol"])


def _forward_backward(name, *inputs, **kwargs):
    forward = getattr(cl.F, f"{name}_forward")
    backward = getattr(cl.F, f"{name}_backward")
    out, cache = forward(*inputs, **kwargs)
    xp = backend.get_array_module(out)
    dout = xp.asarray(np.random.default_rng(9).standard_normal(out.shape)).astype(out.dtype)
    return out, backward(dout, cache)


CASES = [
    ("linear", [(8, 5), (3, 5), (3,)], {}),
    ("relu", [(4, 3, 6, 6)], {}),
    ("flatten", [(4, 3, 6, 6)], {}),
    ("conv2d", [(4, 3, 9, 9), (5, 3, 3, 3), (5,)], {"stride": 2, "pad": 1}),
    ("conv2d", [(2, 2, 8, 7), (3, 2, 2, 3), (3,)], {"stride": (1, 2), "pad": (0, 1)}),
    ("maxpool2d", [(3, 2, 9, 9)], {"size": 3, "stride": 2}),
    ("avgpool2d", [(3, 2, 8, 8)], {"size": 2}),
]


@pytest.mark.parametrize("dtype, tol", [(np.float64, F64), (np.float32, F32)])
@pytest.mark.parametrize("name, shapes, kwargs", CASES)
def test_functional_ops_match_numpy(cupy, name, shapes, kwargs, dtype, tol):
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    cpu, gpu = _both(lambda *a: _forward_backward(name, *a, **kwargs), *inputs)
    _assert_tree_close(cpu, gpu, tol)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_matches_numpy(cupy, inverted):
    x = np.random.default_rng(0).standard_normal((16, 10))
    cpu, gpu = _both(lambda a: _forward_backward("dropout", a, keep=0.7, rng=4, inverted=inverted), x)
    _assert_tree_close(cpu, gpu, F64)  # the mask is drawn on the host: identical on both


def test_softmax_cross_entropy_matches_numpy(cupy):
    rng = np.random.default_rng(0)
    logits, y = rng.standard_normal((16, 10)), rng.integers(0, 10, 16)
    cpu, gpu = _both(cl.F.softmax_cross_entropy, logits, y)
    _assert_tree_close(cpu, gpu, F64)


def test_losses_match_numpy(cupy):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(20), rng.standard_normal(20)
    for loss in (cl.F.l1_loss, cl.F.l2_loss):
        _assert_tree_close(*_both(loss, a, b), F64)
    signs = np.where(b > 0, 1.0, -1.0)
    _assert_tree_close(*_both(cl.F.hinge_loss, a, signs), F64)


def test_autograd_matches_numpy(cupy):
    from cnnlab.autograd import Tensor, conv2d, maxpool2d, softmax_cross_entropy

    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(4, 1, 8, 8), (3, 1, 3, 3), (3,), (48, 5), (5,)]]
    y = rng.integers(0, 5, 4)

    def loss_and_grads(x, w, b, W, c, labels):
        x, w, b, W, c = (Tensor(a, requires_grad=True) for a in (x, w, b, W, c))
        h = maxpool2d(conv2d(x, w, b, pad=1).relu(), size=2).reshape(4, 48)
        loss = softmax_cross_entropy(h @ W + c, labels)
        loss.backward()
        return [float(loss.data)] + [t.grad for t in (x, w, b, W, c)]

    cpu, gpu = _both(loss_and_grads, *arrays, y)
    _assert_tree_close(cpu, gpu, F64)


def test_short_training_run_matches_numpy():
    """Ten SGD steps of a small CNN give the same weights on both backends (float64)."""
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 12, 12))
    y = rng.integers(0, 10, 64)

    def train():
        backend.seed(0)
        model = cl.nn.Sequential(
            cl.nn.Conv2d(1, 4, 3, pad=1, dtype=np.float64), cl.nn.ReLU(), cl.nn.MaxPool2d(2),
            cl.nn.Flatten(), cl.nn.Dropout(keep=0.8), cl.nn.Linear(144, 10, dtype=np.float64),
        )
        opt = cl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        xb, yb = backend.asarray(X), backend.asarray(y)
        losses = []
        for _ in range(10):
            opt.zero_grad()
            loss, dlogits = cl.F.softmax_cross_entropy(model(xb), yb)
            model.backward(dlogits)
            opt.step()
            losses.append(loss)
        return losses, model.state_dict()

    cpu_losses, cpu_state = train()
    backend.use("cupy")
    try:
        gpu_losses, gpu_state = train()
    finally:
        backend.use("numpy")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-8)
    assert cpu_losses[-1] < cpu_losses[0]
    for key, value in cpu_state.items():
        np.testing.assert_allclose(gpu_state[key], value, rtol=1e-7, atol=1e-10)


def test_fit_matches_numpy():
    """fit() (device-side accuracy counts, first layer without dx) gives the same history."""
    rng = np.random.default_rng(1)
    X, y = rng.random((48, 1, 8, 8)), rng.integers(0, 3, 48)

    def run():
        model = cl.nn.Sequential(cl.nn.Conv2d(1, 3, 3, pad=1, dtype=np.float64, rng=0), cl.nn.ReLU(),
                                 cl.nn.MaxPool2d(2), cl.nn.Flatten(), cl.nn.Linear(48, 3, dtype=np.float64, rng=1))
        opt = cl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = cl.train.fit(model, opt, (X[:32], y[:32]), val=(X[32:], y[32:]), epochs=2, batch_size=8,
                               rng=0, progress=False)
        return history, model.needs_input_grad

    (cpu, cpu_flag) = run()
    backend.use("cupy")
    try:
        (gpu, gpu_flag) = run()
    finally:
        backend.use("numpy")
    assert cpu_flag is gpu_flag is True
    assert gpu.train_acc == cpu.train_acc and gpu.val_acc == cpu.val_acc
    np.testing.assert_allclose(gpu.train_loss, cpu.train_loss, rtol=1e-8)
    assert all(type(v) is float for v in gpu.train_acc + gpu.val_acc)
