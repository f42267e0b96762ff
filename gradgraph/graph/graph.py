"""Graph: the computational graph behind a Tensor, as a model every view can share.

    import gradgraph as gg
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = (x + y) * z
    graph = gg.Graph(f)
    [n.name for n in graph.nodes]        # ['x', 'y', 'z', 'add_0', 'f'] (if f was named "f")
    graph.node("add_0").value            # 3.0
    graph.node("x").grad                 # -4.0

A :class:`Graph` wraps every Tensor that the output depends on in a
:class:`Node` (name, gate, kind, value, gradient, parents, children) joined
by :class:`Edge` objects, and keeps its **own** values and gradients: it
never writes ``Tensor.grad`` or ``Tensor.data``. It replays the recorded
computation on copies (each node gets its own copy of its gate, so the gate's
saved state always belongs to the graph's values), which is why
:meth:`Graph.set_value` on an input updates every value and every gradient
downstream.

Everything is computed lazily and cached, one gate at a time:

* ``value(i)`` runs ``forward`` of node ``i`` (after its parents' values);
* gradients come from the engine's one chain-rule loop,
  :func:`gradgraph.tensor.backprop`, pulled one gate at a time: ``grad(i)``
  pulls it until every user of node ``i`` has sent its gradient back,
  ``contributions(i)`` until node ``i``'s own gate has.

So a step of the :class:`~gradgraph.graph.stepper.Stepper` costs the work of
one gate, and stepping back costs nothing. Both walks are iterative, so a
chain of 100,000 gates is fine.

Node order: all leaves first (inputs and parameters, then constants, each in
the order a depth-first search meets them), then the gates in topological order. That is
what a student expects: ``x``, ``y`` and ``z`` appear, then ``q``, then ``f``.

Everything that presents a graph (stepping, the ledger, gradient flow,
gradcheck, views, layout, DOT) lives in its own module and takes a Graph as
an argument; this module imports none of them.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import threading
from dataclasses import dataclass

import numpy as np

from ..tensor import Tensor, backprop, topological_order


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
        info.symbol = gate.symbol or gate.short_name
        info.formula = gate.formula
        info.local = tuple(gate.local)
        return info


class Node:
    """One value of the graph: a leaf (input, parameter, constant) or a gate's output.

    Fields: ``name`` (unique in the graph), ``index`` (position in
    ``graph.nodes``), ``tensor`` (the wrapped :class:`~gradgraph.Tensor`),
    ``gate`` (a :class:`GateInfo`, equal to e.g. ``"Multiply"``; ``None`` for
    a leaf), ``op`` (the Gate object or ``None``), ``kind`` (``"input"``,
    ``"parameter"``, ``"constant"``, ``"intermediate"``), ``group`` (scope
    path such as ``"lenet/conv1"`` or ``None``).

    Adjacency: ``parents`` (input nodes, in the gate's argument order,
    repeated for ``x * x``), ``children`` (the nodes using this one, each
    once, in graph order), ``in_edges`` (one :class:`Edge` per input slot) and
    ``out_edges`` (one per use of this node, in the order of ``graph.edges``).

    ``value`` and ``grad`` are the graph's current ones (a float for a
    one-element value, else a numpy array; ``grad`` is ``None`` for a
    constant); ``graph.value(node)``/``graph.grad(node)`` are always arrays.
    """

    __slots__ = ("graph", "index", "tensor", "name", "op", "kind", "group", "parents", "children",
                 "in_edges", "out_edges", "_info", "__weakref__")

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
        self.in_edges: list = []
        self.out_edges: list = []
        self._info = None

    @property
    def gate(self):
        """The gate as a :class:`GateInfo` (equal to its class name), ``None`` for a leaf."""
        if self._info is None and self.op is not None:
            self._info = GateInfo(self.op)
        return self._info

    # -- structure -------------------------------------------------------------------
    @property
    def is_leaf(self) -> bool:
        return self.op is None

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
        """The dtype of the graph's values for this node (see :meth:`Graph.copy`)."""
        return self.tensor.dtype if self.graph.dtype is None else self.graph.dtype

    @property
    def is_scalar(self) -> bool:
        return self.tensor.size == 1

    # -- numbers ---------------------------------------------------------------------
    @property
    def value(self):
        """The current value: a float when it has one element, else the array."""
        return _natural(self.graph.value(self))

    @property
    def grad(self):
        """d(output)/d(this node), a float or an array; ``None`` if no gradient is needed."""
        return _natural(self.graph.grad(self))

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

    ``nodes`` (topological order, leaves first), ``edges``, ``output``,
    ``node(key)``, ``leaves``, ``groups``; ``value(node)``,
    ``grad(node)``, ``contributions(node)``, ``local_gradient(node, slot)``;
    ``set_value(node, value)``, ``reset_values()``, ``subscribe(callback)``,
    ``forward()``, ``backward()``, ``copy(dtype)``.
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
        self.edges: list[Edge] = []
        for node in self.nodes:
            for slot, parent in enumerate(self._by_id[id(p)] for p in node.tensor.parents):
                edge = Edge(len(self.edges), parent, node, slot)
                self.edges.append(edge)
                node.parents.append(parent)
                node.in_edges.append(edge)
                parent.out_edges.append(edge)
                if not parent.children or parent.children[-1] is not node:
                    parent.children.append(node)

        seed = np.ones_like(output.data) if grad is None else np.asarray(grad, dtype=output.data.dtype)
        if seed.shape != output.shape:
            raise ValueError(f"Graph: grad has shape {seed.shape}, the output has shape {output.shape}")
        self.seed = seed
        self.dtype = None  # the tensors' own dtypes (see copy)
        # the graph's own replay of the computation: leaves copied, gates computed on demand
        self._original = [np.array(t.data, copy=True) if t.gate is None else None for t in tensors]
        self._replay: list = [None] * len(tensors)   # a _Replayed per node, once its value is known
        self._gates: list = [None] * len(tensors)    # each gate node's own copy of its gate
        for i, value in enumerate(self._original):
            if value is not None:
                self._replay[i] = _Replayed(value, None, (), tensors[i].requires_grad)
        self._reset_gradients()
        self.version = 0          # bumped by every change of values
        self._listeners: list = []
        self._lock = threading.Lock()
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

    @property
    def leaves(self) -> list:
        return [n for n in self.nodes if n.op is None]

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

    # -- values: the forward pass, replayed one gate at a time ---------------------------
    def value(self, key) -> np.ndarray:
        """The current value of a node (an array), computing the gates it needs."""
        i = key.index if isinstance(key, Node) and key.graph is self else self.node(key).index
        if self._replay[i] is None:
            self._compute_values(i)
        return self._replay[i].data

    def _compute_values(self, i: int) -> None:
        """Compute node ``i`` and the ancestors it still needs (iteratively: no recursion limit)."""
        stack = [i]
        while stack:
            j = stack[-1]
            if self._replay[j] is not None:
                stack.pop()
                continue
            parents = self.nodes[j].parents
            missing = [p.index for p in parents if self._replay[p.index] is None]
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            gate = self._gates[j]
            if gate is None:
                gate = self._gates[j] = _shallow_copy(self.nodes[j].op)
            inputs = tuple(self._replay[p.index] for p in parents)
            out = np.asarray(gate.forward(*[t.data for t in inputs]))
            self._replay[j] = _Replayed(out, gate, inputs, True)

    def forward(self) -> np.ndarray:
        """Compute every value (a full forward pass); returns the output's value."""
        return self.value(self.output)

    def set_value(self, key, value) -> None:
        """Give a leaf a new value (same shape). Values downstream and all gradients
        are recomputed when next asked for (a stepper replays them as it shows them)."""
        node = self.node(key)
        if node.op is not None:
            raise ValueError(
                f"{node.name} is computed by its {node.gate} gate; set the value of an input, "
                f"parameter or constant instead"
            )
        array = np.array(value, dtype=node.dtype)  # a copy
        if array.size != node.size:
            raise ValueError(f"set_value({node.name!r}): value has shape {array.shape}, the node has shape {node.shape}")
        self._set_leaf(node.index, array.reshape(node.shape))
        self._changed(node)

    def reset_values(self) -> None:
        """Go back to the leaf values the graph was built with."""
        for i, original in enumerate(self._original):
            if original is not None and self._replay[i].data is not original:
                self._set_leaf(i, original)
        self._changed(None)

    def _set_leaf(self, i: int, array) -> None:
        """A new value for leaf ``i``: forget what was computed from it, and every gradient."""
        self._replay[i] = _Replayed(array, None, (), self.nodes[i].requires_grad)
        stack, seen = [c.index for c in self.nodes[i].children], set()
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                self._replay[c] = None
                stack.extend(k.index for k in self.nodes[c].children)
        self._reset_gradients()

    def copy(self, dtype=None) -> "Graph":
        """A new Graph over the same tensors with this graph's current leaf values and
        seed, cast to ``dtype`` if given (gradcheck checks float32 graphs in float64)."""
        seed = self.seed if dtype is None else self.seed.astype(dtype)
        other = Graph(self.tensor, grad=seed)
        other.dtype = self.dtype if dtype is None else np.dtype(dtype)
        for node in self.leaves:
            value = self.value(node)
            if dtype is not None and value.dtype.kind == "f":
                value = value.astype(dtype)
            other._set_leaf(node.index, value)
        return other

    def subscribe(self, callback):
        """Call ``callback(GraphEvent)`` whenever values change; returns an unsubscribe function."""
        self._listeners.append(callback)

        def unsubscribe():
            if callback in self._listeners:
                self._listeners.remove(callback)
        return unsubscribe

    def _changed(self, node) -> None:
        self.version += 1
        event = GraphEvent("values", node)
        for callback in list(self._listeners):
            callback(event)

    # -- gradients: the engine's chain-rule loop, pulled one gate at a time ------------------
    def _reset_gradients(self) -> None:
        self._backprop = None                     # the running backprop generator
        self._grads: dict = {}                    # id(replayed node) -> gradient, filled by backprop
        self._done: list = [None] * len(self.nodes)   # the BackwardStep of each node, as yielded
        self._reached = len(self.nodes)           # backprop has yielded every node from here on
        self._local: dict = {}

    def _backprop_to(self, i: int) -> None:
        """Let the chain-rule loop run until it has yielded node ``i`` (or passed it). It visits
        the nodes in reverse graph order: this costs the gates in between, one per step."""
        if self._reached <= i:
            return
        with self._lock:  # the app reads a graph from a worker thread too; a generator runs in one
            if self._backprop is None:
                self.forward()  # every value first: the backward pass starts at the end
                self._position = {id(t): k for k, t in enumerate(self._replay)}
                self._backprop = backprop(self._replay[-1], self.seed, order=self._replay, grads=self._grads)
            try:
                while self._reached > i:
                    step = next(self._backprop, None)
                    if step is None:
                        self._reached = -1
                        break
                    k = self._position[id(step.node)]
                    self._done[k] = step
                    self._reached = k
            except BaseException:
                self._reset_gradients()  # a gate raised: the next attempt starts over (and raises again)
                raise

    def grad(self, key):
        """d(output)/d(node) as an array, or ``None`` for a node that needs no gradient.

        Complete once every child has sent its gradient back: the chain-rule
        loop runs up to the last child (in the order it visits them), not further."""
        node = self.node(key)
        if not node.requires_grad:
            return None
        if node.children:  # in graph order: the first is the last the loop visits
            self._backprop_to(node.children[0].index)
        elif node is self.output:
            return self.seed
        g = self._grads.get(id(self._replay[node.index]))
        return np.zeros(node.shape, dtype=node.dtype) if g is None else g

    def contributions(self, key) -> tuple:
        """What the gate of ``key`` sends back to each input (one array or ``None``
        per parent): the result of its ``backward`` called with the node's gradient."""
        node = self.node(key)
        if node.op is None:
            return ()
        self._backprop_to(node.index)
        step = self._done[node.index]
        return step.d_inputs if step is not None else (None,) * len(node.parents)

    def backward(self) -> None:
        """Compute every gradient (a full backward pass)."""
        self._backprop_to(-1)

    def local_gradient(self, key, slot: int):
        """d(node)/d(input ``slot``) as a float, for a one-element node and input:
        the node's own gate's backward applied to d_out = 1. ``None`` when the node
        or that input is not a single number (then the local gradient is a Jacobian;
        see the gate's ``local`` formulas)."""
        node = self.node(key)
        if node.op is None or not node.is_scalar or not node.parents[slot].is_scalar:
            return None
        cached = self._local.get(node.index)
        if cached is None:
            value = self.value(node)
            grads = self._gates[node.index].backward(np.ones_like(value))
            if not isinstance(grads, (tuple, list)):
                grads = (grads,)
            cached = tuple(None if g is None else float(np.asarray(g).reshape(-1)[0]) for g in grads)
            self._local[node.index] = cached
        return cached[slot] if slot < len(cached) else None

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} nodes, output {self.output.name!r})"


class _Replayed:
    """The graph's own copy of one node of the computation: its value, its gate
    (the graph's copy) and its inputs, which is all of a Tensor that
    :func:`~gradgraph.tensor.backprop` reads."""

    __slots__ = ("data", "gate", "parents", "requires_grad")

    def __init__(self, data, gate, parents: tuple, requires_grad: bool):
        self.data = data
        self.gate = gate
        self.parents = parents
        self.requires_grad = requires_grad


def _shallow_copy(gate):
    """``copy.copy(gate)``, about three times faster for a plain object (it runs for
    every gate of a graph, and stepping must stay cheap)."""
    state = getattr(gate, "__dict__", None)
    if state is None or hasattr(gate, "__copy__"):
        return copy.copy(gate)
    twin = object.__new__(type(gate))
    twin.__dict__.update(state)
    return twin


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
