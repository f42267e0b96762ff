"""PyTorch-like layers and models on top of the engine's gates.

    import gradgraph as gg
    gg.nn.manual_seed(0)
    model = gg.nn.LeNet5()                      # 61,706 float32 parameters
    logits = model(images)                      # images: float32 (N, 1, 28, 28)
    loss = gg.losses.cross_entropy(logits, labels)
    model.zero_grad(); loss.backward()          # gradients in p.grad
    torch_model = model.to_torch()              # the same network in PyTorch (if installed)

What the app and the lessons read from a model (filters, feature maps,
confusion matrices, saliency) lives in :mod:`gradgraph.inspect`.
"""
from . import init
from .init import kaiming_uniform, manual_seed, xavier_uniform
from .layers import (AvgPool2d, Conv2d, Dropout, Flatten, InvertedDropout, LeakyReLU, Linear, MaxPool2d, ReLU,
                     Sequential, Sigmoid, Softmax, Tanh)
from .lenet import LeNet5
from .module import Module, Parameter, StateDictError

__all__ = [
    "AvgPool2d", "Conv2d", "Dropout", "Flatten", "InvertedDropout", "LeNet5", "LeakyReLU", "Linear",
    "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "StateDictError", "Tanh",
    "init", "kaiming_uniform", "manual_seed", "xavier_uniform",
]
