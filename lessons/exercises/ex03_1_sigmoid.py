"""Exercise 3.1: the backward pass of the sigmoid gate.

    σ(x) = 1 / (1 + e^(-x))          dσ/dx = (1 - σ(x)) σ(x)

``forward`` keeps its output in ``self.z`` (that is σ(x)). The backward pass
is upstream gradient times local gradient,

    dL/dx = d_out * (1 - σ) * σ

(elementwise; ``d_out`` has the shape of the output).

Check it with ``gradgraph exercise 3.1``.
"""
import numpy as np

import gradgraph as gg


class Sigmoid(gg.Gate):
    """z = σ(x) = 1 / (1 + e^-x), elementwise"""

    symbol, formula, local = "σ", "z = 1 / (1 + e^-x)", ("dz/dx = (1 - z) z",)

    def forward(self, x):
        e = np.exp(-np.abs(x))  # never overflows
        self.z = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.z

    def backward(self, d_out):
        # return (d_x,)   (use self.z, the sigmoid's output)
        raise NotImplementedError("Exercise 3.1")
