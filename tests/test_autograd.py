"""Tests of cnnlab.autograd: every op against float64 numerical gradients and hand-worked values,
gradient accumulation, no_grad, the CNN ops against cnnlab.functional (draw_graph: test_plot.py)."""

import math

import numpy as np
import pytest

from cnnlab import autograd as ag
from cnnlab import functional as F
from cnnlab.autograd import Tensor, no_grad
from cnnlab.gradcheck import numerical_gradient_array, rel_error


def rand(*shape, seed=0, low=None):
    """float64 standard normals; with ``low``, uniform in [low, low + 1] (for log, pow, div)."""
    gen = np.random.default_rng(seed)
    if low is not None:
        return gen.uniform(low, low + 1, size=shape)
    return gen.standard_normal(shape)


def check_op(fn, *arrays, tol=1e-7):
    """tinygrad-style helper: run ``fn`` on tensors made from ``arrays``, backpropagate a random
    upstream gradient, and compare every input's .grad with central differences of ``fn``."""
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    dout = np.random.default_rng(99).standard_normal(out.shape)
    out.backward(dout)
    for i, t in enumerate(tensors):
        def f(v, i=i):
            args = [Tensor(a) for a in arrays]
            args[i] = Tensor(v)
            return fn(*args).data
        numeric = numerical_gradient_array(f, arrays[i].copy(), dout)
        assert t.grad.shape == t.shape, f"input {i}: grad shape {t.grad.shape} != {t.shape}"
        err = rel_error(t.grad, numeric)
        assert err < tol, f"input {i}: relative error {err:.2e}"
    return out, tensors


# --- every op against numerical gradients -------------------------------------------------------

BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                 ((4,), (2, 3, 4)), ((3, 4), ())]


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a / b], ids=["add", "sub", "mul", "truediv"])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
def test_binary_ops_with_broadcasting(op, shapes):
    a = rand(*shapes[0], seed=1)
    b = rand(*shapes[1], seed=2, low=0.5)  # away from 0, for the division
    out, (ta, tb) = check_op(op, a, b)
    np.testing.assert_allclose(out.data, op(a, b))
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape


@pytest.mark.parametrize("name, fn, low", [
    ("neg", lambda a: -a, None),
    ("pow2", lambda a: a ** 2, None),
    ("pow3", lambda a: a ** 3, None),
    ("pow_half", lambda a: a ** 0.5, 0.5),
    ("pow_minus1", lambda a: a ** -1, 0.5),
    ("exp", lambda a: a.exp(), None),
    ("log", lambda a: a.log(), 0.5),
    ("relu", lambda a: a.relu(), None),
    ("sum_all", lambda a: a.sum(), None),
    ("sum_axis0", lambda a: a.sum(axis=0), None),
    ("sum_axes02_keep", lambda a: a.sum(axis=(0, 2), keepdims=True), None),
    ("sum_neg_axis", lambda a: a.sum(axis=-1), None),
    ("mean_all", lambda a: a.mean(), None),
    ("mean_axis1", lambda a: a.mean(axis=1), None),
    ("mean_axis2_keep", lambda a: a.mean(axis=2, keepdims=True), None),
    ("reshape", lambda a: a.reshape(4, 6), None),
    ("reshape_minus1", lambda a: a.reshape((-1, 3)), None),
    ("scalar_mix", lambda a: 3.0 / (1.0 + a * a) - 2 * a + 1, None),
])
def test_unary_ops(name, fn, low):
    a = rand(2, 3, 4, seed=3, low=low)
    if name == "relu":  # keep entries away from the kink at 0, where the difference quotient lies
        a = np.where(np.abs(a) < 0.05, 0.5, a)
    check_op(fn, a)


def test_matmul_and_transpose():
    out, _ = check_op(lambda a, b: a @ b, rand(3, 4, seed=4), rand(4, 2, seed=5))
    assert out.shape == (3, 2)
    out, _ = check_op(lambda a: a.T @ a, rand(3, 4, seed=6))
    assert out.shape == (4, 4)


def test_ops_with_plain_arrays_as_constants():
    c = rand(3, 4, seed=7)
    x = Tensor(rand(3, 4, seed=8), requires_grad=True)
    y = (c * x + c - x / 2.0).sum()  # array * Tensor goes to Tensor.__rmul__
    assert isinstance(y, Tensor)
    y.backward()
    np.testing.assert_allclose(x.grad, c - 0.5)
    m = rand(2, 3, seed=9)
    z = (m @ x).sum()  # array @ Tensor goes to Tensor.__rmatmul__
    x.zero_grad()
    z.backward()
    np.testing.assert_allclose(x.grad, m.T @ np.ones((2, 4)))


