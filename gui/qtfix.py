"""Work around a reference-counting bug of some PySide6 builds on Python < 3.12.

PySide6 6.12.0 returns ``None`` from every void C++ method (``QPainter.setPen``,
``QLabel.setText``, ``QGraphicsItem.update``...) without taking a new reference
to it. From Python 3.12 on ``None`` is immortal and that is harmless; on 3.11
each call lowers ``None``'s reference count by one, and after some
hundred thousand calls (a few seconds of painting a big graph) the
interpreter aborts with "Fatal Python error: none_dealloc: deallocating None".

:func:`apply` detects the bug at run time (ten calls of a void method must
leave ``None``'s count unchanged) and, only if it is present, makes ``None``
effectively immortal, as Python 3.12 does, by adding 2**40 to its count
(enough for a few hundred years of painting). Nothing changes on a fixed
PySide6 or on Python >= 3.12. The real fix is a PySide6 without the bug.
"""
from __future__ import annotations

import ctypes
import sys

_BOOST = 1 << 40
applied = False
detected = None


def _leaks() -> bool:
    from PySide6.QtCore import QTimer

    timer = QTimer()
    before = sys.getrefcount(None)
    for _ in range(10):
        timer.setInterval(5)
    return sys.getrefcount(None) - before <= -10


def apply() -> bool:
    """Detect the bug; if present, make None immortal. True if the workaround is active."""
    global applied, detected
    if applied or sys.version_info >= (3, 12):
        return applied
    detected = _leaks()
    if detected:
        ctypes.c_ssize_t.from_address(id(None)).value += _BOOST
        applied = True
    return applied
