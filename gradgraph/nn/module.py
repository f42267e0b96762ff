"""Module and Parameter: the PyTorch-like way to hold layers and their weights.

A :class:`Module` owns :class:`Parameter` tensors and child modules, assigned
as attributes in ``__init__``; ``forward`` says how they are combined::

    class TwoLayer(gg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = gg.nn.Linear(2, 16)
            self.relu = gg.nn.ReLU()
            self.fc2 = gg.nn.Linear(16, 3)

        def forward(self, x):
            return self.fc2(self.relu(self.fc1(x)))

Calling a child module runs its ``forward`` inside ``gg.scope(<attribute
name>)``, so the graph view can collapse all the gates of ``fc1`` into one box.
Parameters are named after their path (``"fc1.weight"``) and grouped with
their layer.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..tensor import Tensor, current_scope, scope


class Parameter(Tensor):
    """A learnable Tensor: a leaf that requires a gradient, of kind ``"parameter"``.

    Its ``name`` becomes its path in the model (``"conv1.weight"``) once the
    layer holding it is assigned to a parent module.
    """

    def __init__(self, data, name: str | None = None, dtype=None):
        super().__init__(data, name=name, requires_grad=True, dtype=dtype)
        self.is_parameter = True

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype}, name={self.name!r})"


class StateDictError(ValueError):
    """A state dict does not fit the model: missing or unexpected keys, or shapes that differ."""


class _HookHandle:
    """Returned by ``register_forward_hook``; ``remove()`` unregisters the hook."""

    _next = 0

    def __init__(self, hooks: dict, fn):
        _HookHandle._next += 1
        self.key, self.hooks = _HookHandle._next, hooks
        hooks[self.key] = fn

    def remove(self) -> None:
        self.hooks.pop(self.key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _scope_label(name: str, module: "Module") -> str:
    """The group name of a child: its attribute name; ``linear0`` for Sequential's ``0``."""
    return f"{type(module).__name__.lower()}{name}" if name.isdigit() else name


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign parameters and child
    modules as attributes, and implement ``forward``. Call the module itself
    (``model(x)``), not ``forward``: the call adds the scope and runs hooks.

    ``training`` is True after construction; ``eval()`` switches layers such
    as Dropout to their inference behaviour, ``train()`` back.
    """

    def __init__(self):
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_scope"] = None
        d["training"] = True

    # -- registration ------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"{type(self).__name__}.__init__ must call super().__init__() before assigning attributes"
            )
        modules = self.__dict__["_modules"]
        params.pop(name, None)
        modules.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
            value.name = name
        elif isinstance(value, Module):
            modules[name] = value
            value.__dict__["_scope"] = _scope_label(name, value)
            _adopt(name, value)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` as the child ``name`` (same as ``setattr``)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        setattr(self, name, module)

    # -- calling -----------------------------------------------------------------
    def forward(self, *inputs):
        raise TypeError(f"{type(self).__name__} has no forward(): define forward(self, ...) in your Module subclass")

    def __call__(self, *inputs, **kwargs):
        label = self.__dict__.get("_scope")
        if label:
            with scope(label):
                out = self.forward(*inputs, **kwargs)
                _name_output(out, current_scope())
        else:
            out = self.forward(*inputs, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, inputs, out)
            if result is not None:
                out = result
        return out

    def register_forward_hook(self, fn) -> _HookHandle:
        """Call ``fn(module, inputs, output)`` after every forward of this module.

        A hook returning something other than None replaces the output.
        Returns a handle; ``handle.remove()`` (or ``with`` the handle) unregisters it.
        """
        return _HookHandle(self._forward_hooks, fn)

    # -- traversal ---------------------------------------------------------------
    def named_children(self):
        """(name, module) of the direct children, in the order they were assigned."""
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix: str = ""):
        """(dotted path, module) of this module (path ``""``) and every descendant, depth first."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix: str = ""):
        """(dotted path, Parameter) of every parameter, e.g. ``("conv1.weight", p)``."""
        seen = set()
        for path, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{path}.{name}" if path else name), p

    def parameters(self) -> list:
        """Every Parameter, each once, in a fixed order (what an optimizer takes)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the model learns."""
        return int(sum(p.size for p in self.parameters()))

    def zero_grad(self) -> None:
        """Forget the gradients of all parameters (before the next backward)."""
        for p in self.parameters():
            p.grad = None

    # -- modes -------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (Dropout active); ``train(False)`` is ``eval()``. Returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> "Module":
        """Inference mode (Dropout passes inputs through). Returns self."""
        return self.train(False)

    # -- dtype -------------------------------------------------------------------
    @property
    def dtype(self):
        """The dtype of the parameters (float32 unless converted); float32 for a module without any."""
        for p in self.parameters():
            return p.dtype
        return np.dtype(np.float32)

    def to(self, dtype) -> "Module":
        """Convert every parameter to ``dtype`` (np.float32 or np.float64). Returns self."""
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"to(): parameters must be float32 or float64, not {dtype}")
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # -- state -------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """A copy of every parameter's values, keyed by its path (``"conv1.weight"``)."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy values from ``state`` (name -> array) into the parameters.

        Raises :class:`StateDictError` listing missing keys, unexpected keys
        (ignored when ``strict=False``) and shape mismatches; nothing is
        changed unless everything fits. Values are cast to the parameters' dtype.
        """
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [
            (k, tuple(np.shape(state[k])), own[k].shape)
            for k in own if k in state and tuple(np.shape(state[k])) != own[k].shape
        ]
        problems = []
        if missing and strict:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected and strict:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        for key, got, want in mismatched:
            problems.append(f"{key}: the state has shape {got}, the model's parameter has shape {want}")
        if problems:
            raise StateDictError(
                f"load_state_dict: the state does not fit {type(self).__name__}:\n  " + "\n  ".join(problems)
            )
        for key, p in own.items():
            if key in state:
                p.data = np.array(state[key], dtype=p.dtype, copy=True)
                p.grad = None

    # -- PyTorch ----------------------------------------------------------------------
    def to_torch(self):
        """The equivalent ``torch.nn.Module`` with the same weights, in the same mode and dtype.

        Train here, continue in PyTorch: ``model.to_torch()(torch.tensor(x))``
        matches ``model(x)``. Converts the built-in layers, ``Sequential`` and
        ``LeNet5`` (Linear's weight is transposed: PyTorch stores it as
        (out_features, in_features)). Needs PyTorch installed.
        """
        try:
            import torch
        except ImportError:
            raise ImportError(
                "to_torch() needs PyTorch, which gradgraph does not install: `pip install torch` "
                "(the README shows the smaller CPU-only install)"
            ) from None
        dtype = torch.float64 if self.dtype == np.float64 else torch.float32
        return self._torch_module(torch).to(dtype).train(self.training)

    def _torch_module(self, torch):
        """This module as a ``torch.nn.Module`` (layers override it; containers whose
        ``forward`` runs the children in order become a ``torch.nn.Sequential``)."""
        raise NotImplementedError(
            f"{type(self).__name__}.to_torch(): no PyTorch equivalent is known for this module; "
            f"define _torch_module(self, torch) returning one (to_torch converts the built-in layers, "
            f"Sequential and LeNet5)"
        )

    def _torch_sequential(self, torch):
        """The children, in order, as a ``torch.nn.Sequential`` with the same names."""
        return torch.nn.Sequential(OrderedDict(
            (name, child._torch_module(torch)) for name, child in self._modules.items()
        ))

    # -- printing ------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + "\n)"

    def summary(self) -> str:
        """A table of the leaf layers with their parameter counts and the total."""
        rows = []
        for name, m in self.named_modules():
            if name and not m._modules:
                count = sum(p.size for p in m._parameters.values())
                rows.append((name, repr(m), count))
        width = max([len(r[0]) for r in rows] + [5])
        lines = [f"{'layer':<{width}}  {'parameters':>10}  module"]
        lines += [f"{n:<{width}}  {c:>10,}  {r}" for n, r, c in rows]
        lines.append(f"{'total':<{width}}  {self.num_parameters():>10,}")
        return "\n".join(lines)


def _name_output(out, group: str) -> None:
    """Name a layer's result after its group (``conv1``, ``net/fc2``), so the graph's
    node, the collapsed layer box, the ledger and the flags all say the same name.

    Only a result made inside this call is named: a layer that returns its input
    unchanged (Dropout in eval mode) leaves the input's name alone. The gates
    inside the layer are named ``conv1.conv2d``, ``fc2.matmul`` by the Graph.
    """
    if isinstance(out, Tensor) and out.name is None and out.gate is not None and out.group == group:
        out.name = group


def _adopt(name: str, child: Module) -> None:
    """Rename the parameters under ``child`` to their path from the new parent
    (``conv1.weight``) and put them into their layer's group (``conv1``)."""
    label = child.__dict__["_scope"]

    def walk(module, names, labels):
        for pname, p in module._parameters.items():
            p.name = ".".join([*names, pname])
            p.group = "/".join(labels)
        for cname, sub in module._modules.items():
            walk(sub, names + [cname], labels + [sub.__dict__["_scope"] or cname])

    walk(child, [name], [label])
