"""Reference convolution and pooling kernels: the specification, written as loops.

These are the formulas from the lecture, transcribed loop for loop so that a
student can put the two side by side.  They are slow (plain Python) and only meant
for small shapes: tests, lessons, and ``GRADGRAPH_KERNELS=reference`` debugging.
``fast.py`` has the same functions with the same signatures and must agree with
these to rounding error (``tests/test_kernels.py`` checks it).

Conventions (shared with ``fast.py``)
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

__all__ = [
    "conv_output_size",
    "check_conv_shapes",
    "check_pool_shapes",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "ARGMAX_DTYPE",
]

#: dtype of the ``argmax`` array returned by ``max_pool2d_forward``.
ARGMAX_DTYPE = np.int32


# ----------------------------------------------------------------------------
# shapes and validation (shared by both backends)
# ----------------------------------------------------------------------------


def _pair(value, what):
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``; anything else is a ValueError."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    try:
        a, b = value
        if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
            return int(a), int(b)
    except (TypeError, ValueError):
        pass
    raise ValueError(f"{what} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length along one axis: ``floor((size + 2P - D(K-1) - 1) / S) + 1``.

    Works for convolution and pooling (pooling has ``dilation=1``).  May return
    zero or a negative number when the window does not fit; the ``check_*``
    functions turn that into a ValueError.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def check_conv_shapes(x_shape, w_shape, b_shape=None, stride=1, padding=0,
                      dilation=1, name="conv2d"):
    """Validate a 2-D convolution and return its output size ``(OH, OW)``.

    Raises ValueError (naming both shapes) when: ``x`` or ``w`` is not 4-D, the
    channel counts of ``x`` and ``w`` differ, ``b`` is not ``(F,)``, a stride or
    dilation is not positive, a padding is negative, or the dilated kernel
    ``D(K-1)+1`` is larger than the padded input ``H + 2P``.
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    (sh, sw), (ph, pw), (dh, dw) = (_pair(stride, "stride"), _pair(padding, "padding"),
                                    _pair(dilation, "dilation"))
    both = f"(x shape {x_shape}, w shape {w_shape})"
    if len(x_shape) != 4:
        raise ValueError(f"{name}: input x must be 4-D (N, C, H, W), got {len(x_shape)}-D {both}")
    if len(w_shape) != 4:
        raise ValueError(f"{name}: weight w must be 4-D (F, C, KH, KW), got {len(w_shape)}-D {both}")
    N, C, H, W = x_shape
    F, Cw, KH, KW = w_shape
    if C != Cw:
        raise ValueError(f"{name}: input x has {C} channels but weight w expects {Cw} {both}")
    if b_shape is not None and tuple(b_shape) != (F,):
        raise ValueError(f"{name}: bias b must have shape ({F},) for {F} filters, "
                         f"got {tuple(b_shape)} {both}")
    if sh <= 0 or sw <= 0:
        raise ValueError(f"{name}: stride must be positive, got {(sh, sw)} {both}")
    if dh <= 0 or dw <= 0:
        raise ValueError(f"{name}: dilation must be positive, got {(dh, dw)} {both}")
    if ph < 0 or pw < 0:
        raise ValueError(f"{name}: padding must be >= 0, got {(ph, pw)} {both}")
    if KH <= 0 or KW <= 0:
        raise ValueError(f"{name}: kernel must be at least 1x1, got {KH}x{KW} {both}")
    ekh, ekw = dh * (KH - 1) + 1, dw * (KW - 1) + 1
    hp, wp = H + 2 * ph, W + 2 * pw
    if ekh > hp or ekw > wp:
        raise ValueError(
            f"{name}: kernel {KH}x{KW} (dilated to {ekh}x{ekw} by dilation {(dh, dw)}) is "
            f"larger than the padded input {hp}x{wp} (padding {(ph, pw)}) {both}")
    return conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)


