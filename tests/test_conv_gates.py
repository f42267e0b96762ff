"""Conv2d, MaxPool2d and AvgPool2d gates: gradcheck on drawn shapes, torch as the oracle, errors, dtypes."""
import numpy as np
import pytest
from hypothesis import given

import gradgraph as gg
from gradgraph.kernels import conv_output_size
from gradgraph.ops.conv import AvgPool2d, Conv2d, MaxPool2d

from strategies import conv_cases, pool_cases, pool_kinds


def distinct(rng, shape):
    """Values at least 0.05 apart (no ties for a max), in random order."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.05 - n * 0.025).reshape(shape)


def conv_tensors(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    x = gg.Tensor(rng.standard_normal(cfg["x_shape"]).astype(dtype), name="x")
    w = gg.Tensor(rng.standard_normal(cfg["w_shape"]).astype(dtype), name="w")
    b = gg.Tensor(rng.standard_normal(cfg["w_shape"][0]).astype(dtype), name="b") if cfg["bias"] else None
    return x, w, b


def run_conv(cfg, x, w, b):
    return gg.conv2d(x, w, b, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])


@given(conv_cases(dtypes=(np.float64,)))
def test_conv2d_gradcheck(cfg):
    x, w, b = conv_tensors(cfg)
    inputs = [x, w] + ([b] if b is not None else [])
    assert gg.gradcheck(lambda *t: run_conv(cfg, t[0], t[1], t[2] if len(t) > 2 else None), inputs)


@given(pool_cases())
def test_max_pool2d_gradcheck(cfg):
    x = gg.Tensor(distinct(np.random.default_rng(cfg["seed"]), cfg["x_shape"]))
    assert gg.gradcheck(lambda t: gg.max_pool2d(t, cfg["kernel"], cfg["stride"], cfg["padding"]), [x], eps=1e-4)


@given(pool_cases())
def test_avg_pool2d_gradcheck(cfg):
    x = gg.Tensor(np.random.default_rng(cfg["seed"]).standard_normal(cfg["x_shape"]))
    assert gg.gradcheck(lambda t: gg.avg_pool2d(t, cfg["kernel"], cfg["stride"], cfg["padding"]), [x])


@given(conv_cases(dtypes=(np.float64,)))
def test_conv2d_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    x, w, b = conv_tensors(cfg)
    out = run_conv(cfg, x, w, b)
    g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    tx = torch.tensor(x.data, requires_grad=True)
    tw = torch.tensor(w.data, requires_grad=True)
    tb = torch.tensor(b.data, requires_grad=True) if b is not None else None
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=cfg["stride"], padding=cfg["padding"],
                                      dilation=cfg["dilation"])
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    if b is not None:
        np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@given(pool_cases(), pool_kinds)
def test_pooling_matches_torch(cfg, kind):
    torch = pytest.importorskip("torch")
    x = gg.Tensor(distinct(np.random.default_rng(cfg["seed"]), cfg["x_shape"]))
    fn = gg.max_pool2d if kind == "max" else gg.avg_pool2d
    out = fn(x, cfg["kernel"], cfg["stride"], cfg["padding"])
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(g)
    tx = torch.tensor(x.data, requires_grad=True)
    tfn = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tout = tfn(tx, cfg["kernel"], cfg["stride"], cfg["padding"])
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_lenet_shapes_float32_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = gg.Tensor(rng.standard_normal((8, 6, 14, 14)).astype(np.float32))
    w = gg.Tensor((rng.standard_normal((16, 6, 5, 5)) * 0.1).astype(np.float32))
    b = gg.Tensor(rng.standard_normal(16).astype(np.float32))
    out = gg.max_pool2d(gg.conv2d(x, w, b).relu(), 2)
    assert out.dtype == np.float32 and out.shape == (8, 16, 5, 5)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32
    tx, tw, tb = (torch.tensor(t.data, requires_grad=True) for t in (x, w, b))
    tout = torch.nn.functional.max_pool2d(torch.relu(torch.nn.functional.conv2d(tx, tw, tb)), 2)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_first_layer_skips_input_gradient(monkeypatch):
    from gradgraph import kernels

    calls = []
    original = kernels.conv2d_backward

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(kernels, "conv2d_backward", spy)
    x = gg.Tensor(np.ones((1, 1, 5, 5)), requires_grad=False)
    w = gg.Tensor(np.ones((2, 1, 3, 3)))
    gg.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 1, 3, 3)
    assert calls and calls[0]["need_dx"] is False and calls[0]["need_dw"] is True


def test_functional_arguments_int_or_tuple_and_default_pool_stride():
    x = gg.Tensor(np.arange(2 * 3 * 9 * 8, dtype=np.float64).reshape(2, 3, 9, 8))
    w = gg.Tensor(np.ones((4, 3, 3, 2)))
    assert gg.conv2d(x, w, stride=2, padding=1, dilation=1).shape == (2, 4, 5, 5)
    assert gg.conv2d(x, w, stride=(1, 2), padding=(0, 1), dilation=(2, 1)).shape == (2, 4, 5, 5)
    assert gg.max_pool2d(x, 3).shape == (2, 3, 3, 2)
    assert gg.avg_pool2d(x, (3, 2), stride=(3, 1)).shape == (2, 3, 3, 7)
    assert conv_output_size(28, 5, 1, 2) == 28 and conv_output_size(14, 5, 1, 0) == 10


def test_dtype_is_preserved():
    for dtype in (np.float32, np.float64):
        x = gg.Tensor(np.ones((1, 2, 6, 6), dtype=dtype))
        w = gg.Tensor(np.ones((3, 2, 3, 3), dtype=dtype))
        b = gg.Tensor(np.zeros(3, dtype=dtype))
        out = gg.avg_pool2d(gg.max_pool2d(gg.conv2d(x, w, b, padding=1), 2), 1)
        assert out.dtype == dtype
        out.sum().backward()
        assert x.grad.dtype == w.grad.dtype == b.grad.dtype == dtype


def test_errors_name_the_gate_and_both_shapes():
    x = np.ones((2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2d.*\(2, 3, 8, 8\).*\(4, 2, 3, 3\)"):
        gg.conv2d(x, np.ones((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"Conv2d.*\(4, 3, 9, 9\).*\(2, 3, 8, 8\)"):
        gg.conv2d(x, np.ones((4, 3, 9, 9)))
    with pytest.raises(ValueError, match=r"Conv2d.*dilation"):
        gg.conv2d(x, np.ones((4, 3, 3, 3)), dilation=5)
    gg.conv2d(x, np.ones((4, 3, 9, 9)), padding=1)  # fits once padded
    with pytest.raises(ValueError, match=r"Conv2d.*bias"):
        gg.conv2d(x, np.ones((4, 3, 3, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"Conv2d.*\(N, C, H, W\).*\(3, 8, 8\)"):
        gg.conv2d(np.ones((3, 8, 8)), np.ones((4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"Conv2d: stride"):
        Conv2d(stride=0)
    with pytest.raises(ValueError, match=r"Conv2d: padding"):
        Conv2d(padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"MaxPool2d.*\(2, 3, 8, 8\)"):
        gg.max_pool2d(x, 9)
    with pytest.raises(ValueError, match=r"AvgPool2d.*padding"):
        AvgPool2d(2, padding=2)
    with pytest.raises(ValueError, match=r"MaxPool2d: kernel_size"):
        MaxPool2d(1.5)


def test_gates_have_formulas_for_the_views():
    for gate in (Conv2d(), MaxPool2d(2), AvgPool2d(2)):
        assert gate.symbol and gate.formula and gate.local
        assert "d_x" in type(gate).__doc__ or "Backward" in type(gate).__doc__
    assert "Σ_c Σ_i Σ_j" in Conv2d.__doc__ and "flipped" in Conv2d.__doc__
