"""Compile the Numba kernels on a background thread, and tell whoever listens.

The dispatcher in ``__init__.py`` never waits for Numba: when a call needs a
kernel that is not compiled yet, it runs the numpy backend and asks this module
for the kernel with :func:`request`.  One daemon thread compiles the requested
kernels one after the other (a kernel that is already in Numba's on-disk cache
only loads, in milliseconds); each one is marked ready when done, and from then
on the dispatcher sends its calls to it.

A *task* is one public kernel function in one variant and one dtype, for example
``("conv2d_forward", "stride 1", "float32")``: the variants are the code paths of
``fast.py`` (see ``fast.TASK_KERNELS``), and only the dtypes actually used are
ever compiled.

Progress, for a terminal, a status bar or a test (nothing here imports Qt)::

    status = compile_status()        # a CompileStatus snapshot, any thread
    unsubscribe = subscribe(print)   # print(CompileEvent) for every event
    wait(timeout=60)                 # block until nothing is left to compile

Callbacks run on the thread that caused the event (the compiler thread for
"started", "finished", "failed" and "idle"; the caller of :func:`request` for
"queued"): a GUI must hand them over to its own thread.  A callback that raises
is dropped, so a broken listener can never stop the compiler.
"""

from __future__ import annotations

import atexit
import collections
import sys
import threading
import time
from dataclasses import dataclass

__all__ = ["CompileEvent", "CompileStatus", "compile_status", "subscribe", "request",
           "wait", "is_ready", "task_name", "print_progress"]


@dataclass(frozen=True)
class CompileEvent:
    """Something the compiler did.

    ``kind`` is one of:

    * ``"queued"``   -- ``kernel`` was asked for and will be compiled;
    * ``"started"``  -- compiling (or, with ``cached``, loading) ``kernel`` now;
    * ``"finished"`` -- ``kernel`` is ready and used from now on (``seconds`` it took);
    * ``"failed"``   -- ``kernel`` could not be compiled (``error``); numpy keeps it;
    * ``"idle"``     -- nothing left to compile (``kernel`` is empty);
    * ``"stopped"``  -- the program is exiting: the kernels not compiled yet are
      left for the next run (the one being compiled was finished and cached).

    ``done`` of ``total`` counts the tasks finished (or failed) of those asked for so
    far; ``total`` grows when new kernels are requested.
    """

    kind: str
    kernel: str
    done: int
    total: int
    cached: bool = False
    seconds: float = 0.0
    error: str = ""

    def __str__(self) -> str:
        verb = "loading" if self.cached else "compiling"
        if self.kind == "started":
            return f"{verb} kernel {self.kernel} ({self.done + 1} of {self.total})"
        if self.kind == "finished":
            return f"kernel {self.kernel} ready in {self.seconds:.1f} s ({self.done} of {self.total})"
        if self.kind == "failed":
            return f"kernel {self.kernel} failed to compile, numpy keeps running it: {self.error}"
        if self.kind == "idle":
            return f"kernels ready ({self.done} of {self.total})"
        if self.kind == "stopped":
            return (f"{self.done} of {self.total} kernels compiled and cached; "
                    "the rest compile next time")
        return f"kernel {self.kernel} queued ({self.total - self.done} left)"


@dataclass(frozen=True)
class CompileStatus:
    """A snapshot: ``compiling`` (a kernel name, or None), ``done`` of ``total``,
    the names still ``pending`` (not started), and those ``ready`` or ``failed``."""

    compiling: str | None
    done: int
    total: int
    pending: tuple = ()
    ready: tuple = ()
    failed: tuple = ()

    @property
    def busy(self) -> bool:
        """True while a kernel is being compiled or waits to be."""
        return self.compiling is not None or bool(self.pending)

    @property
    def left(self) -> int:
        """How many requested kernels are not ready yet (compiling or pending)."""
        return self.total - self.done


def task_name(task) -> str:
    """``("conv2d_forward", "stride 1", "float32")`` -> ``"conv2d_forward (float32, stride 1)"``."""
    op, variant, dtype = task
    return f"{op} ({dtype}, {variant})"


