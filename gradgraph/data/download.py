"""Downloading dataset files: mirrors, checksums, progress, atomic writes.

Only the standard library (``urllib``). A file is streamed in chunks into a
temporary ``.part`` file next to its destination, its digests are checked, and
only then is it renamed into place (:func:`gradgraph.files.atomic_write`): a
crash or a bad mirror never leaves a half-written or wrong file under the real
name, and the ``.part`` file of a download that was killed is deleted the next
time that file is downloaded.

Mirrors are tried in order: the ``mirrors=`` argument if given, otherwise the
environment variable ``GRADGRAPH_MIRRORS`` (base URLs separated by spaces or
commas), otherwise ``MIRRORS[name]``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from ..files import atomic_write

__all__ = [
    "MIRRORS",
    "CHECKSUMS",
    "MIRRORS_ENV",
    "DownloadError",
    "ChecksumError",
    "ProgressBar",
    "resolve_mirrors",
    "file_digest",
    "verify_file",
    "download_file",
]

MIRRORS_ENV = "GRADGRAPH_MIRRORS"

#: Base URLs tried in order; a file's URL is base + filename.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}

#: Digests of the original gzipped files as published. A download must match
#: every digest listed for it. The MD5s are the ones the dataset authors and
#: torchvision publish; the SHA-256s are the ones other public loaders check.
#: (Debian's dataset-fashion-mnist recompressed the .gz files, so its bytes differ
#: from these although the images are the same: files found locally are not
#: checked against these digests, only downloads are.)
CHECKSUMS: dict[str, dict[str, dict[str, str]]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": {
            "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        },
        "train-labels-idx1-ubyte.gz": {
            "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        },
        "t10k-images-idx3-ubyte.gz": {
            "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "md5": "9fb629c4189551a2d022fa330f9573f3",
        },
        "t10k-labels-idx1-ubyte.gz": {
            "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": {
            "sha256": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
            "md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        },
        "train-labels-idx1-ubyte.gz": {
            "sha256": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
            "md5": "25c81989df183df01b3e8a0aad5dffbe",
        },
        "t10k-images-idx3-ubyte.gz": {
            "sha256": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
            "md5": "bef4ecab320f06d8554ea6380940ec79",
        },
        "t10k-labels-idx1-ubyte.gz": {
            "sha256": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
            "md5": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}

CHUNK_SIZE = 1 << 16
TIMEOUT = 30.0

#: progress(name, done_bytes, total_bytes_or_None)
Progress = Callable[[str, int, "int | None"], None]


class DownloadError(RuntimeError):
    """Every mirror failed for a file. ``errors`` lists (url, reason) pairs."""

    def __init__(self, message: str, errors: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.errors = list(errors)


class ChecksumError(DownloadError):
    """A downloaded file did not match its published digest (it was deleted)."""


class ProgressBar:
    """The default progress display: a bar on stderr (one line per file if not a tty)."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started: set[str] = set()

    def __call__(self, name: str, done: int, total: int | None) -> None:
        finished = total is not None and done >= total
        if self._tty:
            if total:
                filled = int(self.width * done / total)
                bar = "#" * filled + "-" * (self.width - filled)
                text = f"\r{name} [{bar}] {done / total:6.1%} of {total / 1e6:.1f} MB"
            else:
                text = f"\r{name} {done / 1e6:.1f} MB"
            self.stream.write(text + ("\n" if finished else ""))
        else:
            if name not in self._started:
                self._started.add(name)
                size = f" ({total / 1e6:.1f} MB)" if total else ""
                self.stream.write(f"downloading {name}{size} ...\n")
            if finished:
                self.stream.write(f"downloaded {name}\n")
        self.stream.flush()


def _progress_callback(progress) -> Progress | None:
    if progress is None or progress is True:
        return ProgressBar()
    if progress is False:
        return None
    if not callable(progress):
        raise TypeError("progress must be None, True, False or a callable(name, done, total)")
    return progress


