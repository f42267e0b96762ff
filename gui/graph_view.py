"""The graph canvas: nodes as boxes, edges coloured by gradient magnitude.

The scene is laid out once per graph (and when a group is expanded or
collapsed); stepping only changes item state and repaints the items whose
state changed.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QKeySequence, QPainter,
                           QPainterPath, QPen, QShortcut)
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
                               QStyleOptionGraphicsItem)

import numpy as np

from .layout import best_wrap, wrap_rows
from .models import (ROW_H, YOURS_COLOUR, GraphSession, SessionFollower, box_lines, fmt_shape, matrix_rows,
                     title_room)

KIND_FILL = {
    "input": QColor("#dbeafe"),
    "parameter": QColor("#ede9fe"),
    "constant": QColor("#f1f5f9"),
    "intermediate": QColor("#ffffff"),
}
CURRENT = QColor("#f97316")
BORDER = QColor("#64748b")
UNKNOWN_TEXT = QColor("#8391a7")
UNKNOWN_BORDER = QColor("#aab6c6")
UNKNOWN_EDGE = QColor("#a3b0c2")
VALUE_TEXT = QColor("#0f172a")
GRAD_TEXT = QColor("#b91c1c")


def error_colour(rel: float | None, ok: bool | None = None) -> QColor:
    """Gradcheck overlay: red when the gradient fails the check (``ok`` False; without a
    verdict: relative error > 1e-2), green when it matches to < 1e-7, yellow in between
    (within the tolerance of its precision, e.g. float32)."""
    if rel is None:
        return QColor("#e2e8f0")
    if ok is False or rel != rel or (ok is None and rel > 1e-2):
        return QColor("#fca5a5")
    if rel < 1e-7:
        return QColor("#86efac")
    return QColor("#fde047")


def flow_colour(m: float) -> QColor:
    """Gradient magnitude in [0, 1] -> pale blue .. deep red."""
    m = min(1.0, max(0.0, float(m)))
    lo, hi = (96, 165, 250), (220, 38, 38)
    return QColor(*(int(a + (b - a) * m) for a, b in zip(lo, hi)))


MIN_FIT_SCALE = 0.85  # below this the node labels are hard to read
FIT_ALL_SCALE = 0.78  # ... but a graph that fits whole at this zoom is shown whole (laptop screens)
MAX_FIT_SCALE = 1.6   # a tiny graph is enlarged up to this, not more
SCENE_MARGIN = 30.0   # free space around the graph
WRAP_BELOW = 0.9      # a graph that would be shown smaller than this in one row is folded into rows


class _Fonts:
    def __init__(self):
        self.title = QFont()
        self.title.setPointSizeF(10.5)
        self.title.setBold(True)
        self.body = QFont("monospace")
        self.body.setStyleHint(QFont.Monospace)
        self.body.setPointSizeF(9.5)
        self.small = QFont()
        self.small.setPointSizeF(8.5)


class NodeItem(QGraphicsItem):
    """One node: name and gate on top, then its value and its gradient."""

    def __init__(self, view: "GraphView", index: int, rect: QRectF):
        super().__init__()
        self.view, self.index, self.rect = view, index, rect
        self.setPos(rect.topLeft())
        self.state = None
        self.setFlag(QGraphicsItem.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.PointingHandCursor)
        shape = view.session.shape(index)
        self.shape_text = fmt_shape(shape) if shape and int(np.prod(shape)) > 1 else ""
        self.yours = view.session.yours(index)  # the student's own gate: tagged "yours" on the box
        written = view.session.subexpression(index)
        # small and grey after the name: the shape of a tensor, else what a typed expression's
        # node stands for ("maximum_0  = max(x * y, z)")
        self.note = self.shape_text or (f"= {written}" if written else "")
        self.setToolTip(view.session.name(index) + (f" = {written}" if written else "")
                        + (f"  ({self.shape_text})" if self.shape_text else "")
                        + (f"\n{self.yours}" if self.yours else ""))

    def boundingRect(self):
        return QRectF(-3, -10, self.rect.width() + 6, self.rect.height() + 25)

    def set_state(self, state):
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None):
        s = self.view.session
        i = self.index
        v_known, g_known, current, value_text, grad_text, overlay, flag = \
            self.state or (False, False, False, ("?",), ("?",), None, "")
        w, h = self.rect.width(), self.rect.height()
        box = QRectF(0, 0, w, h)
        lod = option.levelOfDetailFromTransform(p.worldTransform())
        fill = overlay if overlay is not None else KIND_FILL.get(s.kind(i), KIND_FILL["intermediate"])
        if not v_known and overlay is None:
            fill = QColor(fill).lighter(104)
        p.setRenderHint(QPainter.Antialiasing, lod > 0.5)
        if current:
            pen = QPen(CURRENT, 4)
        elif self.isSelected():
            pen = QPen(QColor("#2563eb"), 2.5)
        else:
            pen = QPen(BORDER if v_known else UNKNOWN_BORDER, 1.2, Qt.SolidLine if v_known else Qt.DashLine)
        p.setPen(pen)
        p.setBrush(QBrush(fill))
        p.drawRoundedRect(box, 7, 7)
        if lod < 0.35:
            return
        f = self.view.fonts
        # title row
        p.setFont(f.title)
        p.setPen(VALUE_TEXT if v_known else UNKNOWN_TEXT)
        symbol = s.gate_symbol(i)
        sym_w = QFontMetricsF(f.small).horizontalAdvance(symbol) + 10
        title_fm = QFontMetricsF(f.title)
        title = title_fm.elidedText(s.name(i), Qt.ElideRight, w - sym_w - 14)
        p.drawText(QRectF(7, 3, w - sym_w - 10, 20), Qt.AlignLeft | Qt.AlignVCenter, title)
        if self.note:
            used = title_fm.horizontalAdvance(title) + 12
            room = w - sym_w - 10 - used
            note = QFontMetricsF(f.small).elidedText(self.note, Qt.ElideRight, room)
            if room > 20 and (self.shape_text or note == self.note):  # an expression is shown whole or not
                p.setFont(f.small)
                p.setPen(QColor("#64748b"))
                p.drawText(QRectF(used, 4, room, 20), Qt.AlignLeft | Qt.AlignVCenter, note)
        pill = QRectF(w - sym_w - 5, 5, sym_w, 16)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor("#334155") if s.gate(i) is not None else QColor("#94a3b8"))
        p.drawRoundedRect(pill, 5, 5)
        p.setFont(f.small)
        p.setPen(QColor("white"))
        p.drawText(pill, Qt.AlignCenter, symbol)
        # value and gradient: a line each, or every entry of a small tensor, a row per line
        p.setFont(f.body)
        fm = QFontMetricsF(f.body)
        rows = max(1, matrix_rows(s, i))
        y = 24.0
        for word, lines, known, colour in (("val  ", value_text, v_known, VALUE_TEXT),
                                           ("grad ", grad_text, g_known, GRAD_TEXT)):
            p.setPen(colour if known else UNKNOWN_TEXT)
            for k in range(rows):
                text = lines[k] if k < len(lines) else ""
                row_h = 18.0 if rows == 1 else ROW_H
                p.drawText(QRectF(7, y, w - 12, row_h), Qt.AlignLeft | Qt.AlignVCenter,
                           fm.elidedText((word if k == 0 else " " * len(word)) + text, Qt.ElideRight, w - 12))
                y += row_h
            y += 1.0 if rows == 1 else 4.0
        if self.yours:
            _draw_yours(p, f, w)
        if flag:
            _draw_flag(p, f, QRectF(6, h - 2, w - 12, 15), flag)

    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        self.view.nodeClicked.emit(self.index)


def _draw_yours(p: QPainter, fonts, w: float):
    """The "yours" tag on the top edge of a box whose gate is the student's exercise class."""
    p.setFont(fonts.small)
    tag_w = QFontMetricsF(fonts.small).horizontalAdvance("yours") + 12
    tag = QRectF(w - tag_w - 8, -8, tag_w, 14)
    p.setPen(Qt.NoPen)
    p.setBrush(QColor(YOURS_COLOUR))
    p.drawRoundedRect(tag, 4, 4)
    p.setPen(QColor("white"))
    p.drawText(tag, Qt.AlignCenter, "yours")


