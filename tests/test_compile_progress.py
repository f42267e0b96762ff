"""The status bar shows the engine's kernel compile progress (gui/compile_progress.py)."""
import threading
import time

import pytest
from PySide6.QtCore import QThread

from gradgraph import kernels
from gradgraph.kernels import compiler
from gradgraph_gui.compile_progress import CompileProgress, short_name, status_line

FORWARD = ("conv2d_forward", "stride 1", "float32")
BACKWARD = ("conv2d_backward", "stride 1, d_x, d_w", "float32")
POOL = ("max_pool2d_forward", "2x2", "float32")


@pytest.fixture
def engine(monkeypatch):
    """A compiler of our own, so the test sees only its own events."""
    worker = compiler._Compiler()
    monkeypatch.setattr(compiler, "_compiler", worker)
    yield worker
    worker.stop()


def fake_build(seconds=0.05, cached=()):
    def build(task):
        time.sleep(seconds)

    build.is_cached = lambda task: task in cached
    return build


def test_status_lines_name_the_kernel_and_what_is_left():
    started = kernels.CompileEvent("started", "conv2d_forward (float32, stride 1)", 1, 5)
    assert status_line(started) == ("Compiling conv2d_forward (float32) — 2 of 5, 3 left "
                                    "(numpy runs it meanwhile; first run only)…")
    assert status_line(kernels.CompileEvent("started", "x (float32)", 0, 1, cached=True)) is None
    assert status_line(kernels.CompileEvent("finished", "x (float32)", 1, 2)) is None
    assert status_line(kernels.CompileEvent("idle", "", 2, 2)) == ""
    fallback = kernels.CompileEvent("fallback", "", 0, 1, error="no writable folder")
    assert status_line(fallback).endswith("no writable folder")
    assert short_name("max_pool2d_backward (float64, any)") == "max_pool2d_backward (float64)"


def test_progress_reaches_the_gui_thread_from_the_compiler_thread(engine, qtbot):
    progress = CompileProgress()
    shown, threads = [], []

    def show(text, timeout_ms):
        shown.append((text, timeout_ms))
        threads.append(QThread.currentThread())

    progress.message.connect(show)
    build = fake_build(cached={POOL})
    with engine.lock:  # all three asked before the thread starts on the first
        for task in (FORWARD, BACKWARD, POOL):
            kernels.compiler.request(task, build)
    qtbot.waitUntil(lambda: bool(shown) and shown[-1][0].startswith("Numba kernels ready"), timeout=10000)
    assert [text.split(" (numpy")[0] for text, _ in shown] == [
        "Compiling conv2d_forward (float32) — 1 of 3, 2 left",
        "Compiling conv2d_backward (float32) — 2 of 3, 1 left",
        "Numba kernels ready: 2 compiled, in use from now on."]  # the cached one only loaded
    assert shown[-1][1] == 5000 and shown[0][1] == 0
    assert all(thread is progress.thread() for thread in threads)
    assert threading.current_thread() is threading.main_thread()
    progress.close()
    assert engine.listeners == []


def test_the_window_status_bar_shows_compiling_then_clears(window, engine, qtbot):
    window.start_warmup()
    window.start_warmup()  # idempotent: one subscription
    assert len(engine.listeners) == 1
    gate = threading.Event()

    def build(task):
        gate.wait(10)

    build.is_cached = lambda task: False
    kernels.compiler.request(FORWARD, build)
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith(
        "Compiling conv2d_forward (float32) — 1 of 1, 0 left"), timeout=5000)
    gate.set()
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Numba kernels ready"),
                    timeout=5000)


def test_subscribing_mid_compile_shows_the_kernel_at_once(engine, qtbot):
    gate = threading.Event()

    def build(task):
        gate.wait(10)

    build.is_cached = lambda task: False
    kernels.compiler.request(POOL, build)
    qtbot.waitUntil(lambda: kernels.compile_status().compiling is not None, timeout=5000)
    progress = CompileProgress()
    with qtbot.waitSignal(progress.message, timeout=5000) as signal:
        pass
    assert signal.args[0].startswith("Compiling max_pool2d_forward (float32) — 1 of 1, 0 left")
    gate.set()
    progress.close()
