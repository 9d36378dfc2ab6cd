"""Tests of cnnlab.nn: every layer's gradients (numerical and by hand), whole networks,
gradient accumulation, modes, saving/loading, initialisation, printing and bad input."""

import math

import numpy as np
import pytest

from cnnlab import backend, functional as F, nn
from cnnlab.gradcheck import check_directional, numerical_gradient, rel_error

TOL = 1e-6


def projection_loss(shape, seed=1):
    """loss(out) = sum(out * D) for a fixed random D, with dL/dout = D."""
    D = np.random.default_rng(seed).standard_normal(shape)
    return lambda out: (float((out * D).sum()), D)


def assert_grads_match(model, x, loss_fn, tol=TOL):
    """Backward of ``model`` (input and every parameter) against float64 central differences;
    the input gradient must be None instead when the model's ``needs_input_grad`` is False."""
    model.zero_grad()
    loss, dout = loss_fn(model(x))
    dx = model.backward(dout)

    def f(_):
        return loss_fn(model(x))[0]

    if model.needs_input_grad:
        assert dx.shape == x.shape
        err = rel_error(dx, numerical_gradient(f, x))
        assert err < tol, f"dx: relative error {err:.2e}"
    else:
        assert dx is None
    for name, p in model.named_parameters():
        assert p.grad.shape == p.shape
        err = rel_error(p.grad, numerical_gradient(f, p.data))
        assert err < tol, f"{name}: relative error {err:.2e}"


def randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# --- Parameter ------------------------------------------------------------------------------

def test_parameter_has_zero_grad_like_data():
    p = nn.Parameter(np.ones((2, 3), dtype=np.float32), name="weight")
    assert p.shape == (2, 3) and p.name == "weight"
    assert p.grad.shape == (2, 3) and p.grad.dtype == np.float32
    assert not p.grad.any()
    assert repr(p) == "Parameter('weight', shape=(2, 3), dtype=float32)"


def test_parameter_rejects_non_float_data():
    with pytest.raises(TypeError, match="data must be a NumPy or CuPy array"):
        nn.Parameter([1.0, 2.0])
    with pytest.raises(TypeError, match="data must hold floating-point"):
        nn.Parameter(np.arange(3))


# --- Linear ---------------------------------------------------------------------------------

