"""First-run times: the commands a student runs first, with an empty Numba cache.

    python benchmarks/bench_coldstart.py [--repeats 3] [train run12 gui]

Each scenario runs in a fresh subprocess.  "cold" gives it a new, empty
``NUMBA_CACHE_DIR`` (what a new install, a new Python or Numba, or a change to the
kernels gives); "warm" reuses one folder in which every kernel was compiled
beforehand (not timed).  Printed: the median wall time of ``--repeats`` runs, and
for training also the time until the first training step is done (the first
progress line).  The machine is shared and noisy: compare the columns of one run.

Scenarios:
  train  gradgraph train lenet --epochs 1        (bundled starter set)
  run12  gradgraph run 12 --quick                (the LeNet lesson in the terminal)
  gui    gradgraph gui --lesson 12 --screenshot  (offscreen)

    python benchmarks/bench_coldstart.py --step-during-compile

times instead a LeNet-5 training step on the numpy backend (batch 64) alone, and
while the background compiler compiles cold kernels, once compiling in a child
process (the default) and once in this process (``GRADGRAPH_COMPILE_IN_CHILD=0``):
the compile must not slow the steps down (Numba holds the GIL while compiling).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SCENARIOS = {
    "train": ["train", "lenet", "--epochs", "1"],
    "run12": ["run", "12", "--quick"],
    "gui": ["gui", "--lesson", "12", "--screenshot", "{tmp}/shot.png"],
}
FIRST_STEP = "1/"  # the first progress line of `gradgraph train`: "epoch 1/1 [...] 1/71 ..."


def gradgraph_command() -> list:
    return [sys.executable, "-m", "gradgraph"]


def run_once(args: list, cache_dir: str) -> tuple[float, float | None]:
    """Wall time of one run, and when its first training step was reported (or None)."""
    with tempfile.TemporaryDirectory(prefix="gradgraph-cold-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, QT_QPA_PLATFORM="offscreen",
                   GRADGRAPH_SETTINGS_DIR=tmp, MPLBACKEND="Agg")
        command = gradgraph_command() + [a.format(tmp=tmp) for a in args]
        if args[0] == "train":
            command += ["--runs-dir", os.path.join(tmp, "runs")]
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        first_step = None
        lines = []
        for line in process.stderr:
            lines.append(line)
            if first_step is None and FIRST_STEP in line and "epoch" in line:
                first_step = time.perf_counter() - start
        code = process.wait()
        wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({code}):\n{''.join(lines[-20:])}")
    return wall, first_step


def compile_everything(cache_dir: str) -> None:
    code = "import gradgraph.kernels as k; k.warmup()"
    subprocess.run([sys.executable, "-c", code], env=dict(os.environ, NUMBA_CACHE_DIR=cache_dir),
                   check=True)


STEP_PROBE = r'''
import statistics, sys, time
import numpy as np
import gradgraph as gg
from gradgraph import kernels
from gradgraph.blas import limit_blas_threads
from gradgraph.kernels import compiler, fast

rng = np.random.default_rng(0)
x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
y = rng.integers(0, 10, size=64)
model = gg.nn.LeNet5(rng=0)
opt = gg.optim.Adam(model.parameters(), lr=1e-3)
kernels.use_backend("numpy")

def step_ms():  # as Trainer runs it: one BLAS thread
    start = time.perf_counter()
    with limit_blas_threads(1):
        opt.zero_grad()
        gg.losses.cross_entropy(model(x), y).backward()
        opt.step()
    return 1000 * (time.perf_counter() - start)

for _ in range(5):
    step_ms()
alone = [step_ms() for _ in range(40)]
for task in fast.all_tasks(("float64",)):  # cold kernels no training step here uses
    compiler.request(task, kernels._build)
def compiling():
    return kernels.compile_status().compiling or ""
while not compiling() or compiling().startswith("conv2d_forward"):
    step_ms()  # the first kernel's time includes importing Numba here, once: not measured
during = []
while kernels.compile_status().busy and len(during) < 200:
    during.append(step_ms())
print("RESULT", statistics.median(alone), statistics.median(during), max(during), len(during), flush=True)
compiler.stop()
'''


def step_during_compile() -> int:
    """A numpy training step alone and while kernels compile: in a child process, then here."""
    print(f"{'LeNet-5 numpy train step (batch 64)':<44}{'alone ms':>10}{'compiling ms':>14}{'max ms':>9}")
    for label, in_child in (("compile in a child process", "1"), ("compile in this process", "0")):
        with tempfile.TemporaryDirectory(prefix="gradgraph-numba-cold-") as cache_dir:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, GRADGRAPH_COMPILE_IN_CHILD=in_child)
            done = subprocess.run([sys.executable, "-c", STEP_PROBE], env=env, capture_output=True,
                                  text=True, timeout=900)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(done.stdout + done.stderr)
        alone, during, worst, count = (float(v) for v in line.split()[1:])
        print(f"{label:<44}{alone:>10.1f}{during:>14.1f}{worst:>9.0f}   ({count:.0f} steps)", flush=True)
    return 0


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--step-during-compile", action="store_true",
                        help="time a numpy training step alone and while kernels compile")
    args = parser.parse_args(argv)
    if args.step_during_compile:
        return step_during_compile()
    names = args.scenarios or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}: choose from {', '.join(SCENARIOS)}")

    warm_dir = tempfile.mkdtemp(prefix="gradgraph-numba-warm-")
    print("compiling every kernel once for the warm runs (not timed) ...", flush=True)
    compile_everything(warm_dir)
    print(f"median of {args.repeats}; wall time (first training step)", flush=True)
    print(f"{'scenario':<44}{'cold s':>16}{'warm s':>16}")
    try:
        for name in names:
            results = {}
            for kind in ("cold", "warm"):
                walls, firsts = [], []
                for _ in range(args.repeats):
                    cache_dir = tempfile.mkdtemp(prefix="gradgraph-numba-cold-") if kind == "cold" else warm_dir
                    try:
                        wall, first = run_once(SCENARIOS[name], cache_dir)
                    finally:
                        if kind == "cold":
                            shutil.rmtree(cache_dir, ignore_errors=True)
                    walls.append(wall)
                    firsts.append(first)
                first = median_or_none(firsts)
                results[kind] = f"{statistics.median(walls):.1f}" + (f" ({first:.1f})" if first else "")
            label = "gradgraph " + " ".join(SCENARIOS[name]).replace("{tmp}/", "")
            print(f"{label:<44}{results['cold']:>16}{results['warm']:>16}", flush=True)
    finally:
        shutil.rmtree(warm_dir, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if load > (os.cpu_count() or 1):
        print(f"warning: load average {load:.1f} on {os.cpu_count()} CPUs: the times are noisy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