def flag_colours(flag: str) -> tuple:
    """(fill, text) of a flag: solid red where a NaN/Inf starts, pale red for a warning
    (inherited NaN/Inf included), grey for what a gate does by design (routed)."""
    if flag.startswith("NaN/Inf starts"):
        return QColor("#b91c1c"), QColor("white")
    if flag.startswith("routed"):
        return QColor("#e2e8f0"), QColor("#475569")
    return QColor("#fee2e2"), QColor("#b91c1c")


def _draw_flag(p: QPainter, fonts, tag: QRectF, flag: str):
    """A flag under a box, coloured by :func:`flag_colours`."""
    by_design = flag.startswith("routed")
    fill, text_colour = flag_colours(flag)
    p.setFont(fonts.small)
    p.setPen(Qt.NoPen)
    p.setBrush(fill)
    p.drawRoundedRect(tag, 4, 4)
    p.setPen(text_colour)
    text = ("" if by_design else "⚠ ") + flag
    p.drawText(tag, Qt.AlignCenter, QFontMetricsF(fonts.small).elidedText(text, Qt.ElideRight, tag.width() - 6))


class GroupItem(QGraphicsItem):
    """A collapsed layer: one box standing for its nodes. Double-click expands it."""

    def __init__(self, view: "GraphView", name: str, members: list, rect: QRectF, output=None, gates=()):
        super().__init__()
        self.view, self.name, self.members, self.rect = view, name, members, rect
        self.member_set = set(members)
        self.output = members[-1] if output is None else output
        self.gates = ", ".join(gates)
        self.setPos(rect.topLeft())
        self.state = None
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip(f"{name}: {len(members)} nodes ({self.gates})\n"
                        f"values: how many of them are known at this step (parameters from the start)\n"
                        f"grads: how many gradients have arrived\ndouble-click to expand")


    def set_state(self, state):
        if state != self.state:
            self.state = state
            self.update()

    def thumbnail(self):
        """A small picture of the group's output (feature maps of a conv layer), once known."""
        s = self.view.session
        value = s.value(self.output)
        if value is None or np.size(value) < 4:
            return None
        key = (self.output, s.graph.version)
        if getattr(self, "_thumb_key", None) != key:
            from . import images

            a = np.asarray(value, dtype=np.float64)
            while a.ndim > 3 and a.shape[0] == 1:
                a = a[0]
            tiles = images.normalized_tiles(a.reshape(-1, *a.shape[-2:])[:16]) if a.ndim >= 2 else None
            grid = images.tile(tiles) if tiles is not None else a.reshape(1, -1)
            self._thumb = images.greys(grid) if tiles is not None else images.diverging(grid)
            self._thumb_key = key
        return self._thumb

    def boundingRect(self):
        return QRectF(-3, -3, self.rect.width() + 6, self.rect.height() + 18)

    def paint(self, p, option, widget=None):
        n_val, n_grad, current, overlay, flag = self.state or (0, 0, False, None, "")
        n = len(self.members)
        w, h = self.rect.width(), self.rect.height()
        thumb = self.thumbnail() if n_val == n else None
        if thumb is not None and thumb.height() > 1:
            w_text = w - h + 8
        else:
            w_text = w
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(CURRENT, 4) if current else QPen(QColor("#475569"), 1.5, Qt.DashLine))
        p.setBrush(overlay if overlay is not None else QColor("#fef9c3" if n_val == n else "#fefce8"))
        p.drawRoundedRect(QRectF(0, 0, w, h), 9, 9)
        f = self.view.fonts
        p.setFont(f.title)
        p.setPen(VALUE_TEXT)
        label = QFontMetricsF(f.title).elidedText("▸ " + self.name.split("/")[-1], Qt.ElideLeft, w_text - 12)
        p.drawText(QRectF(7, 4, w_text - 12, 22), Qt.AlignLeft | Qt.AlignVCenter, label)
        p.setFont(f.small)
        p.setPen(QColor("#854d0e"))
        p.drawText(QRectF(7, 26, w_text - 12, 18), Qt.AlignLeft | Qt.AlignVCenter,
                   QFontMetricsF(f.small).elidedText(self.gates, Qt.ElideRight, w_text - 12))
        p.setFont(f.body)
        p.setPen(VALUE_TEXT if n_val else UNKNOWN_TEXT)
        p.drawText(QRectF(7, 46, w_text - 12, 20), Qt.AlignLeft | Qt.AlignVCenter, f"values {n_val}/{n}")
        p.setPen(GRAD_TEXT if n_grad else UNKNOWN_TEXT)
        p.drawText(QRectF(7, 66, w_text - 12, 20), Qt.AlignLeft | Qt.AlignVCenter, f"grads  {n_grad}/{n}")
        if thumb is not None:
            side = h - 10
            target = QRectF(w - side - 5, 5, side, side)
            scale = min(side / thumb.width(), side / thumb.height())
            tw, th = thumb.width() * scale, thumb.height() * scale
            th = max(th, min(side, 16.0))  # a vector is a strip: keep it visible
            p.drawImage(QRectF(target.center().x() - tw / 2, target.center().y() - th / 2, tw, th), thumb)
        if flag:
            _draw_flag(p, f, QRectF(6, h - 2, w - 12, 15), flag)

    def mouseDoubleClickEvent(self, event):
        self.view.toggle_group(self.name)

    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        self.view.nodeClicked.emit(self.output)


