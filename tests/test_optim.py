"""Optimizers and schedules: the lecture's worked update, and torch.optim as the oracle."""
import numpy as np
import pytest

import gradgraph as gg
from gradgraph import optim
from gradgraph.nn import Parameter


def test_lecture_gradient_descent_update():
    theta = Parameter(np.array(-2.0))
    theta.grad = np.array(-36.0)
    optim.SGD([theta], lr=0.01).step()
    assert theta.data == pytest.approx(-1.64)


def test_step_skips_parameters_without_gradient_and_zero_grad_clears():
    a, b = Parameter(np.ones(3)), Parameter(np.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(3)
    opt.step()
    assert np.all(a.data < 1) and np.all(b.data == 1)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_lr_is_settable_and_validated():
    p = Parameter(np.zeros(2))
    opt = optim.SGD([p], lr=0.1)
    opt.lr = 0.5
    p.grad = np.ones(2)
    opt.step()
    assert np.allclose(p.data, -0.5)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)


def _problem(rng):
    """Two parameters and a loss with curvature, the same in gradgraph and torch."""
    w0 = rng.normal(size=(3, 4))
    b0 = rng.normal(size=(4,))
    x = rng.normal(size=(5, 3))
    return w0, b0, x


def _loss_gg(w, b, x):
    h = (gg.Tensor(x, requires_grad=False) @ w + b).tanh()
    return (h * h).sum() + (w * w * w).sum() * 0.1


def _loss_torch(torch, w, b, x):
    h = torch.tanh(torch.tensor(x) @ w + b)
    return (h * h).sum() + (w ** 3).sum() * 0.1


OPTIMIZERS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.05)),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS)
def test_matches_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch")
    w0, b0, x = _problem(np.random.default_rng(1))
    w, b = Parameter(w0), Parameter(b0)
    ours = getattr(optim, name)([w, b], **kwargs)
    tw = torch.tensor(w0, requires_grad=True)
    tb = torch.tensor(b0, requires_grad=True)
    theirs = getattr(torch.optim, name)([tw, tb], **kwargs)
    for _ in range(6):
        ours.zero_grad()
        _loss_gg(w, b, x).backward()
        ours.step()
        theirs.zero_grad()
        _loss_torch(torch, tw, tb, x).backward()
        theirs.step()
        np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b.data, tb.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_float32_parameters_stay_float32():
    p = Parameter(np.ones(4, dtype=np.float32))
    for opt in (optim.SGD([p], momentum=0.9), optim.Adam([p]), optim.RMSprop([p])):
        p.grad = np.full(4, 0.5, dtype=np.float32)
        opt.step()
        opt.step()
        assert p.data.dtype == np.float32
        assert all(v.dtype == np.float32 for s in opt.state for v in s.values())


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_state_dict_resumes_exactly(name):
    kwargs = {"SGD": dict(lr=0.05, momentum=0.9), "Adam": dict(lr=0.01), "RMSprop": dict(lr=0.01)}[name]
    w0, b0, x = _problem(np.random.default_rng(2))

    def run(steps, opt, w, b):
        for _ in range(steps):
            opt.zero_grad()
            _loss_gg(w, b, x).backward()
            opt.step()

    w, b = Parameter(w0), Parameter(b0)
    opt = getattr(optim, name)([w, b], **kwargs)
    run(6, opt, w, b)

    w2, b2 = Parameter(w0), Parameter(b0)
    first = getattr(optim, name)([w2, b2], **kwargs)
    run(3, first, w2, b2)
    state = first.state_dict()
    second = getattr(optim, name)([w2, b2], lr=123.0)
    second.load_state_dict(state)
    assert second.lr == kwargs["lr"] and second.t == 3
    run(3, second, w2, b2)
    np.testing.assert_array_equal(w.data, w2.data)
    np.testing.assert_array_equal(b.data, b2.data)


def test_load_state_dict_rejects_wrong_shapes():
    p = Parameter(np.ones(3))
    opt = optim.Adam([p])
    p.grad = np.ones(3)
    opt.step()
    state = opt.state_dict()
    other = optim.Adam([Parameter(np.ones(4))])
    with pytest.raises(ValueError, match="shape"):
        other.load_state_dict(state)


def test_step_lr_and_exponential_lr():
    p = Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = [opt.lr]
    for _ in range(5):
        sched.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]

    opt = optim.Adam([p], lr=0.1)
    sched = optim.ExponentialLR(opt, gamma=0.9)
    for _ in range(3):
        sched.step()
    assert opt.lr == pytest.approx(0.1 * 0.9 ** 3)
    state = sched.state_dict()
    opt2 = optim.Adam([p], lr=0.1)
    sched2 = optim.ExponentialLR(opt2, gamma=0.9)
    sched2.load_state_dict(state)
    assert opt2.lr == pytest.approx(opt.lr)


@pytest.mark.parametrize("kind", ["step", "exp"])
def test_schedules_match_torch(kind):
    torch = pytest.importorskip("torch")
    p = Parameter(np.zeros(1))
    tp = torch.zeros(1, requires_grad=True)
    ours_opt, torch_opt = optim.SGD([p], lr=0.3), torch.optim.SGD([tp], lr=0.3)
    if kind == "step":
        ours, theirs = optim.StepLR(ours_opt, 3, 0.2), torch.optim.lr_scheduler.StepLR(torch_opt, 3, 0.2)
    else:
        ours, theirs = optim.ExponentialLR(ours_opt, 0.7), torch.optim.lr_scheduler.ExponentialLR(torch_opt, 0.7)
    for _ in range(7):
        torch_opt.step()
        ours.step()
        theirs.step()
        assert ours_opt.lr == pytest.approx(torch_opt.param_groups[0]["lr"], rel=1e-12)


def test_one_registry_of_optimizers_and_their_default_learning_rates():
    assert list(optim.OPTIMIZERS) == ["adam", "sgd", "rmsprop"]
    p = Parameter(np.ones(3))
    for name, cls in optim.OPTIMIZERS.items():
        assert optim.default_lr(name) == cls.default_lr > 0
        assert cls([p]).lr == cls.default_lr  # lr=None: the registry's default
        made = optim.make_optimizer(name, [p])
        assert type(made) is cls and made.lr == optim.default_lr(name)
        assert optim.make_optimizer(name, [p], lr=0.5).lr == 0.5
    assert optim.default_lr("sgd") == 0.01 and optim.default_lr("adam") == 1e-3 == optim.default_lr("rmsprop")
    assert optim.make_optimizer("sgd", [p], momentum=0.9).momentum == 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; choose one of adam, sgd, rmsprop"):
        optim.make_optimizer("adamw", [p])
    assert not hasattr(optim.Optimizer, "buffers")
