"""The app's one background-work abstraction: a generator on a thread, signals on the main thread."""
import threading

import pytest

pytest.importorskip("PySide6")

from gradgraph_gui.worker import GeneratorWorker, run_in_background  # noqa: E402


def collect(worker):
    seen = []
    for name in ("started", "yielded", "returned", "errored", "finished"):
        getattr(worker, name).connect(lambda *value, name=name: seen.append(
            (name, value[0] if value else None, threading.current_thread() is threading.main_thread())))
    return seen


def test_signals_arrive_in_order_on_the_main_thread(qtbot):
    def count(n):
        worker_thread.append(threading.current_thread())
        for i in range(n):
            yield i
        return "done"

    worker_thread = []
    worker = GeneratorWorker(count, 3)
    seen = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert [(n, v) for n, v, _ in seen] == [("started", None), ("yielded", 0), ("yielded", 1), ("yielded", 2),
                                            ("returned", "done"), ("finished", None)]
    assert all(main for _, _, main in seen)
    assert worker_thread[0] is not threading.main_thread()
    assert worker.is_finished and not worker.is_running


def test_a_plain_function_returns_and_an_exception_is_errored(qtbot):
    worker = GeneratorWorker(lambda a, b: a * b, 6, b=7)
    seen = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    assert ("returned", 42) in [(n, v) for n, v, _ in seen]

    def broken():
        yield 1
        raise ZeroDivisionError("boom")

    worker = GeneratorWorker(broken)
    seen = collect(worker)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.start()
    names = [n for n, _, _ in seen]
    assert names == ["started", "yielded", "errored", "finished"]
    error = seen[2][1]
    assert isinstance(error, ZeroDivisionError) and error.__traceback__ is not None


def test_pause_waits_at_the_next_yield_and_quit_closes_the_generator(qtbot):
    gate = threading.Event()
    closed = []

    def forever():
        try:
            i = 0
            while True:
                gate.wait()
                yield i
                i += 1
        finally:
            closed.append(True)

    worker = GeneratorWorker(forever)
    values = []
    worker.yielded.connect(values.append)
    worker.start()
    worker.pause()
    assert worker.is_paused
    gate.set()
    qtbot.waitUntil(lambda: len(values) == 1, timeout=5000)
    qtbot.wait(100)
    assert values == [0]  # paused after the first yield
    with qtbot.waitSignal(worker.resumed):
        worker.resume()
    qtbot.waitUntil(lambda: len(values) > 3, timeout=5000)
    returned = []
    worker.returned.connect(returned.append)
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.quit()
    assert closed == [True] and returned == []
    assert worker.join(1)


def test_run_in_background_connects_the_handlers(qtbot):
    got = []
    worker = run_in_background(lambda: 5, on_return=got.append, on_finish=lambda: got.append("end"))
    qtbot.waitUntil(lambda: worker.is_finished, timeout=5000)
    assert got == [5, "end"]
    with pytest.raises(RuntimeError, match="already started"):
        worker.start()
