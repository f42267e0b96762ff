"""Convolution and pooling gates, computed by :mod:`gradgraph.kernels`.

Shapes: inputs ``x`` are ``(N, C, H, W)`` (batch, channels, height, width),
filters ``w`` are ``(F, C, KH, KW)``, biases ``b`` are ``(F,)``. Stride ``S``,
padding ``P`` (zeros added on every side) and dilation ``D`` (the gap between
filter taps) are given per axis as ``(rows, cols)``; an int means both.

The output size along one axis is::

    H_out = floor((H + 2P - D(K - 1) - 1) / S) + 1

The gates keep what their backward needs and hand the loops to the kernels
(``gradgraph/kernels/reference.py`` is the readable specification; the
argument and shape checks, shared with the kernels, are in ``kernels/shapes.py``).
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..gate import Gate
from ..kernels.shapes import check_conv_shapes, check_pool_shapes, float_dtype, pair


class Conv2d(Gate):
    """2-d convolution (a cross-correlation, as in every deep-learning library).

    Forward::

        out[n,f,p,q] = Σ_c Σ_i Σ_j  w[f,c,i,j] · x_pad[n,c, p·S + i·D, q·S + j·D]  +  b[f]

    Backward (each input's gradient has its shape)::

        d_b[f]       = Σ_n Σ_p Σ_q d_out[n,f,p,q]
        d_w[f,c,i,j] = Σ_n Σ_p Σ_q d_out[n,f,p,q] · x_pad[n,c, p·S + i·D, q·S + j·D]
                       (the correlation of x with d_out)
        d_x          = the "full" correlation of d_out (dilated by S) with the
                       flipped kernel w[f,c,KH-1-i,KW-1-j], summed over f, with the
                       padding cropped off: each input pixel collects
                       d_out · w from every output it took part in.

    Inputs ``(x, w, b)`` or ``(x, w)``. Where ``needs_grad`` says an input
    needs no gradient (the images of the first layer) its gradient is skipped.
    """

    symbol, short = "conv", "conv2d"
    formula = "out[n,f,p,q] = sum_c,i,j w[f,c,i,j] x[n,c,pS+iD,qS+jD] + b[f]"
    local = ("d_x: d_out correlated with the flipped w",
             "d_w: x correlated with d_out",
             "d_b: d_out summed over n, p, q")

    def __init__(self, stride=1, padding=0, dilation=1):
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        self.dilation = pair(dilation, "dilation", "Conv2d", minimum=1)

    def forward(self, x, w, b=None):
        check_conv_shapes(x.shape, w.shape, None if b is None else b.shape,
                          self.stride, self.padding, self.dilation, name="Conv2d")
        dtype = float_dtype(x, w) if b is None else float_dtype(x, w, b)
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.w = np.ascontiguousarray(w, dtype=dtype)
        self.has_bias = b is not None
        bias = np.ascontiguousarray(b, dtype=dtype) if b is not None else None
        return kernels.conv2d_forward(self.x, self.w, bias, self.stride, self.padding, self.dilation)

    def backward(self, d_out):
        needs = self.needs_grad or (True, True, True)
        need_dx, need_dw = bool(needs[0]), bool(needs[1])
        d_out = np.ascontiguousarray(d_out, dtype=self.x.dtype)
        d_x, d_w, d_b = kernels.conv2d_backward(d_out, self.x, self.w, self.stride, self.padding,
                                                self.dilation, need_dx=need_dx, need_dw=need_dw)
        if not need_dx:
            d_x = None
        if not need_dw:
            d_w = None
        if self.has_bias:
            if len(needs) > 2 and not needs[2]:
                d_b = None
            elif d_b is None:
                d_b = d_out.sum(axis=(0, 2, 3))
            return d_x, d_w, d_b
        return d_x, d_w


class _Pool(Gate):
    """Shared checks of the pooling gates."""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel = pair(kernel_size, "kernel_size", self.name, minimum=1)
        self.stride = self.kernel if stride is None else pair(stride, "stride", self.name, minimum=1)
        self.padding = pair(padding, "padding", self.name, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel)):
            raise ValueError(
                f"{self.name}: padding {self.padding} must be at most half the kernel {self.kernel}"
            )

    def _check(self, x):
        check_pool_shapes(x.shape, self.kernel, self.stride, self.padding, name=self.name)
        return np.ascontiguousarray(x, dtype=float_dtype(x))


class MaxPool2d(_Pool):
    """Max pooling: each output is the largest value in its window.

    Forward::

        out[n,c,p,q] = max_{i,j} x_pad[n,c, p·S + i, q·S + j]      (padding is -∞)

    Backward (the max gate routes the gradient)::

        d_x[n,c,h,w] = Σ over windows whose max sits at (h, w) of d_out[n,c,p,q]

    The forward keeps the position of each window's maximum (``argmax``);
    ties go to the first position in row-major order.
    """

    symbol, short = "maxpool", "max_pool2d"
    formula = "out[n,c,p,q] = max_i,j x[n,c,pS+i,qS+j]"
    local = ("d_x: d_out routed to each window's argmax",)

    def forward(self, x):
        x = self._check(x)
        self.x_shape, self.dtype = x.shape, x.dtype
        out, self.argmax = kernels.max_pool2d_forward(x, self.kernel, self.stride, self.padding)
        return out

    def backward(self, d_out):
        d_out = np.ascontiguousarray(d_out, dtype=self.dtype)
        return (kernels.max_pool2d_backward(d_out, self.argmax, self.x_shape, self.kernel, self.stride, self.padding),)


class AvgPool2d(_Pool):
    """Average pooling: each output is the mean of its KH·KW window.

    Forward::

        out[n,c,p,q] = (1 / (KH·KW)) Σ_{i,j} x_pad[n,c, p·S + i, q·S + j]   (padding counts as 0)

    Backward::

        d_x[n,c,h,w] = Σ over windows containing (h, w) of d_out[n,c,p,q] / (KH·KW)
    """

    symbol, short = "avgpool", "avg_pool2d"
    formula = "out[n,c,p,q] = mean_i,j x[n,c,pS+i,qS+j]"
    local = ("d_x: d_out / (KH KW) spread over each window",)

    def forward(self, x):
        x = self._check(x)
        self.x_shape, self.dtype = x.shape, x.dtype
        return kernels.avg_pool2d_forward(x, self.kernel, self.stride, self.padding)

    def backward(self, d_out):
        d_out = np.ascontiguousarray(d_out, dtype=self.dtype)
        return (kernels.avg_pool2d_backward(d_out, self.x_shape, self.kernel, self.stride, self.padding),)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-d convolution of ``x`` (N, C, H, W) with filters ``w`` (F, C, KH, KW) plus bias ``b`` (F,).

    ``stride``, ``padding``, ``dilation``: an int or a ``(rows, cols)`` pair.
    Returns (N, F, H_out, W_out). See :class:`Conv2d` for the formulas.
    """
    gate = Conv2d(stride, padding, dilation)
    return gate(x, w) if b is None else gate(x, w, b)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling over ``kernel_size`` windows; ``stride`` defaults to ``kernel_size``."""
    return MaxPool2d(kernel_size, stride, padding)(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling over ``kernel_size`` windows; ``stride`` defaults to ``kernel_size``."""
    return AvgPool2d(kernel_size, stride, padding)(x)


__all__ = ["AvgPool2d", "Conv2d", "MaxPool2d", "avg_pool2d", "conv2d", "max_pool2d"]
