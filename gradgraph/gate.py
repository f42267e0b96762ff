"""Gates: the unit of computation.

A gate is the lecture's ``MultiplyGate``: ``forward`` computes the output from
its inputs and keeps on ``self`` whatever the backward pass will need;
``backward`` receives the upstream gradient ``d_out`` (dL/d_output) and returns
one gradient per input, dL/d_input = d_out * d_output/d_input.

    class Multiply(Gate):
        '''z = x * y;   dz/dx = y,  dz/dy = x'''
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y
        def backward(self, d_out):
            return d_out * self.y, d_out * self.x

Calling a gate on Tensors (or numbers) runs ``forward`` on their arrays and
records a node in the computational graph: ``out = Multiply()(a, b)``.

Gates only *return* gradients. Adding up the contributions of several
children is the job of the autograd loop in :mod:`gradgraph.tensor`.
"""
from __future__ import annotations

import abc
import copy

import numpy as np


class Gate(abc.ABC):
    """Base class of every operation in the graph.

    Subclasses implement ``forward(self, *arrays) -> array`` and
    ``backward(self, d_out) -> tuple`` (a subclass missing either cannot be
    instantiated) (one gradient per input, each of that
    input's shape, or ``None`` for an input that needs none).

    Class attributes used by the views:

    ``symbol``   short label drawn on the node (``"*"``, ``"exp"``).
    ``formula``  the forward formula, e.g. ``"z = x * y"``.
    ``local``    the local derivatives, e.g. ``("dz/dx = y", "dz/dy = x")``.
    """

    symbol: str = ""
    formula: str = ""
    local: tuple = ()

    #: Set when the node is recorded: for each input, whether its gradient is
    #: wanted. Expensive gates may return ``None`` from backward where False.
    needs_grad: tuple = ()
    _recorded = False  # has this gate object produced a node already?

    @property
    def name(self) -> str:
        """The gate's class name, e.g. ``"Multiply"``."""
        return type(self).__name__

    @property
    def short_name(self) -> str:
        """Lower-case stem used for automatic node names (``mul_2``)."""
        return getattr(type(self), "short", None) or self.name.lower()

    @abc.abstractmethod
    def forward(self, *inputs):
        """Compute the output array from the input arrays; keep what backward needs on ``self``."""

    @abc.abstractmethod
    def backward(self, d_out):
        """Return one gradient per input: ``d_out`` times the local derivative."""

    def __call__(self, *inputs):
        from .tensor import Tensor, as_tensor

        like = next((t for t in inputs if isinstance(t, Tensor)), None)
        tensors = tuple(as_tensor(t, like=like) for t in inputs)
        # each node keeps its own gate state: a gate object called again records a copy
        gate = copy.copy(self) if self._recorded else self
        self._recorded = True
        out = gate.forward(*(t.data for t in tensors))
        return Tensor._from_gate(out, gate, tensors)

    def __repr__(self) -> str:
        return f"{self.name}()"


def unbroadcast(grad: np.ndarray, shape: tuple, gate: str = "") -> np.ndarray:
    """Sum ``grad`` down to ``shape``: the backward of numpy broadcasting.

    A value that was broadcast (copied) to many positions in the forward pass
    receives the sum of the gradients of all its copies.
    """
    grad = np.asarray(grad)
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise ValueError(f"{gate}: gradient of shape {grad.shape} cannot be reduced to {tuple(shape)}")
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def broadcast_shape(gate: str, *shapes) -> tuple:
    """The broadcast shape of the inputs, or a ValueError naming the gate and shapes."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{gate}: shapes {shown} cannot be broadcast together") from None
