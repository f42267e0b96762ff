"""``gradgraph train lenet ...``: train LeNet-5 from the terminal, with a progress bar.

    gradgraph train lenet --epochs 10 --optimizer sgd --momentum 0.9
    gradgraph train lenet --resume runs/<run>/checkpoint_last.npz --epochs 15

:func:`add_parser` declares the options, each checked by argparse against its
valid range (a wrong value is one line and exit code 2, before any data is
read or any folder made). :func:`cli_train` loads the data, builds the model
and the optimizer (from the registry in :mod:`gradgraph.optim`), and consumes
the :class:`gradgraph.train.Trainer`'s records: a progress bar here, a run
folder (:class:`gradgraph.runs.RunFolder`) on disk.

Exit codes: 0 trained (or stopped early), 1 the loss became NaN or diverged,
2 a wrong option or unreadable data, 130 interrupted with Ctrl-C.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

__all__ = ["DEFAULTS", "add_parser", "cli_train"]

#: The default of every option, in one place (argparse's own defaults are None,
#: so that a resumed run can tell which options were typed).
DEFAULTS = {
    "dataset": "fashion-mnist-starter", "epochs": 10, "batch_size": 64, "lr": None, "optimizer": "adam",
    "momentum": 0.9, "weight_decay": 0.0, "lr_decay": 0.9, "activation": "relu", "pool": "max",
    "dropout": 0.0, "val_fraction": 0.1, "patience": None, "limit": None, "seed": 0, "runs_dir": "runs",
    "resume": None,
}
DESCRIPTION = """Train LeNet-5 from the terminal, with a progress bar. Every run gets its own folder
(checkpoints, history.csv, loss_curve.png, config.json) under --runs-dir.

examples:
  gradgraph train lenet --epochs 5 --patience 2
  gradgraph train lenet --optimizer sgd --momentum 0.9 --lr 0.05
  gradgraph train lenet --resume runs/<run>/checkpoint_last.npz --epochs 15"""

#: Options a resumed run may change; the others must match the run's.
CHANGEABLE_ON_RESUME = ("epochs", "patience", "runs_dir", "resume")


# -- argument checking --------------------------------------------------------------------
def _whole(low: int):
    """An argparse type: an integer >= low."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, got {text!r}")
        return value
    return parse


def _number(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = True):
    """An argparse type: a finite number in the interval written in the message."""
    interval = (("(" if low_open else "[") + f"{low:g}, " + (f"{high:g}" if high is not None else "inf")
                + (")" if high_open or high is None else "]"))
    if high is None:
        interval = f"> {low:g}" if low_open else f">= {low:g}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        inside = (math.isfinite(value) and (value > low if low_open else value >= low)
                  and (high is None or (value < high if high_open else value <= high)))
        if not inside:
            raise argparse.ArgumentTypeError(f"must be a number {'in ' if high is not None else ''}{interval}, "
                                             f"got {text!r}")
        return value
    return parse


def add_parser(sub) -> argparse.ArgumentParser:
    """Add the ``train`` command to the ``sub`` parsers of ``gradgraph``."""
    from .data import CLASSES
    from .nn.lenet import ACTIVATIONS, POOLS
    from .optim import OPTIMIZERS, default_lr

    lr_defaults = ", ".join(f"{name} {default_lr(name):g}" for name in OPTIMIZERS)
    p = sub.add_parser("train", help="train a model", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=DESCRIPTION)

    def option(flag, help, **kwargs):
        name = flag.lstrip("-").replace("-", "_")
        default = DEFAULTS[name]
        if default is not None and "%(default)" not in help:
            help += f" (default: {default})"
        p.add_argument(flag, default=None, help=help, **kwargs)

    p.add_argument("model", choices=["lenet"], help="the model to train: lenet (LeNet-5)")
    option("--dataset", "the images to train on; fashion-mnist-starter is bundled, the others are found "
           "locally or downloaded", choices=list(CLASSES))
    option("--epochs", "passes over the training images (with --resume: the total to reach)", metavar="N", type=_whole(1))
    option("--batch-size", "images per gradient step", metavar="N", type=_whole(1))
    option("--lr", f"learning rate (default: the optimizer's own: {lr_defaults})", metavar="LR", type=_number(0, low_open=True))
    option("--optimizer", "the update rule", choices=list(OPTIMIZERS))
    option("--momentum", "SGD's momentum, in [0, 1) (--optimizer sgd only)", metavar="MU", type=_number(0, 1))
    option("--weight-decay", "L2 penalty added to every gradient, >= 0", metavar="LAMBDA", type=_number(0))
    option("--lr-decay", "multiply the learning rate by this after every epoch, in (0, 1]; 1 keeps it constant",
           metavar="GAMMA", type=_number(0, 1, low_open=True, high_open=False))
    option("--activation", "the nonlinearity after each layer", choices=list(ACTIVATIONS))
    option("--pool", "subsampling: max or average pooling", choices=list(POOLS))
    option("--dropout", "probability of zeroing a hidden unit while training, in [0, 1)", metavar="P", type=_number(0, 1))
    option("--val-fraction", "share of the training images held out for validation, in [0, 1); "
           "0: no validation", metavar="F", type=_number(0, 1))
    option("--patience", "early stopping: stop after this many epochs without a lower validation loss "
           "(default: off)", metavar="N", type=_whole(1))
    option("--limit", "use only the first N training images (default: all)", metavar="N", type=_whole(1))
    option("--seed", "random seed for the weights, the split and the shuffling", metavar="N", type=_whole(0))
    option("--runs-dir", "where run folders are created", metavar="FOLDER")
    option("--resume", "continue a run in its own folder from its checkpoint (or run folder): same epochs "
           "count, learning-rate schedule, history and batch size (default: a new run)",
           metavar="CHECKPOINT")
    p.set_defaults(run=cli_train)
    return p


