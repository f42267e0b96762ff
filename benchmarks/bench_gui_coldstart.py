"""Cold and warm start of the app on a lesson that compiles kernels (issue 13).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui_coldstart.py [LESSON] [--runs N]

Each scenario runs in a fresh subprocess; "cold" gets an empty NUMBA_CACHE_DIR (what a new
install gives), "warm" reuses the cache the cold run filled. Printed per scenario:

* first paint: seconds from process start to the main window's first paint;
* graph ready: seconds until the lesson's graph is built (on a worker) and shown;
* lateness: how late a 10 ms QTimer heartbeat ran while the lesson was loading and the
  kernels compiling (max and 99th percentile, ms): the event loop's worst block;
* screenshot: wall time of ``gradgraph gui --lesson L --screenshot`` (a separate process).
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

PROBE = r'''
import json, os, sys, time
T0 = float(sys.argv[2])
from PySide6.QtCore import QTimer
from gradgraph_gui.app import _app
from gradgraph_gui.main_window import MainWindow
app = _app()
window = MainWindow(screenshot_mode=True)
window.resize(1280, 800)
out = {}
window.first_paint_callbacks.append(lambda: out.setdefault("first_paint", time.time() - T0))
window.show()
late, last = [], [time.perf_counter()]
def beat():
    now = time.perf_counter()
    late.append(max(0.0, now - last[0] - 0.010))
    last[0] = now
heartbeat = QTimer(interval=10)
heartbeat.timeout.connect(beat)
heartbeat.start()
from gradgraph import kernels
def shown(text, timeout_ms):
    if text.startswith("Compiling"):
        out.setdefault("first_status", text)
def start():  # as the app does
    window.start_warmup()
    window.compile_progress.message.connect(shown)
    window.open_lesson(sys.argv[1], wait=False)
QTimer.singleShot(0, lambda: window.load_lessons(then=start))
deadline = time.perf_counter() + 600
while time.perf_counter() < deadline:
    app.processEvents()
    time.sleep(0.002)
    if window.session is not None and "graph_ready" not in out:
        out["graph_ready"] = time.time() - T0
    status = kernels.compile_status()
    if "graph_ready" in out and status.total and not status.busy:
        break
out["compiled"] = time.time() - T0
late.sort()
out["late_max_ms"] = 1000 * late[-1]
out["late_p99_ms"] = 1000 * late[int(0.99 * (len(late) - 1))]
print("RESULT " + json.dumps(out), flush=True)
'''


def run(lesson: str, cache: str, cold: bool) -> dict:
    """The window probe, then a screenshot run (cold: with a second empty cache)."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, QT_QPA_PLATFORM="offscreen",
               GRADGRAPH_SETTINGS_DIR=tempfile.mkdtemp(prefix="gradgraph-bench-"))
    done = subprocess.run([sys.executable, "-c", PROBE, lesson, repr(time.time())], env=env,
                          capture_output=True, text=True, timeout=900)
    line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(done.stdout + done.stderr)
    result = json.loads(line[len("RESULT "):])
    if cold:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="gradgraph-numba-")
    with tempfile.TemporaryDirectory() as folder:
        t0 = time.time()
        shot = subprocess.run([sys.executable, "-m", "gradgraph", "gui", "--lesson", lesson, "--screenshot",
                               os.path.join(folder, "shot.png")], env=env, capture_output=True, text=True,
                              timeout=900)
        result["screenshot"] = time.time() - t0 if shot.returncode == 0 else float("nan")
    return result


def main(argv=None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    runs = 1
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i:i + 2]
    lesson = args[0] if args else "12"
    keys = ("first_paint", "graph_ready", "compiled", "late_max_ms", "late_p99_ms", "screenshot")
    for label in ("cold", "warm"):
        results = []
        for _ in range(runs):
            cache = tempfile.mkdtemp(prefix="gradgraph-numba-") if label == "cold" else warm_cache
            results.append(run(lesson, cache, cold=label == "cold"))
            if label == "cold":
                warm_cache = cache  # noqa: F841 - the warm runs reuse the last cold cache
        medians = {k: statistics.median(r[k] for r in results) for k in keys}
        print(f"lesson {lesson} {label:>4} (median of {runs}): "
              f"first paint {medians['first_paint']:.2f} s · graph ready {medians['graph_ready']:.2f} s · "
              f"kernels ready {medians['compiled']:.1f} s · event loop late max {medians['late_max_ms']:.0f} ms "
              f"(p99 {medians['late_p99_ms']:.0f} ms) · screenshot run {medians['screenshot']:.1f} s", flush=True)
        print(f"  status bar: {results[-1].get('first_status', '(no compile shown)')}", flush=True)


if __name__ == "__main__":
    main()