# --- hand-computed examples ---------------------------------------------------------------------

def test_hand_computed_exp_example():
    # f = exp(a b + a) at a = 2, b = -3: f = e^-4; df/da = (b + 1) f = -2 e^-4; df/db = a f = 2 e^-4
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(-3.0, requires_grad=True, name="b")
    f = (a * b + a).exp()
    f.backward()
    assert f.item() == pytest.approx(math.exp(-4))
    assert a.grad == pytest.approx(-2 * math.exp(-4))
    assert b.grad == pytest.approx(2 * math.exp(-4))
    assert f.grad == 1.0


def test_hand_computed_square_example():
    # L = (x y + z)^2 at x = 1.5, y = 4, z = -2: u = 4, L = 16, dL/du = 2u = 8,
    # dL/dx = 8 y = 32, dL/dy = 8 x = 12, dL/dz = 8.
    x, y, z = (Tensor(v, requires_grad=True) for v in (1.5, 4.0, -2.0))
    u = x * y + z
    loss = u ** 2
    loss.backward()
    assert loss.item() == 16.0
    assert (x.grad, y.grad, z.grad, u.grad) == (32.0, 12.0, 8.0, 8.0)


def test_hand_computed_log_div_relu_example():
    # g = log(a / b) + relu(a - 5) at a = 3, b = 6: g = log(1/2); dg/da = 1/a + 0 = 1/3
    # (the relu is off), dg/db = -1/b = -1/6.
    a = Tensor(3.0, requires_grad=True)
    b = Tensor(6.0, requires_grad=True)
    g = (a / b).log() + (a - 5).relu()
    g.backward()
    assert g.item() == pytest.approx(math.log(0.5))
    assert a.grad == pytest.approx(1 / 3)
    assert b.grad == pytest.approx(-1 / 6)


def test_hand_computed_matrix_example():
    # y = sum(A @ x) with A = [[1, 2], [3, 4]], x = [[5], [6]]: dy/dx = column sums of A = [4, 6],
    # dy/dA = each row is x^T = [[5, 6], [5, 6]].
    A = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = Tensor([[5.0], [6.0]], requires_grad=True)
    y = (A @ x).sum()
    y.backward()
    assert y.item() == 5 + 12 + 15 + 24
    np.testing.assert_array_equal(x.grad, [[4.0], [6.0]])
    np.testing.assert_array_equal(A.grad, [[5.0, 6.0], [5.0, 6.0]])


def test_broadcast_gradient_is_summed_by_hand():
    # y = sum(X + b) for X of shape (3, 2) and b of shape (2,): each b_j is added to 3 rows.
    X = Tensor(np.zeros((3, 2)), requires_grad=True)
    b = Tensor([1.0, 2.0], requires_grad=True)
    (X + b).sum().backward()
    np.testing.assert_array_equal(b.grad, [3.0, 3.0])
    np.testing.assert_array_equal(X.grad, np.ones((3, 2)))


# --- reuse, accumulation, graph order -----------------------------------------------------------

def test_node_used_twice_gets_both_contributions():
    x = Tensor(3.0, requires_grad=True)
    (x * x).backward()
    assert x.grad == 6.0  # d(x^2)/dx = 2x: one x from each side of the product
    y = Tensor(5.0, requires_grad=True)
    (y + y).backward()
    assert y.grad == 2.0


def test_diamond_graph():
    # a -> b = 3a, a -> c = a^2, d = b + c: dd/da = 3 + 2a = 7 at a = 2, through both paths.
    a = Tensor(2.0, requires_grad=True)
    b = a * 3
    c = a ** 2
    d = b + c
    d.backward()
    assert a.grad == 7.0
    assert b.grad == 1.0 and c.grad == 1.0
    order = ag.topological_order(d)
    assert len(order) == len({id(t) for t in order})  # each node once
    for t in order:  # every node after its inputs
        assert all(order.index(i) < order.index(t) for i in t.inputs)


def test_backward_twice():
    x = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    h = x * x
    y = (h * 2.0).sum()
    y.backward()
    first_x, first_h = x.grad.copy(), h.grad.copy()
    np.testing.assert_array_equal(first_x, 4 * x.data)
    # After zeroing, a second pass gives exactly the same gradients.
    x.zero_grad()
    y.backward()
    np.testing.assert_array_equal(x.grad, first_x)
    # Without zeroing, the leaf accumulates (like a parameter over minibatches), but the
    # intermediate h is recomputed, not doubled (which would make x get 3x).
    y.backward()
    np.testing.assert_array_equal(x.grad, 2 * first_x)
    np.testing.assert_array_equal(h.grad, first_h)


