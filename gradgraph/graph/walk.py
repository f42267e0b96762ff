"""``gradgraph walk``: step through a graph in the terminal.

    gradgraph walk 1                  # lesson 1's graph (number or slug)
    gradgraph walk my_graph.py        # a script's graph
    gradgraph walk 1 --interactive    # wait for Enter after each step (q quits)

The forward pass prints each value as it appears, the backward pass each
chain-rule line (upstream gradient × local gradient = contribution). Small
tensors (up to 8 x 8) are printed in full, every entry, as matrices.

Where the graph comes from:

* a lesson (``gradgraph.lessons.find_lesson``): the output of its ``build()``;
* a ``.py`` file: it is run as a module named ``__gradgraph_walk__`` (so its
  ``if __name__ == "__main__":`` block does not run); then its ``build()``
  gives the output Tensor. Without a ``build()``, the module-level Tensor
  with the largest graph (the most nodes behind it) is used.

Lessons call :func:`walkthrough` to print the same thing.
"""
from __future__ import annotations

import runpy
import sys
import textwrap
from pathlib import Path

from ..tensor import Tensor, topological_order
from .fmt import fmt_value, is_small, matrix_lines
from .graph import Graph
from .ledger import step_ledger
from .stepper import Stepper, expression


def walkthrough(output, file=None, interactive: bool = False, input_fn=input) -> Graph:
    """Print the forward values and the backward ledger of ``output``'s graph.

    Afterwards the tensors' ``.grad`` are set as by a fresh ``output.backward()``
    (leaf gradients reset first), so a lesson can read them; the printed
    numbers come from the Graph's own copy. Returns the Graph.
    ``interactive``: wait for Enter after each step (``q`` stops).
    """
    file = sys.stdout if file is None else file
    own_graph = not isinstance(output, Graph)
    graph = Graph(output) if own_graph else output
    stepper = Stepper(graph)
    out = graph.output.name
    print(f"Forward pass: {len(graph.nodes)} values", file=file)
    for step in stepper.steps:
        if step.index == stepper.backward_start:
            print(f"Backward pass: d{out}/d(every node), upstream gradient · local gradient", file=file)
        stepper.step()
        if step.phase == "forward":
            print(f"  {step.text}", file=file)
            _print_matrix(graph.value(step.node), "    ", file)
        elif step.kind == "seed":
            print(f"  {step_ledger(step).text}", file=file)
        else:
            print(f"  [{step.node.name} = {expression(step.node)}]", file=file)
            for line in step_ledger(step):
                print(textwrap.indent(line.text, "    "), file=file)
        if interactive and stepper.position < len(stepper):
            file.flush()
            if input_fn("").strip().lower() in ("q", "quit", "exit"):
                break
    if len(stepper.steps) == stepper.backward_start:
        print("(the output needs no gradient: nothing to back-propagate)", file=file)
    else:
        leaves = [n for n in graph.nodes if n.op is None and n.requires_grad]
        if leaves and stepper.at_end:
            print("Gradients of the inputs and parameters:", file=file)
            for node in leaves:
                print(f"  d{out}/d{node.name} = {fmt_value(graph.grad(node))}", file=file)
                _print_matrix(graph.grad(node), "    ", file)
    if own_graph:
        _backward_tensors(graph)
    return graph


def _print_matrix(array, indent: str, file) -> None:
    """Every entry of a small tensor, aligned (nothing for a number or a big tensor)."""
    if is_small(array):
        for row in matrix_lines(array):
            print(indent + row, file=file)


def _backward_tensors(graph: Graph) -> None:
    """Leave ``Tensor.grad`` as a fresh ``output.backward()`` would (what lessons read)."""
    for node in graph.nodes:
        if node.op is None and node.requires_grad:
            node.tensor.grad = None
    graph.tensor.backward(graph.seed)


# -- finding the graph -----------------------------------------------------------------

class WalkError(ValueError):
    """The target names no graph (no such lesson or file, no build(), no Tensor)."""


def load_output(target: str) -> Tensor:
    """The output Tensor for a lesson id or a script path."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {target}")
        return _from_script(path)
    return _from_lesson(target)


def _from_lesson(key: str) -> Tensor:
    """The one place that knows about lessons: find, load, ``build()``."""
    from .. import lessons

    module = lessons.load(lessons.find_lesson(key))
    if not callable(getattr(module, "build", None)):
        raise WalkError(f"lesson {key!r} has no build() function giving a graph")
    return _check_output(module.build(), f"lesson {key}'s build()")


def _from_script(path: Path) -> Tensor:
    namespace = runpy.run_path(str(path), run_name="__gradgraph_walk__")
    build = namespace.get("build")
    if callable(build):
        return _check_output(build(), f"{path.name}: build()")
    tensors = [v for k, v in namespace.items() if isinstance(v, Tensor) and not k.startswith("__")]
    if not tensors:
        raise WalkError(f"{path.name} defines no build() function and no Tensor at module level")
    return max(tensors, key=lambda t: len(topological_order(t)))


def _check_output(result, where: str) -> Tensor:
    if isinstance(result, (tuple, list)) and result and isinstance(result[0], Tensor):
        result = result[0]
    if not isinstance(result, Tensor):
        raise WalkError(f"{where} returned {type(result).__name__}, expected the output Tensor")
    return result


def cli_walk(args) -> int:
    """``gradgraph walk TARGET [--interactive]``."""
    try:
        output = load_output(str(args.target))
    except (LookupError, FileNotFoundError, WalkError) as error:  # a wrong target: a message, not a traceback
        print(f"gradgraph walk: {error}", file=sys.stderr)
        return 2
    if args.interactive:
        print("(Enter: next step, q: quit)")
    walkthrough(output, interactive=args.interactive)
    return 0
