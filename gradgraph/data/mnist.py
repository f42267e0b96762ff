"""MNIST and Fashion-MNIST: finding the files, downloading them, loading them.

``load_mnist(name, split)`` looks for the two IDX files of a split, in order, in

1. ``data_dir`` if given (the files directly in it, or in ``data_dir/<name>/``);
2. ``$GRADGRAPH_DATA/<name>/`` if that environment variable is set;
3. the user cache, ``$XDG_CACHE_HOME/gradgraph/<name>/`` (``~/.cache/gradgraph/<name>/``);
4. for Fashion-MNIST, Debian's ``/usr/share/datasets/fashion-mnist/``
   (``apt-get install dataset-fashion-mnist``);

and otherwise downloads them (checksum-verified) into the first of 1-3 that
applies. Offline with no local copy it raises ``DatasetNotFoundError`` saying
which files to put where. ``load_starter()`` loads the small Fashion-MNIST subset
bundled with gradgraph and never touches the network.
"""

from __future__ import annotations

import os
import site
import sys
from pathlib import Path

import numpy as np

from .download import CHECKSUMS, ChecksumError, DownloadError, download_file, resolve_mirrors
from .idx import read_idx_pair

__all__ = [
    "CLASSES",
    "DATASETS",
    "FILES",
    "DATA_ENV",
    "SYSTEM_DIRS",
    "STARTER",
    "DatasetNotFoundError",
    "cache_dir",
    "search_dirs",
    "find_files",
    "starter_dirs",
    "load_mnist",
    "load_starter",
    "load_local",
]

DATASETS = ("mnist", "fashion-mnist")
STARTER = "fashion-mnist-starter"

CLASSES: dict[str, list[str]] = {
    "mnist": [str(d) for d in range(10)],
    "fashion-mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
CLASSES[STARTER] = CLASSES["fashion-mnist"]

#: split -> (images file, labels file), the standard names.
FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

DATA_ENV = "GRADGRAPH_DATA"

#: Read-only system folders searched after the user's own (Debian packages).
SYSTEM_DIRS: dict[str, list[Path]] = {
    "fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")],
}

_ALIASES = {
    "fashion": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "starter": STARTER,
}


class DatasetNotFoundError(FileNotFoundError):
    """No local copy of a dataset and it could not be downloaded.

    ``searched`` lists the folders looked in, ``files`` the file names needed.
    """

    def __init__(self, message: str, searched=(), files=()):
        super().__init__(message)
        self.searched = [Path(p) for p in searched]
        self.files = list(files)

    def __str__(self) -> str:  # FileNotFoundError would add errno decorations otherwise
        return self.args[0]


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key.replace("-", ""), _ALIASES.get(key, key))
    if key not in DATASETS and key != STARTER:
        raise ValueError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS + (STARTER,))}"
        )
    return key


def _check_split(split: str) -> str:
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    return split


def cache_dir() -> Path:
    """gradgraph's user cache folder: ``$XDG_CACHE_HOME/gradgraph`` or ``~/.cache/gradgraph``."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base and sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
    return (Path(base) if base else Path.home() / ".cache") / "gradgraph"


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders ``load_mnist`` looks in for dataset ``name``, in order."""
    name = _canonical(name)
    dirs: list[Path] = []
    if data_dir is not None:
        dirs += [Path(data_dir), Path(data_dir) / name]
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env) / name)
    dirs.append(cache_dir() / name)
    dirs += SYSTEM_DIRS.get(name, [])
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _download_dir(name: str, data_dir) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_ENV)
    return Path(env) / name if env else cache_dir() / name


