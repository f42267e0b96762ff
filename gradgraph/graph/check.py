"""Gradient checking on a whole graph, node by node: which gate got it wrong?

    result = gradcheck(graph)        # {node name: NodeCheck}; result.ok, result.suspects

For every node that needs a gradient (inputs, parameters, intermediates) we
compare

* the **analytic** gradient d out/d node from the backward pass with
* a **numerical** one: nudge the node's value by ±eps, replay the forward
  pass from that node onward (only its descendants), and take
  (out(v + eps) - out(v - eps)) / 2 eps.

The output is reduced to ``sum(seed * out)``, the same objective the backward
pass differentiates (for a scalar output simply ``out``).

A wrong ``backward`` in one gate makes the gradients of that gate's inputs
(and of everything upstream) wrong, while the gate's own output gradient is
right. So for each failing node we also check each edge into its children:
a child whose own gradient is right but which sends back a wrong
contribution has a wrong backward; it is marked ``blamed``.

Sampling: a node with more than ``max_elements`` elements is checked at
``max_elements`` randomly chosen positions (fixed ``seed``); ``indices`` says
which (flat) positions. Each checked element costs two partial forward
passes, so keep ``max_elements`` small for big graphs.

Precision: centred differences need float64. A float32 graph (a LeNet built
by ``nn``) is therefore checked in float64: on a copy of the graph whose leaf
values are promoted (``graph.copy(np.float64)``), every gate runs in double
precision; the graph itself keeps its float32 values. With ``promote=False`` the check runs
in the graph's own precision: for float32 nodes ``eps`` defaults to 1e-3 and
the tolerances are relaxed (atol 1e-3, rtol 1e-2), and a warning says so; a
nudge of 1e-3 can then cross a ReLU or max-pool kink and fail a correct gate.
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import numpy as np

from ..gradcheck import relative_error


@dataclass
class NodeCheck:
    """The result for one node.

    ``analytic`` and ``numerical`` are floats for a one-element node, else
    float64 arrays of the checked elements (flat positions in ``indices``).
    ``rel_error`` is the worst relative error |a - n| / max(|a|, |n|) and
    ``ok`` says whether every element passed |a - n| <= atol + rtol |n|.
    ``blamed``: this node's gate sends wrong gradients back to its inputs.
    ``kinks``: checked positions where the output is not differentiable (the
    one-sided slopes differ), left out of ``ok`` and ``rel_error``.
    """

    name: str
    analytic: object
    numerical: object
    rel_error: float
    ok: bool
    indices: tuple | None = None
    sampled: bool = False
    blamed: bool = False
    kinks: tuple = ()  # flat positions at a kink, left out of the verdict


class GraphCheck(dict):
    """``{node name: NodeCheck}`` plus ``ok`` (all passed), ``failures`` (names of
    nodes with a wrong gradient), ``suspects`` (names of gate nodes whose
    backward is wrong), ``worst`` (the NodeCheck with the largest error) and
    ``summary()``."""

    suspects: list

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.values())

    @property
    def failures(self) -> list:
        return [name for name, c in self.items() if not c.ok]

    @property
    def worst(self) -> NodeCheck | None:
        return max(self.values(), key=lambda c: c.rel_error, default=None)

    def summary(self) -> str:
        lines = []
        for name, c in self.items():
            mark = "ok  " if c.ok else "FAIL"
            sample = f" ({len(c.indices)} sampled elements)" if c.sampled else ""
            lines.append(f"{mark} {name}: relative error {c.rel_error:.2e}{sample}")
        if self.suspects:
            lines.append("wrong backward in: " + ", ".join(self.suspects))
        return "\n".join(lines)


def _descendants(node) -> list:
    """The nodes computed from ``node``, in topological order."""
    seen, stack = {}, list(node.children)
    while stack:
        c = stack.pop()
        if c.index not in seen:
            seen[c.index] = c
            stack.extend(c.children)
    return [seen[k] for k in sorted(seen)]


class _Replay:
    """Forward passes from one node onward with other values, leaving the graph alone.

    The replays run on scratch copies of the gates, so the graph's own gates
    keep the state that belongs to the graph's values."""

    def __init__(self, graph):
        self.graph = graph
        self.base = [graph.value(node) for node in graph.nodes]
        self.seed = np.asarray(graph.seed, dtype=np.float64)
        self._desc: dict = {}
        self._gates: dict = {}

    def descendants(self, node) -> list:
        if node.index not in self._desc:
            self._desc[node.index] = _descendants(node)
        return self._desc[node.index]

    def forward(self, node, inputs) -> np.ndarray:
        """``node``'s gate on other inputs (a scratch copy of the gate)."""
        if node.index not in self._gates:
            self._gates[node.index] = copy.copy(node.op)
        return np.asarray(self._gates[node.index].forward(*inputs))

    def objective(self, values: dict, start: list) -> float:
        """sum(seed * out) after recomputing the nodes in ``start`` (in order)."""
        for node in start:
            if node.index not in values:
                values[node.index] = self.forward(node, [values.get(p.index, self.base[p.index])
                                                         for p in node.parents])
        out = values.get(len(self.base) - 1, self.base[-1])
        return float(np.sum(np.asarray(out, dtype=np.float64) * self.seed))

    def node(self, node, flat_index: int, delta: float) -> float:
        """The objective with element ``flat_index`` of ``node`` moved by ``delta``."""
        value = np.array(self.base[node.index], copy=True)
        value.reshape(-1)[flat_index] += delta
        return self.objective({node.index: value}, self.descendants(node))

    def edge(self, edge, flat_index: int, delta: float) -> float:
        """The objective when only input ``edge.slot`` of ``edge.target``'s gate sees the nudge."""
        child = edge.target
        inputs = [self.base[p.index] for p in child.parents]
        moved = np.array(inputs[edge.slot], copy=True)
        moved.reshape(-1)[flat_index] += delta
        inputs[edge.slot] = moved
        return self.objective({child.index: self.forward(child, inputs)}, self.descendants(child))


