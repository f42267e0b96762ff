"""# 2. Patterns in backward flow: add, max, multiply

After a few graphs you stop deriving and start *seeing* how gradients move.
Three gates cover most of what happens in a neural network, and each has a
simple rule.

## The example

    f = 2 (x y + max(z, w))      at x = 3, y = -4, z = 2, w = -1

Forward:

    x y        = 3 (-4)  = -12
    max(z, w)  = max(2, -1) = 2
    sum        = -12 + 2 = -10
    f          = 2 (-10) = -20

Backward, starting from `df/df = 1`:

- **multiply by 2**: the sum receives `2 · 1 = 2`.
- **The add gate distributes.** Its local gradients are all 1, so it hands
  the upstream gradient, unchanged, to every input: `x y` and `max(z, w)`
  both receive 2.
- **The max gate routes.** Its local gradient is 1 for the larger input and
  0 for the others, so the whole gradient goes to the winner: `df/dz = 2`,
  `df/dw = 0`. (`w` lost, so wiggling it a little does not change `f` at all.)
- **The multiply gate switches.** Each input receives the upstream gradient
  times the *other* input: `df/dx = 2 · y = -8`, `df/dy = 2 · x = 6`.

## A value used twice: gradients add up

When one value feeds several gates, a nudge to it reaches the output along
every path, so its gradient is the **sum** of the gradients arriving along
each path (the multivariable chain rule). For

    h = x y + x      at x = 3, y = -4

the multiply path brings `y = -4` to `x` and the add path brings `1`:
`dh/dx = -4 + 1 = -3`. Check: `h = x (y + 1)`, and `d/dx = y + 1 = -3`.

This is why, in gradgraph and in PyTorch, a gate's `backward` only *returns*
gradients and the engine *adds* the contributions together. It is also why
leaf gradients accumulate across `backward()` calls, and why a training loop
must reset them (`zero_grad()`) before each step.

## Try it

- In the app, watch the gradient at the max gate: one input lights up, the
  other stays at 0. Set `z = w` and see which one wins the tie (the first).
- Exercise 2.1: the backward pass of the max gate.
"""
import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "Add distributes, max routes, multiply switches; a value used twice sums its gradients."
EXERCISES = ["2.1"]


def build(x=3.0, y=-4.0, z=2.0, w=-1.0):
    """f = 2 (x y + max(z, w))"""
    x, y, z, w = (gg.Tensor(v, name=n) for v, n in ((x, "x"), (y, "y"), (z, "z"), (w, "w")))
    xy = x * y
    xy.name = "xy"
    m = gg.maximum(z, w)
    m.name = "max"
    s = xy + m
    s.name = "sum"
    f = s * 2.0
    f.name = "f"
    return f


def used_twice(x=3.0, y=-4.0):
    """h = x y + x: x feeds two gates."""
    x, y = gg.Tensor(x, name="x"), gg.Tensor(y, name="y")
    h = x * y + x
    h.name = "h"
    return h, x, y


def run(quick=False):
    print("f = 2 (x y + max(z, w)) at x = 3, y = -4, z = 2, w = -1\n")
    f = build()
    walkthrough(f)
    leaves = {n.name: n for n in gg.topological_order(f) if n.is_leaf and n.requires_grad}
    grads = {name: float(t.grad) for name, t in leaves.items()}
    print("\n  add distributes: both inputs of the sum get 2")
    print(f"  max routes:      df/dz = {grads['z']:g} (z won), df/dw = {grads['w']:g}")
    print(f"  mul switches:    df/dx = 2 * y = {grads['x']:g}, df/dy = 2 * x = {grads['y']:g}")

    print("\nA value used twice: h = x y + x at x = 3, y = -4")
    h, x, y = used_twice()
    h.backward()
    print(f"  h = {float(h.data):g}; the mul path gives y = -4, the add path gives 1;"
          f" dh/dx = -4 + 1 = {float(x.grad):g}")

    print("\nGradients accumulate: calling backward twice without zero_grad doubles them")
    h2, x2, _ = used_twice()
    h2.backward()
    h2.backward()
    print(f"  after two backward() calls x.grad = {float(x2.grad):g}  (reset with x.zero_grad())")

    return {"f": float(f.data), "df_dx": grads["x"], "df_dy": grads["y"], "df_dz": grads["z"],
            "df_dw": grads["w"], "h": float(h.data), "dh_dx": float(x.grad),
            "accumulated": float(x2.grad)}


if __name__ == "__main__":
    gg.lessons.main(run)
