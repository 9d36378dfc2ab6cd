"""cnnlab.plot: every function returns a pyplot-free Figure with the expected axes (a computation
graph's boxes too), and Figures (including fit's live plot) display as images in a real notebook kernel."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to prove no figure is left open)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnlab import nn, plot, train  # noqa: E402
from cnnlab.autograd import Tensor, topological_order  # noqa: E402

RNG = np.random.default_rng(0)


def _renders(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue().startswith(b"\x89PNG")


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


@pytest.fixture(autouse=True)
def no_pyplot_figures():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "a cnnlab.plot function left a pyplot figure open"


@pytest.mark.parametrize("images", [RNG.random((12, 8, 8)), RNG.random((12, 1, 8, 8)), RNG.random((12, 3, 8, 8))])
def test_image_grid_one_axes_per_image(images):
    fig = plot.image_grid(images, labels=np.arange(12) % 10, ncols=5, title="some digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12 and len(_image_axes(fig)) == 12
    assert [ax.get_title() for ax in fig.axes[:3]] == ["0", "1", "2"]
    assert fig.axes[5].get_subplotspec().rowspan.start == 1  # the sixth image starts row 2
    assert fig._suptitle.get_text() == "some digits"
    assert _renders(fig)


def test_image_grid_marks_wrong_predictions():
    fig = plot.image_grid(RNG.random((3, 4, 4)), labels=[1, 2, 3], predictions=[1, 5, 3],
                          class_names=list("abcdef"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["b", "c→f", "d"]
    assert fig.axes[1].title.get_color() == "tab:red" and fig.axes[0].title.get_color() == "black"


def test_image_grid_errors():
    expected = r"images must be \(N, H, W\) or \(N, C, H, W\) with C = 1 or 3; got shape \(2, 2, 4, 4\)"
    with pytest.raises(ValueError, match=expected):
        plot.image_grid(np.zeros((2, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"labels must have one entry per image, length 2; got 3"):
        plot.image_grid(np.zeros((2, 4, 4)), labels=[0, 1, 2])
    with pytest.raises(ValueError, match=r"at most 256 panels can be drawn; got 300"):
        plot.image_grid(np.zeros((300, 4, 4)))
    with pytest.raises(TypeError, match="images must be a NumPy or CuPy array; got str"):
        plot.image_grid("digits")


def test_curves_two_axes_with_train_and_val():
    history = train.History(train_loss=[2.0, 1.0, 0.5], train_acc=[0.3, 0.6, 0.8], val_loss=[2.1, 1.2, 1.3],
                            val_acc=[0.3, 0.5, 0.5], lr=[0.1] * 3, time=[1.0] * 3, best_epoch=1)
    fig = plot.curves(history)
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert list(lines["validation"].get_ydata()) == [2.1, 1.2, 1.3]
    assert list(lines["training"].get_xdata()) == [1, 2, 3]
    assert list(lines["best epoch"].get_xdata()) == [2, 2]
    assert _renders(fig)


def test_curves_from_a_dict_without_validation():
    fig = plot.curves({"train_loss": [1.0, 0.5], "train_acc": [0.5, 0.7]})
    assert len(fig.axes) == 2
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["training"]
    with pytest.raises(ValueError, match="history must hold at least one epoch of train_loss"):
        plot.curves({"train_loss": []})


def test_filters_one_axes_per_filter_or_per_channel():
    fig = plot.filters(RNG.normal(size=(6, 1, 3, 3)), ncols=4)
    assert len(_image_axes(fig)) == 6
    image = fig.axes[0].images[0]
    low, high = image.get_clim()
    assert low == -high  # grey scale symmetric around zero
    assert len(plot.filters(RNG.normal(size=(4, 3, 5, 5))).axes) == 4
    assert len(plot.filters(RNG.normal(size=(3, 2, 3, 3))).axes) == 6
    layer = nn.Conv2d(1, 5, 3, rng=0)
    assert len(plot.filters(layer.weight).axes) == 5  # a Parameter works too
    with pytest.raises(ValueError, match=r"weight must be a 4-D array \(F, C, kh, kw\); got shape \(3, 3\)"):
        plot.filters(np.zeros((3, 3)))


def test_feature_maps_one_axes_per_channel():
    assert len(plot.feature_maps(RNG.random((7, 5, 5))).axes) == 7
    fig = plot.feature_maps(RNG.random((1, 3, 5, 5)), ncols=2)
    assert len(fig.axes) == 3 and [ax.get_title() for ax in fig.axes] == ["0", "1", "2"]
    assert _renders(fig)
    with pytest.raises(ValueError, match=r"maps must be one image's activations .*got shape \(2, 3, 5, 5\)"):
        plot.feature_maps(np.zeros((2, 3, 5, 5)))


def test_confusion_matrix_one_axes_with_counts():
    cm = np.array([[5, 1], [0, 7]])
    fig = plot.confusion_matrix(cm, class_names=["cat", "dog"])
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "5", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    assert _renders(fig)
    with pytest.raises(ValueError, match=r"cm must be a square \(K, K\) matrix; got shape \(2, 3\)"):
        plot.confusion_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="class_names must have 2 entries"):
        plot.confusion_matrix(cm, class_names=["a"])


def test_figures_and_the_live_plot_display_as_images_in_a_notebook(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cells = [
        "import numpy as np\nimport cnnlab as cl\n"
        "cl.plot.confusion_matrix(np.eye(3, dtype=int))",
        "X = np.random.default_rng(0).random((40, 1, 4, 4)).astype(np.float32)\n"
        "y = np.arange(40) % 3\n"
        "model = cl.nn.Sequential(cl.nn.Flatten(), cl.nn.Linear(16, 3, rng=0))\n"
        "opt = cl.optim.SGD(model.parameters(), lr=0.1)\n"
        "h = cl.train.fit(model, opt, (X, y), val=(X, y), epochs=3, batch_size=20, progress=False, live_plot=True)",
        "import matplotlib.pyplot as plt\nlen(plt.get_fignums())",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    figure_out, live_out, leaks = (cell.outputs for cell in nb.cells)
    assert len(figure_out) == 1 and "image/png" in figure_out[0]["data"]
    images = [o for o in live_out if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the live plot should be one display updated in place"
    assert leaks[0]["data"]["text/plain"] == "0"


# --- draw_graph: a computation graph of cnnlab.autograd ------------------------------------------

def labels(fig):
    return [t.get_text() for t in fig.axes[0].texts if t.get_text()]


def test_draw_graph_labels_every_node():
    open_before = plt.get_fignums()
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(-3.0, requires_grad=True, name="b")
    f = (a * b + a).exp()
    f.name = "f"
    f.backward()
    fig = draw_graph_and_render(f)
    assert isinstance(fig, Figure)
    assert plt.get_fignums() == open_before  # not registered with pyplot: nothing leaks
    texts = labels(fig)
    assert len(texts) == 5 + 3  # one per tensor (a, b, ab, ab + a, f) and one per op
    assert sorted(t for t in texts if "\n" not in t) == ["add", "exp", "mul"]
    assert "a\n2.00\ngrad -0.0366" in texts  # name, value, grad = -2 e^-4 to 3 digits
    assert "b\n-3.00\ngrad 0.0366" in texts
    assert "f\n0.0183\ngrad 1.00" in texts
    # Inputs are drawn left of the ops that use them, results right of them.
    x_of = {t.get_text().split("\n")[0]: t.get_position()[0] for t in fig.axes[0].texts if t.get_text()}
    assert x_of["a"] < x_of["mul"] < x_of["add"] < x_of["exp"] < x_of["f"]


def draw_graph_and_render(root, **kwargs):
    fig = plot.draw_graph(root, **kwargs)
    fig.canvas.draw()  # arrows are placed relative to the boxes at draw time: must not fail
    return fig


def test_draw_graph_arrays_without_grads_and_into_given_axes():
    x = Tensor(np.ones((2, 3)), name="x")
    W = Tensor(np.ones((3, 4)), requires_grad=True, name="W")
    y = (x @ W).sum()
    y.backward()
    fig = Figure()
    ax = fig.add_subplot()
    assert plot.draw_graph(y, show_grad=False, ax=ax) is fig
    fig.canvas.draw()
    texts = labels(fig)
    assert "x\n(2, 3)" in texts and "W\n(3, 4)" in texts and "(2, 4)" in texts
    assert not any("grad" in t for t in texts)
    with_grads = labels(draw_graph_and_render(y))
    assert "W\n(3, 4)\n|grad| 6.93" in with_grads  # each of the 12 entries of dW is 2: sqrt(48)
    assert "(2, 4)\n|grad| 2.83" in with_grads  # d sum / d(x W) is all ones: sqrt(8)


def test_draw_graph_of_a_thirty_node_network():
    gen = np.random.default_rng(40)
    x = Tensor(gen.standard_normal((8, 5)), name="x")
    layers = [(Tensor(gen.standard_normal((5, 5)), requires_grad=True, name=f"W{i}"),
               Tensor(np.zeros(5), requires_grad=True, name=f"b{i}")) for i in range(4)]
    h = x
    for W, b in layers:
        h = (h @ W + b).relu()
    loss = (h * h).mean()
    loss.backward()
    nodes = topological_order(loss)
    fig = draw_graph_and_render(loss)
    n_ops = sum(1 for t in nodes if t.inputs)
    assert len(nodes) + n_ops >= 30
    assert len(labels(fig)) == len(nodes) + n_ops
    w, h_in = fig.get_size_inches()
    assert w <= 20 and h_in <= 14  # large graphs are capped, not drawn metres wide


def test_draw_graph_rejects_non_tensors():
    with pytest.raises(TypeError, match="root must be a Tensor; got ndarray"):
        plot.draw_graph(np.ones(3))
