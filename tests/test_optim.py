"""Tests of cnnlab.optim: SGD against hand-computed steps and equivalent forms, schedules'
values by hand, the Sutskever momentum schedule, and every bad argument."""

import math

import numpy as np
import pytest

from cnnlab import nn, optim


def scalar(w0=1.0, dtype=np.float64):
    return nn.Parameter(np.array([w0], dtype=dtype), name="w")


def run_steps(opt, p, grads):
    """Feed the gradients one step at a time; return w after each step."""
    ws = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        ws.append(float(p.data[0]))
    return ws


GRADS = [1.0, 2.0, -1.0]  # the same three minibatch gradients in every hand computation


def test_plain_sgd_by_hand():
    p = scalar()
    # w -= 0.1 g: 1 - 0.1 = 0.9; 0.9 - 0.2 = 0.7; 0.7 + 0.1 = 0.8
    np.testing.assert_allclose(run_steps(optim.SGD([p], lr=0.1), p, GRADS), [0.9, 0.7, 0.8])


def test_momentum_by_hand():
    p = scalar()
    # v1 = -0.1 * 1               = -0.1      w1 = 0.9
    # v2 = 0.9 * -0.1 - 0.1 * 2   = -0.29     w2 = 0.61
    # v3 = 0.9 * -0.29 + 0.1 * 1  = -0.161    w3 = 0.449
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(run_steps(opt, p, GRADS), [0.9, 0.61, 0.449])
    np.testing.assert_allclose(opt.velocities[0], [-0.161])


def test_weight_decay_by_hand():
    p = scalar()
    # g = grad + 0.5 w
    # g1 = 1 + 0.5         = 1.5       w1 = 1 - 0.15         = 0.85
    # g2 = 2 + 0.425       = 2.425     w2 = 0.85 - 0.2425    = 0.6075
    # g3 = -1 + 0.30375    = -0.69625  w3 = 0.6075 + 0.069625 = 0.677125
    opt = optim.SGD([p], lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(run_steps(opt, p, GRADS), [0.85, 0.6075, 0.677125])


def test_momentum_and_weight_decay_by_hand():
    p = scalar()
    # g1 = 1.5                     v1 = -0.15                          w1 = 0.85
    # g2 = 2 + 0.425 = 2.425       v2 = -0.135 - 0.2425 = -0.3775      w2 = 0.4725
    # g3 = -1 + 0.23625 = -0.76375 v3 = -0.33975 + 0.076375 = -0.263375 w3 = 0.209125
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    np.testing.assert_allclose(run_steps(opt, p, GRADS), [0.85, 0.4725, 0.209125])


def test_nesterov_by_hand():
    p = scalar()
    # v = 0.9 v - 0.1 g;  w = w + 0.9 v - 0.1 g
    # v1 = -0.1     w1 = 1 - 0.09 - 0.1        = 0.81
    # v2 = -0.29    w2 = 0.81 - 0.261 - 0.2    = 0.349
    # v3 = -0.161   w3 = 0.349 - 0.1449 + 0.1  = 0.3041
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(run_steps(opt, p, GRADS), [0.81, 0.349, 0.3041])


def random_params(seed=0, shapes=((3, 4), (4,))):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(s)) for s in shapes]


def random_grads(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(p.shape) for p in params] for _ in range(steps)]


def test_momentum_zero_is_plain_sgd():
    params = random_params()
    expected = [p.data.copy() for p in params]
    opt = optim.SGD(params, lr=0.05, momentum=0.0)
    for grads in random_grads(params, 5):
        for p, g, w in zip(params, grads, expected):
            p.grad[...] = g
            w -= 0.05 * g
        opt.step()
    for p, w in zip(params, expected):
        np.testing.assert_array_equal(p.data, w)


def test_velocity_form_equals_exponential_averaging():
    """p = beta p + (1 - beta) g; w -= lr' p  is SGD(lr = lr' (1 - beta), momentum = beta)."""
    beta, lr_ema = 0.8, 0.5
    params = random_params()
    start = [p.data.copy() for p in params]
    ema_w = [p.data.copy() for p in params]
    averages = [np.zeros(p.shape) for p in params]
    opt = optim.SGD(params, lr=lr_ema * (1 - beta), momentum=beta)
    for grads in random_grads(params, 10):
        for p, g, w, avg in zip(params, grads, ema_w, averages):
            p.grad[...] = g
            avg *= beta
            avg += (1 - beta) * g
            w -= lr_ema * avg
        opt.step()
    for p, w, w0 in zip(params, ema_w, start):
        np.testing.assert_allclose(p.data, w, rtol=1e-12, atol=1e-12)
        assert np.abs(w - w0).max() > 0.1  # the parameters did move


