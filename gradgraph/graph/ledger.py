"""The chain-rule ledger: what each backward step computes, written out.

Every backward step through a gate sends one gradient to each of its inputs,
and each of those is *upstream gradient × local gradient*::

    df/dq = df/df · df/dq = 1 · -4 = -4
    df/dz = df/df · df/dz = 1 · 3 = 3

Where a value is used more than once, its gradient is the sum of what each
use sends back; the ledger shows the sum when the last part arrives::

    df/dx = 2 + 3 = 5

For tensors the numbers are replaced by the shape and three statistics (mean,
largest magnitude, L2 norm), with the gate's local-gradient formula.

Each line is a :class:`LedgerLine` (structured: the names and numbers a view
needs) with its ``text``; a :class:`Ledger` is a list of lines with a ``.text``.

    ledger(graph)              # the whole backward pass
    ledger(stepper)            # the backward steps done so far
    step_ledger(step)          # the lines one step writes (e.g. stepper.current)
"""
from __future__ import annotations

from dataclasses import dataclass

from .fmt import as_float, fmt_number, fmt_value, is_scalar
from .stepper import Stepper


@dataclass
class LedgerLine:
    """One line of the ledger.

    ``kind``          ``"seed"`` (d out/d out = 1), ``"edge"`` (upstream × local =
                      contribution, for one input of one gate) or ``"sum"`` (a node's
                      complete gradient, the sum of several contributions).
    ``target``        name of the node receiving the gradient.
    ``via``           name of the gate node it comes back through (``None`` for seed/sum).
    ``upstream``      d out/d via (a float for one element, else an array).
    ``local``         d via/d target as a float when both are single numbers, else None
                      (see ``local_formula``).
    ``contribution``  what arrives at ``target`` along this edge (for a sum line: the total).
    ``text``          the line as printed.
    ``slot``          which input of ``via``'s gate ``target`` is (0-based).
    ``local_formula`` the gate's formula for this local gradient, e.g. ``"dz/dx = y"``.
    ``terms``         for a sum line: the contributions added up, in arrival order.
    ``sources``       for a sum line: the names of the gate nodes they came from.
    ``step``          index of the step that wrote this line.
    """

    kind: str
    target: str
    via: str | None
    upstream: object
    local: float | None
    contribution: object
    text: str
    slot: int | None = None
    local_formula: str = ""
    terms: tuple = ()
    sources: tuple = ()
    step: int | None = None

    def __str__(self) -> str:
        return self.text


class Ledger(list):
    """A list of :class:`LedgerLine`; ``.text`` joins them, one per line."""

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self)

    def __str__(self) -> str:
        return self.text


def _natural(array):
    if array is None:
        return None
    return as_float(array) if is_scalar(array) else array


def ledger(source) -> Ledger:
    """The chain-rule lines of a Graph's whole backward pass, or of the backward
    steps a Stepper has done so far."""
    stepper = source if isinstance(source, Stepper) else Stepper(source)
    end = stepper.position if stepper is source else len(stepper)
    lines = Ledger()
    for step in stepper.steps[stepper.backward_start:end]:
        lines.extend(step_ledger(step))
    return lines


def step_ledger(step) -> Ledger:
    """The ledger lines written by one step (none for a forward step or ``None``)."""
    lines = Ledger()
    if step is None or step.phase == "forward":
        return lines
    graph = step.graph
    out = graph.output.name
    if step.kind == "seed":
        lines.append(LedgerLine("seed", out, None, None, None, _natural(graph.seed),
                                f"d{out}/d{out} = {fmt_value(graph.seed)}", step=step.index))
        return lines

    node = step.node
    upstream = graph.grad(node)
    contributions = graph.contributions(node)
    counts: dict = {}
    for p in node.parents:
        counts[p.index] = counts.get(p.index, 0) + 1
    for slot, parent in enumerate(node.parents):
        g = contributions[slot]
        if g is None:
            continue
        local = graph.local_gradient(node, slot)
        formula = node.local[slot] if slot < len(node.local) else ""
        chain = f"d{out}/d{parent.name} = d{out}/d{node.name} · d{node.name}/d{parent.name}"
        if local is not None and is_scalar(upstream) and is_scalar(g):
            text = f"{chain} = {fmt_number(as_float(upstream))} · {fmt_number(local)} = {fmt_number(as_float(g))}"
        else:
            text = f"{chain} = {fmt_value(g)}" + (f"   [{formula}]" if formula else "")
        if counts[parent.index] > 1:
            text += f"   ({parent.name} is input {slot + 1} of {node.name})"
        lines.append(LedgerLine("edge", parent.name, node.name, _natural(upstream), local, _natural(g), text,
                                slot=slot, local_formula=formula, step=step.index))

    for done in step.completes:
        terms, sources = _terms(graph, done)
        if len(terms) < 2:
            continue
        total = graph.grad(done)
        if all(is_scalar(t) for t in terms):
            shown = " + ".join(fmt_number(as_float(t)) for t in terms)
            text = f"d{out}/d{done.name} = {shown} = {fmt_number(as_float(total))}"
        else:
            text = f"d{out}/d{done.name} = sum of {len(terms)} contributions = {fmt_value(total)}"
        lines.append(LedgerLine("sum", done.name, None, None, None, _natural(total), text,
                                terms=tuple(_natural(t) for t in terms), sources=tuple(sources), step=step.index))
    return lines


def _terms(graph, node) -> tuple:
    """The contributions that make up a node's gradient, in the order they arrive
    (the backward pass visits the gates from the last node back)."""
    terms, sources = [], []
    if node is graph.output:
        terms.append(graph.seed)
        sources.append(node.name)
    for edge in sorted(node.out_edges, key=lambda e: (-e.target.index, e.slot)):
        g = graph.contributions(edge.target)[edge.slot]
        if g is not None:
            terms.append(g)
            sources.append(edge.target.name)
    return terms, sources