def _existing(folder: Path, filename: str) -> Path | None:
    """``filename`` in ``folder``, or its un-gzipped twin (``.gz`` dropped)."""
    for candidate in (folder / filename, folder / filename.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_files(name: str, split: str = "train", data_dir=None) -> tuple[Path, Path] | None:
    """(images path, labels path) of the first folder holding both, or None."""
    split = _check_split(split)
    for folder in search_dirs(name, data_dir):
        found = [_existing(folder, f) for f in FILES[split]]
        if all(found):
            return found[0], found[1]
    return None


def _not_found(name, split, data_dir, reason: str) -> DatasetNotFoundError:
    dirs = search_dirs(name, data_dir)
    files = list(FILES[split])
    target = _download_dir(name, data_dir)
    lines = [
        f"{name} ({split} split) was not found locally and {reason}",
        "Searched these folders:",
        *[f"  {d}" for d in dirs],
        f"To use a copy you have, put these files into one of them (e.g. {target}):",
        *[f"  {f}" for f in files],
        "(gzipped as published, or un-gzipped without the .gz suffix).",
    ]
    if name == "fashion-mnist":
        lines.append(
            "On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` provides them; "
            "gradgraph.data.load_starter() loads the small bundled subset offline."
        )
    return DatasetNotFoundError("\n".join(lines), dirs, files)


def load_mnist(
    name: str = "mnist",
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    progress=None,
    *,
    mirrors=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST or Fashion-MNIST: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    ``name`` is ``"mnist"``, ``"fashion-mnist"`` or ``"fashion-mnist-starter"``
    (the bundled subset, see ``load_starter``); ``split`` is ``"train"`` or
    ``"test"``. See the module docstring for where files are looked for.
    ``download=False`` never touches the network. ``progress``: None/True for a
    bar on stderr, False for silence, or ``callable(name, done, total)``.
    ``mirrors`` overrides the base URLs (else ``$GRADGRAPH_MIRRORS``, else
    ``download.MIRRORS``). Raises ``DatasetNotFoundError`` when there is no
    local copy and the download failed or was disabled, ``ChecksumError`` if a
    mirror served files that do not match the published digests.
    """
    name = _canonical(name)
    split = _check_split(split)
    if name == STARTER:
        return load_starter(split)
    found = find_files(name, split, data_dir)
    if found is None:
        if not download:
            raise _not_found(name, split, data_dir, "downloading is disabled (download=False).")
        target = _download_dir(name, data_dir)
        bases = resolve_mirrors(name, mirrors)
        try:
            for filename in FILES[split]:
                if _existing(target, filename) is None:
                    download_file(
                        [base + filename for base in bases],
                        target / filename,
                        CHECKSUMS.get(name, {}).get(filename),
                        progress=progress,
                    )
        except ChecksumError:
            raise
        except DownloadError as exc:
            errors = "\n".join(f"  {url}: {why}" for url, why in exc.errors)
            raise _not_found(
                name, split, data_dir, f"could not be downloaded:\n{errors}\n"
            ) from exc
        except OSError as exc:  # e.g. the target folder is not writable
            raise _not_found(
                name, split, data_dir, f"could not be saved to {target}: {exc}\n"
            ) from exc
        found = (_existing(target, FILES[split][0]), _existing(target, FILES[split][1]))
    images, labels = read_idx_pair(*found)
    return images, labels.astype(np.int64)


def starter_dirs() -> list[Path]:
    """Where ``load_starter`` looks for the bundled subset, in order.

    The repository's ``assets/`` (a source checkout or editable install), the
    package folder ``gradgraph/data/fashion-mnist-starter`` or ``.../fashion_mnist_starter``
    (a wheel that maps the asset into the package), and ``<prefix>/share/gradgraph/fashion-mnist-starter``
    (a wheel that installs it as data files), for the interpreter prefix and the
    user base.
    """
    here = Path(__file__).resolve()
    dirs = [
        here.parents[2] / "assets" / STARTER,
        here.parent / STARTER,
        here.parent / STARTER.replace("-", "_"),
        Path(sys.prefix) / "share" / "gradgraph" / STARTER,
    ]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        dirs.append(Path(user_base) / "share" / "gradgraph" / STARTER)
    return dirs


def load_starter(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The bundled class-balanced Fashion-MNIST subset: ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    5,000 training images (500 per class) and 1,000 test images (100 per class);
    see ``assets/fashion-mnist-starter/README.md``. Offline, no download.
    """
    split = _check_split(split)
    dirs = starter_dirs()
    for folder in dirs:
        found = [_existing(folder, f) for f in FILES[split]]
        if all(found):
            images, labels = read_idx_pair(*found)
            return images, labels.astype(np.int64)
    lines = [
        "the bundled Fashion-MNIST starter subset was not found; looked in:",
        *[f"  {d}" for d in dirs],
        "for these files:",
        *[f"  {f}" for f in FILES[split]],
        "Reinstall gradgraph, or regenerate it with tools/make_starter_subset.py.",
    ]
    raise DatasetNotFoundError("\n".join(lines), dirs, FILES[split])


def load_local(name: str = "fashion-mnist", split: str = "train", full: bool = True):
    """The full data set if a local copy exists (never downloads), else the bundled starter
    subset: ``(images uint8 (N, 28, 28), labels int64 (N,), the name of what was loaded)``.

    What lessons use so that they run offline and show real numbers where the full set is
    installed; ``full=False`` (a lesson's quick mode) always takes the starter set.
    """
    if full and _canonical(name) != STARTER:
        try:
            images, labels = load_mnist(name, split, download=False)
            return images, labels, _canonical(name)
        except DatasetNotFoundError:
            pass
    images, labels = load_starter(split)
    return images, labels, STARTER
