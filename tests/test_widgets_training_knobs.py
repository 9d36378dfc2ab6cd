"""Lesson 12's helpers: the network, the data, the learning-rate sweep, activation statistics, the most
confused examples, the knobs widget and its glue."""

import math

import numpy as np
import pytest
from fixtures.figures import content

import cnnlab as cl
from cnnlab.train import History
from cnnlab.widgets import training_knobs as knobs

#: What the explorers read of a PNG they show (its size), for a stubbed figure_png: 10x10 pixels.
PNG_STUB = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes([0, 0, 0, 10, 0, 0, 0, 10])


@pytest.fixture(scope="module")
def digits():
    """digits8x8, split and mean-subtracted: a problem small enough to train in a second."""
    X, y = cl.data.load("digits8x8")
    (Xtr, ytr), (Xva, yva) = cl.data.split(X, y, (0.75, 0.25), rng=0)
    Xtr, Xva = cl.data.normalize(Xtr, Xva)
    return (Xtr, ytr), (Xva, yva)


# --- the network ----------------------------------------------------------------------------------

def test_cnn_layers_and_shapes():
    model = knobs.cnn((8, 16), keep=0.75, rng=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d", "Flatten", "Dropout", "Linear"]
    assert model[-1].in_features == 16 * 7 * 7
    # 8 * 1 * 9 + 8 + 16 * 8 * 9 + 16 + 784 * 10 + 10 parameters, counted by hand
    assert model.num_parameters() == 80 + 1168 + 7850
    scores = model(np.zeros((3, 1, 28, 28), np.float32))
    assert scores.shape == (3, 10) and scores.dtype == np.float32


def test_cnn_without_dropout_and_other_sizes():
    model = knobs.cnn((4,), keep=1.0, image_size=8, n_classes=3, rng=1)
    assert not any(isinstance(layer, cl.nn.Dropout) for layer in model)
    assert model[-1].in_features == 4 * 4 * 4 and model[-1].out_features == 3
    odd = knobs.cnn((2, 2, 2), image_size=28)  # 28 -> 14 -> 7 -> 3 (the pool drops the last row)
    assert odd[-1].in_features == 2 * 3 * 3


def test_cnn_is_repeatable_with_a_seed():
    a, b = knobs.cnn(rng=5), knobs.cnn(rng=5)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    c = knobs.cnn(rng=6)
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)


def test_cnn_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="widths"):
        knobs.cnn(())
    with pytest.raises(ValueError, match="widths"):
        knobs.cnn((8, 0))
    with pytest.raises(ValueError, match="keep"):
        knobs.cnn(keep=0.0)
    with pytest.raises(ValueError, match="image_size 3 is too small"):
        knobs.cnn((4, 4), image_size=3)


def test_capstone_data_in_fast_mode():
    data = knobs.capstone_data(fast=True)
    assert [part[0].shape[0] for part in data[:3]] == list(knobs.FAST_SIZES)
    assert data.train[0].dtype == np.float32 and data.train[1].dtype == np.int64
    # the training part has mean 0 (its own mean was subtracted) and the stored mean is MNIST's
    assert abs(float(data.train[0].mean(dtype=np.float64))) < 1e-4
    assert 0.12 < float(data.mean.ravel()[0]) < 0.14
    # every digit is in the validation part
    assert set(np.unique(data.val[1])) == set(range(10))


# --- the learning-rate sweep -----------------------------------------------------------------------

def test_lr_sweep_same_start_and_a_divergence(digits):
    train, _ = digits
    lrs = [0.01, 0.01, 0.1, 1e4]
    losses = knobs.lr_sweep(lambda rng: knobs.cnn((4,), keep=1.0, image_size=8, rng=rng), train, lrs, steps=8,
                            batch_size=32)
    assert losses.shape == (4,)
    assert losses[0] == losses[1]            # the same start and batches: the same run
    assert losses[2] < losses[0]             # a larger (sane) step learns faster in 8 steps
    assert losses[3] == np.inf or losses[3] > 10 * losses[2]   # 1e4 blows up


def test_lr_sweep_bad_arguments(digits):
    train, _ = digits
    def make(rng):
        return knobs.cnn((4,), image_size=8, rng=rng)

    with pytest.raises(ValueError, match="lrs"):
        knobs.lr_sweep(make, train, [0.1, -1.0])
    with pytest.raises(ValueError, match="lrs"):
        knobs.lr_sweep(make, train, [])
    with pytest.raises(ValueError, match="steps"):
        knobs.lr_sweep(make, train, [0.1], steps=0)


