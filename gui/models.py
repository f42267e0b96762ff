"""Qt-free adapter between the engine's public graph API and the views.

``GraphSession`` wraps ``gradgraph.graph.Graph`` and its Stepper and gives the
views one small vocabulary: node indices, what is known at the current
position, a layout computed once, formatted values, ledger lines, flow and
gradcheck results.
"""
from __future__ import annotations

import numpy as np

from gradgraph.graph import Flow, Stepper, collapsed, gradcheck, step_ledger
from gradgraph.graph.fmt import (SMALL, fmt_number, fmt_value, is_small, matrix_lines,  # one format for boxes,
                                 side_by_side)  # ledger, DOT
from gradgraph.graph.layout import layout
from gradgraph.graph.ledger import ledger


NODE_W, NODE_H = 150.0, 66.0
GROUP_W, GROUP_H = 200.0, 92.0
DOT_MAX_BOXES = 120  # dot needs ~9 s for 500 boxes; the engine's built-in layout ~0.6 s
YOURS_COLOUR = "#0f766e"  # the student's own gate: its tag on the box and its line in the inspector
SMALL_GRAPH = 24  # up to this many nodes every node is shown; above, one box per layer
TITLE_ROOM = 16.0  # extra height per box when expanded groups are framed (room for the frames' titles)


def fmt_array(a) -> str:
    """A short label for a box: the number for a scalar, the values of a tiny tensor,
    else the RMS (size-independent magnitude); the shape is drawn separately."""
    if a is None:
        return "?"
    a = np.asarray(a)
    if a.size == 1:
        return fmt_number(a.reshape(-1)[0])
    if a.size == 0:
        return "[]"
    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(a)):
            return "NaN!" if np.isnan(a).any() else "inf!"
        if a.size <= 3:
            return "[" + " ".join(fmt_number(v) for v in a.reshape(-1)) + "]"
        return "rms " + fmt_number(float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))))


BOX_DIGITS = 3      # significant digits of the numbers written inside a box
ROW_H = 15.0        # height of one matrix row in a box
CHAR_W = 7.6        # width of one character of the boxes' monospace font (estimated generously)
BOX_ROWS = 3        # a box writes out tensors of up to this many rows (more: the inspector does)


def small_shape(shape) -> tuple | None:
    """``(rows, columns)`` a box shows for a small tensor of this shape (every entry), else None."""
    shape = tuple(int(s) for s in shape)
    while len(shape) > 2 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) == 3 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) not in (1, 2) or int(np.prod(shape)) <= 1 or any(s > SMALL for s in shape):
        return None
    rows, columns = (1, shape[0]) if len(shape) == 1 else shape
    return (rows, columns) if rows <= BOX_ROWS else None


def box_lines(a) -> list:
    """What a box writes for a value or gradient: every entry of a small tensor, a matrix
    row per line; else the one-line label of :func:`fmt_array`."""
    if a is None:
        return ["?"]
    if small_shape(np.shape(a)) is not None:
        return matrix_lines(a, BOX_DIGITS)
    return [fmt_array(a)]


def fmt_shape(shape) -> str:
    return "×".join(str(s) for s in shape)


