"""One tensor in the inspector: every entry when it is small, else a slice picker, a
heatmap with its colour scale and the number under the mouse.

    view = TensorView("gradient")
    view.show_array(array)         # None clears it
    view.elementClicked.connect(...)   # (index tuple) of a clicked entry

The numbers are formatted by the engine's :mod:`gradgraph.graph.fmt` (the ledger and
``gradgraph walk`` print the same), the colours by :func:`images.diverging`: blue
negative, white zero, red positive, symmetric around zero.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from gradgraph.graph.fmt import fmt_number, is_small, matrix_cell_at, matrix_lines, stats

from . import images

HEAT_W, HEAT_H = 260, 180


def slice_of(array, sample: int = 0, channel: int = 0) -> np.ndarray:
    """The 2-D picture shown for an array: (N, C, H, W) -> [sample, channel]; (C, H, W) ->
    [channel]; a vector is one row."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 4:
        return a[min(sample, a.shape[0] - 1), min(channel, a.shape[1] - 1)]
    if a.ndim == 3:
        return a[min(channel, a.shape[0] - 1)]
    return a.reshape(1, -1) if a.ndim < 2 else a


class ColourScale(QWidget):
    """The heatmap's legend: a blue-white-red bar labelled -m, 0 and +m."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.limit = 1.0
        self.setFixedHeight(30)

    def set_limit(self, limit: float):
        self.limit = float(limit)
        self.update()

    def labels(self) -> tuple:
        m = self.limit
        return (fmt_number(-m, 3), "0", fmt_number(m, 3))

    def paintEvent(self, event):
        p = QPainter(self)
        w = self.width() - 2
        bar = QRectF(1, 1, w, 12)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        gradient.setColorAt(0.0, QColor(37, 99, 255))
        gradient.setColorAt(0.5, QColor(255, 255, 255))
        gradient.setColorAt(1.0, QColor(255, 50, 38))
        p.fillRect(bar, gradient)
        p.setPen(QPen(QColor("#94a3b8")))
        p.drawRect(bar)
        font = QFont(self.font())
        font.setPointSizeF(8)
        p.setFont(font)
        p.setPen(QColor("#334155"))
        low, zero, high = self.labels()
        p.drawText(QRectF(0, 14, w / 3, 14), Qt.AlignLeft, low)
        p.drawText(QRectF(w / 3, 14, w / 3, 14), Qt.AlignHCenter, zero)
        p.drawText(QRectF(2 * w / 3, 14, w / 3, 14), Qt.AlignRight, high)


class HeatMap(QLabel):
    """A heatmap that reports the entry under the mouse and the one clicked."""

    hovered = Signal(object)   # (row, column) or None
    clicked = Signal(object)   # (row, column)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.shape = (0, 0)

    def cell_at(self, pos):
        pm = self.pixmap()
        rows, cols = self.shape
        if pm is None or pm.isNull() or not rows or not cols:
            return None
        x, y = pos.x(), pos.y()
        if not (0 <= x < pm.width() and 0 <= y < pm.height()):
            return None
        return int(y * rows / pm.height()), int(x * cols / pm.width())

    def mouseMoveEvent(self, event):
        self.hovered.emit(self.cell_at(event.position().toPoint()))
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event):
        cell = self.cell_at(event.position().toPoint())
        if cell is not None:
            self.clicked.emit(cell)
        super().mousePressEvent(event)


class MatrixLabel(QLabel):
    """Every entry of a small tensor, a row per line (monospace); a click names the entry."""

    clicked = Signal(object)  # the index tuple

    def __init__(self, parent=None):
        super().__init__(parent)
        self.array = None
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setCursor(Qt.PointingHandCursor)
        self.setToolTip("click an entry")

    def show_matrix(self, array):
        self.array = None if array is None else np.asarray(array)
        self.setText("" if array is None else "\n".join(matrix_lines(array)))
        self.setVisible(array is not None)

    def entry_at(self, point):
        """The index into the array of the entry drawn at ``point``, or None."""
        if self.array is None:
            return None
        fm = self.fontMetrics()
        margin = self.contentsMargins()
        line = int((point.y() - margin.top()) // fm.lineSpacing())
        char = int((point.x() - margin.left()) // fm.horizontalAdvance("0"))
        cell = matrix_cell_at(self.array, line, char)
        if cell is None:
            return None
        lead = (0,) * (self.array.ndim - len(cell))  # leading axes of size 1 (a batch of one)
        return lead + tuple(cell)

    def mousePressEvent(self, event):
        index = self.entry_at(event.position())
        if index is not None:
            self.clicked.emit(index)
        super().mousePressEvent(event)


class TensorView(QWidget):
    """A value or gradient: the numbers as a matrix (small), or a slice picker, a heatmap with
    its colour scale, the entry under the mouse, and statistics (large)."""

    elementClicked = Signal(object)  # the index tuple into the full array

    def __init__(self, parent=None, heat_size: tuple = (HEAT_W, HEAT_H)):
        super().__init__(parent)
        self.array = None
        self.heat_size = heat_size
        self.large = False
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(10)
        self.matrix = MatrixLabel()
        self.matrix.setFont(mono)
        self.matrix.clicked.connect(self.elementClicked)
        self.text = QLabel()
        self.text.setFont(mono)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.setWordWrap(True)
        self.sample, self.channel = QSpinBox(), QSpinBox()
        self.picker = QWidget()
        row = QHBoxLayout(self.picker)
        row.setContentsMargins(0, 0, 0, 0)
        for label, spin in (("sample", self.sample), ("channel", self.channel)):
            row.addWidget(QLabel(label))
            row.addWidget(spin)
            spin.valueChanged.connect(self._draw)
        row.addStretch(1)
        self.heat = HeatMap()
        self.heat.hovered.connect(self._on_hover)
        self.heat.clicked.connect(self._on_cell_clicked)
        self.scale = ColourScale()
        self.scale.setMaximumWidth(heat_size[0])
        self.scale.setMinimumWidth(120)
        self.hover = QLabel(" ")
        self.hover.setFont(mono)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.matrix, self.text, self.picker, self.heat, self.scale, self.hover):
            layout.addWidget(w)
        self.show_array(None)

    # -- model -> view ---------------------------------------------------------------------
    def show_array(self, array, note: str = "", large: bool = False):
        """Show ``array`` (None: only ``note``); ``large``: as a heatmap even when it is small."""
        self.array = None if array is None else np.asarray(array)
        self.large = large
        a = self.array
        big = a is not None and a.size > 1 and (large or not is_small(a))
        for w in (self.heat, self.scale, self.hover):
            w.setVisible(big)
        self.picker.setVisible(big and a.ndim >= 3)
        self.matrix.show_matrix(a if a is not None and a.size > 1 and not big else None)
        if a is None:
            self.text.setText(note)
            return
        if a.size == 1:
            self.text.setText(fmt_number(a.reshape(-1)[0]) + note)
            return
        st = stats(a)
        summary = (f"shape {'×'.join(map(str, a.shape))}  mean {fmt_number(st['mean'])}  "
                   f"|max| {fmt_number(st['absmax'])}  norm {fmt_number(st['norm'])}")
        if not big:
            self.text.setText(summary + note)
            return
        self.text.setText(summary + note)
        if a.ndim >= 3:
            self.sample.setRange(0, a.shape[0] - 1 if a.ndim == 4 else 0)
            self.sample.setEnabled(a.ndim == 4)
            self.channel.setRange(0, a.shape[-3] - 1)
        self._draw()

    def shown_slice(self) -> np.ndarray:
        return slice_of(self.array, self.sample.value(), self.channel.value())

    def _draw(self, *_):
        if self.array is None or self.array.size <= 1 or (is_small(self.array) and not self.large):
            return
        picture = self.shown_slice()
        finite = np.isfinite(picture)
        limit = float(np.max(np.abs(picture[finite]))) if finite.any() else 0.0
        self.heat.shape = picture.shape
        width = min(self.heat_size[0], max(120, self.width() - 8))  # never wider than the panel
        self.heat.setPixmap(images.pixmap(images.diverging(picture), width, self.heat_size[1]))
        self.scale.setFixedWidth(self.heat.pixmap().width())
        self.scale.set_limit(limit)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._draw()

    def _index(self, cell) -> tuple:
        """The full index of a cell of the shown slice."""
        a = self.array
        r, c = cell
        if a.ndim == 4:
            return (min(self.sample.value(), a.shape[0] - 1), self.channel.value(), r, c)
        if a.ndim == 3:
            return (self.channel.value(), r, c)
        return (c,) if a.ndim == 1 else (r, c)

    def _on_hover(self, cell):
        if cell is None or self.array is None:
            self.hover.setText(" ")
            return
        index = self._index(cell)
        self.hover.setText(f"[{', '.join(map(str, index))}] = {fmt_number(self.array[index])}")

    def _on_cell_clicked(self, cell):
        self.elementClicked.emit(self._index(cell))
