"""Filters and feature maps large enough to look at: a zoomable grid of labelled rows
whose tiles can be clicked to enlarge them, with their numbers on hover.

    grid = TileGrid()
    grid.set_rows([("conv1: 6 filters", array (F, C, kh, kw)), ("relu1", array (C, H, W)), ...])
    grid.tileClicked.connect(...)     # (row label, tile index, the tile as a 2-D array)

Each row is tiled by :func:`tiles_of` (Qt-free); every tile is drawn at least
``MIN_TILE`` pixels across (Ctrl + wheel or the +/- buttons zoom), each scaled to
its own range, because filters and feature maps differ in range.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from . import images
from .tensor_view import TensorView

MIN_TILE = 48     # pixels across a tile at zoom 1 (a 5x5 filter is drawn ~10x)
MAX_TILE = 160
GAP = 4


def tiles_of(array) -> np.ndarray:
    """The 2-D pictures of one row, shape (n, h, w): filters (F, C, kh, kw) -> F·C tiles;
    maps (C, H, W) -> C tiles; an image (H, W) -> 1 tile; a vector (N,) -> one strip."""
    a = np.asarray(array, dtype=np.float64)
    while a.ndim > 4:
        a = a[0]
    if a.ndim == 4:
        return a.reshape(-1, a.shape[2], a.shape[3])
    if a.ndim == 3:
        return a
    if a.ndim == 2:
        return a[None]
    return a.reshape(1, 1, -1)


class TileGrid(QWidget):
    """Rows of labelled tiles; click a tile to enlarge it; Ctrl + wheel zooms."""

    tileClicked = Signal(str, int, object)  # row label, tile index, the 2-D array

    def __init__(self, empty_text: str = "", parent=None):
        super().__init__(parent)
        self.rows: list = []      # (label, tiles (n, h, w), [QImage per tile])
        self.zoom = 1.0
        self.empty_text = empty_text
        self.setMinimumHeight(200)
        self.setCursor(Qt.PointingHandCursor)

    # -- model -> view ------------------------------------------------------------------
    def set_rows(self, rows):
        """``rows``: (label, array) or (label, array, signed) tuples, drawn top to bottom.
        ``signed`` rows (filters: weights of either sign) are drawn blue-white-red around
        zero, the others (images, activations) in greys; each tile on its own range."""
        self.rows = []
        for label, array, *signed in rows:
            tiles = tiles_of(array)
            diverging = bool(signed and signed[0])
            pictures = [images.diverging(t) if diverging or t.shape[0] == 1 else images.greys(t) for t in tiles]
            self.rows.append((label, tiles, pictures))
        self._resize()
        self.update()

    def set_zoom(self, zoom: float):
        self.zoom = min(4.0, max(0.5, float(zoom)))
        self._resize()
        self.update()

    # -- geometry --------------------------------------------------------------------------
    def tile_size(self, tiles) -> tuple:
        """(width, height) of one tile of a row on screen: at least MIN_TILE across (times the
        zoom), keeping the aspect ratio; a vector is a strip across the width."""
        n, h, w = tiles.shape
        if h == 1:
            return max(200.0, min(self.width() - 20.0, 8.0 * w)), 18.0
        side = min(MAX_TILE, max(MIN_TILE, 4.0 * max(h, w))) * self.zoom
        k = side / max(h, w)
        return w * k, h * k

    def _layout(self):
        """Yield (row, label rect, [tile rects]) for the current width."""
        y = 4.0
        width = max(200.0, self.width() - 16.0)
        for r, (label, tiles, _) in enumerate(self.rows):
            tw, th = self.tile_size(tiles)
            per_row = max(1, int((width + GAP) // (tw + GAP)))
            label_rect = QRectF(8, y, width, 18)
            y += 20
            rects = []
            for k in range(len(tiles)):
                row, col = divmod(k, per_row)
                rects.append(QRectF(8 + col * (tw + GAP), y + row * (th + GAP), tw, th))
            y += math.ceil(len(tiles) / per_row) * (th + GAP) + 8
            yield r, label_rect, rects, y

    def _resize(self):
        bottom = 200.0
        for *_, y in self._layout():
            bottom = y
        self.setMinimumHeight(int(max(200, bottom + 4)))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._resize()

    # -- painting and input --------------------------------------------------------------
    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        if not self.rows:
            p.drawText(self.rect(), Qt.AlignCenter, self.empty_text)
            return
        bold = QFont(self.font())
        bold.setBold(True)
        for r, label_rect, rects, _ in self._layout():
            label, tiles, pictures = self.rows[r]
            p.setFont(bold)
            p.setPen(QColor("#0f172a"))
            p.drawText(label_rect, Qt.AlignLeft | Qt.AlignVCenter, label)
            for k, rect in enumerate(rects):
                p.drawImage(rect, pictures[k])

    def tile_rects(self) -> list:
        """(rectangle, row, tile) of every tile at the current width and zoom."""
        return [(rect, r, k) for r, _, rects, _ in self._layout() for k, rect in enumerate(rects)]

    def tile_at(self, point):
        """(row, tile) under a point of the widget, or None."""
        for rect, r, k in self.tile_rects():
            if rect.contains(point):
                return r, k
        return None

    def mousePressEvent(self, event):
        hit = self.tile_at(event.position())
        if hit is not None:
            r, k = hit
            label, tiles, _ = self.rows[r]
            self.tileClicked.emit(label, k, tiles[k])
        super().mousePressEvent(event)

    def wheelEvent(self, event):
        if event.modifiers() & Qt.ControlModifier:
            self.set_zoom(self.zoom * (1.25 if event.angleDelta().y() > 0 else 0.8))
            event.accept()
            return
        super().wheelEvent(event)


class TileDialog(QDialog):
    """One filter or feature map enlarged: a heatmap with its colour scale and the number
    under the mouse (:class:`TensorView`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("enlarged")
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.view = TensorView(heat_size=(360, 360))
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.view)

    def show_tile(self, label: str, index: int, tile):
        self.caption.setText(f"<b>{label}</b> · tile {index}")
        self.setWindowTitle(f"{label.split(':')[0]} · tile {index}")
        self.view.show_array(np.asarray(tile), large=True)
        self.show()
        self.raise_()
