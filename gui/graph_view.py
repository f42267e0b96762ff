"""The graph canvas: nodes as boxes, edges coloured by gradient magnitude.

The scene is laid out once per graph (and when a group is expanded or
collapsed); stepping only changes item state and repaints the items whose
state changed.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (QBrush, QColor, QFont, QFontMetricsF, QKeySequence, QPainter,
                           QPainterPath, QPen, QShortcut)
from PySide6.QtWidgets import (QGraphicsItem, QGraphicsPathItem, QGraphicsScene, QGraphicsView,
                               QStyleOptionGraphicsItem)

import numpy as np

from .models import GraphSession, fmt_array, fmt_shape

KIND_FILL = {
    "input": QColor("#dbeafe"),
    "parameter": QColor("#ede9fe"),
    "constant": QColor("#f1f5f9"),
    "intermediate": QColor("#ffffff"),
}
CURRENT = QColor("#f97316")
BORDER = QColor("#64748b")
UNKNOWN_TEXT = QColor("#94a3b8")
VALUE_TEXT = QColor("#0f172a")
GRAD_TEXT = QColor("#b91c1c")


def error_colour(rel: float | None) -> QColor:
    """Gradcheck overlay: green < 1e-7, yellow in between, red > 1e-2."""
    if rel is None:
        return QColor("#e2e8f0")
    if rel != rel or rel > 1e-2:
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
        self.setToolTip(view.session.name(index) + (f"  ({self.shape_text})" if self.shape_text else ""))

    def boundingRect(self):
        return QRectF(-3, -3, self.rect.width() + 6, self.rect.height() + 18)

    def set_state(self, state):
        if state != self.state:
            self.state = state
            self.update()

    def paint(self, p: QPainter, option: QStyleOptionGraphicsItem, widget=None):
        s = self.view.session
        i = self.index
        v_known, g_known, current, value_text, grad_text, overlay, flag = \
            self.state or (False, False, False, "?", "?", None, "")
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
            pen = QPen(BORDER if v_known else QColor("#cbd5e1"), 1.2, Qt.SolidLine if v_known else Qt.DashLine)
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
        if self.shape_text:
            used = title_fm.horizontalAdvance(title) + 12
            room = w - sym_w - 10 - used
            if room > 20:
                p.setFont(f.small)
                p.setPen(QColor("#64748b"))
                p.drawText(QRectF(used, 4, room, 20), Qt.AlignLeft | Qt.AlignVCenter,
                           QFontMetricsF(f.small).elidedText(self.shape_text, Qt.ElideRight, room))
        pill = QRectF(w - sym_w - 5, 5, sym_w, 16)
        p.setPen(Qt.NoPen)
        p.setBrush(QColor("#334155") if s.gate(i) is not None else QColor("#94a3b8"))
        p.drawRoundedRect(pill, 5, 5)
        p.setFont(f.small)
        p.setPen(QColor("white"))
        p.drawText(pill, Qt.AlignCenter, symbol)
        # value and gradient rows
        p.setFont(f.body)
        fm = QFontMetricsF(f.body)
        p.setPen(VALUE_TEXT if v_known else UNKNOWN_TEXT)
        p.drawText(QRectF(7, 24, w - 12, 18), Qt.AlignLeft | Qt.AlignVCenter,
                   fm.elidedText("val  " + (value_text if v_known else "?"), Qt.ElideRight, w - 12))
        p.setPen(GRAD_TEXT if g_known else UNKNOWN_TEXT)
        p.drawText(QRectF(7, 43, w - 12, 18), Qt.AlignLeft | Qt.AlignVCenter,
                   fm.elidedText("grad " + grad_text, Qt.ElideRight, w - 12))
        if flag:
            p.setFont(f.small)
            tag = QRectF(6, h - 2, w - 12, 15)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor("#fee2e2"))
            p.drawRoundedRect(tag, 4, 4)
            p.setPen(QColor("#b91c1c"))
            p.drawText(tag, Qt.AlignCenter, "⚠ " + flag)

    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        self.view.nodeClicked.emit(self.index)


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
        self.setToolTip(f"{name}: {len(members)} nodes ({self.gates})\ndouble-click to expand")

    def boundingRect(self):
        return QRectF(-3, -3, self.rect.width() + 6, self.rect.height() + 6)

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

    def paint(self, p, option, widget=None):
        n_val, n_grad, current, overlay = self.state or (0, 0, False, None)
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
        p.drawText(QRectF(7, 46, w_text - 12, 20), Qt.AlignLeft | Qt.AlignVCenter, f"{n_val}/{n} computed")
        p.setPen(GRAD_TEXT if n_grad else UNKNOWN_TEXT)
        p.drawText(QRectF(7, 66, w_text - 12, 20), Qt.AlignLeft | Qt.AlignVCenter, f"{n_grad}/{n} gradients")
        if thumb is not None:
            side = h - 10
            target = QRectF(w - side - 5, 5, side, side)
            scale = min(side / thumb.width(), side / thumb.height())
            tw, th = thumb.width() * scale, thumb.height() * scale
            p.drawImage(QRectF(target.center().x() - tw / 2, target.center().y() - th / 2, tw, th), thumb)

    def mouseDoubleClickEvent(self, event):
        self.view.toggle_group(self.name)

    def mousePressEvent(self, event):
        super().mousePressEvent(event)
        self.view.nodeClicked.emit(self.output)


class GroupFrame(QGraphicsItem):
    """The outline of an expanded group, hugging its members (a union of padded boxes).
    Double-click its title to collapse the group again."""

    def __init__(self, view, name, rects):
        super().__init__()
        self.view, self.name = view, name
        path = QPainterPath()
        path.setFillRule(Qt.WindingFill)
        for r in rects:
            box = QPainterPath()
            box.addRoundedRect(r.adjusted(-12, -12, 12, 12), 10, 10)
            path = path.united(box)
        self.path = path.simplified()
        top = min(rects, key=lambda r: (r.top(), r.left()))
        self.title = QRectF(top.left() - 8, top.top() - 27, max(120.0, top.width()), 17)
        self.setZValue(-2)
        self.setToolTip(f"{name} (double-click the title to collapse)")

    def boundingRect(self):
        return self.path.boundingRect().united(self.title).adjusted(-2, -2, 2, 2)

    def shape(self):
        path = QPainterPath()
        path.addRect(self.title)
        return path

    def paint(self, p, option, widget=None):
        p.setRenderHint(QPainter.Antialiasing)
        p.setPen(QPen(QColor("#ca8a04"), 1.2, Qt.DashLine))
        p.setBrush(QColor(254, 249, 195, 90))
        p.drawPath(self.path)
        p.setFont(self.view.fonts.small)
        p.setPen(QColor("#854d0e"))
        p.drawText(self.title, Qt.AlignLeft | Qt.AlignVCenter, "▾ " + self.name)

    def mouseDoubleClickEvent(self, event):
        self.view.toggle_group(self.name)


class EdgeItem(QGraphicsPathItem):
    """``pairs``: the (source, target) node edges this drawn edge stands for (several when a
    group is collapsed)."""

    def __init__(self, route, pairs):
        super().__init__()
        self.pairs = pairs
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
            path = QPainterPath(QPointF(*points[0]))
            for pt in points[1:]:
                path.lineTo(QPointF(*pt))
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
            pen = QPen(QColor("#cbd5e1"), 1.2, Qt.DashLine)
        pen.setCapStyle(Qt.RoundCap)
        self.setPen(pen)


class GraphView(QGraphicsView):
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
        self._text_cache: dict = {}
        for keys, slot in ((QKeySequence.ZoomIn, lambda: self.zoom(1.25)),
                           (QKeySequence.ZoomOut, lambda: self.zoom(0.8)),
                           ("Ctrl+=", lambda: self.zoom(1.25)),
                           ("F", self.fit)):
            sc = QShortcut(QKeySequence(keys), self)
            sc.setContext(Qt.WidgetWithChildrenShortcut)
            sc.activated.connect(slot)

    # -- building -------------------------------------------------------------------
    def set_session(self, session: GraphSession | None):
        self.session = session
        self._text_cache.clear()
        self.expanded = session.default_expanded() if session is not None else None
        self.rebuild()
        self.fit(readable=True)

    def rebuild(self):
        """Lay the view out and create the items (once per graph, or on expand/collapse)."""
        self._scene.clear()
        self.node_items, self.group_items, self.edge_items = {}, {}, []
        s = self.session
        if s is None:
            return
        view = s.view(self.expanded)
        self.graph_view_model = view
        layout = s.layout(view)
        self.layout_count += 1
        self.layout_engine = getattr(layout, "engine", "gui")
        for v in view.nodes:
            x, y, w, h = tuple(layout.boxes[v.name])
            rect = QRectF(x, y, w, h)
            if v.is_group:
                item = GroupItem(self, v.group, [m.index for m in v.members], rect, v.output.index, v.gate_names)
                self.group_items[v.group] = item
            else:
                item = NodeItem(self, v.node.index, rect)
                self.node_items[v.node.index] = item
            self._scene.addItem(item)
        # outlines of the expanded groups that have members on screen
        for path in sorted(view.expanded or (), key=len):
            rects = [item.rect for i, item in self.node_items.items()
                     if s.group(i) and (s.group(i) == path or s.group(i).startswith(path + "/"))]
            if len(rects) >= 1 and len(self.node_items) > len(rects):
                self._scene.addItem(GroupFrame(self, path, rects))
        for route in layout.routes:
            e = view.edges[route.index]
            pairs = [(ge.source.index, ge.target.index) for ge in e.edges]
            item = EdgeItem(route, pairs)
            self.edge_items.append(item)
            self._scene.addItem(item)
        self._scene.setSceneRect(self._scene.itemsBoundingRect().adjusted(-40, -40, 40, 40))
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

    # -- per-step update (no layout) ---------------------------------------------------------
    def _value_text(self, i):
        key = ("v", i, self.session.graph.version)
        text = self._text_cache.get(key)
        if text is None:
            text = self._text_cache[key] = fmt_array(self.session.value(i))
        return text

    def _grad_text(self, i, state):
        if state == "partial":  # a sum still growing: not cached
            return fmt_array(self.session.grad(i)) + " (partial)"
        key = ("g", i, self.session.graph.version)
        text = self._text_cache.get(key)
        if text is None:
            text = self._text_cache[key] = fmt_array(self.session.grad(i))
        return text

    def invalidate_texts(self):
        self._text_cache.clear()

    def refresh(self):
        """Update every item's state from the stepper (cheap: no layout, only changed items repaint)."""
        s = self.session
        if s is None:
            return
        if len(self._text_cache) > 20000:
            self._text_cache.clear()
        current = s.current()
        known_v = s.known_values()
        known_g = s.known_grads()
        backward = s.position > s.backward_start
        rel = s.gradcheck() if self.overlay == "gradcheck" else None
        blamed = s.blamed() if rel is not None else set()
        levels, edge_levels, flags = ({}, {}, {}) if not backward else s.flow()[:3]
        crossed = s.edge_grad_crossed() if backward else {}
        for i, item in self.node_items.items():
            vk = bool(known_v[i])
            gstate = s.grad_state(i) if backward else "unknown"
            gk = gstate in ("known", "partial")
            vt = self._value_text(i) if vk else "?"
            gt = self._grad_text(i, gstate) if gk else ("–" if gstate == "none" else "?")
            overlay = error_colour(rel.get(i)) if rel is not None else None
            flag = ", ".join(flags.get(i, ())) if s.position >= s.length else ""
            if rel is not None and i in blamed:
                flag = "wrong backward" + (", " + flag if flag else "")
            item.set_state((vk, gk, i == current, vt, gt, overlay, flag))
        for name, item in self.group_items.items():
            members = item.members
            nv = int(sum(bool(known_v[m]) for m in members))
            ng = int(sum(bool(known_g[m]) for m in members))
            overlay = None
            if rel is not None:
                errs = [rel[m] for m in members if m in rel]
                overlay = error_colour(max(errs) if errs else None)
            item.set_state((nv, ng, current in item.member_set, overlay))
        for e in self.edge_items:
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
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 6:
            self.scale(factor, factor)

    def fit(self, readable: bool = False):
        """Fit the whole graph; with ``readable`` never below MIN_FIT_SCALE (then centre on
        the current node)."""
        rect = self._scene.itemsBoundingRect()
        if rect.isEmpty():
            return
        self.fitInView(rect.adjusted(-20, -20, 20, 20), Qt.KeepAspectRatio)
        scale = self.transform().m11()
        if scale > 1.6 or (readable and scale < MIN_FIT_SCALE):
            # a tiny graph is not blown up; a big one stays readable (pan or zoom out to see all)
            target = 1.6 if scale > 1.6 else MIN_FIT_SCALE
            self.resetTransform()
            self.scale(target, target)
            c = self.session.current() if self.session is not None else None
            item = self.item_for(c) if c is not None else None
            self.centerOn(item.sceneBoundingRect().center() if item is not None else rect.center())

    def wheelEvent(self, event):
        self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
