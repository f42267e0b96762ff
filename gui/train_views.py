"""The Train tab's live views: the training curves, and what the model looks like inside.

* :class:`TrainingCurves`: loss, accuracy and gradient norms per layer against the step,
  from the records (``add``) and repainted on request (``redraw``: the panel's timer
  decides when, a few times a second).
* :class:`ModelViews`: feature maps of a chosen input image and layer, the filters, and
  the confusion matrix, decision boundary and predictions, from the snapshots the
  training stream (or the panel, exploring a model) computes.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpinBox, QSplitter, \
    QTabWidget, QVBoxLayout, QWidget

from .cnn_views import TileDialog, TileGrid
from .lineplot import LinePlot, Series

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d",
           "#475569", "#ca8a04"]


class MatrixView(QWidget):
    """A confusion matrix: rows = true class, columns = predicted, counts in the cells."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.matrix = None
        self.names = None
        self.setMinimumSize(260, 220)

    def set_matrix(self, matrix, names=None):
        self.matrix, self.names = matrix, names
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        m = self.matrix
        if m is None:
            p.drawText(self.rect(), Qt.AlignCenter, "confusion matrix: start training")
            return
        n = len(m)
        left, top = 90, 28
        size = max(4.0, min((self.width() - left - 10) / n, (self.height() - top - 30) / n))
        font = QFont()
        font.setPointSizeF(max(6.0, min(9.0, size / 3.2)))
        p.setFont(font)
        total = max(1, int(m.sum()))
        acc = np.trace(m) / total
        p.drawText(QRectF(0, 0, self.width(), 22), Qt.AlignCenter,
                   f"true class (rows) vs predicted (columns) · accuracy {100 * acc:.1f}% on {total}")
        for r in range(n):
            name = self.names[r] if self.names and r < len(self.names) else str(r)
            p.setPen(QColor("#334155"))
            p.drawText(QRectF(0, top + r * size, left - 4, size), Qt.AlignRight | Qt.AlignVCenter, name[:12])
            row_total = max(1, int(m[r].sum()))
            for c in range(n):
                t = m[r, c] / row_total
                colour = QColor.fromRgbF(1 - 0.8 * t, 1 - 0.55 * t, 1 - 0.2 * t) if r == c else \
                    QColor.fromRgbF(1, 1 - 0.7 * t, 1 - 0.7 * t)
                cell = QRectF(left + c * size, top + r * size, size - 1, size - 1)
                p.fillRect(cell, colour)
                if size >= 16 and m[r, c]:
                    p.setPen(QColor("#0f172a"))
                    p.drawText(cell, Qt.AlignCenter, str(int(m[r, c])))
        p.setPen(QColor("#334155"))
        for c in range(n):
            p.drawText(QRectF(left + c * size, top + n * size + 2, size, 16), Qt.AlignCenter, str(c))


