"""The graph model that every front end is a thin view over (no Qt here).

The model, :class:`Graph` (module ``graph``): the nodes and edges behind an
output Tensor with its own values and gradients (``set_value`` + replay),
computed lazily gate by gate; ``node.parents``, ``node.children``,
``node.in_edges``/``out_edges`` and ``graph.edges`` are its public adjacency.

Everything else takes a Graph as an argument (the model imports none of it):

* ``Stepper(graph)`` (``stepper``): a position in the forward and backward
  steps, with ``step``/``back``/``seek`` and observers;
* ``ledger.ledger(graph or stepper)``, ``step_ledger(step)`` (``ledger``): the
  chain rule written out, one :class:`LedgerLine` per gradient sent back;
* ``Flow(graph)`` (``flow``): gradient magnitudes and warnings;
* ``gradcheck(graph)`` (``check``): every node's gradient against centred differences;
* ``full(graph)``, ``collapsed(graph, expanded)`` (``views``): boxes and arrows;
* ``layout.layout(graph or view, engine="auto")`` (``layout``): positions for drawing;
* ``to_dot(graph or view)``, ``render(graph or view, path)`` (``dot``): Graphviz;
* ``walkthrough(output)`` (``walk``): the steps printed in a terminal.

``gradgraph.graph.layout`` and ``gradgraph.graph.ledger`` name the modules;
their main functions are ``layout.layout`` and ``ledger.ledger``.
"""
from .graph import Edge, GateInfo, Graph, GraphEvent, Node
from .stepper import Step, Stepper, StepperEvent
from .ledger import Ledger, LedgerLine, step_ledger
from .flow import EdgeFlow, Flow, NodeFlow
from .check import GraphCheck, NodeCheck, gradcheck
from .views import GraphView, ViewEdge, ViewNode, collapsed, full
from .layout import Box, GraphvizNotFoundError, Layout, Route
from .dot import mimebundle, render, to_dot


def _repr_mimebundle_(graph, include=None, exclude=None):
    """Jupyter draws a Graph (an SVG through Graphviz, or text): the drawing lives in ``dot``."""
    return mimebundle(graph)


Graph._repr_mimebundle_ = _repr_mimebundle_

__all__ = [
    "Box", "Edge", "EdgeFlow", "Flow", "GateInfo", "Graph", "GraphCheck", "GraphEvent", "GraphView",
    "GraphvizNotFoundError", "Layout", "Ledger", "LedgerLine", "Node", "NodeCheck", "NodeFlow", "Route", "Step",
    "Stepper", "StepperEvent", "ViewEdge", "ViewNode", "collapsed", "full", "gradcheck", "layout", "ledger",
    "render", "step_ledger", "to_dot",  # layout and ledger: the modules
]