class GraphSession:
    """One lesson graph as the views see it: ``gradgraph.graph.Graph`` and a Stepper.

    Node numbers are indices into ``graph.nodes``. Values and gradients are
    read through the stepper, so a view shows exactly what is known at the
    current position (gradients may be partial: some contributions arrived).

    ``mine``: the :class:`gradgraph.exercises.MineReport` of a graph built with the
    student's exercise gates (:meth:`yours` says which gates are theirs), else None.
    """

    def __init__(self, output, mine=None):
        from gradgraph.graph import Graph

        self.mine = mine
        self.graph = Graph(output)
        self.nodes = list(self.graph.nodes)
        self.parents = [[p.index for p in n.parents] for n in self.nodes]
        self.children = [[c.index for c in n.children] for n in self.nodes]
        self.stepper = Stepper(self.graph)
        self._edges = None
        self._cache: dict = {}
        self._cache_version = None
        self._layouts: dict = {}  # a view's expanded groups -> its layout: laid out once

    def _cached(self, key, compute):
        """Results that depend only on the graph's values (flow, gradcheck, full ledger)."""
        version = self.graph.version
        if self._cache_version != version:
            self._cache = {}
            self._cache_version = version
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # -- node facts ------------------------------------------------------------------
    def __len__(self):
        return len(self.nodes)

    def name(self, i) -> str:
        return self.nodes[i].name

    def gate(self, i):
        return self.nodes[i].gate

    def gate_symbol(self, i) -> str:
        n = self.nodes[i]
        if n.gate is None:
            return {"parameter": "param", "constant": "const"}.get(n.kind, "input")
        return n.gate.symbol or n.gate.name

    def yours(self, i) -> str:
        """Whose gate node ``i`` is (see :func:`yours`)."""
        return yours(self, i)

    def gate_name(self, i) -> str:
        g = self.nodes[i].gate
        return "" if g is None else g.name

    def kind(self, i) -> str:
        return self.nodes[i].kind

    def is_leaf(self, i) -> bool:
        return self.nodes[i].is_leaf

    def group(self, i):
        return self.nodes[i].group

    def value(self, i):
        """The node's value (an array) if known at this position, else None."""
        return self.stepper.value(i)

    def grad(self, i):
        """The gradient at this position (complete or partial), else None."""
        return self.stepper.grad(i)

    def grad_state(self, i) -> str:
        """"known", "partial", "unknown" or "none" (a constant)."""
        return self.stepper.grad_state(i)

    def shape(self, i) -> tuple:
        return tuple(self.nodes[i].shape)

    def formula(self, i) -> tuple:
        """(the gate's general formula, its local derivatives written with this node's names)."""
        from gradgraph.graph.stepper import local_derivatives

        n = self.nodes[i]
        return n.formula, local_derivatives(n)

    def expression(self, i) -> str:
        from gradgraph.graph.stepper import expression

        return expression(self.nodes[i])

    def subexpression(self, i, longest: int = 60) -> str:
        """Node ``i`` written in its leaves (see :func:`subexpression`)."""
        return subexpression(self, i, longest)

    # -- stepping ----------------------------------------------------------------------
    @property
    def position(self) -> int:
        return self.stepper.position

    @property
    def length(self) -> int:
        return len(self.stepper)

    @property
    def backward_start(self) -> int:
        return self.stepper.backward_start

    @property
    def phase(self) -> str:
        return self.stepper.phase

    def current(self):
        step = self.stepper.current
        return None if step is None else step.node.index

    def current_text(self) -> str:
        step = self.stepper.current
        return "" if step is None else step.text

    def known_values(self):
        return self.stepper.known_values()

    def known_grads(self):
        return self.stepper.known_grads()

    def value_known(self, i) -> bool:
        return self.stepper.value_known(i)

    def grad_known(self, i) -> bool:
        return self.stepper.grad_known(i)

    def edge_grad_crossed(self):
        """{(source, target): True} for the edges the gradient has already travelled back along."""
        if self.position <= self.backward_start:
            return {}
        out = {}
        for e in self.graph.edges:
            if self.stepper.edge_known(e)[1]:
                out[(e.source.index, e.target.index)] = True
        return out

    def edge_crossed(self, source: int, target: int) -> bool:
        """Has the gradient travelled back along the edge source -> target?"""
        if self._edges is None:
            self._edges = {(e.source.index, e.target.index): e for e in self.graph.edges}
        return self.stepper.edge_known(self._edges[(source, target)])[1]

    def step_touches(self, event) -> set | None:
        """The nodes whose boxes a one-step move changes (the step's node, its inputs, the
        previous and the new current node), or None when everything must be redrawn (a
        jump, new values, the end of the backward pass where the flags appear)."""
        end = self.length
        if getattr(event, "kind", None) != "position" or abs(event.position - event.previous) != 1 \
                or max(event.position, event.previous) >= end:
            return None
        steps = self.stepper.steps
        step = steps[min(event.position, event.previous)]
        touched = {step.node.index} | {p.index for p in step.node.parents}
        for position in (event.position, event.previous):
            if position:
                touched.add(steps[position - 1].node.index)
        return touched

    def ledger(self) -> list:
        return [line.text for line in step_ledger(self.stepper.current)]

    def ledger_for(self, i) -> list:
        """The backward pass's chain-rule lines that send a gradient to or through node ``i``,
        among the steps done so far."""
        return [line.text for line in self.ledger_lines_for(i)]

    def ledger_lines_for(self, i) -> list:
        """:meth:`ledger_for` as the engine's LedgerLine objects (with their operands)."""
        name = self.name(i)
        full = self._cached("ledger", lambda: ledger(self.graph))
        pos = self.position
        return [line for line in full
                if (line.target == name or line.via == name) and (line.step is None or line.step < pos)]

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
        """Give leaf ``i`` a new value and replay up to the same position."""
        self.graph.set_value(i, value)
        self.stepper.replay()

    # -- analyses ----------------------------------------------------------------------------
    def flow(self):
        """(node levels {index: [0, 1]}, edge levels {(source, target): [0, 1]}, flags {index: [notes]},
        summary): :func:`flow_levels` of the current values."""
        return self._cached("flow", lambda: flow_levels(self.graph))

    def gradcheck(self) -> dict:
        """{node index: worst relative error} (analytic vs centred differences). Computed here,
        on the calling thread: the app uses :meth:`compute_gradcheck` in a worker instead."""
        return self._cached("gradcheck", self._gradcheck_result)[0]

    def blamed(self) -> set:
        """Gate nodes whose backward sends wrong gradients (computes the check if needed)."""
        return set(self._cached("gradcheck", self._gradcheck_result)[1])

    def gradcheck_result(self):
        """``(errors, blamed, failed)`` if the check is done for the current values, else None (no
        work): worst relative error per node, gates whose backward looks wrong, nodes whose
        gradient fails the engine's tolerance for its precision."""
        if self._cache_version != self.graph.version:
            return None
        return self._cache.get("gradcheck")

    def compute_gradcheck(self):
        """``(version, result)`` for a worker thread; hand it to :meth:`store_gradcheck`
        on the main thread.

        First every value, gradient and local gradient is computed and cached (what the views
        read while stepping), so that during the numerical replays, which call the gates with
        nudged inputs, nothing the main thread asks for runs a gate. Values must not be edited
        meanwhile (the app disables the editor)."""
        version = self.graph.version
        self.graph.backward()
        ledger(self.graph)
        return version, self._gradcheck_result()

    def store_gradcheck(self, version, pair) -> bool:
        """Keep a worker's result if the values have not changed since; True if kept."""
        if version != self.graph.version:
            return False
        self._cached("gradcheck", lambda: pair)
        self._cache["gradcheck"] = pair
        return True

    def _gradcheck_result(self):
        """({node index: worst relative error}, blamed indices, failed indices) from the engine's check."""
        result = gradcheck(self.graph)
        index = {name: self.graph.node(name).index for name in result}
        out = {index[name]: float(c.rel_error) for name, c in result.items()}
        blamed = {index[name] for name, c in result.items() if c.blamed}
        failed = {index[name] for name, c in result.items() if not c.ok}
        return out, blamed, failed

    def low_precision(self) -> bool:
        """True when some node is not float64 (centred differences are then only rough)."""
        return any(getattr(n, "dtype", np.float64) != np.float64 for n in self.nodes)

    # -- views and layout ----------------------------------------------------------------------
    def group_paths(self) -> set:
        """Every group path in the graph (nested paths included: "lenet", "lenet/conv1")."""
        return set(self.graph.groups)

    def default_expanded(self):
        """Small graphs show every node; big ones one box per layer (the engine's automatic choice)."""
        return self.group_paths() if len(self.nodes) <= SMALL_GRAPH else None

    def view(self, expanded=None):
        """The engine's GraphView: groups not in ``expanded`` drawn as one box each."""
        return collapsed(self.graph, expanded)

    def layout(self, view):
        """Positions for ``view`` from the engine (Graphviz dot when available, else its
        built-in layered layout). Called once per view, never per step. Box heights include
        :func:`title_room`."""
        key = "full" if view.expanded is None else view.expanded  # the groups drawn open
        if key in self._layouts:  # laid out already (on the build worker)
            return self._layouts[key]
        pad = title_room(view)
        sizes = {v.name: (GROUP_W, GROUP_H + pad) if v.is_group
                 else (box_width(self, v.node.index), box_height(self, v.node.index) + pad)
                 for v in view.nodes}
        engine = "auto" if len(view.nodes) <= DOT_MAX_BOXES else "builtin"
        positions = layout(view, engine=engine, sizes=sizes)
        self._layouts[key] = positions
        return positions


