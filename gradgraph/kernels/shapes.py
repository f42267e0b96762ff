"""Shape rules shared by every kernel backend and by the conv gates (numpy only).

``reference.py``, ``vectorized.py``, ``fast.py`` and ``gradgraph/ops/conv.py``
all read their arguments and check their shapes here, so a mistake gets the same
message whichever backend runs, and the output-size formula is written once::

    out = floor((size + 2P - D(K - 1) - 1) / S) + 1

(P padding, D dilation, K kernel, S stride; pooling has D = 1).  Nothing here
imports Numba: importing this module is instant.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ARGMAX_DTYPE",
    "KERNEL_FUNCTIONS",
    "pair",
    "float_dtype",
    "conv_output_size",
    "conv_params",
    "pool_params",
    "is_lenet_pool",
    "check_conv_shapes",
    "check_pool_shapes",
    "check_grad_shape",
    "conv_arguments",
    "float_array",
]

#: The functions every backend provides, with the same signatures.
KERNEL_FUNCTIONS = ("conv2d_forward", "conv2d_backward", "max_pool2d_forward",
                    "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward")

#: dtype of the ``argmax`` array returned by ``max_pool2d_forward``.
ARGMAX_DTYPE = np.int32


def pair(value, what: str, name: str = "", minimum: int | None = None) -> tuple[int, int]:
    """``3 -> (3, 3)``; ``(2, 1) -> (2, 1)``; anything else is a ValueError.

    ``what`` names the argument (``"stride"``), ``name`` the gate or function for
    the message; with ``minimum``, both numbers must be at least that.
    """
    prefix = f"{name}: " if name else ""
    values = value if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                   for v in values):
        raise ValueError(f"{prefix}{what} must be an int or a pair of ints, got {value!r}")
    a, b = int(values[0]), int(values[1])
    if minimum is not None and min(a, b) < minimum:
        raise ValueError(f"{prefix}{what} must be integers >= {minimum}, got {value!r}")
    return a, b


def float_dtype(*arrays) -> np.dtype:
    """The dtype the kernels compute in: float32 or float64 (anything else: float64)."""
    dtype = np.result_type(*arrays)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
    """Output length along one axis: ``floor((size + 2P - D(K-1) - 1) / S) + 1``.

    Works for convolution and pooling (pooling has ``dilation=1``).  May return
    zero or a negative number when the window does not fit; the ``check_*``
    functions turn that into a ValueError.
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_params(stride, padding, dilation):
    """``(stride, padding, dilation)`` as three ``(rows, cols)`` pairs."""
    return pair(stride, "stride"), pair(padding, "padding"), pair(dilation, "dilation")


def pool_params(kernel, stride, padding):
    """``(kernel, stride, padding)`` as pairs; ``stride=None`` means ``stride = kernel``."""
    kernel = pair(kernel, "kernel")
    return kernel, kernel if stride is None else pair(stride, "stride"), pair(padding, "padding")


def is_lenet_pool(kernel, stride=None, padding=0) -> bool:
    """2x2 windows at stride 2 without padding (LeNet's pools), which ``fast.py`` has a
    branch-free max-pooling kernel for. False for arguments ``pool_params`` refuses."""
    try:
        return pool_params(kernel, stride, padding) == ((2, 2), (2, 2), (0, 0))
    except ValueError:  # the backend says what is wrong, naming the gate
        return False


def check_conv_shapes(x_shape, w_shape, b_shape=None, stride=1, padding=0,
                      dilation=1, name="conv2d"):
    """Validate a 2-D convolution and return its output size ``(OH, OW)``.

    Raises ValueError (naming both shapes) when: ``x`` or ``w`` is not 4-D, the
    channel counts of ``x`` and ``w`` differ, ``b`` is not ``(F,)``, a stride or
    dilation is not positive, a padding is negative, or the dilated kernel
    ``D(K-1)+1`` is larger than the padded input ``H + 2P``.
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    (sh, sw), (ph, pw), (dh, dw) = conv_params(stride, padding, dilation)
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
            f"{name}: the {KH}x{KW} kernel of w {w_shape} (dilated to {ekh}x{ekw} by dilation "
            f"{(dh, dw)}) is larger than the padded input {hp}x{wp} (padding {(ph, pw)}) {both}")
    return conv_output_size(H, KH, sh, ph, dh), conv_output_size(W, KW, sw, pw, dw)


def check_pool_shapes(x_shape, kernel, stride=None, padding=0, name="pool2d"):
    """Validate a 2-D pooling and return its output size ``(OH, OW)``.

    ``stride=None`` means ``stride = kernel`` (non-overlapping windows).  Like
    torch, the padding may be at most half the kernel, so every window holds at
    least one real input element.
    """
    x_shape = tuple(x_shape)
    (kh, kw), (sh, sw), (ph, pw) = pool_params(kernel, stride, padding)
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


def check_grad_shape(d_out, expected, name):
    """A ValueError unless ``d_out`` has the forward output's shape ``expected``."""
    if tuple(d_out.shape) != tuple(expected):
        raise ValueError(f"{name}: d_out has shape {tuple(d_out.shape)} but the "
                         f"forward output has shape {tuple(expected)}")


def float_array(a) -> np.ndarray:
    """``a`` as a C-contiguous float32 or float64 array (see :func:`float_dtype`)."""
    a = np.asarray(a)
    return np.ascontiguousarray(a, float_dtype(a.dtype))


def conv_arguments(x, w, b=None, stride=1, padding=0, dilation=1, d_out=None):
    """A convolution's arguments, checked and converted for a kernel.

    Returns ``(x, w, b, d_out, stride, padding, dilation, (OH, OW))``: the arrays
    C-contiguous in the float dtype of ``x`` (``b`` and ``d_out`` stay None when
    not given; a given ``d_out`` must have the output's shape), the rest as pairs.
    """
    stride, padding, dilation = conv_params(stride, padding, dilation)
    OH, OW = check_conv_shapes(np.shape(x), np.shape(w), None if b is None else np.shape(b),
                               stride, padding, dilation)
    x = float_array(x)
    w = np.ascontiguousarray(w, x.dtype)
    b = None if b is None else np.ascontiguousarray(b, x.dtype)
    if d_out is not None:
        d_out = np.ascontiguousarray(d_out, x.dtype)
        check_grad_shape(d_out, (x.shape[0], w.shape[0], OH, OW), "conv2d_backward")
    return x, w, b, d_out, stride, padding, dilation, (OH, OW)
