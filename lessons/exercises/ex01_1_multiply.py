"""Exercise 1.1: the backward pass of the multiply gate.

    z = x * y          dz/dx = y,   dz/dy = x

The backward pass receives ``d_out`` (dL/dz, the upstream gradient) and
returns one gradient per input: upstream times local gradient,

    dL/dx = d_out * y          dL/dy = d_out * x

The multiply gate *switches*: each input's gradient uses the other input.
Inputs are numpy arrays of the same shape (or scalars); so is ``d_out``.

Check it with ``gradgraph exercise 1.1``.
"""
import gradgraph as gg


class Multiply(gg.Gate):
    """z = x * y"""

    symbol, formula, local = "*", "z = x * y", ("dz/dx = y", "dz/dy = x")

    def forward(self, x, y):
        self.x, self.y = x, y  # backward needs both inputs
        return x * y

    def backward(self, d_out):
        # return d_x, d_y   (one gradient per input: upstream times local)
        raise NotImplementedError("Exercise 1.1")
