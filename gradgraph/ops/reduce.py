"""Reductions and softmax: gates whose output has fewer (or normalised) elements."""
from __future__ import annotations

import numpy as np

from ..gate import Gate


def normalize_axes(axis, shape, gate: str) -> tuple:
    """``axis`` (None, an int, a tuple or a list) as a tuple of non-negative axes of ``shape``.

    None means every axis. An axis outside [-ndim, ndim) is a ValueError naming
    the gate, the axis and the shape. A 0-d value has no axes, but accepts 0
    and -1 (as in torch): reducing it returns the value.
    """
    shape = tuple(shape)
    ndim = len(shape)
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{gate}: axis must be an int, a tuple or a list of ints, got {a!r}")
    if ndim == 0:
        bad = [a for a in axes if a not in (0, -1)]
        if bad:
            raise ValueError(f"{gate}: axis {bad[0]} is out of range for a 0-d tensor (valid: 0 or -1)")
        return ()
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{gate}: axis {a} is out of range for a tensor of shape {shape} "
                             f"(valid: {-ndim}..{ndim - 1})")
    result = tuple(int(a) % ndim for a in axes)
    if len(set(result)) != len(result):
        raise ValueError(f"{gate}: axis {axis} names the same axis twice (shape {shape})")
    return result


def _expand(d_out, axes, keepdims):
    """Re-insert the reduced axes so ``d_out`` broadcasts against the input."""
    if not keepdims and axes:
        d_out = np.expand_dims(d_out, axes)
    return d_out


class _Reduction(Gate):
    """A reduction over ``axis`` (None: all axes; an int, a tuple or a list)."""

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def _start(self, x) -> tuple:
        self.shape = x.shape
        self.axes = normalize_axes(self.axis, x.shape, self.name)
        return self.axes


class Sum(_Reduction):
    """z = Σ_i x_i;   dz/dx_i = 1   (d_out is copied to every summed element)"""

    symbol, short, formula, local = "Σ", "sum", "z = Σ_i x_i", ("dz/dx_i = 1",)

    def forward(self, x):
        return np.sum(x, axis=self._start(x), keepdims=self.keepdims)

    def backward(self, d_out):
        d_out = _expand(d_out, self.axes, self.keepdims)
        return (np.broadcast_to(d_out, self.shape).copy(),)


class Mean(_Reduction):
    """z = (1/n) Σ_i x_i;   dz/dx_i = 1/n"""

    symbol, short, formula, local = "mean", "mean", "z = (1/n) Σ_i x_i", ("dz/dx_i = 1/n",)

    def forward(self, x):
        axes = self._start(x)
        self.n = int(np.prod([x.shape[a] for a in axes]))
        return np.mean(x, axis=axes, keepdims=self.keepdims)

    def backward(self, d_out):
        d_out = _expand(d_out, self.axes, self.keepdims)
        return (np.broadcast_to(d_out / self.n, self.shape).copy(),)


class Max(_Reduction):
    """z = max_i x_i;   dz/dx_i = [i = argmax x]   (the (first) largest element gets d_out, the others 0)

    Like the max gate, the reduction routes the whole gradient to one input.
    """

    symbol, short, formula, local = "max", "max", "z = max_i x_i", ("dz/dx_i = [i = argmax x]",)
    pick = staticmethod(np.argmax)

    def forward(self, x):
        axes = self._start(x)
        if x.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {x.shape}")
        # Move the reduced axes to the end and flatten them, so argmax sees one axis.
        self.kept = [a for a in range(x.ndim) if a not in axes]
        moved = np.transpose(x, self.kept + list(axes)).reshape([x.shape[a] for a in self.kept] + [-1])
        self.winner = self.pick(moved, axis=-1)
        out = np.take_along_axis(moved, self.winner[..., None], axis=-1)[..., 0]
        return np.expand_dims(out, axes) if self.keepdims else out

    def backward(self, d_out):
        if self.keepdims:
            d_out = np.squeeze(d_out, axis=self.axes)
        kept_shape = [self.shape[a] for a in self.kept]
        reduced = int(np.prod([self.shape[a] for a in self.axes]))
        d_moved = np.zeros(kept_shape + [reduced], dtype=np.result_type(d_out))
        np.put_along_axis(d_moved, self.winner[..., None], np.asarray(d_out)[..., None], axis=-1)
        d_moved = d_moved.reshape(kept_shape + [self.shape[a] for a in self.axes])
        return (np.transpose(d_moved, np.argsort(self.kept + list(self.axes))),)


class Min(Max):
    """z = min_i x_i;   dz/dx_i = [i = argmin x]   (the (first) smallest element gets d_out, the others 0)"""

    symbol, short, formula, local = "min", "min", "z = min_i x_i", ("dz/dx_i = [i = argmin x]",)
    pick = staticmethod(np.argmin)


class LogSumExp(_Reduction):
    """z = log Σ_i e^{x_i};   dz/dx_i = softmax(x)_i = e^{x_i} / Σ_j e^{x_j}

    Stable: log Σ e^x = m + log Σ e^(x - m) with m = max x, so no e^x overflows.
    """

    symbol, short, formula, local = "lse", "logsumexp", "z = log Σ_i e^{x_i}", ("dz/dx_i = softmax(x)_i",)

    def forward(self, x):
        axes = self._start(x)
        if x.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty tensor of shape {x.shape}")
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # an all -inf row: shift by 0, the answer is -inf
        e = np.exp(x - m)
        total = np.sum(e, axis=axes, keepdims=True)
        self.p = e / total
        z = m + np.log(total)
        return z if self.keepdims else np.squeeze(z, axis=axes)

    def backward(self, d_out):
        return (_expand(d_out, self.axes, self.keepdims) * self.p,)


class _AlongAxis(Gate):
    """A gate normalising along one axis (softmax, log-softmax)."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def _check(self, x) -> tuple:
        return normalize_axes(self.axis, x.shape, self.name)


class Softmax(_AlongAxis):
    """p_i = e^{x_i} / Σ_j e^{x_j};   dp_i/dx_j = p_i([i=j] - p_j),  so dL/dx = p * (d_out - Σ_k d_out_k p_k)

    Stable: subtracts max(x) first (softmax does not change under a shift).
    """

    symbol, short, formula, local = "softmax", "softmax", "p_i = e^{x_i} / Σ_j e^{x_j}", ("dp_i/dx_j = p_i([i=j] - p_j)",)

    def forward(self, x):
        self.along = self._check(x)
        e = np.exp(x - np.max(x, axis=self.along, keepdims=True))
        self.p = e / np.sum(e, axis=self.along, keepdims=True)
        return self.p

    def backward(self, d_out):
        inner = np.sum(d_out * self.p, axis=self.along, keepdims=True)
        return (self.p * (d_out - inner),)


class LogSoftmax(_AlongAxis):
    """z_i = x_i - log Σ_j e^{x_j};   dz_i/dx_j = [i=j] - p_j,  so dL/dx = d_out - softmax(x) Σ_k d_out_k

    Stable: uses the log-sum-exp trick, log Σ e^x = m + log Σ e^(x - m), m = max x.
    """

    symbol, short, formula, local = "logsoftmax", "log_softmax", "z_i = x_i - log Σ_j e^{x_j}", ("dz_i/dx_j = [i=j] - p_j",)

    def forward(self, x):
        self.along = self._check(x)
        shifted = x - np.max(x, axis=self.along, keepdims=True)
        log_sum = np.log(np.sum(np.exp(shifted), axis=self.along, keepdims=True))
        z = shifted - log_sum
        self.p = np.exp(z)
        return z

    def backward(self, d_out):
        return (d_out - self.p * np.sum(d_out, axis=self.along, keepdims=True),)
