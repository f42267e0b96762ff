"""Convolution and pooling in vectorized numpy.  Same API as ``reference.py``.

Read ``reference.py`` first: it is the specification, and the parity tests hold
these functions to it.  This backend needs nothing but numpy, so it runs the
moment gradgraph is imported, while the Numba kernels of ``fast.py`` are still
being compiled; for some shapes it is also the faster one (see ``__init__.py``).

**Convolution: im2col, then one matrix product.**  Every output pixel is a dot
product of the ``C*KH*KW`` filter weights with the input patch under the filter.
Copy every patch into one column of a matrix (im2col)::

    cols[(c, i, j), (n, p, q)] = xpad[n, c, p*S_h + i*D_h, q*S_w + j*D_w]

and the whole convolution is a single product that BLAS computes at full speed::

    out[f, (n, p, q)] = sum_k  w[f, k] * cols[k, (n, p, q)]      (F, K) @ (K, N*OH*OW)

The backward pass reuses ``cols`` for ``d_w = d_out @ cols.T`` and sends
``d_cols = w.T @ d_out`` back to the image (col2im): each tap ``(i, j)`` adds its
row of ``d_cols`` to the input pixels that tap read.  ``cols`` is built from a
strided *view* of ``xpad`` (no Python loop over pixels); a batch whose ``cols``
would not fit in the CPU cache is done a slice of images at a time.

**Pooling: one strided view per tap.**  ``xpad[:, :, i::S_h, j::S_w]`` (cut to
``OH x OW``) is the tap ``(i, j)`` of every window at once, so a 2x2 pool is four
whole-array comparisons (max) or additions (average).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .reference import pad_input
from .shapes import (
    ARGMAX_DTYPE,
    KERNEL_FUNCTIONS,
    check_grad_shape,
    check_pool_shapes,
    conv_arguments,
    float_array,
    pool_params,
)

__all__ = list(KERNEL_FUNCTIONS)

#: Largest ``cols`` matrix (in elements) built at once; bigger batches are done a
#: slice of images at a time so that ``cols`` stays in the CPU cache.
COLS_BUDGET = 1 << 20


# ----------------------------------------------------------------------------
# convolution
# ----------------------------------------------------------------------------


def _im2col(xpad, KH, KW, OH, OW, stride, dilation):
    """``cols[(c, i, j), (n, p, q)] = xpad[n, c, p*S_h + i*D_h, q*S_w + j*D_w]``: (C*KH*KW, N*OH*OW)."""
    N, C = xpad.shape[:2]
    (sh, sw), (dh, dw) = stride, dilation
    s_n, s_c, s_h, s_w = xpad.strides
    patches = as_strided(xpad, shape=(C, KH, KW, N, OH, OW),
                         strides=(s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w), writeable=False)
    return np.ascontiguousarray(patches).reshape(C * KH * KW, N * OH * OW)


def _image_slices(N, rows, pixels):
    """Slices of the batch whose ``cols`` (``rows`` x images*``pixels``) fit in COLS_BUDGET."""
    step = max(1, COLS_BUDGET // max(1, rows * pixels))
    return [slice(n, min(N, n + step)) for n in range(0, N, step)]


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """Same as :func:`gradgraph.kernels.reference.conv2d_forward`, by im2col + matmul."""
    x, w, b, _, stride, (ph, pw), dilation, (OH, OW) = conv_arguments(x, w, b, stride, padding, dilation)
    N = x.shape[0]
    F, C, KH, KW = w.shape
    w2 = w.reshape(F, C * KH * KW)
    out = np.empty((N, F, OH, OW), x.dtype)
    for part in _image_slices(N, C * KH * KW, OH * OW):
        xpad = pad_input(x[part], ph, pw) if (ph or pw) else x[part]
        cols = _im2col(xpad, KH, KW, OH, OW, stride, dilation)
        product = (w2 @ cols).reshape(F, -1, OH, OW)  # (F, n, OH, OW)
        out[part] = product.transpose(1, 0, 2, 3)
    if b is not None:
        out += b.reshape(1, F, 1, 1)
    return out


def conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1, need_dx=True, need_dw=True):
    """Same as :func:`gradgraph.kernels.reference.conv2d_backward`, by matmuls and col2im."""
    x, w, _, d_out, (sh, sw), (ph, pw), (dh, dw), (OH, OW) = conv_arguments(
        x, w, None, stride, padding, dilation, d_out)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    d_b = d_out.sum(axis=(0, 2, 3))
    if not (need_dx or need_dw):
        return None, None, d_b
    K = C * KH * KW
    w2 = w.reshape(F, K)
    d_w = np.zeros((F, K), x.dtype) if need_dw else None
    d_x = np.empty(x.shape, x.dtype) if need_dx else None
    for part in _image_slices(N, K, OH * OW):
        g = np.ascontiguousarray(d_out[part].transpose(1, 0, 2, 3)).reshape(F, -1)  # (F, n*OH*OW)
        if need_dw:
            xpad = pad_input(x[part], ph, pw) if (ph or pw) else x[part]
            d_w += g @ _im2col(xpad, KH, KW, OH, OW, (sh, sw), (dh, dw)).T
        if need_dx:  # col2im: tap (c, i, j) sends its row of d_cols back to the pixels it read
            n = g.shape[1] // (OH * OW)
            d_cols = (w2.T @ g).reshape(C, KH, KW, n, OH, OW)
            d_xpad = np.zeros((C, n, H + 2 * ph, W + 2 * pw), x.dtype)
            for i in range(KH):
                for j in range(KW):
                    d_xpad[:, :, i * dh:i * dh + sh * (OH - 1) + 1:sh,
                           j * dw:j * dw + sw * (OW - 1) + 1:sw] += d_cols[:, i, j]
            d_x[part] = d_xpad[:, :, ph:ph + H, pw:pw + W].transpose(1, 0, 2, 3)
    return d_x, (d_w.reshape(w.shape) if need_dw else None), d_b


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------


def _pool_setup(x, kernel, stride, padding, name):
    kernel, stride, padding = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), kernel, stride, padding, name)
    return float_array(x), kernel, stride, padding, OH, OW


def _tap(a, i, j, stride, OH, OW):
    """Tap ``(i, j)`` of every window: ``a[:, :, p*S_h + i, q*S_w + j]`` for all p, q (a view)."""
    sh, sw = stride
    return a[:, :, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]


def max_pool2d_forward(x, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.max_pool2d_forward`, one pass per tap."""
    x, (kh, kw), stride, (ph, pw), OH, OW = _pool_setup(x, kernel, stride, padding, "max_pool2d")
    N, C, H, W = x.shape
    xpad = pad_input(x, ph, pw, -np.inf) if (ph or pw) else x
    rows = np.arange(OH) * stride[0] - ph  # unpadded row and column of tap (0, 0)
    cols = np.arange(OW) * stride[1] - pw
    best = np.empty((N, C, OH, OW), x.dtype)
    argmax = np.empty((N, C, OH, OW), ARGMAX_DTYPE)
    better = np.empty(best.shape, bool)
    seen = np.zeros((OH, OW), bool)  # has the window met a real (not padding) element?
    for i in range(kh):
        for j in range(kw):
            value = _tap(xpad, i, j, stride, OH, OW)
            h, v = (rows + i)[:, None], (cols + j)[None, :]
            at = (h * W + v).astype(ARGMAX_DTYPE)  # where tap (i, j) reads, per window
            inside = (h >= 0) & (h < H) & (v >= 0) & (v < W)
            if i == j == 0:  # the first tap starts as the maximum
                best[...], argmax[...] = value, at
            else:  # strictly greater keeps the first maximum; the first NaN wins and stays
                np.less_equal(value, best, out=better)
                np.logical_not(better, out=better)
                better &= best == best
                if ph or pw:  # padding never wins, and the first real element always does
                    better |= ~seen
                    better &= inside
                    np.copyto(best, value, where=better)
                else:
                    np.maximum(best, value, out=best)  # the same values, faster
                np.copyto(argmax, at, where=better)
            seen |= inside
    return best, argmax