# -- Ctrl-C --------------------------------------------------------------------------------
class CtrlC:
    """Ctrl-C asks the trainer to stop between two steps.

    Python's own handler raises KeyboardInterrupt wherever the main thread is;
    inside a Numba kernel's call the exception surfaces as ``SystemError: ...
    returned a result with an exception set``: about one Ctrl-C in six ended in
    that traceback. Here the handler only takes note (and stops the trainer);
    :meth:`check` raises KeyboardInterrupt at a point of our choosing.
    Only the main thread can install it; elsewhere Ctrl-C keeps Python's behaviour.
    """

    def __init__(self):
        self.pressed = False
        self.trainer = None
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_signal)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            # Once pressed, the command is ending: a second press (people press twice) must
            # not raise KeyboardInterrupt on the way out, so Ctrl-C stays ignored from here.
            signal.signal(signal.SIGINT, signal.SIG_IGN if self.pressed else self._previous)

    def _on_signal(self, signum, frame):
        self.pressed = True
        if self.trainer is not None:
            self.trainer.stop()

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


# -- settings ------------------------------------------------------------------------------
class UsageError(ValueError):
    """A wrong combination of options or unusable data: one line, exit code 2."""


def settings_for(args, saved: dict | None = None) -> dict:
    """The run's settings: the defaults, then a resumed run's saved ones, then the typed options."""
    typed = {name: getattr(args, name, None) for name in DEFAULTS}
    typed = {name: value for name, value in typed.items() if value is not None}
    settings = {**DEFAULTS, **{k: v for k, v in (saved or {}).items() if k in DEFAULTS}}
    if saved is not None:
        for name, value in typed.items():
            if name not in CHANGEABLE_ON_RESUME and value != settings[name]:
                flag = "--" + name.replace("_", "-")
                raise UsageError(f"--resume: this run was trained with {flag} {settings[name]}; leave {flag} "
                                 f"out to continue it, or start a new run without --resume")
    settings.update(typed)
    if "momentum" in typed and settings["optimizer"] != "sgd":
        raise UsageError(f"--momentum applies to --optimizer sgd only (this run uses {settings['optimizer']})")
    return settings


def _resume_point(path: str) -> tuple[Path, dict]:
    """(checkpoint file, what it says about its run) for ``--resume FILE_OR_FOLDER``."""
    from .checkpoint import CheckpointError
    from .runs import read_run

    checkpoint = Path(path)
    if checkpoint.is_dir():
        checkpoint = checkpoint / "checkpoint_last.npz"
    if not checkpoint.is_file():
        raise UsageError(f"--resume: no checkpoint at {checkpoint}")
    try:
        return checkpoint, read_run(checkpoint)
    except (CheckpointError, ValueError) as exc:
        raise UsageError(f"--resume: {exc}") from None


