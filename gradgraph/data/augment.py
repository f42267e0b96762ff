"""Data augmentation: random, label-preserving changes to training images.

A network that sees every training image in the same few hundred copies
memorizes them. Showing each image a little differently every epoch (shifted by
a pixel or two, mirrored, turned by a few degrees, with some noise) makes a
larger training set out of the same labels, and teaches the network that these
changes do not change the class.

Every transform is a callable ``transform(x, rng) -> x`` on a batch of
images ``x`` of shape (N, C, H, W) (float, already normalized), drawing a
different random change for every image from the numpy Generator ``rng``;
it returns a new array and leaves ``x`` alone::

    augment = gg.data.Compose(gg.data.RandomShift(2), gg.data.RandomFlip())
    xb = augment(xb, np.random.default_rng(0))

    trainer = gg.train.Trainer(model, opt, (x, y), (x_val, y_val), augment="shift+flip")

The Trainer applies ``augment`` to the training batches only, never to the
validation or test images: augmentation is part of training, like dropout.
Names for ``augment=`` (and the app's training tab): :data:`AUGMENTS`, joined
with ``+``.

Which changes make sense depends on the data: a mirrored shirt is a shirt, a
mirrored 2 is not a digit; a digit turned by 90 degrees may become another one.

Pixels that move in from outside the image get the image's smallest value,
which for MNIST-like images is the (normalized) black background.
"""
from __future__ import annotations

import numpy as np

__all__ = ["AUGMENTS", "Compose", "GaussianNoise", "RandomCrop", "RandomFlip", "RandomRotation", "RandomShift",
           "make_augment"]


def _batch(x, who: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{who}: expected images of shape (N, C, H, W), got shape {x.shape}")
    return x


def _background(x: np.ndarray) -> np.ndarray:
    """Each image's smallest value, shaped (N, 1, 1, 1): what fills uncovered pixels."""
    return x.min(axis=(1, 2, 3), keepdims=True)


class RandomCrop:
    """Pad every image by ``padding`` pixels (with its background value) and cut a random
    ``size`` × ``size`` window out of it.

    ``size`` defaults to the image's own size, so the window is the image shifted by up
    to ``padding`` pixels in each direction: the crop that keeps the shape a model expects.
    """

    def __init__(self, padding: int = 2, size: int | None = None):
        if int(padding) < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        if size is not None and int(size) < 1:
            raise ValueError(f"RandomCrop: size must be >= 1, got {size}")
        self.padding, self.size = int(padding), None if size is None else int(size)

    def __call__(self, x, rng) -> np.ndarray:
        x = _batch(x, "RandomCrop")
        n, c, h, w = x.shape
        p = self.padding
        size_h = size_w = self.size
        if size_h is None:
            size_h, size_w = h, w
        if size_h > h + 2 * p or size_w > w + 2 * p:
            raise ValueError(f"RandomCrop: a {size_h}x{size_w} window does not fit a {h}x{w} image "
                             f"padded by {p} (at most {h + 2 * p}x{w + 2 * p})")
        padded = np.empty((n, c, h + 2 * p, w + 2 * p), dtype=x.dtype)
        padded[...] = _background(x)
        padded[:, :, p:p + h, p:p + w] = x
        top = rng.integers(0, h + 2 * p - size_h + 1, size=n)
        left = rng.integers(0, w + 2 * p - size_w + 1, size=n)
        # One fancy index cuts all N windows at once: rows (N, size_h, 1), columns (N, 1, size_w).
        rows = (top[:, None] + np.arange(size_h))[:, :, None]
        cols = (left[:, None] + np.arange(size_w))[:, None, :]
        images = np.arange(n)[:, None, None]
        return padded.transpose(0, 2, 3, 1)[images, rows, cols].transpose(0, 3, 1, 2).copy()

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding}" + (f", size={self.size})" if self.size else ")")


class RandomShift(RandomCrop):
    """Move every image by a random whole number of pixels, up to ``max_shift`` in each
    direction (a :class:`RandomCrop` of the image's own size)."""

    def __init__(self, max_shift: int = 2):
        if int(max_shift) < 0:
            raise ValueError(f"RandomShift: max_shift must be >= 0, got {max_shift}")
        super().__init__(padding=max_shift)

    def __repr__(self) -> str:
        return f"RandomShift({self.padding})"


class RandomFlip:
    """Mirror each image left-right with probability ``p`` (``vertical=True``: upside down)."""

    def __init__(self, p: float = 0.5, vertical: bool = False):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"RandomFlip: p must be between 0 and 1, got {p}")
        self.p, self.vertical = float(p), bool(vertical)

    def __call__(self, x, rng) -> np.ndarray:
        x = _batch(x, "RandomFlip")
        out = x.copy()
        flip = rng.random(len(x)) < self.p
        axis = 2 if self.vertical else 3
        out[flip] = np.flip(x[flip], axis=axis)
        return out

    def __repr__(self) -> str:
        return f"RandomFlip(p={self.p:g}" + (", vertical=True)" if self.vertical else ")")


