"""Elementwise gates. Each docstring gives the forward formula and the local
derivatives; ``backward`` multiplies them by the upstream gradient ``d_out``.

Binary gates broadcast like numpy; their backward sums the gradient back to
each input's shape (:func:`gradgraph.gate.unbroadcast`).
"""
from __future__ import annotations

import numpy as np

from ..gate import Gate, broadcast_shape, unbroadcast


class _Binary(Gate):
    """Shared bookkeeping for gates with two broadcasting inputs."""

    def _keep(self, x, y):
        broadcast_shape(self.name, np.shape(x), np.shape(y))
        self.x, self.y = x, y

    def _reduce(self, d_x, d_y):
        return unbroadcast(d_x, np.shape(self.x), self.name), unbroadcast(d_y, np.shape(self.y), self.name)


class Add(_Binary):
    """z = x + y;   dz/dx = 1,  dz/dy = 1   (the add gate distributes d_out)"""

    symbol, short, formula, local = "+", "add", "z = x + y", ("dz/dx = 1", "dz/dy = 1")

    def forward(self, x, y):
        self._keep(x, y)
        return x + y

    def backward(self, d_out):
        return self._reduce(d_out, d_out)


class Subtract(_Binary):
    """z = x - y;   dz/dx = 1,  dz/dy = -1"""

    symbol, short, formula, local = "-", "sub", "z = x - y", ("dz/dx = 1", "dz/dy = -1")

    def forward(self, x, y):
        self._keep(x, y)
        return x - y

    def backward(self, d_out):
        return self._reduce(d_out, -d_out)


class Multiply(_Binary):
    """z = x * y;   dz/dx = y,  dz/dy = x   (the mul gate switches its inputs)"""

    symbol, short, formula, local = "*", "mul", "z = x * y", ("dz/dx = y", "dz/dy = x")

    def forward(self, x, y):
        self._keep(x, y)
        return x * y

    def backward(self, d_out):
        return self._reduce(d_out * self.y, d_out * self.x)


class Divide(_Binary):
    """z = x / y;   dz/dx = 1/y,  dz/dy = -x/y^2"""

    symbol, short, formula, local = "/", "div", "z = x / y", ("dz/dx = 1/y", "dz/dy = -x/y^2")

    def forward(self, x, y):
        self._keep(x, y)
        return x / y

    def backward(self, d_out):
        return self._reduce(d_out / self.y, -d_out * self.x / (self.y * self.y))


class Maximum(_Binary):
    """z = max(x, y);   dz/dx = [x >= y],  dz/dy = [y > x]   (the max gate routes d_out)

    Ties go to ``x``, so the gradient is never counted twice.
    """

    symbol, short, formula, local = "max", "maximum", "z = max(x, y)", ("dz/dx = [x >= y]", "dz/dy = [y > x]")

    def forward(self, x, y):
        self._keep(x, y)
        self.x_wins = x >= y
        return np.maximum(x, y)

    def backward(self, d_out):
        return self._reduce(d_out * self.x_wins, d_out * ~self.x_wins)


class Power(Gate):
    """z = x^p (p a constant);   dz/dx = p x^(p-1)"""

    symbol, short, local = "^", "pow", ("dz/dx = p x^(p-1)",)

    def __init__(self, exponent: float):
        self.p = float(exponent)
        self.formula = f"z = x^{self.p:g}"

    def forward(self, x):
        self.x = x
        return x ** self.p

    def backward(self, d_out):
        return (d_out * self.p * self.x ** (self.p - 1),)


class Pow(_Binary):
    """z = x^y (both inputs tensors);   dz/dx = y x^(y-1),  dz/dy = x^y ln x

    ``2.0 ** t`` and ``t ** u`` use this gate. Values agree with numpy,
    including 0^0 = 1 and a negative base with an integer exponent,
    (-2)^-2 = 0.25. Where a formula meets 0 · ∞ the limit is used, as torch
    does: dz/dx = 0 where y = 0, and dz/dy = 0 where x = 0 and y >= 0. For a
    negative base z is defined only at integer y, so dz/dy is NaN there.
    """

    symbol, short, formula, local = "^", "pow", "z = x^y", ("dz/dx = y x^(y-1)", "dz/dy = x^y ln x")

    def forward(self, x, y):
        self._keep(x, y)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            self.z = np.power(x, y)
        return self.z

    def backward(self, d_out):
        x, y, z = self.x, self.y, self.z
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # np.where, not a mask product: 0 * inf would still be NaN.
            d_x = np.where(y == 0, 0.0, y * np.power(x, y - 1))
            d_y = np.where((x == 0) & (y >= 0), 0.0, z * np.log(x))
        return self._reduce(d_out * d_x, d_out * d_y)


class Negate(Gate):
    """z = -x;   dz/dx = -1"""

    symbol, short, formula, local = "neg", "neg", "z = -x", ("dz/dx = -1",)

    def forward(self, x):
        return -x

    def backward(self, d_out):
        return (-d_out,)