def test_shared_node_graph_is_linear_not_exponential():
    # y = y + y, 60 times: 2^60 paths from x to the root but only 61 nodes. A backward that
    # walked paths instead of nodes would never finish; this one gives d/dx = 2^60 exactly.
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(60):
        y = y + y
    assert len(ag.topological_order(y)) == 61
    y.backward()
    assert x.grad == 2.0 ** 60


def test_deep_graph_needs_no_recursion():
    x = Tensor(0.5, requires_grad=True)
    y = x
    for _ in range(5000):  # far beyond Python's default recursion limit of 1000
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_constants_get_no_gradient():
    x = Tensor(rand(3, seed=10), requires_grad=True)
    c = Tensor(rand(3, seed=11))
    k = c.exp()  # computed from constants only: a constant too
    assert not k.requires_grad and k._backward is None
    y = (x * k + c).sum()
    y.backward()
    assert c.grad is None and k.grad is None
    np.testing.assert_allclose(x.grad, np.exp(c.data))
    assert all(t.requires_grad for t in ag.topological_order(y, only_requires_grad=True))


def test_topological_order_of_any_node_with_inputs():
    """Lesson 03's check orders its scalar ``Value`` graphs with the same function."""
    class Node:
        def __init__(self, *inputs):
            self.inputs = inputs

    a = Node()
    b = Node(a)
    c = Node(a, b)
    d = Node(c, b)
    assert ag.topological_order(d) == [a, b, c, d]
    assert ag.topological_order(a) == [a]


def test_backward_rejects_a_graph_without_gradients():
    y = Tensor(2.0) * 3.0
    with pytest.raises(ValueError, match="does not require a gradient"):
        y.backward()


def test_backward_with_explicit_grad():
    x = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    y = x * 3.0
    y.backward(np.array([[1.0, 10.0]]))
    np.testing.assert_array_equal(x.grad, [[3.0, 30.0]])


# --- no_grad ------------------------------------------------------------------------------------

def test_no_grad_records_nothing():
    x = Tensor(rand(2, 2, seed=12), requires_grad=True)
    assert ag.is_grad_enabled()
    with no_grad():
        assert not ag.is_grad_enabled()
        y = (x * 2.0 + 1.0).relu().sum()
        with no_grad():  # nesting restores the outer state, not "enabled"
            pass
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()
    assert not y.requires_grad and y.inputs == () and y.op is None and y._backward is None
    np.testing.assert_allclose(y.data, np.maximum(2 * x.data + 1, 0).sum())
    z = (x * 2.0).sum()  # recording resumes after the block
    assert z.requires_grad and z.op == "sum"


def test_no_grad_restores_state_after_an_error():
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError("boom")
    assert ag.is_grad_enabled()


# --- dtypes and construction --------------------------------------------------------------------

def test_dtypes_are_kept():
    x32 = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    y = (x32 * 2.0 + 1 - x32 / 4.0) ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x32.grad.dtype == np.float32
    assert Tensor(3).dtype == np.float64 and Tensor([1, 2]).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype  # arrays keep their dtype
    assert Tensor(np.float32(2.0)).dtype == np.float32
    assert Tensor(2.0).shape == () and Tensor([[1.0, 2.0]]).shape == (1, 2)
    t = Tensor([1.0, 2.0], name="w")
    assert t.ndim == 1 and t.size == 2 and t.name == "w" and t.is_leaf and t.grad is None


def test_construction_errors():
    with pytest.raises(TypeError, match="data must be an array, a number or a list"):
        Tensor("abc")
    with pytest.raises(TypeError, match="data must be an array, a number or a list"):
        Tensor(None)
    with pytest.raises(TypeError, match="data must be an array or a number; got a Tensor"):
        Tensor(Tensor(1.0))
    with pytest.raises(TypeError, match="data .*floating-point.*int64"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad must be True or False; got 1"):
        Tensor(1.0, requires_grad=1)
    with pytest.raises(TypeError, match="name must be a string"):
        Tensor(1.0, name=3)


# --- bad inputs ---------------------------------------------------------------------------------

def test_matmul_shape_errors():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"matmul: .*a has shape \(2, 3\).*\(3, m\); got \(4, 5\)"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul needs two 2-D tensors.*\(3,\)"):
        a @ Tensor(np.ones(3))


def test_backward_shape_errors():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"needs a tensor of one element.*got shape \(2, 3\)"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match=r"grad must have the shape of the tensor, \(2, 3\); got \(3,\)"):
        (x * 2.0).backward(np.ones(3))