def resolve_mirrors(name: str, mirrors: Iterable[str] | str | None = None) -> list[str]:
    """The mirror base URLs to try for dataset ``name``, in order (see module doc)."""
    if mirrors is None:
        env = os.environ.get(MIRRORS_ENV, "").strip()
        if env:
            mirrors = env
        else:
            mirrors = MIRRORS.get(name, [])
    if isinstance(mirrors, str):
        mirrors = [m for m in re.split(r"[\s,]+", mirrors) if m]
    return [m if m.endswith("/") else m + "/" for m in mirrors]


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check(digests: Mapping[str, str], hashers: Mapping[str, "hashlib._Hash"], what: str):
    for algorithm, expected in digests.items():
        got = hashers[algorithm].hexdigest()
        if got.lower() != expected.lower():
            return f"{what}: {algorithm} mismatch, expected {expected}, got {got}"
    return None


def verify_file(path: str | os.PathLike, digests: Mapping[str, str] | None) -> None:
    """Raise ``ChecksumError`` unless the file matches every digest (``{"sha256": ..., "md5": ...}``)."""
    if not digests:
        return
    hashers = {alg: hashlib.new(alg) for alg in digests}
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            for h in hashers.values():
                h.update(chunk)
    problem = _check(digests, hashers, str(path))
    if problem:
        raise ChecksumError(problem, [(str(path), problem)])


class _WrongBytes(Exception):
    """A mirror served a file whose digest does not match (internal: the next mirror is tried)."""


def _fetch(url: str, out, digests, report, name: str, timeout: float) -> dict:
    """Stream ``url`` into the open file ``out``, hashing it; returns the hashers."""
    hashers = {alg: hashlib.new(alg) for alg in (digests or {})}
    with urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        if report:
            report(name, 0, total)
        while True:
            chunk = response.read(CHUNK_SIZE)
            if not chunk:
                break
            out.write(chunk)
            for h in hashers.values():
                h.update(chunk)
            done += len(chunk)
            if report:
                report(name, done, total)
        if total is not None and done != total:
            raise OSError(f"connection closed after {done} of {total} bytes")
        if report and total is None:
            report(name, done, done)
    return hashers


def download_file(
    urls: str | Sequence[str],
    dest: str | os.PathLike,
    digests: Mapping[str, str] | None = None,
    progress=None,
    timeout: float = TIMEOUT,
) -> Path:
    """Download the first URL that works to ``dest``, verifying ``digests``.

    Each URL is tried in turn; a network error or a checksum mismatch moves on
    to the next. The data goes to a temp file in ``dest``'s folder and is
    renamed into place only after it matched every digest. Raises
    ``ChecksumError`` if some mirror served wrong bytes and none served right
    ones, else ``DownloadError`` if all failed. ``progress``: None/True for a
    bar on stderr, False for silence, or ``callable(name, done, total)``.
    """
    if isinstance(urls, str):
        urls = [urls]
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    report = _progress_callback(progress)
    errors: list[tuple[str, str]] = []
    bad_checksum = False
    for url in urls:
        try:
            with atomic_write(dest, suffix=".part") as out:
                hashers = _fetch(url, out, digests, report, dest.name, timeout)
                problem = _check(digests or {}, hashers, url)
                if problem:
                    raise _WrongBytes(problem)  # leaves the block: the .part file is deleted
            return dest
        except _WrongBytes as wrong:
            bad_checksum = True
            errors.append((url, f"{wrong} (file deleted)"))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            errors.append((url, f"{type(exc).__name__}: {exc}"))
    if not urls:
        errors.append(("", "no mirror URLs were given"))
    lines = "\n".join(f"  {u}: {why}" for u, why in errors)
    cls = ChecksumError if bad_checksum else DownloadError
    raise cls(f"could not download {dest.name}:\n{lines}", errors)
