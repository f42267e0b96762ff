"""Every built-in gate, gradchecked in float64 over hypothesis-drawn shapes and values.

The table lives in gradgraph.gatecheck so that `gradgraph check` and these
tests can never disagree about what "every gate" means.
"""
import numpy as np
import pytest
from hypothesis import given

import gradgraph as gg
from gradgraph import kernels
from gradgraph.gatecheck import CASES, make_tensors
from strategies import seeds, shapes

#: The gates computed by gradgraph.kernels, which has several backends.
KERNEL_CASES = [c for c in CASES if c.name.startswith(("Conv2d", "MaxPool2d", "AvgPool2d"))]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@given(shape=shapes, seed=seeds)
def test_gate_gradients_match_centred_differences(case, shape, seed):
    inputs = make_tensors(case, np.random.default_rng(seed), shape)
    assert gg.gradcheck(case.fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("backend", ["reference", "numpy", "fast"])
@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.name for c in KERNEL_CASES])
@given(shape=shapes, seed=seeds)
def test_kernel_gates_gradcheck_on_every_backend(backend, case, shape, seed):
    with kernels.use_backend(backend):
        inputs = make_tensors(case, np.random.default_rng(seed), shape)
        assert gg.gradcheck(case.fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gate_keeps_float32(case):
    inputs = make_tensors(case, np.random.default_rng(0), (2, 3))
    inputs = [gg.Tensor(t.data.astype(np.float32), requires_grad=t.requires_grad) for t in inputs]
    out = case.fn(*inputs)
    assert out.dtype == np.float32, f"{case.name} turned float32 into {out.dtype}"
    out.sum().backward()
    for t in inputs:
        if t.requires_grad:
            assert t.grad.dtype == np.float32


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gate_matches_torch(case, shape):
    torch = pytest.importorskip("torch")
    assert case.torch is not None, f"{case.name}: give the gate table a torch version of the case"
    ours = make_tensors(case, np.random.default_rng(1), shape)
    theirs = [torch.tensor(t.data, requires_grad=t.requires_grad) for t in ours]
    out, ref = case.fn(*ours), case.torch(torch, *theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-9, atol=1e-12)
    weights = np.random.default_rng(2).uniform(0.5, 1.5, size=out.shape)
    (out * weights).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for mine, other in zip(ours, theirs):
        if mine.requires_grad:
            np.testing.assert_allclose(mine.grad, other.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_check_cli_passes_for_every_gate(capsys):
    from gradgraph.gatecheck import main

    assert main(None) == 0
    out = capsys.readouterr().out
    for case in CASES:
        assert case.name in out
    assert "0 failed" in out


def test_gradcheck_names_input_worst_element_and_values():
    class WrongSquare(gg.Gate):
        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, d_out):
            return (d_out * self.x,)  # forgot the factor 2

    x = gg.Tensor(np.array([1.0, -3.0, 2.0]), name="x")
    with pytest.raises(gg.GradcheckError) as info:
        gg.gradcheck(lambda t: WrongSquare()(t), [x])
    message = str(info.value)
    assert "'x'" in message and "element (1,)" in message
    assert "analytic" in message and "numerical" in message and "relative error" in message


def test_gradcheck_warns_on_float32():
    x = gg.Tensor(np.ones(3, dtype=np.float32))
    with pytest.warns(UserWarning, match="float64"):
        try:
            gg.gradcheck(lambda t: t * t, [x])
        except gg.GradcheckError:
            pass
