"""gradgraph.nn: modules, parameters, scopes, state dicts, layers, LeNet-5, feature maps."""
import numpy as np
import pytest

import gradgraph as gg
from gradgraph import nn
from gradgraph.tensor import topological_order


class TwoLayer(nn.Module):
    def __init__(self, dtype=np.float32):
        super().__init__()
        self.fc1 = nn.Linear(3, 5, rng=0, dtype=dtype)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(5, 2, init="xavier", rng=1, dtype=dtype)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_parameters_are_registered_named_and_of_kind_parameter():
    model = TwoLayer()
    names = [n for n, _ in model.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    for name, p in model.named_parameters():
        assert isinstance(p, nn.Parameter) and p.kind == "parameter" and p.requires_grad
        assert p.name == name and p.dtype == np.float32
        assert p.group == name.split(".")[0]
    assert model.num_parameters() == 3 * 5 + 5 + 5 * 2 + 2
    assert [n for n, _ in model.named_modules()] == ["", "fc1", "act", "fc2"]
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Tanh", "Linear"]


def test_nested_names_and_sequential():
    outer = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Sequential(nn.Linear(4, 1, rng=1)))
    assert [n for n, _ in outer.named_parameters()] == ["0.weight", "0.bias", "2.0.weight", "2.0.bias"]
    assert outer[2][0].weight.name == "2.0.weight"
    assert outer[2][0].weight.group == "sequential2/linear0"
    assert len(outer) == 3 and isinstance(list(outer)[1], nn.ReLU)
    out = outer(np.ones((3, 2), dtype=np.float32))
    assert out.shape == (3, 1)


def test_forward_nodes_are_grouped_by_layer():
    model = TwoLayer()
    loss = model(np.ones((4, 3), dtype=np.float32)).sum()
    groups = {node.group for node in topological_order(loss) if node.gate is not None}
    assert groups == {"fc1", "act", "fc2", None}  # the final sum is outside the model


def test_module_without_super_init_has_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Broken()


def test_backward_fills_parameter_grads_and_zero_grad_clears():
    model = TwoLayer()
    gg.losses.cross_entropy(model(np.ones((4, 3), dtype=np.float32)), [0, 1, 1, 0]).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_mlp_gradcheck_in_float64():
    model = TwoLayer(dtype=np.float64)
    x = np.random.default_rng(0).normal(size=(4, 3))
    params = model.parameters()

    def fn(*ps):
        return model(x)

    assert gg.gradcheck(fn, params)


def test_state_dict_round_trip_and_errors():
    a, b = TwoLayer(), TwoLayer()
    b.fc1.weight.data += 1
    state = a.state_dict()
    assert list(state) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    state["fc1.weight"][0, 0] = 42  # a copy: the model is unchanged
    assert a.fc1.weight.data[0, 0] != 42
    b.load_state_dict(a.state_dict())
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)

    missing = a.state_dict()
    del missing["fc2.bias"]
    with pytest.raises(nn.StateDictError, match="missing keys: fc2.bias"):
        b.load_state_dict(missing)
    extra = dict(a.state_dict(), **{"fc3.weight": np.zeros(2)})
    with pytest.raises(nn.StateDictError, match="unexpected keys: fc3.weight"):
        b.load_state_dict(extra)
    b.load_state_dict(extra, strict=False)
    wrong = dict(a.state_dict(), **{"fc1.weight": np.zeros((5, 3))})
    with pytest.raises(nn.StateDictError, match=r"fc1.weight.*\(5, 3\).*\(3, 5\)"):
        b.load_state_dict(wrong)


def test_dtype_float32_default_and_float64_on_request():
    model = TwoLayer()
    assert model.dtype == np.float32
    assert model(np.ones((2, 3))).dtype == np.float32  # float64 input data is cast
    model.double()
    assert model.dtype == np.float64 and model(np.ones((2, 3))).dtype == np.float64
    assert nn.LeNet5(dtype=np.float64).dtype == np.float64


def test_init_schemes_and_seeds():
    w = nn.init.kaiming_uniform((400, 120), rng=0)
    assert np.abs(w).max() <= np.sqrt(6 / 400) and np.abs(w).max() > 0.9 * np.sqrt(6 / 400)
    w = nn.init.xavier_uniform((6, 1, 5, 5), rng=0)
    assert np.abs(w).max() <= np.sqrt(6 / (25 + 150))
    nn.manual_seed(7)
    a = nn.LeNet5()
    nn.manual_seed(7)
    b = nn.LeNet5()
    c = nn.LeNet5(rng=7)
    np.testing.assert_array_equal(a.conv1.weight.data, b.conv1.weight.data)
    np.testing.assert_array_equal(c.fc1.weight.data, nn.LeNet5(rng=7).fc1.weight.data)
    assert not np.array_equal(a.fc1.weight.data, nn.LeNet5(rng=8).fc1.weight.data)
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(2, 2, init="zeros-please")


def test_activation_layers():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    np.testing.assert_allclose(nn.ReLU()(gg.Tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(gg.Tensor(x)).data, np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.Tanh()(gg.Tensor(x)).data, np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(gg.Tensor(x)).data, 1 / (1 + np.exp(-x)))
    p = nn.Softmax()(gg.Tensor(x)).data
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    assert nn.Flatten()(gg.Tensor(np.ones((2, 3, 4, 5)))).shape == (2, 60)


def test_dropout_inverted_and_only_in_training():
    layer = nn.Dropout(0.25, rng=0)
    x = gg.Tensor(np.ones((200, 50)))
    out = layer(x)
    kept = out.data != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(out.data[kept], 1 / 0.75)
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.data)  # gradient passes where the value did, scaled alike
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError):
        nn.Dropout(1.0)


