"""The background compiler compiles in a child process and loads the result from
Numba's disk cache (gradgraph/kernels/compiler.py); without a usable child it
compiles in this process and says why, once."""
from __future__ import annotations

import sys
import time

import pytest

from gradgraph.kernels import _compile, compiler

TASK = ("triple", "any", "float64")
OTHER = ("triple", "any", "float32")

# A module of one tiny Numba kernel: cheap to compile, and cached in the temp folder.
TINY_KERNELS = '''
import numba
import numpy as np

@numba.njit(cache=True)
def triple(a):
    return 3 * a

def compile_task(task):
    triple(np.dtype(task[2]).type(1.5))
'''

SLOW_CHILD = '''
import time

def compile_task(task):
    time.sleep(60)
'''


def child_build(module, target, problem=""):
    """A build like the engine's: compiles in the child with ``target``, loads here."""
    built = []

    def build(task):
        built.append(task)
        module.compile_task(task)

    build.is_cached = lambda task: _compile.kernel_is_warm(module.triple, (task[2],))
    build.child = target
    build.child_problem = lambda: problem
    build.built = built
    return build


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    if not _compile.jit_enabled():
        pytest.skip("NUMBA_DISABLE_JIT=1: nothing is compiled")
    (tmp_path / "tiny_kernels.py").write_text(TINY_KERNELS)
    (tmp_path / "slow_child.py").write_text(SLOW_CHILD)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tiny_kernels", "slow_child"):  # each test compiles its own fresh copy
        monkeypatch.delitem(sys.modules, name, raising=False)
    import tiny_kernels

    return tiny_kernels


@pytest.fixture
def worker():
    worker = compiler._Compiler()
    events = []
    worker.subscribe(events.append)
    worker.events = events
    yield worker
    worker.stop()


def kinds(events):
    return [e.kind for e in events if e.kind != "queued"]


def test_the_child_compiles_and_this_process_only_loads_from_the_disk_cache(tiny, worker):
    build = child_build(tiny, "tiny_kernels:compile_task")
    assert not build.is_cached(TASK)
    worker.request(TASK, build)
    assert worker.wait(60)
    assert kinds(worker.events) == ["started", "finished", "idle"]
    assert worker.events[1].cached is False and TASK in worker.ready
    # the same specialisation was looked up here and found on disk: no compile in this process
    assert sum(tiny.triple._cache_hits.values()) == 1 and not tiny.triple._cache_misses
    assert worker.child is None  # idle: the child process has exited


def test_a_child_that_cannot_start_means_compiling_here_said_once(tiny, worker):
    build = child_build(tiny, "no_such_module_here:compile_task")
    worker.request(TASK, build)
    worker.request(OTHER, build)
    assert worker.wait(60)
    assert kinds(worker.events) == ["started", "fallback", "finished", "started", "finished", "idle"]
    fallback = worker.events[[e.kind for e in worker.events].index("fallback")]
    assert "No module named 'no_such_module_here'" in fallback.error
    assert str(fallback).startswith("compiling in this process from now on")
    assert build.built == [TASK, OTHER] and worker.ready == {TASK, OTHER}
    assert sum(tiny.triple._cache_misses.values()) >= 1  # compiled here, not loaded


def test_without_a_disk_cache_kernels_compile_here(tiny, worker):
    build = child_build(tiny, "tiny_kernels:compile_task", problem="no writable folder for the cache")
    worker.request(TASK, build)
    assert worker.wait(60)
    assert [(e.kind, e.error) for e in worker.events if e.kind == "fallback"] == [
        ("fallback", "no writable folder for the cache")]
    assert worker.ready == {TASK} and worker.child is None


def child_compiling(worker, build):
    """Ask for two kernels; returns the child process once it has started on the first."""
    worker.request(TASK, build)
    worker.request(OTHER, build)
    deadline = time.monotonic() + 30
    while worker.child is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return worker.child.process


def test_stop_kills_the_child_and_leaves_the_kernel_for_next_time(tiny, worker):
    build = child_build(tiny, "slow_child:compile_task")
    process = child_compiling(worker, build)
    start = time.monotonic()
    worker.stop()
    assert time.monotonic() - start < 5 and process.returncode is not None
    assert not worker.thread.is_alive() and worker.ready == set() and build.built == []
    assert kinds(worker.events) == ["started", "stopped"]
    assert worker.events[-1].kernel == "" and "finishes" not in str(worker.events[-1])  # killed: nothing
    assert worker.wait(1)  # nothing left to wait for


def test_the_engine_build_compiles_its_kernels_in_a_child(monkeypatch):
    from gradgraph import kernels

    assert kernels._build.child == "gradgraph.kernels.fast:compile_task"
    monkeypatch.setenv("GRADGRAPH_COMPILE_IN_CHILD", "0")
    assert kernels._build.child_problem() == "GRADGRAPH_COMPILE_IN_CHILD=0"
    monkeypatch.delenv("GRADGRAPH_COMPILE_IN_CHILD")
    expected = "" if _compile.jit_enabled() else "NUMBA_DISABLE_JIT=1"
    assert kernels._build.child_problem() == expected


def test_at_a_normal_exit_the_child_finishes_its_kernel_into_the_cache(tiny, worker):
    build = child_build(tiny, "tiny_kernels:compile_task")
    process = child_compiling(worker, build)
    start = time.monotonic()
    worker.stop(kill=False)  # what atexit does: no waiting for the child
    assert time.monotonic() - start < 1
    assert process.wait(timeout=60) == 0  # it compiled what it had, then saw its input close
    assert build.is_cached(TASK) and not build.is_cached(OTHER)
    stopped = [e for e in worker.events if e.kind == "stopped"]
    assert len(stopped) == 1 and stopped[0].kernel == compiler.task_name(TASK)
    assert f"{compiler.task_name(TASK)} finishes in the background, the rest compile next time" in str(stopped[0])
