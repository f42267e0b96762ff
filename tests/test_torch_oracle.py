"""torch as an oracle: the same expressions, the same values and gradients (skipped without torch)."""
import numpy as np
import pytest

import gradgraph as gg

torch = pytest.importorskip("torch")


def _both(fn_gg, fn_torch, *arrays):
    ours = [gg.Tensor(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn_gg(*ours), fn_torch(*theirs)
    out.backward()
    ref.backward()
    assert np.allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    for t, r in zip(ours, theirs):
        assert np.allclose(t.grad, r.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_mlp_like_expression_matches_torch():
    rng = np.random.default_rng(0)
    x, w1, b1, w2 = rng.normal(size=(5, 4)), rng.normal(size=(4, 6)), rng.normal(size=6), rng.normal(size=(6, 3))

    def ours(x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        s = (h @ w2).tanh() * 2 + h.sigmoid().mean(axis=1, keepdims=True)
        return s.log_softmax().sum() + s.softmax(axis=0).max(axis=1).sum() + (s ** 2).exp().mean().log()

    def theirs(x, w1, b1, w2):
        h = (x @ w1 + b1).relu()
        s = (h @ w2).tanh() * 2 + h.sigmoid().mean(dim=1, keepdim=True)
        return (s.log_softmax(-1).sum() + s.softmax(0).max(dim=1).values.sum()
                + (s ** 2).exp().mean().log())

    _both(ours, theirs, x, w1, b1, w2)


def test_losses_match_torch():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, size=6)
    _both(lambda s: gg.losses.cross_entropy(s, labels),
          lambda s: torch.nn.functional.cross_entropy(s, torch.tensor(labels)), logits)
    _both(lambda s: gg.losses.hinge(s, labels),
          lambda s: torch.nn.functional.multi_margin_loss(s, torch.tensor(labels)) * s.shape[1], logits)
    p, y = rng.uniform(0.1, 0.9, size=5), rng.integers(0, 2, size=5).astype(float)
    _both(lambda q: gg.losses.binary_cross_entropy(q, y),
          lambda q: torch.nn.functional.binary_cross_entropy(q, torch.tensor(y)), p)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    _both(lambda u, v: gg.losses.mse(u, v), lambda u, v: torch.nn.functional.mse_loss(u, v), a, b)
    _both(lambda u, v: gg.losses.l1(u, v), lambda u, v: torch.nn.functional.l1_loss(u, v), a, b)


def test_broadcast_matmul_matches_torch():
    rng = np.random.default_rng(2)
    _both(lambda a, b: (a @ b).sum(), lambda a, b: (a @ b).sum(), rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5)))
    _both(lambda a, b: (a @ b).sum(), lambda a, b: (a @ b).sum(), rng.normal(size=(4,)), rng.normal(size=(4, 5)))