def quadratic_grad(w, A, c):
    """Gradient of E(w) = 1/2 (w - c)^T diag(A) (w - c)."""
    return A * (w - c)


def test_nesterov_is_nag_at_the_lookahead_point():
    """Our parameters are u = w + mu v, where w, v follow Sutskever's NAG."""
    A, c = np.array([1.0, 10.0]), np.array([1.0, -2.0])
    mu, lr = 0.9, 0.05
    w, v = np.array([3.0, 3.0]), np.zeros(2)
    p = nn.Parameter(w.copy())  # u_0 = w_0 since v_0 = 0
    opt = optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    for _ in range(20):
        v = mu * v - lr * quadratic_grad(w + mu * v, A, c)  # NAG: gradient at the lookahead
        w = w + v
        p.grad[...] = quadratic_grad(p.data, A, c)
        opt.step()
        np.testing.assert_allclose(p.data, w + mu * v, rtol=1e-12, atol=1e-12)


def minimise(opt, p, A, c, steps):
    for _ in range(steps):
        opt.zero_grad()
        p.grad += quadratic_grad(p.data, A, c)
        opt.step()
    return float(np.abs(p.data - c).max())


def test_sgd_minimises_an_ill_conditioned_quadratic():
    A, c = np.array([1.0, 50.0]), np.array([1.0, -2.0])
    errors = {}
    for name, kwargs in {"plain": {}, "momentum": dict(momentum=0.8),
                         "nesterov": dict(momentum=0.8, nesterov=True)}.items():
        p = nn.Parameter(np.array([5.0, 5.0]))
        errors[name] = minimise(optim.SGD([p], lr=0.019, **kwargs), p, A, c, steps=150)
    # Plain GD crawls along the flat direction: its error shrinks by 1 - 0.019 per step, to
    # 4 * 0.981^150 = 0.225. With momentum 0.8 it shrinks by about sqrt(0.8) per step
    # (measured: 2.5e-7 for momentum, 3.6e-8 for Nesterov).
    assert 0.2 < errors["plain"] < 0.25
    assert errors["momentum"] < 1e-5 and errors["nesterov"] < 1e-5


def test_weight_decay_minimises_the_l2_regularised_loss():
    # E + a/2 ||w||^2 with diagonal A has its minimum at A c / (A + a)
    A, c, decay = np.array([1.0, 4.0]), np.array([2.0, -1.0]), 0.5
    p = nn.Parameter(np.zeros(2))
    opt = optim.SGD([p], lr=0.1, momentum=0.5, weight_decay=decay)
    minimise(opt, p, A, c, steps=300)
    np.testing.assert_allclose(p.data, A * c / (A + decay), rtol=1e-9)


def test_step_updates_in_place_and_keeps_dtype():
    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    arrays = [p.data for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True)
    for p in model.parameters():
        p.grad[...] = 1.0
    before = [a.copy() for a in arrays]
    opt.step()
    for p, a, b in zip(model.parameters(), arrays, before):
        assert p.data is a and p.data.dtype == np.float32
        assert opt.velocities[0].dtype == np.float32
        assert not np.array_equal(a, b)


def test_zero_grad_and_settable_lr():
    p = scalar()
    opt = optim.SGD([p], lr=0.1)
    p.grad[...] = 3.0
    opt.zero_grad()
    assert p.grad[0] == 0.0
    opt.lr = 0.5
    p.grad[...] = 1.0
    opt.step()
    assert p.data[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"lr must be in \[0, inf\]; got -1.0"):
        opt.lr = -1.0
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\); got 1.0"):
        opt.momentum = 1.0


