"""gradgraph: an autograd engine you can watch.

    import gradgraph as gg
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = (x + y) * z
    f.backward()          # x.grad == -4, y.grad == -4, z.grad == 3

Read it in this order:

1. gate.py: the unit of computation (forward/backward side by side);
2. tensor.py: values, and ``backprop``, the one chain-rule loop (a generator
   yielding each gate with its upstream gradient and what it sends back);
3. ops/ (the built-in gates), losses.py, gradcheck.py;
4. graph/: watching the engine. graph.py is the model (nodes, edges, values,
   gradients pulled from ``backprop`` one gate at a time); stepper.py,
   ledger.py, flow.py and check.py read it; views.py, layout.py and dot.py
   draw it; walk.py prints it. Each takes a Graph; the model imports none.
5. kernels/ and ops/conv.py (convolution), nn/ and optim.py, inspect.py, train.py, data/.
"""
from . import _command  # noqa: F401  (first: Ctrl-C while the `gradgraph` command starts, see there)
from .memory import keep_freed_memory

keep_freed_memory()  # a training step reuses the last step's memory instead of faulting in fresh pages

# the engine
from .gate import Gate, unbroadcast
from .tensor import (Tensor, as_tensor, backprop, cat, current_scope, maximum, no_grad, scope, stack,
                     topological_order)
from . import ops, losses
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .gradcheck import GradcheckError, compare_gradients, gradcheck, numerical_gradient, relative_error

# watching it: the graph model every front end views
from .graph import Graph, Stepper

# training real networks, and the course
from . import data, nn, optim, train, lessons, inspect

__version__ = "0.1.0"

__all__ = [
    "Gate", "Tensor", "as_tensor", "backprop", "cat", "current_scope", "maximum", "no_grad", "scope", "stack",
    "topological_order",
    "unbroadcast", "ops", "losses", "conv2d", "max_pool2d", "avg_pool2d",
    "GradcheckError", "compare_gradients", "gradcheck", "numerical_gradient", "relative_error",
    "Graph", "Stepper", "data", "nn", "optim", "train", "lessons", "inspect",
]