def _load_data(s: dict, ctrl: CtrlC, err):
    """((x_train, y_train), validation or None, (x_test, y_test)), normalized."""
    from . import data

    def progress(name, done, total, bar=data.ProgressBar(err)):
        ctrl.check()  # a download stops at Ctrl-C too
        bar(name, done, total)

    try:
        x, y = data.load_mnist(s["dataset"], "train", progress=progress)
        x_test, y_test = data.load_mnist(s["dataset"], "test", progress=progress)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    x, x_test = data.normalize_images(x, dataset=s["dataset"]), data.normalize_images(x_test, dataset=s["dataset"])
    if s["limit"]:
        x, y = x[:s["limit"]], y[:s["limit"]]
    if not s["val_fraction"]:
        return (x, y), None, (x_test, y_test)
    try:
        train, val = data.train_val_split(x, y, s["val_fraction"], seed=s["seed"])
    except ValueError as exc:
        raise UsageError(f"--val-fraction {s['val_fraction']} with {len(x)} image(s): {exc}") from None
    return train, val, (x_test, y_test)


def _warmup(err) -> None:
    """Say what Numba compiles while training already runs (on numpy until each kernel is ready)."""
    from . import kernels

    kernels.print_progress(err)


class Progress:
    """A one-line text progress bar on stderr (a new line every ~10% when not a terminal)."""

    def __init__(self, stream=None, width: int = 20):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_draw = 0.0
        self.last_decile = -1
        self.loss = self.correct = 0.0
        self.steps = 0

    def step(self, r, epochs: int) -> None:
        """Show step record ``r`` with the running means of the epoch so far."""
        done = (r.step - 1) % r.steps_per_epoch + 1
        if done == 1:
            self.loss = self.correct = 0.0
            self.steps = 0
        self.loss += r.loss
        self.correct += r.accuracy or 0.0
        self.steps += 1
        filled = int(self.width * done / max(r.steps_per_epoch, 1))
        bar = "#" * filled + "." * (self.width - filled)
        acc = f" acc {100 * self.correct / self.steps:5.1f}%" if r.accuracy is not None else ""
        line = (f"epoch {r.epoch + 1}/{epochs} [{bar}] {done}/{r.steps_per_epoch} "
                f"loss {self.loss / self.steps:.3f}{acc}  {r.elapsed:.1f} s")
        now = time.perf_counter()
        if self.tty:
            if now - self.last_draw >= 0.1 or done == r.steps_per_epoch:
                self.stream.write("\r" + line + "\x1b[K")
                self.stream.flush()
                self.last_draw = now
        else:
            decile = 10 * done // max(r.steps_per_epoch, 1)
            if decile != self.last_decile:
                self.last_decile = decile
                self.stream.write(line + "\n")
                self.stream.flush()

    def end_line(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# -- the command ---------------------------------------------------------------------------
def cli_train(args) -> int:
    """``gradgraph train lenet ...`` (``args``: the parsed options; missing ones take ``DEFAULTS``)."""
    # Idle Numba (OpenMP) workers sleep instead of spinning, leaving the cores to numpy
    # and to other programs: several times faster steps on a busy machine. Set before
    # the first kernel runs; an explicit OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    err = sys.stderr
    with CtrlC() as ctrl:
        try:
            return _train(args, ctrl, err)
        except UsageError as exc:
            print(f"gradgraph train: error: {exc}", file=err)
            return 2
        except KeyboardInterrupt:
            print("interrupted before training started; nothing was saved", file=err)
            return 130


def _train(args, ctrl: CtrlC, err) -> int:
    from .checkpoint import load_checkpoint
    from .nn import LeNet5
    from .optim import ExponentialLR, default_lr, make_optimizer
    from .runs import make_run_dir
    from .train import Trainer

    resume = getattr(args, "resume", None)
    checkpoint, saved = _resume_point(resume) if resume else (None, None)
    s = settings_for(args, saved["config"] if saved else None)
    if saved and len(saved["history"]) >= s["epochs"]:
        raise UsageError(f"--resume: the run has finished {len(saved['history'])} of its {s['epochs']} epoch(s); "
                         f"pass a larger --epochs to train more")
    s["lr"] = s["lr"] if s["lr"] is not None else default_lr(s["optimizer"])
    if not saved and Path(s["runs_dir"]).exists() and not Path(s["runs_dir"]).is_dir():
        raise UsageError(f"--runs-dir {s['runs_dir']} is a file, not a folder")

    print(f"loading {s['dataset']} ...", file=err, flush=True)
    train, val, test = _load_data(s, ctrl, err)
    ctrl.check()
    model = LeNet5(activation=s["activation"], pool=s["pool"], dropout=s["dropout"], rng=s["seed"])
    options = {"weight_decay": s["weight_decay"], **({"momentum": s["momentum"]} if s["optimizer"] == "sgd" else {})}
    optimizer = make_optimizer(s["optimizer"], model.parameters(), s["lr"], **options)
    scheduler = ExponentialLR(optimizer, gamma=s["lr_decay"]) if s["lr_decay"] != 1.0 else None
    if saved:
        load_checkpoint(checkpoint, model, optimizer)
        if scheduler is not None and saved.get("scheduler"):
            scheduler.load_state_dict(saved["scheduler"])
    print(f"LeNet-5 ({model.num_parameters():,} parameters), {len(train[0]):,} training images"
          + (f", {len(val[0]):,} validation" if val else "") + f", {len(test[0]):,} test; "
          f"{optimizer!r}, batch {s['batch_size']}, {s['epochs']} epoch(s)", file=err, flush=True)
    _warmup(err)
    ctrl.check()

    if saved:
        run_dir = saved["run_dir"]
        print(f"resuming {run_dir} after epoch {len(saved['history'])}", file=err, flush=True)
    else:
        try:
            run_dir = make_run_dir(s["runs_dir"], "lenet", s["dataset"], lr=s["lr"], epochs=s["epochs"],
                                   batch=s["batch_size"], opt=s["optimizer"])
        except OSError as exc:
            raise UsageError(f"--runs-dir: cannot create a run folder: {exc}") from None
    config = {**{k: v for k, v in s.items() if k not in ("resume", "runs_dir")}, "command": " ".join(sys.argv)}
    trainer = Trainer(model, optimizer, train, val, epochs=s["epochs"], batch_size=s["batch_size"],
                      scheduler=scheduler, patience=s["patience"], seed=s["seed"], run_dir=run_dir, config=config,
                      history=saved["history"] if saved else None)
    ctrl.trainer = trainer  # from here on, Ctrl-C stops the trainer between two steps
    if ctrl.pressed:  # pressed a moment ago: stop at once, the run folder still says so
        trainer.stop()
    try:
        final = _show(trainer, s["epochs"], err)
    except OSError as exc:  # the disk is full, the folder was removed, ...
        print(f"gradgraph train: error: {exc}", file=err)
        _list_files(trainer.run_folder, err)
        return 1
    return _report(trainer, final, ctrl, test, err)


def _show(trainer, epochs: int, err):
    """Consume the record stream: a progress bar per step, a line per epoch; returns the final record."""
    bar = Progress(err)
    epoch_started = trainer.history[-1].elapsed if trainer.history else 0.0
    for r in trainer.records():
        if r.kind == "step":
            bar.step(r, epochs)
        elif r.kind == "epoch":
            bar.end_line()
            val = f"  val loss {r.val_loss:.4f} val acc {100 * r.val_accuracy:.2f}%" if r.val_loss is not None else ""
            print(f"epoch {r.epoch + 1}/{epochs}  loss {r.loss:.4f} acc {100 * r.accuracy:.2f}%{val}  "
                  f"lr {r.lr:g}  {r.elapsed - epoch_started:.1f} s/epoch  ({r.elapsed:.1f} s total)", flush=True)
            epoch_started = r.elapsed
        else:
            bar.end_line()
            return r


def _list_files(folder, stream) -> None:
    """Name the run folder and the files in it that exist, and nothing else."""
    files = folder.files()
    print(f"run folder: {folder.path}" + ("" if files else " (empty)"), file=stream)
    for path, what in files:
        print(f"  {path}   {what}", file=stream)
    stream.flush()


def _report(trainer, final, ctrl: CtrlC, test, err) -> int:
    """The last lines: the outcome, the test accuracy, the files that exist; returns the exit code."""
    if final.kind in ("nan", "diverged", "early_stop"):
        print(final.message, flush=True)
    if final.kind in ("done", "early_stop") and not ctrl.pressed:
        test_loss, test_acc = trainer.evaluate(*test)
        print(f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) on {len(test[0]):,} images "
              f"after {len(trainer.history)} epoch(s), {trainer.history[-1].elapsed:.1f} s of training", flush=True)
    _list_files(trainer.run_folder, err if ctrl.pressed else sys.stdout)
    if ctrl.pressed:
        from . import kernels

        kernels.compiler.stop()  # its "exiting: ..." line comes before the last one, "interrupted"
        last = trainer.run_folder.path / "checkpoint_last.npz"
        print("interrupted; " + (f"continue with: gradgraph train lenet --resume {last}" if last.exists()
                                 else "no epoch had finished, so there is nothing to resume"), file=err)
        return 130
    return 1 if final.kind in ("nan", "diverged") else 0
