"""Qt-free adapters between the engine's public APIs and the views.

``GraphSession`` wraps ``gradgraph.graph.Graph`` (or the stand-in in
:mod:`gradgraph_gui.standin` when the engine has none) and gives the views one
small, stable vocabulary: node indices, a stepper, a layout computed once,
formatted values, ledger lines, flow and gradcheck results.
"""
from __future__ import annotations

import math

import numpy as np

from .layout import Layout, layered_layout

NODE_W, NODE_H = 150.0, 66.0
GROUP_W, GROUP_H = 170.0, 66.0


def fmt_number(v: float) -> str:
    if v is None:
        return "?"
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        text = f"{v:.4f}".rstrip("0").rstrip(".")
        return text if text not in ("-0", "") else "0"
    return f"{v:.3e}"


def fmt_array(a) -> str:
    """A short label: the number for a scalar, shape and a summary for a tensor."""
    if a is None:
        return "?"
    a = np.asarray(a)
    if a.size == 1:
        return fmt_number(a.reshape(-1)[0])
    shape = "×".join(str(s) for s in a.shape)
    if a.size == 0:
        return f"[{shape}]"
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(a)):
            return f"[{shape}] NaN!" if np.isnan(a).any() else f"[{shape}] inf!"
        return f"[{shape}] |·|={fmt_number(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))))}"


def _graph_module():
    try:
        from gradgraph import graph as g
    except Exception:  # pragma: no cover - engine without the package
        return None
    return g if hasattr(g, "Graph") else None


