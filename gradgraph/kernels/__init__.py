"""Convolution and pooling kernels on plain numpy arrays (NCHW): three backends.

* ``reference`` -- readable loops, the specification (``reference.py``).
* ``numpy``     -- vectorized numpy: im2col + one matrix product, strided views
  for pooling (``vectorized.py``).  Ready the moment gradgraph is imported.
* ``fast``      -- Numba kernels (``fast.py``), the fastest once compiled.  The
  first compile takes seconds per kernel; Numba caches the machine code on disk,
  so later processes only load it.

All three have the same functions with the same signatures, and the argument and
shape checks of ``shapes.py``.  The module-level functions below dispatch to the
selected backend.  The default, ``"auto"``, never makes you wait for a compiler:
each call runs on its Numba kernel if that is compiled (or loaded from the disk
cache) for this dtype, and otherwise on numpy while a child process compiles it
into the disk cache and a background thread then loads it (``compiler.py``);
from the next call on it runs on Numba.  Only the kernels
and dtypes actually used are compiled.  Under ``NUMBA_DISABLE_JIT=1`` "auto"
stays on numpy.

Select a backend with :func:`use_backend` (also a context manager) or, for a whole
run, the environment variable ``GRADGRAPH_KERNELS=reference|numpy|fast|auto``.
The choice is a context variable: it applies to the thread (or asyncio task) that
made it, so a training thread is not switched by the GUI thread, and vice versa.

Compile progress, Qt-free, for the terminal and the app (see ``compiler.py``)::

    compile_status() -> CompileStatus     # compiling, done, total, pending, ready, failed
    subscribe(callback) -> unsubscribe    # callback(CompileEvent), on the compiler thread
    wait(timeout=None) -> bool            # until nothing is left to compile
    print_progress(stream) -> unsubscribe # the terminal's one-line-per-kernel report

Public API::

    conv_output_size(size, kernel, stride=1, padding=0, dilation=1) -> int
    check_conv_shapes(x_shape, w_shape, b_shape=None, stride=1, padding=0,
                      dilation=1, name="conv2d") -> (OH, OW)
    check_pool_shapes(x_shape, kernel, stride=None, padding=0, name="pool2d") -> (OH, OW)
    conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1) -> out
    conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1,
                    need_dx=True, need_dw=True) -> (d_x, d_w, d_b)
    max_pool2d_forward(x, kernel, stride=None, padding=0) -> (out, argmax)
    max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0) -> d_x
    avg_pool2d_forward(x, kernel, stride=None, padding=0) -> out
    avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0) -> d_x
    use_backend(name) / get_backend() / warmup(progress=None) / is_warm()
"""

from __future__ import annotations

import contextvars
import importlib
import os

import numpy as np

from . import compiler, reference, vectorized
from .compiler import CompileEvent, CompileStatus, compile_status, print_progress, subscribe, wait
from .shapes import (
    ARGMAX_DTYPE,
    KERNEL_FUNCTIONS,
    check_conv_shapes,
    check_pool_shapes,
    conv_output_size,
    float_dtype,
    is_lenet_pool,
    pair,
)

__all__ = [
    "ARGMAX_DTYPE",
    "BACKENDS",
    "CompileEvent",
    "CompileStatus",
    "conv_output_size",
    "check_conv_shapes",
    "check_pool_shapes",
    *KERNEL_FUNCTIONS,
    "use_backend",
    "get_backend",
    "warmup",
    "is_warm",
    "compile_status",
    "subscribe",
    "wait",
    "print_progress",
]

#: The backend names; "auto" is the default.
BACKENDS = ("auto", "fast", "numpy", "reference")

COMPILE_MESSAGE = "compiling conv/pool kernels (first run only)..."


def _backend_from_env():
    name = os.environ.get("GRADGRAPH_KERNELS", "auto").strip().lower() or "auto"
    if name not in BACKENDS:
        raise ValueError(f"GRADGRAPH_KERNELS={name!r}: expected one of {', '.join(BACKENDS)}")
    return name


_DEFAULT = _backend_from_env()
_selected = contextvars.ContextVar("gradgraph_kernel_backend")
_JIT = os.environ.get("NUMBA_DISABLE_JIT", "").strip() in ("", "0")


