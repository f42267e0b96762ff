"""# 3. A sigmoid neuron, gate by gate and as one gate

A neuron computes a weighted sum of its inputs plus a bias and squashes it
with an activation function, `a = f(Σ_i w_i x_i + b)`. With the sigmoid
`σ(t) = 1 / (1 + e^(-t))` this one neuron is logistic regression:

    f(w, x) = 1 / (1 + e^(-(w0 x0 + w1 x1 + w2)))

## As many small gates

Take `w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3` (the bias). Forward,
one gate at a time:

| gate        | value                             |
|-------------|-----------------------------------|
| w0 x0       | 2 (-1) = -2                       |
| w1 x1       | -3 (-2) = 6                       |
| + + w2      | -2 + 6 - 3 = 1  (the weighted sum `t`) |
| negate      | -1                                |
| exp         | e^(-1) = 0.368                    |
| + 1         | 1.368                             |
| 1 / x       | 0.731  (= σ(1))                   |

Backward, each step is upstream gradient times local gradient:

| gate   | local gradient    | gradient arriving at its input      |
|--------|-------------------|-------------------------------------|
| 1 / x  | -1 / x²           | 1 · (-1 / 1.368²) = -0.534          |
| + 1    | 1                 | -0.534                              |
| exp    | e^x = 0.368       | -0.534 · 0.368 = -0.197             |
| negate | -1                | 0.197                               |

From the weighted sum on, the add gates distribute 0.197 and the multiply
gates switch:

    df/dw0 = x0 · 0.197 = -0.197      df/dx0 = w0 · 0.197 =  0.393
    df/dw1 = x1 · 0.197 = -0.393      df/dx1 = w1 · 0.197 = -0.590
    df/dw2 = 0.197

## As one gate

The four gates negate, exp, +1, 1/x together compute σ(t), and σ has a
famously simple derivative:

    dσ/dt = (1 - σ(t)) σ(t)

At `t = 1`: `(1 - 0.731) 0.731 = 0.197`, the same number the four gates
produced one step at a time. So we may draw the sigmoid as **one gate** that
remembers its output σ and returns `d_out (1 - σ) σ`. Where to cut a
computation into gates is our choice: small gates are easy to write; a fused
gate is shorter to step through, faster, and (here) numerically safer, since
`e^(-t)` overflows for very negative `t` while the fused gate never does.

Both graphs give the same gradients (`run()` checks it).

## Try it

- In the app, step through both versions (`build()` is the long one;
  `build(fused=True)` the short one) and compare the gradient reaching `t`.
- Set `w2 = -20`: the neuron saturates (σ near 0), and every gradient
  becomes tiny. This is the *vanishing gradient* of lesson 8.
- Exercise 3.1: write the sigmoid gate's backward.
"""
import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "1/(1+exp(-(w0x0+w1x1+w2))) as eight small gates and with one sigmoid gate: same gradients."
EXERCISES = ["3.1"]

BUILD_OPTIONS = {"fused": "one sigmoid gate"}  # the app's switch for build(fused=True)
VALUES = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def build(fused=False, **values):
    """The neuron; ``fused=True`` uses one Sigmoid gate for the last four steps."""
    v = {**VALUES, **values}
    t = {name: gg.Tensor(v[name], name=name) for name in ("w0", "x0", "w1", "x1", "w2")}
    s = t["w0"] * t["x0"] + t["w1"] * t["x1"] + t["w2"]
    s.name = "t"
    if fused:
        f = s.sigmoid()
    else:
        e = (-s).exp()
        f = 1.0 / (e + 1.0)
    f.name = "f"
    return f


def gradients(f):
    return {n.name: float(n.grad) for n in gg.topological_order(f) if n.is_leaf and n.requires_grad}


def run(quick=False):
    print("The neuron as many gates\n")
    long = build()
    walkthrough(long)
    g_long = gradients(long)

    print("\nThe neuron with one sigmoid gate\n")
    short = build(fused=True)
    walkthrough(short)
    g_short = gradients(short)

    sigma = float(short.data)
    local = (1 - sigma) * sigma
    print(f"\nsigma(1) = {sigma:.4f};  local gradient (1 - sigma) sigma = {local:.4f}")
    print("gradient   many gates   one gate")
    for name in VALUES:
        print(f"  d/d{name:<4} {g_long[name]:+10.4f} {g_short[name]:+10.4f}")
    same = all(abs(g_long[k] - g_short[k]) < 1e-12 for k in VALUES)
    print("same gradients:", same)

    return {"f": sigma, "local": local, "grads": g_short, "grads_many_gates": g_long, "same": same,
            "gates_long": sum(1 for n in gg.topological_order(long) if n.gate is not None),
            "gates_short": sum(1 for n in gg.topological_order(short) if n.gate is not None)}


if __name__ == "__main__":
    gg.lessons.main(run)
