"""Layers: modules built from the engine's gates.

Weighted layers create float32 parameters unless given ``dtype=np.float64``
(float32 trains twice as fast; float64 is what gradcheck needs), initialised
with ``init="kaiming"`` (ReLU networks) or ``"xavier"`` (tanh, sigmoid), and
drawn from ``rng`` (a seed or Generator; default: ``gg.nn.manual_seed``'s).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import ops
from ..gate import Gate
from ..kernels.shapes import pair
from ..ops.conv import avg_pool2d, conv2d, max_pool2d
from ..tensor import Tensor
from .init import get_rng, initializer
from .module import Module, Parameter


def _arguments(*positional, **keywords) -> str:
    """``extra_repr`` text: the positional values, then each keyword given as ``(value, default)``
    when its value differs from the default."""
    parts = [str(v) for v in positional]
    parts += [f"{k}={v!r}" for k, (v, default) in keywords.items() if v != default]
    return ", ".join(parts)


def _dtype_name(dtype) -> str:
    return np.dtype(dtype).name


def _copy_weights(torch, layer, pairs) -> None:
    """Copy numpy arrays into a torch layer's parameters: ``pairs`` of (torch parameter, array)."""
    with torch.no_grad():
        for target, array in pairs:
            target.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _input(x, dtype) -> Tensor:
    """A numpy input becomes a constant Tensor of the layer's dtype; Tensors pass as they are."""
    if isinstance(x, Tensor):
        if x.dtype != dtype and x.is_leaf and not x.requires_grad:
            return Tensor(x.data, name=x.name, requires_grad=False, dtype=dtype)
        return x
    return Tensor(np.asarray(x), name="input", requires_grad=False, dtype=dtype)


class Linear(Module):
    """Fully connected layer: ``y = x @ W + b``.

    ``W`` has shape (in_features, out_features) (so the product needs no
    transpose: the lecture's ``Z = X W``), ``b`` has shape (out_features,).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, init: str = "kaiming",
                 rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init = init
        self.weight = Parameter(initializer(init)((self.in_features, self.out_features), rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def forward(self, x):
        x = _input(x, self.weight.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear: input of shape {x.shape} does not fit a weight of shape {self.weight.shape} "
                f"(expects {self.in_features} features in the last axis)"
            )
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return _arguments(self.in_features, self.out_features, bias=(self.bias is not None, True),
                          init=(self.init, "kaiming"), dtype=(_dtype_name(self.weight.dtype), "float32"))

    def _torch_module(self, torch):
        layer = torch.nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                                dtype=getattr(torch, _dtype_name(self.weight.dtype)))
        pairs = [(layer.weight, self.weight.data.T)]  # torch keeps W as (out_features, in_features)
        _copy_weights(torch, layer, pairs + ([(layer.bias, self.bias.data)] if self.bias is not None else []))
        return layer


class Conv2d(Module):
    """2-d convolution layer over (N, C, H, W) inputs; weight (F, C, kh, kw), bias (F,).

    See :class:`gradgraph.ops.conv.Conv2d` for the formula.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 bias: bool = True, *, init: str = "kaiming", rng=None, dtype=np.float32):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = pair(stride, "stride", "Conv2d", 1)
        self.padding = pair(padding, "padding", "Conv2d", 0)
        self.dilation = pair(dilation, "dilation", "Conv2d", 1)
        self.init = init
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(initializer(init)(shape, rng=rng, dtype=dtype))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def forward(self, x):
        x = _input(x, self.weight.dtype)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def filters(self) -> np.ndarray:
        """The filters as an array (F, C, kh, kw) (see also :func:`gradgraph.inspect.filters`)."""
        return self.weight.data

    def extra_repr(self) -> str:
        return _arguments(self.in_channels, self.out_channels, kernel_size=(self.kernel_size, None),
                          stride=(self.stride, (1, 1)), padding=(self.padding, (0, 0)),
                          dilation=(self.dilation, (1, 1)), bias=(self.bias is not None, True),
                          init=(self.init, "kaiming"), dtype=(_dtype_name(self.weight.dtype), "float32"))

    def _torch_module(self, torch):
        layer = torch.nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                                padding=self.padding, dilation=self.dilation, bias=self.bias is not None,
                                dtype=getattr(torch, _dtype_name(self.weight.dtype)))
        pairs = [(layer.weight, self.weight.data)] + ([(layer.bias, self.bias.data)] if self.bias is not None else [])
        _copy_weights(torch, layer, pairs)
        return layer


