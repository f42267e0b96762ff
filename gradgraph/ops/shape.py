"""Gates that move values around (reshape, transpose, indexing) and matmul."""
from __future__ import annotations

import numpy as np

from ..blas import blas_threads_for
from ..gate import Gate


class MatMul(Gate):
    """Z = X @ W;   dL/dX = d_out @ Wᵀ,  dL/dW = Xᵀ @ d_out

    The gradients have the shapes of the operands (that is how to remember
    which side the transpose goes). Handles 1-d vectors like numpy does.
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
        rows = x.shape[-2] if x.ndim > 1 else 1
        cols = w.shape[-1] if w.ndim > 1 else 1
        self.multiply_adds = max(x.size * cols, w.size * rows)  # the same for all three products
        with blas_threads_for(self.multiply_adds):
            return x @ w

    def backward(self, d_out):
        x, w = self.x, self.w
        x2 = x[None, :] if x.ndim == 1 else x
        w2 = w[:, None] if w.ndim == 1 else w
        d2 = d_out
        if x.ndim == 1:
            d2 = np.expand_dims(d2, -2)
        if w.ndim == 1:
            d2 = np.expand_dims(d2, -1)
        with blas_threads_for(self.multiply_adds):
            d_x = d2 @ np.swapaxes(w2, -1, -2)
            d_w = np.swapaxes(x2, -1, -2) @ d2
        # Sum over broadcast batch dimensions, then drop the helper axes.
        while d_x.ndim > x2.ndim:
            d_x = d_x.sum(axis=0)
        while d_w.ndim > w2.ndim:
            d_w = d_w.sum(axis=0)
        return d_x.reshape(x.shape), d_w.reshape(w.shape)


class Reshape(Gate):
    """Z = reshape(X);   dL/dX = reshape(d_out, X.shape)"""

    symbol, short, formula, local = "reshape", "reshape", "Z = reshape(X)", ("same values, new shape",)

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
    """Z = Xᵀ (axes permuted);   dL/dX = d_out with the inverse permutation"""

    symbol, short, formula, local = "T", "transpose", "Z = X^T", ("inverse permutation",)

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, x):
        self.perm = tuple(self.axes) if self.axes is not None else tuple(reversed(range(x.ndim)))
        if sorted(self.perm) != list(range(x.ndim)):
            raise ValueError(f"Transpose: axes {self.perm} do not fit an array of shape {x.shape}")
        return np.transpose(x, self.perm)

    def backward(self, d_out):
        return (np.transpose(d_out, np.argsort(self.perm)),)


class Index(Gate):
    """Z = X[index];   dL/dX = zeros with d_out added back at the picked positions"""

    symbol, short, formula, local = "[]", "index", "Z = X[i]", ("1 at the picked positions",)

    def __init__(self, index):
        self.index = index.data.astype(np.int64) if hasattr(index, "gate") else index

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
