"""Folding a wide layout into rows that fit the window (Qt-free geometry).

The positions themselves come from the engine (``gradgraph.graph.layout.layout``: Graphviz
``dot`` when installed, else its built-in layered layout); this module only
rearranges them. Computed once per view, never per step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


# -- wrapping a wide layout into rows ----------------------------------------------------
#
# A long chain (LeNet's 14 layer boxes) laid out left to right is one thin strip: at a
# readable zoom only a few boxes fit in the window. ``wrap_rows`` cuts such a layout
# between columns into bands and stacks the bands top to bottom, like lines of text.
# Edges inside a band keep their route (shifted); an edge from one band to another is
# routed out of its source to the right, through the gap below the band (each edge in
# its own lane), and into its target from the left; an edge skipping bands runs down
# the left margin. Pure geometry: Qt-free, O(boxes + edges) per candidate.

BAND_GAP = 44.0  # free space between two bands (plus one lane per edge crossing it)
LANE = 7.0       # spacing of edges running side by side through a gap
STUB = 14.0      # how far an edge leaves its source / approaches its target horizontally


@dataclass
class WrappedRoute:
    """A drawn edge after wrapping: ``points`` polyline, ``bezier`` control points or None;
    ``wrapped``: True when it runs from one band to another."""

    index: int
    points: list
    bezier: list | None = None
    wrapped: bool = False


@dataclass
class Wrap:
    """The result of :func:`wrap_rows`: boxes ``{key: (x, y, w, h)}``, routes, the bands
    (lists of keys, top to bottom) and the total ``width`` and ``height``."""

    boxes: dict
    routes: list
    bands: list
    width: float
    height: float


def column_slabs(boxes: dict) -> list:
    """The x-intervals [x0, x1] that boxes cover, overlapping ones merged, left to right:
    a cut between two slabs goes through no box."""
    spans = sorted((b[0], b[0] + b[2]) for b in boxes.values())
    slabs: list = []
    for x0, x1 in spans:
        if slabs and x0 < slabs[-1][1]:
            slabs[-1][1] = max(slabs[-1][1], x1)
        else:
            slabs.append([x0, x1])
    return [tuple(s) for s in slabs]


def _centre_x(box):
    return box[0] + box[2] / 2


def _slab_of(x: float, slabs: list) -> int:
    lo, hi = 0, len(slabs) - 1
    while lo < hi:  # the last slab starting at or before x
        mid = (lo + hi + 1) // 2
        if slabs[mid][0] <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _greedy_bands(slabs: list, limit: float, start: int = 0) -> int:
    """How many bands the slabs from ``start`` on need when each band is filled up to ``limit``."""
    count, first, n = 0, start, len(slabs)
    while first < n:
        last = first
        while last + 1 < n and slabs[last + 1][1] - slabs[first][0] <= limit:
            last += 1
        count += 1
        first = last + 1
    return count


def balanced_width(slabs: list, bands: int) -> float:
    """The smallest band width that packs the slabs into at most ``bands`` bands."""
    lo = max(x1 - x0 for x0, x1 in slabs)
    hi = slabs[-1][1] - slabs[0][0]
    if _greedy_bands(slabs, lo) <= bands:
        return lo
    for _ in range(40):
        mid = (lo + hi) / 2
        if _greedy_bands(slabs, mid) <= bands:
            hi = mid
        else:
            lo = mid
        if hi - lo < 0.5:
            break
    return hi


def plan_bands(boxes: dict, ends: list, max_width: float, bands: int | None = None) -> list:
    """Split the slabs into bands no wider than ``max_width`` (a slab wider than that gets a
    band of its own), at most ``bands`` of them when that is possible (default: as few as
    fit). Each cut is placed near an even share of the remaining width, preferring a gap
    that few edges cross. Returns ``[(first_slab, last_slab), ...]``."""
    slabs = column_slabs(boxes)
    n = len(slabs)
    if n == 0:
        return []
    # edges crossing the cut after slab k: +1 from the source's slab to the target's
    delta = [0] * (n + 1)
    for s, t in ends:
        if s in boxes and t in boxes:
            a, b = sorted((_slab_of(_centre_x(boxes[s]), slabs), _slab_of(_centre_x(boxes[t]), slabs)))
            delta[a] += 1
            delta[b] -= 1
    crossing, running = [], 0
    for k in range(n):
        running += delta[k]
        crossing.append(running)
    # need[j]: bands the slabs from j on need when filled greedily (two pointers, O(n))
    need = [0] * (n + 1)
    reach, last_fit = [0] * n, 0
    for j in range(n):
        last_fit = max(last_fit, j)
        while last_fit + 1 < n and slabs[last_fit + 1][1] - slabs[j][0] <= max_width:
            last_fit += 1
        reach[j] = last_fit
    for j in range(n - 1, -1, -1):
        need[j] = 1 + need[reach[j] + 1]
    budget = max(bands or 0, need[0])
    out = []
    first = 0
    while first < n:
        x0 = slabs[first][0]
        left = budget - len(out) - 1  # bands still to come after this one
        if left <= 0:
            last = n - 1
        else:
            target = (slabs[-1][1] - x0) / (left + 1)
            options = [k for k in range(first, min(reach[first] + 1, n - 1)) if need[k + 1] <= left]
            if not options:
                last = first
            else:
                fewest = min(crossing[k] for k in options)
                def cost(k):  # off the even share (a fuller band is preferred), edges cut
                    off = (slabs[k][1] - x0 - target) / max(target, 1.0)
                    return (off * 0.8 if off > 0 else -off) + 0.35 * (crossing[k] - fewest), -k
                last = min(options, key=cost)
        out.append((first, last))
        first = last + 1
    return out


def wrap_rows(boxes: dict, routes: list, ends: list, max_width: float, bands: int | None = None) -> Wrap:
    """Cut a left-to-right layout into bands of at most ``max_width`` and stack them.

    ``boxes``: ``{key: (x, y, w, h)}``; ``routes``: objects with ``index``, ``points`` and
    ``bezier`` (or None); ``ends[k]``: the (source key, target key) of ``routes[k]``;
    ``bands``: at most this many bands (when ``max_width`` allows it).
    """
    slabs = column_slabs(boxes)
    bands = plan_bands(boxes, ends, max_width, bands)
    if not bands:
        return Wrap({}, [], [], 0.0, 0.0)
    band_of_slab = {}
    for b, (first, last) in enumerate(bands):
        for k in range(first, last + 1):
            band_of_slab[k] = b
    band_of = {key: band_of_slab[_slab_of(_centre_x(box), slabs)] for key, box in boxes.items()}

    # vertical extent of each band: its boxes and the routes that stay inside it
    top = [float("inf")] * len(bands)
    bottom = [float("-inf")] * len(bands)
    for key, (x, y, w, h) in boxes.items():
        b = band_of[key]
        top[b], bottom[b] = min(top[b], y), max(bottom[b], y + h)
    inside = []
    for route, (s, t) in zip(routes, ends):
        same = s in band_of and t in band_of and band_of[s] == band_of[t]
        inside.append(same)
        if same:
            b = band_of[s]
            for _, y in list(route.points) + list(route.bezier or []):
                top[b], bottom[b] = min(top[b], y), max(bottom[b], y)

    # lanes: every edge between bands gets its own lane in each gap it runs through
    crossing = [(k, band_of[s], band_of[t]) for k, (s, t) in enumerate(ends)
                if not inside[k] and s in band_of and t in band_of]
    lanes_in_gap = [0] * len(bands)  # gap g lies below band g
    margin_lanes = 0
    lane_of: dict = {}
    for k, a, b in crossing:
        g_exit = a if b > a else a - 1
        g_enter = b - 1 if b > a else b
        exit_lane = lanes_in_gap[g_exit]
        lanes_in_gap[g_exit] += 1
        enter_lane = exit_lane
        if g_enter != g_exit:
            enter_lane = lanes_in_gap[g_enter]
            lanes_in_gap[g_enter] += 1
            lane_of[k] = (g_exit, exit_lane, g_enter, enter_lane, margin_lanes)
            margin_lanes += 1
        else:
            lane_of[k] = (g_exit, exit_lane, g_enter, enter_lane, None)

    # place the bands: left-aligned, top to bottom, leaving room for the lanes
    left_margin = (margin_lanes * LANE + STUB) if margin_lanes else 0.0
    dx, dy, gap_top = [], [], []
    cursor = 0.0
    for b, (first, last) in enumerate(bands):
        dx.append(left_margin - slabs[first][0])
        dy.append(cursor - top[b])
        cursor += bottom[b] - top[b]
        gap_top.append(cursor)
        cursor += BAND_GAP + max(0, lanes_in_gap[b] - 1) * LANE
    height = cursor - BAND_GAP - max(0, lanes_in_gap[-1] - 1) * LANE

    def lane_y(gap, lane):
        return gap_top[gap] + BAND_GAP / 2 + lane * LANE - (lanes_in_gap[gap] - 1) * LANE / 2

    new_boxes = {key: (x + dx[band_of[key]], y + dy[band_of[key]], w, h) for key, (x, y, w, h) in boxes.items()}
    new_routes = []
    for k, (route, (s, t)) in enumerate(zip(routes, ends)):
        if inside[k] or s not in band_of or t not in band_of:
            b = band_of.get(s, band_of.get(t, 0))
            move = lambda p: (p[0] + dx[b], p[1] + dy[b])  # noqa: E731
            new_routes.append(WrappedRoute(route.index, [move(p) for p in route.points],
                                           [move(p) for p in route.bezier] if route.bezier else None))
            continue
        sx, sy, sw, sh = new_boxes[s]
        tx, ty, tw, th = new_boxes[t]
        g_exit, exit_lane, g_enter, enter_lane, margin_lane = lane_of[k]
        start, end = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
        x_out = start[0] + STUB + exit_lane * LANE / 2
        x_in = end[0] - STUB - enter_lane * LANE / 2
        y_out = lane_y(g_exit, exit_lane)
        points = [start, (x_out, start[1]), (x_out, y_out)]
        if margin_lane is None:
            points += [(x_in, y_out)]
        else:
            y_in = lane_y(g_enter, enter_lane)
            x_margin = left_margin - STUB - margin_lane * LANE
            points += [(x_margin, y_out), (x_margin, y_in), (x_in, y_in)]
        points += [(x_in, end[1]), end]
        new_routes.append(WrappedRoute(route.index, points, None, True))
    width = max((x + w for x, y, w, h in new_boxes.values()), default=0.0)
    for r in new_routes:
        width = max(width, max(p[0] for p in r.points))
    keys_by_band = [[] for _ in bands]
    for key in boxes:
        keys_by_band[band_of[key]].append(key)
    return Wrap(new_boxes, new_routes, keys_by_band, width, height)


def best_wrap(boxes: dict, routes: list, ends: list, view_w: float, view_h: float,
              max_scale: float, margin: float = 40.0, min_gain: float = 1.2, max_bands: int = 40,
              comfortable: float = 0.9, min_scale: float = 0.0, whole_from: float = 0.0):
    """``(max_width, bands)`` for :func:`wrap_rows` that shows the layout biggest in a
    ``view_w`` x ``view_h`` window (zoom capped at ``max_scale``), or None when one row is
    as good (within a factor ``min_gain``) or already shown at a ``comfortable`` zoom.
    Fewer bands win a near tie (within 12%), unless they need a zoom below ``min_scale``.
    When no folding shows the whole graph at ``whole_from`` or more (the view then shows
    part of it at ``min_scale`` and scrolls), the fewest bands whose width fits the window
    at ``min_scale`` win: the student scrolls down only, never sideways as well."""
    if not boxes or view_w <= 0 or view_h <= 0:
        return None

    def scale_of(w, h):
        return min(max_scale, view_w / (w + 2 * margin), view_h / (h + 2 * margin))

    slabs = column_slabs(boxes)
    full_w = slabs[-1][1] - slabs[0][0]
    full_h = max(b[1] + b[3] for b in boxes.values()) - min(b[1] for b in boxes.values())
    one_row = scale_of(full_w, full_h)
    if one_row >= comfortable:
        return None  # one row is readable as it is: keep the lecture's left-to-right picture
    # for a chain, k bands show it at about min(view_w k / full_w, view_h / (k (full_h + gap))):
    # best near k* = sqrt(view_h full_w / (view_w (full_h + gap))); try around that
    ideal = math.sqrt(view_h * full_w / (view_w * (full_h + BAND_GAP)))
    # at least two columns per band: a lone box on a row of its own reads badly
    lo, hi = max(2, int(ideal / 2)), min(len(slabs) // 2, max_bands, int(ideal * 2) + 2)
    best, best_scale = None, one_row
    fits_across = None  # the fewest bands as wide as the window at min_scale
    for k in range(lo, hi + 1):
        limit = balanced_width(slabs, k)
        wrap = wrap_rows(boxes, routes, ends, limit, k)
        scale = scale_of(wrap.width, wrap.height)
        if fits_across is None and (wrap.width + 2 * margin) * min_scale <= view_w:
            fits_across = (limit, k)
        better = scale > best_scale * 1.12 or (best_scale < min_scale and scale > best_scale)
        if better or (best is None and scale > best_scale):
            best, best_scale = (limit, k), scale
        if scale < best_scale * 0.6 and (fits_across is not None or best_scale >= whole_from):
            break  # far too tall already: more bands only get worse
    if best_scale < whole_from and fits_across is not None:
        return fits_across
    if best is None or best_scale < one_row * min_gain:
        return None
    return best
