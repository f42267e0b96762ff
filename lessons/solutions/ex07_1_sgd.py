"""Exercise 7.1: one step of (stochastic) gradient descent.

    θ ← θ - η dL/dθ

``params`` is a list of Tensors: ``p.data`` holds the values, ``p.grad`` the
gradient from the last ``backward()`` (or None: then leave ``p`` alone).
Update ``p.data`` in place (``p.data -= ...``) and do not change ``p.grad``.

The lecture's example: θ = -2, learning rate 0.01, gradient -36, so
θ ← -2 - 0.01 · (-36) = -1.64.

Check it with ``gradgraph exercise 7.1``.
"""


def sgd_step(params, lr):
    """Move every parameter that has a gradient one step downhill."""
    for p in params:
        if p.grad is None:
            continue
        p.data -= lr * p.grad