def test_reshape_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) \(6 elements\) to \(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"at most one -1"):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"to \(4, -1\)"):
        x.reshape(4, -1)
    with pytest.raises(TypeError, match="shape must be an integer"):
        x.reshape(2.0, 3)


def test_other_op_errors():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(2,\) do not broadcast"):
        x + np.ones(2)
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4, 1, 2\) do not broadcast"):
        x * Tensor(np.ones((4, 1, 2)))
    with pytest.raises(TypeError, match="exponent must be a real number.*Tensor"):
        x ** Tensor(2.0)
    with pytest.raises(ValueError, match=r"axis must be in -2..1 .* got 2"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="axis must not repeat"):
        x.mean(axis=(0, 0))
    with pytest.raises(ValueError, match=r"transpose needs a 2-D tensor; got shape \(2, 3, 1\)"):
        x.reshape(2, 3, 1).T
    with pytest.raises(TypeError, match="data must be an array, a number or a list"):
        x + "a"
    with pytest.raises(ValueError, match=r"item\(\) needs a tensor with one element; got shape \(2, 3\)"):
        x.item()


# --- the CNN ops against cnnlab.functional ------------------------------------------------------

def assert_same(tensor_grad, functional_grad):
    assert tensor_grad.shape == functional_grad.shape
    assert np.allclose(tensor_grad, functional_grad, rtol=1e-12, atol=1e-14)


def test_linear_matches_functional():
    x, W, b = rand(4, 5, seed=20), rand(3, 5, seed=21), rand(3, seed=22)
    out, (tx, tW, tb) = check_op(ag.linear, x, W, b)
    ref, cache = F.linear_forward(x, W, b)
    assert np.allclose(out.data, ref)
    dout = np.random.default_rng(99).standard_normal(ref.shape)  # the one check_op used
    for t, g in zip((tx, tW, tb), F.linear_backward(dout, cache)):
        assert_same(t.grad, g)


@pytest.mark.parametrize("stride, pad", [(1, 0), (2, 1), ((1, 2), (0, 1))])
def test_conv2d_matches_functional(stride, pad):
    x, w, b = rand(2, 3, 6, 5, seed=23), rand(4, 3, 3, 3, seed=24), rand(4, seed=25)
    out, tensors = check_op(lambda x, w, b: ag.conv2d(x, w, b, stride=stride, pad=pad), x, w, b)
    ref, cache = F.conv2d_forward(x, w, b, stride=stride, pad=pad)
    assert out.op == "conv2d" and np.allclose(out.data, ref)
    dout = np.random.default_rng(99).standard_normal(ref.shape)
    for t, g in zip(tensors, F.conv2d_backward(dout, cache)):
        assert_same(t.grad, g)


def test_conv2d_of_a_constant_input_gives_the_weights_their_gradients():
    # The input needs no gradient (data), so the op skips dx; w and b still get theirs.
    x, w, b = rand(2, 3, 6, 5, seed=23), rand(4, 3, 3, 3, seed=24), rand(4, seed=25)
    tw, tb = Tensor(w.copy(), requires_grad=True), Tensor(b.copy(), requires_grad=True)
    out = ag.conv2d(x, tw, tb, stride=2, pad=1)
    dout = np.random.default_rng(99).standard_normal(out.shape)
    out.backward(dout)
    numeric = numerical_gradient_array(lambda v: ag.conv2d(x, Tensor(v), b, stride=2, pad=1).data, w.copy(), dout)
    assert rel_error(tw.grad, numeric) < 1e-7
    assert np.allclose(tb.grad, dout.sum(axis=(0, 2, 3)))


@pytest.mark.parametrize("size, stride", [(2, None), (3, 2), (2, 1)])
def test_maxpool2d_matches_functional(size, stride):
    x = rand(2, 3, 7, 7, seed=26)  # continuous values: no ties, so the max is differentiable
    out, (tx,) = check_op(lambda x: ag.maxpool2d(x, size=size, stride=stride), x)
    ref, cache = F.maxpool2d_forward(x, size=size, stride=stride)
    assert np.allclose(out.data, ref)
    dout = np.random.default_rng(99).standard_normal(ref.shape)
    assert_same(tx.grad, F.maxpool2d_backward(dout, cache))


