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


def test_the_training_tab_pauses_on_the_worker_and_its_errors_arrive_on_the_main_thread(qtbot):
    """Training runs as a GeneratorWorker: pause stops the records, resume and stop finish it."""
    import types

    from gradgraph import data, nn, optim
    from gradgraph.train import Trainer
    from gradgraph_gui.training_view import TrainPanel

    def trainer(quick=False, epochs=200, batch_size=8):
        x, y = data.xor(400)
        nn.manual_seed(0)
        model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        return Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, y), (x[:80], y[:80]),
                       epochs=epochs, batch_size=batch_size)

    panel = TrainPanel()
    qtbot.addWidget(panel)
    panel.set_lesson(None, types.SimpleNamespace(trainer=trainer))
    assert panel.start()
    qtbot.waitUntil(lambda: len(panel.history["step"]) > 3, timeout=10000)
    panel.pause_button.click()
    assert panel.worker.is_paused
    qtbot.wait(150)
    frozen = len(panel.history["step"])
    qtbot.wait(300)
    assert len(panel.history["step"]) == frozen, "no step while paused"
    with qtbot.waitSignal(panel.finished, timeout=20000) as blocker:
        panel.stop_button.click()  # stopping a paused run resumes it to its "stopped" record
    assert blocker.args == ["stopped"] and not panel.running

    def broken(quick=False):
        run = trainer()
        run.records = lambda: (_ for _ in ()).throw(RuntimeError("model exploded"))
        return run

    errors = []
    panel.errorRaised.connect(lambda where, error, tb: errors.append((where, error, tb)))
    panel.set_lesson(None, types.SimpleNamespace(trainer=broken))
    with qtbot.waitSignal(panel.finished, timeout=20000) as blocker:
        assert panel.start()
    assert blocker.args == ["error"]
    assert errors[0][0] == "training" and "model exploded" in errors[0][2]
