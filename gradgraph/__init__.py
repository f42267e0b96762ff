"""gradgraph: an autograd engine you can watch.

    import gradgraph as gg
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = (x + y) * z
    f.backward()          # x.grad == -4, y.grad == -4, z.grad == 3
"""
from . import ops
from .gate import Gate, unbroadcast
from .gradcheck import GradcheckError, compare_gradients, gradcheck, numerical_gradient, relative_error
from .tensor import Tensor, as_tensor, current_scope, maximum, no_grad, scope, topological_order
from .graph import Graph, Stepper
from . import data, losses
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from . import lessons, nn, optim, train

__version__ = "0.1.0"

__all__ = [
    "Gate", "GradcheckError", "Graph", "Stepper", "Tensor", "as_tensor", "compare_gradients", "current_scope", "data", "gradcheck", "losses",
    "maximum", "no_grad", "numerical_gradient", "ops", "relative_error", "scope",
    "topological_order", "unbroadcast",
    "avg_pool2d", "conv2d", "max_pool2d", "nn", "optim", "train",
]
