"""Exercise 7.2: gradient descent with momentum.

Keep a velocity ``v`` per parameter (zeros at the start) and on every step

    v ← μ v + g          (g = dL/dθ, μ = ``momentum``, about 0.9)
    θ ← θ - η v

so that steps in a consistent direction build up speed and zig-zags cancel.
(This is PyTorch's form, and what ``gg.optim.SGD(params, lr, momentum=0.9)``
does.) ``self.velocity[i]`` is the velocity of ``self.params[i]``; skip
parameters whose ``grad`` is None. Update ``p.data`` and the velocity in place
or by assignment, as you like.

Check it with ``gradgraph exercise 7.2``.
"""
import numpy as np


class Momentum:
    """SGD with momentum: v ← μ v + g;  θ ← θ - η v"""

    def __init__(self, params, lr=0.01, momentum=0.9):
        self.params = list(params)
        self.lr, self.momentum = lr, momentum
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            self.velocity[i] = self.momentum * self.velocity[i] + p.grad
            p.data -= self.lr * self.velocity[i]
