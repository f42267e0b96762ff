"""A small, Qt-free stand-in for ``gradgraph.graph`` (Graph, Stepper, layout).

The app prefers the engine's own :mod:`gradgraph.graph`; this module is only
used when that package does not provide ``Graph`` (e.g. an older engine). It
uses nothing but public engine APIs: ``Tensor.data/.gate/.parents/.group``,
``topological_order`` and ``Gate.forward/backward``.

Positions of the stepper::

    0                      leaves known, no gate computed
    1 .. F                 forward: gate k computed (topological order)
    F (= backward_start)   forward done
    F+1                    seed dL/dL = 1 at the output
    F+1+k                  backward through the k-th gate (reverse order)
"""
from __future__ import annotations

import numpy as np


class Node:
    __slots__ = ("index", "tensor", "name", "gate", "kind", "parents", "children", "group",
                 "value", "grad")

    def __init__(self, index, tensor, name):
        self.index = index
        self.tensor = tensor
        self.name = name
        self.gate = tensor.gate
        self.kind = tensor.kind
        self.group = tensor.group
        self.parents: list = []
        self.children: list = []
        self.value = tensor.data
        self.grad = None

    @property
    def shape(self):
        return tuple(np.shape(self.value))

    def __repr__(self):
        return f"Node({self.name})"


def _fmt(x) -> str:
    a = np.asarray(x)
    if a.size == 1:
        return f"{float(a.reshape(-1)[0]):.4g}"
    return f"[{a.shape and 'x'.join(map(str, a.shape))} |{float(np.linalg.norm(a)):.3g}|]"


class Graph:
    def __init__(self, output):
        from gradgraph import topological_order

        self.output_tensor = output
        tensors = topological_order(output)
        counts: dict = {}
        self.nodes: list[Node] = []
        by_id = {}
        for i, t in enumerate(tensors):
            if t.name:
                name = t.name
            elif t.gate is not None:
                stem = t.gate.short_name
                counts[stem] = counts.get(stem, 0) + 1
                name = f"{stem}_{counts[stem]}"
            else:
                counts["const"] = counts.get("const", 0) + 1
                name = f"c{counts['const']}"
            node = Node(i, t, name)
            by_id[id(t)] = node
            self.nodes.append(node)
        for node in self.nodes:
            node.parents = [by_id[id(p)] for p in node.tensor.parents]
            for p in node.parents:
                p.children.append(node)
        self.output = self.nodes[-1]
        self.gates = [n for n in self.nodes if n.gate is not None]
        self._compute_backward()

    # -- model ---------------------------------------------------------------
    def _forward(self):
        for n in self.gates:
            n.value = n.tensor.data = np.asarray(n.gate.forward(*(p.value for p in n.parents)))

    def _compute_backward(self):
        self.ledger_steps = []  # per gate (reverse order): (node, lines, touched)
        grads = {self.output.index: np.ones_like(self.output.value, dtype=np.float64)}
        for n in self.nodes:
            n.grad = None
        self.output.grad = grads[self.output.index]
        for n in reversed(self.gates):
            d_out = grads.get(n.index)
            lines, touched = [], [n.index]
            if d_out is None:
                self.ledger_steps.append((n, [f"{n.name}: no gradient reaches this gate"], touched))
                continue
            n.grad = d_out
            n.gate.needs_grad = tuple(p.tensor.requires_grad for p in n.parents)
            result = n.gate.backward(d_out)
            if not isinstance(result, (tuple, list)):
                result = (result,)
            local = list(getattr(n.gate, "local", ()) or ())
            for k, (p, g) in enumerate(zip(n.parents, result)):
                if g is None or not p.tensor.requires_grad:
                    continue
                g = np.asarray(g, dtype=np.float64)
                rule = local[k] if k < len(local) else f"d{n.name}/d{p.name}"
                lines.append(f"dL/d{p.name} += dL/d{n.name} · ({rule}) = {_fmt(d_out)} · … = {_fmt(g)}")
                grads[p.index] = g if p.index not in grads else grads[p.index] + g
                touched.append(p.index)
                if p.gate is None:
                    p.grad = grads[p.index]
            self.ledger_steps.append((n, lines, touched))
        for n in self.nodes:
            if n.index in grads:
                n.grad = grads[n.index]

    def set_value(self, node, value):
        node = self.nodes[node] if isinstance(node, int) else node
        if node.gate is not None:
            raise ValueError(f"{node.name} is computed by a gate; only leaves can be edited")
        value = np.asarray(value, dtype=node.value.dtype).reshape(node.value.shape)
        node.tensor.data = node.value = value.copy()
        self._forward()
        self._compute_backward()
        for s in getattr(self, "_steppers", []):
            s._notify("replay")

    def stepper(self):
        s = Stepper(self)
        self.__dict__.setdefault("_steppers", []).append(s)
        return s

    # -- analyses -------------------------------------------------------------
    def flow(self):
        mags = {}
        for n in self.nodes:
            if n.grad is not None:
                mags[n.index] = float(np.sqrt(np.mean(np.square(n.grad)))) if np.size(n.grad) else 0.0
        finite = [m for m in mags.values() if np.isfinite(m) and m > 0]
        if finite:
            lo, hi = np.log10(min(finite)), np.log10(max(finite))
        out = {}
        for i, m in mags.items():
            if not finite or not np.isfinite(m) or m <= 0:
                out[i] = 0.0 if np.isfinite(m) else 1.0
            else:
                out[i] = 1.0 if hi == lo else float((np.log10(m) - lo) / (hi - lo))
        return out

    def gradcheck(self, eps=1e-6, max_elements=12, seed=0):
        """{node index: worst relative error} for every node with a gradient."""
        rng = np.random.default_rng(seed)
        base = [n.value.copy() for n in self.nodes]
        result = {}
        order = {n.index: k for k, n in enumerate(self.gates)}

        def loss_from(node):
            # recompute everything downstream of node (gates after it in topo order)
            start = order.get(node.index, -1) + 1
            for g in self.gates[start:]:
                g.value = np.asarray(g.gate.forward(*(p.value for p in g.parents)))
            return float(np.sum(self.output.value))

        try:
            for n in self.nodes:
                if n.grad is None or not n.tensor.requires_grad:
                    continue
                flat = n.value.reshape(-1)
                if n.value.dtype != np.float64:
                    continue
                idx = np.arange(flat.size)
                if flat.size > max_elements:
                    idx = rng.choice(flat.size, max_elements, replace=False)
                worst = 0.0
                for i in idx:
                    old = flat[i]
                    flat[i] = old + eps
                    fp = loss_from(n)
                    flat[i] = old - eps
                    fm = loss_from(n)
                    flat[i] = old
                    num = (fp - fm) / (2 * eps)
                    ana = float(np.asarray(n.grad).reshape(-1)[i])
                    scale = max(abs(num), abs(ana))
                    rel = 0.0 if scale == 0 else abs(num - ana) / scale
                    worst = max(worst, rel)
                result[n.index] = worst
        finally:
            for n, v in zip(self.nodes, base):
                n.value = v
                n.tensor.data = v
            self._forward()
        return result


