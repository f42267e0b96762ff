"""Tensor: a value in the computational graph, and the autograd loop.

A Tensor holds a numpy array (``.data``), the gate that produced it
(``.gate``, ``None`` for a leaf) and that gate's inputs (``.parents``).

:func:`backprop` is the chain rule, and the only copy of it in gradgraph: it
walks the graph from the output back to the leaves in reverse topological
order, asking each gate for its input gradients and adding up the
contributions of every child (a value used twice gets the sum). It is a
generator, yielding one node at a time: ``Tensor.backward()`` runs it to the
end, the graph model (:mod:`gradgraph.graph`) steps through it gate by gate.

The walks are iterative, so a chain of 100,000 gates back-propagates without
Python's recursion limit getting in the way.
"""
from __future__ import annotations

import contextlib
import threading
from typing import NamedTuple

import numpy as np

_state = threading.local()


def _grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Run operations without recording the graph (inference, optimizer steps)."""
    previous = _grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


def _scopes() -> list:
    if not hasattr(_state, "scopes"):
        _state.scopes = []
    return _state.scopes


@contextlib.contextmanager
def scope(name: str):
    """Group the nodes created inside the block under ``name``.

    Scopes nest: inside ``scope("lenet")`` and ``scope("conv1")`` nodes belong
    to the group ``"lenet/conv1"``. Graph views collapse a group into one box.
    """
    stack = _scopes()
    stack.append(str(name))
    try:
        yield
    finally:
        stack.pop()


def current_scope() -> str | None:
    stack = _scopes()
    return "/".join(stack) if stack else None


def _as_float_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    array = np.array(data, dtype=dtype, copy=True) if dtype is not None else np.array(data, copy=True)
    if array.dtype == object:
        raise TypeError(f"Tensor data must be numeric, got {type(data).__name__}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    return array


class _Operations:
    """Tensor's operators and methods, kept apart from what a Tensor *is* (below):
    each one records a gate from :mod:`gradgraph.ops` (or composes a few)."""

    # -- operators -----------------------------------------------------------------
    def __add__(self, other):
        return ops.Add()(self, other)

    def __radd__(self, other):
        return ops.Add()(other, self)

    def __sub__(self, other):
        return ops.Subtract()(self, other)

    def __rsub__(self, other):
        return ops.Subtract()(other, self)

    def __mul__(self, other):
        return ops.Multiply()(self, other)

    def __rmul__(self, other):
        return ops.Multiply()(other, self)

    def __truediv__(self, other):
        return ops.Divide()(self, other)

    def __rtruediv__(self, other):
        return ops.Divide()(other, self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):
            return ops.Pow()(self, exponent)
        return ops.Power(exponent)(self)

    def __rpow__(self, base):
        return ops.Pow()(base, self)

    def __neg__(self):
        return ops.Negate()(self)

    def __matmul__(self, other):
        return ops.MatMul()(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul()(other, self)

    def __getitem__(self, index):
        return ops.Index(index)(self)

    # -- comparisons: elementwise, like torch; the result is a bool mask without a gradient --
    def _compare(self, other, compare):
        if not isinstance(other, (Tensor, np.ndarray, np.generic, int, float, list, tuple)):
            return NotImplemented  # t == None, t == "x": not equal, by identity
        other = other.data if isinstance(other, Tensor) else np.asarray(other)
        return Tensor._constant(compare(self.data, other))

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    #: Tensors are dict keys and set members by identity, as in torch; ``==`` compares values.
    __hash__ = object.__hash__

    # -- methods -----------------------------------------------------------------
    def exp(self):
        return ops.Exp()(self)

    def sqrt(self):
        return ops.Sqrt()(self)

    def clamp(self, lo=None, hi=None):
        """Values below ``lo`` become ``lo``, above ``hi`` become ``hi`` (either may be None)."""
        return ops.Clamp(lo, hi)(self)

    def log(self):
        return ops.Log()(self)

    def abs(self):
        return ops.Abs()(self)

    def relu(self):
        return ops.ReLU()(self)

    def leaky_relu(self, alpha: float = 0.01):
        return ops.LeakyReLU(alpha)(self)

    def sigmoid(self):
        return ops.Sigmoid()(self)

    def tanh(self):
        return ops.Tanh()(self)

    def sum(self, axis=None, keepdims: bool = False):
        return ops.Sum(axis, keepdims)(self)

    def mean(self, axis=None, keepdims: bool = False):
        return ops.Mean(axis, keepdims)(self)

    def max(self, axis=None, keepdims: bool = False):
        return ops.Max(axis, keepdims)(self)

    def min(self, axis=None, keepdims: bool = False):
        return ops.Min(axis, keepdims)(self)

    def var(self, axis=None, keepdims: bool = False):
        """Population variance, mean((x - mean x)²), as torch's ``var(unbiased=False)``."""
        deviation = self - self.mean(axis, keepdims=True)
        return (deviation ** 2).mean(axis, keepdims=keepdims)

    def std(self, axis=None, keepdims: bool = False):
        """Population standard deviation, √var (see :meth:`var`)."""
        return self.var(axis, keepdims).sqrt()

    def logsumexp(self, axis=None, keepdims: bool = False):
        """log Σ e^x over ``axis``, computed without overflow."""
        return ops.LogSumExp(axis, keepdims)(self)

    def argmax(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Indices of the largest values (int64, no gradient); over all elements when ``axis`` is None."""
        if axis is None:
            return Tensor._constant(np.argmax(self.data))
        axes = ops.normalize_axes(axis, self.shape, "argmax")
        if len(axes) > 1:
            raise ValueError(f"argmax: one axis at a time, got {axis}")
        return Tensor._constant(np.argmax(self.data, axis=axes[0] if axes else None, keepdims=keepdims))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape(shape)(self)

    def flatten(self, start_dim: int = 1):
        return self.reshape(self.shape[:start_dim] + (-1,))

    def squeeze(self, axis=None):
        """Drop axes of size 1 (all of them, or those in ``axis``; others named there stay, as in torch)."""
        axes = ops.normalize_axes(axis, self.shape, "squeeze")
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1)))

    def unsqueeze(self, axis: int):
        """Insert an axis of size 1 at position ``axis`` (in [-ndim-1, ndim])."""
        if not -self.ndim - 1 <= axis <= self.ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for shape {self.shape} "
                             f"(valid: {-self.ndim - 1}..{self.ndim})")
        axis = axis % (self.ndim + 1)
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    def permute(self, *axes):
        """The axes in a new order: ``x.permute(2, 0, 1)`` (or a tuple or list)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return ops.Transpose(axes)(self)

    def transpose(self, dim0=None, dim1=None):
        """Swap two axes, as in torch: ``x.transpose(0, 1)``. ``.T`` reverses all axes, ``permute`` reorders them."""
        if dim0 is None or dim1 is None or isinstance(dim0, (tuple, list)):
            raise TypeError("transpose(dim0, dim1) swaps two axes, as in torch; "
                            "use permute(...) for a full reordering or .T to reverse all axes")
        a, b = (ops.normalize_axes(d, self.shape, "transpose") or (0,) for d in (dim0, dim1))
        perm = list(range(self.ndim))
        if perm:
            perm[a[0]], perm[b[0]] = perm[b[0]], perm[a[0]]
        return ops.Transpose(perm)(self)

    @property
    def T(self):
        return ops.Transpose()(self)

    def softmax(self, axis: int = -1):
        return ops.Softmax(axis)(self)

    def log_softmax(self, axis: int = -1):
        return ops.LogSoftmax(axis)(self)


class Tensor(_Operations):
    """A node of the computational graph.

    ``Tensor(data, name=None)``: a scalar (0-d) or an n-d array, float64 unless
    the data is already a floating numpy array (float32 stays float32).

    Gradients of leaves *accumulate* across ``backward()`` calls, as in
    PyTorch. Reset them between steps with ``t.zero_grad()`` (or
    ``t.grad = None``; an optimizer's ``zero_grad()`` does it for its
    parameters).
    """

    __array_priority__ = 100  # numpy scalars on the left defer to Tensor ops

    def __init__(self, data, name: str | None = None, requires_grad: bool = True, dtype=None):
        self.data: np.ndarray = _as_float_array(data, dtype)
        self.grad: np.ndarray | None = None
        self.name = name
        self.requires_grad = bool(requires_grad)
        self.gate = None
        self.parents: tuple = ()
        self.group = current_scope()
        self.is_parameter = False

    # -- construction from a gate -------------------------------------------
    @classmethod
    def _from_gate(cls, data, gate, parents) -> "Tensor":
        out = cls.__new__(cls)
        out.data = np.asarray(data)
        out.grad = None
        out.name = None
        out.group = current_scope()
        out.is_parameter = False
        out.requires_grad = _grad_enabled() and any(p.requires_grad for p in parents)
        out.gate = gate if out.requires_grad else None
        out.parents = tuple(parents) if out.requires_grad else ()
        if out.requires_grad:  # decided now, once: which inputs want a gradient
            gate.needs_grad = tuple(p.requires_grad for p in parents)
        return out

    @classmethod
    def _constant(cls, data) -> "Tensor":
        """A leaf that records no gradient and keeps ``data``'s dtype (bool masks, int64 indices)."""
        out = cls.__new__(cls)
        out.data, out.grad, out.name = np.asarray(data), None, None
        out.group, out.is_parameter, out.requires_grad = current_scope(), False, False
        out.gate, out.parents = None, ()
        return out

    # -- array-like properties ------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def kind(self) -> str:
        """``input``, ``parameter``, ``constant`` (a leaf needing no gradient) or ``intermediate``."""
        if self.gate is not None:
            return "intermediate"
        if self.is_parameter:
            return "parameter"
        return "input" if self.requires_grad else "constant"

    @property
    def is_leaf(self) -> bool:
        return self.gate is None

    def item(self) -> float:
        if self.data.size != 1:
            raise ValueError(f"item() needs a single value, this tensor has shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        return self.data

    def detach(self) -> "Tensor":
        """A new leaf sharing no history (and no gradient) with this one."""
        return Tensor(self.data, name=self.name, requires_grad=False)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                f"reduce it first, e.g. bool((a == b).data.all())"
            )
        return bool(self.data.item())

    def __repr__(self) -> str:
        label = f", name={self.name!r}" if self.name else ""
        gate = f", gate={self.gate.name}" if self.gate is not None else ""
        if self.data.ndim == 0:
            body = f"{self.data.item():.6g}"
        else:
            body = f"shape={self.shape}, dtype={self.dtype}"
        return f"Tensor({body}{label}{gate})"

    # -- the autograd loop -------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Back-propagate from this tensor to every leaf that requires a gradient.

        A scalar output is seeded with dL/dL = 1. A non-scalar output needs
        ``grad``, the upstream gradient of the same shape. This drains
        :func:`backprop`: leaves add the new gradient to ``.grad``,
        intermediates keep the gradient of the latest pass.
        """
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without a gradient needs a scalar output; this tensor has "
                    f"shape {self.shape}. Pass grad= (an array of that shape) or reduce it first, "
                    f"e.g. out.sum().backward()"
                )
            grad = np.ones_like(self.data)
        grad = np.asarray(grad, dtype=self.data.dtype)
        if grad.shape != self.shape:
            raise ValueError(f"backward(): grad has shape {grad.shape}, the output has shape {self.shape}")

        for node, d_out, _ in backprop(self, grad):
            if node.gate is not None:
                node.grad = d_out
            elif node.requires_grad:
                node.grad = d_out.copy() if node.grad is None else node.grad + d_out


class BackwardStep(NamedTuple):
    """What :func:`backprop` yields for one node: its complete gradient ``d_out``
    (dL/d node, summed over every use of the node) and, for a gate, ``d_inputs``,
    what the gate sends back to each input (``()`` for a leaf)."""

    node: "Tensor"
    d_out: np.ndarray
    d_inputs: tuple


def backprop(output: Tensor, d_output, order=None, grads=None):
    """The chain rule, one node at a time: a generator of :class:`BackwardStep`.

    1. Seed the output with ``d_output`` (dL/dL = 1 for a scalar loss).
    2. Visit the nodes from the output back to the inputs (reverse
       topological order). When the walk reaches a node, every node that uses
       it has already sent its gradient back, so the sum waiting there is the
       node's complete gradient, ``d_out``.
    3. A gate turns ``d_out`` into one gradient per input (upstream gradient
       times local gradient: ``gate.backward(d_out)``); each is added to what
       that input has received so far. A value used twice gets the sum.

    Each node that receives a gradient is yielded once, after its gate has
    sent its gradients back. ``order`` is a topological order of the nodes
    (default: :func:`topological_order`); ``grads`` a dict to collect the
    gradients in, ``{id(node): dL/d node}`` (they are complete from the
    moment every user of the node has been yielded). A node is a Tensor, or
    anything with its ``data``, ``gate``, ``parents`` and ``requires_grad``.

    ``Tensor.backward`` drains this generator; the graph model's Stepper
    takes one step from it at a time.
    """
    grads = {} if grads is None else grads       # id(node) -> dL/d node, summed over its uses
    grads[id(output)] = d_output                 # the seed: dL/dL
    for node in reversed(topological_order(output) if order is None else order):
        d_out = grads.get(id(node))              # complete: every user of the node came before it
        if d_out is None:                        # no gradient reaches this node
            continue
        if node.gate is None:                    # a leaf: nothing further back
            yield BackwardStep(node, d_out, ())
            continue
        d_inputs = _gate_backward(node, d_out)   # upstream x local, one per input
        for parent, d_parent in zip(node.parents, d_inputs):
            if d_parent is not None:             # add up: a value used twice gets the sum
                key = id(parent)
                grads[key] = d_parent if key not in grads else grads[key] + d_parent
        yield BackwardStep(node, d_out, d_inputs)


def _gate_backward(node: Tensor, d_out) -> tuple:
    """``node.gate.backward(d_out)``, checked: one gradient per input, each of that input's
    shape and dtype; ``None`` for an input that needs no gradient."""
    gate = node.gate
    grads = gate.backward(d_out)
    if not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if len(grads) != len(node.parents):
        raise ValueError(
            f"{gate.name}.backward returned {len(grads)} gradient(s) for {len(node.parents)} input(s)"
        )
    checked = []
    for i, (parent, g) in enumerate(zip(node.parents, grads)):
        if g is not None and parent.requires_grad:
            g = np.asarray(g, dtype=parent.data.dtype)
            if g.shape != parent.data.shape:
                raise ValueError(
                    f"{gate.name}.backward returned a gradient of shape {g.shape} for input {i}, "
                    f"which has shape {parent.data.shape}"
                )
        else:
            g = None
        checked.append(g)
    return tuple(checked)


def topological_order(root: Tensor) -> list:
    """All nodes that ``root`` depends on, inputs first, ``root`` last.

    An iterative depth-first search (an explicit stack instead of recursion).
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parents):
            if id(parent) not in visited:
                stack.append((parent, False))
    return order


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` as a Tensor; plain numbers become constants (no gradient).

    A Python number or an integer array combined with a float32 tensor
    becomes float32, so that ``x * 2`` keeps the dtype of ``x``.
    """
    if isinstance(value, Tensor):
        return value
    takes_dtype = like is not None and not np.issubdtype(np.asarray(value).dtype, np.floating)
    takes_dtype = takes_dtype or (like is not None and isinstance(value, float))
    return Tensor(value, requires_grad=False, dtype=like.dtype if takes_dtype else None)


def cat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis: shapes (2, 3) and (4, 3) along 0 give (6, 3)."""
    tensors = list(tensors)
    return ops.Concatenate(axis)(*tensors)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis: three (2, 3) along 0 give (3, 2, 3).

    Composed: each tensor gets a new axis of size 1 (``unsqueeze``), then ``cat``.
    """
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    shapes = {t.shape for t in tensors}
    if len(shapes) > 1:
        raise ValueError(f"stack: tensors must have one shape, got {', '.join(str(s) for s in shapes)}")
    return cat([t.unsqueeze(axis) for t in tensors], axis)


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b): the max gate routes the gradient to the larger input."""
    return ops.Maximum()(a, b)


from . import ops  # noqa: E402  (ops need Tensor defined first)
