"""A fast, Qt-free layered layout: outputs on the right, inputs on the left.

Used when the engine's ``graph.layout()`` is not available or fails. Boxes are
placed once per graph (and again only when a group is expanded or
collapsed), never per step.

Algorithm: every box gets a column = its longest distance to a sink (the
output), so a value sits just left of its farthest-away consumer. Columns are
placed from the output leftwards; in each column boxes are ordered by the mean
y of their (already placed) consumers, pushed apart to avoid overlap and the
column is re-centred on where its boxes would like to be. O(N log N).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Layout:
    #: key -> (x, y, w, h), top-left corner
    boxes: dict = field(default_factory=dict)
    #: (src_key, dst_key, [(x, y), ...]) from the source's right to the target's left
    edges: list = field(default_factory=list)

    def bounds(self):
        if not self.boxes:
            return (0.0, 0.0, 1.0, 1.0)
        xs = [b[0] for b in self.boxes.values()]
        ys = [b[1] for b in self.boxes.values()]
        x2 = [b[0] + b[2] for b in self.boxes.values()]
        y2 = [b[1] + b[3] for b in self.boxes.values()]
        return (min(xs), min(ys), max(x2) - min(xs), max(y2) - min(ys))


def layered_layout(keys, parents, sizes, col_gap=70.0, row_gap=22.0) -> Layout:
    """``keys`` in topological order, ``parents[key]`` -> list of keys, ``sizes[key]`` -> (w, h)."""
    keys = list(keys)
    order = {k: i for i, k in enumerate(keys)}
    children: dict = {k: [] for k in keys}
    for k in keys:
        for p in parents.get(k, ()):
            if p in children and k not in children[p]:
                children[p].append(k)
    # column: longest distance to a sink, computed in reverse topological order
    rank: dict = {}
    for k in reversed(keys):
        kids = children[k]
        rank[k] = 1 + max(rank[c] for c in kids) if kids else 0
    max_rank = max(rank.values(), default=0)
    columns: dict = {}
    for k in keys:
        columns.setdefault(rank[k], []).append(k)
    col_width = {r: max(sizes[k][0] for k in ks) for r, ks in columns.items()}
    x_of_rank = {}
    x = 0.0
    for r in range(max_rank, -1, -1):
        x_of_rank[r] = x
        x += col_width.get(r, 0.0) + col_gap

    centre: dict = {}
    boxes: dict = {}
    for r in range(0, max_rank + 1):
        col = columns.get(r, [])
        desired = {}
        for k in col:
            ys = [centre[c] for c in children[k] if c in centre]
            desired[k] = sum(ys) / len(ys) if ys else 0.0
        col.sort(key=lambda k: (desired[k], order[k]))
        # stack with minimum spacing, then shift so the column sits on its desired centre
        placed = []
        y = None
        for k in col:
            h = sizes[k][1]
            top = desired[k] - h / 2
            if y is not None and top < y:
                top = y
            placed.append(top)
            y = top + h + row_gap
        if placed:
            shift = sum(desired[k] - (t + sizes[k][1] / 2) for k, t in zip(col, placed)) / len(col)
            for k, t in zip(col, placed):
                w, h = sizes[k]
                cx = x_of_rank[r] + (col_width[r] - w) / 2
                boxes[k] = (cx, t + shift, w, h)
                centre[k] = t + shift + h / 2

    edges = []
    for k in keys:
        for p in parents.get(k, ()):
            if p not in boxes or k not in boxes:
                continue
            px, py, pw, ph = boxes[p]
            kx, ky, kw, kh = boxes[k]
            edges.append((p, k, [(px + pw, py + ph / 2), (kx, ky + kh / 2)]))
    return Layout(boxes, edges)
