"""Reference convolution and pooling kernels: the specification, written as loops.

These are the formulas from the lecture, transcribed loop for loop so that a
student can put the two side by side.  They are slow (plain Python) and only meant
for small shapes: tests, lessons, and ``GRADGRAPH_KERNELS=reference`` debugging.
``vectorized.py`` (numpy, im2col) and ``fast.py`` (Numba) have the same functions
with the same signatures and must agree with these to rounding error
(``tests/test_kernels.py`` checks it).

Conventions (shared by every backend; the checks live in ``shapes.py``)
-------------------------------------
* Arrays are numpy arrays in NCHW layout: ``x`` is ``(N, C, H, W)`` = (batch,
  channels, height, width); a conv weight ``w`` is ``(F, C, KH, KW)`` = (filters,
  input channels, kernel height, kernel width); the bias ``b`` is ``(F,)``.
* ``stride``, ``padding``, ``dilation`` and pooling ``kernel`` are ``(rows, cols)``
  pairs; a single int means the same value for both.  We write S, P, D, K below.
* Float32 in, float32 out; float64 in, float64 out (other inputs become float64).
  ``w``, ``b`` and ``d_out`` are converted to the dtype of ``x``.
* Output size along one axis (the same formula for conv and pooling; pooling has
  D = 1)::

      out = floor((size + 2P - D(K - 1) - 1) / S) + 1

* ``xpad`` is ``x`` with P zeros added on each side of each spatial axis (for max
  pooling the added border is -inf instead, so it can never be the maximum).
"""

from __future__ import annotations

import math

import numpy as np

from .shapes import (
    ARGMAX_DTYPE,
    KERNEL_FUNCTIONS,
    check_conv_shapes,
    check_grad_shape,
    check_pool_shapes,
    conv_output_size,
    conv_params,
    float_array,
    float_dtype,
    pool_params,
)

__all__ = ["conv_output_size", "check_conv_shapes", "check_pool_shapes", "ARGMAX_DTYPE",
           *KERNEL_FUNCTIONS]

# ----------------------------------------------------------------------------
# padding (argument and shape checks: shapes.py, shared by every backend)
# ----------------------------------------------------------------------------


def pad_input(x, ph, pw, value=0.0):
    """``x`` with ``ph`` rows / ``pw`` columns of ``value`` on each side of H and W."""
    N, C, H, W = x.shape
    xpad = np.full((N, C, H + 2 * ph, W + 2 * pw), value, dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + W] = x
    return xpad