def test_sweep_figure_uses_log_axes_and_marks_divergence():
    fig = knobs.sweep_figure([1e-3, 1e-2, 1e-1, 1.0], [2.0, 1.0, 0.5, np.inf], chosen=0.1)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "diverged (NaN)" in labels and "chosen lr = 0.1" in labels
    with pytest.raises(ValueError, match="lrs and losses"):
        knobs.sweep_figure([1.0, 2.0], [1.0])


# --- initialisation ---------------------------------------------------------------------------------

def test_activation_std_by_hand():
    model = cl.nn.Sequential(cl.nn.ReLU(), cl.nn.Flatten())
    x = np.array([[[[-1.0, 1.0]]]])                  # ReLU -> [0, 1]: std 0.5
    assert knobs.activation_std(model, x) == [0.5, 0.5]
    assert model.training                            # the mode is put back


def test_activation_std_skips_dropout_and_checks_its_argument():
    model = cl.nn.Sequential(cl.nn.Dropout(0.5))
    x = np.ones((4, 10), np.float32)
    assert knobs.activation_std(model, x) == [0.0]   # evaluation mode: identity, all ones
    with pytest.raises(TypeError, match="model"):
        knobs.activation_std(cl.nn.ReLU(), x)


def test_init_figure_has_a_line_per_initialisation():
    fig = knobs.init_figure({"He": [1.0, 0.9], "tiny": [0.01, 1e-4]}, names=["conv", "relu"])
    assert len(fig.axes[0].get_lines()) == 2 and fig.axes[0].get_yscale() == "log"


# --- the most confused examples ---------------------------------------------------------------------

def test_most_confused_by_hand():
    scores = np.array([[5.0, 0.0, 0.0],    # right (class 0)
                       [0.0, 3.0, 0.0],    # wrong: says 1, truth 2
                       [0.0, 0.0, 1.0],    # wrong: says 2, truth 0
                       [9.0, 0.0, 0.0]])   # wrong: says 0, truth 1, very sure
    y = np.array([0, 2, 0, 1])
    index, predicted, confidence = knobs.most_confused(scores, y, k=2)
    assert index.tolist() == [3, 1] and predicted.tolist() == [0, 1]
    assert confidence[0] == pytest.approx(math.exp(9) / (math.exp(9) + 2))
    assert confidence[1] == pytest.approx(math.exp(3) / (math.exp(3) + 2))
    assert knobs.most_confused(scores, y, k=10)[0].tolist() == [3, 1, 2]


def test_most_confused_checks_its_arguments():
    with pytest.raises(ValueError, match="scores"):
        knobs.most_confused(np.zeros(3), np.zeros(3, int))
    with pytest.raises(ValueError, match="y"):
        knobs.most_confused(np.zeros((2, 3)), np.array([0, 3]))


# --- the widget's computations -------------------------------------------------------------------

def test_small_data_is_stratified_cached_and_checked():
    (Xtr, ytr), (Xva, yva) = knobs.small_data(200, 50)
    assert Xtr.shape == (200, 1, 28, 28) and Xva.shape == (50, 1, 28, 28)
    assert np.bincount(ytr).tolist() == [20] * 10 and np.bincount(yva).tolist() == [5] * 10
    assert knobs.small_data(200, 50)[0][0] is Xtr
    with pytest.raises(ValueError, match="n_train"):
        knobs.small_data(4990, 20)
    with pytest.raises(ValueError, match="n_val"):
        knobs.small_data(100, 5)


def _history(train_loss, train_acc, val_loss, val_acc):
    return History(train_loss=train_loss, train_acc=train_acc, val_loss=val_loss, val_acc=val_acc)


@pytest.mark.parametrize("history, words", [
    (None, "no run yet"),
    (_history([7.0], [0.1], [2.5], [0.1]), "worse than guessing"),
    (_history([2.0], [0.3], [1.9], [0.35]), "learning slowly"),
    (_history([0.5, 0.2], [0.9, 0.97], [0.3, 0.45], [0.9, 0.88]), "went up again"),
    (_history([0.1], [0.99], [0.4], [0.9]), "overfitting"),
    (_history([0.6], [0.8], [0.3], [0.9]), "validation above training"),
    (_history([0.3], [0.92], [0.3], [0.92]), "agree"),
])
def test_verdict_names_the_situation(history, words):
    assert words in knobs.verdict(history)


def test_train_small_runs_and_is_repeatable():
    first, error = knobs.train_small(epochs=1, n_train=200, n_val=50)
    again, _ = knobs.train_small(epochs=1, n_train=200, n_val=50)
    assert error is None and first.epochs == 1 and first.train_loss == again.train_loss


