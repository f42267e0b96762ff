"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a tiny header followed by raw big-endian numbers::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4 * d       each dimension as a big-endian uint32
    ...         the data, row-major

So the label files start with the magic number ``0x00000801`` (uint8, one
dimension) and the image files with ``0x00000803`` (uint8, three dimensions:
count, rows, columns). Files may be gzipped; we detect that from the gzip magic
bytes ``1f 8b``, never from the file name.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from ..files import atomic_write

__all__ = [
    "LABELS_MAGIC",
    "IMAGES_MAGIC",
    "read_idx",
    "read_images",
    "read_labels",
    "read_idx_pair",
    "write_idx",
]

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> numpy dtype (big-endian on disk).
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in _DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc
    return data


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read any IDX file (gzipped or plain) into a numpy array in native byte order.

    Raises ``ValueError`` naming the file for a wrong magic number, an unknown
    element type, truncated data or trailing garbage.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        magic = int.from_bytes(data[:4], "big")
        raise ValueError(
            f"{path}: not an IDX file (magic number 0x{magic:08X}; expected "
            f"0x{LABELS_MAGIC:08X} for labels or 0x{IMAGES_MAGIC:08X} for images)"
        )
    dtype = _DTYPES[data[2]]
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header (expected {ndim} dimensions)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(data) - header
    if got < expected:
        raise ValueError(
            f"{path}: truncated IDX data: header says shape {shape} "
            f"({expected} bytes) but only {got} bytes follow"
        )
    if got > expected:
        raise ValueError(
            f"{path}: {got - expected} unexpected trailing bytes after IDX data of shape {shape}"
        )
    array = np.frombuffer(data, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def _read_checked(path, magic: int, what: str) -> np.ndarray:
    array = read_idx(path)
    ndim = magic & 0xFF
    if array.dtype != np.uint8 or array.ndim != ndim:
        raise ValueError(
            f"{path}: expected an IDX {what} file (magic 0x{magic:08X}: uint8, {ndim} "
            f"dimension(s)) but found {array.dtype} with shape {array.shape}"
        )
    return array


def read_images(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX image file (magic 0x00000803): uint8 array (N, rows, cols)."""
    return _read_checked(path, IMAGES_MAGIC, "images")


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX label file (magic 0x00000801): uint8 array (N,)."""
    return _read_checked(path, LABELS_MAGIC, "labels")


def read_idx_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike
) -> tuple[np.ndarray, np.ndarray]:
    """Read matching image and label files; ``ValueError`` if their counts differ."""
    images = read_images(images_path)
    labels = read_labels(labels_path)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; the two files must have the same count"
        )
    return images, labels


def write_idx(path: str | os.PathLike, array, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file, atomically (:func:`gradgraph.files.atomic_write`).

    ``compress=None`` gzips when the name ends in ``.gz``. The gzip header
    carries no name or timestamp, so the same array always gives the same bytes.
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise ValueError(
            f"write_idx: dtype {array.dtype} has no IDX type code "
            f"(use uint8, int8, int16, int32, float32 or float64)"
        )
    if array.ndim > 255 or any(n >= 2**32 for n in array.shape):
        raise ValueError(f"write_idx: shape {array.shape} does not fit an IDX header")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    payload = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    with atomic_write(path) as handle:
        handle.write(payload)
    return path
