"""gradgraph against torch (CPU) on LeNet-5's layers and a whole training step.

    python benchmarks/bench_lenet.py [--repeats 50] [--batch 64]

Both run in this one process with the same number of threads (torch's is set to
Numba's), float32, batch 64, and numpy's BLAS on one thread during gradgraph's
training step, as the Trainer runs it. torch is imported first and starts the
OpenMP runtime with its defaults (idle workers spin for a while); measured, Numba's
workers then behave the same, although gradgraph alone has them sleep
(OMP_WAIT_POLICY=PASSIVE), which is why the child process below matters. Each row is
forward + backward through the public API (gates and the autograd loop for
gradgraph, autograd for torch); the median time over the repeats is shown, and the
ratio gradgraph / torch (below 1: gradgraph is faster). The two are timed
alternately, so noise from other processes on a shared machine hits both alike.

Last, a child process without torch times gradgraph's step alone, with one BLAS
thread and with numpy's default: what a student's own loop gets. (In this process a
step on numpy's default BLAS threads is slow for both libraries: three thread pools,
OpenBLAS's, torch's and Numba's, take turns on two cores.)
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def timed_pair(ours, theirs, repeats: int, rounds: int = 5) -> tuple[float, float]:
    """Median over ``rounds`` alternating blocks of ``repeats // rounds`` runs each."""
    for _ in range(3):
        ours()
        theirs()
    per = max(repeats // rounds, 1)
    a, b = [], []
    for _ in range(rounds):
        a.append(median_ms(ours, per))
        b.append(median_ms(theirs, per))
    return statistics.median(a), statistics.median(b)


def lenet_step(n: int):
    """A gradgraph LeNet-5 training step (Adam) on a fixed random batch of ``n`` images."""
    import gradgraph as gg

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, size=n)
    model = gg.nn.LeNet5(rng=0)
    opt = gg.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        gg.losses.cross_entropy(model(x), y).backward()
        opt.step()

    return step, model, x, y


def alone(repeats: int, n: int) -> int:
    """(the child) gradgraph's step without torch in the process: 1 BLAS thread, then numpy's default."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from gradgraph import kernels
    from gradgraph.blas import limit_blas_threads

    kernels.warmup(dtypes=("float32",))
    step = lenet_step(n)[0]

    def limited():
        with limit_blas_threads(1):
            step()

    times = [median_ms(fn, repeats) for _ in range(3) for fn in (limited, step)]
    print(statistics.median(times[0::2]), statistics.median(times[1::2]))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.alone:
        return alone(args.repeats, args.batch)

    import torch  # first: its OpenMP runtime keeps its defaults

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # for Numba's, as `gradgraph train` does
    import numba

    import gradgraph as gg
    from gradgraph import kernels
    from gradgraph.train import limit_blas_threads

    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    kernels.warmup()
    rng = np.random.default_rng(0)
    n = args.batch
    f32 = np.float32

    def conv_case(c_in, c_out, size, padding, x_needs_grad):
        x = rng.standard_normal((n, c_in, size, size)).astype(f32)
        w = (rng.standard_normal((c_out, c_in, 5, 5)) * 0.1).astype(f32)
        b = np.zeros(c_out, f32)
        out_size = size + 2 * padding - 4
        g = rng.standard_normal((n, c_out, out_size, out_size)).astype(f32)
        gx = gg.Tensor(x, requires_grad=x_needs_grad)
        gw, gb = gg.nn.Parameter(w), gg.nn.Parameter(b)

        def ours():
            gx.grad = gw.grad = gb.grad = None
            gg.conv2d(gx, gw, gb, padding=padding).backward(g)

        tx = torch.tensor(x, requires_grad=x_needs_grad)
        tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        tg = torch.tensor(g)

        def theirs():
            tx.grad = tw.grad = tb.grad = None
            torch.nn.functional.conv2d(tx, tw, tb, padding=padding).backward(tg)

        return ours, theirs

    def pool_case(c, size):
        x = rng.standard_normal((n, c, size, size)).astype(f32)
        g = rng.standard_normal((n, c, size // 2, size // 2)).astype(f32)
        gx = gg.Tensor(x)
        tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g)

        def ours():
            gx.grad = None
            gg.max_pool2d(gx, 2).backward(g)

        def theirs():
            tx.grad = None
            torch.nn.functional.max_pool2d(tx, 2).backward(tg)

        return ours, theirs

    def step_case():
        step, model, x, y = lenet_step(n)

        def ours():
            with limit_blas_threads(1):
                step()

        nn = torch.nn
        tmodel = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        with torch.no_grad():  # the same initial weights (Linear stores W transposed)
            for tp, (name, p) in zip(tmodel.parameters(), model.named_parameters()):
                tp.copy_(torch.tensor(p.data.T if p.ndim == 2 else p.data))
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        tx, ty = torch.tensor(x), torch.tensor(y)

        def theirs():
            topt.zero_grad()
            nn.functional.cross_entropy(tmodel(tx), ty).backward()
            topt.step()

        return ours, theirs

    def eval_case():
        x = rng.standard_normal((1000, 1, 28, 28)).astype(f32)
        model = gg.nn.LeNet5(rng=0).eval()
        nn = torch.nn
        tmodel = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)).eval()
        tx = torch.tensor(x)

        def ours():
            with gg.no_grad():
                model(x)

        def theirs():
            with torch.no_grad():
                tmodel(tx)

        return ours, theirs

    cases = [
        (f"conv2d C1 fwd+bwd  ({n},1,28,28) * 6@5x5 pad 2", conv_case(1, 6, 28, 2, False)),
        (f"conv2d C3 fwd+bwd  ({n},6,14,14) * 16@5x5", conv_case(6, 16, 14, 0, True)),
        (f"max_pool2d fwd+bwd ({n},6,28,28) 2x2", pool_case(6, 28)),
        (f"LeNet-5 train step (batch {n}, Adam)", step_case()),
        ("LeNet-5 inference (1000 images)", eval_case()),
    ]
    print(f"gradgraph {gg.__version__} vs torch {torch.__version__}, {threads} thread(s), float32, "
          f"median of {args.repeats} runs")
    width = max(len(name) for name, _ in cases) + 2
    print(f"{'':<{width}}{'gradgraph ms':>13}{'torch ms':>10}{'ratio':>8}")
    for name, (ours, theirs) in cases:
        a, b = timed_pair(ours, theirs, args.repeats)
        print(f"{name:<{width}}{a:>13.3f}{b:>10.3f}{a / b:>7.2f}x", flush=True)
    child = subprocess.run([sys.executable, __file__, "--alone", "--repeats", str(args.repeats),
                            "--batch", str(n)], capture_output=True, text=True, timeout=600)
    if child.returncode == 0:
        one, default = (float(v) for v in child.stdout.split()[-2:])
        print(f"gradgraph alone (no torch in the process): the step takes {one:.3f} ms with 1 BLAS thread, "
              f"{default:.3f} ms with numpy's default")
    else:
        print(f"(the torch-free child failed: {child.stderr.strip().splitlines()[-1:]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