# -- what a node and the graph say (no Qt) ----------------------------------------------------

def yours(session: GraphSession, i) -> str:
    """"" for a leaf or a built-in gate; for a gate built from the student's exercise class,
    e.g. ``"your Multiply (exercise 1.1, FAILS its check)"``."""
    if session.mine is None or session.nodes[i].op is None:
        return ""
    exercise = session.mine.exercise_of(session.nodes[i].op)
    if exercise is None:
        return ""
    check = session.mine.checks.get(exercise.id)
    verdict = {"passed": ", passes its check", "failed": ", FAILS its check"}.get(getattr(check, "status", ""), "")
    return f"your {exercise.name} (exercise {exercise.id}{verdict})"


def flow_levels(graph) -> tuple:
    """The engine's :class:`~gradgraph.graph.Flow` of ``graph`` by node index: (node levels
    {index: [0, 1]}, edge levels {(source, target): [0, 1]}, flags {index: [notes]}, summary).
    The notes are the engine's words (``routed: lost the max``), with node names."""
    flow = Flow(graph)
    nodes, flags = {}, {}
    for n in graph.nodes:
        info = flow[n.name]
        nodes[n.index] = info.level
        if info.notes:
            flags[n.index] = list(info.notes)
    edges = {}
    for e, ef in zip(graph.edges, flow.edges):
        key = (e.source.index, e.target.index)
        edges[key] = max(edges.get(key, 0.0), ef.level)
    return nodes, edges, flags, flow.summary()


