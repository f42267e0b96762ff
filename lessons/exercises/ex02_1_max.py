"""Exercise 2.1: the backward pass of the max gate.

    z = max(x, y)      dz/dx = 1 where x >= y (else 0),   dz/dy = 1 where y > x (else 0)

The max gate *routes* the whole upstream gradient to the input that won and
gives the other one 0. On a tie (x == y) give it to ``x`` only, so that the
gradient is not counted twice. Inputs are numpy arrays of the same shape
(or scalars); so is ``d_out``. ``forward`` keeps the mask ``self.x_wins``.

Hint: ``np.where(mask, a, b)`` picks ``a`` where the mask is True; a boolean
array times a number gives 0 where False.

Check it with ``gradgraph exercise 2.1``.
"""
import numpy as np

import gradgraph as gg


class Maximum(gg.Gate):
    """z = max(x, y), elementwise"""

    symbol, formula, local = "max", "z = max(x, y)", ("dz/dx = [x >= y]", "dz/dy = [y > x]")

    def forward(self, x, y):
        self.x_wins = x >= y  # True where x is the larger input (or a tie)
        return np.maximum(x, y)

    def backward(self, d_out):
        # return d_x, d_y   (use self.x_wins)
        raise NotImplementedError("Exercise 2.1")
