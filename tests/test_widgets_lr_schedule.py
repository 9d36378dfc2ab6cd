"""Lesson 10's schedules, the online updates and training runs they drive, and the explorer."""

import numpy as np
import pytest
from fixtures.figures import content

import cnnlab as cl
from cnnlab.widgets import learning_rate, lr_schedule as lrs


def test_rates_by_hand():
    np.testing.assert_allclose(lrs.rates("step", 0.1, 7, step_size=3, gamma=0.5),
                               [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025], rtol=1e-12)
    np.testing.assert_allclose(lrs.rates("exponential", 0.2, 4, k=np.log(2)), [0.2, 0.1, 0.05, 0.025],
                               rtol=1e-12)
    np.testing.assert_array_equal(lrs.rates("constant", 0.3, 3), [0.3, 0.3, 0.3])


def test_rates_are_what_the_optimiser_gets_epoch_by_epoch():
    sgd = cl.optim.SGD([cl.nn.Parameter(np.zeros(2))], lr=0.4)
    schedule = cl.optim.StepLR(sgd, step_size=2, gamma=0.3)
    seen = [sgd.lr]
    for _ in range(5):
        seen.append(schedule.step())
    np.testing.assert_allclose(lrs.rates("step", 0.4, 6, step_size=2, gamma=0.3), seen, rtol=1e-12)


def test_bad_schedule_arguments_name_themselves():
    with pytest.raises(ValueError, match="schedule must be one of"):
        lrs.rates("cosine", 0.1, 5)
    with pytest.raises(ValueError, match="lr0"):
        lrs.rates("constant", 0.0, 5)
    with pytest.raises(ValueError, match="epochs"):
        lrs.rates("constant", 0.1, 0)
    with pytest.raises(ValueError, match="step_size"):
        lrs.rates("step", 0.1, 5, step_size=0, gamma=0.5)
    with pytest.raises(ValueError, match="k"):
        lrs.rates("exponential", 0.1, 5, k=-1.0)
    with pytest.raises(ValueError, match="epoch_rates"):
        lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, [])


def test_online_path_with_a_constant_rate_is_lesson_01s_path():
    path = lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, [0.01] * 3)
    np.testing.assert_allclose(path, learning_rate.gd_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, 0.01, 3), rtol=1e-12)
    np.testing.assert_allclose(path[:4], [1.01, 1.0076, 1.003169, 1.00413731], rtol=1e-12)


def test_decaying_rates_settle_where_a_constant_rate_keeps_cycling():
    w_star = learning_rate.minimizer()
    constant = lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, [0.015] * 40)
    decayed = lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, lrs.rates("step", 0.015, 40, 5, 0.5))
    last_constant, last_decayed = constant[-4:], decayed[-4:]  # w within the last epoch
    assert np.ptp(last_constant) > 100 * np.ptp(last_decayed)
    assert abs(decayed[-1] - w_star) < abs(constant[-1] - w_star) / 10
    # A constant rate ends in a cycle: every epoch repeats the one before.
    np.testing.assert_allclose(constant[-4:], constant[-8:-4], rtol=1e-9)


def test_a_diverging_epoch_stops_the_path():
    path = lrs.online_path(lrs.TABLE_X, lrs.TABLE_Y, 0.0, [0.5] * 50)
    assert path.size < 200 and np.isfinite(path).all()


def test_digits_run_follows_its_schedule_and_repeats():
    history = lrs.digits_run(1.0, "step", step_size=2, gamma=0.1, epochs=5)
    np.testing.assert_allclose(history.lr, [1.0, 1.0, 0.1, 0.1, 0.01], rtol=1e-12)
    again = lrs.digits_run(1.0, "step", step_size=2, gamma=0.1, epochs=5)
    assert again.train_loss == history.train_loss
    other_seed = lrs.digits_run(1.0, "step", step_size=2, gamma=0.1, epochs=5, seed=3)
    assert other_seed.train_loss != history.train_loss


def test_digits_run_is_the_recipe_written_out():
    # What the lesson shows as code: it must give the very same numbers.
    (X_train, y_train), val = lrs.digits_data()
    model = cl.nn.Sequential(cl.nn.Flatten(), cl.nn.Linear(64, 10, rng=0))
    sgd = cl.optim.SGD(model.parameters(), lr=0.5, weight_decay=0.01)
    history = cl.train.fit(model, sgd, (X_train, y_train), val=val, epochs=3, batch_size=16,
                           schedule=cl.optim.ExponentialLR(sgd, gamma=np.exp(-0.3)), rng=1, progress=False)
    packed = lrs.digits_run(0.5, "exponential", k=0.3, epochs=3)
    np.testing.assert_allclose(packed.train_loss, history.train_loss, rtol=1e-12)
    np.testing.assert_allclose(packed.val_loss, history.val_loss, rtol=1e-12)


def test_summarize_and_figure():
    constant = lrs.digits_run(1.0, "constant", epochs=4)
    decayed = lrs.digits_run(1.0, "step", step_size=2, gamma=0.1, epochs=4)
    line = lrs.summarize(constant, decayed, last=2)
    assert line.startswith("last 2 epochs") and "constant rate: training loss" in line
    assert f"{np.mean(decayed.train_loss[-2:]):.3g}" in line
    fig = lrs.figure(step_size=2, gamma=0.1, epochs=4)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"


def test_draw_follows_the_controls():
    fig, text = lrs.draw(2, 0.1, epochs=4)
    assert "step size 2, gamma 0.1" in text and len(fig.axes) == 2
    later, later_text = lrs.draw(3, 0.1, epochs=4)
    assert later_text != text and "step size 3" in later_text
    assert content(later) != content(fig)
    gentler = lrs.draw(3, 0.5, epochs=4)[1]
    assert gentler != later_text and "gamma 0.5" in gentler


def test_explorer_rejects_too_few_epochs():
    with pytest.raises(ValueError, match="epochs"):
        lrs.explorer(epochs=1)