def max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.max_pool2d_backward`, one scatter."""
    (kh, kw), (sh, sw), padding = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (kh, kw), (sh, sw), padding, "max_pool2d")
    d_out = float_array(d_out)
    N, C, H, W = x_shape
    check_grad_shape(d_out, (N, C, OH, OW), "max_pool2d_backward")
    check_grad_shape(argmax, (N, C, OH, OW), "max_pool2d_backward (argmax)")
    # position in the flattened d_x: plane (n, c) starts at (n*C + c) * H*W
    where = (np.asarray(argmax, np.int64).reshape(N * C, OH * OW)
             + (np.arange(N * C, dtype=np.int64) * (H * W))[:, None]).ravel()
    if sh >= kh and sw >= kw:  # windows do not overlap: every input wins at most once
        d_x = np.zeros(N * C * H * W, d_out.dtype)
        d_x[where] = d_out.ravel()
    else:  # an input can win several windows: add them up
        d_x = np.bincount(where, d_out.ravel(), minlength=N * C * H * W).astype(d_out.dtype)
    return d_x.reshape(N, C, H, W)


def avg_pool2d_forward(x, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.avg_pool2d_forward`, one add per tap."""
    x, (kh, kw), stride, (ph, pw), OH, OW = _pool_setup(x, kernel, stride, padding, "avg_pool2d")
    xpad = pad_input(x, ph, pw) if (ph or pw) else x
    total = np.zeros((x.shape[0], x.shape[1], OH, OW), x.dtype)
    for i in range(kh):
        for j in range(kw):
            total += _tap(xpad, i, j, stride, OH, OW)
    total *= x.dtype.type(1.0 / (kh * kw))
    return total


def avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.avg_pool2d_backward`, one add per tap."""
    (kh, kw), stride, (ph, pw) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (kh, kw), stride, (ph, pw), "avg_pool2d")
    d_out = float_array(d_out)
    N, C, H, W = x_shape
    check_grad_shape(d_out, (N, C, OH, OW), "avg_pool2d_backward")
    share = d_out * d_out.dtype.type(1.0 / (kh * kw))
    d_xpad = np.zeros((N, C, H + 2 * ph, W + 2 * pw), d_out.dtype)
    for i in range(kh):
        for j in range(kw):
            _tap(d_xpad, i, j, stride, OH, OW)[...] += share
    return np.ascontiguousarray(d_xpad[:, :, ph:ph + H, pw:pw + W])
