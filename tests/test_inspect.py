"""gradgraph.inspect (what the app and the lessons read from a model), the slimmer nn.Module,
layer reprs, Module.to_torch and the graph names of module outputs."""
import ast
import pathlib
import sys

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import inspect, nn
from gradgraph.graph import collapsed


def test_module_holds_no_app_inspection():
    for name in ("conv_layers", "filters", "feature_maps", "_as_batch"):
        assert not hasattr(nn.Module, name), name


def test_module_file_does_not_import_its_subclasses():
    tree = ast.parse(pathlib.Path(nn.module.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not any(m.endswith(("layers", "lenet", "inspect")) for m in imported), imported


def test_avg_pool_is_its_own_layer():
    assert not issubclass(nn.AvgPool2d, nn.MaxPool2d)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert nn.AvgPool2d(2)(x).data.ravel().tolist() == [2.5, 4.5, 10.5, 12.5]
    assert nn.MaxPool2d(2)(x).data.ravel().tolist() == [5, 7, 13, 15]


def test_reprs_show_every_non_default_argument():
    assert repr(nn.Linear(2, 3)) == "Linear(2, 3)"
    assert repr(nn.Linear(2, 3, bias=False, init="xavier", dtype=np.float64)) == \
        "Linear(2, 3, bias=False, init='xavier', dtype='float64')"
    assert repr(nn.Conv2d(1, 2, 3, stride=2, padding=1, dilation=2, bias=False)) == \
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False)"
    assert repr(nn.MaxPool2d(3, stride=1, padding=1)) == "MaxPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(alpha=0.2)" and repr(nn.LeakyReLU()) == "LeakyReLU()"
    assert repr(nn.Softmax(axis=0)) == "Softmax(axis=0)" and repr(nn.Flatten(2)) == "Flatten(start_dim=2)"
    head = repr(nn.LeNet5(activation="tanh", pool="avg", dropout=0.5, num_classes=7, input_size=32)).splitlines()[0]
    assert head == "LeNet5(activation='tanh', pool='avg', dropout=0.5, num_classes=7, input_size=32"


def test_predict_confusion_matrix_and_classes():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Dropout(0.5))
    x = np.random.default_rng(0).normal(size=(1100, 2))
    logits = inspect.predict(model, x)  # three batches of 500
    assert logits.shape == (1100, 3) and model.training  # mode restored, dropout was off
    np.testing.assert_allclose(logits, model.eval()(x).data, rtol=1e-6)
    assert inspect.predicted_classes(np.array([[0.3], [-1.0]])).tolist() == [1, 0]
    counts = inspect.confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2])
    assert counts.tolist() == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert inspect.confusion_matrix([0], [0], num_classes=3).shape == (3, 3)
    with pytest.raises(ValueError, match="2 labels but 1 predictions"):
        inspect.confusion_matrix([0, 1], [0])


def test_decision_boundary_of_a_linear_classifier():
    model = nn.Linear(2, 2, dtype=np.float64)
    model.weight.data[:] = [[1.0, -1.0], [0.0, 0.0]]  # class 0 where x > 0
    model.bias.data[:] = 0
    points = np.array([[-1.0, -1.0], [1.0, 1.0]])
    boundary = inspect.decision_boundary(model, points, resolution=11)
    assert boundary.classes.shape == (11, 11)
    assert boundary.lo.tolist() == pytest.approx([-1.2, -1.2]) and boundary.hi.tolist() == pytest.approx([1.2, 1.2])
    assert (boundary.classes[:, boundary.xs > 0] == 0).all() and (boundary.classes[:, boundary.xs < 0] == 1).all()
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        inspect.decision_boundary(model, np.zeros((3, 3)))


def test_saliency_is_the_input_gradient_with_weights_frozen():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, dtype=np.float64))
    image = np.ones((1, 2, 2))
    s = inspect.saliency(model, image, label=1)
    np.testing.assert_allclose(s, np.abs(model[1].weight.data[:, 1]).reshape(2, 2))
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_lenet_to_torch_matches_to_1e4():
    torch = pytest.importorskip("torch")
    model = nn.LeNet5(rng=0, dropout=0.3)
    x = np.random.default_rng(0).normal(size=(3, 1, 28, 28)).astype(np.float32)
    model.eval()
    theirs = model.to_torch()
    assert isinstance(theirs, torch.nn.Module) and not theirs.training
    with torch.no_grad():
        np.testing.assert_allclose(theirs(torch.tensor(x)).numpy(), model(x).data, atol=1e-4)
    assert theirs.fc1.weight.shape == (120, 400)  # torch's (out, in) layout
    model.train()
    assert model.to_torch().training


def test_sequential_of_every_built_in_layer_to_torch():
    torch = pytest.importorskip("torch")
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=(1, 2), padding=1, dilation=1, rng=0, dtype=np.float64), nn.Tanh(),
        nn.AvgPool2d(2, stride=1, padding=1), nn.LeakyReLU(0.2), nn.MaxPool2d(2), nn.Sigmoid(), nn.Flatten(),
        nn.Linear(18, 5, rng=1, dtype=np.float64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(5, 4, bias=False, rng=2,
                                                                                        dtype=np.float64),
        nn.Softmax(axis=-1)).eval()
    x = np.random.default_rng(1).normal(size=(2, 2, 6, 6))
    theirs = model.to_torch()
    assert next(theirs.parameters()).dtype == torch.float64
    with torch.no_grad():
        np.testing.assert_allclose(theirs(torch.tensor(x)).numpy(), model(x).data, atol=1e-10)


def test_to_torch_without_torch_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match="pip install torch"):
        nn.Linear(2, 2).to_torch()


def test_to_torch_of_a_custom_module_says_what_converts():
    pytest.importorskip("torch")

    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="Mine.to_torch.*Sequential and LeNet5"):
        Mine().to_torch()


def test_lenet_graph_names_follow_the_module_paths():
    model = nn.LeNet5(rng=0)
    x = gg.Tensor(np.zeros((1, 1, 28, 28), np.float32), name="image", requires_grad=False)
    loss = gg.losses.cross_entropy(model(x), [3])
    graph = gg.Graph(loss)
    names = {n.name for n in graph.nodes}
    layers = [path for path, m in model.named_modules() if path]
    assert set(layers) <= names  # the output of module conv1 is the node conv1
    for layer in layers:
        node = graph.node(layer)
        assert node.group == layer
    assert {"fc1.matmul", "fc2.matmul", "fc3.matmul"} <= names  # the gates inside a layer
    boxes = {v.name for v in collapsed(graph).nodes if v.is_group}
    assert set(layers) == boxes  # the collapsed boxes have the same names


def test_a_layer_returning_its_input_does_not_rename_it():
    x = gg.Tensor(np.ones(3), name="x")
    model = nn.Sequential(nn.Dropout(0.5)).eval()
    assert model(x) is x and x.name == "x"
    y = gg.Tensor(np.ones(3))
    out = nn.Sequential(nn.ReLU())(y)
    assert out.name == "relu0" and y.name is None
