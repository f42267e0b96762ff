"""The chain-rule ledger: what each backward step computes, written out.

Every backward step through a gate sends one gradient to each of its inputs,
and each of those is *upstream gradient × local gradient*::

    df/dq = df/df · df/dq = 1 · -4 = -4
    df/dz = df/df · df/dz = 1 · 3 = 3

Where a value is used more than once, its gradient is the sum of what each
use sends back; the ledger shows the sum when the last part arrives::

    df/dx = 2 + 3 = 5

A small tensor (see :func:`~gradgraph.graph.fmt.is_small`) is written out in
full below its line, as the formula with its operands: a matmul step reads
``dL/dW = Xᵀ · dL/dY`` with the three matrices, an elementwise step
``dL/dY = dL/dH ⊙ dH/dY`` with the elementwise product. Larger tensors are
replaced by the shape and three statistics (mean, largest magnitude, L2 norm),
with the gate's local-gradient formula.

Each line is a :class:`LedgerLine` (structured: the names and numbers a view
needs) with its ``text``; a :class:`Ledger` is a list of lines with a ``.text``.

    ledger(graph)              # the whole backward pass
    ledger(stepper)            # the backward steps done so far
    step_ledger(step)          # the lines one step writes (e.g. stepper.current)
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .fmt import as_float, fmt_number, fmt_value, is_scalar, is_small, side_by_side
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
    ``operands``      for small tensors: the formula's terms, ``(label, array)`` blocks
                      and operator strings, as :func:`~gradgraph.graph.fmt.side_by_side`
                      takes them (``text`` holds them drawn below the first line).
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
    operands: tuple = ()

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
        operands = ()
        if local is not None and is_scalar(upstream) and is_scalar(g):
            text = f"{chain} = {fmt_number(as_float(upstream))} · {fmt_number(local)} = {fmt_number(as_float(g))}"
        elif is_small(g):
            chain, operands = _written_out(graph, node, slot, upstream, g, out)
            text = chain + (f"   [{formula}]" if formula else "")
        else:
            text = f"{chain} = {fmt_value(g)}" + (f"   [{formula}]" if formula else "")
        if counts[parent.index] > 1:
            text += f"   ({parent.name} is input {slot + 1} of {node.name})"
        if operands:
            text += "".join("\n  " + row for row in side_by_side(operands))
        lines.append(LedgerLine("edge", parent.name, node.name, _natural(upstream), local, _natural(g), text,
                                slot=slot, local_formula=formula, step=step.index, operands=operands))

    for done in step.completes:
        terms, sources = _terms(graph, done)
        if len(terms) < 2:
            continue
        total = graph.grad(done)
        operands = ()
        if all(is_scalar(t) for t in terms):
            shown = " + ".join(fmt_number(as_float(t)) for t in terms)
            text = f"d{out}/d{done.name} = {shown} = {fmt_number(as_float(total))}"
        elif is_small(total):
            text = f"d{out}/d{done.name} = the sum of the {len(terms)} contributions (from {', '.join(sources)})"
            operands = _sum_operands(terms, sources, total, f"d{out}/d{done.name}")
            text += "".join("\n  " + row for row in side_by_side(operands))
        else:
            text = f"d{out}/d{done.name} = sum of {len(terms)} contributions = {fmt_value(total)}"
        lines.append(LedgerLine("sum", done.name, None, None, None, _natural(total), text,
                                terms=tuple(_natural(t) for t in terms), sources=tuple(sources), step=step.index,
                                operands=operands))
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


# -- small tensors written out -------------------------------------------------------------

def _written_out(graph, node, slot, upstream, contribution, out) -> tuple:
    """``(formula, operands)`` of one edge whose gradient is a small tensor: the matmul
    rule with its matrices, the elementwise product, or upstream -> contribution."""
    parent = node.parents[slot]
    d_node, d_parent = f"d{out}/d{node.name}", f"d{out}/d{parent.name}"
    shape = np.shape(graph.value(node.index))
    if node.gate == "MatMul" and len(node.parents) == 2 and np.ndim(upstream) == 2 \
            and all(np.ndim(graph.value(p.index)) == 2 for p in node.parents):
        x, w = node.parents
        if slot == 0:  # Z = X @ W:  dL/dX = dL/dZ · Wᵀ
            return (f"{d_parent} = {d_node} · {w.name}ᵀ",
                    ((d_node, upstream), "·", (f"{w.name}ᵀ", graph.value(w.index).T), "=", (d_parent, contribution)))
        return (f"{d_parent} = {x.name}ᵀ · {d_node}",    # dL/dW = Xᵀ · dL/dZ
                ((f"{x.name}ᵀ", graph.value(x.index).T), "·", (d_node, upstream), "=", (d_parent, contribution)))
    local = _elementwise_local(graph, node, slot) if np.shape(upstream) == shape else None
    if local is not None:
        d_local = f"d{node.name}/d{parent.name}"
        terms = ((d_node, upstream), "⊙", (d_local, local))
        if np.shape(contribution) == shape:
            return f"{d_parent} = {d_node} ⊙ {d_local}", terms + ("=", (d_parent, contribution))
        return (f"{d_parent} = {d_node} ⊙ {d_local}, summed over the broadcast axes",
                terms + ("→ Σ →", (d_parent, contribution)))
    chain = f"{d_parent} = {d_node} · d{node.name}/d{parent.name}"
    if is_scalar(upstream) or is_small(upstream):
        return chain, ((d_node, upstream), "→", (d_parent, contribution))
    return chain, ((d_parent, contribution),)


def _elementwise_gates() -> frozenset:
    from ..gate import Gate
    from ..ops import elementwise

    return frozenset(name for name, cls in vars(elementwise).items()
                     if isinstance(cls, type) and issubclass(cls, Gate) and not name.startswith("_"))


_ELEMENTWISE = None


def _elementwise_local(graph, node, slot):
    """The local derivatives d node / d input ``slot``, element by element, for an
    elementwise gate (else ``None``): the gate's backward with ``d_out = 1`` on a copy
    of the gate given its inputs broadcast to the output's shape."""
    global _ELEMENTWISE
    if _ELEMENTWISE is None:
        _ELEMENTWISE = _elementwise_gates()
    if node.gate not in _ELEMENTWISE:
        return None
    shape = np.shape(graph.value(node.index))
    inputs = [np.broadcast_to(graph.value(p.index), shape).copy() for p in node.parents]
    gate = copy.copy(node.op)
    try:  # a student's gate may be unfinished: then the line shows no local gradient
        gate.forward(*inputs)
        gate.needs_grad = tuple(True for _ in inputs)
        grads = gate.backward(np.ones(shape, dtype=inputs[slot].dtype))
    except Exception:  # noqa: BLE001 - whatever the student's code raises, the ledger still prints
        return None
    grads = grads if isinstance(grads, (tuple, list)) else (grads,)
    if slot >= len(grads) or grads[slot] is None or np.shape(grads[slot]) != shape:
        return None
    return np.asarray(grads[slot])