# ----------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """2-D convolution (cross-correlation, as in CNNs: the kernel is not flipped).

    ::

        out[n, f, p, q] = b[f] + sum_c sum_i sum_j  w[f, c, i, j]
                                  * xpad[n, c, p*S_h + i*D_h, q*S_w + j*D_w]

    for ``p < OH``, ``q < OW`` (see ``conv_output_size``).  Output shape
    ``(N, F, OH, OW)``.  ``b=None`` means no bias.
    """
    stride, padding, dilation = conv_params(stride, padding, dilation)
    OH, OW = check_conv_shapes(np.shape(x), np.shape(w), None if b is None else np.shape(b),
                               stride, padding, dilation)
    dtype = float_dtype(np.asarray(x).dtype)
    x, w = np.asarray(x, dtype), np.asarray(w, dtype)
    (S_h, S_w), (P_h, P_w), (D_h, D_w) = stride, padding, dilation
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    # Sums are accumulated in float64 so the specification is the accurate one.
    xpad, w = pad_input(x.astype(np.float64), P_h, P_w), w.astype(np.float64)

    out = np.zeros((N, F, OH, OW), dtype=dtype)
    for n in range(N):
        for f in range(F):
            for p in range(OH):
                for q in range(OW):
                    total = 0.0 if b is None else float(b[f])
                    for c in range(C):
                        for i in range(KH):
                            for j in range(KW):
                                total += w[f, c, i, j] * xpad[n, c, p * S_h + i * D_h,
                                                              q * S_w + j * D_w]
                    out[n, f, p, q] = total
    return out


def conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1,
                    need_dx=True, need_dw=True):
    """Gradients of ``conv2d_forward``: returns ``(d_x, d_w, d_b)``.

    The forward is a sum of products ``w[f,c,i,j] * xpad[n,c,h,v]`` with
    ``h = p*S_h + i*D_h`` and ``v = q*S_w + j*D_w``.  By the chain rule each
    product sends ``d_out[n,f,p,q]`` times the *other* factor to each factor::

        d_w[f, c, i, j]  += d_out[n, f, p, q] * xpad[n, c, h, v]
        d_xpad[n, c, h, v] += d_out[n, f, p, q] * w[f, c, i, j]
        d_b[f]           += d_out[n, f, p, q]

    summed over every ``n, f, p, q, c, i, j``; ``d_x`` is ``d_xpad`` without its
    padding border (the padding zeros are constants, their gradient is dropped).
    ``d_x`` / ``d_w`` are None when ``need_dx`` / ``need_dw`` is False.
    """
    stride, padding, dilation = conv_params(stride, padding, dilation)
    OH, OW = check_conv_shapes(np.shape(x), np.shape(w), None, stride, padding, dilation)
    dtype = float_dtype(np.asarray(x).dtype)
    x, w, d_out = np.asarray(x, dtype), np.asarray(w, dtype), np.asarray(d_out, dtype)
    (S_h, S_w), (P_h, P_w), (D_h, D_w) = stride, padding, dilation
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    check_grad_shape(d_out, (N, F, OH, OW), "conv2d_backward")
    xpad, w = pad_input(x.astype(np.float64), P_h, P_w), w.astype(np.float64)

    d_xpad = np.zeros(xpad.shape, dtype=np.float64)
    d_w = np.zeros(w.shape, dtype=np.float64)
    d_b = np.zeros(F, dtype=np.float64)
    for n in range(N):
        for f in range(F):
            for p in range(OH):
                for q in range(OW):
                    g = float(d_out[n, f, p, q])
                    d_b[f] += g
                    for c in range(C):
                        for i in range(KH):
                            for j in range(KW):
                                h, v = p * S_h + i * D_h, q * S_w + j * D_w
                                d_w[f, c, i, j] += g * xpad[n, c, h, v]
                                d_xpad[n, c, h, v] += g * w[f, c, i, j]
    d_x = d_xpad[:, :, P_h:P_h + H, P_w:P_w + W].astype(dtype) if need_dx else None
    return d_x, (d_w.astype(dtype) if need_dw else None), d_b.astype(dtype)


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------


def max_pool2d_forward(x, kernel, stride=None, padding=0):
    """Max pooling: ``(out, argmax)``.

    ::

        out[n, c, p, q] = max_{i < K_h, j < K_w}  xpad[n, c, p*S_h + i, q*S_w + j]

    with a ``-inf`` border, so padding never wins.  ``argmax[n, c, p, q]`` is the
    position of that maximum in the *unpadded* input plane, flattened:
    ``h * W + v`` (int32).  Ties: the first maximum in row-major window order
    wins (smallest ``i``, then smallest ``j``), as in torch.  A NaN in a window
    is the result (the first NaN wins).  ``stride=None`` means ``stride=kernel``.
    """
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), (K_h, K_w), (S_h, S_w), (P_h, P_w), "max_pool2d")
    x = np.asarray(x, float_dtype(np.asarray(x).dtype))
    N, C, H, W = x.shape

    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    argmax = np.zeros((N, C, OH, OW), dtype=ARGMAX_DTYPE)
    for n in range(N):
        for c in range(C):
            for p in range(OH):
                for q in range(OW):
                    best, best_at = -math.inf, -1
                    for i in range(K_h):
                        for j in range(K_w):
                            h, v = p * S_h + i - P_h, q * S_w + j - P_w  # unpadded coords
                            if not (0 <= h < H and 0 <= v < W):
                                continue  # the -inf border
                            value = x[n, c, h, v]
                            if (best_at < 0 or value > best
                                    or (math.isnan(value) and not math.isnan(best))):
                                best, best_at = value, h * W + v
                    out[n, c, p, q] = best
                    argmax[n, c, p, q] = best_at
    return out, argmax


def max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0):
    """Gradient of max pooling: each ``d_out`` goes to the input that won.

    ::

        d_x[n, c].flat[argmax[n, c, p, q]] += d_out[n, c, p, q]

    Inputs that were never a maximum get zero; one that won several overlapping
    windows gets the sum.
    """
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (K_h, K_w), (S_h, S_w), (P_h, P_w), "max_pool2d")
    d_out = float_array(d_out)
    N, C, H, W = x_shape
    check_grad_shape(d_out, (N, C, OH, OW), "max_pool2d_backward")
    check_grad_shape(argmax, (N, C, OH, OW), "max_pool2d_backward (argmax)")

    d_x = np.zeros((N, C, H, W), dtype=d_out.dtype)
    for n in range(N):
        for c in range(C):
            for p in range(OH):
                for q in range(OW):
                    h, v = divmod(int(argmax[n, c, p, q]), W)
                    d_x[n, c, h, v] += d_out[n, c, p, q]
    return d_x


def avg_pool2d_forward(x, kernel, stride=None, padding=0):
    """Average pooling, zero padding counted in the divisor (torch's default)::

        out[n, c, p, q] = 1/(K_h K_w) * sum_{i < K_h, j < K_w} xpad[n, c, p*S_h + i, q*S_w + j]
    """
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), (K_h, K_w), (S_h, S_w), (P_h, P_w), "avg_pool2d")
    x = np.asarray(x, float_dtype(np.asarray(x).dtype))
    N, C, H, W = x.shape
    xpad = pad_input(x.astype(np.float64), P_h, P_w)

    out = np.zeros((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for p in range(OH):
                for q in range(OW):
                    total = 0.0
                    for i in range(K_h):
                        for j in range(K_w):
                            total += xpad[n, c, p * S_h + i, q * S_w + j]
                    out[n, c, p, q] = total / (K_h * K_w)
    return out


def avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0):
    """Gradient of average pooling: each ``d_out`` is shared equally by its window::

        d_xpad[n, c, p*S_h + i, q*S_w + j] += d_out[n, c, p, q] / (K_h K_w)

    and ``d_x`` is ``d_xpad`` without the padding border.
    """
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (K_h, K_w), (S_h, S_w), (P_h, P_w), "avg_pool2d")
    d_out = float_array(d_out)
    N, C, H, W = x_shape
    check_grad_shape(d_out, (N, C, OH, OW), "avg_pool2d_backward")

    d_xpad = np.zeros((N, C, H + 2 * P_h, W + 2 * P_w), dtype=np.float64)
    for n in range(N):
        for c in range(C):
            for p in range(OH):
                for q in range(OW):
                    share = float(d_out[n, c, p, q]) / (K_h * K_w)
                    for i in range(K_h):
                        for j in range(K_w):
                            d_xpad[n, c, p * S_h + i, q * S_w + j] += share
    return d_xpad[:, :, P_h:P_h + H, P_w:P_w + W].astype(d_out.dtype)
