"""Exercise 11.1: the backward pass of a convolution layer, with loops.

Shapes: input ``x`` (N, C, H, W), filters ``w`` (F, C, K, K), bias ``b`` (F,),
output (N, F, H_out, W_out). With ``stride`` s and zero ``padding`` P, ``forward``
pads ``x`` into ``self.x_pad`` and computes, for every output position,

    out[n, f, i, j] = Σ_{c, p, q} w[f, c, p, q] · x_pad[n, c, i*s + p, j*s + q] + b[f]

Each output value is a dot product of one filter with one window, so the
backward pass is the multiply gate's rule, applied window by window (and the
add gate's rule for the bias). For every (n, f, i, j), with g = d_out[n, f, i, j]:

    d_b[f]                                 += g
    d_w[f]                                 += g · (the window of x_pad)
    d_x_pad[n, :, i*s:i*s+K, j*s:j*s+K]    += g · w[f]

Finally cut the padding off: ``d_x = d_x_pad[:, :, P:P+H, P:P+W]``.
Return ``(d_x, d_w, d_b)`` with the shapes of ``x``, ``w`` and ``b``.

(Lesson 11 shows the same result without loops: d_x is the full convolution
of d_out with the flipped filters.)

Check it with ``gradgraph exercise 11.1``.
"""
import numpy as np

import gradgraph as gg


class Conv2d(gg.Gate):
    """out = w ⋆ x + b (cross-correlation, as in every deep-learning library)"""

    symbol, formula = "conv", "z = w * x + b"

    def __init__(self, stride=1, padding=0):
        self.stride, self.padding = stride, padding

    def forward(self, x, w, b):
        N, C, H, W = x.shape
        F, _, K, _ = w.shape
        s, P = self.stride, self.padding
        x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))
        H_out, W_out = (H + 2 * P - K) // s + 1, (W + 2 * P - K) // s + 1
        out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x_pad[n, :, i * s:i * s + K, j * s:j * s + K]
                        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
        self.x, self.w, self.x_pad = x, w, x_pad
        return out

    def backward(self, d_out):
        # use self.x, self.w, self.x_pad, self.stride, self.padding
        # return d_x, d_w, d_b
        raise NotImplementedError("Exercise 11.1")