def test_softmax_cross_entropy_matches_functional():
    logits, y = rand(5, 4, seed=27), np.array([0, 3, 1, 1, 2])
    loss = ag.softmax_cross_entropy(Tensor(logits, requires_grad=True), y)
    ref_loss, ref_grad = F.softmax_cross_entropy(logits, y)
    assert loss.shape == () and loss.item() == pytest.approx(ref_loss, rel=1e-12)
    out, (tl,) = check_op(lambda t: ag.softmax_cross_entropy(t, y) * 3.0, logits)
    assert_same(tl.grad, 3.0 * ref_grad * np.random.default_rng(99).standard_normal(()))


def test_cnn_loss_matches_functional_forward_and_backward():
    gen = np.random.default_rng(30)
    x = gen.standard_normal((4, 2, 8, 8))
    y = np.array([0, 2, 1, 2])
    params = {"w1": 0.3 * gen.standard_normal((3, 2, 3, 3)), "b1": 0.1 * gen.standard_normal(3),
              "W2": 0.3 * gen.standard_normal((6, 48)), "b2": 0.1 * gen.standard_normal(6),
              "W3": 0.3 * gen.standard_normal((3, 6)), "b3": 0.1 * gen.standard_normal(3)}

    # The graph: conv -> relu -> maxpool -> flatten -> linear -> relu -> linear -> cross-entropy.
    p = {k: Tensor(v, requires_grad=True, name=k) for k, v in params.items()}
    h = ag.maxpool2d(ag.conv2d(x, p["w1"], p["b1"], stride=1, pad=1).relu(), size=2)
    scores = ag.linear(ag.linear(h.reshape(4, -1), p["W2"], p["b2"]).relu(), p["W3"], p["b3"])
    loss = ag.softmax_cross_entropy(scores, y)
    loss.backward()

    # The same network by hand with the functional API.
    c1, cc1 = F.conv2d_forward(x, params["w1"], params["b1"], stride=1, pad=1)
    r1, rc1 = F.relu_forward(c1)
    m1, mc1 = F.maxpool2d_forward(r1, size=2)
    f1, fc1 = F.flatten_forward(m1)
    l2, lc2 = F.linear_forward(f1, params["W2"], params["b2"])
    r2, rc2 = F.relu_forward(l2)
    l3, lc3 = F.linear_forward(r2, params["W3"], params["b3"])
    ref_loss, d = F.softmax_cross_entropy(l3, y)
    d, dW3, db3 = F.linear_backward(d, lc3)
    d, dW2, db2 = F.linear_backward(F.relu_backward(d, rc2), lc2)
    d = F.maxpool2d_backward(F.flatten_backward(d, fc1), mc1)
    _, dw1, db1 = F.conv2d_backward(F.relu_backward(d, rc1), cc1)

    assert loss.item() == pytest.approx(ref_loss, rel=1e-12)
    for name, g in {"w1": dw1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}.items():
        assert_same(p[name].grad, g)


def test_mlp_from_elementwise_ops_matches_functional():
    gen = np.random.default_rng(31)
    x, y = gen.standard_normal((6, 5)), np.array([0, 1, 2, 1, 0, 2])
    W1, b1, W2, b2 = (gen.standard_normal(s) for s in ((4, 5), (4,), (3, 4), (3,)))
    tW1, tb1, tW2, tb2 = (Tensor(a, requires_grad=True) for a in (W1, b1, W2, b2))
    # matmul + broadcasting add instead of linear, and cross-entropy from exp/log/sum/mean.
    s = (x @ tW1.T + tb1).relu() @ tW2.T + tb2
    shifted = s - Tensor(s.data.max(axis=1, keepdims=True))  # a constant shift: softmax unchanged
    log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    loss = -(log_probs * np.eye(3)[y]).sum(axis=1).mean()
    loss.backward()

    l1, c1 = F.linear_forward(x, W1, b1)
    r1, rc1 = F.relu_forward(l1)
    l2, c2 = F.linear_forward(r1, W2, b2)
    ref_loss, d = F.softmax_cross_entropy(l2, y)
    d, dW2, db2 = F.linear_backward(d, c2)
    _, dW1, db1 = F.linear_backward(F.relu_backward(d, rc1), c1)
    assert loss.item() == pytest.approx(ref_loss, rel=1e-12)
    for t, g in zip((tW1, tb1, tW2, tb2), (dW1, db1, dW2, db2)):
        assert np.allclose(t.grad, g, rtol=1e-10, atol=1e-12)


def test_cnn_op_errors_come_from_functional():
    with pytest.raises(ValueError, match=r"W must have shape \(D_out, 5\)"):
        ag.linear(np.ones((2, 5)), Tensor(np.ones((3, 4)), requires_grad=True), np.ones(3))
    with pytest.raises(ValueError, match="y must be class indices"):
        ag.softmax_cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 3]))