def test_state_dict_round_trip_continues_identically():
    params_a, params_b = random_params(), random_params()
    opt_a = optim.SGD(params_a, lr=0.1, momentum=0.9, weight_decay=0.01)
    steps = random_grads(params_a, 6)
    for grads in steps[:3]:
        for p, g in zip(params_a, grads):
            p.grad[...] = g
        opt_a.step()
    state = opt_a.state_dict()
    assert state["momentum"] == 0.9 and len(state["velocities"]) == 2
    state_copy = {k: v for k, v in state.items()}
    for p, q in zip(params_a, params_b):
        q.data[...] = p.data
    opt_b = optim.SGD(params_b, lr=1.0)
    opt_b.load_state_dict(state_copy)
    assert (opt_b.lr, opt_b.momentum, opt_b.weight_decay) == (0.1, 0.9, 0.01)
    for grads in steps[3:]:
        for pa, pb, g in zip(params_a, params_b, grads):
            pa.grad[...] = g
            pb.grad[...] = g
        opt_a.step()
        opt_b.step()
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_load_state_dict_errors():
    opt = optim.SGD(random_params(), lr=0.1, momentum=0.9)
    state = opt.state_dict()
    with pytest.raises(ValueError, match=r"state\['velocities'\] must be a list of 2 arrays"):
        opt.load_state_dict({**state, "velocities": [None]})
    with pytest.raises(ValueError, match=r"state\['velocities'\]\[1\] must have shape \(4,\); got \(5,\)"):
        opt.load_state_dict({**state, "velocities": [None, np.zeros(5)]})
    with pytest.raises(ValueError, match="state must have the keys"):
        opt.load_state_dict({"lr": 0.1})
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\); got 1.0"):
        opt.load_state_dict({**state, "momentum": 1.0})
    with pytest.raises(TypeError, match="state must be a dict"):
        opt.load_state_dict([1, 2])
    assert opt.momentum == 0.9  # unchanged by the failed loads


# --- bad arguments ----------------------------------------------------------------------------

def test_unknown_hyper_parameter_is_named():
    with pytest.raises(TypeError, match=r"unknown hyper-parameter 'momentun'; expected one of lr, "
                                        r"momentum, weight_decay, nesterov \(did you mean 'momentum'\?\)"):
        optim.SGD([scalar()], lr=0.1, momentun=0.9)
    with pytest.raises(TypeError, match=r"unknown hyper-parameter 'beta'; expected one of lr, momentum, "
                                        r"weight_decay, nesterov$"):
        optim.SGD([scalar()], lr=0.1, beta=0.9)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lr=-0.1), ValueError, r"lr must be in \[0, inf\]; got -0.1"),
    (dict(lr="0.1"), TypeError, r"lr must be a real number; got '0.1'"),
    (dict(lr=0.1, momentum=1.0), ValueError, r"momentum must be in \[0, 1\); got 1.0"),
    (dict(lr=0.1, momentum=-0.5), ValueError, r"momentum must be in \[0, 1\); got -0.5"),
    (dict(lr=0.1, weight_decay=-1e-4), ValueError, r"weight_decay must be in \[0, inf\]; got -0.0001"),
    (dict(lr=0.1, nesterov=True), ValueError, r"nesterov=True needs momentum > 0; got momentum=0.0"),
    (dict(lr=0.1, momentum=0.9, nesterov=1), TypeError, r"nesterov must be True or False; got 1"),
])
def test_bad_hyper_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        optim.SGD([scalar()], **kwargs)


