"""Exercise 10.1: the backward pass of 2x2 (or k x k) max pooling.

``forward`` slides a ``k`` x ``k`` window with step ``stride`` over each
channel of ``x`` (shape (N, C, H, W)) and keeps the largest value:

    out[n, c, i, j] = max over the window x[n, c, i*s : i*s + k, j*s : j*s + k]

Max pooling routes the gradient like the max gate: in each window, the
element that was the maximum receives ``d_out[n, c, i, j]``; the others get 0.
Write the loops (the forward below shows how to walk over the windows).

Careful: when windows overlap (stride < kernel size) one element can be the
maximum of several windows. It must receive the *sum* of their gradients:
use ``+=``.

Hint: ``np.unravel_index(np.argmax(window), window.shape)`` gives the (row,
column) of the largest element of a window; on a tie take that first one.

Return a 1-tuple ``(d_x,)`` with ``d_x`` of the shape of ``x``.

Check it with ``gradgraph exercise 10.1``.
"""
import numpy as np

import gradgraph as gg


class MaxPool2d(gg.Gate):
    """out = max over each k x k window (step ``stride``) of each channel"""

    symbol, formula = "maxpool", "z = max over each window"

    def __init__(self, kernel_size=2, stride=None):
        self.k = kernel_size
        self.stride = stride if stride is not None else kernel_size

    def forward(self, x):
        N, C, H, W = x.shape
        k, s = self.k, self.stride
        H_out, W_out = (H - k) // s + 1, (W - k) // s + 1
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        out[n, c, i, j] = x[n, c, i * s:i * s + k, j * s:j * s + k].max()
        self.x = x
        return out

    def backward(self, d_out):
        x, k, s = self.x, self.k, self.stride
        N, C, H_out, W_out = d_out.shape
        d_x = np.zeros_like(x)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x[n, c, i * s:i * s + k, j * s:j * s + k]
                        a, b = np.unravel_index(np.argmax(window), window.shape)
                        d_x[n, c, i * s + a, j * s + b] += d_out[n, c, i, j]
        return (d_x,)