def _sum_operands(terms, sources, total, label) -> tuple:
    """``a + b + ... = total`` as blocks, each term labelled with the gate it came from."""
    operands: list = []
    for k, (term, source) in enumerate(zip(terms, sources)):
        if k:
            operands.append("+")
        operands.append((f"via {source}", term))
    return tuple(operands) + ("=", (label, total))


# -- one entry of a gradient -----------------------------------------------------------------

def element_terms(graph, key, index) -> list:
    """The contributions that sum into one entry of a node's gradient, as lines of text.

    For ``W`` in ``Z = X @ W``: ``dL/dW[i, j] = Σ_n X[n, i] · dL/dZ[n, j]`` with every
    product written out; for an elementwise gate (broadcast included) the upstream entry
    times the local derivative, summed over the broadcast positions; for any other gate
    the entry of what it sends back. Several gates using the node: one part each, then
    their sum.
    """
    node = graph.node(key)
    out = graph.output.name
    index = tuple(int(k) for k in np.atleast_1d(index))
    grad = graph.grad(node.index)
    if grad is None:
        return [f"{node.name} is a constant: it gets no gradient"]
    where = ", ".join(map(str, index))
    lines = [f"d{out}/d{node.name}[{where}] = {fmt_number(float(np.asarray(grad)[index]))}, made of:"]
    parts = []
    for child in node.children:
        for slot, parent in enumerate(child.parents):
            if parent is not node:
                continue
            sent = graph.contributions(child.index)[slot]
            if sent is None:
                continue
            part = float(np.asarray(sent)[index])
            parts.append(part)
            lines.append(f"  via {child.name}: {fmt_number(part)}")
            lines.extend("    " + text for text in _products(graph, child, slot, index, out))
    if len(parts) > 1:
        lines.append("  sum: " + " + ".join(fmt_number(p) for p in parts) + f" = {fmt_number(sum(parts))}")
    if node.index == len(graph.nodes) - 1:
        lines.append("  the seed: d{0}/d{0} = 1".format(out))
    return lines


