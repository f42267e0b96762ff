"""Exercise 1.2: the backward pass of the add gate.

    z = x + y          dz/dx = 1,   dz/dy = 1

Upstream times local gradient: both inputs receive ``d_out`` unchanged,

    dL/dx = d_out * 1          dL/dy = d_out * 1

The add gate *distributes* the gradient. Inputs are numpy arrays of the same
shape (or scalars); so is ``d_out``.

Check it with ``gradgraph exercise 1.2``.
"""
import gradgraph as gg


class Add(gg.Gate):
    """z = x + y"""

    symbol, formula, local = "+", "z = x + y", ("dz/dx = 1", "dz/dy = 1")

    def forward(self, x, y):
        return x + y

    def backward(self, d_out):
        return d_out, d_out