# -- the boxes of the canvas (sizes the layout needs; no Qt) ----------------------------------

def matrix_rows(session: GraphSession, i) -> int:
    """How many matrix rows the box of node ``i`` shows for its value (0: one line)."""
    small = small_shape(session.shape(i))
    return 0 if small is None else small[0]

def box_width(session: GraphSession, i) -> float:
    """A box wide enough for the node's name, its shape and its gate symbol (estimated from
    character counts, generously: a bold title letter is up to ~8 points wide), and for
    every entry of a small tensor (about 7 characters per column)."""
    shape = session.shape(i)
    shape_text = fmt_shape(shape) if shape and int(np.prod(shape)) > 1 else ""
    wanted = 8.2 * len(session.name(i)) + 7.0 * len(shape_text) + 7.0 * len(session.gate_symbol(i)) + 56
    small = small_shape(shape)
    if small is not None:
        return max(NODE_W, wanted, CHAR_W * (9 * small[1] + 7) + 16)  # "grad [" + ~7 per entry + gaps
    if len(session.nodes[i].out_edges) > 1:  # its gradient is a sum: room for "grad -0.1234 so far"
        wanted = max(wanted, CHAR_W * len("grad -0.00001234 so far") + 12)
    return max(NODE_W, min(2 * NODE_W, wanted))

def box_height(session: GraphSession, i) -> float:
    """The box height: two lines (value, gradient), or two matrices for a small tensor."""
    rows = matrix_rows(session, i)
    return NODE_H if rows <= 1 else NODE_H + 2 * (rows - 1) * ROW_H

