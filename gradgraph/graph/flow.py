"""Gradient flow: how strongly the gradient reaches each node, and what can go wrong.

For every node and every edge the *magnitude* of its gradient is the RMS
(root mean square, ‖g‖ / sqrt(size)): a size-independent number, so a
(64, 120) weight gradient and a scalar compare fairly. ``level`` maps it to
[0, 1] on a log scale (the smallest non-zero magnitude in the graph is 0, the
largest 1) for colouring. Warnings (``NodeFlow.flags``, each explained in
``NodeFlow.notes``):

* **vanishing**: the magnitude is at most ``vanishing`` (1e-3) × the largest
  gradient met on the way back from the output to this node: the gradient
  that came in shrank on this path;
* **exploding**: at least ``exploding`` (1e3) × the smallest gradient met on
  that way: it grew on this path. Both are judged for the inputs and
  parameters, where a gradient is used to learn: inside the net a gate may
  scale its gradient by a small factor by design (the sum in a softmax);
* **routed**: the gradient is exactly zero because a gate sends nothing to
  this input by design (the loser of a max: "routed: lost the max"; the input
  of a ReLU that is off), or because everything it feeds was routed so. Such a
  node is never called vanishing: routing is what the gate does;
* **dead** ReLU: units (positions after the batch axis) that output 0 for
  *every* sample of a batch of at least ``min_batch`` (8) samples, when they
  are more than ``dead`` (0.5) of the units. One sample cannot tell a dead unit
  from an inactive one, so a batch of one is never judged;
* **saturated** sigmoid/tanh: likewise, units within 0.01 of an asymptote (0
  or 1; -1 or 1) for every sample, where the local gradient is ~0;
* **nonfinite**: ``first_nonfinite`` is where a NaN or an infinity first
  appears: the first node in topological order whose *value* is not finite,
  or, if all values are finite, the first node in *backward* order (the
  order the gradient travels) whose gradient is not finite. Other nodes with
  NaN/Inf are flagged **inherited** (from that node).

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
#: Gates that send an input nothing by design, and what that means for the input.
ROUTERS = {"Max": "lost the max", "Maximum": "lost the max", "MaxPool2d": "lost the max",
           "ReLU": "the ReLU was off"}


#: Each flag in a few words (``NodeFlow.notes``), for boxes and legends.
NOTES = {
    "routed": "routed: {info.routed}",
    "dead": "dead ReLU: {info.dead_fraction:.0%} of units off for all {info.batch} samples",
    "saturated": "saturated: {info.saturated_fraction:.0%} of units for all {info.batch} samples",
    "nonfinite": "NaN/Inf starts here (in the {flow.first_nonfinite_in})",
    "inherited": "NaN/Inf inherited from {info.inherited_from}",
    "vanishing": "vanishing: rms {magnitude} vs {path_max} on its path",
    "exploding": "exploding: rms {magnitude}",
}


@dataclass
class NodeFlow:
    """Gradient facts about one node. ``flags`` lists the warnings as words:
    ``"vanishing"``, ``"exploding"``, ``"routed"``, ``"dead"``, ``"saturated"``,
    ``"nonfinite"`` (NaN/Inf first appears here), ``"inherited"`` (NaN/Inf from
    upstream); ``notes`` says each in a few words, for labels."""

    name: str
    magnitude: float | None          # RMS of the gradient; None for a constant
    level: float                     # magnitude on [0, 1], log scale (0 for no/zero gradient)
    vanishing: bool = False
    exploding: bool = False
    dead_fraction: float | None = None       # ReLU: fraction of units at 0 for the whole batch
    saturated_fraction: float | None = None  # Sigmoid/Tanh: fraction of units saturated for the whole batch
    batch: int | None = None                 # the batch those fractions were judged over
    routed: str | None = None                # why an exactly-zero gradient is by design
    path_max: float | None = None            # largest gradient on the way from the output here
    nonfinite_value: bool = False
    nonfinite_grad: bool = False
    inherited_from: str | None = None
    flags: list = field(default_factory=list)
    notes: list = field(default_factory=list)


@dataclass
class EdgeFlow:
    """The gradient sent back along one edge (``graph.edges[index]``)."""

    index: int
    source: str
    target: str
    magnitude: float | None
    level: float


def unit_fraction(value, hit, min_batch: int):
    """``(fraction, batch)``: of the units (the positions after the batch axis, axis 0),
    the fraction for which ``hit`` holds for every sample; ``(None, batch)`` when there is
    no batch axis or fewer than ``min_batch`` samples (then nothing can be said)."""
    if value.ndim < 2 or value.shape[0] < min_batch:
        return None, (value.shape[0] if value.ndim >= 2 else None)
    always = np.all(hit, axis=0)
    return float(np.mean(always)), int(value.shape[0])


class Flow(Mapping):
    """Gradient magnitudes and warnings for a whole graph (after a full backward pass).

    ``flow["x"]`` is a :class:`NodeFlow`; also ``edges``, ``vanishing``,
    ``exploding``, ``routed``, ``dead_relus``, ``saturated`` (lists of node names),
    ``first_nonfinite`` (a Node or None) with ``first_nonfinite_in``
    (``"value"`` or ``"grad"``), ``reference`` (the median magnitude) and
    ``summary()``.
    """

    def __init__(self, graph, vanishing: float = 1e-3, exploding: float = 1e3, dead: float = 0.5,
                 saturated: float = 0.5, min_batch: int = 8):
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

        self._nodes: dict = {n.name: NodeFlow(n.name, m, self.level(m)) for n, m in zip(nodes, mags)}
        self._paths(nodes, mags, vanishing, exploding)
        for node in nodes:
            self._activity(node, graph.value(node.index), min_batch, dead, saturated)
        self._nonfinite(nodes)
        for node in nodes:
            info = self._nodes[node.name]
            info.flags = [word for word, on in (
                ("vanishing", info.vanishing), ("exploding", info.exploding), ("routed", info.routed is not None),
                ("dead", info.dead_fraction is not None and info.dead_fraction > dead),
                ("saturated", info.saturated_fraction is not None and info.saturated_fraction > saturated),
                ("nonfinite", self.first_nonfinite is node), ("inherited", info.inherited_from is not None)) if on]
            info.notes = [self._note(info, word) for word in info.flags]

        self.edges = [EdgeFlow(e.index, e.source.name, e.target.name, m, self.level(m))
                      for e, m in zip(graph.edges, edge_mags)]

    # -- the checks ------------------------------------------------------------------
    def _paths(self, nodes, mags, vanishing, exploding) -> None:
        """Vanishing/exploding relative to the gradients on the way back from the output,
        and zero gradients explained by routing; in reverse topological order."""
        finite = [m if m is not None and math.isfinite(m) else None for m in mags]
        high = [None] * len(nodes)   # the largest gradient on the way from the output
        low = [None] * len(nodes)    # the smallest non-zero one
        for node in reversed(nodes):
            i = node.index
            info = self._nodes[node.name]
            seen = [finite[c.index] for c in node.children] + [high[c.index] for c in node.children]
            seen_low = [finite[c.index] for c in node.children] + [low[c.index] for c in node.children]
            seen = [m for m in seen if m is not None]
            seen_low = [m for m in seen_low if m is not None and m > 0]
            high[i] = max(seen) if seen else finite[i]
            low[i] = min(seen_low) if seen_low else (finite[i] if finite[i] else None)
            info.path_max = high[i]
            m = finite[i]
            if m is None or not node.children:
                continue
            if m == 0:
                info.routed = self._routing(node)
            if not (node.is_leaf and node.requires_grad):
                continue  # inside the net a small factor is just a derivative (a softmax's sum)
            if info.routed is None and high[i] and m <= vanishing * high[i]:
                info.vanishing = True
            if low[i] and m >= exploding * low[i]:
                info.exploding = True

    def _routing(self, node):
        """Why a node's gradient is exactly zero by design (``None`` if it is not): each gate
        it feeds either routes nothing to it (a max it lost, a ReLU that is off) or had a
        routed gradient itself."""
        reasons = []
        for child in node.children:
            reason = ROUTERS.get(child.gate)
            if reason is None:
                reason = self._nodes[child.name].routed
            if reason is None:
                return None
            reasons.append(reason)
        return reasons[0] if reasons else None

    def _activity(self, node, value, min_batch, dead, saturated) -> None:
        info = self._nodes[node.name]
        if node.gate == "ReLU" and value.size:
            info.dead_fraction, info.batch = unit_fraction(value, value == 0, min_batch)
        if node.gate in _ASYMPTOTES and value.size:
            low, high = _ASYMPTOTES[node.gate]
            near = (value <= low + SATURATION_MARGIN) | (value >= high - SATURATION_MARGIN)
            info.saturated_fraction, info.batch = unit_fraction(value, near, min_batch)

    def _nonfinite(self, nodes) -> None:
        graph = self.graph
        for node in nodes:
            info = self._nodes[node.name]
            with np.errstate(all="ignore"):
                value = graph.value(node.index)
                info.nonfinite_value = bool(value.size and not np.all(np.isfinite(value)))
                grad = graph.grad(node.index)
                info.nonfinite_grad = bool(grad is not None and grad.size and not np.all(np.isfinite(grad)))
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
        first = self.first_nonfinite
        for node in nodes:
            info = self._nodes[node.name]
            if node is not first and first is not None and (info.nonfinite_value or info.nonfinite_grad):
                info.inherited_from = first.name

    def _note(self, info: NodeFlow, word: str) -> str:
        """A flag in a few words, for a box or a legend."""
        return NOTES[word].format(info=info, flow=self, magnitude=fmt_number(info.magnitude),
                                  path_max=fmt_number(info.path_max))

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

    @property
    def routed(self) -> list:
        return self._with("routed")

    def flags(self, key) -> list:
        return self[key].flags

    def summary(self) -> str:
        """The warnings in words, one per line ("no problems found" if none)."""
        lines = []
        if self.first_nonfinite is not None:
            lines.append(f"NaN/Inf first appears in the {self.first_nonfinite_in} of {self.first_nonfinite.name}"
                         + (f" (inherited by {len(self._with('inherited'))} nodes downstream)"
                            if self._with("inherited") else ""))
        for name in self.dead_relus:
            info = self[name]
            lines.append(f"dead ReLU: {name}: {info.dead_fraction:.0%} of its units output 0 for all "
                         f"{info.batch} samples of the batch")
        for name in self.saturated:
            info = self[name]
            lines.append(f"saturated: {name}: {info.saturated_fraction:.0%} of its units are within "
                         f"{SATURATION_MARGIN} of an asymptote for all {info.batch} samples")
        for word in ("vanishing", "exploding"):
            for name in self._with(word):
                lines.append(f"{word} gradient at {name}: rms {fmt_number(self[name].magnitude)} "
                             f"(largest on its path from the output: {fmt_number(self[name].path_max)})")
        text = "\n".join(lines) or "no problems found"
        routed = self.routed
        if routed:
            text += "\nby design: " + "; ".join(f"{name} {self[name].notes[self[name].flags.index('routed')]}"
                                                for name in routed)
        return text

    def __repr__(self) -> str:
        return f"Flow({len(self)} nodes, median gradient rms {fmt_number(self.reference)})"
