"""Gradient flow: how strongly the gradient reaches each node, and what can go wrong.

For every node and every edge the *magnitude* of its gradient is the RMS
(root mean square, ‖g‖ / sqrt(size)): a size-independent number, so a
(64, 120) weight gradient and a scalar compare fairly. ``level`` maps it to
[0, 1] on a log scale (the smallest non-zero magnitude in the graph is 0, the
largest 1) for colouring. Warnings:

* **vanishing**: magnitude at most ``vanishing`` × the median magnitude (1e-3
  by default; exactly zero counts) — the gradient hardly reaches this node;
* **exploding**: magnitude at least ``exploding`` × the median (1e3);
* **dead ReLU**: a ReLU whose outputs are zero for more than ``dead`` (0.5) of
  its elements: those pass no gradient back;
* **saturated** sigmoid/tanh: more than ``saturated`` (0.5) of the outputs
  within 0.01 of an asymptote (0 or 1; -1 or 1), where the local gradient is ~0;
* **NaN/Inf**: ``first_nonfinite`` is where a NaN or an infinity first
  appears: the first node in topological order whose *value* is not finite,
  or, if all values are finite, the first node in *backward* order (the
  order the gradient travels) whose gradient is not finite.

``Flow(graph)`` is a read-only mapping ``{node name: NodeFlow}``; ``flow.edges``
is a list of :class:`EdgeFlow` aligned with ``graph.edges``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .fmt import fmt_number, rms

#: A sigmoid/tanh output this close to an asymptote counts as saturated.
SATURATION_MARGIN = 0.01
_ASYMPTOTES = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0)}


@dataclass
class NodeFlow:
    """Gradient facts about one node. ``flags`` lists the warnings as words:
    ``"vanishing"``, ``"exploding"``, ``"dead"``, ``"saturated"``, ``"nonfinite"``."""

    name: str
    magnitude: float | None          # RMS of the gradient; None for a constant
    level: float                     # magnitude on [0, 1], log scale (0 for no/zero gradient)
    vanishing: bool = False
    exploding: bool = False
    dead_fraction: float | None = None       # ReLU nodes: fraction of outputs that are 0
    saturated_fraction: float | None = None  # Sigmoid/Tanh nodes: fraction near an asymptote
    nonfinite_value: bool = False
    nonfinite_grad: bool = False
    flags: list = field(default_factory=list)


@dataclass
class EdgeFlow:
    """The gradient sent back along one edge (``graph.edges[index]``)."""

    index: int
    source: str
    target: str
    magnitude: float | None
    level: float


class Flow(Mapping):
    """Gradient magnitudes and warnings for a whole graph (after a full backward pass).

    ``flow["x"]`` is a :class:`NodeFlow`; also ``edges``, ``vanishing``,
    ``exploding``, ``dead_relus``, ``saturated`` (lists of node names),
    ``first_nonfinite`` (a Node or None) with ``first_nonfinite_in``
    (``"value"`` or ``"grad"``), ``reference`` (the median magnitude) and
    ``summary()``.
    """

    def __init__(self, graph, vanishing: float = 1e-3, exploding: float = 1e3, dead: float = 0.5,
                 saturated: float = 0.5):
        self.graph = graph
        graph.backward()
        nodes = graph.nodes
        mags = [None if graph.grad(n.index) is None else rms(graph.grad(n.index)) for n in nodes]
        edge_mags = []
        for edge in graph.edges:
            g = graph.contributions(edge.target.index)[edge.slot]
            edge_mags.append(None if g is None else rms(g))

        positive = [m for m in mags + edge_mags if m is not None and math.isfinite(m) and m > 0]
        self._lo = math.log10(min(positive)) if positive else 0.0
        self._hi = math.log10(max(positive)) if positive else 0.0
        node_positive = [m for m in mags if m is not None and math.isfinite(m) and m > 0]
        self.reference = float(np.median(node_positive)) if node_positive else 0.0

        self._nodes: dict = {}
        for node, m in zip(nodes, mags):
            info = NodeFlow(node.name, m, self.level(m))
            value = graph.value(node.index)
            with np.errstate(all="ignore"):
                info.nonfinite_value = bool(value.size and not np.all(np.isfinite(value)))
                grad = graph.grad(node.index)
                info.nonfinite_grad = bool(grad is not None and grad.size and not np.all(np.isfinite(grad)))
            if m is not None and self.reference > 0 and math.isfinite(m):
                info.vanishing = m <= vanishing * self.reference
                info.exploding = m >= exploding * self.reference
            gate = node.gate
            if gate == "ReLU" and value.size:
                info.dead_fraction = float(np.mean(value == 0))
            if gate in _ASYMPTOTES and value.size:
                low, high = _ASYMPTOTES[gate]
                near = (value <= low + SATURATION_MARGIN) | (value >= high - SATURATION_MARGIN)
                info.saturated_fraction = float(np.mean(near))
            info.flags = [word for word, on in (
                ("vanishing", info.vanishing), ("exploding", info.exploding),
                ("dead", info.dead_fraction is not None and info.dead_fraction > dead),
                ("saturated", info.saturated_fraction is not None and info.saturated_fraction > saturated),
                ("nonfinite", info.nonfinite_value or info.nonfinite_grad)) if on]
            self._nodes[node.name] = info

        self.edges = [EdgeFlow(e.index, e.source.name, e.target.name, m, self.level(m))
                      for e, m in zip(graph.edges, edge_mags)]

        self.first_nonfinite, self.first_nonfinite_in = None, None
        for node in nodes:
            if self._nodes[node.name].nonfinite_value:
                self.first_nonfinite, self.first_nonfinite_in = node, "value"
                break
        else:
            for node in reversed(nodes):
                if self._nodes[node.name].nonfinite_grad:
                    self.first_nonfinite, self.first_nonfinite_in = node, "grad"
                    break

    def level(self, magnitude) -> float:
        """A magnitude on the graph's [0, 1] log scale (0 for none or zero, 1 for NaN/Inf)."""
        if magnitude is None or magnitude == 0:
            return 0.0
        if not math.isfinite(magnitude):
            return 1.0
        if self._hi == self._lo:
            return 1.0
        return float(min(1.0, max(0.0, (math.log10(magnitude) - self._lo) / (self._hi - self._lo))))

    # -- the mapping -----------------------------------------------------------------
    def __getitem__(self, key) -> NodeFlow:
        if not isinstance(key, str):
            key = self.graph.node(key).name
        return self._nodes[key]

    def __iter__(self):
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)

    def _with(self, flag: str) -> list:
        return [name for name, info in self._nodes.items() if flag in info.flags]

    @property
    def first_nan(self):
        """Alias of ``first_nonfinite``."""
        return self.first_nonfinite

    @property
    def vanishing(self) -> list:
        return self._with("vanishing")

    @property
    def exploding(self) -> list:
        return self._with("exploding")

    @property
    def dead_relus(self) -> list:
        return self._with("dead")

    @property
    def saturated(self) -> list:
        return self._with("saturated")

    def flags(self, key) -> list:
        return self[key].flags

    def summary(self) -> str:
        """The warnings in words, one per line ("no problems found" if none)."""
        lines = []
        if self.first_nonfinite is not None:
            lines.append(f"NaN/Inf first appears in the {self.first_nonfinite_in} of {self.first_nonfinite.name}")
        for name in self.dead_relus:
            lines.append(f"dead ReLU: {name} outputs 0 for {self[name].dead_fraction:.0%} of its elements")
        for name in self.saturated:
            lines.append(f"saturated: {name} is within {SATURATION_MARGIN} of an asymptote for "
                         f"{self[name].saturated_fraction:.0%} of its elements")
        for name in self.vanishing:
            lines.append(f"vanishing gradient at {name}: rms {fmt_number(self[name].magnitude)} "
                         f"(median {fmt_number(self.reference)})")
        for name in self.exploding:
            lines.append(f"exploding gradient at {name}: rms {fmt_number(self[name].magnitude)} "
                         f"(median {fmt_number(self.reference)})")
        return "\n".join(lines) or "no problems found"

    def __repr__(self) -> str:
        return f"Flow({len(self)} nodes, median gradient rms {fmt_number(self.reference)})"