def test_bad_params():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="params is empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="params is empty"):
        optim.SGD(nn.Sequential(nn.ReLU()).parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"params must be a list of Parameters; got a Sequential module: "
                                        r"pass model.parameters\(\)"):
        optim.SGD(model, lr=0.1)
    with pytest.raises(TypeError, match="got a single Parameter"):
        optim.SGD(scalar(), lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\] must be a cnnlab.nn.Parameter; got ndarray"):
        optim.SGD([scalar(), np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="params must be a list of Parameters such as model.parameters"):
        optim.SGD(3, lr=0.1)
    p = scalar()
    with pytest.raises(ValueError, match=r"params\[1\] appears twice"):
        optim.SGD([p, p], lr=0.1)
    # an iterator is accepted
    opt = optim.SGD(iter(model.parameters()), lr=0.1)
    assert len(opt.params) == 2


# --- schedules ------------------------------------------------------------------------------------

def test_step_lr_values():
    opt = optim.SGD([scalar()], lr=0.1)
    sched = optim.StepLR(opt, step_size=3, gamma=0.1)
    # epochs 0, 1, 2 at lr0; 3, 4, 5 at lr0 * 0.1; 6 at lr0 * 0.01
    expected = [0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001]
    np.testing.assert_allclose([sched.get_lr(e) for e in range(7)], expected)
    assert sched.last_epoch == 0 and opt.lr == 0.1  # get_lr changed nothing
    seen = [opt.lr]
    for _ in range(6):
        sched.step()
        seen.append(opt.lr)
    np.testing.assert_allclose(seen, expected)
    assert sched.last_epoch == 6
    assert sched.get_lr(2) == pytest.approx(0.1)  # pure: the same whatever the current epoch


def test_step_lr_boundary_is_not_one_epoch_early():
    sched = optim.StepLR(optim.SGD([scalar()], lr=1.0), step_size=10, gamma=0.5)
    assert sched.get_lr(9) == 1.0
    assert sched.get_lr(10) == 0.5
    assert sched.get_lr(19) == 0.5
    assert sched.get_lr(20) == 0.25


def test_exponential_lr_values():
    k = 0.5
    opt = optim.SGD([scalar()], lr=0.2)
    sched = optim.ExponentialLR(opt, gamma=math.exp(-k))
    for epoch in range(4):
        assert sched.get_lr(epoch) == pytest.approx(0.2 * math.exp(-k * epoch), rel=1e-12)
    assert sched.get_lr(2) == pytest.approx(0.2 * math.exp(-1.0))
    sched.step()
    sched.step()
    assert opt.lr == pytest.approx(0.2 * math.exp(-1.0)) and sched.last_epoch == 2


def test_schedule_bad_arguments():
    opt = optim.SGD([scalar()], lr=0.1)
    with pytest.raises(ValueError, match="step_size must be an integer >= 1; got 0"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="step_size must be an integer; got 2.5"):
        optim.StepLR(opt, step_size=2.5)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, inf\]; got 0.0"):
        optim.StepLR(opt, step_size=2, gamma=0.0)
    with pytest.raises(ValueError, match=r"gamma must be in \(0, inf\]; got -0.5"):
        optim.ExponentialLR(opt, gamma=-0.5)
    with pytest.raises(TypeError, match="optimizer must be an optimiser with an lr attribute.*got list"):
        optim.StepLR([1, 2], step_size=2)
    with pytest.raises(ValueError, match="epoch must be an integer >= 0; got -1"):
        optim.ExponentialLR(opt, gamma=0.9).get_lr(-1)


# --- momentum schedule ---------------------------------------------------------------------------

@pytest.mark.parametrize("t, expected", [
    (0, 0.5), (249, 0.5), (250, 0.75), (499, 0.75), (500, 1 - 0.5 / 3), (10**6, 1 - 0.5 / 4001),
])
def test_sutskever_momentum_values(t, expected):
    assert optim.sutskever_momentum(t, mu_max=0.9999) == pytest.approx(expected, rel=1e-12)
    # the notes' form with the power of two
    assert expected == pytest.approx(1 - 2 ** (-1 - math.log2(t // 250 + 1)), rel=1e-12)


def test_sutskever_momentum_is_capped():
    assert optim.sutskever_momentum(10**6, mu_max=0.99) == 0.99
    assert optim.sutskever_momentum(500, mu_max=0.8) == 0.8
    assert optim.sutskever_momentum(0, mu_max=0.0) == 0.0


def test_sutskever_momentum_bad_arguments():
    with pytest.raises(ValueError, match="t must be an integer >= 0; got -1"):
        optim.sutskever_momentum(-1, 0.9)
    with pytest.raises(TypeError, match="t must be an integer; got 2.5"):
        optim.sutskever_momentum(2.5, 0.9)
    with pytest.raises(ValueError, match=r"mu_max must be in \[0, 1\); got 1.0"):
        optim.sutskever_momentum(0, 1.0)
    with pytest.raises(ValueError, match=r"mu_max must be in \[0, 1\); got -0.1"):
        optim.sutskever_momentum(0, -0.1)


def test_momentum_schedule_sets_the_optimizer():
    opt = optim.SGD([scalar()], lr=0.1, momentum=0.9)
    sched = optim.MomentumSchedule(opt, mu_max=0.8)
    assert opt.momentum == 0.5 and sched.t == 0
    values = [sched.step() for _ in range(500)]
    assert values[248] == 0.5 and values[249] == 0.75  # t = 249, t = 250
    assert sched.t == 500 and opt.momentum == 0.8  # 5/6 capped at 0.8
    with pytest.raises(TypeError, match="optimizer must be an optimiser with a momentum attribute"):
        optim.MomentumSchedule(object(), 0.9)
    with pytest.raises(ValueError, match=r"mu_max must be in \[0, 1\); got 1.0"):
        optim.MomentumSchedule(opt, 1.0)
