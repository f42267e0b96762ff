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
    x = np.asarray(x, dtype=np.float64)
    x_pad = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    c, h, w = x.shape
    h_out = (h + 2 * padding - k) // stride + 1
    w_out = (w + 2 * padding - k) // stride + 1
    columns = [x_pad[:, i * stride:i * stride + k, j * stride:j * stride + k].ravel()
               for i in range(h_out) for j in range(w_out)]
    return np.stack(columns, axis=1)
