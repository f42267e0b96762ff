"""Optimizers and learning-rate schedules.

An optimizer holds a list of parameters and updates them from their
gradients. One training step::

    optimizer.zero_grad()          # forget the previous step's gradients
    loss = loss_fn(model(x), y)
    loss.backward()                # gradients into p.grad
    optimizer.step()               # update p.data in place

Gradient descent in one line (the lecture's example): θ = -2, learning rate
0.01, gradient dL/dθ = -36, so θ ← -2 - 0.01 · (-36) = -1.64.

All updates follow ``torch.optim`` (same formulas, same defaults except
RMSprop's learning rate) so the two can be compared step by step. Updates are
done in place on ``p.data``.

``OPTIMIZERS`` is the one list of optimizers by name, each class carrying its
``default_lr``: the command line, the app and the lessons all read it::

    opt = gg.optim.make_optimizer("sgd", model.parameters(), momentum=0.9)   # lr 0.01
    gg.optim.default_lr("adam")                                              # 0.001
"""
from __future__ import annotations

import math

import abc

import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "OPTIMIZERS", "default_lr", "make_optimizer",
           "StepLR", "ExponentialLR", "Scheduler"]


class Optimizer(abc.ABC):
    """Base class: ``params`` (Parameters or any Tensors), a learning rate ``lr``
    (None: the class's ``default_lr``).

    ``state_dict()`` gives plain arrays and numbers (``"lr"``, ``"t"``,
    ``"momentum.3"`` for parameter 3's buffer ...) so checkpoints need no pickle.
    """

    #: The learning rate when none is given.
    default_lr: float = 0.01
    #: Hyper-parameters saved in state_dict, besides lr.
    hyper: tuple = ()

    def __init__(self, params, lr: float | None = None):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if lr is None:
            lr = self.default_lr
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: the learning rate must be >= 0, got {lr}")
        self.lr = float(lr)
        self.t = 0  # steps taken
        self.state = [dict() for _ in self.params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to None)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        self.t += 1
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = np.asarray(p.grad, dtype=p.data.dtype)
            self._update(p.data, grad, self.state[i])

    @abc.abstractmethod
    def _update(self, theta: np.ndarray, grad: np.ndarray, state: dict) -> None:
        """Change ``theta`` in place by one step of this optimizer's rule."""

    # -- checkpoints -----------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"lr": .., "t": .., <hyper>: .., "<buffer>.<i>": array}``: numbers and arrays only."""
        state = {"lr": self.lr, "t": self.t}
        for name in self.hyper:
            value = getattr(self, name)
            state[name] = list(value) if isinstance(value, tuple) else value
        for i, s in enumerate(self.state):
            for name, value in s.items():
                state[f"{name}.{i}"] = np.array(value)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned; buffer shapes must match the parameters."""
        self.lr = float(state["lr"])
        self.t = int(state["t"])
        for name in self.hyper:
            if name in state:
                current, value = getattr(self, name), state[name]
                if isinstance(current, tuple):
                    value = tuple(float(v) for v in np.ravel(value))
                else:
                    value = type(current)(np.asarray(value).item())
                setattr(self, name, value)
        new_state = [dict() for _ in self.params]
        for key, value in state.items():
            name, _, index = key.rpartition(".")
            if not name or not index.isdigit():
                continue
            i = int(index)
            if i >= len(self.params):
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key!r} is for parameter {i}, "
                                 f"but there are only {len(self.params)}")
            if np.shape(value) != self.params[i].shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key!r} has shape {np.shape(value)}, "
                                 f"parameter {i} has shape {self.params[i].shape}")
            new_state[i][name] = np.array(value, dtype=self.params[i].data.dtype)
        self.state = new_state

    def __repr__(self) -> str:
        hyper = ", ".join(f"{n}={getattr(self, n)}" for n in self.hyper)
        return f"{type(self).__name__}(lr={self.lr:g}{', ' + hyper if hyper else ''})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov and L2 weight decay.

        g ← ∇θ + λ θ                        (weight_decay λ)
        v ← μ v + g                         (momentum μ; v = g on the first step)
        θ ← θ - η g                         (plain SGD, μ = 0)
        θ ← θ - η v                         (momentum)
        θ ← θ - η (g + μ v)                 (Nesterov)
    """

    default_lr = 0.01
    hyper = ("momentum", "weight_decay", "nesterov")

    def __init__(self, params, lr: float | None = None, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = float(momentum), float(weight_decay), bool(nesterov)

    def _update(self, theta, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        if self.momentum:
            buf = state.get("momentum")
            if buf is None:
                buf = state["momentum"] = grad.copy()
            else:
                buf *= self.momentum
                buf += grad
            grad = grad + self.momentum * buf if self.nesterov else buf
        theta -= theta.dtype.type(self.lr) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum plus a per-parameter step size.

        g ← ∇θ + λ θ                               (weight_decay λ, L2 as in torch.optim.Adam)
        m ← β1 m + (1 - β1) g                      (running mean of the gradient)
        v ← β2 v + (1 - β2) g²                     (running mean of its square)
        m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)    (bias correction: m, v start at 0)
        θ ← θ - η m̂ / (√v̂ + ε)
    """

    default_lr = 1e-3
    hyper = ("betas", "eps", "weight_decay")

    def __init__(self, params, lr: float | None = None, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay = float(eps), float(weight_decay)

    def _update(self, theta, grad, state):
        b1, b2 = self.betas
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        if "m" not in state:
            state["m"] = np.zeros_like(theta)
            state["v"] = np.zeros_like(theta)
        m, v = state["m"], state["v"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * (grad * grad)
        correction1 = 1 - b1 ** self.t
        correction2 = 1 - b2 ** self.t
        # θ -= η/c1 · m / (√v/√c2 + ε), the same arithmetic as torch.optim.Adam
        denom = np.sqrt(v)
        denom /= theta.dtype.type(math.sqrt(correction2))
        denom += theta.dtype.type(self.eps)
        theta -= theta.dtype.type(self.lr / correction1) * (m / denom)


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide the step by a running RMS of the gradient.

        v ← α v + (1 - α) g²
        θ ← θ - η g / (√v + ε)

    The default learning rate is 1e-3 (Keras's), not torch's 1e-2: with 1e-2
    LeNet-5's first-epoch loss rises to about twice the starting ln 10 and the
    run ends behind one with 1e-3.
    """

    default_lr = 1e-3
    hyper = ("alpha", "eps", "weight_decay")

    def __init__(self, params, lr: float | None = None, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = float(alpha), float(eps), float(weight_decay)

    def _update(self, theta, grad, state):
        if self.weight_decay:
            grad = grad + self.weight_decay * theta
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(theta)
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * (grad * grad)
        denom = np.sqrt(v)
        denom += theta.dtype.type(self.eps)
        theta -= theta.dtype.type(self.lr) * (grad / denom)


# -- the registry -----------------------------------------------------------------------
#: Every optimizer by the name the command line, the app and the lessons use.
OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def _registered(name: str) -> type[Optimizer]:
    try:
        return OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}") from None


def default_lr(name: str) -> float:
    """The learning rate optimizer ``name`` uses when none is given."""
    return _registered(name).default_lr


def make_optimizer(name: str, params, lr: float | None = None, **options) -> Optimizer:
    """The optimizer called ``name`` (a key of ``OPTIMIZERS``) over ``params``;
    ``lr=None`` is its default learning rate, ``options`` its other arguments."""
    return _registered(name)(params, lr, **options)


# -- learning-rate schedules ------------------------------------------------------------
class Scheduler(abc.ABC):
    """Changes ``optimizer.lr`` once per epoch: call ``step()`` after each epoch."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    @abc.abstractmethod
    def lr_at(self, epoch: int) -> float:
        """The learning rate for ``epoch`` (0 is the start)."""

    def step(self) -> float:
        """Advance one epoch and set the optimizer's learning rate; returns it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict:
        return {"base_lr": self.base_lr, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.base_lr, self.epoch = float(state["base_lr"]), int(state["epoch"])
        self.optimizer.lr = self.lr_at(self.epoch)


class StepLR(Scheduler):
    """η_epoch = η_0 · γ^floor(epoch / step_size): multiply by γ every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Scheduler):
    """η_epoch = η_0 · γ^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = float(gamma)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch
