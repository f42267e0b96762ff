"""Gates that move values around (reshape, transpose, indexing, concatenation) and matmul."""
from __future__ import annotations

import numpy as np

from ..gate import Gate, unbroadcast
from .reduce import normalize_axes


class MatMul(Gate):
    """Z = X @ W;   dZ/dX: d_out @ W^T,  dZ/dW: X^T @ d_out   (dL/dX = d_out @ Wᵀ, dL/dW = Xᵀ @ d_out)

    The gradients have the shapes of the operands (that is how to remember
    which side the transpose goes). A 1-d X is one row, a 1-d W one column,
    as in numpy; leading (batch) axes broadcast and their gradients are summed.
    """

    symbol, short, formula, local = "@", "matmul", "Z = X @ W", ("dZ/dX: d_out @ W^T", "dZ/dW: X^T @ d_out")

    def forward(self, x, w):
        if x.ndim == 0 or w.ndim == 0:
            raise ValueError(f"MatMul: needs arrays of 1 or more dimensions, got shapes {x.shape} and {w.shape}")
        inner_x = x.shape[-1]
        inner_w = w.shape[0] if w.ndim == 1 else w.shape[-2]
        if inner_x != inner_w:
            raise ValueError(
                f"MatMul: shapes {x.shape} and {w.shape} do not match "
                f"(inner dimensions {inner_x} and {inner_w} differ)"
            )
        self.x, self.w = x, w
        return x @ w

    def backward(self, d_out):
        # Read a vector as a matrix (x: one row, w: one column) and give d_out those axes back.
        x = self.x[None, :] if self.x.ndim == 1 else self.x
        w = self.w[:, None] if self.w.ndim == 1 else self.w
        if self.w.ndim == 1:
            d_out = np.expand_dims(d_out, -1)
        if self.x.ndim == 1:
            d_out = np.expand_dims(d_out, -2)
        d_x = d_out @ np.swapaxes(w, -1, -2)
        d_w = np.swapaxes(x, -1, -2) @ d_out
        return (unbroadcast(d_x, x.shape, self.name).reshape(self.x.shape),
                unbroadcast(d_w, w.shape, self.name).reshape(self.w.shape))


class Reshape(Gate):
    """Z = reshape(X);   dL/dX = reshape(d_out, X.shape)"""

    symbol, short, formula, local = "reshape", "reshape", "Z = reshape(X)", ("dL/dX = reshape(d_out, X.shape)",)

    def __init__(self, shape):
        self.target = tuple(shape)

    def forward(self, x):
        self.shape = x.shape
        try:
            return x.reshape(self.target)
        except ValueError:
            raise ValueError(f"Reshape: cannot reshape an array of shape {x.shape} into {self.target}") from None

    def backward(self, d_out):
        return (d_out.reshape(self.shape),)


class Transpose(Gate):
    """Z = permute(X, axes) (Xᵀ for a matrix);   dL/dX = permute(d_out, inverse of axes)

    ``axes`` None reverses every axis (``.T``).
    """

    symbol, short, formula, local = "T", "transpose", "Z = permute(X, axes)", ("dL/dX = permute(d_out, inverse of axes)",)

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        if self.axes is None:
            self.perm = tuple(reversed(range(x.ndim)))
        else:
            self.perm = normalize_axes(self.axes, x.shape, self.name)
            if len(self.perm) != x.ndim:
                raise ValueError(f"Transpose: axes {tuple(self.axes)} must name each of the {x.ndim} axes "
                                 f"of shape {x.shape} once")
        return np.transpose(x, self.perm)

    def backward(self, d_out):
        return (np.transpose(d_out, np.argsort(self.perm)),)


class Index(Gate):
    """Z = X[i];   dL/dX = zeros, d_out added at i   (repeated positions add up)"""

    symbol, short, formula, local = "[]", "index", "Z = X[i]", ("dL/dX = zeros, d_out added at i",)

    def __init__(self, index):
        if hasattr(index, "gate"):  # a Tensor of indices or a boolean mask
            data = index.data
            index = data if data.dtype == bool or np.issubdtype(data.dtype, np.integer) else data.astype(np.int64)
        self.index = index

    def forward(self, x):
        self.shape, self.dtype = x.shape, x.dtype
        try:
            return np.array(x[self.index])
        except IndexError as error:
            raise ValueError(f"Index: {error} (input shape {x.shape})") from None

    def backward(self, d_out):
        d_x = np.zeros(self.shape, dtype=self.dtype)
        np.add.at(d_x, self.index, d_out)  # add.at: repeated indices add up
        return (d_x,)


class Concatenate(Gate):
    """Z = [X_1, X_2, ...] along axis;   dL/dX_k = d_out[slice k]   (the slice where X_k went)"""

    symbol, short, formula, local = "cat", "cat", "Z = [X_1, X_2, ...] along axis", ("dL/dX_k = d_out[slice k]",)

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise ValueError("Concatenate: needs at least one tensor")
        first = xs[0]
        if first.ndim == 0:
            raise ValueError("Concatenate: cannot join 0-d tensors; use stack")
        if not -first.ndim <= self.axis < first.ndim:
            raise ValueError(f"Concatenate: axis {self.axis} is out of range for shape {first.shape} "
                             f"(valid: {-first.ndim}..{first.ndim - 1})")
        self.along = self.axis % first.ndim
        for x in xs[1:]:
            rest = [n for i, n in enumerate(x.shape) if i != self.along]
            if x.ndim != first.ndim or rest != [n for i, n in enumerate(first.shape) if i != self.along]:
                shown = ", ".join(str(t.shape) for t in xs)
                raise ValueError(f"Concatenate: shapes {shown} differ outside axis {self.axis}")
        self.ends = np.cumsum([x.shape[self.along] for x in xs])[:-1]
        return np.concatenate(xs, axis=self.along)

    def backward(self, d_out):
        return tuple(np.split(d_out, self.ends, axis=self.along))
