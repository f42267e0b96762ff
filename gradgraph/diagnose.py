"""Is training healthy? Gradient norms, and a diagnosis when it is not.

The training loop asks :class:`Health` two questions per step and stops with
the answer's record when there is one:

``loss_problem``   the loss is NaN or Inf (``"nan"``: which layer's output first
                   went non-finite), or it has grown ``divergence`` times above
                   the first step's loss while staying finite (``"diverged"``:
                   Adam with a far too large learning rate does this: the loss
                   jumps to 1e5, and the network ends at chance level)
``grad_problem``   a gradient is NaN or Inf (``"nan"``: the layer nearest the
                   loss with a bad gradient, where backward met it first)
"""
from __future__ import annotations

import math

import numpy as np

from . import inspect

__all__ = ["Health", "grad_norms", "DIVERGENCE"]

#: A step loss this many times the first step's loss counts as divergence.
DIVERGENCE = 100.0
HINT = "; try a smaller learning rate"


def grad_norms(params, names: dict) -> dict:
    """{parameter name: L2 norm of its gradient} for every parameter that has one."""
    norms = {}
    for i, p in enumerate(params):
        if p.grad is not None:
            g = p.grad.reshape(-1)
            norms[names.get(id(p), p.name or f"param{i}")] = float(math.sqrt(float(np.dot(g, g))))
    return norms


def _kind(a: np.ndarray) -> str:
    return "nan" if np.isnan(a).any() else "inf"


class Health:
    """Watches one training run of ``model`` (see the module docstring).

    ``divergence``: the factor over the first step's loss that counts as
    divergence (None: never).
    """

    def __init__(self, model, loss_name: str, divergence: float | None = DIVERGENCE):
        self.model, self.loss_name, self.divergence = model, loss_name, divergence
        self.names = dict(model.named_parameters()) if hasattr(model, "named_parameters") else {}
        self.first_loss: float | None = None

    def loss_problem(self, xb, loss_value: float, where: str) -> tuple[str, str] | None:
        """(kind, message) if the loss is non-finite or has diverged, else None."""
        if not math.isfinite(loss_value):
            return "nan", self._diagnose_loss(xb, f"loss is {loss_value} {where}")
        if self.first_loss is None:
            self.first_loss = loss_value
        elif self.divergence is not None and loss_value > self.divergence * self.first_loss > 0:
            return "diverged", (f"training diverged {where}: the loss is {loss_value:.4g}, "
                                f"{loss_value / self.first_loss:.3g} times the first step's {self.first_loss:.4g}"
                                f"{HINT}")
        return None

    def grad_problem(self, norms: dict, where: str) -> tuple[str, str] | None:
        """("nan", message) naming the layer nearest the loss with a non-finite gradient, else None."""
        bad = [name for name, value in norms.items() if not math.isfinite(value)]
        if not bad:
            return None
        order = list(self.names) or list(norms)
        bad.sort(key=lambda n: order.index(n) if n in order else -1)
        name = bad[-1]  # backward runs from the output: the last layer is where it appeared first
        layer = name.rpartition(".")[0] or name
        return "nan", (f"gradient is not finite {where}: it first appeared in layer {layer!r} "
                       f"(parameter {name!r}){HINT}")

    def _diagnose_loss(self, xb, head: str) -> str:
        """Which layer first produced non-finite values."""
        for name, p in self.names.items():
            if not np.all(np.isfinite(p.data)):
                layer = name.rpartition(".")[0] or name
                return f"{head}: parameter {name!r} of layer {layer!r} contains {_kind(p.data)}{HINT}"
        if not np.all(np.isfinite(xb)):
            return f"{head}: the input batch itself contains {_kind(xb)} (check the data)"
        layers = inspect.layer_outputs(self.model, xb) if hasattr(self.model, "named_modules") else []
        for name, module, out in layers:
            if not np.all(np.isfinite(out)):
                return (f"{head}: non-finite values ({_kind(out)}) first appeared in the output of "
                        f"layer {name!r} ({type(module).__name__}){HINT}")
        return f"{head}: every layer's output is finite, the loss ({self.loss_name}) is not (check the targets){HINT}"
