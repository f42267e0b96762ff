"""Datasets: IDX files, MNIST / Fashion-MNIST (local, Debian, download), the bundled
Fashion-MNIST starter subset, 2-D toy problems, minibatching, normalization and
augmentation (random shifts, crops, flips, rotations, noise).

    >>> import gradgraph as gg
    >>> x, y = gg.data.load_starter("train")          # offline, bundled
    >>> x, y = gg.data.load_mnist("fashion-mnist")    # local copy or download
    >>> xb = gg.data.normalize_images(x)              # float32 (N, 1, 28, 28)
    >>> for xb, yb in gg.data.batches(xb, y, 64, rng=0): ...
"""

from . import augment, toy
from .augment import (
    AUGMENTS,
    Compose,
    GaussianNoise,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomShift,
    make_augment,
)
from .download import (
    CHECKSUMS,
    MIRRORS,
    MIRRORS_ENV,
    ChecksumError,
    DownloadError,
    ProgressBar,
    download_file,
    file_digest,
    verify_file,
)
from .idx import read_idx, read_idx_pair, read_images, read_labels, write_idx
from .loader import (
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
    NORMALIZATION,
    DataLoader,
    batches,
    normalize_images,
    train_val_split,
)
from .mnist import (
    CLASSES,
    DATA_ENV,
    FILES,
    SYSTEM_DIRS,
    DatasetNotFoundError,
    cache_dir,
    find_files,
    load_local,
    load_mnist,
    load_starter,
    search_dirs,
    starter_dirs,
)
from .toy import linear, ring, spiral, three_modes, xor

__all__ = [
    "toy", "augment",
    "AUGMENTS", "Compose", "GaussianNoise", "RandomCrop", "RandomFlip", "RandomRotation", "RandomShift",
    "make_augment",
    "load_mnist", "load_starter", "load_local", "CLASSES", "FILES", "DATA_ENV", "SYSTEM_DIRS",
    "DatasetNotFoundError", "cache_dir", "search_dirs", "find_files", "starter_dirs",
    "MIRRORS", "MIRRORS_ENV", "CHECKSUMS", "DownloadError", "ChecksumError",
    "ProgressBar", "download_file", "file_digest", "verify_file",
    "read_idx", "read_images", "read_labels", "read_idx_pair", "write_idx",
    "batches", "DataLoader", "train_val_split", "normalize_images",
    "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "NORMALIZATION",
    "xor", "ring", "three_modes", "spiral", "linear",
]
