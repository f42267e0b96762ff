"""The training loop, as a stream of records.

:class:`Trainer` runs minibatch gradient descent and *yields* a
:class:`Record` after every step and every epoch, so the command line (a
progress bar), the desktop app (a worker thread feeding live plots) and the
tests all consume the same stream::

    trainer = Trainer(model, gg.optim.Adam(model.parameters()), (x, y), (x_val, y_val), epochs=5)
    for record in trainer.records():
        if record.kind == "epoch":
            print(record.epoch, record.loss, record.val_accuracy)

The stream ends with exactly one final record:

``done``        all epochs ran
``stopped``     ``trainer.stop()`` was called (from any thread)
``early_stop``  the validation loss did not improve for ``patience`` epochs;
                the best weights were restored
``nan``         the loss or a gradient became NaN/Inf; ``message`` names the
                layer where the non-finite values first appeared

With ``run_dir`` the trainer also writes, after every epoch and atomically:
``config.json``, ``history.csv``, ``checkpoint.npz`` (the weights with the best
validation loss), ``checkpoint_last.npz`` (the latest epoch) and ``loss_curve.png``.

``gradgraph train lenet ...`` (:func:`cli_train`) drives it from the terminal.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from . import losses
from .blas import limit_blas_threads
from .checkpoint import atomic_write, atomic_write_text, load_checkpoint, save_checkpoint
from .tensor import Tensor, no_grad

__all__ = ["Record", "Trainer", "fit", "make_run_dir", "run_name", "cli_train", "limit_blas_threads", "LOSSES"]

#: Loss names accepted by ``Trainer(loss=...)``.
LOSSES = {
    "cross_entropy": losses.cross_entropy,
    "hinge": losses.hinge,
    "mse": losses.mse,
    "l1": losses.l1,
}

FINAL_KINDS = ("done", "stopped", "early_stop", "nan")


@dataclass
class Record:
    """One entry of the training stream.

    ``kind``: "step", "epoch", or a final kind ("done", "stopped",
    "early_stop", "nan"). For a step, ``loss``/``accuracy`` are the batch's;
    for an epoch, the means over the epoch's training batches, plus the
    validation loss and accuracy. ``grad_norms`` maps parameter names
    (``"conv1.weight"``) to the L2 norm of their gradient at that step (the
    latest step's for other kinds). ``accuracy`` is None when the loss is not a
    classification loss. ``lr`` is the learning rate used during the step/epoch.
    """

    kind: str
    epoch: int
    step: int
    steps_per_epoch: int
    loss: float
    accuracy: float | None
    lr: float
    grad_norms: dict = field(default_factory=dict)
    elapsed: float = 0.0
    val_loss: float | None = None
    val_accuracy: float | None = None
    message: str = ""

    @property
    def final(self) -> bool:
        """True for the record that ends the stream."""
        return self.kind in FINAL_KINDS

    def to_dict(self) -> dict:
        return asdict(self)


def _accuracy(logits: np.ndarray, y: np.ndarray) -> int | None:
    """Number of correct argmax predictions, or None when ``y`` are not class labels."""
    if logits.ndim != 2 or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return None
    return int(np.count_nonzero(np.argmax(logits, axis=1) == y))


def _nonfinite_kind(a: np.ndarray) -> str:
    return "nan" if np.isnan(a).any() else "inf"


class Trainer:
    """Minibatch training of ``model`` with ``optimizer`` on ``train_data = (x, y)``.

    Keyword arguments:

    ``loss``        "cross_entropy" (default), "hinge", "mse", "l1", or a callable
                    ``loss(logits_tensor, y_array) -> scalar Tensor``
    ``epochs``      passes over the training data
    ``batch_size``  samples per step (the last batch of an epoch may be smaller)
    ``scheduler``   a :mod:`gradgraph.optim` schedule, stepped after every epoch
    ``patience``    early stopping: stop after this many epochs without a lower
                    validation loss (training loss without validation data),
                    restoring the best weights
    ``seed``        the shuffling order
    ``run_dir``     folder for checkpoints, history.csv, loss_curve.png, config.json
    ``log_every``   yield a step record every this many steps (the last step of an
                    epoch always)
    ``config``      extra entries for config.json (dataset name, ...)
    ``restore_best`` also restore the best weights when all epochs ran
    ``augment``     a random change applied to every training batch (never to the
                    validation data): a name of ``gg.data.AUGMENTS`` ("shift",
                    "shift+flip", ...) or a function ``f(x, rng) -> x``
    ``blas_threads`` numpy's OpenBLAS threads while training (1: leave the cores to
                    the conv kernels; None: unchanged), see :func:`limit_blas_threads`

    ``stop()``, ``pause()`` and ``resume()`` may be called from any thread;
    they take effect between steps. ``history`` collects the epoch records.
    """

    def __init__(self, model, optimizer, train_data, val_data=None, *, loss="cross_entropy", epochs: int = 1,
                 batch_size: int = 64, scheduler=None, patience: int | None = None, seed: int = 0, run_dir=None,
                 log_every: int = 1, config: dict | None = None, restore_best: bool = False,
                 blas_threads: int | None = 1, augment=None):
        from .data.augment import make_augment

        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        dtype = getattr(model, "dtype", np.float32)
        self.x, self.y = self._pair(train_data, "train_data", dtype)
        self.val_data = None if val_data is None else self._pair(val_data, "val_data", dtype)
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"Trainer: unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a function")
            self.loss_name, self.loss_fn = loss, LOSSES[loss]
        elif callable(loss):
            self.loss_name, self.loss_fn = getattr(loss, "__name__", "loss"), loss
        else:
            raise TypeError(f"Trainer: loss must be a name or a callable, got {type(loss).__name__}")
        if int(epochs) < 1 or int(batch_size) < 1 or int(log_every) < 1:
            raise ValueError(f"Trainer: epochs, batch_size and log_every must be >= 1 "
                             f"(got {epochs}, {batch_size}, {log_every})")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"Trainer: patience must be >= 1 or None, got {patience}")
        self.epochs, self.batch_size, self.log_every = int(epochs), int(batch_size), int(log_every)
        self.patience = None if patience is None else int(patience)
        self.seed, self.restore_best, self.blas_threads = seed, bool(restore_best), blas_threads
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.config = dict(config or {})
        self.steps_per_epoch = -(-len(self.x) // self.batch_size)
        self.augment = make_augment(augment)

        self.history: list[Record] = []
        self.step = 0
        self.epoch = 0
        self.best_loss = math.inf
        self.best_epoch: int | None = None
        self.best_state = None
        self.last_record: Record | None = None
        self._names = {id(p): name for name, p in model.named_parameters()} if hasattr(model, "named_parameters") else {}
        self._grad_norms: dict = {}
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._started = False
        self._paused_time = 0.0
        self._t0 = None

    @staticmethod
    def _pair(data, what: str, dtype):
        try:
            x, y = data
        except (TypeError, ValueError):
            raise TypeError(f"Trainer: {what} must be a pair (x, y) of arrays") from None
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        y = np.asarray(y.data if isinstance(y, Tensor) else y)
        if len(x) != len(y):
            raise ValueError(f"Trainer: {what} has {len(x)} inputs but {len(y)} targets (shapes {x.shape} and {y.shape})")
        if len(x) == 0:
            raise ValueError(f"Trainer: {what} is empty")
        if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer):
            x = x.astype(dtype, copy=False)
        if np.issubdtype(y.dtype, np.floating) and not np.issubdtype(y.dtype, dtype):
            y = y.astype(dtype)
        return x, y

    # -- control from other threads --------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop before its next step (it yields a "stopped" record)."""
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        """Hold the loop before its next step until ``resume()`` (or ``stop()``)."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        began = time.perf_counter()
        while not self._running.wait(0.05):
            pass
        self._paused_time += time.perf_counter() - began

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0 - self._paused_time

    # -- one step ------------------------------------------------------------------
    def _forward_loss(self, xb, yb):
        logits = self.model(Tensor(xb, name="input", requires_grad=False))
        return logits, self.loss_fn(logits, yb)

    def _compute_grad_norms(self) -> dict:
        norms = {}
        for i, p in enumerate(self.optimizer.params):
            if p.grad is None:
                continue
            g = p.grad.reshape(-1)
            norms[self._names.get(id(p), p.name or f"param{i}")] = float(math.sqrt(float(np.dot(g, g))))
        return norms

    def _leaf_outputs(self, xb):
        """Yield (layer path, module, output array) for every leaf layer, in the order they run."""
        outputs = []
        handles = []
        for name, module in self.model.named_modules():
            if name and not module._modules:
                def record(mod, inputs, out, name=name):
                    outputs.append((name, mod, out.data if isinstance(out, Tensor) else np.asarray(out)))
                handles.append(module.register_forward_hook(record))
        try:
            with no_grad():
                self.model(Tensor(xb, name="input", requires_grad=False))
        finally:
            for h in handles:
                h.remove()
        return outputs

    def _diagnose_loss(self, xb, yb, loss_value: float) -> str:
        """Which layer first produced non-finite values, for the "nan" record's message."""
        where = f"at epoch {self.epoch + 1}, step {self.step + 1}"
        head = f"loss is {loss_value} {where}"
        hint = "; try a smaller learning rate"
        for name, p in self.model.named_parameters():
            if not np.all(np.isfinite(p.data)):
                layer = name.rpartition(".")[0] or name
                return f"{head}: parameter {name!r} of layer {layer!r} contains {_nonfinite_kind(p.data)}{hint}"
        if not np.all(np.isfinite(xb)):
            return f"{head}: the input batch itself contains {_nonfinite_kind(xb)} (check the data)"
        if hasattr(self.model, "named_modules"):
            for name, module, out in self._leaf_outputs(xb):
                if not np.all(np.isfinite(out)):
                    return (f"{head}: non-finite values ({_nonfinite_kind(out)}) first appeared in the output of "
                            f"layer {name!r} ({type(module).__name__}){hint}")
        return f"{head}: every layer's output is finite, the loss ({self.loss_name}) is not (check the targets){hint}"

    def _diagnose_grads(self, norms: dict) -> str | None:
        """None if every gradient is finite, else a message naming the layer nearest the loss with a bad one."""
        bad = [name for name, value in norms.items() if not math.isfinite(value)]
        if not bad:
            return None
        order = list(self._names.values()) or list(norms)
        bad.sort(key=lambda n: order.index(n) if n in order else -1)
        name = bad[-1]  # backward runs from the output: the last layer is where it appeared first
        layer = name.rpartition(".")[0] or name
        return (f"gradient is not finite at epoch {self.epoch + 1}, step {self.step + 1}: it first appeared in "
                f"layer {layer!r} (parameter {name!r}); try a smaller learning rate")

    # -- the stream ------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """Train, yielding step and epoch records and one final record (see the module docstring).

        One pass: a Trainer trains once; make a new one (same model) to continue.
        """
        if self._started:
            raise RuntimeError("Trainer.records() runs once; create a new Trainer to train again")
        self._started = True
        with limit_blas_threads(self.blas_threads):
            yield from self._records()

    def _records(self) -> Iterator[Record]:
        self._t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        augment_rng = np.random.default_rng([self.seed, 1])  # its own stream: the batch order stays the same
        monitor_val = self.val_data is not None
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._write_config()

        for epoch in range(self.epochs):
            self.epoch = epoch
            self.model.train()
            lr = self.optimizer.lr
            total_loss, total_correct, total_n, counted = 0.0, 0, 0, True
            order = rng.permutation(len(self.x))
            for i in range(self.steps_per_epoch):
                self._wait_if_paused()
                if self._stop.is_set():
                    yield self._final("stopped", "training stopped", lr)
                    return
                idx = order[i * self.batch_size:(i + 1) * self.batch_size]
                xb, yb = self.x[idx], self.y[idx]
                if self.augment is not None:
                    xb = self.augment(xb, augment_rng)
                logits, loss = self._forward_loss(xb, yb)
                loss_value = float(loss.data)
                if not math.isfinite(loss_value):
                    yield self._final("nan", self._diagnose_loss(xb, yb, loss_value), lr, loss_value)
                    return
                self.optimizer.zero_grad()
                loss.backward()
                norms = self._compute_grad_norms()
                self._grad_norms = norms
                message = self._diagnose_grads(norms)
                if message:
                    yield self._final("nan", message, lr, loss_value)
                    return
                self.optimizer.step()
                self.step += 1
                correct = _accuracy(logits.data, yb)
                n = len(idx)
                total_loss += loss_value * n
                total_n += n
                if correct is None:
                    counted = False
                else:
                    total_correct += correct
                if self.step % self.log_every == 0 or i == self.steps_per_epoch - 1:
                    yield Record("step", epoch, self.step, self.steps_per_epoch, loss_value,
                                 None if correct is None else correct / n, lr, norms, self._elapsed())

            train_loss = total_loss / total_n
            train_acc = total_correct / total_n if counted else None
            val_loss = val_acc = None
            if monitor_val:
                val_loss, val_acc = self.evaluate(*self.val_data)
            record = Record("epoch", epoch, self.step, self.steps_per_epoch, train_loss, train_acc, lr,
                            self._grad_norms, self._elapsed(), val_loss, val_acc)
            self.history.append(record)
            monitored = val_loss if monitor_val else train_loss
            improved = monitored is not None and math.isfinite(monitored) and monitored < self.best_loss
            if improved:
                self.best_loss, self.best_epoch = monitored, epoch
                self.best_state = self.model.state_dict()
            self._write_epoch_files(improved)
            if self.scheduler is not None:
                self.scheduler.step()
            self.last_record = record
            yield record

            if self.patience is not None and self.best_epoch is not None and epoch - self.best_epoch >= self.patience:
                self.model.load_state_dict(self.best_state)
                what = "validation" if monitor_val else "training"
                yield self._final(
                    "early_stop",
                    f"early stopping after epoch {epoch + 1}: the {what} loss has not improved for "
                    f"{self.patience} epoch(s); restored the weights of epoch {self.best_epoch + 1} "
                    f"({what} loss {self.best_loss:.4f})", lr)
                return
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        yield self._final("done", f"finished {self.epochs} epoch(s), {self.step} steps", self.optimizer.lr)

    def _final(self, kind: str, message: str, lr: float, loss: float | None = None) -> Record:
        last = self.history[-1] if self.history else None
        record = Record(kind, self.epoch, self.step, self.steps_per_epoch,
                        loss if loss is not None else (last.loss if last else float("nan")),
                        last.accuracy if last else None, lr, self._grad_norms, self._elapsed(),
                        last.val_loss if last else None, last.val_accuracy if last else None, message)
        self.last_record = record
        if kind == "stopped" and self.run_dir is not None:
            self._save("checkpoint_last.npz", kind)
        return record

    def evaluate(self, x, y, batch_size: int = 1000) -> tuple:
        """(mean loss, accuracy or None) of the model on (x, y), in eval mode without a graph."""
        x, y = self._pair((x, y), "evaluate", self.model.dtype)
        was_training = self.model.training
        self.model.eval()
        total_loss, total_correct, counted = 0.0, 0, True
        try:
            with no_grad():
                for start in range(0, len(x), batch_size):
                    xb, yb = x[start:start + batch_size], y[start:start + batch_size]
                    logits, loss = self._forward_loss(xb, yb)
                    total_loss += float(loss.data) * len(xb)
                    correct = _accuracy(logits.data, yb)
                    if correct is None:
                        counted = False
                    else:
                        total_correct += correct
        finally:
            self.model.train(was_training)
        return total_loss / len(x), (total_correct / len(x) if counted else None)

    # -- files -----------------------------------------------------------------------
    def _write_config(self) -> None:
        config = {
            "model": type(self.model).__name__,
            "model_repr": repr(self.model),
            "parameters": self.model.num_parameters() if hasattr(self.model, "num_parameters") else None,
            "optimizer": type(self.optimizer).__name__,
            "optimizer_repr": repr(self.optimizer),
            "lr": self.optimizer.lr,
            "loss": self.loss_name,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "augment": repr(self.augment) if self.augment is not None else None,
            "seed": self.seed,
            "train_samples": int(len(self.x)),
            "val_samples": int(len(self.val_data[0])) if self.val_data is not None else 0,
            "dtype": str(self.model.dtype),
        }
        config.update(self.config)
        atomic_write_text(self.run_dir / "config.json", json.dumps(config, indent=2, default=str) + "\n")

    def _save(self, filename: str, reason: str) -> None:
        last = self.history[-1] if self.history else None
        extra = {"epoch": self.epoch, "step": self.step, "reason": reason,
                 "loss": last.loss if last else None, "val_loss": last.val_loss if last else None,
                 "val_accuracy": last.val_accuracy if last else None, "config": self.config}
        save_checkpoint(self.run_dir / filename, self.model, self.optimizer, extra)

    def _write_epoch_files(self, improved: bool) -> None:
        if self.run_dir is None:
            return
        self._save("checkpoint_last.npz", "last")
        if improved or not (self.run_dir / "checkpoint.npz").exists():
            self._save("checkpoint.npz", "best")
        columns = ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed"]
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for r in self.history:
            writer.writerow([r.epoch + 1, r.step] + ["" if getattr(r, c) is None else f"{getattr(r, c):.6g}"
                                                      for c in columns[2:]])
        atomic_write_text(self.run_dir / "history.csv", buffer.getvalue())
        try:
            self._plot()
        except Exception as exc:  # a plot must never stop training
            print(f"warning: could not draw loss_curve.png: {exc}", file=sys.stderr)

    def _plot(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        epochs = [r.epoch + 1 for r in self.history]
        fig = Figure(figsize=(9, 3.6), dpi=100)
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(epochs, [r.loss for r in self.history], "o-", label="train")
        if any(r.val_loss is not None for r in self.history):
            ax1.plot(epochs, [r.val_loss for r in self.history], "s-", label="validation")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel(f"loss ({self.loss_name})")
        ax1.set_title("loss")
        ax1.legend()
        ax1.grid(alpha=0.3)
        if any(r.accuracy is not None for r in self.history):
            ax2.plot(epochs, [100 * r.accuracy for r in self.history], "o-", label="train")
            if any(r.val_accuracy is not None for r in self.history):
                ax2.plot(epochs, [100 * r.val_accuracy for r in self.history], "s-", label="validation")
            ax2.set_ylabel("accuracy (%)")
            ax2.legend()
        ax2.set_xlabel("epoch")
        ax2.set_title("accuracy")
        ax2.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_write(self.run_dir / "loss_curve.png") as f:
            fig.savefig(f, format="png")


def fit(model, optimizer, train_data, val_data=None, **kwargs) -> Trainer:
    """Train to the end (no streaming) and return the Trainer (``history``, ``last_record``)."""
    trainer = Trainer(model, optimizer, train_data, val_data, **kwargs)
    for _ in trainer.records():
        pass
    return trainer


# -- run folders ------------------------------------------------------------------------
def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def run_name(model: str, dataset: str, **hyper) -> str:
    """``lenet_fashion-mnist_lr_0.001_epochs_10_batch_64_opt_adam`` from the keyword order given."""
    parts = [model, dataset] + [f"{k}_{_fmt(v)}" for k, v in hyper.items()]
    return "_".join(str(p).replace("/", "-").replace(" ", "") for p in parts)


def make_run_dir(runs_dir, model: str, dataset: str, **hyper) -> Path:
    """Create ``runs_dir/<run_name>``, adding ``_2``, ``_3``, ... if it exists; returns the path."""
    base = Path(runs_dir) / run_name(model, dataset, **hyper)
    base.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}_{n}")


# -- the command line -------------------------------------------------------------------
class _Progress:
    """A one-line text progress bar on stderr (a new line every ~10% when not a terminal)."""

    def __init__(self, stream=None, width: int = 20):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_draw = 0.0
        self.last_decile = -1

    def update(self, epoch: int, epochs: int, done: int, total: int, loss: float, acc, elapsed: float) -> None:
        now = time.perf_counter()
        filled = int(self.width * done / max(total, 1))
        bar = "#" * filled + "." * (self.width - filled)
        acc_text = f" acc {100 * acc:5.1f}%" if acc is not None else ""
        line = f"epoch {epoch}/{epochs} [{bar}] {done}/{total} loss {loss:.3f}{acc_text}  {elapsed:.1f} s"
        if self.tty:
            if now - self.last_draw >= 0.1 or done == total:
                self.stream.write("\r" + line + "\x1b[K")
                self.stream.flush()
                self.last_draw = now
        else:
            decile = 10 * done // max(total, 1)
            if decile != self.last_decile:
                self.last_decile = decile
                self.stream.write(line + "\n")
                self.stream.flush()

    def end_line(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


#: Learning rates when --lr is not given: the optimizers' defaults, except RMSprop,
#: whose 1e-2 (torch's default too) is too large for LeNet-5: the first epoch's mean
#: loss rises to about twice the starting ln 10, and it ends behind 1e-3.
DEFAULT_LR = {"adam": 1e-3, "sgd": 0.01, "rmsprop": 1e-3}


def _make_optimizer(name: str, params, lr: float, momentum: float, weight_decay: float):
    from . import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}")


def _warmup(err) -> None:
    """Print Numba's compile progress while training starts on numpy (see gradgraph.kernels)."""
    from . import kernels

    kernels.print_progress(err)


