"""Graph: the computational graph behind a Tensor, as a model every view can share.

    import gradgraph as gg
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = (x + y) * z
    graph = gg.Graph(f)
    [n.name for n in graph.nodes]        # ['x', 'y', 'z', 'add_0', 'f'] (if f was named "f")
    graph.node("add_0").value            # 3.0
    graph.node("x").grad                 # -4.0

A :class:`Graph` wraps every Tensor that the output depends on in a
:class:`Node` (name, gate, kind, value, gradient, parents, children) and keeps
its **own** values and gradients: it never writes ``Tensor.grad`` or
``Tensor.data``. Its values start as the leaves' data and are recomputed by
calling each node's gate again (``gate.forward(*parent_values)``), so
:meth:`Graph.set_value` on an input followed by a replay updates every value
and every gradient downstream.

Everything is computed lazily and cached, one gate at a time:

* ``value(i)`` runs ``forward`` of node ``i`` (after its parents' values);
* ``grad(i)`` is the sum of the contributions that node ``i``'s children send
  back; a child's contributions come from one call of its gate's ``backward``
  with the child's own (complete) gradient.

That is exactly the work of one step of the :class:`~gradgraph.graph.stepper.Stepper`,
so stepping costs the work of one gate, and stepping back costs nothing.
Both walks are iterative (explicit stacks), so a chain of 100,000 gates is fine.

Node order: all leaves first (inputs and parameters, then constants, each in
the order a depth-first search meets them), then the gates in topological order. That is
what a student expects: ``x``, ``y`` and ``z`` appear, then ``q``, then ``f``.
"""
from __future__ import annotations

import contextlib
import gc
import weakref
from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor, _gate_backward, topological_order
from .fmt import fmt_short


class GateInfo(str):
    """A node's gate: compares equal to the gate's class name (``"Multiply"``).

    It also carries the gate's description, for labels and tooltips:
    ``symbol`` (``"*"``), ``short_name`` (``"mul"``), ``formula``
    (``"z = x * y"``), ``local`` (``("dz/dx = y", "dz/dy = x")``) and
    ``op``, the :class:`~gradgraph.gate.Gate` object itself.
    """

    def __new__(cls, gate):
        info = super().__new__(cls, gate.name)
        info.op = gate
        info.name = gate.name
        info.short_name = gate.short_name
        info.symbol = getattr(gate, "symbol", "") or gate.short_name
        info.formula = getattr(gate, "formula", "") or ""
        info.local = tuple(getattr(gate, "local", ()) or ())
        return info


class Node:
    """One value of the graph: a leaf (input, parameter, constant) or a gate's output.

    Fields: ``name`` (unique in the graph), ``index`` (position in
    ``graph.nodes``), ``tensor`` (the wrapped :class:`~gradgraph.Tensor`),
    ``gate`` (a :class:`GateInfo`, equal to e.g. ``"Multiply"``; ``None`` for
    a leaf), ``op`` (the Gate object or ``None``), ``kind`` (``"input"``,
    ``"parameter"``, ``"constant"``, ``"intermediate"``), ``group`` (scope
    path such as ``"lenet/conv1"`` or ``None``), ``parents`` (input nodes, in
    the gate's argument order, repeated for ``x * x``) and ``children``
    (the nodes using this one, each once).

    ``value`` and ``grad`` are the graph's current ones (a float for a
    one-element value, else a numpy array; ``grad`` is ``None`` for a
    constant). ``value_array``/``grad_array`` are always arrays.
    """

    __slots__ = ("graph", "index", "tensor", "name", "op", "kind", "group", "parents", "children", "_gate",
                 "__weakref__")

    def __init__(self, graph, index: int, tensor: Tensor, name: str):
        self.graph = graph
        self.index = index
        self.tensor = tensor
        self.name = name
        self.op = tensor.gate
        self.kind = tensor.kind
        self.group = tensor.group
        self.parents: list = []
        self.children: list = []
        self._gate = None

    @property
    def gate(self):
        """The gate as a :class:`GateInfo` (equal to its class name), ``None`` for a leaf."""
        if self._gate is None and self.op is not None:
            self._gate = GateInfo(self.op)
        return self._gate

    # -- structure -------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.op is None

    @property
    def is_output(self) -> bool:
        return self.index == len(self.graph.nodes) - 1

    @property
    def requires_grad(self) -> bool:
        return self.tensor.requires_grad

    @property
    def symbol(self) -> str:
        """What a drawing puts on the node: the gate's symbol, or ``""`` for a leaf."""
        return self.gate.symbol if self.gate is not None else ""

    @property
    def formula(self) -> str:
        return self.gate.formula if self.gate is not None else ""

    @property
    def local(self) -> tuple:
        return self.gate.local if self.gate is not None else ()

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)

    @property
    def size(self) -> int:
        return int(self.tensor.size)

    @property
    def dtype(self):
        return self.tensor.dtype

    @property
    def is_scalar(self) -> bool:
        return self.tensor.size == 1

    # -- numbers ---------------------------------------------------------------------
    @property
    def value_array(self) -> np.ndarray:
        return self.graph.value(self.index)

    @property
    def grad_array(self):
        return self.graph.grad(self.index)

    @property
    def value(self):
        """The current value: a float when it has one element, else the array."""
        return _natural(self.graph.value(self.index))

    @property
    def grad(self):
        """d(output)/d(this node), a float or an array; ``None`` if no gradient is needed."""
        return _natural(self.graph.grad(self.index))

    @property
    def label(self) -> str:
        """A one-line label: ``f = -12`` or ``conv1.weight (6, 1, 5, 5) rms 0.12``."""
        return f"{self.name} = {fmt_short(self.graph.value(self.index))}"

    def __repr__(self) -> str:
        gate = f", gate={self.gate}" if self.gate is not None else ""
        return f"Node({self.name!r}, {self.kind}{gate}, shape={self.shape})"