def title_room(view) -> float:
    """Extra height the layout gives each box of ``view`` (half above, half below) when
    it shows expanded groups, so a frame's title never covers the box above it."""
    shown = [v.node.group for v in view.nodes if not v.is_group]
    for path in view.expanded or ():
        inside = sum(1 for g in shown if g and (g == path or g.startswith(path + "/")))
        if 0 < inside < len(shown):  # the view draws a frame for this group
            return TITLE_ROOM
    return 0.0


def subexpression(session: GraphSession, i, longest: int = 60) -> str:
    """Node ``i`` written in its leaves, ``max(x * y, z)`` for ``maximum_0`` (a typed
    expression's nodes are named ``mul_0``, ``add_1``, …); "" for a leaf, when it says
    no more than ``session.expression(i)``, or when longer than ``longest`` characters."""
    from gradgraph.graph.stepper import _INFIX, expression

    visits = [0]  # a node shared by many paths is written once per path: stop a big graph early

    def plain(node):
        visits[0] += 1
        if node.kind == "constant" and np.size(session.graph.value(node)) == 1:
            return fmt_number(np.asarray(session.graph.value(node)).reshape(-1)[0])  # 2 * x, not c_0 * x
        if node.op is None or visits[0] > longest:
            return node.name
        infix = node.gate.symbol in _INFIX
        return expression(node, lambda p: f"({plain(p)})" if infix and p.op is not None
                          and p.gate.symbol in _INFIX else plain(p))

    node = session.nodes[i]
    if node.op is None:
        return ""
    text = plain(node)
    return text if text != expression(node) and len(text) <= longest else ""


class SessionFollower:
    """Mixin for a view that follows one session (napari's pattern: the view subscribes to
    the model it shows). ``follow(session)`` calls ``self._on_step`` on every step of it,
    and drops the subscription to the session shown before."""

    session = None
    _unsubscribe = None

    def follow(self, session) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self.session = session
        if session is not None:
            self._unsubscribe = session.subscribe(self._on_step)


INFIX = ("+", "-", "*", "/", "@")  # gates written between their two operands


def fmt_header_value(value) -> str:
    """A value in a one-line ledger header: a small tensor is named by its shape only, as
    its entries are written out in the lines below the header; else as :func:`fmt_value`."""
    if is_small(value):
        if np.ndim(value) == 1:
            return f"the vector below ({np.size(value)} entries)"
        return f"the {fmt_shape(np.shape(value))} matrix below"
    return fmt_value(value)


def forward_lines(session: GraphSession) -> list:
    """The lines of a forward step: what was computed, and for a small tensor its entries
    written out with the operands' (``XW = X @ W`` above ``[..] @ [..] = [..]``) so the
    step can be checked by hand."""
    step = session.stepper.current
    node = step.node
    formula, _ = session.formula(node.index)
    lines = ["forward: " + step.describe(fmt_header_value) + (f"      [{formula}]" if formula else "")]
    value = session.graph.value(node)
    operands = [(p.name, session.graph.value(p)) for p in node.parents]
    if np.size(value) > 1 and not is_small(value) or not (is_small(value) or any(is_small(v) for _, v in operands)):
        return lines
    if step.kind == "leaf" or any(v is None or (np.size(v) > 1 and not is_small(v)) for _, v in operands):
        return lines + ["  " + row for row in side_by_side([(node.name, value)])]
    symbol = node.symbol if node.symbol in INFIX and len(operands) == 2 else ","
    terms = [operands[0]]
    for operand in operands[1:]:
        terms += [symbol, operand]
    if symbol == ",":  # a function of its inputs: name it, then its arguments
        terms = [node.symbol or node.gate.name, "("] + terms + [")"]
    return lines + ["  " + row for row in side_by_side(terms + ["=", (node.name, value)])]


def format_ledger_header(session: GraphSession) -> str:
    pos, total = session.position, session.length
    step = session.stepper.current
    text = "" if step is None else step.describe(fmt_header_value)
    return f"step {pos}/{total} · {session.phase}" + (f" · {text}" if text else "")
