"""Kernel compilation away from the GUI: progress lines, and no compiling while cold."""
import numpy as np

from gradgraph import kernels
from gradgraph_gui import compile_progress
from gradgraph_gui.compile_progress import describe, no_compiling, warm_kernels


def drain(generator):
    lines = []
    try:
        while True:
            lines.append(next(generator))
    except StopIteration as stop:
        return lines, stop.value


def test_progress_reports_become_status_lines():
    assert describe("conv2d_forward, float32", 3, 28) == \
        "Numba kernels: 3 of 28 compiled (conv2d_forward, float32), 25 left…"
    assert describe("compiled conv/pool kernels in 2.0 s") == "compiled conv/pool kernels in 2.0 s"


def test_while_cold_a_block_runs_on_a_backend_that_needs_no_compiling(monkeypatch):
    monkeypatch.setattr(compile_progress, "_cold", lambda: True)
    assert kernels.get_backend() == "fast"
    with no_compiling():
        assert kernels.get_backend() in ("numpy", "reference")
        x = np.ones((1, 1, 4, 4))
        out = kernels.conv2d_forward(x, np.ones((1, 1, 3, 3)))
    assert kernels.get_backend() == "fast" and out.shape == (1, 1, 2, 2) and out[0, 0, 0, 0] == 9
    monkeypatch.setattr(compile_progress, "_cold", lambda: False)
    with no_compiling():
        assert kernels.get_backend() == "fast"


def test_cold_kernels_compile_elsewhere_and_the_app_switches_back_when_ready(monkeypatch):
    during = []

    def child():
        during.append(kernels.get_backend())
        yield describe("conv2d_forward, float32", 1, 2)
        yield describe("conv2d_forward, float64", 2, 2)

    monkeypatch.setattr(compile_progress, "_cold", lambda: True)
    monkeypatch.setattr(compile_progress, "_compile_in_child", child)
    lines, last = drain(warm_kernels())
    assert lines[0].startswith("compiling the Numba kernels in the background")
    assert lines[1:] == ["Numba kernels: 1 of 2 compiled (conv2d_forward, float32), 1 left…",
                         "Numba kernels: 2 of 2 compiled (conv2d_forward, float64), 0 left…"]
    assert during == ["reference"] or during == ["numpy"]
    assert kernels.get_backend() == "fast" and last == "Kernels ready."


def test_warm_kernels_only_load_and_say_nothing(monkeypatch):
    monkeypatch.setattr(compile_progress, "_cold", lambda: False)
    assert drain(warm_kernels()) == ([], "")
