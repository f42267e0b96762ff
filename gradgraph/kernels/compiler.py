"""Compile the Numba kernels in the background, and tell whoever listens.

The dispatcher in ``__init__.py`` never waits for Numba: when a call needs a
kernel that is not compiled yet, it runs the numpy backend and asks this module
for the kernel with :func:`request`.  One daemon thread works through the
requested kernels one after the other; each one is marked ready when done, and
from then on the dispatcher sends its calls to it.

**Compiling happens in a child process.**  Numba's compiler (type inference,
LLVM) holds Python's global interpreter lock in long stretches: compiled on a
thread of this process, a numpy training step took 55 ms instead of 12 ms and
the app's event loop froze for up to 1.7 s.  So the thread hands each kernel that
is not in Numba's on-disk cache yet to a child Python process, which compiles it
and stores the machine code in that cache (``cache=True``; the child inherits
``NUMBA_CACHE_DIR``), and meanwhile just waits on a pipe, which releases the
lock.  Then the thread loads the kernel from the cache, in milliseconds.  The
child compiles by running exactly the code this process runs to load it, so it
produces exactly the specialisation the cache lookup asks for.  One child serves
a whole burst of requests (importing Numba takes a second or two) and exits
when the queue is empty.  When no child can help (no writable cache folder, or
the child failed), the thread compiles in this process, as before, and says why
once, with a ``"fallback"`` event.

A *task* is one public kernel function in one variant and one dtype, for example
``("conv2d_forward", "stride 1", "float32")``: the variants are the code paths of
``fast.py`` (see ``fast.TASK_KERNELS``), and only the dtypes actually used are
ever compiled.

Progress, for a terminal, a status bar or a test (nothing here imports Qt)::

    status = compile_status()        # a CompileStatus snapshot, any thread
    unsubscribe = subscribe(print)   # print(CompileEvent) for every event
    wait(timeout=60)                 # block until nothing is left to compile

Callbacks run on the thread that caused the event (the compiler thread for
"started", "finished", "failed", "fallback" and "idle"; the caller of :func:`request` for
"queued"): a GUI must hand them over to its own thread.  A callback that raises
is dropped, so a broken listener can never stop the compiler.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import subprocess
import sys
import tempfile
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
    * ``"fallback"`` -- the child process cannot be used (``error`` says why), so
      kernels compile in this process from now on (it may stutter meanwhile);
    * ``"idle"``     -- nothing left to compile (``kernel`` is empty);
    * ``"stopped"``  -- the program is exiting: the kernels not compiled yet are
      left for the next run; ``kernel`` names the one the child process goes on
      compiling into the cache after we are gone (empty if none, or on Ctrl-C).

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
        if self.kind == "fallback":
            return f"compiling in this process from now on (it may stutter meanwhile): {self.error}"
        if self.kind == "idle":
            return f"kernels ready ({self.done} of {self.total})"
        if self.kind == "stopped":
            finishing = f"{self.kernel} finishes in the background, " if self.kernel else ""
            return (f"{self.done} of {self.total} kernels compiled and cached; "
                    f"{finishing}the rest compile next time")
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


#: The child answers each task with one line that starts with this (anything else it prints is ignored).
_REPLY = "gradgraph-compiled "

#: What the child process runs: SIGINT is ignored first (the terminal sends Ctrl-C to the
#: whole process group; the parent decides, and kills the child), then it serves tasks.
_CHILD_CODE = ("import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); import json, sys; "
               "sys.path[:0] = json.loads(sys.argv[1]); "
               "from gradgraph.kernels.compiler import serve; serve(sys.argv[2])")


def serve(target: str) -> None:
    """The child process: compile each task read from stdin with ``target`` ("module:function").

    Each task is a JSON list on its own line; each answer is one line, ``_REPLY`` then
    JSON ``{"error": ""}`` (or the error).  Ends when stdin closes.
    """
    import importlib

    if hasattr(os, "nice"):
        os.nice(10)  # background work: on a busy CPU the program the student watches comes first
    module, name = target.split(":")
    build = getattr(importlib.import_module(module), name)
    replies, sys.stdout = sys.stdout, sys.stderr  # what libraries print must not mix with replies
    for line in sys.stdin:
        try:
            build(tuple(json.loads(line)))
            error = ""
        except Exception as exc:  # reported to the parent, which marks the kernel failed
            error = f"{type(exc).__name__}: {exc}"
        try:
            replies.write(_REPLY + json.dumps({"error": error}) + "\n")
            replies.flush()
        except BrokenPipeError:  # the parent has exited; the kernel is in the cache anyway
            return


class _Child:
    """A child Python process that compiles tasks into Numba's disk cache, one at a time."""

    def __init__(self, target: str):
        self.log = tempfile.TemporaryFile(mode="w+")  # its stderr, for the error message
        self.process = subprocess.Popen(
            [sys.executable, "-c", _CHILD_CODE, json.dumps(sys.path), target],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)

    def compile(self, task) -> str:
        """Have the child compile ``task`` (waits, without the GIL); returns its error or ""."""
        try:
            self.process.stdin.write(json.dumps(list(task)) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                if line.startswith(_REPLY):
                    return json.loads(line[len(_REPLY):])["error"]
        except (OSError, ValueError):  # the pipe broke: the child is gone
            pass
        code = self.process.wait()
        self.log.seek(0)
        last = (self.log.read().strip().splitlines() or ["no message"])[-1]
        raise ChildProcessError(f"the compile process ended (exit code {code}): {last}")

    def close(self):
        """Let the idle child exit: it ends when its input closes (a fraction of a second)."""
        try:
            self.process.stdin.close()
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.log.close()

    def detach(self):
        """Let the child finish the task it has, then exit (any thread): close its input."""
        try:
            self.process.stdin.close()
        except OSError:
            pass

    def kill(self):
        """End the child now (any thread); the kernel it was compiling is left for next time.

        The compiler thread, reading its answer, then sees the pipe close and cleans up.
        """
        self.process.kill()


class _Compiler:
    """The queue of requested tasks and the one thread that works through it."""

    def __init__(self):
        self.lock = threading.Condition()
        self.queue = collections.deque()
        self.known = set()     # every task ever requested
        self.ready = set()     # compiled (or loaded) tasks: the dispatcher uses these
        self.failed = {}       # task -> error text
        self.build = None      # the builder: see request()
        self.current = None
        self.done = 0
        self.listeners = []
        self.thread = None
        self.stopping = False
        self.child = None      # the compile process, while there is work for it
        self.in_process = ""   # why kernels compile in this process ("" while the child is used)
        self.stopped_said = False

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
        try:
            while self.work_on_next():
                pass
        finally:
            self.drop_child()

    def work_on_next(self) -> bool:
        """Compile (or load) the next task in the queue; False when stopping."""
        with self.lock:
            while not self.queue and not self.stopping:
                self.lock.wait()
            if self.stopping:
                return False
            task = self.current = self.queue.popleft()
        cached = False
        try:
            cached = self.build.is_cached(task)  # the first call imports Numba: more may be queued by now
            with self.lock:
                total = len(self.known)
            self.emit(CompileEvent("started", task_name(task), self.done, total, cached))
            start = time.perf_counter()
            if not cached:
                self.compile_in_child(task)
            if self.stopping:  # the child was killed or left to finish on its own: stop() said so
                with self.lock:
                    self.current = None
                    self.lock.notify_all()
                return False
            self.build(task)  # loads what the child compiled (or compiles here)
            seconds, error = time.perf_counter() - start, ""
        except Exception as exc:  # a compiler bug: numpy keeps running this kernel
            seconds, error = 0.0, f"{type(exc).__name__}: {exc}"
        self.finish(task, cached, seconds, error)
        return True

    def compile_in_child(self, task):
        """Have the child process put ``task`` in the disk cache, unless it cannot help here.

        Raises the child's error if the kernel itself failed to compile there.
        """
        if self.in_process or not hasattr(self.build, "child"):
            return
        reason = getattr(self.build, "child_problem", lambda: "")()
        if reason:
            return self.compile_here(reason)
        try:
            with self.lock:
                if self.stopping:
                    return
                if self.child is None:
                    self.child = _Child(self.build.child)
                child = self.child
            error = child.compile(task)
        except (OSError, ChildProcessError) as exc:
            self.drop_child()
            if not self.stopping:
                self.compile_here(str(exc))
            return
        if error:
            raise RuntimeError(error)
        if not self.build.is_cached(task):
            self.compile_here("Numba did not store the kernel compiled by the child process "
                              "in its disk cache")

    def compile_here(self, reason):
        """From now on compile in this process; say why, once."""
        self.in_process = reason
        with self.lock:
            done, total = self.done, len(self.known)
        self.emit(CompileEvent("fallback", "", done, total, error=reason))

    def drop_child(self):
        """Let the child process exit (the compiler thread only)."""
        with self.lock:
            child, self.child = self.child, None
        if child is not None:
            child.close()

    def finish(self, task, cached, seconds, error):
        """Mark ``task`` ready (or failed) and announce it; "idle" when the queue is empty."""
        with self.lock:
            if error:
                self.failed[task] = error
            else:
                self.ready.add(task)
            self.done += 1
            done, total, idle = self.done, len(self.known), not self.queue
            stopping = self.stopping
        kind = "failed" if error else "finished"
        self.emit(CompileEvent(kind, task_name(task), done, total, cached, seconds, error))
        if stopping:
            self.say_stopped()
        elif idle:
            self.emit(CompileEvent("idle", "", done, total))
            self.drop_child()  # it exits; a later request starts a new one
        with self.lock:  # only now: wait() returns after the events are out
            self.current = None
            self.lock.notify_all()

    def wait(self, timeout=None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            while self.queue or self.current is not None:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.lock.wait(remaining)
        return True

    def stop(self, timeout=15.0, kill=True):
        """Start nothing new, and end the compile running now, if any.

        In the child process: with ``kill`` (Ctrl-C) the child is killed at once and
        its kernel compiles next time; without (a normal exit) the child finishes that
        kernel, stores it in the cache and exits, even after this process is gone.
        In this process: the compile is finished (and cached) first, as interrupting
        Numba in the middle of LLVM while the interpreter shuts down can crash it.
        """
        with self.lock:
            self.stopping = True
            self.queue.clear()
            self.lock.notify_all()
            thread, child = self.thread, self.child
        if child is not None:
            self.say_stopped(finishing="" if kill else task_name(self.current) if self.current else "")
            if not kill:
                child.detach()
                return  # the thread waits for the child's answer, maybe after we are gone
            child.kill()
        if thread is not None and thread.is_alive():
            thread.join(timeout)

    def say_stopped(self, finishing: str = ""):
        """The "stopped" event, once; ``finishing``: the kernel the child goes on compiling."""
        with self.lock:
            said, self.stopped_said = self.stopped_said, True
            done, total = self.done, len(self.known)
        if not said:
            self.emit(CompileEvent("stopped", finishing, done, total))


_compiler = _Compiler()
atexit.register(_compiler.stop, kill=False)


def compile_status() -> CompileStatus:
    """What the background compiler is doing now (a snapshot, safe from any thread)."""
    return _compiler.status()


def subscribe(callback):
    """Call ``callback(event)`` for every :class:`CompileEvent`; returns an unsubscribe function."""
    return _compiler.subscribe(callback)


def request(task, build) -> None:
    """Compile ``task`` in the background unless it was requested before.

    ``build(task)`` compiles in this process, or loads from the disk cache (it runs on
    the compiler thread); ``build.is_cached(task)`` says whether Numba's disk cache has
    it already.  To compile in a child process, ``build.child`` names the function the
    child calls with the task (``"module:function"``; it must fill the disk cache
    with what ``build`` then loads), and ``build.child_problem()`` says why a child
    cannot help here ("" if it can).  Without them, ``build`` compiles here.
    """
    _compiler.request(task, build)


def is_ready(task) -> bool:
    """True once ``task`` is compiled and the dispatcher uses it (no lock: a set lookup)."""
    return task in _compiler.ready


def wait(timeout: float | None = None) -> bool:
    """Block until every requested kernel is compiled; False if ``timeout`` ran out first."""
    return _compiler.wait(timeout)


def stop(timeout: float = 15.0, kill: bool = True) -> None:
    """Start no new compile; on Ctrl-C: the child process compiling is killed (see
    ``_Compiler.stop``).  At a normal exit it is called with ``kill=False``."""
    _compiler.stop(timeout, kill)


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
        elif event.kind in ("failed", "fallback"):
            print(f"  {event}", file=out, flush=True)
        elif event.kind == "idle" and compiled:
            print(f"  all {len(compiled)} compiled kernel(s) in use", file=out, flush=True)
            compiled.clear()
        elif event.kind == "stopped" and compiled:
            print(f"  exiting: {event}", file=out, flush=True)

    return subscribe(show)
