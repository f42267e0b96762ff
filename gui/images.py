"""numpy arrays -> QImages (heatmaps, image grids) without matplotlib: fast enough to
redraw during training."""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap


def to_2d(a, max_tiles: int = 64) -> np.ndarray:
    """Any array as one 2-D picture; 3-D/4-D arrays become a grid of their 2-D slices."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    if a.ndim == 2:
        return a
    tiles = a.reshape(-1, a.shape[-2], a.shape[-1])[:max_tiles]
    return tile(tiles, pad_value=np.nan)


def tile(tiles: np.ndarray, cols: int | None = None, pad: int = 1, pad_value=np.nan) -> np.ndarray:
    n, h, w = tiles.shape
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), pad_value, dtype=np.float64)
    for k in range(n):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = tiles[k]
    return out


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = rgb.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
    return image.copy()  # own the pixels: the numpy buffer may go away


def diverging(a2d: np.ndarray) -> QImage:
    """Blue (negative) - white (0) - red (positive), symmetric; NaN padding grey."""
    a = np.asarray(a2d, dtype=np.float64)
    finite = np.isfinite(a)
    scale = float(np.max(np.abs(a[finite]))) if finite.any() else 1.0
    t = np.zeros_like(a) if scale == 0 else np.clip(np.nan_to_num(a / scale), -1, 1)
    rgb = np.empty(a.shape + (3,), dtype=np.float64)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    rgb[..., 0] = 255 - neg * (255 - 37)
    rgb[..., 1] = 255 - pos * (255 - 50) - neg * (255 - 99)
    rgb[..., 2] = 255 - pos * (255 - 38)
    rgb[~finite] = (203, 213, 225)
    return _qimage(rgb)


def greys(a2d: np.ndarray, per_tile=None) -> QImage:
    """Min-max scaled greyscale (black low, white high); NaN padding light blue."""
    a = np.asarray(a2d, dtype=np.float64)
    finite = np.isfinite(a)
    lo = float(np.min(a[finite])) if finite.any() else 0.0
    hi = float(np.max(a[finite])) if finite.any() else 1.0
    t = (np.nan_to_num(a, nan=lo) - lo) / (hi - lo if hi > lo else 1.0)
    g = np.clip(t * 255, 0, 255)
    rgb = np.repeat(g[..., None], 3, axis=2)
    rgb[~finite] = (191, 219, 254)
    return _qimage(rgb)


def normalized_tiles(tiles: np.ndarray) -> np.ndarray:
    """Scale each tile to [0, 1] on its own (filters and feature maps differ in range)."""
    t = np.asarray(tiles, dtype=np.float64)
    lo = t.reshape(len(t), -1).min(axis=1)[:, None, None]
    hi = t.reshape(len(t), -1).max(axis=1)[:, None, None]
    return (t - lo) / np.where(hi > lo, hi - lo, 1.0)


def pixmap(image: QImage, width: int, height: int | None = None, min_side: int = 18) -> QPixmap:
    """``image`` scaled to fit ``width`` x ``height`` keeping its aspect ratio, except that a
    thin strip (a vector: one row or one column) is stretched to at least ``min_side`` pixels
    across, so it stays visible."""
    height = height or width
    w, h = max(1, image.width()), max(1, image.height())
    k = min(width / w, height / h)
    sw, sh = w * k, h * k
    if sh < min_side or sw < min_side:
        sw, sh = min(width, max(sw, min_side)), min(height, max(sh, min_side))
        return QPixmap.fromImage(image).scaled(int(sw), int(sh), Qt.IgnoreAspectRatio, Qt.FastTransformation)
    return QPixmap.fromImage(image).scaled(width, height, Qt.KeepAspectRatio, Qt.FastTransformation)
