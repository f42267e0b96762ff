"""Where to draw each box: positions for the graph views, left to right.

    lay = layout(graph)                      # or layout(collapsed(graph))
    box = lay.boxes["f"]                     # Box(x, y, w, h): top-left corner, size
    for route in lay.routes:                 # one per view edge
        route.points                         # polyline [(x, y), ...] source -> target

Coordinates are in points (1/72 inch) with y pointing **down** (screen
coordinates); inputs are at the left, the output at the right, like the
lecture's diagrams.

Two engines:

* ``"dot"``: Graphviz's ``dot`` program (``dot -Tplain``), when it is on the
  PATH. Its edges are cubic Bézier curves (``route.bezier``; ``route.points``
  samples them as a polyline).
* ``"builtin"``: a layered (Sugiyama-style) layout in pure Python, used when
  ``dot`` is missing or fails, with one notice (``layout.notice``, and a
  ``RuntimeWarning`` the first time in a process):

  1. *layering*: each node's column is the longest path from an input
     (every edge goes at least one column right); inputs with no parents are
     then moved right, next to their first consumer;
  2. edges spanning several columns get invisible *dummy* nodes, one per
     column, so they can bend around boxes;
  3. *ordering*: boxes in each column are sorted by the barycentre (mean
     position) of their neighbours in the previous column, sweeping right and
     then left a few times, keeping the order with the fewest crossings;
  4. *coordinates*: columns side by side; in each column boxes move towards
     their neighbours' mean height without overlapping.

``engine="auto"`` (the default) picks ``dot`` when available, except for views
of more than ``AUTO_DOT_MAX_NODES`` (1,500) boxes, where dot takes seconds. Compute a
layout once: stepping does not change the structure, so positions stay put.
"""
from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass, field

from .graph import Graph
from .views import full

#: Gaps between columns and between boxes in a column (points).
COLUMN_GAP = 56.0
ROW_GAP = 18.0
#: dot gives up after this many seconds; the built-in layout is used then.
DOT_TIMEOUT = 60.0
#: ``engine="auto"`` uses dot up to this many boxes (dot needs ~4 s for 2,000, the
#: built-in layout ~0.3 s); bigger views get the built-in layout.
AUTO_DOT_MAX_NODES = 1500

_notice_shown = False


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (or not on the PATH)."""


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or None (looked up on every call)."""
    return shutil.which("dot")


def missing_dot_message() -> str:
    return ("Graphviz's `dot` program was not found on the PATH. Install Graphviz "
            "(Debian/Ubuntu: sudo apt install graphviz; macOS: brew install graphviz; "
            "Windows: winget install graphviz or conda install graphviz) and make sure `dot` is on the PATH.")


@dataclass
class Box:
    """A box: top-left corner ``(x, y)`` and size ``(w, h)``, in points, y down."""

    name: str
    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple:
        return (self.x + self.w / 2, self.y + self.h / 2)

    def __iter__(self):  # x, y, w, h = box
        return iter((self.x, self.y, self.w, self.h))


@dataclass
class Route:
    """The drawn path of one view edge (``view.edges[index]``), from source to target.

    ``points``: a polyline; ``bezier``: cubic Bézier control points
    (``p0, c1, c2, p1, c1, c2, p2, ...``) when the engine made curves, else None.
    """

    index: int
    source: str
    target: str
    points: list
    bezier: list | None = None


@dataclass
class Layout:
    """Boxes by view-node name, routes per edge, the total size, the engine used
    (``"dot"`` or ``"builtin"``) and a ``notice`` (why the built-in engine was used)."""

    boxes: dict
    routes: list
    width: float
    height: float
    engine: str
    notice: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def positions(self) -> dict:
        """``{name: (x, y, w, h)}``."""
        return {name: tuple(box) for name, box in self.boxes.items()}

    @property
    def edges(self) -> list:
        return self.routes

    def __getitem__(self, name) -> Box:
        return self.boxes[name]


def _as_view(target):
    return full(target) if isinstance(target, Graph) else target


