"""Time gradgraph's fast conv/pool kernels against torch on the LeNet-5 shapes.

    python benchmarks/bench_kernels.py [--repeats 200] [--batch 64] [--dtype float32] [--threads N]

Both libraries run in this one process with the same number of threads (torch is
set to Numba's thread count), on the same data, each measured as the median of
``--repeats`` timed runs, taken in alternating blocks after a warm-up so both see
the same background load (on a shared machine, run it a few times anyway).  "fwd+bwd" is the forward pass plus every
gradient the layer needs in LeNet (C1: no input gradient, since its input is the
image; C3: input gradient too).  The ratio column is gradgraph / torch: below 1
means gradgraph is faster; "ratio of best" compares the fastest runs, which is
less sensitive to other processes competing for the CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

try:  # import torch before numba starts its thread pool
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

import numba  # noqa: E402

from gradgraph import kernels  # noqa: E402
from gradgraph.kernels import fast  # noqa: E402


def paired_times_ms(ours, theirs, repeats, rounds=10, warmup=3):
    """Run times of ``ours`` and of ``theirs`` in milliseconds: two lists.

    The runs are taken in ``rounds`` alternating blocks (ours, theirs, ours, ...)
    so that both sides see the same background load, and each block starts with
    ``warmup`` untimed runs so the other library's thread pool has gone quiet.
    """
    per_block = max(1, repeats // rounds)
    samples = ([], [])
    for _ in range(rounds):
        for fn, times in zip((ours, theirs), samples):
            for _ in range(warmup):
                fn()
            for _ in range(per_block):
                start = time.perf_counter()
                fn()
                times.append(1e3 * (time.perf_counter() - start))
    return samples


def conv_case(x, w, b, need_dx):
    """(gradgraph fn, torch fn) for a conv forward + backward."""
    xt = torch.from_numpy(x).requires_grad_(need_dx)
    wt = torch.from_numpy(w).requires_grad_(True)
    bt = torch.from_numpy(b).requires_grad_(True)
    inputs = [xt, wt, bt] if need_dx else [wt, bt]
    d_out = np.ones((x.shape[0], w.shape[0], x.shape[2] - w.shape[2] + 1,
                     x.shape[3] - w.shape[3] + 1), x.dtype)
    d_out_t = torch.from_numpy(d_out)

    def ours():
        fast.conv2d_forward(x, w, b, 1, 0, 1)
        fast.conv2d_backward(d_out, x, w, 1, 0, 1, need_dx=need_dx, need_dw=True)

    def theirs():
        out = F.conv2d(xt, wt, bt)
        torch.autograd.grad(out, inputs, d_out_t)

    return ours, theirs


def conv_fwd_case(x, w, b):
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))

    def theirs():
        with torch.no_grad():
            F.conv2d(xt, wt, bt)

    return (lambda: fast.conv2d_forward(x, w, b, 1, 0, 1)), theirs


def pool_case(x, kind):
    xt = torch.from_numpy(x).requires_grad_(True)
    out_shape = (x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2)
    d_out = np.ones(out_shape, x.dtype)
    d_out_t = torch.from_numpy(d_out)
    if kind == "max":
        def ours():
            out, arg = fast.max_pool2d_forward(x, 2, 2, 0)
            fast.max_pool2d_backward(d_out, arg, x.shape, 2, 2, 0)

        def theirs():
            out = F.max_pool2d(xt, 2, 2)
            torch.autograd.grad(out, [xt], d_out_t)
    else:
        def ours():
            fast.avg_pool2d_forward(x, 2, 2, 0)
            fast.avg_pool2d_backward(d_out, x.shape, 2, 2, 0)

        def theirs():
            out = F.avg_pool2d(xt, 2, 2)
            torch.autograd.grad(out, [xt], d_out_t)
    return ours, theirs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both libraries (default: Numba's default, the core count)")
    args = parser.parse_args(argv)
    if torch is None:
        print("torch is not installed; nothing to compare against "
              "(pip install torch==2.13.0). Skipping the benchmark.")
        return 0

    if args.threads:
        numba.set_num_threads(args.threads)
    threads = numba.get_num_threads()
    torch.set_num_threads(threads)
    kernels.warmup(progress=print)
    rng = np.random.default_rng(0)
    dtype = np.dtype(args.dtype)
    N = args.batch

    def rand(*shape):
        return rng.standard_normal(shape).astype(dtype)

    c1 = (rand(N, 1, 32, 32), rand(6, 1, 5, 5), rand(6))
    c3 = (rand(N, 6, 14, 14), rand(16, 6, 5, 5), rand(16))
    cases = [
        ("C1 conv fwd          (N,1,32,32)*(6,1,5,5)", *conv_fwd_case(*c1)),
        ("C1 conv fwd+bwd, no d_x", *conv_case(*c1, need_dx=False)),
        ("C1 conv fwd+bwd, with d_x", *conv_case(*c1, need_dx=True)),
        ("C3 conv fwd          (N,6,14,14)*(16,6,5,5)", *conv_fwd_case(*c3)),
        ("C3 conv fwd+bwd, with d_x", *conv_case(*c3, need_dx=True)),
        ("C3 conv fwd+bwd, no d_x", *conv_case(*c3, need_dx=False)),
        ("S2 maxpool 2x2 fwd+bwd (N,6,28,28)", *pool_case(rand(N, 6, 28, 28), "max")),
        ("S4 maxpool 2x2 fwd+bwd (N,16,10,10)", *pool_case(rand(N, 16, 10, 10), "max")),
        ("S2 avgpool 2x2 fwd+bwd (N,6,28,28)", *pool_case(rand(N, 6, 28, 28), "avg")),
        ("S4 avgpool 2x2 fwd+bwd (N,16,10,10)", *pool_case(rand(N, 16, 10, 10), "avg")),
    ]

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run (NUMBA_DISABLE_JIT=1)
        layer = "none"
    print(f"batch {N}, {dtype}, {threads} threads (numba {numba.__version__}, "
          f"threading layer {layer}; torch {torch.__version__}), "
          f"median of {args.repeats}")
    width = max(len(name) for name, _, _ in cases)
    print(f"{'case':<{width}}  {'gradgraph ms':>12}  {'torch ms':>9}  {'ratio':>6}  {'ratio of best':>13}")
    for name, ours, theirs in cases:
        t_ours, t_theirs = paired_times_ms(ours, theirs, args.repeats)
        med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
        print(f"{name:<{width}}  {med_ours:12.3f}  {med_theirs:9.3f}  {med_ours / med_theirs:6.2f}"
              f"  {min(t_ours) / min(t_theirs):13.2f}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    if load > threads:
        print(f"warning: the load average is {load:.1f} on {os.cpu_count()} CPUs; other processes "
              "are competing for the cores, so these times are noisy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
