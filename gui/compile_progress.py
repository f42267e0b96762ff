"""Kernel compile progress in the status bar: the app's thin view of the engine's compiler.

The engine does all the work (``gradgraph/kernels/compiler.py``): under the default
backend, "auto", a convolution whose Numba kernel is not compiled yet runs on numpy
while a child process compiles that kernel (so Numba never holds this process's
global lock and the event loop stays responsive), and the kernel is switched on
when ready. Nothing in the app has to start, wait for or avoid compiling.

What is left for the app is to show it. :class:`CompileProgress` subscribes to
``kernels.subscribe``; the engine calls it on its compiler thread, so every event
crosses to the GUI thread through a queued signal and becomes one status line
(:func:`status_line`), e.g. "Compiling conv2d_forward (float32) — 2 of 5, 3 left…".
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal

from gradgraph import kernels


def short_name(kernel: str) -> str:
    """``"conv2d_forward (float32, stride 1)"`` -> ``"conv2d_forward (float32)"``: the variant
    (stride, which gradients) means nothing to a student."""
    head, _, rest = kernel.partition(" (")
    return f"{head} ({rest.split(',')[0].rstrip(')')})" if rest else head


def status_line(event: kernels.CompileEvent) -> str | None:
    """The status bar's text for ``event``: a line, ``""`` to clear it, or None to leave it.

    Only real compiles are shown; loading a kernel from the disk cache takes milliseconds.
    """
    if event.kind == "started" and not event.cached:
        left = event.total - event.done - 1
        return (f"Compiling {short_name(event.kernel)} — {event.done + 1} of {event.total}, "
                f"{left} left (numpy runs it meanwhile; first run only)…")
    if event.kind in ("failed", "fallback"):
        return str(event)
    if event.kind in ("idle", "stopped"):
        return ""
    return None


class CompileProgress(QObject):
    """Turns the engine's compile events into ``message(text, timeout_ms)`` on the GUI thread.

    ``text`` is empty when there is nothing to show any more (``timeout_ms`` is then 0).
    Lives as long as its parent (the main window); unsubscribes when deleted.
    """

    message = Signal(str, int)
    _event = Signal(object)  # compiler thread -> GUI thread (queued)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.compiled = 0  # kernels really compiled (not loaded) since the last idle
        self._event.connect(self._on_event, Qt.QueuedConnection)
        self._unsubscribe = kernels.subscribe(self._event.emit)
        self.destroyed.connect(lambda *_: self._unsubscribe())
        status = kernels.compile_status()
        if status.compiling:  # subscribed while a kernel compiles: say so right away
            self._event.emit(kernels.CompileEvent("started", status.compiling, status.done, status.total,
                                                  cached=False))

    def close(self):
        """Stop listening (the window is closing)."""
        self._unsubscribe()

    def _on_event(self, event):
        if event.kind == "started" and not event.cached:
            self.compiled += 1
        line = status_line(event)
        if line is None:
            return
        if event.kind == "idle" and self.compiled:
            line, self.compiled = f"Numba kernels ready: {self.compiled} compiled, in use from now on.", 0
            self.message.emit(line, 5000)
        else:
            self.message.emit(line, 8000 if event.kind in ("failed", "fallback") else 0)
