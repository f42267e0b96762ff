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
    """z = x / y;   dz/dx = 1/y,  dz/dy = -x/y²"""

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
    """z = ln x;   dz/dx = 1/x"""

    symbol, short, formula, local = "log", "log", "z = ln x", ("dz/dx = 1/x",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, d_out):
        return (d_out / self.x,)


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


class LeakyReLU(Gate):
    """z = x if x > 0 else αx;   dz/dx = 1 if x > 0 else α"""

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
    """σ(x) = 1 / (1 + e^-x);   dσ/dx = (1 - σ) σ

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
    """z = tanh x;   dz/dx = 1 - z²"""

    symbol, short, formula, local = "tanh", "tanh", "z = tanh x", ("dz/dx = 1 - z^2",)

    def forward(self, x):
        self.z = np.tanh(x)
        return self.z

    def backward(self, d_out):
        return (d_out * (1 - self.z * self.z),)
