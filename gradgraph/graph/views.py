"""Views of a graph: every node as a box, or scope groups collapsed into one box each.

A LeNet-5 graph has hundreds of gates but only about fifteen layers. Nodes
created inside ``with gg.scope("conv1"):`` (nn modules do this for you) carry
the group path ``"conv1"``; nested scopes give ``"lenet/conv1"``.

``collapsed(graph, expanded)`` shows each node inside the box of its
*outermost group that is not expanded*::

    view = collapsed(graph)                  # one box per layer
    view = collapsed(graph, {"conv1"})       # conv1's gates shown one by one
    view = view.expand("fc1")                # and fc1's too
    view = full(graph)                       # every node its own box

With ``expanded=None`` (the default) a group that holds every gate of the
graph (say the whole model, ``"lenet"``) is opened automatically, so you see
its layers rather than one box. Nodes outside any group (the input image)
stay as they are.

A view has ``nodes`` (:class:`ViewNode`) and ``edges`` (:class:`ViewEdge`);
the layout and the DOT writer work on views, so both draw collapsed graphs.
"""
from __future__ import annotations

import heapq


class ViewNode:
    """A box of a view: one graph node (``kind == "node"``) or a collapsed group
    (``kind == "group"``).

    ``name`` (unique in the view; a group's path, or the node's name),
    ``label`` (what to print: the node name or the group's last path part),
    ``node`` (the graph Node for a single node, else None), ``group`` (the
    group path of a box), ``members`` (graph Nodes inside, topological order),
    ``output`` (the member whose value leaves the box: for a layer, its
    result), ``index`` (position in ``view.nodes``).
    """

    __slots__ = ("name", "label", "kind", "node", "group", "members", "output", "index")

    def __init__(self, name, label, kind, node, group, members, index):
        self.name = name
        self.label = label
        self.kind = kind
        self.node = node
        self.group = group
        self.members = members
        self.output = members[-1]
        self.index = index

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    @property
    def gate_names(self) -> list:
        """The distinct gates inside, in order of first use (``["Conv2d", "Add"]``)."""
        seen = []
        for m in self.members:
            if m.gate is not None and m.gate not in seen:
                seen.append(str(m.gate))
        return seen

    def __repr__(self) -> str:
        return f"ViewNode({self.name!r}, {self.kind}, {len(self.members)} member(s))"


class ViewEdge:
    """An arrow between two boxes, standing for one or more graph ``edges``."""

    __slots__ = ("source", "target", "edges", "index")

    def __init__(self, source: ViewNode, target: ViewNode, edges: list, index: int):
        self.source = source
        self.target = target
        self.edges = edges
        self.index = index

    def __repr__(self) -> str:
        return f"ViewEdge({self.source.name} -> {self.target.name}, {len(self.edges)} edge(s))"


class GraphView:
    """Boxes and arrows over a Graph. Build with :func:`full` or :func:`collapsed`."""

    def __init__(self, graph, nodes: list, edges: list, box_of: list, expanded):
        self.graph = graph
        self.nodes = nodes
        self.edges = edges
        self._box_of = box_of
        self.expanded = expanded
        self._by_name = {v.name: v for v in nodes}

    def box_of(self, node) -> ViewNode:
        """The box showing a graph node (a Node, name, index or Tensor)."""
        return self._box_of[self.graph.node(node).index]

    def node(self, name: str) -> ViewNode:
        return self._by_name[name]

    def expand(self, path: str) -> "GraphView":
        """This view with one more group opened."""
        return collapsed(self.graph, set(self.expanded or ()) | {path})

    def collapse(self, path: str) -> "GraphView":
        """This view with a group (and the groups inside it) closed again."""
        kept = {p for p in (self.expanded or ()) if p != path and not p.startswith(path + "/")}
        return collapsed(self.graph, kept)

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        groups = sum(1 for v in self.nodes if v.is_group)
        return f"GraphView({len(self.nodes)} boxes ({groups} groups), {len(self.edges)} arrows)"


def full(graph) -> GraphView:
    """One box per node and one arrow per edge (``x * x`` has two arrows)."""
    nodes = [ViewNode(n.name, n.name, "node", n, None, [n], n.index) for n in graph.nodes]
    edges = [ViewEdge(nodes[e.source.index], nodes[e.target.index], [e], e.index) for e in graph.edges]
    return GraphView(graph, nodes, edges, nodes, None)


