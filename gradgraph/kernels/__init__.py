"""Convolution and pooling kernels on plain numpy arrays (NCHW), two backends.

* ``reference`` -- readable loops, the specification (see ``reference.py``).
* ``fast``      -- Numba kernels with the same signatures (see ``fast.py``).

The module-level functions below dispatch to the selected backend, ``fast`` by
default.  Select another with :func:`use_backend` (also a context manager) or,
for a whole run, the environment variable ``GRADGRAPH_KERNELS=reference``.

The fast kernels are compiled by Numba the first time they run (tens of seconds,
once: the machine code is cached on disk).  :func:`warmup` does that up front and
says so; the first call into the fast backend calls it automatically when the
cache is cold, so the wait is never silent.

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

import os
import sys
import time

import numpy as np

from . import fast, reference
from ._compile import KERNELS, jit_enabled, kernel_is_warm
from .reference import ARGMAX_DTYPE, check_conv_shapes, check_pool_shapes, conv_output_size

__all__ = [
    "ARGMAX_DTYPE",
    "BACKENDS",
    "conv_output_size",
    "check_conv_shapes",
    "check_pool_shapes",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "use_backend",
    "get_backend",
    "warmup",
    "is_warm",
]

BACKENDS = {"reference": reference, "fast": fast}

COMPILE_MESSAGE = "compiling conv/pool kernels (first run only)..."


def _backend_from_env():
    name = os.environ.get("GRADGRAPH_KERNELS", "fast").strip().lower() or "fast"
    if name not in BACKENDS:
        raise ValueError(f"GRADGRAPH_KERNELS={name!r}: expected one of {sorted(BACKENDS)}")
    return name


_backend = _backend_from_env()
_warm_checked = False  # has the fast backend checked its compile cache in this process?


class use_backend:
    """Select the kernel backend: ``"fast"`` (default) or ``"reference"``.

    Takes effect immediately and stays in effect, or, used as a context manager,
    only inside the ``with`` block::

        with kernels.use_backend("reference"):
            out = kernels.conv2d_forward(x, w, b)
    """

    def __init__(self, name: str):
        global _backend
        if name not in BACKENDS:
            raise ValueError(f"unknown kernel backend {name!r}: expected one of {sorted(BACKENDS)}")
        self.previous = _backend
        self.name = name
        _backend = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _backend
        _backend = self.previous
        return False


def get_backend() -> str:
    """Name of the backend the module-level functions use."""
    return _backend


def _impl():
    global _warm_checked
    if _backend == "fast" and not _warm_checked:
        _warm_checked = True
        if not is_warm():
            warmup()
    return BACKENDS[_backend]


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    return _impl().conv2d_forward(x, w, b, stride, padding, dilation)


def conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1, need_dx=True, need_dw=True):
    return _impl().conv2d_backward(d_out, x, w, stride, padding, dilation, need_dx, need_dw)


def max_pool2d_forward(x, kernel, stride=None, padding=0):
    return _impl().max_pool2d_forward(x, kernel, stride, padding)


def max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0):
    return _impl().max_pool2d_backward(d_out, argmax, x_shape, kernel, stride, padding)


def avg_pool2d_forward(x, kernel, stride=None, padding=0):
    return _impl().avg_pool2d_forward(x, kernel, stride, padding)


def avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0):
    return _impl().avg_pool2d_backward(d_out, x_shape, kernel, stride, padding)


for _name in ("conv2d_forward", "conv2d_backward", "max_pool2d_forward",
              "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"):
    globals()[_name].__doc__ = (f"Dispatch to the selected backend; see "
                                f"gradgraph.kernels.reference.{_name}.\n\n"
                                + (getattr(reference, _name).__doc__ or ""))
del _name


def is_warm() -> bool:
    """True if the fast kernels need no compiling (in memory or cached on disk).

    Always True under ``NUMBA_DISABLE_JIT=1``.
    """
    return all(kernel_is_warm(k) for k in KERNELS)


def _exercise(dtype):
    """Run every fast kernel once on tiny inputs of ``dtype``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    for stride, padding in (((1, 1), (1, 1)), ((2, 2), (0, 0))):  # wide-row and direct paths
        out = fast.conv2d_forward(x, w, b, stride, padding, (1, 1))
        fast.conv2d_backward(np.ones_like(out), x, w, stride, padding, (1, 1))
    for size in fast._POOL_SIZES + ((3, 3),):  # the specialised sizes and the general kernel
        out, arg = fast.max_pool2d_forward(x, size, (2, 2), (1, 1))
        fast.max_pool2d_backward(np.ones_like(out), arg, x.shape, size, (2, 2), (1, 1))
        out = fast.avg_pool2d_forward(x, size, (2, 2), (1, 1))
        fast.avg_pool2d_backward(np.ones_like(out), x.shape, size, (2, 2), (1, 1))


def warmup(progress=None) -> bool:
    """Compile (or load from the on-disk cache) every fast kernel, float32 and float64.

    When something really has to be compiled -- the first run on this machine, or
    after the kernel sources changed -- first reports ``COMPILE_MESSAGE`` through
    ``progress(message)`` (default: print to stderr), then how long it took.
    Returns True if it compiled, False if everything was already warm.
    """
    global _warm_checked
    _warm_checked = True
    if not jit_enabled():
        return False
    if is_warm():
        for dtype in (np.float32, np.float64):  # cheap: loads the cached code
            _exercise(dtype)
        return False

    def say(message):
        if progress is not None:
            progress(message)
        else:
            print(message, file=sys.stderr, flush=True)

    say(COMPILE_MESSAGE)
    start = time.perf_counter()
    for dtype in (np.float32, np.float64):
        _exercise(dtype)
    say(f"compiled conv/pool kernels in {time.perf_counter() - start:.1f} s")
    return True