class Stepper:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.F = len(graph.gates)
        self.backward_start = self.F
        self.length = self.F + 1 + self.F
        self.position = 0
        self._subs = []
        self._gate_pos = {n.index: k + 1 for k, n in enumerate(graph.gates)}
        # backward position at which each node's gradient is complete
        self._grad_pos = {graph.output.index: self.F + 1}
        done_at = {}
        for k, (n, _, touched) in enumerate(graph.ledger_steps):
            for t in touched[1:]:
                done_at[t] = self.F + 2 + k
        self._grad_pos.update(done_at)

    def subscribe(self, callback):
        self._subs.append(callback)
        return lambda: self._subs.remove(callback)

    def _notify(self, event="step"):
        for cb in list(self._subs):
            cb(event)

    @property
    def phase(self):
        if self.position <= self.F:
            return "forward" if self.position < self.F else "forward done"
        return "backward" if self.position < self.length else "done"

    @property
    def current(self):
        p = self.position
        if 1 <= p <= self.F:
            return self.graph.gates[p - 1]
        if p == self.F + 1:
            return self.graph.output
        if p > self.F + 1:
            return self.graph.ledger_steps[p - self.F - 2][0]
        return None

    def ledger(self):
        p = self.position
        if p == self.F + 1:
            return [f"dL/d{self.graph.output.name} = 1   (seed: the output's gradient with respect to itself)"]
        if p > self.F + 1:
            return list(self.graph.ledger_steps[p - self.F - 2][1])
        return []

    def value_known(self, node):
        i = node.index if not isinstance(node, int) else node
        return self._gate_pos.get(i, 0) <= self.position

    def grad_known(self, node):
        i = node.index if not isinstance(node, int) else node
        pos = self._grad_pos.get(i)
        return pos is not None and pos <= self.position

    def seek(self, position):
        self.position = max(0, min(self.length, int(position)))
        self._notify("seek")

    def step(self):
        if self.position < self.length:
            self.position += 1
            self._notify("step")
        return self.position < self.length

    def back(self):
        if self.position > 0:
            self.position -= 1
            self._notify("back")

    def reset(self):
        self.seek(0)

    def run_to_end(self):
        self.seek(self.length)