def test_dropout_gate_gradcheck_with_fixed_mask():
    x = gg.Tensor(np.random.default_rng(0).normal(size=(3, 4)))

    def fn(t):
        return nn.InvertedDropout(0.5, np.random.default_rng(3))(t)

    assert gg.gradcheck(fn, [x])  # the same seed each call: the same mask


def test_train_eval_modes_propagate():
    model = nn.LeNet5(dropout=0.5)
    assert model.training and model.dropout1.training
    model.eval()
    assert not model.training and not model.dropout1.training and not model.conv1.training
    model.train()
    assert model.dropout2.training


def test_lenet5_architecture():
    model = nn.LeNet5(rng=0)
    assert model.num_parameters() == 61706
    assert [n for n, _ in model.named_children()] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2", "relu4", "fc3"]
    x = np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)
    logits = model(x)
    assert logits.shape == (3, 10) and logits.dtype == np.float32
    groups = {n.group for n in topological_order(logits) if n.gate is not None}
    assert groups == {"conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1", "relu3", "fc2",
                      "relu4", "fc3"}
    tanh = nn.LeNet5(activation="tanh", pool="avg", dropout=0.2, in_channels=3, num_classes=5)
    assert [n for n, _ in tanh.named_children()][:3] == ["conv1", "tanh1", "pool1"]
    assert "dropout1" in dict(tanh.named_children())
    assert tanh(np.zeros((2, 3, 28, 28), np.float32)).shape == (2, 5)
    assert nn.LeNet5(input_size=32)(np.zeros((1, 1, 32, 32), np.float32)).shape == (1, 10)
    with pytest.raises(ValueError, match="activation"):
        nn.LeNet5(activation="gelu")
    with pytest.raises(ValueError, match="pool"):
        nn.LeNet5(pool="min")


def test_feature_maps_and_filters():
    model = nn.LeNet5(rng=0, dropout=0.3)
    image = np.random.default_rng(0).standard_normal((28, 28)).astype(np.float32)
    maps = gg.inspect.feature_maps(model, image)
    assert list(maps)[:4] == ["conv1", "relu1", "pool1", "conv2"]
    assert maps["conv1"].shape == (6, 28, 28) and maps["pool1"].shape == (6, 14, 14)
    assert maps["conv2"].shape == (16, 10, 10) and maps["pool2"].shape == (16, 5, 5)
    assert maps["flatten"].shape == (400,) and maps["fc3"].shape == (10,)
    assert model.training  # the mode is restored
    same = gg.inspect.feature_maps(model, image[None, None])
    np.testing.assert_array_equal(same["fc3"], maps["fc3"])  # eval mode: dropout off, deterministic
    np.testing.assert_allclose(maps["fc3"], model.eval()(image[None, None]).data[0], rtol=1e-6)
    assert not model._forward_hooks and not model.conv1._forward_hooks
    convs = gg.inspect.conv_layers(model)
    assert [n for n, _ in convs] == ["conv1", "conv2"]
    filters = gg.inspect.filters(model)
    assert filters["conv1"].shape == (6, 1, 5, 5) and filters["conv2"].shape == (16, 6, 5, 5)
    assert model.conv1.filters() is model.conv1.weight.data
    assert nn.Conv2d(1, 2, 3).filters().shape == (2, 1, 3, 3)  # a property used to shadow the method


def test_forward_hooks_can_be_removed():
    model = TwoLayer()
    seen = []
    handle = model.fc1.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    model(np.ones((2, 3)))
    handle.remove()
    model(np.ones((2, 3)))
    assert seen == [(2, 5)]


def test_summary_and_repr():
    model = nn.LeNet5()
    text = model.summary()
    assert "conv1" in text and "61,706" in text
    assert "Conv2d(1, 6, kernel_size=(5, 5), padding=(2, 2))" in repr(model)


def test_lenet_matches_torch():
    torch = pytest.importorskip("torch")
    model = nn.LeNet5(rng=0, dtype=np.float64)
    tn = torch.nn
    tmodel = tn.Sequential(
        tn.Conv2d(1, 6, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2), tn.Conv2d(6, 16, 5), tn.ReLU(), tn.MaxPool2d(2),
        tn.Flatten(), tn.Linear(400, 120), tn.ReLU(), tn.Linear(120, 84), tn.ReLU(), tn.Linear(84, 10)).double()
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), model.parameters()):
            tp.copy_(torch.tensor(p.data.T if p.ndim == 2 else p.data))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 1, 28, 28)), rng.integers(0, 10, size=4)
    loss = gg.losses.cross_entropy(model(x), y)
    loss.backward()
    tloss = tn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y))
    tloss.backward()
    assert loss.item() == pytest.approx(tloss.item(), rel=1e-10)
    for tp, p in zip(tmodel.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad, tp.grad.numpy().T if p.ndim == 2 else tp.grad.numpy(), rtol=1e-8,
                                   atol=1e-12)


def test_lenet_first_loss_is_about_ln_10():
    x = np.random.default_rng(0).standard_normal((64, 1, 28, 28)).astype(np.float32)
    y = np.arange(64) % 10
    for seed in range(3):
        loss = gg.losses.cross_entropy(nn.LeNet5(rng=seed)(x), y).item()
        assert abs(loss - np.log(10)) < 0.15