class _Compiler:
    """The queue of requested tasks and the one thread that works through it."""

    def __init__(self):
        self.lock = threading.Condition()
        self.queue = collections.deque()
        self.known = set()     # every task ever requested
        self.ready = set()     # compiled (or loaded) tasks: the dispatcher uses these
        self.failed = {}       # task -> error text
        self.build = None      # build(task) compiles; build.is_cached(task) checks the disk cache
        self.current = None
        self.done = 0
        self.listeners = []
        self.thread = None
        self.stopping = False

    # -- events ---------------------------------------------------------------

    def emit(self, event):
        for callback in list(self.listeners):
            try:
                callback(event)
            except Exception:  # a broken listener must not stop the compiler
                self.unsubscribe(callback)

    def subscribe(self, callback):
        with self.lock:
            self.listeners.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback):
        with self.lock:
            if callback in self.listeners:
                self.listeners.remove(callback)

    def status(self) -> CompileStatus:
        with self.lock:
            return CompileStatus(
                compiling=task_name(self.current) if self.current else None,
                done=self.done, total=len(self.known),
                pending=tuple(task_name(t) for t in self.queue),
                ready=tuple(sorted(task_name(t) for t in self.ready)),
                failed=tuple(sorted(task_name(t) for t in self.failed)))

    # -- work -----------------------------------------------------------------

    def request(self, task, build):
        """Queue ``task`` (once) and make sure the thread runs."""
        with self.lock:
            if task in self.known or self.stopping:
                return
            self.known.add(task)
            self.queue.append(task)
            self.build = build
            event = CompileEvent("queued", task_name(task), self.done, len(self.known))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="gradgraph-kernel-compiler",
                                               daemon=True)
                self.thread.start()
            self.lock.notify_all()
        self.emit(event)

    def run(self):
        while True:
            with self.lock:
                while not self.queue and not self.stopping:
                    self.lock.wait()
                if self.stopping:
                    return
                task = self.current = self.queue.popleft()
                total = len(self.known)
            cached = False
            try:
                cached = self.build.is_cached(task)
                self.emit(CompileEvent("started", task_name(task), self.done, total, cached))
                start = time.perf_counter()
                self.build(task)
                seconds, error = time.perf_counter() - start, ""
            except Exception as exc:  # a compiler bug: numpy keeps running this kernel
                seconds, error = 0.0, f"{type(exc).__name__}: {exc}"
            self.finish(task, cached, seconds, error)

    def finish(self, task, cached, seconds, error):
        """Mark ``task`` ready (or failed) and announce it; "idle" when the queue is empty."""
        with self.lock:
            if error:
                self.failed[task] = error
            else:
                self.ready.add(task)
            self.current = None
            self.done += 1
            done, total, idle = self.done, len(self.known), not self.queue
            stopping = self.stopping
            self.lock.notify_all()
        kind = "failed" if error else "finished"
        self.emit(CompileEvent(kind, task_name(task), done, total, cached, seconds, error))
        if stopping:
            self.emit(CompileEvent("stopped", "", done, total))
        elif idle:
            self.emit(CompileEvent("idle", "", done, total))

    def wait(self, timeout=None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while self.queue or self.current is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.lock.wait(remaining)
        return True

    def stop(self, timeout=15.0):
        """At exit: start nothing new, and let the kernel being compiled finish.

        Interrupting Numba in the middle of LLVM while the interpreter shuts down
        can crash the process; the kernel finished here is also saved to the cache.
        """
        with self.lock:
            self.stopping = True
            self.queue.clear()
            self.lock.notify_all()
            thread = self.thread
        if thread is not None and thread.is_alive():
            thread.join(timeout)


_compiler = _Compiler()
atexit.register(_compiler.stop)


def compile_status() -> CompileStatus:
    """What the background compiler is doing now (a snapshot, safe from any thread)."""
    return _compiler.status()


def subscribe(callback):
    """Call ``callback(event)`` for every :class:`CompileEvent`; returns an unsubscribe function."""
    return _compiler.subscribe(callback)


def request(task, build) -> None:
    """Compile ``task`` in the background unless it was requested before.

    ``build(task)`` does the compiling (it runs on the compiler thread) and
    ``build.is_cached(task)`` says whether Numba's disk cache has it already.
    """
    _compiler.request(task, build)


def is_ready(task) -> bool:
    """True once ``task`` is compiled and the dispatcher uses it (no lock: a set lookup)."""
    return task in _compiler.ready


def wait(timeout: float | None = None) -> bool:
    """Block until every requested kernel is compiled; False if ``timeout`` ran out first."""
    return _compiler.wait(timeout)


def stop(timeout: float = 15.0) -> None:
    """Start no new compile and let the one running finish (it is cached); also done at exit."""
    _compiler.stop(timeout)


def print_progress(stream=None):
    """Print compile progress (real compiles only, not cache loads) to ``stream``.

    For the terminal commands: one line when a kernel starts compiling (which one,
    n of m), one when everything requested is ready.  Returns the unsubscribe function.
    """
    compiled = []

    def show(event):
        out = stream if stream is not None else sys.stderr
        if event.kind == "started" and not event.cached:
            if not compiled:
                print("Numba compiles the conv/pool kernels in the background (first run only); "
                      "numpy runs them meanwhile", file=out, flush=True)
            compiled.append(event.kernel)
            print(f"  {event}", file=out, flush=True)
        elif event.kind == "failed":
            print(f"  {event}", file=out, flush=True)
        elif event.kind == "idle" and compiled:
            print(f"  all {len(compiled)} compiled kernel(s) in use", file=out, flush=True)
            compiled.clear()
        elif event.kind == "stopped" and compiled:
            print(f"  exiting: {event}", file=out, flush=True)

    return subscribe(show)
