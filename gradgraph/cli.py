"""The ``gradgraph`` command.

    gradgraph                       open the desktop app on the lesson list
    gradgraph gui [--lesson ID] [--steps N] [--size WxH] [--screenshot PATH]
    gradgraph check                 gradcheck every built-in gate (float64)
    gradgraph lessons               list the lessons
    gradgraph run ID [--quick]      run a lesson in the terminal
    gradgraph walk ID|SCRIPT        step through a graph in the terminal
    gradgraph exercises             list the exercises and their status
    gradgraph exercise ID           check one exercise
    gradgraph train lenet ...       train LeNet-5 with a progress bar
    gradgraph export ID --gif PATH  a lesson's step-through as a GIF (--frames DIR: PNGs, --svg DIR)

Each sub-command lives in the module that owns it; this file only parses
arguments and imports that module when the command runs (the desktop app is
imported by name, so the engine never imports Qt).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys


def _call(module: str, function: str):
    def run(args):
        return getattr(importlib.import_module(module), function)(args)
    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradgraph", description="An autograd engine you can watch.")
    parser.set_defaults(run=_call("gradgraph_gui.app", "main"), lesson=None, steps=0, screenshot=None,
                        train_steps=0, backward=False, size=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("--lesson", help="lesson to open (number or slug)")
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

    p = sub.add_parser("run", help="run a lesson in the terminal")
    p.add_argument("id", help="lesson number or slug, e.g. 1 or chain_rule")
    p.add_argument("--quick", action="store_true", help="a shortened run (fewer samples or epochs)")
    p.set_defaults(run=_call("gradgraph.lessons", "cli_run"))

    p = sub.add_parser("walk", help="walk a lesson's or a script's graph step by step in the terminal")
    p.add_argument("target", help="lesson number/slug, or a Python file defining build()")
    p.add_argument("--interactive", "-i", action="store_true", help="wait for Enter after each step")
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

    p = sub.add_parser("train", help="train a model")
    p.add_argument("model", choices=["lenet"], help="the model to train")
    p.add_argument("--dataset", default="fashion-mnist-starter",
                   choices=["mnist", "fashion-mnist", "fashion-mnist-starter"])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.001 for every optimizer)")
    p.add_argument("--optimizer", default="adam", choices=["sgd", "adam", "rmsprop"])
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--lr-decay", type=float, default=0.9,
                   help="multiply the learning rate by this after every epoch (1 = constant; default 0.9)")
    p.add_argument("--activation", default="relu", choices=["relu", "tanh", "sigmoid"])
    p.add_argument("--pool", default="max", choices=["max", "avg"])
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--patience", type=int, default=None, help="early stopping patience in epochs")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", default="runs", help="where run folders are created")
    p.add_argument("--resume", metavar="CHECKPOINT", help="start from a saved checkpoint (.npz)")
    p.set_defaults(run=_call("gradgraph.train", "cli_train"))
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` or a closed pager
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