def cli_train(args) -> int:
    """``gradgraph train lenet --dataset fashion-mnist --epochs 10 ...``"""
    # Idle Numba (OpenMP) workers sleep instead of spinning, leaving the cores to numpy
    # and to other programs: several times faster steps on a busy machine. Set before
    # the first kernel runs; an explicit OMP_WAIT_POLICY wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from . import data, nn

    err, out = sys.stderr, sys.stdout
    opt = lambda name, default=None: getattr(args, name, default)  # noqa: E731
    dataset = opt("dataset", "fashion-mnist-starter")
    epochs, batch_size, seed = int(opt("epochs", 10)), int(opt("batch_size", 64)), int(opt("seed", 0))
    optimizer_name = opt("optimizer", "adam")
    lr = opt("lr") if opt("lr") is not None else DEFAULT_LR[optimizer_name]

    print(f"loading {dataset} ...", file=err, flush=True)
    try:
        if dataset == "fashion-mnist-starter":
            (x_raw, y_all), (x_test_raw, y_test) = data.load_starter("train"), data.load_starter("test")
        else:
            (x_raw, y_all), (x_test_raw, y_test) = data.load_mnist(dataset, "train"), data.load_mnist(dataset, "test")
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=err)
        return 2
    x_all = data.normalize_images(x_raw, dataset=dataset)
    x_test = data.normalize_images(x_test_raw, dataset=dataset)
    if opt("limit"):
        x_all, y_all = x_all[: int(opt("limit"))], y_all[: int(opt("limit"))]
    val_fraction = float(opt("val_fraction", 0.1) or 0.0)
    if val_fraction > 0:
        (x_train, y_train), val = data.train_val_split(x_all, y_all, val_fraction, seed=seed)
    else:
        (x_train, y_train), val = (x_all, y_all), None

    model = nn.LeNet5(activation=opt("activation", "relu"), pool=opt("pool", "max"), dropout=opt("dropout", 0.0),
                      rng=seed)
    optimizer = _make_optimizer(optimizer_name, model.parameters(), lr, opt("momentum", 0.9),
                                opt("weight_decay", 0.0))
    if opt("resume"):
        try:
            meta = load_checkpoint(opt("resume"), model, optimizer)
        except Exception as exc:
            print(f"error: cannot resume from {opt('resume')}: {exc}", file=err)
            return 2
        if opt("lr") is not None:
            optimizer.lr = float(opt("lr"))  # an explicit --lr wins over the saved one
        print(f"resumed from {opt('resume')} (epoch {meta.get('extra', {}).get('epoch', '?')})", file=err)

    run_dir = make_run_dir(opt("runs_dir", "runs"), "lenet", dataset, lr=float(lr), epochs=epochs,
                           batch=batch_size, opt=optimizer_name)
    config = {"dataset": dataset, "activation": opt("activation", "relu"), "pool": opt("pool", "max"),
              "dropout": opt("dropout", 0.0), "val_fraction": val_fraction, "limit": opt("limit"),
              "momentum": opt("momentum") if optimizer_name == "sgd" else None,
              "weight_decay": opt("weight_decay", 0.0), "resume": opt("resume"), "command": " ".join(sys.argv)}
    print(f"LeNet-5 ({model.num_parameters():,} parameters), {len(x_train):,} training images"
          + (f", {len(val[0]):,} validation" if val else "") + f", {len(x_test):,} test; "
          f"{optimizer!r}, batch {batch_size}, {epochs} epoch(s)", file=err, flush=True)
    _warmup(err)

    from .optim import ExponentialLR

    lr_decay = float(opt("lr_decay", 1.0) or 1.0)
    scheduler = ExponentialLR(optimizer, gamma=lr_decay) if lr_decay != 1.0 else None
    config["lr_decay"] = lr_decay
    trainer = Trainer(model, optimizer, (x_train, y_train), val, epochs=epochs, batch_size=batch_size,
                      scheduler=scheduler, patience=opt("patience"), seed=seed, run_dir=run_dir, config=config)
    bar = _Progress(err)
    epoch_started, run_loss, run_correct, run_n = 0.0, 0.0, 0.0, 0
    final = None
    try:
        for r in trainer.records():
            if r.kind == "step":
                done = (r.step - 1) % r.steps_per_epoch + 1
                if done == 1:
                    run_loss = run_correct = 0.0
                    run_n = 0
                run_loss += r.loss
                run_correct += r.accuracy or 0.0
                run_n += 1
                bar.update(r.epoch + 1, epochs, done, r.steps_per_epoch, run_loss / run_n, run_correct / run_n,
                           r.elapsed)
            elif r.kind == "epoch":
                bar.end_line()
                val_text = (f"  val loss {r.val_loss:.4f} val acc {100 * r.val_accuracy:.2f}%"
                            if r.val_loss is not None else "")
                print(f"epoch {r.epoch + 1}/{epochs}  loss {r.loss:.4f} acc {100 * r.accuracy:.2f}%{val_text}  "
                      f"lr {r.lr:g}  {r.elapsed - epoch_started:.1f} s/epoch  ({r.elapsed:.1f} s total)",
                      file=out, flush=True)
                epoch_started = r.elapsed
            else:
                bar.end_line()
                final = r
                if r.kind != "done":
                    print(r.message, file=out, flush=True)
    except KeyboardInterrupt:
        bar.end_line()
        print(f"interrupted; the last finished epoch is saved in {run_dir / 'checkpoint_last.npz'}", file=err)
        return 130

    test_loss, test_acc = trainer.evaluate(x_test, y_test)
    mean_epoch = trainer.history[-1].elapsed / len(trainer.history) if trainer.history else 0.0
    print(f"test accuracy {100 * test_acc:.2f}% (loss {test_loss:.4f}) on {len(x_test):,} images; "
          f"{len(trainer.history)} epoch(s) in {final.elapsed if final else 0:.1f} s ({mean_epoch:.1f} s/epoch)",
          file=out)
    print(f"run folder: {run_dir}", file=out)
    for name, what in (("checkpoint.npz", "best weights (lowest validation loss)"),
                       ("checkpoint_last.npz", "weights after the last epoch"),
                       ("history.csv", "per-epoch metrics"), ("loss_curve.png", "loss and accuracy curves"),
                       ("config.json", "the settings")):
        print(f"  {run_dir / name}   {what}", file=out)
    out.flush()
    return 0 if final is not None and final.kind in ("done", "early_stop", "stopped") else 1
