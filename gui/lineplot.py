"""Small line plots painted with QPainter, for the live training curves.

matplotlib renders these three panels in ~0.4 s and holds the GIL in long C++
stretches while doing so, which makes the event loop stall for 100-300 ms
next to a training thread. A QPainter plot takes a few milliseconds, so the
window stays responsive however fast the records arrive.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_POINTS = 1500


def nice_ticks(lo: float, hi: float, count: int = 5) -> list:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.0e}"
    return f"{v:.4g}"


class Series:
    def __init__(self, label, xs, ys, colour, width=1.2, markers=False):
        self.label, self.colour, self.width, self.markers = label, QColor(colour), width, markers
        x = np.asarray(xs, dtype=np.float64)
        y = np.asarray(ys, dtype=np.float64)
        if len(x) > MAX_POINTS:  # thin out for painting; keeps the shape
            idx = np.linspace(0, len(x) - 1, MAX_POINTS).astype(int)
            x, y = x[idx], y[idx]
        self.x, self.y = x, y


class LinePlot(QWidget):
    """One panel: a title, a y label, series, optional log y and fixed y range."""

    def __init__(self, title="", ylabel="", log_y=False, y_range=None, legend_loc="upper right", parent=None):
        super().__init__(parent)
        self.title, self.ylabel, self.log_y, self.y_range = title, ylabel, log_y, y_range
        self.legend_loc = legend_loc
        self.series: list[Series] = []
        self.x_range = None
        self.xlabel = ""
        self.setMinimumSize(240, 120)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)

    def set_series(self, series, x_range=None):
        self.series = [s for s in series if len(s.x)]
        self.x_range = x_range
        self.update()

    def _y_of(self, y):
        if self.log_y:
            with np.errstate(all="ignore"):
                return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
        return y

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        p.setRenderHint(QPainter.Antialiasing)
        font = QFont()
        font.setPointSizeF(8.5)
        p.setFont(font)
        fm = QFontMetricsF(font)
        left, right, top, bottom = 58.0, 10.0, 20.0 if self.title else 8.0, 24.0 if self.xlabel else 18.0
        area = QRectF(left, top, max(10.0, self.width() - left - right), max(10.0, self.height() - top - bottom))
        if self.title:
            bold = QFont(font)
            bold.setBold(True)
            p.setFont(bold)
            p.setPen(QColor("#0f172a"))
            p.drawText(QRectF(0, 0, self.width(), top), Qt.AlignCenter, self.title)
            p.setFont(font)
        p.setPen(QPen(QColor("#94a3b8"), 1))
        p.drawRect(area)
        # y label, rotated
        p.save()
        p.translate(12, area.center().y())
        p.rotate(-90)
        p.setPen(QColor("#334155"))
        p.drawText(QRectF(-area.height() / 2, -10, area.height(), 16), Qt.AlignCenter, self.ylabel)
        p.restore()
        if not self.series:
            p.setPen(QColor("#94a3b8"))
            p.drawText(area, Qt.AlignCenter, "no data yet")
            return
        xs = np.concatenate([s.x for s in self.series])
        ys = np.concatenate([self._y_of(s.y) for s in self.series])
        finite = ys[np.isfinite(ys)]
        x0, x1 = self.x_range or (float(xs.min()), float(xs.max()))
        if x1 <= x0:
            x1 = x0 + 1
        if self.y_range is not None:
            y0, y1 = self.y_range
        elif finite.size:
            y0, y1 = float(finite.min()), float(finite.max())
            pad = 0.05 * (y1 - y0 or abs(y1) or 1.0)
            y0, y1 = y0 - pad, y1 + pad
        else:
            y0, y1 = 0.0, 1.0
        if self.log_y:
            y0, y1 = math.floor(y0), math.ceil(y1)
            if y1 <= y0:
                y1 = y0 + 1

        def sx(x):
            return area.left() + (x - x0) / (x1 - x0) * area.width()

        def sy(y):
            return area.bottom() - (y - y0) / (y1 - y0) * area.height()

        # grid and ticks
        grid = QPen(QColor("#e2e8f0"), 1)
        yticks = list(range(int(y0), int(y1) + 1)) if self.log_y else nice_ticks(y0, y1, 4)
        for t in yticks:
            if not (y0 <= t <= y1):
                continue
            y = sy(t)
            p.setPen(grid)
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(QColor("#475569"))
            label = f"1e{t}" if self.log_y else _fmt_tick(t)
            p.drawText(QRectF(0, y - 8, left - 4, 16), Qt.AlignRight | Qt.AlignVCenter, label)
        for t in nice_ticks(x0, x1, 6):
            if not (x0 <= t <= x1):
                continue
            x = sx(t)
            p.setPen(grid)
            p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            p.setPen(QColor("#475569"))
            p.drawText(QRectF(x - 30, area.bottom() + 2, 60, 14), Qt.AlignCenter, _fmt_tick(t))
        if self.xlabel:
            p.drawText(QRectF(area.left(), area.bottom() + 12, area.width(), 14), Qt.AlignCenter, self.xlabel)
        # series
        p.setClipRect(area.adjusted(-4, -4, 4, 4))
        for s in self.series:
            ys_ = self._y_of(s.y)
            pen = QPen(s.colour, s.width)
            pen.setCapStyle(Qt.RoundCap)
            pen.setJoinStyle(Qt.RoundJoin)
            p.setPen(pen)
            path = QPainterPath()
            started = False
            for x, y in zip(s.x, ys_):
                if not math.isfinite(y):
                    started = False
                    continue
                pt = QPointF(sx(x), sy(y))
                if started:
                    path.lineTo(pt)
                else:
                    path.moveTo(pt)
                    started = True
            p.setBrush(Qt.NoBrush)
            p.drawPath(path)
            if s.markers:
                p.setBrush(s.colour)
                for x, y in zip(s.x, ys_):
                    if math.isfinite(y):
                        p.drawEllipse(QPointF(sx(x), sy(y)), 2.8, 2.8)
        p.setClipping(False)
        # legend
        labelled = [s for s in self.series if s.label]
        if labelled:
            lf = QFont(font)
            lf.setPointSizeF(7.5)
            p.setFont(lf)
            lfm = QFontMetricsF(lf)
            cols = 2 if len(labelled) > 4 else 1
            rows = math.ceil(len(labelled) / cols)
            col_w = max(lfm.horizontalAdvance(s.label) for s in labelled) + 26
            box = QRectF(0, 0, cols * col_w + 6, rows * 13 + 6)
            if self.legend_loc == "lower right":
                box.moveBottomRight(area.bottomRight() - QPointF(4, 4))
            else:
                box.moveTopRight(area.topRight() + QPointF(-4, 4))
            p.setPen(QPen(QColor("#cbd5e1"), 1))
            p.setBrush(QColor(255, 255, 255, 225))
            p.drawRoundedRect(box, 3, 3)
            for k, s in enumerate(labelled):
                c, r = divmod(k, rows)
                x = box.left() + 4 + c * col_w
                y = box.top() + 3 + r * 13 + 6.5
                p.setPen(QPen(s.colour, 2))
                p.drawLine(QPointF(x, y), QPointF(x + 16, y))
                p.setPen(QColor("#0f172a"))
                p.drawText(QRectF(x + 20, y - 7, col_w - 20, 14), Qt.AlignLeft | Qt.AlignVCenter, s.label)
        del fm