def collapsed(graph, expanded=None) -> GraphView:
    """Groups as boxes, except the ``expanded`` group paths (``None``: automatic)."""
    if expanded is None:
        expanded = _auto_expanded(graph)
    expanded = frozenset(expanded)
    nodes, boxes, box_of = [], {}, []
    taken = {n.name for n in graph.nodes}
    for node in graph.nodes:
        path = _box_path(node.group, expanded)
        if path is None:
            view_node = ViewNode(node.name, node.name, "node", node, None, [node], len(nodes))
            nodes.append(view_node)
        elif path in boxes:
            view_node = boxes[path]
            view_node.members.append(node)
        else:
            # a layer's result is named like its group (nn.Module does that): the box keeps the name
            owner = graph.node(path) if path in taken else None
            name = path if owner is None or _box_path(owner.group, expanded) == path else f"[{path}]"
            view_node = ViewNode(name, path.rsplit("/", 1)[-1], "group", None, path, [node], len(nodes))
            boxes[path] = view_node
            nodes.append(view_node)
        box_of.append(view_node)

    edges, pairs = [], {}
    for e in graph.edges:
        s, t = box_of[e.source.index], box_of[e.target.index]
        if s is t:
            continue
        if (s.index, t.index) in pairs:
            pairs[(s.index, t.index)].edges.append(e)
        else:
            pairs[(s.index, t.index)] = edge = ViewEdge(s, t, [e], len(edges))
            edges.append(edge)
    # a box's output: its last member whose value leaves the box (else its last member)
    for view_node in boxes.values():
        leaving = [m for m in view_node.members if any(box_of[c.index] is not view_node for c in m.children)]
        view_node.output = leaving[-1] if leaving else view_node.members[-1]
    nodes = _topological(nodes, edges)
    for k, view_node in enumerate(nodes):
        view_node.index = k
    return GraphView(graph, nodes, edges, box_of, expanded)


def _topological(nodes: list, edges: list) -> list:
    """The boxes in an order where arrows point forward (Kahn's algorithm).

    Among the boxes that are ready, the one whose first gate comes first in
    the graph goes first (a box of leaves counts from its first consumer), so
    the order follows the computation. Boxes of groups that call each other in
    turn (A -> B -> A) form a cycle; it is broken at the earliest such box.
    """
    def key(view_node):
        gates = [m.index for m in view_node.members if m.op is not None]
        if gates:
            return min(gates)
        users = [c.index for m in view_node.members for c in m.children]
        return (min(users) - 0.5) if users else view_node.members[0].index

    keys = {id(v): (key(v), v.index) for v in nodes}
    waiting = {id(v): 0 for v in nodes}
    after: dict = {id(v): [] for v in nodes}
    for e in edges:
        waiting[id(e.target)] += 1
        after[id(e.source)].append(e.target)
    ready = [(keys[id(v)], id(v), v) for v in nodes if waiting[id(v)] == 0]
    heapq.heapify(ready)
    order, placed = [], set()
    while len(order) < len(nodes):
        if not ready:  # a cycle: release the earliest box still waiting
            v = min((v for v in nodes if id(v) not in placed), key=lambda v: keys[id(v)])
            waiting[id(v)] = 0
            ready.append((keys[id(v)], id(v), v))
        _, vid, v = heapq.heappop(ready)
        if vid in placed:
            continue
        placed.add(vid)
        order.append(v)
        for t in after[vid]:
            waiting[id(t)] -= 1
            if waiting[id(t)] == 0 and id(t) not in placed:
                heapq.heappush(ready, (keys[id(t)], id(t), t))
    return order


def _box_path(group, expanded) -> str | None:
    """The outermost prefix of ``group`` that is not expanded (None: show the node itself)."""
    if not group:
        return None
    parts = group.split("/")
    for k in range(1, len(parts) + 1):
        prefix = "/".join(parts[:k])
        if prefix not in expanded:
            return prefix
    return None


def _auto_expanded(graph) -> set:
    """Open groups that hold every gate of the graph (a model wrapped in one scope)."""
    expanded: set = set()
    gates = [n for n in graph.nodes if n.op is not None]
    while gates:
        paths = {_box_path(n.group, expanded) for n in gates}
        if len(paths) != 1 or None in paths:
            break
        path = paths.pop()
        if path in expanded or not any(n.group and n.group != path and n.group.startswith(path + "/")
                                       for n in gates):
            break  # the group has no subgroups: opening it would show every gate
        expanded.add(path)
    return expanded
