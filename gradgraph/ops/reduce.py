"""Reductions and softmax: gates whose output has fewer (or normalised) elements."""
from __future__ import annotations

import numpy as np

from ..gate import Gate


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim if ndim else 0 for a in axes)


def _expand(d_out, shape, axes, keepdims):
    """Re-insert the reduced axes so ``d_out`` broadcasts against the input."""
    if not keepdims:
        d_out = np.expand_dims(d_out, axes) if axes else d_out
    return d_out


class Sum(Gate):
    """z = Σ_i x_i;   dz/dx_i = 1   (d_out is copied to every summed element)"""

    symbol, short, formula, local = "Σ", "sum", "z = sum(x)", ("dz/dx_i = 1",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axes = _axes(self.axis, x.ndim)
        return np.sum(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, d_out):
        d_out = _expand(d_out, self.shape, self.axes, self.keepdims)
        return (np.broadcast_to(d_out, self.shape).copy(),)


class Mean(Gate):
    """z = (1/n) Σ_i x_i;   dz/dx_i = 1/n"""

    symbol, short, formula, local = "mean", "mean", "z = mean(x)", ("dz/dx_i = 1/n",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axes = _axes(self.axis, x.ndim)
        self.n = int(np.prod([x.shape[a] for a in self.axes])) if x.ndim else 1
        return np.mean(x, axis=self.axes, keepdims=self.keepdims)

    def backward(self, d_out):
        d_out = _expand(d_out, self.shape, self.axes, self.keepdims)
        return (np.broadcast_to(d_out / self.n, self.shape).copy(),)


class Max(Gate):
    """z = max_i x_i;   dz/dx_i = 1 for the (first) largest element, else 0

    Like the max gate, the reduction routes the whole gradient to one input.
    """

    symbol, short, formula, local = "max", "max", "z = max(x)", ("dz/dx_i = [i = argmax x]",)

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        self.axes = _axes(self.axis, x.ndim)
        # Move the reduced axes to the end and flatten them, so argmax sees one axis.
        kept = [a for a in range(x.ndim) if a not in self.axes]
        moved = np.transpose(x, kept + list(self.axes)).reshape([x.shape[a] for a in kept] + [-1])
        self.kept = kept
        self.argmax = np.argmax(moved, axis=-1)
        out = np.take_along_axis(moved, self.argmax[..., None], axis=-1)[..., 0]
        if self.keepdims:
            out = np.expand_dims(out, self.axes)
        return out

    def backward(self, d_out):
        if self.keepdims:
            d_out = np.squeeze(d_out, axis=self.axes)
        kept_shape = [self.shape[a] for a in self.kept]
        reduced = int(np.prod([self.shape[a] for a in self.axes])) if self.axes else 1
        d_moved = np.zeros(kept_shape + [reduced], dtype=np.result_type(d_out))
        np.put_along_axis(d_moved, self.argmax[..., None], np.asarray(d_out)[..., None], axis=-1)
        d_moved = d_moved.reshape(kept_shape + [self.shape[a] for a in self.axes])
        return (np.transpose(d_moved, np.argsort(self.kept + list(self.axes))),)


class Softmax(Gate):
    """p_k = e^{x_k} / Σ_j e^{x_j};   dL/dx = p * (d_out - Σ_k d_out_k p_k)

    Stable: subtracts max(x) first (softmax does not change under a shift).
    """

    symbol, short, formula, local = "softmax", "softmax", "p = e^x / sum(e^x)", ("dp_i/dx_j = p_i([i=j] - p_j)",)

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        e = np.exp(x - np.max(x, axis=self.axis, keepdims=True))
        self.p = e / np.sum(e, axis=self.axis, keepdims=True)
        return self.p

    def backward(self, d_out):
        inner = np.sum(d_out * self.p, axis=self.axis, keepdims=True)
        return (self.p * (d_out - inner),)


class LogSoftmax(Gate):
    """z_k = x_k - log Σ_j e^{x_j};   dL/dx = d_out - softmax(x) Σ_k d_out_k

    Stable: uses the log-sum-exp trick, log Σ e^x = m + log Σ e^(x - m), m = max x.
    """

    symbol, short, formula, local = "logsoftmax", "log_softmax", "z = x - log(sum(e^x))", ("dz_i/dx_j = [i=j] - p_j",)

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        shifted = x - np.max(x, axis=self.axis, keepdims=True)
        log_sum = np.log(np.sum(np.exp(shifted), axis=self.axis, keepdims=True))
        z = shifted - log_sum
        self.p = np.exp(z)
        return z

    def backward(self, d_out):
        return (d_out - self.p * np.sum(d_out, axis=self.axis, keepdims=True),)
