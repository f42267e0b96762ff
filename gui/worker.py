"""Background work: one generator worker for everything slow (napari's pattern).

    worker = GeneratorWorker(train_steps, trainer)     # a generator function and its arguments
    worker.yielded.connect(self._on_record)             # every value it yields
    worker.returned.connect(self._on_done)              # its return value
    worker.errored.connect(self._on_error)              # the exception it raised
    worker.finished.connect(self._on_finished)          # always last
    worker.start()
    worker.pause(); worker.resume(); worker.quit()

The function runs on a thread of its own. It never touches a widget: it only
yields values (progress, records, results) and returns one. Every signal is
delivered on the main thread, in order (``started``, ``yielded``...,
``returned`` or ``errored``, ``finished``), so handlers may update widgets.
A plain function (not a generator) works too: its result is ``returned``.

``pause()`` and ``quit()`` take effect at the function's next ``yield``: a
paused worker waits there, a quitting one closes the generator (its ``finally``
blocks run) and emits ``finished`` without ``returned``. A function that wants
to stop sooner yields more often.

The app uses it for building lessons, the gradient check
and training.
"""
from __future__ import annotations

import inspect
import threading

from PySide6.QtCore import QObject, Qt, Signal


class GeneratorWorker(QObject):
    """Runs ``function(*args, **kwargs)`` on a thread; reports through signals on the main thread."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)    # the exception, with its __traceback__
    finished = Signal()
    paused = Signal()
    resumed = Signal()

    _event = Signal(str, object)  # worker thread -> main thread (queued), see _deliver

    _running: set = set()  # workers whose thread has not finished: kept alive until then

    def __init__(self, function, *args, name: str = "", **kwargs):
        super().__init__()
        self.function, self.args, self.kwargs = function, args, kwargs
        self.name = name or getattr(function, "__name__", "work")
        self._go = threading.Event()    # cleared while paused
        self._go.set()
        self._quit = False
        self._thread = None
        self.is_finished = False
        self._event.connect(self._deliver, Qt.QueuedConnection)

    # -- control (main thread) ------------------------------------------------------------
    def start(self) -> "GeneratorWorker":
        if self._thread is not None:
            raise RuntimeError(f"worker {self.name!r} was already started")
        GeneratorWorker._running.add(self)
        self._thread = threading.Thread(target=self._run, name=f"gradgraph-{self.name}", daemon=True)
        self._thread.start()
        return self

    @property
    def is_running(self) -> bool:
        return self._thread is not None and not self.is_finished

    @property
    def is_paused(self) -> bool:
        return not self._go.is_set()

    def pause(self) -> None:
        """Wait at the next ``yield`` until :meth:`resume`."""
        if self.is_running and not self.is_paused:
            self._go.clear()
            self.paused.emit()

    def resume(self) -> None:
        if self.is_paused:
            self._go.set()
            self.resumed.emit()

    def toggle_pause(self) -> None:
        self.resume() if self.is_paused else self.pause()

    def quit(self) -> None:
        """Stop at the next ``yield`` (a paused worker stops at once)."""
        self._quit = True
        self._go.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread (closing the window, tests); True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    # -- the worker thread ------------------------------------------------------------------
    def _run(self) -> None:
        self._event.emit("started", None)
        try:
            result = self.function(*self.args, **self.kwargs)
            if inspect.isgenerator(result):
                result = self._drive(result)
            if not self._quit:
                self._event.emit("returned", result)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread, which shows it
            self._event.emit("errored", error)
        finally:
            self._event.emit("finished", None)

    def _drive(self, generator):
        """Run the generator to its end (its return value) or until quit."""
        try:
            while True:
                try:
                    value = next(generator)
                except StopIteration as stop:
                    return stop.value
                self._event.emit("yielded", value)
                self._go.wait()
                if self._quit:
                    return None
        finally:
            generator.close()

    # -- back on the main thread -------------------------------------------------------------
    def _deliver(self, kind: str, value) -> None:
        if kind == "finished":
            self.is_finished = True
            GeneratorWorker._running.discard(self)
            self.finished.emit()
        elif kind in ("yielded", "returned", "errored"):
            getattr(self, kind).emit(value)
        else:
            self.started.emit()


def run_in_background(function, *args, on_yield=None, on_return=None, on_error=None, on_finish=None,
                      name: str = "", **kwargs) -> GeneratorWorker:
    """A started :class:`GeneratorWorker` with these handlers connected (each may be None)."""
    worker = GeneratorWorker(function, *args, name=name, **kwargs)
    for signal, handler in ((worker.yielded, on_yield), (worker.returned, on_return),
                            (worker.errored, on_error), (worker.finished, on_finish)):
        if handler is not None:
            signal.connect(handler)
    return worker.start()