def test_linear_by_hand():
    layer = nn.Linear(2, 2, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 2.0], [3.0, 4.0]]
    layer.bias.data[...] = [0.5, -1.0]
    out = layer(np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(out, [[3.5, 6.0]])
    dx = layer.backward(np.array([[1.0, 0.0]]))
    np.testing.assert_allclose(dx, [[1.0, 2.0]])
    np.testing.assert_allclose(layer.weight.grad, [[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(layer.bias.grad, [1.0, 0.0])


def test_linear_gradients():
    layer = nn.Linear(5, 3, dtype=np.float64, rng=0)
    layer.bias.data[...] = randn(3, seed=2)  # nonzero bias so it matters in the check
    assert_grads_match(layer, randn(4, 5), projection_loss((4, 3)))


def test_linear_keeps_float32():
    layer = nn.Linear(4, 3, rng=0)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    out = layer(randn(2, 4).astype(np.float32))
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == layer.weight.grad.dtype == np.float32


def test_linear_bad_input():
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\).*got \(2, 5\)"):
        layer(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must be a 2-D array"):
        layer(np.zeros((2, 2, 1), dtype=np.float32))
    with pytest.raises(TypeError, match=r"x has dtype float64 but the parameters of Linear are float32"):
        layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="in_features must be an integer >= 1; got 0"):
        nn.Linear(0, 3)
    with pytest.raises(TypeError, match="out_features must be an integer"):
        nn.Linear(4, 2.5)
    with pytest.raises(TypeError, match="dtype must be a floating-point dtype"):
        nn.Linear(4, 3, dtype=np.int32)
    with pytest.raises(TypeError, match="rng must be"):
        nn.Linear(4, 3, rng="seed")


def test_backward_before_forward_raises():
    for layer in (nn.Linear(2, 2), nn.ReLU(), nn.Sequential(nn.ReLU()), nn.Dropout(),
                  nn.Conv2d(1, 1, 1), nn.MaxPool2d()):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward was called before forward"):
            layer.backward(np.zeros((1, 2)))


def test_dout_must_match_output_shape():
    layer = nn.Linear(3, 2)
    layer(np.zeros((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output, \(4, 2\); got \(4, 3\)"):
        layer.backward(np.zeros((4, 3), dtype=np.float32))
    relu = nn.ReLU()
    relu(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="dout must be a NumPy or CuPy array"):
        relu.backward([[1.0, 1.0], [1.0, 1.0]])


# --- Conv2d ---------------------------------------------------------------------------------

def test_conv2d_by_hand():
    conv = nn.Conv2d(1, 1, kernel_size=2, dtype=np.float64)
    conv.weight.data[...] = np.array([[1.0, 0.0], [0.0, -1.0]])
    conv.bias.data[...] = 0.5
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out = conv(x)
    # every window: x[i, j] - x[i+1, j+1] + 0.5 = -4 + 0.5
    np.testing.assert_allclose(out, np.full((1, 1, 2, 2), -3.5))
    dx = conv.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_allclose(dx[0, 0], [[1, 1, 0], [1, 0, -1], [0, -1, -1]])
    # dw[a, b] = sum of the 2x2 block of x starting at (a, b)
    np.testing.assert_allclose(conv.weight.grad[0, 0], [[8, 12], [20, 24]])
    np.testing.assert_allclose(conv.bias.grad, [4.0])


@pytest.mark.parametrize("kwargs, shape", [
    (dict(kernel_size=3, stride=1, pad=1), (2, 2, 5, 5)),
    (dict(kernel_size=(3, 2), stride=2, pad=(1, 0)), (2, 2, 7, 6)),
])
def test_conv2d_gradients(kwargs, shape):
    conv = nn.Conv2d(2, 3, dtype=np.float64, rng=1, **kwargs)
    conv.bias.data[...] = randn(3, seed=3)
    out_shape = conv(randn(*shape)).shape
    assert_grads_match(conv, randn(*shape), projection_loss(out_shape))


def test_conv2d_output_shape_and_bad_input():
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, pad=1)
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    assert conv(np.zeros((2, 3, 9, 9), dtype=np.float32)).shape == (2, 8, 5, 5)
    with pytest.raises(ValueError, match=r"x must have 3 channels.*got \(2, 1, 9, 9\)"):
        conv(np.zeros((2, 1, 9, 9), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x must be a 4-D array \(N, C, H, W\)"):
        conv(np.zeros((3, 9, 9), dtype=np.float32))
    with pytest.raises(ValueError, match="kernel_size must be an integer >= 1; got 0"):
        nn.Conv2d(1, 1, 0)
    with pytest.raises(ValueError, match="stride must be an integer >= 1; got 0"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="pad must be an integer >= 0; got -1"):
        nn.Conv2d(1, 1, 3, pad=-1)
    with pytest.raises(ValueError, match="in_channels must be an integer >= 1"):
        nn.Conv2d(0, 1, 3)


# --- stateless layers -------------------------------------------------------------------------

def test_relu_and_flatten_by_hand():
    relu = nn.ReLU()
    x = np.array([[-1.0, 2.0, 0.5, -0.5]])
    np.testing.assert_allclose(relu(x), [[0.0, 2.0, 0.5, 0.0]])
    np.testing.assert_allclose(relu.backward(np.array([[1.0, 2.0, 3.0, 4.0]])), [[0.0, 2.0, 3.0, 0.0]])
    flat = nn.Flatten()
    x = np.arange(24.0).reshape(2, 3, 2, 2)
    out = flat(x)
    assert out.shape == (2, 12)
    np.testing.assert_array_equal(out[1], np.arange(12.0, 24.0))
    np.testing.assert_array_equal(flat.backward(out), x)


def test_maxpool_by_hand_and_overlapping_windows():
    pool = nn.MaxPool2d(2)
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    np.testing.assert_allclose(pool(x), [[[[5.0]]]])
    np.testing.assert_allclose(pool.backward(np.array([[[[2.0]]]])), [[[[0.0, 2.0], [0.0, 0.0]]]])
    # size 2, stride 1: the centre 9 is the max of all four windows, so it receives all of dout
    pool = nn.MaxPool2d(size=2, stride=1)
    x = np.array([[[[1.0, 2.0, 1.0], [2.0, 9.0, 2.0], [1.0, 2.0, 1.0]]]])
    np.testing.assert_allclose(pool(x), np.full((1, 1, 2, 2), 9.0))
    dx = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_allclose(dx[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_avgpool_by_hand():
    pool = nn.AvgPool2d(2)
    x = np.array([[[[1.0, 5.0], [3.0, 3.0]]]])
    np.testing.assert_allclose(pool(x), [[[[3.0]]]])
    np.testing.assert_allclose(pool.backward(np.array([[[[2.0]]]])), np.full((1, 1, 2, 2), 0.5))


@pytest.mark.parametrize("layer", [
    nn.ReLU(), nn.Flatten(), nn.MaxPool2d(2), nn.MaxPool2d(size=3, stride=2), nn.AvgPool2d(2),
    nn.AvgPool2d(size=3, stride=2),
], ids=repr)
def test_stateless_layer_gradients(layer):
    x = randn(2, 2, 7, 7, seed=5)
    assert_grads_match(layer, x, projection_loss(layer(x).shape))


def test_pool_arguments():
    assert (nn.MaxPool2d(3).size, nn.MaxPool2d(3).stride) == ((3, 3), (3, 3))
    assert nn.AvgPool2d(3, stride=1).stride == (1, 1)
    with pytest.raises(ValueError, match="size must be an integer >= 1; got 0"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="stride must be an integer >= 1; got 0"):
        nn.AvgPool2d(2, stride=0)


# --- Dropout ------------------------------------------------------------------------------------

def test_dropout_train_mode_drops_and_scales():
    drop = nn.Dropout(keep=0.8, rng=0)
    x = np.ones((200, 500))
    out = drop(x)
    kept = out != 0
    assert abs(kept.mean() - 0.8) < 0.01  # 100,000 units: the standard error is about 0.0013
    np.testing.assert_allclose(out[kept], 1 / 0.8)  # inverted: kept units scaled by 1/keep
    # backward uses the forward's mask: the same units, the same scale
    dout = randn(200, 500, seed=1)
    np.testing.assert_allclose(drop.backward(dout), dout * out)
    # a new forward draws a new mask
    assert (drop(x) != out).any()


def test_dropout_eval_mode_and_non_inverted():
    x = randn(3, 4)
    drop = nn.Dropout(keep=0.5)
    assert drop.eval() is drop and not drop.training
    np.testing.assert_array_equal(drop(x), x)
    np.testing.assert_array_equal(drop.backward(np.ones((3, 4))), np.ones((3, 4)))
    seeds = nn.Dropout(keep=0.5, inverted=False).eval()
    np.testing.assert_allclose(seeds(x), 0.5 * x)
    seeds.train()
    out = seeds(np.ones((50, 50)))
    assert set(np.unique(out)) == {0.0, 1.0}  # the seeds' form: no scaling in training


def test_dropout_seeded_rng_is_reproducible():
    x = np.ones((10, 10))
    a, b = nn.Dropout(rng=7), nn.Dropout(rng=7)
    np.testing.assert_array_equal(a(x), b(x))
    np.testing.assert_array_equal(a(x), b(x))
    backend.seed(3)
    c = nn.Dropout()(x)
    backend.seed(3)
    np.testing.assert_array_equal(nn.Dropout()(x), c)


def test_dropout_bad_arguments():
    with pytest.raises(ValueError, match=r"keep must be in \(0, 1\]; got 0.0"):
        nn.Dropout(keep=0.0)
    with pytest.raises(ValueError, match=r"keep must be in \(0, 1\]; got 1.5"):
        nn.Dropout(keep=1.5)
    with pytest.raises(TypeError, match="inverted must be True or False"):
        nn.Dropout(inverted="yes")


def test_train_and_eval_propagate_to_children():
    model = nn.Sequential(nn.Linear(4, 4, dtype=np.float64), nn.Dropout(0.5),
                          nn.Sequential(nn.ReLU(), nn.Dropout(0.5)))
    x = np.abs(randn(8, 4)) + 1.0
    model.eval()
    assert not any(m.training for m in (model, model[1], model[2], model[2][1]))
    np.testing.assert_array_equal(model(x), model(x))  # deterministic at test time
    model.train()
    assert all(m.training for m in (model, model[1], model[2], model[2][1]))
    assert (model(x) == 0).any()
    with pytest.raises(TypeError, match="mode must be True or False"):
        model.train("no")


# --- whole networks -------------------------------------------------------------------------------

def cross_entropy(y):
    return lambda logits: F.softmax_cross_entropy(logits, y)


def test_mlp_end_to_end_gradients():
    model = nn.Sequential(nn.Linear(6, 5, rng=0), nn.ReLU(), nn.Linear(5, 4, rng=1), nn.ReLU(),
                          nn.Linear(4, 3, rng=2)).astype(np.float64)
    for p in model.parameters()[1::2]:  # biases, nonzero so that they matter
        p.data[...] = 0.1 * randn(*p.shape, seed=9)
    assert_grads_match(model, randn(7, 6), cross_entropy(np.array([0, 1, 2, 0, 1, 2, 2])))


def small_cnn(rng=0):
    return nn.Sequential(
        nn.Conv2d(1, 2, kernel_size=3, pad=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * 3 * 3, 3, rng=rng + 1),
    )


def test_small_cnn_end_to_end_gradients():
    model = small_cnn().astype(np.float64)
    assert_grads_match(model, randn(2, 1, 6, 6), cross_entropy(np.array([2, 0])))


def test_bigger_cnn_directional_gradients():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, pad=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, pad=1, rng=1), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Dropout(0.5).eval(), nn.Linear(6 * 2 * 2, 5, rng=2),
    ).astype(np.float64)
    params = model.parameters()

    def forward(x, *values):
        for p, value in zip(params, values):
            p.data = value
        return model(x), None

    def backward(dout, _):
        model.zero_grad()
        dx = model.backward(dout)
        return (dx, *[p.grad for p in params])

    # A step along a random direction moves thousands of pre-activations at once, so with
    # h = 1e-5 one of them often crosses a ReLU or max-pool kink (measured: relative errors up
    # to 2e-2); h = 1e-6 crosses ten times fewer, and float64 rounding stays near 1e-10.
    errors = check_directional(forward, backward, [randn(3, 3, 16, 16)] + [p.data for p in params],
                               n_directions=4, h=1e-6, tol=1e-6)
    assert max(errors) < 1e-6


# --- needs_input_grad -----------------------------------------------------------------------------

def test_first_layer_can_skip_the_input_gradient():
    model = small_cnn().astype(np.float64)
    assert model.needs_input_grad and all(layer.needs_input_grad for layer in model)
    model.needs_input_grad = False
    assert [layer.needs_input_grad for layer in model] == [False, True, True, True, True]
    assert model[:2].needs_input_grad is False      # a sequence's flag is its first layer's
    # parameter gradients still match central differences; the input gradient is None
    assert_grads_match(model, randn(2, 1, 6, 6), cross_entropy(np.array([2, 0])))
    model.needs_input_grad = True
    assert_grads_match(model, randn(2, 1, 6, 6), cross_entropy(np.array([2, 0])))


def test_mlp_first_layer_can_skip_the_input_gradient():
    model = nn.Sequential(nn.Linear(6, 5, rng=0), nn.ReLU(), nn.Linear(5, 3, rng=1)).astype(np.float64)
    model.needs_input_grad = False
    assert_grads_match(model, randn(4, 6), cross_entropy(np.array([0, 1, 2, 1])))


@pytest.mark.parametrize("layer, x", [
    (nn.Linear(3, 2, dtype=np.float64, rng=0), randn(4, 3)),
    (nn.Conv2d(1, 2, 3, pad=1, dtype=np.float64, rng=0), randn(2, 1, 4, 4)),
    (nn.ReLU(), randn(2, 3)), (nn.Flatten(), randn(2, 3, 2)), (nn.MaxPool2d(2), randn(1, 1, 4, 4)),
    (nn.AvgPool2d(2), randn(1, 1, 4, 4)), (nn.Dropout(0.5, rng=0), randn(2, 3)),
], ids=lambda v: type(v).__name__)
def test_every_layer_returns_none_without_input_gradient(layer, x):
    out = layer(x)
    layer.needs_input_grad = False
    assert layer.backward(np.ones_like(out)) is None
    layer.needs_input_grad = True
    assert layer.backward(np.ones_like(out)).shape == x.shape


def test_needs_input_grad_errors():
    model = small_cnn().astype(np.float64)
    with pytest.raises(TypeError, match="needs_input_grad must be True or False; got 0"):
        model.needs_input_grad = 0
    with pytest.raises(TypeError, match="needs_input_grad must be True or False"):
        model[0].needs_input_grad = "no"
    model[2].needs_input_grad = False   # a middle layer: the layers before it need its gradient
    out = model(randn(2, 1, 6, 6))
    with pytest.raises(RuntimeError, match=r"layer 2 of the Sequential returned no input gradient .* "
                                           r"but layer 1 needs one"):
        model.backward(np.ones_like(out))
    empty = nn.Sequential()
    empty.needs_input_grad = False
    assert empty.needs_input_grad is False


def test_float32_network_runs_in_float32():
    model = small_cnn()
    x = randn(2, 1, 6, 6).astype(np.float32)
    out = model(x)
    dx = model.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_gradients_accumulate_and_zero_grad_clears():
    model = small_cnn().astype(np.float64)
    x, y = randn(2, 1, 6, 6), np.array([1, 2])
    _, dlogits = F.softmax_cross_entropy(model(x), y)
    model.backward(dlogits)
    once = [p.grad.copy() for p in model.parameters()]
    grad_arrays = [p.grad for p in model.parameters()]
    model.backward(dlogits)
    for p, g in zip(model.parameters(), once):
        assert np.abs(g).sum() > 0
        np.testing.assert_allclose(p.grad, 2 * g)
    model.zero_grad()
    for p, g in zip(model.parameters(), grad_arrays):
        assert p.grad is g and not p.grad.any()  # cleared in place


def test_shared_parameter_gets_both_contributions_and_is_listed_once():
    first = nn.Linear(3, 3, dtype=np.float64, rng=0)
    second = nn.Linear(3, 3, dtype=np.float64, rng=1)
    second.weight = first.weight  # tie the weights
    model = nn.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert_grads_match(model, randn(4, 3), projection_loss((4, 3)))


# --- structure -----------------------------------------------------------------------------------

def test_sequential_indexing_and_names():
    model = small_cnn()
    assert len(model) == 5 and isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert [type(m).__name__ for m in model] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    head = model[3:]
    assert isinstance(head, nn.Sequential) and head[1] is model[4]
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "4.weight", "4.bias"]
    assert model.parameters()[0] is model[0].weight
    assert model.num_parameters() == 2 * 9 + 2 + 18 * 3 + 3
    assert nn.Linear(4, 3).num_parameters() == 15
    with pytest.raises(IndexError, match="index 5 is out of range for a Sequential of 5 layers"):
        model[5]
    with pytest.raises(TypeError, match="layer 1 of Sequential must be a cnnlab.nn.Module"):
        nn.Sequential(nn.ReLU(), np.zeros(3))


def test_custom_module_registers_parameters_and_children():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 3, dtype=np.float64, rng=0), nn.ReLU())
            self.scale = nn.Parameter(np.array([2.0]), name="scale")

        def forward(self, x):
            h = self.body(x)
            self._cache = h
            return x + self.scale.data * h

        def backward(self, dout):
            h = self._saved()
            self.scale.grad += (dout * h).sum()
            return dout + self.body.backward(self.scale.data * dout)

    model = Residual()
    assert [n for n, _ in model.named_parameters()] == ["scale", "body.0.weight", "body.0.bias"]
    assert "(body): Sequential(" in repr(model)
    assert_grads_match(model, randn(4, 3), projection_loss((4, 3)))

    class Forgetful(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(RuntimeError, match=r"Forgetful.__init__ must call super\(\).__init__\(\)"):
        Forgetful()
    with pytest.raises(NotImplementedError, match="Module.forward is not implemented"):
        nn.Module()(np.zeros(2))


def test_repr():
    model = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=1, pad=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, (3, 5), stride=(2, 1)), nn.AvgPool2d(3, stride=2), nn.Dropout(0.5),
        nn.Flatten(), nn.Linear(784, 10),
    )
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 8, kernel_size=3, stride=1, pad=1)\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(size=2, stride=2)\n"
        "  (3): Conv2d(8, 16, kernel_size=(3, 5), stride=(2, 1), pad=0)\n"
        "  (4): AvgPool2d(size=3, stride=2)\n"
        "  (5): Dropout(keep=0.5, inverted=True)\n"
        "  (6): Flatten()\n"
        "  (7): Linear(in_features=784, out_features=10)\n"
        ")"
    )
    nested = nn.Sequential(nn.Sequential(nn.ReLU()))
    assert repr(nested) == "Sequential(\n  (0): Sequential(\n    (0): ReLU()\n  )\n)"


# --- initialisation and dtype ------------------------------------------------------------------

def test_he_initialisation_std():
    layer = nn.Linear(1000, 2000, rng=0)
    w = layer.weight.data.astype(np.float64)
    target = math.sqrt(2 / 1000)
    assert abs(w.std() / target - 1) < 0.01  # 2,000,000 draws: the std is within 0.05%
    assert abs(w.mean()) < 0.01 * target
    assert not layer.bias.data.any()
    conv = nn.Conv2d(32, 64, kernel_size=3, rng=0)
    target = math.sqrt(2 / (32 * 3 * 3))
    assert abs(conv.weight.data.std() / target - 1) < 0.02
    assert not conv.bias.data.any()


def test_initialisation_is_reproducible():
    a, b = nn.Conv2d(2, 3, 3, rng=5), nn.Conv2d(2, 3, 3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    backend.seed(11)
    c = nn.Linear(4, 4)
    backend.seed(11)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, c.weight.data)
    assert not np.array_equal(nn.Linear(4, 4).weight.data, c.weight.data)  # the generator moved on


def test_astype_converts_parameters_and_gradients():
    model = small_cnn()
    assert all(p.dtype == np.float32 for p in model.parameters())
    before = model.state_dict()
    assert model.astype(np.float64) is model
    for (name, p) in model.named_parameters():
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, before[name])
    assert model.to("float32") is model and model[0].weight.dtype == np.float32
    with pytest.raises(TypeError, match="dtype must be a floating-point dtype.*got int64"):
        model.astype(np.int64)