def default_size(view_node) -> tuple:
    """A box size that fits a node's name and gate symbol (or a group's name)."""
    if view_node.kind == "group":
        text = max(len(view_node.label), 8)
        return (max(96.0, 7.0 * text + 24), 52.0)
    node = view_node.node
    text = max(len(node.name), len(node.symbol) + 2, 5)
    return (max(56.0, 7.0 * text + 18), 40.0 if node.is_scalar else 48.0)


def layout(target, engine: str = "auto", sizes=None) -> Layout:
    """Lay out a Graph (every node a box) or a GraphView (e.g. ``collapsed(graph)``).

    ``engine``: ``"auto"`` (dot if available, else built-in), ``"dot"`` (raises
    :class:`GraphvizNotFoundError` without it) or ``"builtin"``.
    ``sizes``: optional ``{name: (w, h)}`` measured by the view; others get
    :func:`default_size`.
    """
    view = _as_view(target)
    dims = {v.name: (sizes or {}).get(v.name) or default_size(v) for v in view.nodes}
    if engine not in ("auto", "dot", "builtin"):
        raise ValueError(f"layout engine must be 'auto', 'dot' or 'builtin', not {engine!r}")
    notice = None
    if engine == "auto" and len(view.nodes) > AUTO_DOT_MAX_NODES:
        result = layered_layout(view, dims)
        result.notice = (f"{len(view.nodes)} boxes: using the built-in layered layout "
                         f"(dot is slow above {AUTO_DOT_MAX_NODES}; pass engine='dot' to insist).")
        return result
    if engine in ("auto", "dot"):
        program = dot_program()
        if program is None:
            if engine == "dot":
                raise GraphvizNotFoundError(missing_dot_message())
            notice = "Graphviz `dot` not found on the PATH: using the built-in layered layout."
        else:
            try:
                return _dot_layout(view, dims, program)
            except (OSError, subprocess.SubprocessError, ValueError) as error:
                if engine == "dot":
                    raise
                notice = f"Graphviz `dot` failed ({error}): using the built-in layered layout."
    result = layered_layout(view, dims)
    if notice:
        result.notice = notice
        _notify_once(notice)
    return result


def _notify_once(notice: str) -> None:
    global _notice_shown
    if not _notice_shown:
        _notice_shown = True
        warnings.warn(notice, RuntimeWarning, stacklevel=3)


# -- Graphviz --------------------------------------------------------------------------

def _dot_layout(view, dims: dict, program: str) -> Layout:
    """Ask ``dot -Tplain`` for positions (node ids are n0, n1, ... to avoid quoting)."""
    lines = ["digraph G {", "rankdir=LR; nodesep=0.25; ranksep=0.6;",
             'node [shape=box, fixedsize=true, label=""];']
    for v in view.nodes:
        w, h = dims[v.name]
        lines.append(f"n{v.index} [width={w / 72:.4f}, height={h / 72:.4f}];")
    for e in view.edges:
        lines.append(f"n{e.source.index} -> n{e.target.index};")
    lines.append("}")
    run = subprocess.run([program, "-Tplain"], input="\n".join(lines), capture_output=True, text=True,
                         timeout=DOT_TIMEOUT)
    if run.returncode != 0:
        raise ValueError(run.stderr.strip() or f"dot exited with status {run.returncode}")
    return _parse_plain(run.stdout, view, dims)