FRAME_PAD = 9.0   # space between a group's frame and its member boxes
TITLE_H = 15.0    # the frame's title sits above the frame


class GroupFrame(QGraphicsItem):
    """The outline of an expanded group, hugging its members (a union of padded boxes).
    Its titles (one per separate piece: a row wrap can cut a group in two) are
    :class:`GroupTitle` items drawn above every frame; double-click one to collapse the group."""

    def __init__(self, view, name, rects, others=()):
        super().__init__()
        self.view, self.name = view, name
        path = QPainterPath()
        path.setFillRule(Qt.WindingFill)
        for r in rects + self._bridges(rects, others):
            box = QPainterPath()
            box.addRoundedRect(r.adjusted(-FRAME_PAD, -FRAME_PAD, FRAME_PAD, FRAME_PAD), 8, 8)
            path = path.united(box)
        self.path = path.simplified()
        pieces = [poly.boundingRect() for poly in self.path.toSubpathPolygons()]
        pieces = [b for b in pieces if not any(o is not b and o.contains(b) for o in pieces)]  # no holes
        self.titles = []
        for piece in pieces:
            inside = [r for r in rects if piece.contains(r.center())]
            if inside:
                top = min(inside, key=lambda r: (r.top(), r.left()))
                self.titles.append(GroupTitle(view, name, QRectF(
                    top.left() - FRAME_PAD + 2, top.top() - FRAME_PAD - TITLE_H - 1, max(110.0, top.width()), TITLE_H)))
        self.setZValue(-2)
        self.setToolTip(f"{name} (double-click its title to collapse)")

    @staticmethod
    def _bridges(rects, others, reach=80.0):
        """Rectangles joining two nearby members (neighbouring columns or rows) when no other
        box lies between them, so the frame is one piece where the group is."""
        out = []
        for k, a in enumerate(rects):
            for b in rects[k + 1:]:
                gap_x = max(0.0, max(a.left(), b.left()) - min(a.right(), b.right()))
                gap_y = max(0.0, max(a.top(), b.top()) - min(a.bottom(), b.bottom()))
                if gap_x > reach or gap_y > reach:
                    continue
                span = a.united(b)
                if not any(span.intersects(o.adjusted(-FRAME_PAD, -FRAME_PAD, FRAME_PAD, FRAME_PAD))
                           for o in others):
                    out.append(span)
        return out

    def boundingRect(self):
        return self.path.boundingRect().adjusted(-2, -2, 2, 2)

    def shape(self):
        return QPainterPath()  # clicks go through to the boxes and the canvas

    def paint(self, p, option, widget=None):
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor("#ca8a04"), 1.2, Qt.DashLine))
        p.setBrush(QColor(254, 249, 195, 90))
        p.drawPath(self.path)


