"""# 5. Vectorized gradients: matrices, Jacobians, broadcasting

Networks do not push single numbers through gates; they push whole arrays. The
chain rule stays the same, only the "local gradient" becomes a matrix.

## Jacobians

For a gate `y = f(x)` with an input of n numbers and an output of m numbers,
the local gradient is the **Jacobian**, the m × n matrix of every output
element's derivative with respect to every input element,
`J[i, j] = ∂y_i / ∂x_j`. The chain rule becomes a vector-Jacobian product:

    dL/dx = (dL/dy) J        (a row of n numbers)

Nobody stores these matrices. For a batch of 64 vectors of 4096 numbers
through a 4096 × 4096 layer, `dY/dX` would have (64 · 4096)² ≈ 6.9 · 10¹⁰
entries, 275 GB in float32, almost all of them zero. Each gate instead
computes the product `(dL/dy) J` directly, with a formula.

An elementwise gate (ReLU, sigmoid, exp) has a *diagonal* Jacobian: output `i`
depends only on input `i`. Its product is an elementwise product:
`d_x = d_out * local`, which is what every gate in lessons 1 to 3 did.

## Matrix multiply

    Y = X W          X: (N, D),  W: (D, M),  Y: (N, M)

With the upstream gradient `d_out = dL/dY` of shape (N, M):

    dL/dX = d_out Wᵀ        (N, M)(M, D) -> (N, D), the shape of X
    dL/dW = Xᵀ d_out        (D, N)(N, M) -> (D, M), the shape of W

You do not need to memorize these. **A gradient always has the shape of the
thing it is the gradient of**, and there is only one way to multiply `d_out`
and `W` into an (N, D) matrix. The shapes tell you where the transpose goes.

## The worked example

    X = [[1,  2, -1],        W = [[ 0.5, -1],       b = [0.1, -0.2]
         [0, -1,  3]]             [ 2,    0],
                                  [-1,    1]]

    Y = X W + b = [[ 5.6, -2.2],
                   [-4.9,  2.8]]

With an upstream gradient `d_out = [[1, 0], [-1, 2]]`:

    dL/dX = d_out Wᵀ = [[ 0.5,  2, -1],
                        [-2.5, -2,  3]]
    dL/dW = Xᵀ d_out = [[ 1,  0],
                        [ 3, -2],
                        [-4,  6]]
    dL/db = [0, 2]

`run()` also builds the full 4 × 6 Jacobian of `Y` with respect to `X` by
nudging each element of `X`, and shows that `d_out` (flattened) times that
Jacobian gives the same `dL/dX` as the formula.

## Broadcasting: copies in the forward pass, sums in the backward pass

`X W + b` adds the vector `b` of shape (2,) to every row of the (2, 2) matrix:
numpy *broadcasts* (copies) `b` down the rows. A value that was copied to
several places is a value used several times, and lesson 2 told us what
happens then: its gradient is the **sum** of the gradients of its copies.

    dL/db = d_out summed over the rows = [1 + (-1), 0 + 2] = [0, 2]

gradgraph's binary gates do this with `gg.unbroadcast(grad, shape)`.

## Try it

- In the app, step through `L = sum(relu(X W + b))` and check each gradient's
  shape against its operand.
- Change `b` to shape (1, 2), or to a scalar: the gradient is summed to that
  shape.
"""
import numpy as np

import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "Matmul gradients, Jacobian shapes, and why broadcasting sums gradients back."

X = [[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]]
W = [[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]]
B = [0.1, -0.2]
D_OUT = [[1.0, 0.0], [-1.0, 2.0]]


def tensors():
    return gg.Tensor(X, name="X"), gg.Tensor(W, name="W"), gg.Tensor(B, name="b")


def build():
    """L = sum(relu(X W + b)): matmul, a broadcast add, an elementwise gate, a reduction."""
    x, w, b = tensors()
    xw = x @ w
    xw.name = "XW"
    y = xw + b
    y.name = "Y"
    h = y.relu()
    h.name = "relu"
    loss = h.sum()
    loss.name = "L"
    return loss


def jacobian(fn, x, eps=1e-6):
    """The full Jacobian of fn at x, one column per input element (centred differences)."""
    x = np.array(x, dtype=np.float64)
    with gg.no_grad():
        out_size = fn(x).size
    J = np.zeros((out_size, x.size))
    flat = x.reshape(-1)
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + eps
        with gg.no_grad():
            up = fn(x).data.reshape(-1)
        flat[j] = old - eps
        with gg.no_grad():
            down = fn(x).data.reshape(-1)
        flat[j] = old
        J[:, j] = (up - down) / (2 * eps)
    return J


def show(name, a):
    rows = np.array2string(np.asarray(a), precision=3, suppress_small=True, separator=", ")
    print(f"{name} =\n  " + rows.replace("\n", "\n  "))


def run(quick=False):
    x, w, b = tensors()
    y = x @ w + b
    show("Y = X W + b", y.data)
    y.backward(np.array(D_OUT))
    print(f"\nupstream gradient d_out = {D_OUT}")
    show("dL/dX = d_out W^T", x.grad)
    show("dL/dW = X^T d_out", w.grad)
    show("dL/db = d_out summed over rows", b.grad)
    print(f"shapes: X {x.shape} -> dL/dX {x.grad.shape};  W {w.shape} -> dL/dW {w.grad.shape};"
          f"  b {b.shape} -> dL/db {b.grad.shape}")

    J = jacobian(lambda xv: gg.Tensor(xv) @ gg.Tensor(W) + gg.Tensor(B), X)
    via_jacobian = (np.array(D_OUT).reshape(-1) @ J).reshape(x.shape)
    print(f"\nthe full Jacobian dY/dX has shape {J.shape} (4 outputs x 6 inputs):")
    print("  " + np.array2string(J, precision=2, suppress_small=True).replace("\n", "\n  "))
    jac_error = float(np.max(np.abs(via_jacobian - x.grad)))
    print(f"d_out (flattened) @ J reshaped = dL/dX from the formula: max difference {jac_error:.1e}")
    big = (64 * 4096) ** 2
    print(f"for X (64, 4096) and W (4096, 4096) the Jacobian dY/dX would have {big:.2e} entries"
          f" ({big * 4 / 1e9:.0f} GB in float32)")

    print("\nThe graph L = sum(relu(X W + b))")
    loss = build()
    walkthrough(loss)
    ok = gg.gradcheck(lambda a, c, d: (a @ c + d).relu().sum(), list(tensors()))
    print("gradcheck of the whole graph:", "passes" if ok else "fails")

    return {"Y": y.data.tolist(), "dX": x.grad.tolist(), "dW": w.grad.tolist(), "db": b.grad.tolist(),
            "jacobian_shape": J.shape, "jacobian_error": jac_error, "loss": float(loss.data),
            "gradcheck": ok}


if __name__ == "__main__":
    gg.lessons.main(run)
