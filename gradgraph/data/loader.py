"""Minibatches, train/validation splits and image normalization (numpy only)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = [
    "MNIST_MEAN",
    "MNIST_STD",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "NORMALIZATION",
    "batches",
    "DataLoader",
    "train_val_split",
    "normalize_images",
]

#: Mean and standard deviation of the training pixels scaled to [0, 1].
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
NORMALIZATION: dict[str, tuple[float, float]] = {
    "mnist": (MNIST_MEAN, MNIST_STD),
    "fashion-mnist": (FASHION_MNIST_MEAN, FASHION_MNIST_STD),
    "fashion-mnist-starter": (FASHION_MNIST_MEAN, FASHION_MNIST_STD),
}


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} samples but y has {len(y)}; shapes {x.shape} and {y.shape}")
    return x, y


def batches(
    x, y, batch_size: int, shuffle: bool = True, rng=None, drop_last: bool = False
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(xb, yb)`` minibatches covering every sample exactly once (one epoch).

    ``rng``: a ``np.random.Generator``, a seed, or None for fresh entropy.
    The last batch is smaller unless ``drop_last``.
    """
    x, y = _check_pair(x, y)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    n = len(x)
    order = _rng(rng).permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], y[idx]


class DataLoader:
    """Iterate minibatches epoch after epoch, like ``torch.utils.data.DataLoader``.

    Each ``iter()`` is one epoch, reshuffled from the loader's own generator, so
    ``DataLoader(x, y, 64, seed=0)`` gives the same sequence of epochs every run.
    """

    def __init__(self, x, y, batch_size: int = 64, shuffle: bool = True, seed=None,
                 drop_last: bool = False):
        self.x, self.y = _check_pair(x, y)
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = _rng(seed)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return batches(self.x, self.y, self.batch_size, self.shuffle, self.rng, self.drop_last)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def train_val_split(x, y, val_fraction: float = 0.1, seed=0):
    """Randomly hold out ``val_fraction`` of the samples.

    Returns ``(x_train, y_train), (x_val, y_val)``; the same seed gives the same split.
    """
    x, y = _check_pair(x, y)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    n = len(x)
    n_val = int(round(n * val_fraction))
    if n_val == 0 or n_val == n:
        raise ValueError(f"val_fraction={val_fraction} of {n} samples leaves an empty split")
    order = _rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def normalize_images(images, mean: float | None = None, std: float | None = None,
                     dataset: str = "fashion-mnist") -> np.ndarray:
    """uint8 images -> float32 ``(N, 1, H, W)``: ``(pixel / 255 - mean) / std``.

    Float input is taken as already scaled to [0, 1] (not divided by 255 again).

    Accepts ``(N, H, W)``, ``(N, 1, H, W)``, a single ``(H, W)`` image, or
    flattened ``(N, 784)`` 28x28 images. ``mean``/``std`` default to the
    training-set statistics of ``dataset`` (``NORMALIZATION``); pass the same
    constants for train and test data.
    """
    images = np.asarray(images)
    if images.ndim == 2 and images.shape[1] == 28 * 28 and images.shape[0] != 28:
        images = images.reshape(-1, 28, 28)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(
            f"normalize_images: expected (N, H, W) or (N, 1, H, W) images, got shape {images.shape}"
        )
    if mean is None or std is None:
        if dataset not in NORMALIZATION:
            raise ValueError(f"normalize_images: unknown dataset {dataset!r}; pass mean and std")
        d_mean, d_std = NORMALIZATION[dataset]
        mean = d_mean if mean is None else mean
        std = d_std if std is None else std
    if np.issubdtype(images.dtype, np.floating):
        out = images.astype(np.float32, copy=True)  # already scaled to [0, 1]
    else:
        out = images.astype(np.float32) / np.float32(255.0)
    out -= np.float32(mean)
    out /= np.float32(std)
    return out