class GroupTitle(QGraphicsItem):
    """"▾ name" above an expanded group's frame; double-click to collapse the group."""

    def __init__(self, view, name, rect):
        super().__init__()
        self.view, self.name, self.title = view, name, rect
        self.setZValue(-1.5)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip(f"{name}: double-click to collapse into one box")

    def boundingRect(self):
        return self.title.adjusted(-2, -2, 2, 2)

    def paint(self, p, option, widget=None):
        f = self.view.fonts.small
        text = "▾ " + self.name
        width = QFontMetricsF(f).horizontalAdvance(text) + 10
        pill = QRectF(self.title.left(), self.title.top(), min(width, self.title.width() + 60), self.title.height())
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor(254, 249, 195, 230))
        p.drawRoundedRect(pill, 4, 4)
        p.setFont(f)
        p.setPen(QColor("#854d0e"))
        p.drawText(pill.adjusted(5, 0, 0, 0), Qt.AlignLeft | Qt.AlignVCenter, text)

    def mouseDoubleClickEvent(self, event):
        self.view.toggle_group(self.name)


def _rounded_polyline(points, radius=12.0) -> QPainterPath:
    """A polyline whose corners are rounded (quadratic curves of at most ``radius``)."""
    path = QPainterPath(QPointF(*points[0]))
    for k in range(1, len(points) - 1):
        (x0, y0), (x1, y1), (x2, y2) = points[k - 1], points[k], points[k + 1]
        d1, d2 = math.hypot(x1 - x0, y1 - y0), math.hypot(x2 - x1, y2 - y1)
        if d1 < 1e-6 or d2 < 1e-6:
            continue
        r = min(radius, d1 / 2, d2 / 2)
        path.lineTo(QPointF(x1 - (x1 - x0) / d1 * r, y1 - (y1 - y0) / d1 * r))
        path.quadTo(QPointF(x1, y1), QPointF(x1 + (x2 - x1) / d2 * r, y1 + (y2 - y1) / d2 * r))
    path.lineTo(QPointF(*points[-1]))
    return path


