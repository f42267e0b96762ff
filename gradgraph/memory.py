"""Keeping freed memory for the next training step.

A training step allocates a few megabytes of arrays (activations, their
gradients, the kernels' work arrays) and frees them all when it ends. By
default glibc's ``malloc`` hands large blocks straight back to the operating
system (``mmap`` for each block over 128 KiB, and trimming the heap when a few
megabytes are free at its top), so the next step gets fresh pages and pays a
page fault on each one: measured on LeNet-5 at batch 64, about 2,500 faults and
6.5 ms per step, against 2.6 to 3.3 ms with no faults. Raising the two thresholds
keeps the memory in the process, where the next step reuses it::

    M_MMAP_THRESHOLD  128 KiB (adapting upwards) -> 32 MiB
    M_TRIM_THRESHOLD  twice that                 -> 128 MiB

so a process keeps at most 128 MiB of freed memory for reuse. Arrays larger than
32 MiB (a whole dataset) are still given back when freed.

This is tuning, not the lecture, and it changes nothing that is computed.
:func:`keep_freed_memory` runs once when gradgraph is imported. It acts only
with glibc (Linux); elsewhere, or with ``GRADGRAPH_MALLOC=default`` in the
environment, it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 128 << 20

_done = None


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks up to 32 MiB for reuse. True if it did."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("GRADGRAPH_MALLOC", "").strip().lower() == "default":
        return _done
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return _done
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return _done
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
