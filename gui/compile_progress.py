"""Kernel compilation, kept away from the GUI: progress for the status bar, and a backend
that needs no compiling while the fast kernels are cold.

Numba compiles in long stretches that hold Python's global lock: compiled on a
thread of the app, the event loop stalled for up to 1.7 s at a time (measured
with benchmarks/bench_gui_coldstart.py). So :func:`warm_kernels` compiles in a
child process, which fills the on-disk cache, and afterwards loads that cache
in the app (milliseconds). It is a generator for a
:class:`~.worker.GeneratorWorker`: it yields one status line per kernel the
child has compiled ("Numba kernels: 5 of 28 compiled (conv2d_forward, float32),
23 left…") and returns the last line to show.

Meanwhile the app runs convolutions on a backend that needs no compiling (the
engine's vectorized numpy backend when it has one, else the readable reference
loops: about 2 s for LeNet-5's graph) and switches back to the fast kernels
when they are ready; :func:`no_compiling` does the same for one block (a
lesson's ``build()``, the steps of a screenshot).

This is the one file that knows how the engine reports compile progress: the
child forwards ``kernels.warmup(progress=...)`` reports and watches which
kernel signatures exist; when the engine's API changes, adapt it here.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys

# Runs in the child: report every (kernel, dtype) as it is compiled, then every warm-up message.
_CHILD = r'''
import json, sys, threading, time
from gradgraph import kernels
from gradgraph.kernels import _compile

def say(*report):
    print(json.dumps([str(r) if not isinstance(r, int) else r for r in report]), flush=True)

total = len(_compile.KERNELS) * len(_compile.WARM_DTYPES)
seen = set()
def watch():
    while True:
        for kernel in list(_compile.KERNELS):
            for signature in list(getattr(kernel, "signatures", ())):
                dtype = next((d for d in _compile.WARM_DTYPES if d in str(signature)), "")
                name = getattr(kernel, "py_func", kernel).__name__
                key = (name, dtype)
                if key not in seen:
                    seen.add(key)
                    say(f"{name}, {dtype}" if dtype else name, min(len(seen), total), total)
        time.sleep(0.1)

threading.Thread(target=watch, daemon=True).start()
kernels.warmup(progress=say)
'''


def describe(*report) -> str:
    """One status line from a progress report: a message, or ``(kernel, done, total)``."""
    if len(report) == 3 and all(isinstance(n, int) for n in report[1:]):
        kernel, done, total = report
        return f"Numba kernels: {done} of {total} compiled ({kernel}), {total - done} left…"
    return " ".join(str(part) for part in report)


def _cold() -> bool:
    from gradgraph import kernels
    from gradgraph.kernels import _compile

    return _compile.jit_enabled() and not kernels.is_warm()


def warm_kernels():
    """Compile the fast kernels in a child process (yielding status lines), then load them."""
    from gradgraph import kernels

    if not _cold():
        kernels.warmup()  # loads the cached machine code: milliseconds
        return ""
    yield "compiling the Numba kernels in the background (first start only)…"
    slow = kernels.get_backend() == "fast"
    if slow:  # until the fast kernels are ready, stepping and training use one that needs no compiling
        kernels.use_backend(_fallback())
    try:
        yield from _compile_in_child()
    finally:
        if slow:
            kernels.use_backend("fast")
    kernels.warmup()  # load what the child compiled
    return "Kernels ready."


def _compile_in_child():
    child = subprocess.Popen([sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ))
    try:
        for line in child.stdout:
            try:
                yield describe(*json.loads(line))
            except ValueError:
                continue  # not a report: a library printed something
        error = child.stderr.read()
        if child.wait() != 0:
            raise RuntimeError(f"compiling the kernels failed: {error.strip().splitlines()[-1:] or '?'}")
    finally:
        if child.poll() is None:  # the app is closing: let the child finish filling the cache
            child.stdout.close()


def _fallback() -> str:
    from gradgraph import kernels

    return "numpy" if "numpy" in kernels.BACKENDS else "reference"


@contextlib.contextmanager
def no_compiling():
    """Inside the block, convolutions use a backend that needs no compiling if the fast
    kernels are still cold (they are being compiled elsewhere: see :func:`warm_kernels`)."""
    from gradgraph import kernels

    if kernels.get_backend() != "fast" or not _cold():
        yield
        return
    with kernels.use_backend(_fallback()):
        yield
