"""Gradient checking on a whole graph, node by node: which gate got it wrong?

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
by ``nn``) is therefore checked in float64: its leaf values are promoted for
the duration of the check, every gate runs in double precision, and the
float32 values are put back afterwards. With ``promote=False`` the check runs
in the graph's own precision: for float32 nodes ``eps`` defaults to 1e-3 and
the tolerances are relaxed (atol 1e-3, rtol 1e-2), and a warning says so; a
nudge of 1e-3 can then cross a ReLU or max-pool kink and fail a correct gate.
"""
from __future__ import annotations

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


def _descendants(graph, i: int) -> list:
    """The nodes computed from node ``i``, in topological order."""
    seen, stack = set(), [c for c, _ in graph._kids[i]]
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.add(c)
            stack.extend(k for k, _ in graph._kids[c])
    return sorted(seen)


class _Replay:
    """Forward passes from one node onward with other values, leaving the graph's cache alone."""

    def __init__(self, graph):
        self.graph = graph
        self.base = [graph.value(i) for i in range(len(graph.nodes))]
        self.seed = np.asarray(graph.seed, dtype=np.float64)
        self._desc: dict = {}

    def descendants(self, i: int) -> list:
        if i not in self._desc:
            self._desc[i] = _descendants(self.graph, i)
        return self._desc[i]

    def objective(self, values: dict, start: list) -> float:
        """sum(seed * out) after recomputing the nodes in ``start`` (in order)."""
        graph = self.graph
        for d in start:
            if d in values:
                continue
            inputs = [values.get(p, self.base[p]) for p in graph._parents[d]]
            values[d] = np.asarray(graph.nodes[d].op.forward(*inputs))
        out = values.get(len(graph.nodes) - 1, self.base[-1])
        return float(np.sum(np.asarray(out, dtype=np.float64) * self.seed))

    def node(self, i: int, flat_index: int, delta: float) -> float:
        """The objective with element ``flat_index`` of node ``i`` moved by ``delta``."""
        value = np.array(self.base[i], copy=True)
        value.reshape(-1)[flat_index] += delta
        return self.objective({i: value}, self.descendants(i))

    def edge(self, child: int, slot: int, flat_index: int, delta: float) -> float:
        """The objective when only input ``slot`` of ``child``'s gate sees the nudge."""
        graph = self.graph
        inputs = [self.base[p] for p in graph._parents[child]]
        moved = np.array(inputs[slot], copy=True)
        moved.reshape(-1)[flat_index] += delta
        inputs[slot] = moved
        values = {child: np.asarray(graph.nodes[child].op.forward(*inputs))}
        return self.objective(values, self.descendants(child))


def _promote_to_float64(graph):
    """Give every low-precision floating leaf a float64 value; returns what to restore."""
    saved = {}
    for i, node in enumerate(graph.nodes):
        value = graph._value[i]
        if node.op is None and value is not None and value.dtype.kind == "f" and value.dtype != np.float64:
            saved[i] = value
    if not saved:
        return None
    for i, value in saved.items():
        graph._value[i] = value.astype(np.float64)
        graph._invalidate_downstream(i)
    seed = graph.seed
    graph.seed = np.asarray(seed, dtype=np.float64)
    return saved, seed


def _restore(graph, promoted) -> None:
    saved, seed = promoted
    graph.seed = seed
    for i, value in saved.items():
        graph._value[i] = value
        graph._invalidate_downstream(i)


def check_graph(graph, eps=None, max_elements: int = 20, seed: int = 0, atol=None, rtol=None,
                nodes=None, promote: bool = True) -> GraphCheck:
    """Check every node's gradient (or only ``nodes``, names or Nodes); see the module docstring."""
    promoted = _promote_to_float64(graph) if promote else None
    try:
        return _check(graph, eps, max_elements, seed, atol, rtol, nodes)
    finally:
        if promoted is not None:
            _restore(graph, promoted)


def _check(graph, eps, max_elements, seed, atol, rtol, nodes) -> GraphCheck:
    graph.backward()
    replay = _Replay(graph)
    base = replay.objective({}, [])
    graph._unprime()  # from here on the replays leave other inputs in the gates
    rng = np.random.default_rng(seed)
    wanted = None if nodes is None else {graph.node(k).index for k in nodes}
    result = GraphCheck()
    result.suspects = []
    chosen: dict = {}
    settings: dict = {}
    low_precision = []

    try:
        for node in graph.nodes:
            i = node.index
            if not graph._needs[i] or (wanted is not None and i not in wanted):
                continue
            double = np.asarray(graph.value(i)).dtype == np.float64
            if not double:
                low_precision.append(node.name)
            h = eps if eps is not None else (1e-6 if double else 1e-3)
            a_tol = atol if atol is not None else (1e-5 if double else 1e-3)
            r_tol = rtol if rtol is not None else (1e-3 if double else 1e-2)
            settings[i] = (h, a_tol, r_tol)

            size = node.size
            sampled = size > max_elements
            idx = np.sort(rng.choice(size, max_elements, replace=False)) if sampled else np.arange(size)
            chosen[i] = idx
            analytic = np.asarray(graph.grad(i), dtype=np.float64).reshape(-1)[idx]
            plus = np.array([replay.node(i, k, h) for k in idx])
            minus = np.array([replay.node(i, k, -h) for k in idx])
            numerical = (plus - minus) / (2 * h)
            smooth = _smooth(plus, minus, base, h)
            result[node.name] = _compare(node, analytic, numerical, idx, sampled, a_tol, r_tol, smooth)

        # find the gates that send wrong gradients back
        blamed = set()
        for name, check in list(result.items()):
            if check.ok:
                continue
            p = graph.node(name).index
            h, a_tol, r_tol = settings[p]
            for c, slot in graph._kids[p]:
                own = result.get(graph.nodes[c].name)
                if own is not None and not own.ok:
                    continue  # that child's own gradient is already wrong: look further down
                idx = chosen[p]
                sent = graph.contributions(c)[slot]
                analytic = np.asarray(sent, dtype=np.float64).reshape(-1)[idx]
                plus = np.array([replay.edge(c, slot, k, h) for k in idx])
                minus = np.array([replay.edge(c, slot, k, -h) for k in idx])
                smooth = _smooth(plus, minus, base, h)
                if not _passes(analytic[smooth], ((plus - minus) / (2 * h))[smooth], a_tol, r_tol):
                    blamed.add(c)
        for c in sorted(blamed):
            name = graph.nodes[c].name
            result.suspects.append(name)
            if name in result:
                result[name].blamed = True
    finally:
        graph._unprime()

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