# --- the widget -------------------------------------------------------------------------------------

KNOBS = {"lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "keep": 0.75, "epochs": 1, "augment": True}


def test_draw_trains_and_says_what_the_curves_show():
    fig, text = knobs.draw(**KNOBS, n_train=200, n_val=50)
    assert text.startswith("<b>lr 0.05, momentum 0.90, weight decay 0.0005, keep 0.75, 1 epoch(s), crops on</b>: ")
    assert "validation accuracy" in text and "press" not in text
    other, other_text = knobs.draw(**{**KNOBS, "keep": 0.5}, n_train=200, n_val=50)
    assert other_text != text and content(other) != content(fig)


def test_explorer_says_when_its_curves_are_stale(monkeypatch):
    monkeypatch.setattr(cl.plot, "figure_png", lambda fig, dpi=None: PNG_STUB)
    box = knobs.explorer(n_train=200, n_val=50, epochs=1, train_now=False)
    assert box.image.value == b"" and "press <b>Train</b>" in box.text.value
    before = box.text.value
    box.controls["lr"].value = 0.1              # a knob moved: the status line follows at once
    assert box.text.value != before and "lr 0.1" in box.text.value and "press" in box.text.value
    box.button.click()                          # Train: curves and a verdict appear
    assert box.image.value[:4] == b"\x89PNG" and box.figure is not None
    assert "validation accuracy" in box.text.value and "press" not in box.text.value
    drawn = box.figure
    box.controls["keep"].value = 0.5
    assert "press" in box.text.value            # stale until trained again
    box.controls["keep"].value = 0.75
    assert box.text.value.startswith("<b>knobs:</b>") and "press" not in box.text.value  # as trained
    box.controls["keep"].value = 0.5
    box.button.click()
    assert content(box.figure) != content(drawn) and not box.button.disabled
    assert knobs.explorer(n_train=200, n_val=50, epochs=1).figure is not None   # train_now: trained at once


# --- cross-validation folds -------------------------------------------------------------------------

def test_fold_roles_move_the_validation_fold_only():
    rounds = knobs.fold_roles(4, test_fraction=0.2)
    assert len(rounds) == 4
    for r, parts in enumerate(rounds):
        roles = [role for _, _, role in parts]
        assert roles == ["val" if i == r else "train" for i in range(4)] + ["test"]
        assert sum(width for _, width, _ in parts) == pytest.approx(1.0)
        assert parts[-1][:2] == pytest.approx((0.8, 0.2))
    assert rounds[1][1][:2] == pytest.approx((0.2, 0.2))
    with pytest.raises(ValueError, match="k"):
        knobs.fold_roles(1)
    with pytest.raises(ValueError, match="test_fraction"):
        knobs.fold_roles(3, test_fraction=1.5)


def test_folds_figure_draws_a_bar_per_part():
    fig = knobs.folds_figure(3)
    assert len(fig.axes[0].patches) == 3 * 4


# --- the optional switch: the capstone on the student's lesson-05 convolution -----------------------

#: A student's my_conv.py, written the way lesson 05 asks (im2col by one slice per kernel offset,
#: col2im adding the same slices back, one matrix product per pass), independent of cnnlab.conv.
STUDENT_CONV = """
import numpy as np


def im2col(x, kh, kw, stride=1, pad=0):
    N, C, H, W = x.shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for di in range(kh):
        for dj in range(kw):
            cols[:, :, di, dj] = xp[:, :, di:di + stride * Ho:stride, dj:dj + stride * Wo:stride]
    return cols.transpose(0, 4, 5, 1, 2, 3).reshape(N * Ho * Wo, C * kh * kw)


def col2im(cols, x_shape, kh, kw, stride=1, pad=0):
    N, C, H, W = x_shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    blocks = cols.reshape(N, Ho, Wo, C, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=cols.dtype)
    for di in range(kh):
        for dj in range(kw):
            xp[:, :, di:di + stride * Ho:stride, dj:dj + stride * Wo:stride] += blocks[:, :, di, dj]
    return xp[:, :, pad:pad + H, pad:pad + W]


def conv2d_forward_fast(x, w, b, stride=1, pad=0):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, pad)
    out = (cols @ w.reshape(F, -1).T + b).reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)
    return out, (x.shape, cols, w, stride, pad)


def conv2d_backward_fast(dout, cache):
    x_shape, cols, w, stride, pad = cache
    F, C, kh, kw = w.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
    dx = col2im(d @ w.reshape(F, -1), x_shape, kh, kw, stride, pad)
    return dx, (d.T @ cols).reshape(w.shape), d.sum(axis=0)
"""


@pytest.fixture
def my_conv(tmp_path):
    (tmp_path / "my_conv.py").write_text(STUDENT_CONV)
    return knobs.load_my_conv(tmp_path / "my_conv.py")


def test_my_conv_network_is_the_same_network_on_the_student_code(my_conv):
    """Same parameters (the very objects), same scores, same gradients as cnnlab's Conv2d."""
    theirs = knobs.cnn((4, 6), keep=1.0, image_size=12, rng=0)
    mine = knobs.use_my_conv(knobs.cnn((4, 6), keep=1.0, image_size=12, rng=0), my_conv)
    wrapped = knobs.cnn((4, 6), keep=1.0, image_size=12, rng=0)
    assert knobs.use_my_conv(wrapped, my_conv).parameters() == wrapped.parameters()  # no copies, no duplicates
    assert [type(layer).__name__ for layer in mine] == ["MyConv2d", "ReLU", "MaxPool2d"] * 2 + ["Flatten", "Linear"]
    assert repr(mine[0]) == "MyConv2d(1, 4, kernel_size=3, stride=1, pad=1)"
    x = np.random.default_rng(1).standard_normal((3, 1, 12, 12)).astype(np.float32)
    out = mine(x)
    assert out.dtype == np.float32 and np.allclose(out, theirs(x), rtol=1e-5, atol=1e-6)
    dout = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
    assert np.allclose(mine.backward(dout), theirs.backward(dout), rtol=1e-4, atol=1e-6)
    for p, q in zip(mine.parameters(), theirs.parameters()):
        assert np.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-6)