# --- state_dict ---------------------------------------------------------------------------------

def test_state_dict_round_trip(tmp_path):
    model = small_cnn(rng=0)
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["0.weight"][...] = 0  # a copy: editing it leaves the model alone
    assert model[0].weight.data.any()

    np.savez(tmp_path / "model.npz", **model.state_dict())
    other = small_cnn(rng=10)
    x = randn(2, 1, 6, 6).astype(np.float32)
    assert not np.allclose(other(x), model(x))
    weight_array = other[0].weight.data
    with np.load(tmp_path / "model.npz") as saved:
        other.load_state_dict(saved)
    np.testing.assert_array_equal(other(x), model(x))
    assert other[0].weight.data is weight_array  # copied into the existing array


def test_load_state_dict_errors_change_nothing():
    model = small_cnn()
    before = model.state_dict()
    state = model.state_dict()
    del state["4.bias"]
    state["5.weight"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"missing keys \['4.bias'\], unexpected keys \['5.weight'\]"):
        model.load_state_dict(state)
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["4.weight"] = np.zeros((3, 17))
    with pytest.raises(ValueError, match=r"state\['4.weight'\] must have shape \(3, 18\); got \(3, 17\)"):
        model.load_state_dict(state)
    state["4.weight"] = np.zeros((3, 18), dtype=np.int64)
    with pytest.raises(TypeError, match=r"state\['4.weight'\] must hold floating-point numbers"):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="state must be a dict of arrays"):
        model.load_state_dict([("0.weight", before["0.weight"])])
    for name, value in model.state_dict().items():  # the zeros of the first keys were not copied in
        np.testing.assert_array_equal(value, before[name])