class Edge:
    """``source`` is input number ``slot`` of ``target``'s gate (value flows source -> target);
    ``index`` is the edge's position in ``graph.edges``."""

    __slots__ = ("index", "source", "target", "slot")

    def __init__(self, index: int, source: Node, target: Node, slot: int):
        self.index = index
        self.source = source
        self.target = target
        self.slot = slot

    def __repr__(self) -> str:
        return f"Edge({self.source.name} -> {self.target.name}, slot {self.slot})"


@dataclass(frozen=True)
class GraphEvent:
    """Sent to ``graph.subscribe`` callbacks: ``kind == "values"`` after ``set_value``."""

    kind: str
    node: Node | None = None


@contextlib.contextmanager
def _gc_paused():
    """Pause Python's cyclic garbage collector while creating many objects at once.

    Building a 100,000-node graph creates hundreds of thousands of small
    objects; each batch would trigger a collection that scans all of them
    again. Nothing here creates reference cycles worth collecting early.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _natural(array):
    """A float for a 0-d (or one-element) value, the array otherwise; None stays None."""
    if array is None:
        return None
    if array.ndim == 0:
        return float(array)
    return array


def _leaves_first(tensors: list) -> list:
    """Topological order with the leaves moved to the front (still a topological order):
    inputs and parameters first, then constants, then the gates."""
    return ([t for t in tensors if t.gate is None and t.requires_grad]
            + [t for t in tensors if t.gate is None and not t.requires_grad]
            + [t for t in tensors if t.gate is not None])


class Graph:
    """The computational graph that produced ``output`` (a Tensor).

    ``grad`` is the gradient that seeds the backward pass at the output:
    1 by default (an array of ones for a non-scalar output, as if the output
    were summed).

    Main fields and methods:

    ``nodes`` (topological order, leaves first), ``edges``, ``output``,
    ``node(key)``, ``groups``, ``steps()``, ``stepper()``, ``backward_start``,
    ``set_value(node, value)``, ``reset_values()``, ``ledger()``, ``flow()``,
    ``gradcheck()``, ``collapsed(expanded)``, ``layout()``, ``to_dot()``,
    ``render(path)``.
    """

    def __init__(self, output: Tensor, grad=None):
        with _gc_paused():
            self._build(output, grad)

    def _build(self, output: Tensor, grad) -> None:
        if isinstance(output, Graph):
            output = output.tensor
        if not isinstance(output, Tensor):
            raise TypeError(f"Graph needs the output Tensor, got {type(output).__name__}")
        self.tensor = output
        tensors = _leaves_first(topological_order(output))
        if tensors[-1] is not output:  # the output is a leaf: keep it last
            tensors.remove(output)
            tensors.append(output)
        names = _unique_names(tensors)
        self.nodes: list[Node] = [Node(self, i, t, names[i]) for i, t in enumerate(tensors)]
        self._by_id = {id(t): node for t, node in zip(tensors, self.nodes)}
        self._by_name = {node.name: node for node in self.nodes}
        self.output: Node = self.nodes[-1]

        # parent indices per node, and (child index, slot) pairs per node
        self._parents: list[tuple] = []
        self._kids: list[list] = [[] for _ in self.nodes]
        self.edges: list[Edge] = []
        for node in self.nodes:
            ps = tuple(self._by_id[id(p)].index for p in node.tensor.parents)
            self._parents.append(ps)
            node.parents = [self.nodes[p] for p in ps]
            for slot, p in enumerate(ps):
                self._kids[p].append((node.index, slot))
                self.edges.append(Edge(len(self.edges), self.nodes[p], node, slot))
        for node in self.nodes:
            seen = set()
            for c, _ in self._kids[node.index]:
                if c not in seen:
                    seen.add(c)
                    node.children.append(self.nodes[c])

        # values: leaves are copied (a snapshot), gate outputs are computed on demand
        self._original = [np.array(t.data, copy=True) if t.gate is None else None for t in tensors]
        self._value: list = list(self._original)
        seed = np.ones_like(output.data) if grad is None else np.asarray(grad, dtype=output.data.dtype)
        if seed.shape != output.shape:
            raise ValueError(f"Graph: grad has shape {seed.shape}, the output has shape {output.shape}")
        self.seed = seed
        self._needs = [t.requires_grad for t in tensors]
        self._reset_gradients()
        self._primed: dict = {}  # id(gate) -> index of the node whose inputs the gate last saw
        self.version = 0          # bumped by every change of values
        self._steps = None
        self._steppers = weakref.WeakSet()
        self._listeners: list = []
        self._layouts: dict = {}
        self._groups = None

    # -- lookup ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes)

    def __contains__(self, key) -> bool:
        try:
            self.node(key)
        except KeyError:
            return False
        return True

    def node(self, key) -> Node:
        """The node for a name (``"x"``), an index, a Node of this graph or a Tensor."""
        if isinstance(key, Node):
            if key.graph is self:
                return key
            key = key.name
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                raise KeyError(f"no node named {key!r} in this graph") from None
        if isinstance(key, Tensor):
            try:
                return self._by_id[id(key)]
            except KeyError:
                raise KeyError(f"{key!r} is not part of this graph") from None
        if isinstance(key, (int, np.integer)):
            return self.nodes[int(key)]
        raise KeyError(f"cannot look up a node by {type(key).__name__}")

    def _index(self, key) -> int:
        return key.index if isinstance(key, Node) and key.graph is self else self.node(key).index

    @property
    def leaves(self) -> list:
        return [n for n in self.nodes if n.op is None]

    @property
    def gates(self) -> list:
        """The nodes computed by a gate, in topological order."""
        return [n for n in self.nodes if n.op is not None]

    @property
    def groups(self) -> dict:
        """``{group path: [nodes]}``. A path lists every node inside it, subgroups
        included: ``groups["lenet"]`` holds the nodes of ``lenet/conv1`` too."""
        if self._groups is None:
            groups: dict = {}
            for node in self.nodes:
                if node.group:
                    parts = node.group.split("/")
                    for k in range(1, len(parts) + 1):
                        groups.setdefault("/".join(parts[:k]), []).append(node)
            self._groups = groups
        return self._groups

    # -- values and gradients -----------------------------------------------------------
    def value(self, key) -> np.ndarray:
        """The current value of a node (an array), computing the gates it needs."""
        i = self._index(key)
        if self._value[i] is None:
            self._ensure_values(i)
        return self._value[i]

    def grad(self, key):
        """d(output)/d(node) as an array, or ``None`` for a node that needs no gradient."""
        i = self._index(key)
        if not self._needs[i]:
            return None
        if not self._grad_ok[i]:
            self._ensure_grad(i)
        return self._grad[i]

    def contributions(self, key) -> tuple:
        """What the gate of ``key`` sends back to each input (one array or ``None``
        per parent): the result of its ``backward`` called with the node's gradient."""
        i = self._index(key)
        if self.nodes[i].op is None:
            return ()
        if self._contrib[i] is None:
            self._ensure_grad(i)
            self._compute_contrib(i)
        return self._contrib[i]

    def set_value(self, key, value) -> None:
        """Give a leaf a new value (same shape). Values downstream and all gradients
        are recomputed when next asked for (a stepper replays them as it shows them)."""
        node = self.node(key)
        if node.op is not None:
            raise ValueError(
                f"{node.name} is computed by its {node.gate} gate; set the value of an input, "
                f"parameter or constant instead"
            )
        array = np.asarray(value, dtype=node.dtype)
        if array.shape != node.shape:
            if array.size != node.size:
                raise ValueError(f"set_value({node.name!r}): value has shape {array.shape}, the node has shape {node.shape}")
            array = array.reshape(node.shape)
        self._value[node.index] = np.array(array, copy=True)
        self._invalidate_downstream(node.index)
        self._changed(node)

    def reset_values(self) -> None:
        """Go back to the leaf values the graph was built with."""
        for i, original in enumerate(self._original):
            if original is not None and self._value[i] is not original:
                self._value[i] = original
                self._invalidate_downstream(i)
        self._changed(None)

    def subscribe(self, callback):
        """Call ``callback(GraphEvent)`` whenever values change; returns an unsubscribe function."""
        self._listeners.append(callback)

        def unsubscribe():
            if callback in self._listeners:
                self._listeners.remove(callback)
        return unsubscribe

    def forward(self) -> np.ndarray:
        """Compute every value (a full forward pass); returns the output's value."""
        return self.value(self.output)

    def backward(self) -> None:
        """Compute every gradient (a full backward pass)."""
        for i in range(len(self.nodes)):
            if self._needs[i] and not self._grad_ok[i]:
                self._ensure_grad(i)

    # -- the engine: one gate at a time ----------------------------------------------------
    def _reset_gradients(self) -> None:
        n = len(self.nodes)
        self._grad: list = [None] * n
        self._grad_ok = [False] * n
        self._contrib: list = [None] * n
        self._local: dict = {}

    def _compute_value(self, i: int) -> None:
        node = self.nodes[i]
        inputs = [self._value[p] for p in self._parents[i]]
        self._value[i] = np.asarray(node.op.forward(*inputs))
        self._primed[id(node.op)] = i

    def _ensure_values(self, i: int) -> None:
        """Compute the value of node ``i`` and of the ancestors it still needs (iteratively)."""
        with _gc_paused():
            self._ensure_values_loop(i)

    def _ensure_values_loop(self, i: int) -> None:
        stack = [i]
        while stack:
            j = stack[-1]
            if self._value[j] is not None:
                stack.pop()
                continue
            missing = [p for p in self._parents[j] if self._value[p] is None]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            self._compute_value(j)

    def _prime(self, i: int) -> None:
        """Make sure the gate of node ``i`` holds what backward needs for the current values.

        A gate keeps its inputs on ``self`` during ``forward``. If it was last
        called with other inputs (a shared gate object, a gradcheck replay, a
        changed value), run its ``forward`` once more: the work of one gate.
        """
        op = self.nodes[i].op
        if self._primed.get(id(op)) == i and self._value[i] is not None:
            return
        for p in self._parents[i]:
            if self._value[p] is None:
                self._ensure_values(p)
        out = np.asarray(op.forward(*[self._value[p] for p in self._parents[i]]))
        if self._value[i] is None:
            self._value[i] = out
        self._primed[id(op)] = i

    def _compute_contrib(self, i: int) -> None:
        """Call the gate's backward with the node's complete gradient (one gate's work)."""
        self._prime(i)
        grads = _gate_backward(self.nodes[i].tensor, self._grad[i])
        self._contrib[i] = tuple(
            g if (g is not None and self._needs[p]) else None for p, g in zip(self._parents[i], grads)
        )

    def _ensure_grad(self, i: int) -> None:
        """Complete the gradient of node ``i``: its children's gradients first (iteratively)."""
        if not self._needs[i]:
            return
        with _gc_paused():
            self._ensure_grad_loop(i)

    def _ensure_grad_loop(self, i: int) -> None:
        stack = [i]
        while stack:
            j = stack[-1]
            if self._grad_ok[j]:
                stack.pop()
                continue
            pending = [c for c, _ in self._kids[j] if not self._grad_ok[c]]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            total = self.seed if j == len(self.nodes) - 1 else None
            for c, slot in self._kids[j]:
                if self._contrib[c] is None:
                    self._compute_contrib(c)
                g = self._contrib[c][slot]
                if g is not None:
                    total = g if total is None else total + g
            if total is None:  # no child sends anything back: the gradient is zero
                total = np.zeros(self.nodes[j].shape, dtype=self.nodes[j].dtype)
            self._grad[j] = total
            self._grad_ok[j] = True

    def _invalidate_downstream(self, i: int) -> None:
        """Forget the values computed from node ``i``, and every gradient."""
        stack = [c for c, _ in self._kids[i]]
        seen = set()
        while stack:
            c = stack.pop()
            if c in seen:
                continue
            seen.add(c)
            self._value[c] = None
            op = self.nodes[c].op
            if self._primed.get(id(op)) == c:
                del self._primed[id(op)]
            stack.extend(k for k, _ in self._kids[c])
        self._reset_gradients()

    def _changed(self, node) -> None:
        self.version += 1
        event = GraphEvent("values", node)
        for stepper in list(self._steppers):
            stepper._on_graph_event(event)
        for callback in list(self._listeners):
            callback(event)

    def _unprime(self) -> None:
        """Forget which gates hold consistent state (after replays with other values)."""
        self._primed.clear()

    def local_gradient(self, key, slot: int):
        """d(node)/d(input ``slot``) as a float, for a one-element node and input.

        This is the gate's backward applied to d_out = 1, run on a shallow copy
        of the gate so the original keeps its state. ``None`` when the node or
        that input is not a single number (then the local gradient is a Jacobian;
        see the gate's ``local`` formulas).
        """
        i = self._index(key)
        node = self.nodes[i]
        if node.op is None or not node.is_scalar or not node.parents[slot].is_scalar:
            return None
        cached = self._local.get(i)
        if cached is None:
            import copy

            self._prime(i)
            op = copy.copy(node.op)
            op.needs_grad = tuple(self._needs[p] for p in self._parents[i])
            grads = op.backward(np.ones_like(self._value[i]))
            if not isinstance(grads, (tuple, list)):
                grads = (grads,)
            cached = tuple(None if g is None else float(np.asarray(g).reshape(-1)[0]) for g in grads)
            self._local[i] = cached
        return cached[slot] if slot < len(cached) else None

    # -- stepping ----------------------------------------------------------------------------
    def _build_steps(self) -> None:
        with _gc_paused():
            self._build_steps_now()

    def _build_steps_now(self) -> None:
        from .stepper import Step

        n = len(self.nodes)
        steps = [Step(self, i, "forward", "leaf" if node.op is None else "gate", node)
                 for i, node in enumerate(self.nodes)]
        bwd = [None] * n
        if self._needs[-1]:
            steps.append(Step(self, n, "backward", "seed", self.output))
            for node in reversed(self.nodes):
                if node.op is not None:
                    bwd[node.index] = len(steps)
                    steps.append(Step(self, len(steps), "backward", "gate", node))
        # the step after which each node's gradient is complete
        complete = [None] * n
        if self._needs[-1]:
            complete[n - 1] = n
        for i in range(n - 1):
            if self._needs[i] and self._kids[i]:
                complete[i] = max(bwd[c] for c, _ in self._kids[i])
        self._bwd_step = bwd
        self._complete_step = complete
        never = len(steps) + 1
        self._complete_array = np.array([never if s is None else s for s in complete], dtype=np.int64)
        for i, s in enumerate(complete):
            if s is not None:
                steps[s].completes.append(self.nodes[i])
        self._steps = steps

    def steps(self) -> list:
        """Every step, in order: a forward step per node (leaves first, the output
        last), then the backward steps: the seed (d output/d output = 1) and one
        step per gate in reverse topological order. A list of :class:`Step`."""
        if self._steps is None:
            self._build_steps()
        return self._steps

    @property
    def backward_start(self) -> int:
        """The position where the backward pass begins (= the number of forward steps)."""
        return len(self.nodes)

    def stepper(self):
        """A new :class:`Stepper` at position 0 over this graph."""
        from .stepper import Stepper

        return Stepper(self)

    def ledger(self):
        """The whole backward pass as a :class:`Ledger` of chain-rule lines."""
        from .ledger import Ledger

        lines = Ledger()
        for step in self.steps()[self.backward_start:]:
            lines.extend(step.ledger)
        return lines

    # -- analyses ----------------------------------------------------------------------------
    def flow(self, **thresholds):
        """Gradient magnitudes and warnings (vanishing, exploding, dead ReLU,
        saturation, NaN): a :class:`~gradgraph.graph.flow.Flow`."""
        from .flow import Flow

        return Flow(self, **thresholds)

    def gradcheck(self, eps=None, max_elements: int = 20, seed: int = 0, atol=None, rtol=None, nodes=None,
                  promote: bool = True):
        """Compare every node's gradient with a centred difference: a
        :class:`~gradgraph.graph.check.GraphCheck`, ``{node name: NodeCheck}``.

        A float32 graph is checked in float64 (``promote=True``, the values are
        put back afterwards). ``eps`` defaults to 1e-6, ``atol``/``rtol`` to
        1e-5/1e-3; with ``promote=False`` float32 nodes use 1e-3 and 1e-3/1e-2.
        Tensors with more than ``max_elements`` elements are checked at that
        many random positions. ``nodes``: only these (names or Nodes). See
        :mod:`.check`.
        """
        from .check import check_graph

        return check_graph(self, eps=eps, max_elements=max_elements, seed=seed, atol=atol, rtol=rtol, nodes=nodes,
                           promote=promote)

    # -- views and drawings ------------------------------------------------------------------
    def view(self):
        """The full graph as a view (one box per node), for layout and DOT."""
        from .views import GraphView

        return GraphView.full(self)

    def collapsed(self, expanded=None):
        """The graph with each scope group drawn as one box, except the groups in
        ``expanded`` (see :class:`~gradgraph.graph.views.GraphView`)."""
        from .views import GraphView

        return GraphView.collapsed(self, expanded)

    def layout(self, view=None, engine: str = "auto", sizes=None):
        """Positions for drawing (cached: they stay put while stepping)."""
        from .layout import layout

        target = self.view() if view is None else view
        key = (getattr(target, "key", None), engine)
        if sizes is not None or key[0] is None:
            return layout(target, engine=engine, sizes=sizes)
        if key not in self._layouts:
            self._layouts[key] = layout(target, engine=engine)
        return self._layouts[key]

    def to_dot(self, stepper=None, expanded=None, collapsed: bool = False, **options) -> str:
        """Graphviz DOT source: each node labelled with its name, gate, value and
        gradient; edges drawn thicker and warmer where the gradient is larger.
        With ``stepper``, only what is known at its position is shown."""
        from .dot import to_dot

        view = self.collapsed(expanded) if (collapsed or expanded is not None) else self.view()
        return to_dot(view, stepper=stepper, **options)

    def render(self, path, stepper=None, **options):
        """Write the drawing to ``path`` (.svg, .png or .pdf) with Graphviz's ``dot``."""
        from .dot import render

        return render(self.to_dot(stepper=stepper, **options), path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        from .dot import mimebundle

        return mimebundle(self)

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} nodes, output {self.output.name!r})"