class MaxPool2d(Module):
    """Max pooling over ``kernel_size`` windows (stride defaults to the kernel size)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return _arguments(kernel_size=(self.kernel_size, None), stride=(self.stride, None), padding=(self.padding, 0))

    def _torch_module(self, torch):
        return torch.nn.MaxPool2d(self.kernel_size, self.stride, self.padding)


class AvgPool2d(Module):
    """Average pooling over ``kernel_size`` windows (stride defaults to the kernel size).

    Padding counts as zeros in the average (PyTorch's ``count_include_pad=True``).
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return _arguments(kernel_size=(self.kernel_size, None), stride=(self.stride, None), padding=(self.padding, 0))

    def _torch_module(self, torch):
        return torch.nn.AvgPool2d(self.kernel_size, self.stride, self.padding)


class ReLU(Module):
    """max(0, x), elementwise."""

    def forward(self, x):
        return ops.ReLU()(x)

    def _torch_module(self, torch):
        return torch.nn.ReLU()


class LeakyReLU(Module):
    """x if x > 0 else alpha·x."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return ops.LeakyReLU(self.alpha)(x)

    def extra_repr(self) -> str:
        return _arguments(alpha=(self.alpha, 0.01))

    def _torch_module(self, torch):
        return torch.nn.LeakyReLU(self.alpha)


class Tanh(Module):
    """tanh x, elementwise."""

    def forward(self, x):
        return ops.Tanh()(x)

    def _torch_module(self, torch):
        return torch.nn.Tanh()


class Sigmoid(Module):
    """1 / (1 + e^-x), elementwise."""

    def forward(self, x):
        return ops.Sigmoid()(x)

    def _torch_module(self, torch):
        return torch.nn.Sigmoid()


class Softmax(Module):
    """Probabilities along ``axis``; for training use cross-entropy on the logits instead."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return ops.Softmax(self.axis)(x)

    def extra_repr(self) -> str:
        return _arguments(axis=(self.axis, -1))

    def _torch_module(self, torch):
        return torch.nn.Softmax(dim=self.axis)


class Flatten(Module):
    """(N, C, H, W) -> (N, C·H·W): keeps the axes before ``start_dim``."""

    def __init__(self, start_dim: int = 1):
        super().__init__()
        self.start_dim = int(start_dim)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x), requires_grad=False)
        return x.flatten(self.start_dim)

    def extra_repr(self) -> str:
        return _arguments(start_dim=(self.start_dim, 1))

    def _torch_module(self, torch):
        return torch.nn.Flatten(self.start_dim)


class InvertedDropout(Gate):
    """z = x * m / (1 - p),  m ~ Bernoulli(1 - p) per element;   dz/dx = m / (1 - p)

    Each element is dropped (zeroed) with probability ``p``; the survivors are
    scaled by 1/(1 - p) so the expected value is unchanged and inference needs
    no rescaling. The backward lets the gradient through where the mask let
    the value through.
    """

    symbol, short, formula = "drop", "dropout", "z = x * m / (1 - p)"
    local = ("dz/dx = m / (1 - p)",)

    def __init__(self, p: float, rng: np.random.Generator):
        self.p, self.rng = float(p), rng

    def forward(self, x):
        keep = self.rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= self.p
        self.scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.scale

    def backward(self, d_out):
        return (d_out * self.scale,)


class Dropout(Module):
    """Inverted dropout with drop probability ``p``, active only in training mode."""

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = get_rng(rng) if rng is not None else np.random.default_rng(get_rng().integers(2**63))

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        return InvertedDropout(self.p, self.rng)(x)

    def extra_repr(self) -> str:
        return f"p={self.p:g}"

    def _torch_module(self, torch):
        return torch.nn.Dropout(self.p)


class Sequential(Module):
    """Layers applied one after the other: ``Sequential(Linear(2, 8), ReLU(), Linear(8, 1))``.

    Children are named ``"0"``, ``"1"``, ... (their graph groups ``linear0``,
    ``relu1``, ...), or after the keys of an ``OrderedDict`` passed instead.
    """

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (dict, OrderedDict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, module in items:
            self.add_module(name, module)

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def _torch_module(self, torch):
        return self._torch_sequential(torch)

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
