"""Stepping through the forward and the backward pass, one gate at a time.

    graph = gg.Graph(f)
    stepper = graph.stepper()          # or gg.Stepper(graph)
    stepper.step()                     # x appears
    stepper.seek(stepper.backward_start)   # all values known
    stepper.step()                     # the seed: df/df = 1
    stepper.step()                     # back through f = q * z
    print(stepper.current.ledger.text) # df/dq = df/df · df/dq = 1 · -4 = -4 ...

Positions run from 0 (nothing computed) to ``len(stepper)`` (everything).
Position ``p`` means the first ``p`` steps are done; ``current`` is step
``p - 1``. The steps (see :meth:`Graph.steps`):

====================  ==================================================
``0 .. N-1``          forward: node ``i`` gets its value (leaves first)
``N`` (backward_start) backward seed: d output / d output = 1
``N+1 ..``            backward through each gate, output first
====================  ==================================================

A step does the work of its own gate only (the graph caches each result), so
``back()`` and ``seek()`` to an earlier position cost nothing. If a gate's
``forward`` or ``backward`` raises (a student's unfinished gate), ``step()``
raises that error and the position does not change. The stepper
keeps no numbers of its own: it asks the graph, which never touches the
tensors' ``.grad``. Observers (``subscribe``) are plain Python callables.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .fmt import fmt_value

_INFIX = {"+", "-", "*", "/", "@"}


def expression(node) -> str:
    """The right-hand side of a node's forward formula with its inputs' names:
    ``x + y``, ``relu(h)``, ``q^2``, ``max(x, y)``."""
    if node.op is None:
        return node.name
    args = [p.name for p in node.parents]
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
    local = tuple(getattr(gate, "local", ()) or ())
    formula = getattr(gate, "formula", "") or ""
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
    ``text`` is a one-line description and ``ledger`` the chain-rule lines of
    a backward step (empty for a forward step), both with the graph's current
    values.
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
    def is_forward(self) -> bool:
        return self.phase == "forward"

    @property
    def text(self) -> str:
        node, graph = self.node, self.graph
        out = graph.output.name
        if self.phase == "forward":
            value = fmt_value(graph.value(node.index))
            if self.kind == "leaf":
                return f"{node.name} = {value}" + ("" if node.kind == "input" else f"   ({node.kind})")
            return f"{node.name} = {expression(node)} = {value}"
        if self.kind == "seed":
            return f"d{out}/d{out} = {fmt_value(graph.seed)}   (the seed: the output's gradient with respect to itself)"
        upstream = fmt_value(graph.grad(node.index))
        return f"back through {node.name} = {expression(node)}, upstream d{out}/d{node.name} = {upstream}"

    @property
    def ledger(self):
        from .ledger import step_ledger

        return step_ledger(self)

    def __repr__(self) -> str:
        return f"Step({self.index}, {self.phase} {self.kind}, {self.node.name})"


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
    """

    def __init__(self, graph):
        from .graph import Graph

        if not isinstance(graph, Graph):
            graph = Graph(graph)
        self.graph = graph
        self.steps: list = graph.steps()
        self._position = 0
        self._listeners: list = []
        graph._steppers.add(self)

    # -- where we are ------------------------------------------------------------------
    @property
    def position(self) -> int:
        """How many steps are done (0 .. len)."""
        return self._position

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def len(self) -> int:
        """The number of steps (also ``len(stepper)``)."""
        return len(self.steps)

    length = len

    @property
    def backward_start(self) -> int:
        """The position where the forward pass is complete and the backward pass begins."""
        return self.graph.backward_start

    @property
    def current(self) -> Step | None:
        """The step done last (``None`` at position 0)."""
        return self.steps[self._position - 1] if self._position else None

    @property
    def next(self) -> Step | None:
        """The step ``step()`` would do (``None`` at the end)."""
        return self.steps[self._position] if self._position < len(self.steps) else None

    @property
    def phase(self) -> str:
        """``"forward"`` until the first backward step is done, then ``"backward"``."""
        return "backward" if self._position > self.backward_start else "forward"

    @property
    def at_start(self) -> bool:
        return self._position == 0

    @property
    def at_end(self) -> bool:
        return self._position == len(self.steps)

    # -- moving ---------------------------------------------------------------------------
    def _do(self, step: Step) -> None:
        """The work of one step, on the graph's caches (nothing if already cached)."""
        graph, i = step.graph, step.node.index
        if step.phase == "forward":
            graph.value(i)
        elif step.kind == "seed":
            graph.grad(i)
        else:
            graph.contributions(i)

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

    def run_forward(self) -> None:
        """Go to the end of the forward pass (the start of the backward pass)."""
        self.seek(self.backward_start)

    def replay(self) -> None:
        """Recompute everything the current position shows (after ``graph.set_value``,
        values are otherwise recomputed lazily, when they are read)."""
        for k in range(self._position):
            self._do(self.steps[k])

    def _move(self, position: int) -> None:
        previous, self._position = self._position, position
        if previous != position:
            self._emit(StepperEvent("position", position, previous, self.current))

    # -- what is known --------------------------------------------------------------------
    def value_known(self, node) -> bool:
        """Has this node's value been computed at the current position?"""
        return self._position > self.graph._index(node)

    def grad_known(self, node) -> bool:
        """Is this node's gradient complete (every child has sent its contribution)?"""
        self.graph.steps()
        s = self.graph._complete_step[self.graph._index(node)]
        return s is not None and self._position > s

    def grad_state(self, node) -> str:
        """``"known"`` (complete), ``"partial"`` (some contributions arrived),
        ``"unknown"`` (none yet) or ``"none"`` (a constant: no gradient needed)."""
        graph = self.graph
        i = graph._index(node)
        graph.steps()
        if graph._complete_step[i] is None:
            return "none"
        if self._position > graph._complete_step[i]:
            return "known"
        if any(graph._bwd_step[c] is not None and self._position > graph._bwd_step[c] for c, _ in graph._kids[i]):
            return "partial"
        return "unknown"

    def known_values(self) -> np.ndarray:
        """A boolean array over ``graph.nodes``: value known?"""
        return np.arange(len(self.graph.nodes)) < self._position

    def known_grads(self) -> np.ndarray:
        """A boolean array over ``graph.nodes``: gradient complete?"""
        self.graph.steps()
        return self.graph._complete_array < self._position

    def edge_known(self, edge) -> tuple:
        """``(value crossed, gradient crossed)`` for a graph Edge at this position."""
        graph = self.graph
        graph.steps()
        target = edge.target.index
        back = graph._bwd_step[target]
        return self._position > target, back is not None and self._position > back

    def value(self, node):
        """The node's value if known at this position, else ``None`` (an array)."""
        i = self.graph._index(node)
        return self.graph.value(i) if self._position > i else None

    def grad(self, node):
        """The gradient at this position: complete, partial (the contributions that
        have arrived so far, summed) or ``None``."""
        graph = self.graph
        i = graph._index(node)
        state = self.grad_state(i)
        if state == "known":
            return graph.grad(i)
        if state != "partial":
            return None
        total = None
        for c, slot in graph._kids[i]:
            if graph._bwd_step[c] is not None and self._position > graph._bwd_step[c]:
                g = graph.contributions(c)[slot]
                if g is not None:
                    total = g if total is None else total + g
        return total

    # -- the chain-rule ledger -------------------------------------------------------------
    def ledger(self):
        """The ledger lines of the current step (empty during the forward pass)."""
        from .ledger import Ledger

        step = self.current
        return step.ledger if step is not None else Ledger()

    def full_ledger(self):
        """Every ledger line of the backward steps done so far."""
        from .ledger import Ledger

        lines = Ledger()
        for step in self.steps[self.backward_start:self._position]:
            lines.extend(step.ledger)
        return lines

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
        self.graph._steppers.discard(self)
        self._listeners.clear()

    def __repr__(self) -> str:
        current = f", current {self.current!r}" if self.current is not None else ""
        return f"Stepper(position {self._position}/{len(self.steps)}, {self.phase}{current})"


def describe_position(stepper: Stepper) -> str:
    """``step 5/8 · backward · f = q * z``: a status line for views."""
    step = stepper.current
    where = f" · {step.node.name}" if step is not None else ""
    return f"step {stepper.position}/{len(stepper)} · {stepper.phase}{where}"


__all__ = ["Step", "Stepper", "StepperEvent", "describe_position", "expression", "local_derivatives"]