def _unique_names(tensors: list) -> list:
    """Each tensor's name, or an automatic one: ``add_0``, ``mul_1`` for gate outputs,
    ``x_0`` for inputs, ``w_0`` for parameters, ``c_0`` for constants. Repeated user
    names get a suffix (``w``, ``w_0``).

    A gate inside a layer's group is named after the group, the way its
    parameters are (``fc1.weight``): ``fc1.matmul``, then ``fc1.matmul_1`` for
    a second one. The layer's result itself carries the group's name (``fc1``),
    given by :class:`gradgraph.nn.Module` when the layer runs, so a node, the
    collapsed box of its layer, the ledger and the flags say the same name."""
    taken = {t.name for t in tensors if t.name}
    used: set = set()
    counters: dict = {}
    names = []

    def fresh(stem: str, bare: bool = False) -> str:
        if bare and stem not in taken and stem not in used:
            counters.setdefault(stem, 1)
            return stem
        while True:
            k = counters.get(stem, 0)
            counters[stem] = k + 1
            candidate = f"{stem}_{k}"
            if candidate not in taken and candidate not in used:
                return candidate

    for t in tensors:
        if t.name:
            name = t.name if t.name not in used else fresh(t.name)
        elif t.gate is not None and t.group:
            name = fresh(f"{t.group}.{t.gate.short_name}", bare=True)
        elif t.gate is not None:
            name = fresh(t.gate.short_name)
        else:
            name = fresh({"parameter": "w", "constant": "c"}.get(t.kind, "x"))
        used.add(name)
        names.append(name)
    return names
