"""Graph model bars: building, laying out and stepping big graphs.

    python benchmarks/bench_graph.py            # all figures (median of a few repeats)
    python benchmarks/bench_graph.py --quick    # fewer repeats

1. A ~2,000-node random MLP-like scalar graph (tanh neurons with a fan-in of 3,
   some skip connections): build the Graph, lay it out with the built-in
   layered layout and with Graphviz ``dot`` (when installed), collapsed to its
   layer groups too.
2. 10,000 steps through that graph: forward to the end and back to the start
   repeatedly (``step()``/``back()``), starting from cold caches, so the first
   pass does every gate's forward and backward once.
3. A ~500-node graph: steps per second for one complete pass (cold: each step
   does its gate's work), and with what a view reads after each step (the
   known-value/known-gradient arrays and the current step's ledger). The
   desktop app needs at least 30 steps per second.

Prints one line per figure; times are medians.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
import warnings

import numpy as np

import gradgraph as gg
from gradgraph.graph import Graph, Stepper, collapsed, step_ledger
from gradgraph.graph.layout import layout


def random_mlp(layers: int, width: int, inputs: int = 8, fan_in: int = 3, skip: float = 0.2, seed: int = 0):
    """A scalar network: each neuron is tanh(sum of fan_in weighted inputs + bias).

    Inputs come from the previous layer, or with probability ``skip`` from any
    earlier layer (long edges, which a layered layout must route). Each layer
    is a scope group (``layer3``), so the graph also collapses to its layers.
    """
    rng = np.random.default_rng(seed)
    previous = [[gg.Tensor(rng.normal(), name=f"in{k}") for k in range(inputs)]]
    for layer in range(layers):
        with gg.scope(f"layer{layer}"):
            current = []
            for _ in range(width):
                total = gg.Tensor(rng.normal() * 0.1)  # the bias
                for _ in range(fan_in):
                    source = previous[-1] if rng.random() > skip else previous[rng.integers(len(previous))]
                    w = gg.Tensor(rng.normal() / np.sqrt(fan_in))
                    total = total + w * source[rng.integers(len(source))]
                current.append(total.tanh())
        previous.append(current)
    with gg.scope("loss"):
        loss = previous[-1][0] * previous[-1][0]
        for h in previous[-1][1:]:
            loss = loss + h * h
    loss.name = "loss"
    return loss


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def walk(stepper, n_steps: int) -> None:
    """``n_steps`` calls of step()/back(): to the end, back to the start, and again."""
    direction = 1
    for _ in range(n_steps):
        if direction > 0:
            if stepper.step() is None:
                direction = -1
                stepper.back()
        elif stepper.back() is None:
            direction = 1
            stepper.step()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 5
    warnings.simplefilter("ignore", RuntimeWarning)

    # -- 1. a ~2,000-node graph ------------------------------------------------------------
    loss = random_mlp(layers=12, width=15)
    graph = Graph(loss)
    n_steps = len(Stepper(graph))
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges, {n_steps} steps, "
          f"{len(collapsed(graph).nodes)} boxes collapsed")
    print(f"  build Graph                        {median_time(lambda: Graph(loss), repeats) * 1e3:8.1f} ms")
    print(f"  layout, built-in                   "
          f"{median_time(lambda: layout(Graph(loss), engine='builtin'), repeats) * 1e3:8.1f} ms")
    print(f"  layout, built-in, collapsed        "
          f"{median_time(lambda: layout(collapsed(Graph(loss)), engine='builtin'), repeats) * 1e3:8.1f} ms")
    if shutil.which("dot"):
        print(f"  layout, dot                        "
              f"{median_time(lambda: layout(Graph(loss), engine='dot'), 1 if args.quick else 3) * 1e3:8.1f} ms")
        print(f"  layout, dot, collapsed             "
              f"{median_time(lambda: layout(collapsed(Graph(loss)), engine='dot'), repeats) * 1e3:8.1f} ms")
    else:
        print("  layout, dot                        (Graphviz dot not installed)")

    # -- 2. 10,000 steps through it ----------------------------------------------------------
    def ten_thousand_steps():
        walk(Stepper(Graph(loss)), 10_000)

    def first_pass():
        Stepper(Graph(loss)).run_to_end()

    t_pass = median_time(first_pass, repeats)
    t_walk = median_time(ten_thousand_steps, repeats)
    print(f"  one cold pass, {n_steps} steps           {t_pass * 1e3:8.1f} ms   (every gate's work once)")
    print(f"  10,000 steps (step/back, cold)     {t_walk * 1e3:8.1f} ms   ({10_000 / t_walk:,.0f} steps/s)")

    # -- 3. a ~500-node graph, steps per second ------------------------------------------------
    small_loss = random_mlp(layers=6, width=8, inputs=6, seed=1)
    small = Graph(small_loss)
    n = len(Stepper(small))

    def cold_steps():
        stepper = Stepper(Graph(small_loss))
        while stepper.step() is not None:
            pass

    def steps_with_view_reads():
        stepper = Stepper(Graph(small_loss))
        while stepper.step() is not None:
            stepper.known_values()
            stepper.known_grads()
            step_ledger(stepper.current).text

    t_cold = median_time(cold_steps, repeats)
    t_view = median_time(steps_with_view_reads, repeats)
    print(f"graph: {len(small.nodes)} nodes, {n} steps")
    print(f"  cold stepping                      {n / t_cold:10,.0f} steps/s")
    print(f"  cold stepping + view reads         {n / t_view:10,.0f} steps/s   (the app needs >= 30)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