def _products(graph, gate_node, slot, index, out, limit: int = 12) -> list:
    """The products that one gate sums into one entry it sends back (at most ``limit``)."""
    upstream = graph.grad(gate_node.index)
    d_node = f"d{out}/d{gate_node.name}"
    if gate_node.gate == "MatMul" and np.ndim(upstream) == 2 and \
            all(np.ndim(graph.value(p.index)) == 2 for p in gate_node.parents):
        x, w = gate_node.parents
        xv, wv = graph.value(x.index), graph.value(w.index)
        if slot == 1:   # dW[i, j] = Σ_n X[n, i] · dZ[n, j]
            i, j = index
            pairs = [(f"{x.name}[{n},{i}]·{d_node}[{n},{j}]", xv[n, i], upstream[n, j]) for n in range(xv.shape[0])]
        else:           # dX[n, i] = Σ_j dZ[n, j] · W[i, j]
            n, i = index
            pairs = [(f"{d_node}[{n},{j}]·{w.name}[{i},{j}]", upstream[n, j], wv[i, j]) for j in range(wv.shape[1])]
        return _sum_of_products(pairs, limit)
    local = _elementwise_local(graph, gate_node, slot)
    if local is not None:
        parent_shape = np.shape(graph.value(gate_node.parents[slot].index))
        positions = [p for p in np.ndindex(*np.shape(upstream))
                     if _reduces_to(p, np.shape(upstream), parent_shape) == index]
        d_local = f"d{gate_node.name}/d{gate_node.parents[slot].name}"
        pairs = [(f"{d_node}[{','.join(map(str, p))}]·{d_local}[{','.join(map(str, p))}]", upstream[p], local[p])
                 for p in positions]
        return _sum_of_products(pairs, limit)
    return []


def _reduces_to(position, shape, parent_shape) -> tuple:
    """Where an entry of a broadcast result comes from in the (smaller) input."""
    offset = len(shape) - len(parent_shape)
    return tuple(0 if parent_shape[k] == 1 else position[k + offset] for k in range(len(parent_shape)))


def _sum_of_products(pairs, limit) -> list:
    if not pairs:
        return []
    names = " + ".join(name for name, _, _ in pairs[:limit]) + (" + …" if len(pairs) > limit else "")
    def factor(v) -> str:
        return f"({fmt_number(v)})" if float(v) < 0 else fmt_number(v)

    numbers = " + ".join(f"{factor(a)}·{factor(b)}" for _, a, b in pairs[:limit])
    total = sum(float(a) * float(b) for _, a, b in pairs)
    return [f"= {names}", f"= {numbers}" + (" + …" if len(pairs) > limit else "") + f" = {fmt_number(total)}"]
