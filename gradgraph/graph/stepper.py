"""Stepping through the forward and the backward pass, one gate at a time.

    from gradgraph.graph import Graph, Stepper, step_ledger
    graph = Graph(f)
    stepper = Stepper(graph)           # a Tensor is wrapped in a Graph for you
    stepper.step()                     # x appears
    stepper.seek(stepper.backward_start)   # all values known
    stepper.step()                     # the seed: df/df = 1
    stepper.step()                     # back through f = q * z
    print(step_ledger(stepper.current).text)   # df/dq = df/df · df/dq = 1 · -4 = -4 ...

Positions run from 0 (nothing computed) to ``len(stepper)`` (everything).
Position ``p`` means the first ``p`` steps are done; ``current`` is step
``p - 1``. The steps (``stepper.steps``, a list of :class:`Step`):

====================  ==================================================
``0 .. N-1``          forward: node ``i`` gets its value (leaves first)
``N`` (backward_start) backward seed: d output / d output = 1
``N+1 ..``            backward through each gate, output first
====================  ==================================================

A step does the work of its own gate only: a forward step asks the graph
for one value, a backward step lets the graph's chain-rule loop
(:func:`gradgraph.tensor.backprop`) run one gate further. The graph caches
each result, so ``back()`` and ``seek()`` to an earlier position cost
nothing. If a gate's ``forward`` or ``backward`` raises (a student's
unfinished gate), ``step()`` raises that error and the position does not
change. The stepper keeps no numbers of its own: it asks the graph, which
never touches the tensors' ``.grad``. Observers (``subscribe``) are plain
Python callables.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

import numpy as np

from .fmt import fmt_value
from .graph import Graph

_INFIX = {"+", "-", "*", "/", "@"}


def expression(node, name=None) -> str:
    """The right-hand side of a node's forward formula with its inputs' names:
    ``x + y``, ``relu(h)``, ``q^2``, ``max(x, y)``. ``name(parent)``, if given, writes
    an input instead of its name (a view can write the input's own expression)."""
    if node.op is None:
        return node.name
    args = [p.name if name is None else name(p) for p in node.parents]
    symbol = node.gate.symbol
    if symbol in _INFIX and len(args) == 2:
        return f"{args[0]} {symbol} {args[1]}"
    if symbol == "^" and len(args) == 1 and hasattr(node.op, "p"):
        return f"{args[0]}^{node.op.p:g}"
    if symbol == "neg" and len(args) == 1:
        return f"-{args[0]}"
    if symbol == "T" and len(args) == 1:
        return f"{args[0]}^T"
    if symbol == "[]" and len(args) == 1:
        return f"{args[0]}[...]"
    return f"{symbol}({', '.join(args)})"


_DERIVATIVE = re.compile(r"\bd([xyz])(_[a-z])?/d([xyz])(_[a-z])?\b")
_VARIABLE = re.compile(r"(?<![A-Za-z_])([xyz])(?![A-Za-z_(])")


def local_derivatives(node) -> tuple:
    """The gate's local derivatives written with this node's names.

    Gates state them for ``z = f(x, y)``; here ``z`` becomes the node and ``x``,
    ``y`` its inputs, so at ``q = x + y`` a student reads ``dq/dx = 1`` and at
    ``f = q * z`` reads ``df/dq = z``, not the generic ``dz/dx = y``. Gates
    written in other letters (``Z = X @ W``, the convolutions) keep theirs.
    """
    gate = node.gate
    if gate is None:
        return ()
    local, formula = gate.local, gate.formula
    if not (formula.startswith("z = ") or all(line.startswith("dz/dx") for line in local)):
        return local
    names = {"z": node.name}
    for letter, parent in zip("xy", node.parents):
        names[letter] = parent.name
    text = "\n".join(local)
    if "y" in _VARIABLE.findall(text) and "y" not in names:
        return local  # a gate using y with one input: keep its own words

    def derivative(m):
        out, sub_out, inp, sub_in = m.groups()
        return f"d{names[out]}{sub_out or ''}/d{names[inp]}{sub_in or ''}"

    def variable(m):
        name = names.get(m.group(1), m.group(1))
        before = text[m.start() - 1] if m.start() else ""
        return ("·" if before.isdigit() else "") + name

    text = _DERIVATIVE.sub(derivative, text)
    text = _VARIABLE.sub(variable, text)
    for constant in ("p", "alpha"):  # Power's exponent, LeakyReLU's slope
        value = getattr(node.op, constant, None)
        if isinstance(value, (int, float)):
            text = re.sub(rf"\b{constant}\b", format(value, "g"), text)
    return tuple(text.split("\n"))


class Step:
    """One step: ``index``, ``phase`` (``"forward"``/``"backward"``), ``kind``
    (``"leaf"`` or ``"gate"`` forward; ``"seed"`` or ``"gate"`` backward) and
    ``node`` (whose value appears, or whose gate back-propagates).

    ``completes`` lists the nodes whose gradient is complete after this step.
    ``text`` is a one-line description with the graph's current values (the
    chain-rule lines of a backward step: :func:`~gradgraph.graph.ledger.step_ledger`).
    """

    __slots__ = ("graph", "index", "phase", "kind", "node", "completes")

    def __init__(self, graph, index: int, phase: str, kind: str, node):
        self.graph = graph
        self.index = index
        self.phase = phase
        self.kind = kind
        self.node = node
        self.completes: list = []

    @property
    def text(self) -> str:
        return self.describe()

    def describe(self, fmt=fmt_value) -> str:
        """:attr:`text` with each value written by ``fmt`` (a view that shows the matrices of a
        small tensor below its header passes one that only names their shape)."""
        node, graph = self.node, self.graph
        out = graph.output.name
        if self.phase == "forward":
            value = fmt(graph.value(node))
            if self.kind == "leaf":
                return f"{node.name} = {value}" + ("" if node.kind == "input" else f"   ({node.kind})")
            return f"{node.name} = {expression(node)} = {value}"
        if self.kind == "seed":
            return f"d{out}/d{out} = {fmt(graph.seed)}   (the seed: the output's gradient with respect to itself)"
        upstream = fmt(graph.grad(node))
        return f"back through {node.name} = {expression(node)}, upstream d{out}/d{node.name} = {upstream}"

    def __repr__(self) -> str:
        return f"Step({self.index}, {self.phase} {self.kind}, {self.node.name})"


def _plan(graph) -> tuple:
    """The steps of a graph, the step back-propagating through each gate node and the
    step after which each node's gradient is complete (``None``: never, no gradient)."""
    n = len(graph.nodes)
    steps = [Step(graph, i, "forward", "leaf" if node.op is None else "gate", node)
             for i, node in enumerate(graph.nodes)]
    backward = [None] * n
    if graph.output.requires_grad:
        steps.append(Step(graph, n, "backward", "seed", graph.output))
        for node in reversed(graph.nodes):
            if node.op is not None:
                backward[node.index] = len(steps)
                steps.append(Step(graph, len(steps), "backward", "gate", node))
    complete = [None] * n
    if graph.output.requires_grad:
        complete[n - 1] = n
    for node in graph.nodes[:-1]:
        if node.requires_grad and node.children:
            complete[node.index] = max(backward[c.index] for c in node.children)
    for i, s in enumerate(complete):
        if s is not None:
            steps[s].completes.append(graph.nodes[i])
    return steps, backward, complete


@dataclass(frozen=True)
class StepperEvent:
    """What subscribers receive: ``kind`` is ``"position"`` (the position moved,
    from ``previous`` to ``position``) or ``"values"`` (the graph's values changed,
    e.g. after ``graph.set_value``); ``step`` is the current step."""

    kind: str
    position: int
    previous: int
    step: Step | None


class Stepper:
    """A position in the list of steps of a :class:`Graph`, with undo for free.

    ``Stepper(graph)`` (a Tensor is accepted too and wrapped in a Graph).
    ``steps`` lists every step: a forward step per node (leaves first, the
    output last), then the backward steps: the seed (d output/d output = 1)
    and one step per gate in reverse topological order.
    """

    def __init__(self, graph):
        if not isinstance(graph, Graph):
            graph = Graph(graph)
        self.graph = graph
        self.steps, self._backward_step, self._complete_step = _plan(graph)
        never = len(self.steps) + 1
        self._complete_array = np.array([never if s is None else s for s in self._complete_step], dtype=np.int64)
        self._position = 0
        self._listeners: list = []
        self._unsubscribe = graph.subscribe(_weak_callback(self))
        weakref.finalize(self, self._unsubscribe)

    # -- where we are ------------------------------------------------------------------
    @property
    def position(self) -> int:
        """How many steps are done (0 .. len)."""
        return self._position

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def backward_start(self) -> int:
        """The position where the forward pass is complete and the backward pass begins
        (= the number of nodes)."""
        return len(self.graph.nodes)

    @property
    def current(self) -> Step | None:
        """The step done last (``None`` at position 0)."""
        return self.steps[self._position - 1] if self._position else None

    @property
    def phase(self) -> str:
        """``"forward"`` until the first backward step is done, then ``"backward"``."""
        return "backward" if self._position > self.backward_start else "forward"

    @property
    def at_end(self) -> bool:
        return self._position == len(self.steps)

    # -- moving ---------------------------------------------------------------------------
    def _do(self, step: Step) -> None:
        """The work of one step, on the graph's caches (nothing if already cached)."""
        if step.phase == "forward":
            self.graph.value(step.node)
        elif step.kind == "gate":
            self.graph.contributions(step.node)

    def step(self) -> Step | None:
        """Do the next step; returns it (``None`` at the end)."""
        if self._position >= len(self.steps):
            return None
        step = self.steps[self._position]
        self._do(step)
        self._move(self._position + 1)
        return step

    def back(self) -> Step | None:
        """Undo the last step; returns the step undone (``None`` at the start)."""
        if self._position == 0:
            return None
        step = self.steps[self._position - 1]
        self._move(self._position - 1)
        return step

    def seek(self, position: int) -> Step | None:
        """Go to ``position`` (clamped to 0 .. len), doing the steps in between."""
        position = max(0, min(len(self.steps), int(position)))
        for k in range(self._position, position):
            self._do(self.steps[k])
        self._move(position)
        return self.current

    def reset(self) -> None:
        """Back to position 0."""
        self.seek(0)

    def run_to_end(self) -> None:
        """Do every remaining step."""
        self.seek(len(self.steps))

    def replay(self) -> None:
        """Recompute everything the current position shows (after ``graph.set_value``,
        values are otherwise recomputed lazily, when they are read)."""
        for k in range(self._position):
            self._do(self.steps[k])

    def _move(self, position: int) -> None:
        previous, self._position = self._position, position
        if previous != position and self._listeners:
            self._emit(StepperEvent("position", position, previous, self.current))

    # -- what is known --------------------------------------------------------------------
    def value_known(self, node) -> bool:
        """Has this node's value been computed at the current position?"""
        return self._position > self.graph.node(node).index

    def grad_known(self, node) -> bool:
        """Is this node's gradient complete (every child has sent its contribution)?"""
        s = self._complete_step[self.graph.node(node).index]
        return s is not None and self._position > s

    def _sent(self, edge) -> bool:
        """Has the gradient crossed ``edge`` (its target's gate has back-propagated)?"""
        back = self._backward_step[edge.target.index]
        return back is not None and self._position > back

    def grad_state(self, node) -> str:
        """``"known"`` (complete), ``"partial"`` (some contributions arrived),
        ``"unknown"`` (none yet) or ``"none"`` (a constant: no gradient needed)."""
        node = self.graph.node(node)
        complete = self._complete_step[node.index]
        if complete is None:
            return "none"
        if self._position > complete:
            return "known"
        return "partial" if any(self._sent(e) for e in node.out_edges) else "unknown"

    def known_values(self) -> np.ndarray:
        """A boolean array over ``graph.nodes``: value known?"""
        return np.arange(len(self.graph.nodes)) < self._position

    def known_grads(self) -> np.ndarray:
        """A boolean array over ``graph.nodes``: gradient complete?"""
        return self._complete_array < self._position

    def edge_known(self, edge) -> tuple:
        """``(value crossed, gradient crossed)`` for a graph Edge at this position."""
        return self._position > edge.target.index, self._sent(edge)

    def value(self, node):
        """The node's value if known at this position, else ``None`` (an array)."""
        node = self.graph.node(node)
        return self.graph.value(node) if self._position > node.index else None

    def grad(self, node):
        """The gradient at this position: complete, partial (the contributions that
        have arrived so far, summed) or ``None``."""
        node = self.graph.node(node)
        state = self.grad_state(node)
        if state == "known":
            return self.graph.grad(node)
        if state != "partial":
            return None
        total = None
        for edge in node.out_edges:
            if self._sent(edge):
                g = self.graph.contributions(edge.target)[edge.slot]
                if g is not None:
                    total = g if total is None else total + g
        return total

    # -- observers --------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(StepperEvent)`` on every change; returns an unsubscribe function."""
        self._listeners.append(callback)

        def unsubscribe():
            if callback in self._listeners:
                self._listeners.remove(callback)
        return unsubscribe

    def _emit(self, event: StepperEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    def _on_graph_event(self, event) -> None:
        self._emit(StepperEvent("values", self._position, self._position, self.current))

    def close(self) -> None:
        """Stop listening to the graph and drop all subscribers."""
        self._unsubscribe()
        self._listeners.clear()

    def __repr__(self) -> str:
        current = f", current {self.current!r}" if self.current is not None else ""
        return f"Stepper(position {self._position}/{len(self.steps)}, {self.phase}{current})"


def _weak_callback(stepper: Stepper):
    """A graph listener that forwards to ``stepper`` while it lives: the graph must not keep
    a stepper nobody uses alive (the stepper unsubscribes when it is collected)."""
    ref = weakref.ref(stepper)

    def on_graph_event(event):
        alive = ref()
        if alive is not None:
            alive._on_graph_event(event)
    return on_graph_event


__all__ = ["Step", "Stepper", "StepperEvent", "expression", "local_derivatives"]
