"""LeNet-5 (LeCun et al. 1998), sized for 28×28 MNIST / Fashion-MNIST images.

The original network reads 32×32 images; a 28×28 image padded by 2 pixels on
each side is 32×32, so C1 uses ``padding=2``::

    input        1@28×28
    conv1  C1    6@28×28    5×5 filters, padding 2           156 parameters
    pool1  S2    6@14×14    2×2 pooling, stride 2
    conv2  C3   16@10×10    5×5 filters                    2,416
    pool2  S4   16@5×5      2×2 pooling, stride 2
    flatten         400
    fc1    F5       120                                   48,120
    fc2    F6        84                                   10,164
    fc3  output      10     class scores (logits)            850
                                                  total   61,706

with an activation (ReLU, tanh or sigmoid) after conv1, conv2, fc1 and fc2,
and optional dropout after fc1 and fc2.
"""
from __future__ import annotations

import numpy as np

from .layers import AvgPool2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sigmoid, Tanh
from .module import Module

ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}
POOLS = {"max": MaxPool2d, "avg": AvgPool2d}


class LeNet5(Module):
    """LeNet-5: ``LeNet5(activation="relu", pool="max", dropout=0.0, in_channels=1, num_classes=10)``.

    ``input_size`` is the side of the (square) input image: 28 pads C1's input
    to 32, 32 uses no padding. Weights: He/Kaiming-uniform for ReLU,
    Xavier/Glorot-uniform for tanh and sigmoid, from ``rng`` (a seed or a
    Generator; default ``gg.nn.manual_seed``'s generator). ``dtype`` float32
    (default) or float64.

    Children (and graph groups): conv1, relu1, pool1, conv2, relu2, pool2,
    flatten, fc1, relu3, [dropout1], fc2, relu4, [dropout2], fc3 (the activation
    names follow ``activation``, e.g. ``tanh1``).
    """

    def __init__(self, activation: str = "relu", pool: str = "max", dropout: float = 0.0, in_channels: int = 1,
                 num_classes: int = 10, *, input_size: int = 28, rng=None, dtype=np.float32):
        super().__init__()
        activation, pool = str(activation).lower(), str(pool).lower()
        if activation not in ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        if pool not in POOLS:
            raise ValueError(f"LeNet5: pool must be one of {', '.join(POOLS)}, not {pool!r}")
        padding = (32 - int(input_size)) // 2
        if padding < 0 or int(input_size) + 2 * padding != 32:
            raise ValueError(f"LeNet5: input_size must be 28 or 32 (or even and below 32), got {input_size}")
        from .init import get_rng

        rng = get_rng(rng)
        init = "kaiming" if activation == "relu" else "xavier"
        self.activation, self.pool, self.dropout = activation, pool, float(dropout)
        self.in_channels, self.num_classes, self.input_size = int(in_channels), int(num_classes), int(input_size)
        act, pooling = ACTIVATIONS[activation], POOLS[pool]
        kw = dict(init=init, rng=rng, dtype=dtype)

        self.conv1 = Conv2d(self.in_channels, 6, 5, padding=padding, **kw)
        setattr(self, f"{activation}1", act())
        self.pool1 = pooling(2)
        self.conv2 = Conv2d(6, 16, 5, **kw)
        setattr(self, f"{activation}2", act())
        self.pool2 = pooling(2)
        self.flatten = Flatten()
        self.fc1 = Linear(16 * 5 * 5, 120, **kw)
        setattr(self, f"{activation}3", act())
        if self.dropout > 0:
            self.dropout1 = Dropout(self.dropout, rng=rng)
        self.fc2 = Linear(120, 84, **kw)
        setattr(self, f"{activation}4", act())
        if self.dropout > 0:
            self.dropout2 = Dropout(self.dropout, rng=rng)
        # The output layer feeds the softmax: start it 10x smaller than Xavier so that
        # the first logits are near 0, every class is about equally likely and the first
        # loss is about ln(num_classes) (2.30 for 10 classes), the lecture's sanity check.
        self.fc3 = Linear(84, self.num_classes, init="xavier", rng=rng, dtype=dtype)
        self.fc3.weight.data *= np.asarray(0.1, dtype=self.fc3.weight.dtype)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def _torch_module(self, torch):
        return self._torch_sequential(torch)  # forward runs the children in order

    def extra_repr(self) -> str:
        text = f"activation={self.activation!r}, pool={self.pool!r}"
        defaults = {"dropout": 0.0, "in_channels": 1, "num_classes": 10, "input_size": 28}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name):g}"
        if self.dtype != np.float32:
            text += f", dtype={self.dtype.name!r}"
        return text
