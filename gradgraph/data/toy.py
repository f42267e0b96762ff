"""Small 2-D datasets for the lessons on what a linear classifier can and cannot do.

Every generator is deterministic given ``seed`` and returns ``(X, y)`` with
``X`` float64 of shape ``(n, 2)`` and ``y`` int64 of shape ``(n,)``. Classes are
balanced (counts differ by at most one) and the samples come in shuffled order.

- ``linear``: two classes split by a straight line with a margin: a linear model solves it.
- ``xor``: class 1 in quadrants 1 and 3, class 0 in 2 and 4: no single line works.
- ``ring``: class 1 on the annulus 1 <= ||x|| <= 2, class 0 inside and outside it.
- ``three_modes``: class 0 in the middle, class 1 in three clusters around it
  (three hidden ReLU units suffice).
- ``spiral``: ``classes`` interleaved spiral arms.
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear", "xor", "ring", "three_modes", "spiral"]


def _counts(n: int, k: int) -> list[int]:
    if int(n) < k:
        raise ValueError(f"need at least {k} samples (one per class), got n={n}")
    n = int(n)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def _finish(parts_x, parts_y, rng) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate(parts_x).astype(np.float64)
    y = np.concatenate(parts_y).astype(np.int64)
    order = rng.permutation(len(X))
    return X[order], y[order]


def linear(n: int = 200, seed: int = 0, margin: float = 0.1):
    """Points in [-1, 1]^2 labeled by the line ``x1 = 0.5 x0 + 0.1``, none closer than ``margin``."""
    rng = np.random.default_rng(seed)
    w = np.array([-0.5, 1.0]) / np.hypot(0.5, 1.0)  # unit normal
    b = -0.1 / np.hypot(0.5, 1.0)
    xs, ys = [], []
    for label, count in enumerate(_counts(n, 2)):
        sign = 1.0 if label == 1 else -1.0
        got = np.empty((0, 2))
        while len(got) < count:
            cand = rng.uniform(-1.0, 1.0, size=(4 * count + 8, 2))
            keep = sign * (cand @ w + b) >= margin
            got = np.concatenate([got, cand[keep]])
        xs.append(got[:count])
        ys.append(np.full(count, label))
    return _finish(xs, ys, rng)


def xor(n: int = 200, noise: float = 0.1, seed: int = 0):
    """XOR: class 1 in quadrants 1 and 3 (x0 * x1 > 0), class 0 in quadrants 2 and 4.

    Points are drawn uniformly in their quadrant of [-1, 1]^2, then Gaussian
    ``noise`` (standard deviation) is added, so points near the axes may cross.
    """
    rng = np.random.default_rng(seed)
    n0, n1 = _counts(n, 2)
    # class 1: quadrants 1 (+, +) and 3 (-, -); class 0: quadrants 2 (-, +) and 4 (+, -)
    plan = [((1, 1), (n1 + 1) // 2, 1), ((-1, -1), n1 // 2, 1),
            ((-1, 1), (n0 + 1) // 2, 0), ((1, -1), n0 // 2, 0)]
    xs, ys = [], []
    for signs, count, label in plan:
        pts = rng.uniform(0.0, 1.0, size=(count, 2)) * np.array(signs, dtype=np.float64)
        if noise:
            pts = pts + rng.normal(0.0, noise, size=pts.shape)
        xs.append(pts)
        ys.append(np.full(count, label))
    return _finish(xs, ys, rng)


def ring(n: int = 200, seed: int = 0, box: float = 3.0):
    """Class 1 where 1 <= ||x|| <= 2, class 0 everywhere else in the box [-box, box]^2."""
    if box <= 2.0:
        raise ValueError(f"box must exceed the ring's outer radius 2, got {box}")
    rng = np.random.default_rng(seed)
    n0, n1 = _counts(n, 2)
    r = np.sqrt(rng.uniform(1.0, 4.0, size=n1))  # uniform over the annulus' area
    t = rng.uniform(0.0, 2 * np.pi, size=n1)
    ring_pts = np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    got = np.empty((0, 2))
    while len(got) < n0:
        cand = rng.uniform(-box, box, size=(2 * n0 + 8, 2))
        norm = np.hypot(cand[:, 0], cand[:, 1])
        got = np.concatenate([got, cand[(norm < 1.0) | (norm > 2.0)]])
    return _finish([got[:n0], ring_pts], [np.zeros(n0), np.ones(n1)], rng)


def three_modes(n: int = 200, seed: int = 0, radius: float = 2.5, spread: float = 0.4):
    """Class 0: one Gaussian cluster at the origin. Class 1: three clusters at
    ``radius`` around it (angles 90, 210, 330 degrees), so no line separates them."""
    rng = np.random.default_rng(seed)
    n0, n1 = _counts(n, 2)
    centre = rng.normal(0.0, spread, size=(n0, 2))
    angles = np.deg2rad([90.0, 210.0, 330.0])
    modes = []
    for a, count in zip(angles, _counts(n1, 3) if n1 >= 3 else [n1, 0, 0]):
        mu = radius * np.array([np.cos(a), np.sin(a)])
        modes.append(mu + rng.normal(0.0, spread, size=(count, 2)))
    return _finish([centre, *modes], [np.zeros(n0), np.ones(n1)], rng)


def spiral(n: int = 300, classes: int = 3, seed: int = 0, noise: float = 0.2):
    """``classes`` spiral arms (the CS231n spiral): arm k has radius 0..1 and angle
    ``4k .. 4(k+1)`` radians plus Gaussian ``noise``; label k."""
    if int(classes) < 2:
        raise ValueError(f"spiral needs at least 2 classes, got {classes}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, count in enumerate(_counts(n, int(classes))):
        r = np.linspace(0.0, 1.0, count)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), count) + rng.normal(0.0, noise, size=count)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(count, k))
    return _finish(xs, ys, rng)
