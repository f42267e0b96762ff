"""Exercise 17.2: im2col, convolution as one matrix product.

Copy every receptive field of the image ``x`` (C, H, W) into one column:

    cols[:, i * W_out + j] = x_pad[:, i*s : i*s + k, j*s : j*s + k].reshape(-1)

for output position (i, j), where ``x_pad`` is ``x`` with ``padding`` zeros
on every side, ``s`` the stride and

    H_out = (H + 2 padding - k) // s + 1        (W_out likewise)

so ``cols`` has shape (C·k·k, H_out·W_out). Then the convolution with filters
``w`` (F, C, k, k) is ``(w.reshape(F, -1) @ cols).reshape(F, H_out, W_out)``
(lesson 17). Loops over i and j are fine.

Check it with ``gradgraph exercise 17.2``.
"""
import numpy as np


def im2col(x, k, stride=1, padding=0):
    """Every k x k window of x (C, H, W) as a column: (C*k*k, H_out*W_out)."""
    raise NotImplementedError("Exercise 17.2")