def gradcheck(graph, eps=None, max_elements: int = 20, seed: int = 0, atol=None, rtol=None,
              nodes=None, promote: bool = True) -> GraphCheck:
    """Compare every node's gradient with a centred difference: a :class:`GraphCheck`,
    ``{node name: NodeCheck}``. See the module docstring.

    A float32 graph is checked in float64 (``promote=True``; the graph itself is
    left as it is). ``eps`` defaults to 1e-6, ``atol``/``rtol`` to 1e-5/1e-3;
    with ``promote=False`` float32 nodes use 1e-3 and 1e-3/1e-2. Tensors with
    more than ``max_elements`` elements are checked at that many random
    positions. ``nodes``: only these (names or Nodes).

    The check works on its own copy of the graph (:meth:`Graph.copy`), so
    it never runs a gate of the graph it checks.
    """
    wanted = None if nodes is None else {graph.node(k).name for k in nodes}
    low = any(graph.value(n).dtype.kind == "f" and graph.value(n).dtype != np.float64 for n in graph.leaves)
    own = graph.copy(np.float64 if promote and low else None)
    return _check(own, eps, max_elements, seed, atol, rtol, wanted)


def _check(graph, eps, max_elements, seed, atol, rtol, wanted) -> GraphCheck:
    graph.backward()
    replay = _Replay(graph)
    base = replay.objective({}, [])
    rng = np.random.default_rng(seed)
    result = GraphCheck()
    result.suspects = []
    chosen: dict = {}
    settings: dict = {}
    low_precision = []

    for node in graph.nodes:
        if not node.requires_grad or (wanted is not None and node.name not in wanted):
            continue
        double = graph.value(node).dtype == np.float64
        if not double:
            low_precision.append(node.name)
        h = eps if eps is not None else (1e-6 if double else 1e-3)
        a_tol = atol if atol is not None else (1e-5 if double else 1e-3)
        r_tol = rtol if rtol is not None else (1e-3 if double else 1e-2)
        settings[node.index] = (h, a_tol, r_tol)

        size = node.size
        sampled = size > max_elements
        idx = np.sort(rng.choice(size, max_elements, replace=False)) if sampled else np.arange(size)
        chosen[node.index] = idx
        analytic = np.asarray(graph.grad(node), dtype=np.float64).reshape(-1)[idx]
        plus = np.array([replay.node(node, k, h) for k in idx])
        minus = np.array([replay.node(node, k, -h) for k in idx])
        numerical = (plus - minus) / (2 * h)
        smooth = _smooth(plus, minus, base, h)
        result[node.name] = _compare(node, analytic, numerical, idx, sampled, a_tol, r_tol, smooth)

    # find the gates that send wrong gradients back
    blamed = set()
    for name, check in list(result.items()):
        if check.ok:
            continue
        node = graph.node(name)
        h, a_tol, r_tol = settings[node.index]
        idx = chosen[node.index]
        for edge in node.out_edges:
            own = result.get(edge.target.name)
            if own is not None and not own.ok:
                continue  # that child's own gradient is already wrong: look further down
            sent = graph.contributions(edge.target)[edge.slot]
            analytic = np.asarray(sent, dtype=np.float64).reshape(-1)[idx]
            plus = np.array([replay.edge(edge, k, h) for k in idx])
            minus = np.array([replay.edge(edge, k, -h) for k in idx])
            smooth = _smooth(plus, minus, base, h)
            if not _passes(analytic[smooth], ((plus - minus) / (2 * h))[smooth], a_tol, r_tol):
                blamed.add(edge.target.index)
    for c in sorted(blamed):
        name = graph.nodes[c].name
        result.suspects.append(name)
        if name in result:
            result[name].blamed = True

    if low_precision:
        warnings.warn(
            f"graph gradcheck: {len(low_precision)} node(s) are not float64 (e.g. {low_precision[0]!r}); "
            "centred differences are imprecise there (eps 1e-3 and looser tolerances used)",
            stacklevel=3,
        )
    return result