def _parse_plain(text: str, view, dims: dict) -> Layout:
    height = 0.0
    width = 0.0
    centres, curves = {}, {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * 72, float(parts[3]) * 72
        elif parts[0] == "node":
            centres[int(parts[1][1:])] = (float(parts[2]) * 72, float(parts[3]) * 72)
        elif parts[0] == "edge":
            n = int(parts[3])
            coords = [float(c) * 72 for c in parts[4:4 + 2 * n]]
            key = (int(parts[1][1:]), int(parts[2][1:]))
            curves.setdefault(key, []).append([(coords[2 * k], height - coords[2 * k + 1]) for k in range(n)])
    boxes = {}
    for v in view.nodes:
        if v.index not in centres:
            raise ValueError(f"dot gave no position for {v.name!r}")
    for v in view.nodes:
        cx, cy = centres[v.index]
        w, h = dims[v.name]
        boxes[v.name] = Box(v.name, cx - w / 2, (height - cy) - h / 2, w, h)
    routes = []
    for e in view.edges:
        queue = curves.get((e.source.index, e.target.index))
        bezier = queue.pop(0) if queue else None
        points = _sample_bezier(bezier) if bezier else _straight(boxes[e.source.name], boxes[e.target.name])
        routes.append(Route(e.index, e.source.name, e.target.name, points, bezier))
    return Layout(boxes, routes, width, height, "dot")


def _sample_bezier(control: list, per_segment: int = 6) -> list:
    """Points along a chain of cubic Bézier segments."""
    if len(control) < 4:
        return list(control)
    points = [control[0]]
    for k in range(0, len(control) - 3, 3):
        p0, p1, p2, p3 = control[k:k + 4]
        for s in range(1, per_segment + 1):
            t = s / per_segment
            u = 1 - t
            points.append((u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
                           u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1]))
    return points


def _straight(a: Box, b: Box) -> list:
    return [(a.x + a.w, a.y + a.h / 2), (b.x, b.y + b.h / 2)]


# -- the built-in layered layout ---------------------------------------------------------

def layered_layout(view, dims: dict | None = None, sweeps: int = 6) -> Layout:
    """The built-in Sugiyama-style layout of a view (see the module docstring)."""
    view = _as_view(view)
    n = len(view.nodes)
    dims = dims or {v.name: default_size(v) for v in view.nodes}
    if n == 0:
        return Layout({}, [], 0.0, 0.0, "builtin")

    # 1. layering (view nodes are in topological order of their first member; an
    #    edge pointing backwards, possible between collapsed groups, is reversed)
    succ = [set() for _ in range(n)]
    pred = [set() for _ in range(n)]
    for e in view.edges:
        s, t = e.source.index, e.target.index
        if s == t:
            continue
        if s > t:
            s, t = t, s
        succ[s].add(t)
        pred[t].add(s)
    layer = [0] * n
    for v in range(n):
        if pred[v]:
            layer[v] = 1 + max(layer[u] for u in pred[v])
    for v in range(n):  # inputs move right, next to their first consumer
        if not pred[v] and succ[v]:
            layer[v] = max(0, min(layer[c] for c in succ[v]) - 1)

    # 2. dummy vertices on long edges
    heights = [dims[v.name][1] for v in view.nodes]
    widths = [dims[v.name][0] for v in view.nodes]
    up: list = [[] for _ in range(n)]     # neighbours in the column to the left
    down: list = [[] for _ in range(n)]   # neighbours in the column to the right
    chains: dict = {}
    for s in range(n):
        for t in sorted(succ[s]):
            chain = [s]
            for col in range(layer[s] + 1, layer[t]):
                d = len(layer)
                layer.append(col)
                heights.append(0.0)
                widths.append(0.0)
                up.append([])
                down.append([])
                chain.append(d)
            chain.append(t)
            for a, b in zip(chain, chain[1:]):
                down[a].append(b)
                up[b].append(a)
            chains[(s, t)] = chain
    columns: list = [[] for _ in range(max(layer) + 1)]
    for v in range(len(layer)):  # real vertices in topological order, dummies after
        columns[layer[v]].append(v)

    # 3. ordering by barycentres, keeping the best
    pos = [0] * len(layer)
    for col in columns:
        for k, v in enumerate(col):
            pos[v] = k
    best = [list(c) for c in columns]
    best_crossings = _crossings(columns, down, pos)
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        order = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for c in order:
            neighbours = up if forward else down
            col = columns[c]
            keys = {}
            for v in col:
                ns = neighbours[v]
                keys[v] = sum(pos[u] for u in ns) / len(ns) if ns else pos[v]
            col.sort(key=lambda v: keys[v])
            for k, v in enumerate(col):
                pos[v] = k
        crossings = _crossings(columns, down, pos)
        if crossings < best_crossings:
            best_crossings, best = crossings, [list(c) for c in columns]
        if best_crossings == 0:
            break
    columns = best
    for col in columns:
        for k, v in enumerate(col):
            pos[v] = k

    # 4. coordinates: x by column, y pulled towards the neighbours' centres
    col_x, x = [], 0.0
    for col in columns:
        col_x.append(x)
        x += max((widths[v] for v in col), default=0.0) + COLUMN_GAP
    centre = [0.0] * len(layer)
    for col in columns:
        y = 0.0
        for v in col:
            centre[v] = y + heights[v] / 2
            y += heights[v] + ROW_GAP
    for sweep in range(4):
        forward = sweep % 2 == 0
        order = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for c in order:
            col = columns[c]
            neighbours = up if forward else down
            wanted = [sum(centre[u] for u in neighbours[v]) / len(neighbours[v]) if neighbours[v] else centre[v]
                      for v in col]
            _place(col, wanted, heights, centre)

    # normalise: top-left at (0, 0); boxes centred in their column
    top = min(centre[v] - heights[v] / 2 for v in range(len(layer)))
    boxes = {}
    for v, view_node in enumerate(view.nodes):
        w, h = widths[v], heights[v]
        col_w = max(widths[u] for u in columns[layer[v]])
        boxes[view_node.name] = Box(view_node.name, col_x[layer[v]] + (col_w - w) / 2, centre[v] - top - h / 2, w, h)
    width = max(b.x + b.w for b in boxes.values())
    height = max(b.y + b.h for b in boxes.values())

    routes = []
    for e in view.edges:
        s, t = e.source.index, e.target.index
        chain = chains.get((min(s, t), max(s, t)), [min(s, t), max(s, t)])
        if s > t:
            chain = list(reversed(chain))
        a, b = boxes[e.source.name], boxes[e.target.name]
        points = [(a.x + a.w, a.y + a.h / 2) if s < t else (a.x, a.y + a.h / 2)]
        points += [(col_x[layer[d]] + max(widths[u] for u in columns[layer[d]]) / 2, centre[d] - top) for d in chain[1:-1]]
        points.append((b.x, b.y + b.h / 2) if s < t else (b.x + b.w, b.y + b.h / 2))
        routes.append(Route(e.index, e.source.name, e.target.name, points, None))
    return Layout(boxes, routes, width, height, "builtin", extra={"crossings": best_crossings})


