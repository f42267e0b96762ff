"""The ``gradgraph`` command.

    gradgraph                       open the desktop app on the lesson list
    gradgraph gui [--lesson ID|PATH.py] [--expr E --values V] [--mine] [--size WxH] [--screenshot PATH]
    gradgraph check                 gradcheck every built-in gate (float64)
    gradgraph lessons               list the lessons
    gradgraph run ID|SCRIPT         run a lesson (or a script) in the terminal
    gradgraph walk ID|SCRIPT [--mine]  step through a graph in the terminal
    gradgraph walk --expr E --values V  ... of a typed expression
    gradgraph exercises             list the exercises and their status
    gradgraph exercise ID           check one exercise
    gradgraph train lenet ...       train LeNet-5 with a progress bar
    gradgraph export ID --gif PATH  a lesson's step-through as a GIF (--frames DIR: PNGs, --svg DIR)

Each sub-command lives in the module that owns it; this file only parses
arguments and imports that module when the command runs (the desktop app is
imported by name, so the engine never imports Qt). ``train`` has many options,
declared next to its code in ``cli_train.py``.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from . import _command


def _call(module: str, function: str):
    def run(args):
        return getattr(importlib.import_module(module), function)(args)
    return run


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block): the option, the valid values, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gradgraph", description="An autograd engine you can watch.")
    parser.set_defaults(run=_call("gradgraph_gui.app", "main"), lesson=None, steps=0, screenshot=None,
                        train_steps=0, backward=False, size=None, expr=None, values="", mine=False)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("--lesson", help="lesson to open (number or slug), or a Python file defining build()")
    _graph_source_arguments(p)
    p.add_argument("--steps", type=int, default=0, help="steps to take before showing it")
    p.add_argument("--backward", action="store_true", help="jump to the start of the backward pass first")
    p.add_argument("--train-steps", type=int, default=0,
                   help="with --screenshot: train this many steps first (lessons that train)")
    p.add_argument("--screenshot", metavar="PATH", help="render the window to a PNG and exit")
    p.add_argument("--size", metavar="WxH", help="window size in pixels, e.g. 1280x800")
    p.set_defaults(run=_call("gradgraph_gui.app", "main"))

    p = sub.add_parser("check", help="gradcheck every built-in gate in float64")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_call("gradgraph.gatecheck", "main"))

    p = sub.add_parser("lessons", help="list the lessons")
    p.set_defaults(run=_call("gradgraph.lessons", "cli_list"))

    p = sub.add_parser("run", help="run a lesson (or your own script) in the terminal")
    p.add_argument("id", help="lesson number or slug, e.g. 1 or chain_rule, or a Python file")
    p.add_argument("--quick", action="store_true", help="a shortened run (fewer samples or epochs)")
    p.set_defaults(run=_call("gradgraph.lessons", "cli_run"))

    p = sub.add_parser("walk", help="walk a lesson's or a script's graph step by step in the terminal")
    p.add_argument("target", nargs="?", help="lesson number/slug, or a Python file defining build()")
    p.add_argument("--interactive", "-i", action="store_true", help="wait for Enter after each step")
    _graph_source_arguments(p)
    p.set_defaults(run=_call("gradgraph.graph.walk", "cli_walk"))

    p = sub.add_parser("exercises", help="list the exercises and their status")
    p.set_defaults(run=_call("gradgraph.exercises", "cli_list"))

    p = sub.add_parser("exercise", help="check one exercise")
    p.add_argument("id", help="exercise id, e.g. 1.1")
    p.add_argument("--solutions", action="store_true", help="check the reference solution instead")
    p.set_defaults(run=_call("gradgraph.exercises", "cli_check"))

    p = sub.add_parser("export", help="render a lesson's step-through for slides (GIF, PNG or SVG frames)")
    p.add_argument("lesson", help="lesson number or slug, e.g. 1 or chain_rule")
    p.add_argument("--gif", metavar="PATH", help="write an animated GIF, one frame per step")
    p.add_argument("--frames", metavar="DIR", help="write one PNG per step into DIR")
    p.add_argument("--svg", metavar="DIR", help="write one SVG (vector) per step into DIR")
    p.add_argument("--width", type=int, default=1280, help="frame width in pixels (at least 600; default 1280)")
    p.add_argument("--duration", type=int, default=1200, help="milliseconds per GIF frame (default 1200)")
    p.set_defaults(run=_call("gradgraph.export", "cli_export"))

    from .cli_train import add_parser as add_train_parser

    add_train_parser(sub)
    return parser


def _graph_source_arguments(p) -> None:
    """The options ``walk`` and ``gui`` share: a typed expression, or the student's own gates."""
    p.add_argument("--expr", metavar="EXPRESSION", help='a typed expression instead, e.g. "(x + y) * z"')
    p.add_argument("--values", metavar="VALUES", default="", help='the values of its variables, e.g. "x=-2, y=5, z=-4"')
    p.add_argument("--mine", action="store_true",
                   help="build lessons with your exercise gates (unfinished exercises keep the built-in gate)")


def main(argv=None) -> int:
    try:
        if _command.started():  # Ctrl-C came while Python was still importing gradgraph
            raise KeyboardInterrupt
        args = build_parser().parse_args(argv)
        code = args.run(args)
    except KeyboardInterrupt:
        _command.ending()
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` or a closed pager
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
