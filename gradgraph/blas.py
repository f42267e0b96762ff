"""Sharing two cores between numpy's BLAS and the Numba kernels.

numpy's matrix products run on OpenBLAS's own thread pool; the conv and pooling
kernels run on Numba's. After a product, OpenBLAS's threads keep spinning for a
while, waiting for more work, and they take the cores the next conv kernel
needs: on a 2-core machine a LeNet training step gets several times slower.
The products in a small network are small, so a training loop runs them on one
BLAS thread::

    with limit_blas_threads(1):      # what Trainer.records() does (blas_threads=1)
        for x, y in batches:
            ...

This is tuning, not the lecture: the MatMul gate stays ``x @ w``, and the
limit is set where a training loop runs (the Trainer, a lesson's own loop).

Only OpenBLAS on Linux is controlled (found through ``/proc/self/maps``, which
is how numpy's wheels ship it); anywhere else these helpers do nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import threading

__all__ = ["limit_blas_threads"]

_blas_handles = None


def _blas_libraries() -> list:
    """(set_num_threads, get_num_threads) of every OpenBLAS loaded in this process (Linux; else [])."""
    global _blas_handles
    if _blas_handles is not None:
        return _blas_handles
    _blas_handles = []
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return _blas_handles
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            found = None
            for suffix in ("", "64_", "_64"):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    found = (setter, getter)
                    break
            if found:
                _blas_handles.append(found)
                break
    return _blas_handles


_lock = threading.Lock()
_depth = 0        # how many limit_blas_threads blocks are open, in any thread
_saved: list = []  # the thread counts to restore when the last one closes


@contextlib.contextmanager
def limit_blas_threads(n: int | None = 1):
    """Run the block with numpy's OpenBLAS limited to ``n`` threads (None: unchanged).

    The setting is global to the process, so nested blocks and blocks in other
    threads (the app trains in a worker thread) share one setting: the first
    block to open sets it, the last one to close restores it.
    """
    global _depth, _saved
    handles = _blas_libraries() if n is not None else []
    if not handles:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = [getter() for _, getter in handles]
            for setter, _ in handles:
                setter(int(n))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for (setter, _), old in zip(handles, _saved):
                    setter(old)