def _place(col: list, wanted: list, heights: list, centre: list) -> None:
    """Move the boxes of one column towards ``wanted`` centres, in order, without overlap.

    Two passes give two feasible placements (pushing down from the top, and
    up from the bottom); their average is feasible too and is balanced.
    """
    k = len(col)
    if not k:
        return
    gap = [0.0] + [(heights[col[i - 1]] + heights[col[i]]) / 2 + ROW_GAP for i in range(1, k)]
    down_pass = list(wanted)
    for i in range(1, k):
        down_pass[i] = max(wanted[i], down_pass[i - 1] + gap[i])
    up_pass = list(wanted)
    for i in range(k - 2, -1, -1):
        up_pass[i] = min(wanted[i], up_pass[i + 1] - gap[i + 1])
    for i, v in enumerate(col):
        centre[v] = (down_pass[i] + up_pass[i]) / 2


def _crossings(columns: list, down: list, pos: list) -> int:
    """Edge crossings between neighbouring columns (counting inversions)."""
    total = 0
    for col in columns[:-1]:
        ends = []
        for v in col:  # col is in position order
            ends.extend(sorted(pos[w] for w in down[v]))
        total += _inversions(ends)
    return total


def _inversions(seq: list) -> int:
    """Pairs i < j with seq[i] > seq[j] (merge sort, O(n log n))."""
    if len(seq) < 2:
        return 0
    count = 0
    width = 1
    items = list(seq)
    n = len(items)
    while width < n:
        merged = []
        for lo in range(0, n, 2 * width):
            left, right = items[lo:lo + width], items[lo + width:lo + 2 * width]
            i = j = 0
            while i < len(left) and j < len(right):
                if right[j] < left[i]:
                    merged.append(right[j])
                    count += len(left) - i
                    j += 1
                else:
                    merged.append(left[i])
                    i += 1
            merged.extend(left[i:])
            merged.extend(right[j:])
        items = merged
        width *= 2
    return count