class EdgeItem(QGraphicsPathItem):
    """``pairs``: the (source, target) node edges this drawn edge stands for (several when a
    group is collapsed). An edge that continues on the next row (a wrapped layout) ends in
    an arrow head, so the reading direction stays clear."""

    def __init__(self, route, pairs):
        super().__init__()
        self.pairs = pairs
        self.wrapped = bool(getattr(route, "wrapped", False))
        bezier = getattr(route, "bezier", None)
        points = route.points
        if bezier and len(bezier) >= 4:
            path = QPainterPath(QPointF(*bezier[0]))
            for k in range(1, len(bezier) - 2, 3):
                path.cubicTo(QPointF(*bezier[k]), QPointF(*bezier[k + 1]), QPointF(*bezier[k + 2]))
        elif len(points) == 2:
            (x1, y1), (x2, y2) = points
            path = QPainterPath(QPointF(x1, y1))
            dx = max(30.0, (x2 - x1) * 0.5)
            path.cubicTo(QPointF(x1 + dx, y1), QPointF(x2 - dx, y2), QPointF(x2, y2))
        else:
            path = _rounded_polyline(points)
        if self.wrapped:
            (x, y) = points[-1]
            path.moveTo(QPointF(x - 9, y - 5))
            path.lineTo(QPointF(x - 1, y))
            path.lineTo(QPointF(x - 9, y + 5))
        self.setPath(path)
        self.setZValue(-1)
        self.state = None
        self.set_state((False, None))

    def set_state(self, state):
        if state == self.state:
            return
        self.state = state
        known, flow = state
        if flow is not None:
            pen = QPen(flow_colour(flow), 1.5 + 4.5 * flow)
        elif known:
            pen = QPen(QColor("#475569"), 1.5)
        else:
            pen = QPen(UNKNOWN_EDGE, 1.3, Qt.DashLine)
        pen.setCapStyle(Qt.RoundCap)
        self.setPen(pen)


