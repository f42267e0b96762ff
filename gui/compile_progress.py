"""Kernel compile progress for the status bar: an adapter over ``gradgraph.kernels``.

:func:`warm_kernels` is a generator for a :class:`~.worker.GeneratorWorker`: it
yields one status line per progress report ("compiling conv2d_forward
(float32): 3 of 14…") and returns the last line to show. The engine reports
progress through a callback, ``kernels.warmup(progress=...)``, called with a
message or with ``(kernel, done, total)``; the adapter runs the warm-up on a
helper thread and turns those calls into yields. Only this file knows the
engine's progress API: when that API changes, this is the one place to adapt.
"""
from __future__ import annotations

import queue
import threading


def describe(*report) -> str:
    """One status line from a progress report: a message, or ``(kernel, done, total)``."""
    if len(report) == 3 and all(isinstance(n, int) for n in report[1:]):
        kernel, done, total = report
        return f"compiling the Numba kernels: {kernel} ({done} of {total}, {total - done} left)…"
    return " ".join(str(part) for part in report)


def warm_kernels():
    """Compile (or load from the disk cache) the fast kernels, yielding status lines."""
    from gradgraph import kernels

    if kernels.is_warm():
        kernels.warmup()  # loads the cached machine code: milliseconds
        return ""
    lines: queue.SimpleQueue = queue.SimpleQueue()
    failure = []

    def run():
        try:
            kernels.warmup(progress=lambda *report: lines.put(describe(*report)))
        except BaseException as error:  # noqa: BLE001 - re-raised on the worker below
            failure.append(error)
        finally:
            lines.put(None)

    threading.Thread(target=run, name="gradgraph-compile", daemon=True).start()
    yield "compiling the Numba kernels (first start only)…"
    while (line := lines.get()) is not None:
        yield line
    if failure:
        raise failure[0]
    return "Kernels ready."
