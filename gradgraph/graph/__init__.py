"""The graph model that every front end is a thin view over (no Qt here).

* :class:`Graph` -- the nodes and edges behind an output Tensor, with its own
  values and gradients (``set_value`` + replay), lazily computed gate by gate;
* :class:`Stepper` -- a position in the forward and backward steps, with
  ``step``/``back``/``seek`` and observers;
* the chain-rule ledger (:class:`LedgerLine`), gradient flow (:class:`Flow`),
  per-node gradient checking (``graph.gradcheck()``);
* views collapsed to scope groups, layout (Graphviz ``dot`` or built-in),
  DOT output and the terminal walkthrough (:mod:`.walk`).

Modules: ``graph`` (Graph, Node, Edge), ``stepper``, ``ledger``, ``flow``,
``check`` (gradcheck per node), ``views`` (collapsed groups), ``layout``
(``gradgraph.graph.layout.layout(view, engine="auto")``), ``dot``, ``walk``.
"""
from . import layout  # noqa: F401  the module (its function is gradgraph.graph.layout.layout)
from .check import GraphCheck, NodeCheck
from .flow import EdgeFlow, Flow, NodeFlow
from .graph import Edge, GateInfo, Graph, GraphEvent, Node
from .layout import Box, GraphvizNotFoundError, Layout, Route
from .ledger import Ledger, LedgerLine
from .stepper import Step, Stepper, StepperEvent
from .views import GraphView, ViewEdge, ViewNode

__all__ = [
    "Box", "Edge", "EdgeFlow", "Flow", "GateInfo", "Graph", "GraphCheck", "GraphEvent", "GraphView",
    "GraphvizNotFoundError", "Layout", "Ledger", "LedgerLine", "Node", "NodeCheck", "NodeFlow", "Route", "Step",
    "Stepper", "StepperEvent", "ViewEdge", "ViewNode",
]