def check_pool_shapes(x_shape, kernel, stride=None, padding=0, name="pool2d"):
    """Validate a 2-D pooling and return its output size ``(OH, OW)``.

    ``stride=None`` means ``stride = kernel`` (non-overlapping windows).  Like
    torch, the padding may be at most half the kernel, so every window holds at
    least one real input element.
    """
    x_shape = tuple(x_shape)
    (kh, kw) = _pair(kernel, "kernel")
    (sh, sw) = (kh, kw) if stride is None else _pair(stride, "stride")
    (ph, pw) = _pair(padding, "padding")
    if len(x_shape) != 4:
        raise ValueError(f"{name}: input x must be 4-D (N, C, H, W), got shape {x_shape}")
    N, C, H, W = x_shape
    what = f"(x shape {x_shape}, kernel {(kh, kw)}, stride {(sh, sw)}, padding {(ph, pw)})"
    if kh <= 0 or kw <= 0:
        raise ValueError(f"{name}: kernel must be positive {what}")
    if sh <= 0 or sw <= 0:
        raise ValueError(f"{name}: stride must be positive {what}")
    if ph < 0 or pw < 0 or 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"{name}: padding must be between 0 and half the kernel {what}")
    if kh > H + 2 * ph or kw > W + 2 * pw:
        raise ValueError(f"{name}: kernel {kh}x{kw} is larger than the padded input "
                         f"{H + 2 * ph}x{W + 2 * pw} {what}")
    if H * W >= 2**31:
        raise ValueError(f"{name}: input plane too large for int32 argmax {what}")
    return conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)


def _pool_params(kernel, stride, padding):
    kh, kw = _pair(kernel, "kernel")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    return (kh, kw), (sh, sw), (ph, pw)


def _check_grad_shape(d_out, expected, name):
    if tuple(d_out.shape) != tuple(expected):
        raise ValueError(f"{name}: d_out has shape {tuple(d_out.shape)} but the "
                         f"forward output has shape {tuple(expected)}")


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
    stride, padding, dilation = (_pair(stride, "stride"), _pair(padding, "padding"),
                                 _pair(dilation, "dilation"))
    OH, OW = check_conv_shapes(np.shape(x), np.shape(w), None if b is None else np.shape(b),
                               stride, padding, dilation)
    dtype = _float_dtype(np.asarray(x).dtype)
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
    stride, padding, dilation = (_pair(stride, "stride"), _pair(padding, "padding"),
                                 _pair(dilation, "dilation"))
    OH, OW = check_conv_shapes(np.shape(x), np.shape(w), None, stride, padding, dilation)
    dtype = _float_dtype(np.asarray(x).dtype)
    x, w, d_out = np.asarray(x, dtype), np.asarray(w, dtype), np.asarray(d_out, dtype)
    (S_h, S_w), (P_h, P_w), (D_h, D_w) = stride, padding, dilation
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _check_grad_shape(d_out, (N, F, OH, OW), "conv2d_backward")
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
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = _pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), (K_h, K_w), (S_h, S_w), (P_h, P_w), "max_pool2d")
    x = np.asarray(x, _float_dtype(np.asarray(x).dtype))
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
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = _pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (K_h, K_w), (S_h, S_w), (P_h, P_w), "max_pool2d")
    d_out = np.asarray(d_out)
    d_out = np.asarray(d_out, _float_dtype(d_out.dtype))
    N, C, H, W = x_shape
    _check_grad_shape(d_out, (N, C, OH, OW), "max_pool2d_backward")
    _check_grad_shape(argmax, (N, C, OH, OW), "max_pool2d_backward (argmax)")

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
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = _pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), (K_h, K_w), (S_h, S_w), (P_h, P_w), "avg_pool2d")
    x = np.asarray(x, _float_dtype(np.asarray(x).dtype))
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
    (K_h, K_w), (S_h, S_w), (P_h, P_w) = _pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (K_h, K_w), (S_h, S_w), (P_h, P_w), "avg_pool2d")
    d_out = np.asarray(d_out)
    d_out = np.asarray(d_out, _float_dtype(d_out.dtype))
    N, C, H, W = x_shape
    _check_grad_shape(d_out, (N, C, OH, OW), "avg_pool2d_backward")

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