def _passes(analytic, numerical, atol, rtol) -> bool:
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(analytic)) and np.all(np.abs(analytic - numerical) <= atol + rtol * np.abs(numerical)))


def _smooth(plus, minus, base, h) -> np.ndarray:
    """Which elements sit where the objective is differentiable.

    At a kink (a ReLU input at 0, a max-pool window with a tie) the slopes to
    the right, (f(x+h) - f(x)) / h, and to the left, (f(x) - f(x-h)) / h,
    differ by far more than their O(h) truncation error (here: by more than
    10% of the larger one, beyond round-off); there no single derivative
    exists, so those elements take no part in the verdict.
    """
    right, left = (plus - base) / h, (base - minus) / h
    round_off = 1e-12 * (1 + abs(base)) / h  # float64 round-off in a one-sided difference
    with np.errstate(all="ignore"):
        return np.abs(right - left) <= 0.1 * np.maximum(np.abs(right), np.abs(left)) + round_off


def _compare(node, analytic, numerical, idx, sampled, atol, rtol, smooth) -> NodeCheck:
    """``smooth`` masks out elements at kinks (see :func:`_smooth`)."""
    with np.errstate(all="ignore"):
        errors = relative_error(analytic, numerical)[smooth]
    worst = float(np.max(errors)) if errors.size else 0.0
    if not np.all(np.isfinite(analytic)) or not np.all(np.isfinite(numerical)):
        worst = float("inf")
    ok = _passes(analytic[smooth], numerical[smooth], atol, rtol)
    kinks = tuple(int(k) for k in np.asarray(idx)[~smooth])
    if node.size == 1:
        return NodeCheck(node.name, float(analytic[0]), float(numerical[0]), worst, ok, None, False, kinks=kinks)
    return NodeCheck(node.name, analytic, numerical, worst, ok, tuple(int(k) for k in idx), sampled, kinks=kinks)
