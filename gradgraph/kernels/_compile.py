"""Numba plumbing for the fast kernels: one decorator, a registry, warm-up checks.

Every compiled kernel in ``fast.py`` is declared with :func:`kernel`, which is
``numba.njit(cache=True, nogil=True)`` plus bookkeeping:

* **On-disk cache.**  Compiling the conv/pool kernels takes tens of seconds the
  first time; ``cache=True`` stores the machine code so later processes load it
  in milliseconds.  Numba writes next to the source (``kernels/__pycache__``) and,
  when the package folder is read-only (a system-wide install), falls back by
  itself to the user cache folder (``~/.cache/numba``); ``NUMBA_CACHE_DIR``
  overrides both.  If no folder at all is writable the kernels still work, they
  are just compiled again in every process.
* **Registry.**  :data:`KERNELS` lists every kernel; :func:`kernel_is_warm`
  tells whether one still needs its first, slow compile (the background
  compiler reports a cache load and a real compile differently).
* **Idle threads sleep.**  :func:`start_thread_pool` starts Numba's thread pool
  with ``OMP_WAIT_POLICY=PASSIVE`` (unless you set that variable yourself): by
  default OpenMP worker threads spin for a while after every parallel loop, and on
  a laptop with two to four cores that spinning steals the CPU from whatever runs
  next -- numpy's BLAS threads (the linear layers), the Qt GUI thread, other
  processes.  Measured on 2 cores: a LeNet training step interleaving these
  kernels with BLAS matmuls ran several times slower with spinning threads.
  The variable is set only while Numba loads its OpenMP runtime, then removed.
* **NUMBA_DISABLE_JIT=1** makes ``numba.njit`` return the plain Python function;
  everything here then degrades to no-ops and the kernels run as (slow) Python.
"""

from __future__ import annotations

import os
import warnings

import numba

__all__ = ["KERNELS", "kernel", "jit_enabled", "kernel_is_warm", "disk_cache_problem",
           "start_thread_pool", "CONV_FASTMATH"]

#: Every kernel declared with :func:`kernel`, in declaration order.
KERNELS: list = []

#: Floating-point licence for the conv kernels: only re-association (so LLVM may
#: vectorise reductions and re-order sums) and FMA contraction.  Deliberately not
#: ``fastmath=True``: that would also let LLVM assume there are no NaN/inf, and a
#: NaN in the input must still come out as a NaN.
CONV_FASTMATH = frozenset({"reassoc", "contract"})

#: The dtypes :func:`gradgraph.kernels.warmup` compiles for.
WARM_DTYPES = ("float32", "float64")


def jit_enabled() -> bool:
    """False under ``NUMBA_DISABLE_JIT=1`` (kernels then run as plain Python)."""
    return not numba.config.DISABLE_JIT


def kernel(parallel: bool = False, fastmath=False):
    """Decorator: ``numba.njit(cache=True)`` and register the result in KERNELS."""

    def decorate(fn):
        flags = set(fastmath) if isinstance(fastmath, frozenset) else fastmath
        options = dict(nogil=True, parallel=parallel, fastmath=flags)
        try:
            compiled = numba.njit(cache=True, **options)(fn)
        except RuntimeError as exc:  # no writable cache folder anywhere
            warnings.warn(
                f"gradgraph.kernels: cannot cache compiled kernels on disk ({exc}); "
                "they will be recompiled in every process. Set NUMBA_CACHE_DIR to a "
                "writable folder to avoid this.",
                RuntimeWarning,
                stacklevel=2,
            )
            compiled = numba.njit(cache=False, **options)(fn)
        KERNELS.append(compiled)
        return compiled

    return decorate


def _dtypes_covered(signatures, wanted) -> bool:
    """Do ``signatures`` cover every dtype in ``wanted``?

    A kernel that takes no float arrays at all (e.g. index helpers) is covered by
    any signature.
    """
    texts = [str(sig) for sig in signatures]
    if not texts:
        return False
    found = {name for name in WARM_DTYPES for text in texts if name in text}
    return not found or set(wanted) <= found


def kernel_is_warm(dispatcher, dtypes=WARM_DTYPES) -> bool:
    """True if ``dispatcher`` needs no compiling for ``dtypes``.

    That is the case when it is already compiled in this process for them, or when
    numba's on-disk cache holds a fresh entry for this machine for each of them.
    Reads numba's cache index (a private structure); if that ever changes shape,
    the answer is a conservative False.
    """
    if not jit_enabled() or not hasattr(dispatcher, "overloads"):
        return True
    signatures = list(dispatcher.overloads.keys())
    if _dtypes_covered(signatures, dtypes):
        return True
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()  # {} when missing or stale
        # entries for this machine and this exact code (closures share one index)
        _, magic, code = cache._index_key(None, dispatcher.targetctx.codegen())
        signatures += [key[0] for key in index if key[1] == magic and key[2] == code]
    except Exception:  # pragma: no cover - depends on numba internals
        return False
    return _dtypes_covered(signatures, dtypes)


def disk_cache_problem() -> str:
    """Why kernels compiled in another process cannot reach this one ("" if they can).

    The background compiler (``compiler.py``) compiles in a child process that hands
    the machine code over through Numba's disk cache; that needs a cache on disk
    for every kernel (a kernel declared without one gets Numba's ``NullCache``).
    """
    if not jit_enabled():
        return "NUMBA_DISABLE_JIT=1"
    if any(type(getattr(k, "_cache", None)).__name__ == "NullCache" for k in KERNELS):
        return "no writable folder for Numba's disk cache (set NUMBA_CACHE_DIR to one)"
    return ""


def start_thread_pool() -> None:
    """Start Numba's thread pool now, with OpenMP workers that sleep when idle.

    Does nothing if the pool is already running, under ``NUMBA_DISABLE_JIT=1``,
    or if Numba picks a threading layer other than OpenMP (TBB, workqueue), where
    the variable has no effect.  Respects an ``OMP_WAIT_POLICY`` or
    ``GOMP_SPINCOUNT`` already in the environment.  Uses Numba's private
    ``_launch_threads``; if that ever changes, Numba starts the pool lazily as
    usual.
    """
    if not jit_enabled():
        return
    try:
        from numba.np.ufunc import parallel

        if getattr(parallel, "_is_initialized", True):
            return
        if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
            parallel._launch_threads()
            return
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # read once, when libgomp loads
        try:
            parallel._launch_threads()
        finally:
            os.environ.pop("OMP_WAIT_POLICY", None)
    except Exception:  # pragma: no cover - numba internals
        pass