def test_my_conv_layer_backward_against_numerical_gradients(my_conv):
    layer = knobs.MyConv2d(cl.nn.Conv2d(2, 3, 3, stride=2, pad=1, dtype=np.float64, rng=0), my_conv)
    x = np.random.default_rng(3).standard_normal((2, 2, 5, 5))
    dout = np.random.default_rng(4).standard_normal(layer(x).shape)
    dx = layer.backward(dout)
    numeric = cl.gradcheck.numerical_gradient_array(lambda v: layer(v), x.copy(), dout)
    assert cl.gradcheck.rel_error(dx, numeric) < 1e-7
    w = layer.weight.data
    numeric_w = cl.gradcheck.numerical_gradient_array(lambda v: layer(x), w, dout)
    assert cl.gradcheck.rel_error(layer.weight.grad, numeric_w) < 1e-7
    assert np.allclose(layer.bias.grad, dout.sum(axis=(0, 2, 3)))   # db by hand: dout summed over N, H, W


def test_my_conv_trains_like_cnnlab(my_conv, digits):
    (Xtr, ytr), _ = digits
    histories = []
    for use_mine in (False, True):
        model = knobs.cnn((4,), keep=1.0, image_size=8, rng=0)
        model = knobs.use_my_conv(model, my_conv) if use_mine else model
        opt = cl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        histories.append(cl.train.fit(model, opt, (Xtr, ytr), epochs=2, batch_size=64, rng=0, progress=False))
    assert np.allclose(histories[0].train_loss, histories[1].train_loss, rtol=1e-4)


def test_load_my_conv_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="my_conv.py was not found in .*%%writefile my_conv.py"):
        knobs.load_my_conv(tmp_path / "my_conv.py")
    (tmp_path / "my_conv.py").write_text("def conv2d_forward_fast(x, w, b, stride=1, pad=0):\n    pass\n")
    with pytest.raises(AttributeError, match="has no conv2d_backward_fast"):
        knobs.load_my_conv(tmp_path / "my_conv.py")


def test_my_conv_layer_refuses_what_it_cannot_run(my_conv):
    with pytest.raises(TypeError, match="conv must be a cnnlab.nn.Conv2d; got Linear"):
        knobs.MyConv2d(cl.nn.Linear(2, 3), my_conv)
    with pytest.raises(ValueError, match="one stride and one pad; got stride"):
        knobs.MyConv2d(cl.nn.Conv2d(1, 2, 3, stride=(1, 2)), my_conv)

    class Widening:  # a student's forward that returns float64 for float32 input
        @staticmethod
        def conv2d_forward_fast(x, w, b, stride=1, pad=0):
            return my_conv.conv2d_forward_fast(x.astype(np.float64), w, b, stride, pad)

    with pytest.raises(TypeError, match="returned float64 for float32 input"):
        knobs.MyConv2d(cl.nn.Conv2d(1, 2, 3), Widening)(np.zeros((1, 1, 4, 4), np.float32))