class GraphView(SessionFollower, QGraphicsView):
    """Zoom with the wheel or Ctrl +/-, pan by dragging, F to fit."""

    nodeClicked = Signal(int)
    layoutChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scene = QGraphicsScene(self)  # owned by the view: never garbage-collected
        self.setScene(self._scene)
        self.setRenderHints(QPainter.Antialiasing | QPainter.TextAntialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.MinimalViewportUpdate)
        self.setBackgroundBrush(QColor("#f8fafc"))
        self.fonts = _Fonts()
        self.session: GraphSession | None = None
        self.expanded = None  # group paths shown node by node (None: the engine's choice)
        self.graph_view_model = None
        self.layout_engine = ""
        self.overlay = "none"  # or "gradcheck"
        self.node_items: dict = {}
        self.group_items: dict = {}
        self.edge_items: list = []
        self.layout_count = 0
        self.wrap = None    # (band width, bands) when a wide graph is folded into rows
        self._raw = None    # (view, boxes, routes, ends) of the engine's layout, before wrapping
        self._auto_fit = True  # refit on resize until the student zooms or pans
        self._text_cache: dict = {}
        self._refit_timer = QTimer(self, singleShot=True, interval=150)
        self._refit_timer.timeout.connect(lambda: self.fit(readable=True, auto=True))
        for keys, slot in ((QKeySequence.ZoomIn, lambda: self.zoom(1.25)),
                           (QKeySequence.ZoomOut, lambda: self.zoom(0.8)),
                           ("Ctrl+=", lambda: self.zoom(1.25)),
                           ("F", self.fit)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    # -- building -------------------------------------------------------------------
    def set_session(self, session: GraphSession | None):
        """Show ``session``'s graph and follow its steps."""
        self.follow(session)
        self._text_cache.clear()
        self.expanded = session.default_expanded() if session is not None else None
        self.rebuild()
        self.fit(readable=True, auto=True)

    def rebuild(self):
        """Lay the view out (the engine's layout: once per graph, or on expand/collapse), fold
        it into rows when it is much wider than the window, and create the items."""
        s = self.session
        if s is None:
            self._raw = None
            self._scene.clear()
            self.node_items, self.group_items, self.edge_items = {}, {}, []
            return
        view = s.view(self.expanded)
        self.graph_view_model = view
        layout = s.layout(view)
        self.layout_count += 1
        self.layout_engine = getattr(layout, "engine", "gui")
        boxes = {v.name: tuple(layout.boxes[v.name]) for v in view.nodes}
        routes = list(layout.routes)
        ends = [(view.edges[r.index].source.name, view.edges[r.index].target.name) for r in routes]
        self._raw = (view, boxes, routes, ends)
        self.wrap = self._choose_wrap()
        self._populate()

    def _viewport_size(self):
        size = self.viewport().size()
        if size.width() < 200 or size.height() < 150:  # not laid out yet
            return 900.0, 600.0
        return float(size.width()), float(size.height())

    def _choose_wrap(self):
        if self._raw is None:
            return None
        _, boxes, routes, ends = self._raw
        w, h = self._viewport_size()
        return best_wrap(boxes, routes, ends, w, h, MAX_FIT_SCALE, margin=SCENE_MARGIN + 4,
                         comfortable=WRAP_BELOW, min_scale=MIN_FIT_SCALE, whole_from=FIT_ALL_SCALE)

    def _populate(self):
        """Create the items from the engine's layout (folded into rows per ``self.wrap``)."""
        self._scene.clear()
        self.node_items, self.group_items, self.edge_items = {}, {}, []
        self._edges_at: dict = {}  # node index -> the drawn edges touching it
        s = self.session
        view, boxes, routes, ends = self._raw
        if self.wrap is not None:
            folded = wrap_rows(boxes, routes, ends, *self.wrap)
            boxes, routes = folded.boxes, folded.routes
        pad = title_room(view)  # room above each box for a group frame's title
        for v in view.nodes:
            x, y, w, h = boxes[v.name]
            rect = QRectF(x, y + pad / 2, w, h - pad)
            if v.is_group:
                item = GroupItem(self, v.group, [m.index for m in v.members], rect, v.output.index, v.gate_names)
                self.group_items[v.group] = item
            else:
                item = NodeItem(self, v.node.index, rect)
                self.node_items[v.node.index] = item
            self._scene.addItem(item)
        # outlines of the expanded groups that have members on screen
        for path in sorted(view.expanded or (), key=len):
            inside = {i for i in self.node_items
                      if s.group(i) and (s.group(i) == path or s.group(i).startswith(path + "/"))}
            rects = [self.node_items[i].rect for i in sorted(inside)]
            if len(rects) >= 1 and len(self.node_items) > len(rects):
                others = [item.rect for i, item in self.node_items.items() if i not in inside]
                others += [item.rect for item in self.group_items.values()]
                frame = GroupFrame(self, path, rects, others)
                self._scene.addItem(frame)
                for title in frame.titles:
                    self._scene.addItem(title)
        for route in routes:
            e = view.edges[route.index]
            pairs = [(ge.source.index, ge.target.index) for ge in e.edges]
            item = EdgeItem(route, pairs)
            self.edge_items.append(item)
            for pair in pairs:
                for i in pair:
                    self._edges_at.setdefault(i, []).append(item)
            self._scene.addItem(item)
        m = SCENE_MARGIN
        self._scene.setSceneRect(self._scene.itemsBoundingRect().adjusted(-m, -m, m, m))
        self.refresh()
        self.layoutChanged.emit()

    def toggle_group(self, path: str):
        """Expand a collapsed group (double-click its box) or collapse an expanded one (its frame)."""
        view = self.graph_view_model
        if path in self.group_items:
            view = view.expand(path)
        else:
            view = view.collapse(path)
        self.expanded = set(view.expanded or ())
        self.rebuild()
        if self._auto_fit:  # the graph changed shape: show all of it again
            self.fit(readable=True, auto=True)

    # -- per-step update (no layout) ---------------------------------------------------------
    def _value_text(self, i):
        """The box's value lines (cached per graph version: stepping does not reformat)."""
        key = ("v", i, self.session.graph.version)
        text = self._text_cache.get(key)
        if text is None:
            text = self._text_cache[key] = tuple(box_lines(self.session.value(i)))
        return text

    def _grad_text(self, i, state):
        if state == "partial":  # a sum still growing: not cached
            lines = box_lines(self.session.grad(i))
            return tuple(lines[:-1]) + (lines[-1] + " so far",)  # short: it fits a box
        key = ("g", i, self.session.graph.version)
        text = self._text_cache.get(key)
        if text is None:
            text = self._text_cache[key] = tuple(box_lines(self.session.grad(i)))
        return text

    def _on_step(self, event=None):
        """Session callback: update the item state of the boxes one step touches (no layout)."""
        self.refresh(self.session.step_touches(event))

    def invalidate_texts(self):
        self._text_cache.clear()

    def refresh(self, nodes=None):
        """Update the items' state from the stepper (cheap: no layout, only changed items repaint).
        ``nodes``: only the boxes of these node indices and the edges touching them (one step
        changes a few: 500 boxes need not be visited per step); None: everything."""
        s = self.session
        if s is None:
            return
        if len(self._text_cache) > 20000:
            self._text_cache.clear()
        current = s.current()
        known_v = s.known_values()
        known_g = s.known_grads()
        backward = s.position > s.backward_start
        # the gradcheck overlay shows a finished check only (the app runs it in a worker thread)
        checked = s.gradcheck_result() if self.overlay == "gradcheck" else None
        rel, blamed, failed = checked if checked is not None else (None, set(), None)
        verdict = (lambda i: None) if failed is None else (lambda i: i not in failed)  # noqa: E731
        wrong = "wrong backward?" if s.low_precision() else "wrong backward"
        levels, edge_levels, flags = ({}, {}, {}) if not backward else s.flow()[:3]
        edge_items = self.edge_items
        if nodes is None:
            node_items = self.node_items.items()
            crossed = s.edge_grad_crossed() if backward else {}
        else:
            node_items = [(i, self.node_items[i]) for i in nodes if i in self.node_items]
            edge_items = {e for i in nodes for e in self._edges_at.get(i, ())}
            crossed = {pair: True for e in edge_items for pair in e.pairs if backward and s.edge_crossed(*pair)}
        for i, item in node_items:
            vk = bool(known_v[i])
            gstate = s.grad_state(i) if backward else "unknown"
            gk = gstate in ("known", "partial")
            vt = self._value_text(i) if vk else ("?",)
            gt = self._grad_text(i, gstate) if gk else (("–",) if gstate == "none" else ("?",))
            overlay = error_colour(rel.get(i), verdict(i)) if rel is not None else None
            flag = "; ".join(flags.get(i, ())) if s.position >= s.length else ""
            if rel is not None and i in blamed:
                flag = wrong + (", " + flag if flag else "")
            item.set_state((vk, gk, i == current, vt, gt, overlay, flag))
        for name, item in self.group_items.items():
            members = item.members
            nv = int(sum(bool(known_v[m]) for m in members))
            ng = int(sum(bool(known_g[m]) for m in members))
            overlay = None
            if rel is not None:
                errs = [rel[m] for m in members if m in rel]
                bad = failed is not None and any(m in failed for m in members)
                overlay = error_colour(max(errs) if errs else None,
                                       None if failed is None or not errs else not bad)
            notes = [note for m in members for note in flags.get(m, ())] if s.position >= s.length else []
            flag = notes[0] + (f" (+{len(notes) - 1} more)" if len(notes) > 1 else "") if notes else ""
            item.set_state((nv, ng, current in item.member_set, overlay, flag))
        for e in edge_items:
            vk = any(bool(known_v[a]) for a, _ in e.pairs)
            hit = [edge_levels.get(pair, 0.0) for pair in e.pairs if pair in crossed]
            e.set_state((vk, max(hit) if hit else None))

    def item_for(self, i):
        item = self.node_items.get(i)
        if item is None:
            for g in self.group_items.values():
                if i in g.members:
                    return g
        return item

    def ensure_current_visible(self):
        s = self.session
        if s is None:
            return
        c = s.current()
        if c is not None:
            item = self.item_for(c)
            if item is not None:
                self.ensureVisible(item, 40, 40)

    def set_overlay(self, mode: str):
        self.overlay = mode
        self.refresh()

    # -- navigation --------------------------------------------------------------------------
    def zoom(self, factor: float):
        self._auto_fit = False
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 6:
            self.scale(factor, factor)

    def fit(self, readable: bool = False, auto: bool = False):
        """Show the whole graph: fold a wide one into rows that suit the window, then zoom to
        fit (never above MAX_FIT_SCALE; with ``readable`` never below MIN_FIT_SCALE, then
        centred on the current node, or on the inputs at the start)."""
        self._auto_fit = auto or self._auto_fit or not readable
        if self._raw is not None:
            wrap = self._choose_wrap()
            if wrap != self.wrap:
                self.wrap = wrap
                self._populate()
        rect = self._scene.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.KeepAspectRatio)
        scale = self.transform().m11()
        if scale > MAX_FIT_SCALE or (readable and scale < FIT_ALL_SCALE):
            target = MAX_FIT_SCALE if scale > MAX_FIT_SCALE else MIN_FIT_SCALE
            self.resetTransform()
            self.scale(target, target)
            if target == MAX_FIT_SCALE:
                self.centerOn(rect.center())
                return
            c = self.session.current() if self.session is not None else None
            item = self.item_for(c) if c is not None else None
            if item is not None:
                self.centerOn(item.sceneBoundingRect().center())
            else:  # the start: show the inputs, top left
                vw, vh = self._viewport_size()
                self.centerOn(rect.left() + vw / target / 2, rect.top() + vh / target / 2)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if self._auto_fit and self.session is not None:
            self._refit_timer.start()

    def wheelEvent(self, event):
        self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)

    def mouseMoveEvent(self, event):
        if event.buttons() & Qt.LeftButton:
            self._auto_fit = False  # the student pans: leave the view where they put it
        super().mouseMoveEvent(event)