class use_backend:
    """Select the kernel backend: ``"auto"`` (default), ``"fast"``, ``"numpy"`` or ``"reference"``.

    Takes effect immediately and stays in effect in this thread, or, used as a
    context manager, only inside the ``with`` block::

        with kernels.use_backend("reference"):
            out = kernels.conv2d_forward(x, w, b)

    Other threads keep their own choice (a new thread starts with the default).
    """

    def __init__(self, name: str):
        if name not in BACKENDS:
            raise ValueError(f"unknown kernel backend {name!r}: expected one of {', '.join(BACKENDS)}")
        self.previous = get_backend()
        self.name = name
        self._token = _selected.set(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _selected.reset(self._token)
        return False


def get_backend() -> str:
    """Name of the backend the module-level functions use in this thread."""
    return _selected.get(_DEFAULT)


def _fast():
    """The Numba backend, imported on first use (importing Numba takes a second or two)."""
    return importlib.import_module(".fast", __name__)


def _build(task):
    """Compile ``task`` (runs on the compiler thread; the first call imports Numba)."""
    _fast().compile_task(task)


def _child_problem() -> str:
    """Why a child process cannot compile the kernels for us ("" if it can; see compiler.py)."""
    if os.environ.get("GRADGRAPH_COMPILE_IN_CHILD", "").strip() == "0":
        return "GRADGRAPH_COMPILE_IN_CHILD=0"
    _fast()  # declares the kernels
    return importlib.import_module("._compile", __name__).disk_cache_problem()


_build.is_cached = lambda task: _fast().is_cached(task)
_build.child = "gradgraph.kernels.fast:compile_task"  # the child runs the same code: same specialisation
_build.child_problem = _child_problem


def _run(op, task, *args):
    """Call ``op`` on the selected backend; under "auto", on Numba once ``task`` is ready."""
    name = get_backend()
    if name == "reference":
        return getattr(reference, op)(*args)
    if name == "numpy":
        return getattr(vectorized, op)(*args)
    if name == "fast" or compiler.is_ready(task):
        return getattr(_fast(), op)(*args)
    result = getattr(vectorized, op)(*args)  # checks the arguments before we ask for a kernel
    if _JIT:
        compiler.request(task, _build)
    return result


def _conv_task(op, x, stride, need_dx=None, need_dw=None):
    """``(op, variant, dtype)``: the Numba code path is "stride 1" (wide rows) or "strided"."""
    variant = "stride 1" if pair(stride, "stride") == (1, 1) else "strided"
    if need_dx is not None:
        variant += (", d_x" if need_dx else "") + (", d_w" if need_dw else "")
    return op, variant, float_dtype(np.asarray(x).dtype).name


def _pool_task(op, x, kernel=None, stride=None, padding=0):
    """``(op, variant, dtype)``: 2x2 windows have their own Numba kernels (for max
    pooling, 2x2 windows at stride 2 without padding)."""
    if op == "max_pool2d_forward":
        variant = "2x2 stride 2" if is_lenet_pool(kernel, stride, padding) else "any"
    else:
        variant = "2x2" if kernel is not None and pair(kernel, "kernel") == (2, 2) else "any"
    return op, variant, float_dtype(np.asarray(x).dtype).name


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    task = _conv_task("conv2d_forward", x, stride)
    return _run("conv2d_forward", task, x, w, b, stride, padding, dilation)


def conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1, need_dx=True, need_dw=True):
    task = _conv_task("conv2d_backward", x, stride, need_dx, need_dw)
    return _run("conv2d_backward", task, d_out, x, w, stride, padding, dilation, need_dx, need_dw)


def max_pool2d_forward(x, kernel, stride=None, padding=0):
    task = _pool_task("max_pool2d_forward", x, kernel, stride, padding)
    return _run("max_pool2d_forward", task, x, kernel, stride, padding)


def max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0):
    task = _pool_task("max_pool2d_backward", d_out)
    return _run("max_pool2d_backward", task, d_out, argmax, x_shape, kernel, stride, padding)


def avg_pool2d_forward(x, kernel, stride=None, padding=0):
    task = _pool_task("avg_pool2d_forward", x, kernel)
    return _run("avg_pool2d_forward", task, x, kernel, stride, padding)


def avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0):
    task = _pool_task("avg_pool2d_backward", d_out, kernel)
    return _run("avg_pool2d_backward", task, d_out, x_shape, kernel, stride, padding)


for _name in KERNEL_FUNCTIONS:
    globals()[_name].__doc__ = (f"Dispatch to the selected backend; see "
                                f"gradgraph.kernels.reference.{_name}.\n\n"
                                + (getattr(reference, _name).__doc__ or ""))
del _name


def is_warm(dtypes=("float32", "float64")) -> bool:
    """True if no fast kernel needs compiling for ``dtypes`` (compiled, or in the disk cache).

    Always True under ``NUMBA_DISABLE_JIT=1``.  Imports Numba.
    """
    if not _JIT:
        return True
    fast = _fast()
    return all(fast.is_cached(task) for task in fast.all_tasks(dtypes))


def warmup(progress=None, dtypes=("float32", "float64")) -> bool:
    """Compile (or load from the disk cache) every fast kernel for ``dtypes``, and wait.

    Not needed for speed ("auto" compiles what is used, in the background); for
    tests and benchmarks that want the Numba kernels from the first call.  When
    something really has to be compiled, reports ``COMPILE_MESSAGE``, then each
    kernel, then the time it took, through ``progress(message)`` (default: none).
    Returns True if it compiled, False if everything was already warm. A kernel that
    fails to compile is a RuntimeError naming it and the error (under "auto" numpy
    would quietly keep running it, which a benchmark must not mistake for Numba).
    """
    if not _JIT:
        return False
    compiled, failures = [], []

    def report(event):
        if event.kind == "failed":
            failures.append(f"{event.kernel}: {event.error}")
            if progress is not None:
                progress(str(event))
        if event.kind == "started" and not event.cached:
            if not compiled and progress is not None:
                progress(COMPILE_MESSAGE)
            compiled.append(event.kernel)
            if progress is not None:
                progress(str(event))

    unsubscribe = subscribe(report)
    try:
        for task in _fast().all_tasks(dtypes):
            compiler.request(task, _build)
        wait()
    finally:
        unsubscribe()
    if compiled and progress is not None:
        progress(f"compiled {len(compiled)} conv/pool kernel(s)")
    failed = compile_status().failed
    if failed:
        raise RuntimeError("gradgraph.kernels: Numba kernels failed to compile (numpy runs them instead): "
                           + "; ".join(failures or failed))
    return bool(compiled)