class BoundaryView(QWidget):
    """Decision regions of a 2-D classifier with the training points on top."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.snap = None
        self.setMinimumSize(240, 240)

    def set_snapshot(self, snap):
        self.snap = snap
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        s = self.snap
        if not s or "boundary" not in s:
            p.setPen(QColor("#64748b"))
            p.drawText(self.rect(), Qt.AlignCenter, "the decision boundary of a 2-D dataset\nappears here while training")
            return
        caption = QRectF(6, 3, self.width() - 12, 20)
        p.setPen(QColor("#475569"))
        p.drawText(caption, Qt.AlignCenter | Qt.TextWordWrap,
                   "shading: predicted class · dots: training points (true class)")
        b = s["boundary"]
        rgb = np.zeros(b.shape + (3,), dtype=np.uint8)
        for k in range(int(b.max()) + 1):
            c = QColor(PALETTE[k % len(PALETTE)]).lighter(175)
            rgb[b == k] = (c.red(), c.green(), c.blue())
        image = QImage(np.ascontiguousarray(rgb[::-1]).data, b.shape[1], b.shape[0], 3 * b.shape[1],
                       QImage.Format_RGB888).copy()
        side = min(self.width(), self.height() - 26) - 10
        target = QRectF((self.width() - side) / 2, 24 + (self.height() - 24 - side) / 2, side, side)
        p.drawImage(target, image)
        lo, hi = s["bounds"]
        p.setRenderHint(QPainter.Antialiasing)
        for (x, y), label in zip(s["points"], s["point_labels"]):
            px = target.left() + (x - lo[0]) / (hi[0] - lo[0]) * side
            py = target.bottom() - (y - lo[1]) / (hi[1] - lo[1]) * side
            p.setPen(QPen(QColor("white"), 0.8))
            p.setBrush(QColor(PALETTE[label % len(PALETTE)]))
            p.drawEllipse(QRectF(px - 3, py - 3, 6, 6))


class TrainingCurves(QWidget):
    """Three stacked plots: loss, accuracy % and ‖grad‖ per layer, against the step.
    ``history`` holds the records' numbers (lists by name)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.total_steps = 0
        self.loss_plot = LinePlot("loss, accuracy and gradient norms (live)", "loss")
        self.acc_plot = LinePlot("", "accuracy %", y_range=(0, 100), legend_loc="lower right")
        self.norm_plot = LinePlot("", "‖grad‖ per layer (log)", log_y=True)
        self.norm_plot.xlabel = "step"
        cv = QVBoxLayout(self)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.setSpacing(0)
        for plot in (self.loss_plot, self.acc_plot, self.norm_plot):
            cv.addWidget(plot)
        self.reset()

    def reset(self):
        self.history = {"step": [], "loss": [], "acc": [], "norms": {}, "epoch_step": [], "epoch_loss": [],
                        "val_loss": [], "epoch_acc": [], "val_acc": []}

    def add(self, r):
        """Keep the numbers of a "step" or "epoch" record."""
        h = self.history
        if r.kind == "step":
            h["step"].append(r.step)
            h["loss"].append(r.loss)
            h["acc"].append(r.accuracy)
            for name, value in (r.grad_norms or {}).items():
                h["norms"].setdefault(name, []).append((r.step, value))
        elif r.kind == "epoch":
            h["epoch_step"].append(r.step)
            h["epoch_loss"].append(r.loss)
            h["val_loss"].append(r.val_loss)
            h["epoch_acc"].append(r.accuracy)
            h["val_acc"].append(r.val_accuracy)

    def redraw(self):
        """Repaint the three live panels from the history (a few ms: QPainter, main thread)."""
        h = self.history
        steps = h["step"]
        x_range = (0, max(self.total_steps, steps[-1] if steps else 1))
        loss_series = [Series("batch loss", steps, h["loss"], "#94a3b8", 0.8)]
        if len(steps) >= 10:
            k = max(5, len(steps) // 30)
            smooth = np.convolve(np.asarray(h["loss"], dtype=float), np.ones(k) / k, mode="valid")
            loss_series.append(Series(f"mean of {k} steps", steps[k - 1:], smooth, "#1d4ed8", 2.0))
        if h["epoch_step"]:
            loss_series.append(Series("epoch (train)", h["epoch_step"], h["epoch_loss"], "#0f172a", 1.5, True))
            if any(v is not None for v in h["val_loss"]):
                loss_series.append(Series("validation", h["epoch_step"],
                                          [np.nan if v is None else v for v in h["val_loss"]], "#dc2626", 1.5, True))
        self.loss_plot.set_series(loss_series, x_range)
        acc = [np.nan if a is None else 100 * a for a in h["acc"]]
        acc_series = []
        if acc and not all(math.isnan(a) for a in acc):
            acc_series.append(Series("batch", steps, acc, "#94a3b8", 0.8))
            if h["epoch_step"]:
                acc_series.append(Series("epoch (train)", h["epoch_step"],
                                         [np.nan if a is None else 100 * a for a in h["epoch_acc"]],
                                         "#0f172a", 1.5, True))
                if any(v is not None for v in h["val_acc"]):
                    acc_series.append(Series("validation", h["epoch_step"],
                                             [np.nan if a is None else 100 * a for a in h["val_acc"]],
                                             "#dc2626", 1.5, True))
        self.acc_plot.set_series(acc_series, x_range)
        norm_series = []
        for k, (name, pts) in enumerate(h["norms"].items()):
            if pts:
                xs, ys = zip(*pts)
                norm_series.append(Series(name, xs, ys, PALETTE[k % len(PALETTE)], 1.0))
        self.norm_plot.set_series(norm_series, x_range)


class ModelViews(QSplitter):
    """Above: the feature maps (``image_index``, ``layer``, zoom, ``load_button``) and the
    filters; below: the confusion matrix, the decision boundary and the predictions.
    ``show_snapshot`` merges a snapshot into ``last_snapshot`` and shows it."""

    def __init__(self, parent=None):
        super().__init__(Qt.Vertical, parent)
        self.class_names = None
        self.last_snapshot = None
        self.maps = TileGrid("start training (or load a checkpoint) to see the feature maps")
        self.filters = TileGrid("start training (or load a checkpoint) to see the filters")
        self.tile_dialog = None
        for grid in (self.maps, self.filters):
            grid.tileClicked.connect(self._on_tile_clicked)
        self.image_index = QSpinBox()
        self.image_index.setRange(0, 499)
        self.image_index.setPrefix("input image #")
        self.layer = QComboBox()
        self.layer.addItem("all layers")
        self.layer.setToolTip("show the feature maps of one layer only (larger)")
        self.layer.currentTextChanged.connect(lambda _text: self._show_maps())
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.setToolTip("look inside a saved network (.npz from gradgraph train or save_checkpoint)")
        maps_box = QWidget()
        mv = QVBoxLayout(maps_box)
        mv.setContentsMargins(0, 0, 0, 0)
        pick = QHBoxLayout()
        pick.addWidget(self.image_index)
        pick.addWidget(self.layer)
        for text, factor in (("−", 0.8), ("+", 1.25)):
            button = QPushButton(text)
            button.setFixedWidth(28)
            button.setToolTip("zoom the tiles (also Ctrl + wheel); click a tile to enlarge it")
            button.clicked.connect(lambda _=False, f=factor: self._zoom_tiles(f))
            pick.addWidget(button)
        pick.addStretch(1)
        pick.addWidget(self.load_button)
        self.image_index.setToolTip("which validation image the feature maps are computed for "
                                    "(any time: while training, paused, or after)")
        mv.addLayout(pick)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.maps)
        mv.addWidget(scroll)
        filters_scroll = QScrollArea()
        filters_scroll.setWidgetResizable(True)
        filters_scroll.setWidget(self.filters)
        self.confusion = MatrixView()
        self.boundary = BoundaryView()
        self.predictions = QLabel()
        self.predictions.setWordWrap(True)
        self.predictions.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.top_tabs = QTabWidget()
        self.top_tabs.addTab(maps_box, "Feature maps")
        self.top_tabs.addTab(filters_scroll, "Filters")
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.confusion, "Confusion matrix")
        self.bottom_tabs.addTab(self.boundary, "Decision boundary")
        self.bottom_tabs.addTab(self.predictions, "Predictions")
        self.addWidget(self.top_tabs)
        self.addWidget(self.bottom_tabs)

    def show_kind(self, kind):
        """Show the views that fit the data: feature maps and filters for images, the
        decision boundary for 2-D points."""
        self.bottom_tabs.setCurrentIndex(1 if kind == "2d" else 0)
        self.bottom_tabs.setTabEnabled(1, kind == "2d")
        self.top_tabs.setVisible(kind == "image")

    def show_snapshot(self, snap):
        self.last_snapshot = {**(self.last_snapshot or {}), **snap}
        rows = []
        for name, array in (snap.get("filters") or {}).items():
            rows.append((f"{name}: {array.shape[0]} filters × {array.shape[1]} channels, "
                         f"{array.shape[2]}×{array.shape[3]} (blue −, white 0, red +)", array, True))
        self.filters.set_rows(rows)
        if "feature_maps" in snap:
            layers = list(snap["feature_maps"])
            if [self.layer.itemText(k) for k in range(1, self.layer.count())] != layers:
                chosen = self.layer.currentText()
                self.layer.blockSignals(True)
                self.layer.clear()
                self.layer.addItems(["all layers"] + layers)
                self.layer.setCurrentText(chosen if chosen in layers else "all layers")
                self.layer.blockSignals(False)
            self._show_maps()
        if "confusion" in snap:
            self.confusion.set_matrix(snap["confusion"], self.class_names)
            pred, labels = snap["predictions"], snap["labels"]
            names = self.class_names or []
            fmt = lambda k: names[k] if k < len(names) else str(k)  # noqa: E731
            cells = [f"<span style='color:{'#15803d' if p == t else '#b91c1c'}'>#{i}: {fmt(p)}"
                     f"{'' if p == t else f' (true {fmt(t)})'}</span>" for i, (p, t) in enumerate(zip(pred, labels))]
            self.predictions.setText("predictions on the first validation samples:<br>" + "<br>".join(cells))
        if "boundary" in snap:
            self.boundary.set_snapshot(snap)

    def _show_maps(self):
        """The feature-map rows of the last snapshot: the input, then every layer (or the
        chosen one)."""
        snap = self.last_snapshot or {}
        if "feature_maps" not in snap:
            return
        label = snap.get("image_label")
        name = (self.class_names[label] if self.class_names and label is not None and label < len(self.class_names)
                else label)
        rows = [(f"input #{self.image_index.value()} (class {name})",
                 np.asarray(snap["image"]).reshape(-1, *np.shape(snap["image"])[-2:]))]
        chosen = self.layer.currentText()
        for layer, a in snap["feature_maps"].items():
            if chosen in ("", "all layers") or layer == chosen:
                rows.append((f"{layer}  ({'×'.join(map(str, np.shape(a)))})", a))
        self.maps.set_rows(rows)

    def _zoom_tiles(self, factor):
        for grid in (self.maps, self.filters):
            grid.set_zoom(grid.zoom * factor)

    def _on_tile_clicked(self, label, index, tile):
        if self.tile_dialog is None:
            self.tile_dialog = TileDialog(self)
        self.tile_dialog.show_tile(label, index, tile)