class Exp(Gate):
    """z = e^x;   dz/dx = e^x = z"""

    symbol, short, formula, local = "exp", "exp", "z = e^x", ("dz/dx = e^x",)

    def forward(self, x):
        self.z = np.exp(x)
        return self.z

    def backward(self, d_out):
        return (d_out * self.z,)


class Log(Gate):
    """z = ln x;   dz/dx = 1/x   (NaN where x < 0: a NaN value has a NaN gradient)"""

    symbol, short, formula, local = "log", "log", "z = ln x", ("dz/dx = 1/x",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, d_out):
        d_x = d_out / self.x
        if np.any(self.x < 0):  # ln x is NaN there, and so is its gradient (1/x alone would look finite)
            d_x = np.where(self.x < 0, d_x.dtype.type(np.nan), d_x)
        return (d_x,)


class Sqrt(Gate):
    """z = √x;   dz/dx = 1 / (2√x) = 1 / (2z)   (NaN where x < 0)"""

    symbol, short, formula, local = "√", "sqrt", "z = √x", ("dz/dx = 1 / (2√x)",)

    def forward(self, x):
        self.z = np.sqrt(x)
        return self.z

    def backward(self, d_out):
        with np.errstate(divide="ignore"):
            return (d_out / (2 * self.z),)  # √ of a negative is NaN, and so is 1 / (2 NaN)


class Abs(Gate):
    """z = |x|;   dz/dx = sign(x)   (0 at the kink x = 0)"""

    symbol, short, formula, local = "abs", "abs", "z = |x|", ("dz/dx = sign(x)",)

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, d_out):
        return (d_out * self.sign,)


class ReLU(Gate):
    """z = max(0, x);   dz/dx = [x > 0]"""

    symbol, short, formula, local = "relu", "relu", "z = max(0, x)", ("dz/dx = [x > 0]",)

    def forward(self, x):
        self.active = x > 0
        return np.maximum(x, 0)  # not np.where: that is ten times slower on mixed signs

    def backward(self, d_out):
        return (d_out * self.active,)


class Clamp(Gate):
    """z = min(max(x, lo), hi);   dz/dx = [lo <= x <= hi]   (the gradient passes where x was kept)

    ``lo`` or ``hi`` may be None (no bound on that side). At a bound the
    gradient passes, as in torch.
    """

    symbol, short, local = "clamp", "clamp", ("dz/dx = [lo <= x <= hi]",)

    def __init__(self, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("Clamp: give lo, hi or both")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"Clamp: lo ({lo}) must not be larger than hi ({hi})")
        self.lo, self.hi = lo, hi
        low = "-inf" if lo is None else f"{lo:g}"
        high = "inf" if hi is None else f"{hi:g}"
        self.formula = f"z = min(max(x, {low}), {high})"

    def forward(self, x):
        self.kept = np.ones(x.shape, dtype=bool)
        z = x
        if self.lo is not None:
            self.kept &= x >= self.lo
            z = np.maximum(z, x.dtype.type(self.lo))
        if self.hi is not None:
            self.kept &= x <= self.hi
            z = np.minimum(z, x.dtype.type(self.hi))
        return np.array(z)

    def backward(self, d_out):
        return (d_out * self.kept,)


class LeakyReLU(Gate):
    """z = x if x > 0 else alpha x;   dz/dx = 1 if x > 0 else alpha"""

    symbol, short, local = "lrelu", "leaky_relu", ("dz/dx = 1 if x > 0 else alpha",)

    def __init__(self, alpha: float = 0.01):
        self.alpha = float(alpha)
        self.formula = f"z = x if x > 0 else {self.alpha:g} x"

    def forward(self, x):
        alpha = x.dtype.type(self.alpha)
        self.slope = alpha + (1 - alpha) * (x > 0)  # 1 where x > 0, else alpha
        return x * self.slope

    def backward(self, d_out):
        return (d_out * self.slope,)


class Sigmoid(Gate):
    """z = 1 / (1 + e^-x);   dz/dx = (1 - z) z   (the sigmoid σ(x), with dσ/dx = (1 - σ) σ)

    Computed without overflow: for x < 0 as e^x / (1 + e^x).
    """

    symbol, short, formula, local = "σ", "sigmoid", "z = 1 / (1 + e^-x)", ("dz/dx = (1 - z) z",)

    def forward(self, x):
        e = np.exp(-np.abs(x))  # e^-|x| never overflows
        # x >= 0: 1 / (1 + e^-x);  x < 0: e^x / (1 + e^x).  Blended with the mask
        # (arithmetic, not np.where, which is far slower on mixed signs).
        self.z = (e + (x >= 0) * (1 - e)) / (1 + e)
        return self.z

    def backward(self, d_out):
        return (d_out * (1 - self.z) * self.z,)


class Tanh(Gate):
    """z = tanh x;   dz/dx = 1 - z^2"""

    symbol, short, formula, local = "tanh", "tanh", "z = tanh x", ("dz/dx = 1 - z^2",)

    def forward(self, x):
        self.z = np.tanh(x)
        return self.z

    def backward(self, d_out):
        return (d_out * (1 - self.z * self.z),)