class RandomRotation:
    """Turn each image about its centre by a random angle in [-``degrees``, ``degrees``].

    Every output pixel (i, j) looks up where it came from, the point rotated back by
    the angle, and interpolates the four input pixels around it (bilinear):

        (u, v) = R(-θ) (i - c, j - c) + c
        out[i, j] = Σ over the 4 neighbours of (u, v) of weight · x[neighbour]
    """

    def __init__(self, degrees: float = 10.0):
        if not 0.0 <= float(degrees) <= 180.0:
            raise ValueError(f"RandomRotation: degrees must be between 0 and 180, got {degrees}")
        self.degrees = float(degrees)

    def __call__(self, x, rng) -> np.ndarray:
        x = _batch(x, "RandomRotation")
        n, c, h, w = x.shape
        theta = np.deg2rad(rng.uniform(-self.degrees, self.degrees, size=n))[:, None, None]
        ci, cj = (h - 1) / 2, (w - 1) / 2
        i, j = np.meshgrid(np.arange(h) - ci, np.arange(w) - cj, indexing="ij")
        cos, sin = np.cos(theta), np.sin(theta)
        u = cos * i - sin * j + ci          # (N, H, W): source row of every output pixel
        v = sin * i + cos * j + cj          # source column
        background = _background(x)
        padded = np.empty((n, c, h + 2, w + 2), dtype=x.dtype)  # one ring of background around it
        padded[...] = background
        padded[:, :, 1:-1, 1:-1] = x
        u = np.clip(u + 1, 0, h + 0.999)    # coordinates in the padded image
        v = np.clip(v + 1, 0, w + 0.999)
        i0, j0 = np.floor(u).astype(int), np.floor(v).astype(int)
        i1, j1 = np.minimum(i0 + 1, h + 1), np.minimum(j0 + 1, w + 1)
        fu, fv = (u - i0)[:, None], (v - j0)[:, None]
        images = np.arange(n)[:, None, None]
        at = lambda r, s: padded.transpose(0, 2, 3, 1)[images, r, s].transpose(0, 3, 1, 2)  # noqa: E731
        out = ((1 - fu) * (1 - fv) * at(i0, j0) + (1 - fu) * fv * at(i0, j1)
               + fu * (1 - fv) * at(i1, j0) + fu * fv * at(i1, j1))
        return out.astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"RandomRotation({self.degrees:g})"


class GaussianNoise:
    """Add independent N(0, ``std``²) noise to every pixel."""

    def __init__(self, std: float = 0.1):
        if float(std) < 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std = float(std)

    def __call__(self, x, rng) -> np.ndarray:
        x = _batch(x, "GaussianNoise")
        return (x + self.std * rng.standard_normal(x.shape)).astype(x.dtype, copy=False)

    def __repr__(self) -> str:
        return f"GaussianNoise({self.std:g})"


class Compose:
    """Apply the transforms one after the other."""

    def __init__(self, *transforms):
        self.transforms = [t for t in transforms if t is not None]

    def __call__(self, x, rng) -> np.ndarray:
        for transform in self.transforms:
            x = transform(x, rng)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.transforms)) + ")"


#: The named augmentations (for ``Trainer(augment=...)``, lessons and the app); join names
#: with ``+`` ("shift+flip"). Each entry makes a fresh transform.
AUGMENTS = {
    "none": lambda: None,
    "shift": lambda: RandomShift(2),
    "crop": lambda: RandomCrop(padding=3),
    "flip": lambda: RandomFlip(),
    "rotate": lambda: RandomRotation(10),
    "noise": lambda: GaussianNoise(0.1),
    "standard": lambda: Compose(RandomShift(2), RandomFlip(), RandomRotation(10)),
}


def make_augment(spec):
    """A transform from ``spec``: None or "none" (no augmentation), a name of
    :data:`AUGMENTS`, names joined with "+" ("shift+flip+noise"), or a callable
    ``f(x, rng)`` (returned as it is)."""
    if spec is None or callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"augment must be a name or a function f(x, rng), got {type(spec).__name__}")
    names = [part.strip() for part in spec.split("+") if part.strip()]
    unknown = [name for name in names if name not in AUGMENTS]
    if unknown or not names:
        raise ValueError(f"unknown augmentation {spec!r}; use one of {', '.join(AUGMENTS)}, "
                         f"or several joined with '+' (e.g. 'shift+flip')")
    transforms = [AUGMENTS[name]() for name in names]
    transforms = [t for t in transforms if t is not None]
    if not transforms:
        return None
    return transforms[0] if len(transforms) == 1 else Compose(*transforms)

