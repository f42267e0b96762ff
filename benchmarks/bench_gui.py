"""Desktop app bars: startup time, stepping speed, event-loop latency while training.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py            # all three
    xvfb-run -a python benchmarks/bench_gui.py startup                  # under X

1. startup: time from process start to the main window's first paint (warm caches),
   median of 5 launches of ``python -m gradgraph``.
2. stepping: a ~500-node graph in the app, steps per second over the whole forward and
   backward pass including the repaint, and the number of layouts (must stay 1); then
   the same with small matrices, every entry written in every box (``matrices``).
3. training: LeNet-5 on the bundled Fashion-MNIST starter subset (one epoch of 4,500
   images, batch 64) in the Train tab's worker thread while a 10 ms QTimer heartbeat
   measures how late the event loop runs it: max and 99th percentile.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GRADGRAPH_SETTINGS_DIR", tempfile.mkdtemp(prefix="gradgraph-bench-"))

import numpy as np  # noqa: E402


def bench_startup(runs: int = 5) -> dict:
    env = dict(os.environ, GRADGRAPH_STARTUP_PROBE="1")
    times = []
    for k in range(runs + 1):  # the first launch warms the OS caches
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "gradgraph"], env=env, capture_output=True, text=True,
                             timeout=120)
        line = next((l for l in out.stdout.splitlines() if l.startswith("first-paint")), None)
        if line is None:
            raise RuntimeError(f"no first-paint line:\n{out.stdout}\n{out.stderr}")
        if k:
            times.append(float(line.split()[1]) - t0)
    return {"median_s": statistics.median(times), "max_s": max(times), "runs": runs}


def big_graph(nodes: int = 500, matrices: bool = False):
    """A chain of ~``nodes`` tanh(h * w + 0.01) steps on 16 numbers: a vector (one line per
    box), or with ``matrices`` a 2 x 8 matrix whose every entry each box writes out."""
    import gradgraph as gg

    shape = (2, 8) if matrices else (16,)
    x = gg.Tensor(np.linspace(-1, 1, 16).reshape(shape), name="x")
    w = gg.Tensor(np.full(shape, 0.9), name="w")
    h = x
    while True:
        h = (h * w + 0.01).tanh()
        if len(gg.topological_order(h)) >= nodes - 1:
            break
    return h.sum()


def bench_stepping(nodes: int = 500, matrices: bool = False) -> dict:
    from PySide6.QtWidgets import QApplication

    from gradgraph_gui.main_window import MainWindow
    from gradgraph_gui.models import GraphSession

    app = QApplication.instance() or QApplication([])
    window = MainWindow(screenshot_mode=True)
    window.resize(1400, 900)
    window.show()
    t = time.perf_counter()
    session = GraphSession(big_graph(nodes, matrices))
    window.set_session(session)
    app.processEvents()
    setup = time.perf_counter() - t
    layouts = window.graph_view.layout_count
    steps = 0
    t = time.perf_counter()
    while session.position < session.length:
        window.actions["step"].trigger()   # what the Right key does
        app.processEvents()                # repaint the changed items
        steps += 1
    elapsed = time.perf_counter() - t
    # again with the whole graph on screen (zoomed out: every item repaints)
    window.graph_view.fit()
    session.reset()
    app.processEvents()
    t = time.perf_counter()
    while session.position < session.length:
        window.actions["step"].trigger()
        app.processEvents()
    elapsed_all = time.perf_counter() - t
    result = {"nodes": len(session), "steps": steps, "steps_per_s": steps / elapsed,
              "steps_per_s_fit": steps / elapsed_all,
              "layouts_during_stepping": window.graph_view.layout_count - layouts, "setup_s": setup}
    window.close()
    return result


def lenet_module(epochs=1, limit=None):
    """A stand-in lesson module whose trainer() trains LeNet-5 on the bundled starter subset."""
    import types

    import gradgraph as gg
    from gradgraph import data, nn, optim
    from gradgraph.train import Trainer

    def trainer(quick=False, dataset="fashion-mnist-starter", epochs=epochs, batch_size=64, lr=1e-3,
                optimizer="adam"):
        x, y = data.load_starter("train")
        x = data.normalize_images(x)
        if limit:
            x, y = x[:limit], y[:limit]
        (xt, yt), (xv, yv) = data.train_val_split(x, y, 0.1, seed=0)
        nn.manual_seed(0)
        model = nn.LeNet5()
        opt = {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop}[optimizer](model.parameters(), lr=lr)
        return Trainer(model, opt, (xt, yt), (xv, yv), epochs=epochs, batch_size=batch_size)

    module = types.ModuleType("bench_lenet_lesson")
    module.trainer = trainer
    module.DATASETS = ["fashion-mnist-starter"]
    return module, gg


def bench_training(max_steps=None) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from gradgraph import kernels
    from gradgraph_gui.main_window import MainWindow

    kernels.warmup()
    app = QApplication.instance() or QApplication([])
    window = MainWindow(screenshot_mode=True)
    window.resize(1400, 900)
    window.show()
    panel = window._ensure_train_panel()
    module, _ = lenet_module()
    panel.set_lesson(None, module)
    window.tabs.setTabEnabled(2, True)
    window.tabs.setCurrentIndex(2)
    app.processEvents()

    interval = 0.010
    lateness, when = [], []
    last = [time.perf_counter()]

    def beat():
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - interval))
        when.append(now - t)
        last[0] = now

    heart = QTimer()
    heart.setInterval(int(interval * 1000))
    heart.timeout.connect(beat)
    loop = QEventLoop()
    panel.finished.connect(loop.quit)
    t = time.perf_counter()
    panel.start(max_steps=max_steps)
    heart.start()
    last[0] = time.perf_counter()
    loop.exec()                          # the app's event loop, as when a student trains
    heart.stop()
    elapsed = time.perf_counter() - t
    panel.flush()
    lat = np.array(lateness) * 1000 if lateness else np.array([0.0])
    worst = sorted(zip(lateness, when), reverse=True)[:5]
    result = {"worst": [(round(a * 1000), round(b, 2)) for a, b in worst], "steps": len(panel.history["step"]), "train_s": elapsed, "beats": len(lat),
              "max_ms": float(lat.max()), "p99_ms": float(np.percentile(lat, 99)),
              "median_ms": float(np.median(lat)), "final": panel.final_kind,
              "val_accuracy": panel.history["val_acc"][-1] if panel.history["val_acc"] else None}
    window.close()
    return result


def main(argv):
    which = argv or ["startup", "stepping", "training"]
    if "startup" in which:
        r = bench_startup()
        print(f"startup: first paint after {r['median_s']:.2f} s (median of {r['runs']}), max {r['max_s']:.2f} s "
              f"[bar: < 2 s]")
    for kind, matrices in (("stepping", False), ("matrices", True)):
        if kind not in which and not (kind == "matrices" and "stepping" in which):
            continue
        r = bench_stepping(matrices=matrices)
        print(f"{'stepping' if not matrices else 'stepping, every box a 2x8 matrix'}: {r['nodes']} nodes, "
              f"{r['steps']} steps at {r['steps_per_s']:.0f} steps/s "
              f"({r['steps_per_s_fit']:.0f} steps/s with the whole graph fitted on screen), "
              f"{r['layouts_during_stepping']} re-layouts while stepping (graph set-up {r['setup_s']:.2f} s) "
              f"[bar: >= {60 if matrices else 30} steps/s, 0 re-layouts]")
    if "training" in which:
        r = bench_training()
        print(f"training: LeNet-5, {r['steps']} steps in {r['train_s']:.1f} s ({r['final']}, val accuracy "
              f"{r['val_accuracy']}); event-loop lateness over {r['beats']} heartbeats: max {r['max_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms, median {r['median_ms']:.1f} ms [bar: < 100 ms]")


if __name__ == "__main__":
    main(sys.argv[1:])