class GraphSession:
    """One lesson graph as the views see it."""

    def __init__(self, output, use_standin: bool | None = None):
        module = None if use_standin else _graph_module()
        if module is not None:
            self.graph = module.Graph(output)
            self.engine = "gradgraph.graph"
        else:
            from . import standin

            self.graph = standin.Graph(output)
            self.engine = "stand-in"
        self.nodes = list(self.graph.nodes)
        self.index = {id(n): i for i, n in enumerate(self.nodes)}
        self.parents = [[self.index[id(p)] for p in self._parents_of(n)] for n in self.nodes]
        self.children = [[] for _ in self.nodes]
        for i, ps in enumerate(self.parents):
            for p in ps:
                self.children[p].append(i)
        self.stepper = self.graph.stepper()
        self._gradcheck = None

    # -- node facts ------------------------------------------------------------------
    def _parents_of(self, node):
        ps = getattr(node, "parents", ())
        return [self.nodes[p] if isinstance(p, int) else p for p in ps]

    def __len__(self):
        return len(self.nodes)

    def name(self, i) -> str:
        return str(getattr(self.nodes[i], "name", f"n{i}"))

    def gate(self, i):
        return getattr(self.nodes[i], "gate", None)

    def gate_symbol(self, i) -> str:
        g = self.gate(i)
        if g is None:
            return {"parameter": "param", "constant": "const"}.get(self.kind(i), "input")
        return getattr(g, "symbol", "") or getattr(g, "name", type(g).__name__)

    def gate_name(self, i) -> str:
        g = self.gate(i)
        return "" if g is None else getattr(g, "name", type(g).__name__)

    def kind(self, i) -> str:
        return str(getattr(self.nodes[i], "kind", "intermediate"))

    def is_leaf(self, i) -> bool:
        return self.gate(i) is None

    def group(self, i):
        return getattr(self.nodes[i], "group", None)

    def value(self, i):
        return getattr(self.nodes[i], "value", None)

    def grad(self, i):
        return getattr(self.nodes[i], "grad", None)

    def shape(self, i) -> tuple:
        v = self.value(i)
        return tuple(np.shape(v)) if v is not None else tuple(getattr(self.nodes[i], "shape", ()))

    def formula(self, i) -> tuple[str, tuple]:
        g = self.gate(i)
        if g is None:
            return "", ()
        return getattr(g, "formula", "") or "", tuple(getattr(g, "local", ()) or ())

    # -- stepping ----------------------------------------------------------------------
    @property
    def position(self) -> int:
        return int(self.stepper.position)

    @property
    def length(self) -> int:
        for attr in ("length", "total", "n_steps", "end"):
            v = getattr(self.stepper, attr, None)
            if v is not None:
                return int(v() if callable(v) else v)
        return len(self.nodes) * 2

    @property
    def backward_start(self) -> int:
        return int(self.stepper.backward_start)

    @property
    def phase(self) -> str:
        return str(self.stepper.phase)

    def current(self):
        c = self.stepper.current
        c = c() if callable(c) else c
        if c is None:
            return None
        if isinstance(c, int):
            return c
        node = getattr(c, "node", c)
        return self.index.get(id(node))

    def value_known(self, i) -> bool:
        return bool(self.stepper.value_known(self.nodes[i]))

    def grad_known(self, i) -> bool:
        return bool(self.stepper.grad_known(self.nodes[i]))

    def ledger(self) -> list[str]:
        for attr in ("ledger", "lines"):
            v = getattr(self.stepper, attr, None)
            if v is not None:
                v = v() if callable(v) else v
                return [str(x) for x in v]
        return []

    def ledger_for(self, i) -> list[str]:
        """Every ledger line (over the whole backward pass) that mentions node ``i``."""
        name = self.name(i)
        steps = getattr(self.graph, "ledger_steps", None)
        lines = []
        if steps is not None:
            for node, ls, touched in steps:
                if i in touched:
                    lines.extend(ls)
            return [l for l in lines if f"d{name}" in l] or lines
        return lines

    def step(self):
        self.stepper.step()

    def back(self):
        self.stepper.back()

    def reset(self):
        self.stepper.reset()

    def seek(self, position):
        self.stepper.seek(position)

    def to_backward(self):
        self.stepper.seek(self.backward_start)

    def subscribe(self, callback):
        return self.stepper.subscribe(callback)

    # -- editing ---------------------------------------------------------------------------
    def set_value(self, i, value):
        position = self.position
        self.graph.set_value(self.nodes[i], value)
        self._gradcheck = None
        self.stepper.seek(position)

    # -- analyses ----------------------------------------------------------------------------
    def flow(self) -> dict:
        """{node index: gradient magnitude normalized to [0, 1]}."""
        try:
            result = self.graph.flow()
        except Exception:
            return {}
        if isinstance(result, dict):
            out = {}
            for k, v in result.items():
                i = k if isinstance(k, int) else self.index.get(id(k))
                if i is not None:
                    out[i] = float(getattr(v, "normalized", v))
            return out
        return {}

    def gradcheck(self) -> dict:
        """{node index: worst relative error}, cached until a value changes."""
        if self._gradcheck is None:
            result = self.graph.gradcheck()
            out = {}
            items = result.items() if isinstance(result, dict) else enumerate(result)
            for k, v in items:
                i = k if isinstance(k, int) else self.index.get(id(k))
                if i is None:
                    continue
                out[i] = float(getattr(v, "rel_error", v))
            self._gradcheck = out
        return self._gradcheck

    # -- layout ---------------------------------------------------------------------------------
    def groups(self) -> dict:
        """{group name: [node indices]} for groups of two or more nodes."""
        out: dict = {}
        for i in range(len(self.nodes)):
            g = self.group(i)
            if g:
                out.setdefault(g, []).append(i)
        return {g: ms for g, ms in out.items() if len(ms) >= 2}

    def layout(self, collapsed=frozenset()) -> Layout:
        """Boxes keyed by node index, or by ``("group", name)`` for a collapsed group."""
        groups = self.groups()
        box_of = {}
        for g, members in groups.items():
            if g in collapsed:
                for m in members:
                    box_of[m] = ("group", g)
        keys, seen, parents, sizes = [], set(), {}, {}
        for i in range(len(self.nodes)):
            k = box_of.get(i, i)
            if k not in seen:
                seen.add(k)
                keys.append(k)
                parents[k] = []
                sizes[k] = (GROUP_W, GROUP_H) if isinstance(k, tuple) else (NODE_W, NODE_H)
            for p in self.parents[i]:
                pk = box_of.get(p, p)
                if pk != k and pk not in parents[k]:
                    parents[k].append(pk)
        return layered_layout(keys, parents, sizes)


def format_ledger_header(session: GraphSession) -> str:
    pos, total = session.position, session.length
    cur = session.current()
    where = f" · current: {session.name(cur)}" if cur is not None else ""
    return f"step {pos}/{total} · {session.phase}{where}"
