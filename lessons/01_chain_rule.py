"""# 1. The chain rule: f = (x + y) z

Every neural network, however big, is a long chain of small operations. To
train it we need the derivative of the final number (the loss) with respect
to every input and weight. Backpropagation computes all of them in one sweep
backwards through the chain, using nothing but the **chain rule**. Here is the
smallest example that shows the idea.

## The graph

    f(x, y, z) = (x + y) z

Give the intermediate value a name, `q = x + y`, and the function becomes two
**gates**:

    q = x + y        (an add gate)
    f = q z          (a multiply gate)

## Forward pass: compute the values

Take `x = -2`, `y = 5`, `z = -4`:

    q = x + y = -2 + 5 = 3
    f = q z   = 3 (-4) = -12

Each gate keeps the values its backward pass will need (the multiply gate
remembers `q = 3` and `z = -4`).

## Backward pass: compute the gradients

Each gate knows its own **local gradients**, the derivatives of its output
with respect to its inputs, without knowing anything about the rest of the
graph:

| gate      | local gradients                          |
|-----------|------------------------------------------|
| q = x + y | dq/dx = 1,  dq/dy = 1                    |
| f = q z   | df/dq = z = -4,  df/dz = q = 3           |

We start at the end with `df/df = 1` and walk backwards. The **chain rule**
says that the gradient arriving at a gate's input is the **upstream gradient
times the local gradient**:

    df/dz = df/df · df/dz = 1 · q      = 3
    df/dq = df/df · df/dq = 1 · z      = -4
    df/dx = df/dq · dq/dx = -4 · 1     = -4
    df/dy = df/dq · dq/dy = -4 · 1     = -4

So `df/dx = -4`, `df/dy = -4`, `df/dz = 3`.

## What the numbers mean

A gradient tells you how the output reacts to a small nudge of an input.
`df/dx = -4`: raise `x` by 0.001 and `f` drops by about 0.004. `df/dz = 3`:
raise `z` by 0.001 and `f` rises by about 0.003. `run()` checks this by
actually nudging the inputs.

## In gradgraph

```python
import gradgraph as gg
x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
q = x + y          # an Add gate
f = q * z          # a Multiply gate
f.backward()       # x.grad == -4, y.grad == -4, z.grad == 3
```

Each gate is a class with `forward` (compute the output, keep what backward
needs) and `backward` (receive the upstream gradient `d_out`, return one
gradient per input):

```python
class Multiply(gg.Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y
    def backward(self, d_out):
        return d_out * self.y, d_out * self.x
```

## Try it

- Step through the graph in the app (or `gradgraph walk 1`): watch the values
  flow forward, then the gradients flow back.
- Change `x`, `y`, `z` in `build()` and predict the gradients before stepping.
- Exercises 1.1 and 1.2: write the backward of the multiply and add gates
  yourself (`gradgraph exercise 1.1`).
"""
import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "f = (x + y) z at x=-2, y=5, z=-4: forward values, local gradients, the chain rule."
EXERCISES = ["1.1", "1.2"]


def build(x=-2.0, y=5.0, z=-4.0):
    """The graph f = (x + y) z, with every node named as in the text."""
    x, y, z = gg.Tensor(x, name="x"), gg.Tensor(y, name="y"), gg.Tensor(z, name="z")
    q = x + y
    q.name = "q"
    f = q * z
    f.name = "f"
    return f


def f_of(x, y, z):
    """The same function on plain numbers (used for the nudge check)."""
    return (x + y) * z


def run(quick=False):
    x, y, z = -2.0, 5.0, -4.0

    print("By hand")
    q = x + y
    f = q * z
    print(f"  forward:  q = x + y = {x:g} + {y:g} = {q:g};  f = q z = {q:g} ({z:g}) = {f:g}")
    df_dq, df_dz = z, q           # the multiply gate switches its inputs
    df_dx, df_dy = df_dq * 1, df_dq * 1   # the add gate passes the gradient on
    print(f"  backward: df/dz = q = {df_dz:g};  df/dq = z = {df_dq:g}")
    print(f"            df/dx = df/dq * dq/dx = {df_dq:g} * 1 = {df_dx:g};  df/dy = {df_dy:g}")

    print("\nThe engine, gate by gate")
    out = build(x, y, z)
    walkthrough(out)
    inputs = {n.name: n for n in gg.topological_order(out) if n.is_leaf}
    grads = {name: float(t.grad) for name, t in inputs.items()}

    print("\nNudge each input by h = 0.001 and watch f")
    h = 1e-3
    nudged = {
        "x": (f_of(x + h, y, z) - f) / h,
        "y": (f_of(x, y + h, z) - f) / h,
        "z": (f_of(x, y, z + h) - f) / h,
    }
    for name, slope in nudged.items():
        print(f"  (f({name} + h) - f) / h = {slope:+.4f}   gradient df/d{name} = {grads[name]:+g}")

    return {"q": q, "f": float(out.data), "df_dx": grads["x"], "df_dy": grads["y"],
            "df_dz": grads["z"], "nudged": nudged}


if __name__ == "__main__":
    gg.lessons.main(run)
