"""The training loop, as a stream of records.

:class:`Trainer` runs minibatch gradient descent and *yields* a
:class:`Record` after every step and every epoch, so the command line (a
progress bar), the desktop app (a worker thread feeding live plots), the run
folder writer and the tests all consume the same stream::

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
``diverged``    the loss grew far above where it started while staying finite
                (see :mod:`gradgraph.diagnose`)

Read :meth:`Trainer._loop` first: it is the whole algorithm. The rest of the
class checks arguments and keeps the books. With ``run_dir`` the records also
go to a :class:`gradgraph.runs.RunFolder` (checkpoints, history.csv,
loss_curve.png, config.json); ``gradgraph train`` (:mod:`gradgraph.cli_train`)
drives it all from the terminal.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np

from . import losses
from .blas import limit_blas_threads
from .data.loader import batches
from .diagnose import DIVERGENCE, Health, grad_norms
from .runs import RunFolder
from .tensor import Tensor, no_grad

__all__ = ["Record", "Trainer", "Control", "fit", "limit_blas_threads", "LOSSES"]

#: Loss names accepted by ``Trainer(loss=...)``.
LOSSES = {
    "cross_entropy": losses.cross_entropy,
    "hinge": losses.hinge,
    "mse": losses.mse,
    "l1": losses.l1,
}

FINAL_KINDS = ("done", "stopped", "early_stop", "nan", "diverged")


@dataclass
class Record:
    """One entry of the training stream.

    ``kind``: "step", "epoch", or a final kind (see the module docstring). For a
    step, ``loss``/``accuracy`` are the batch's; for an epoch, the means over the
    epoch's training batches, plus the validation loss and accuracy.
    ``grad_norms`` maps parameter names (``"conv1.weight"``) to the L2 norm of
    their gradient at that step (the latest step's for other kinds). ``accuracy``
    is None when the loss is not a classification loss. ``lr`` is the learning
    rate used during the step/epoch; ``epoch`` counts from 0, ``step`` from 1.
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

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        """The inverse of ``to_dict`` (a checkpoint stores the history this way)."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class Control:
    """``stop()``, ``pause()`` and ``resume()`` from any thread; the loop calls
    :meth:`should_stop` between steps, which waits while paused."""

    def __init__(self):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self.paused_time = 0.0  # seconds spent paused, left out of ``elapsed``

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set() and not self._stop.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def should_stop(self) -> bool:
        if not self._running.is_set():
            began = time.perf_counter()
            self._running.wait()
            self.paused_time += time.perf_counter() - began
        return self._stop.is_set()


def _accuracy(logits: np.ndarray, y: np.ndarray) -> int | None:
    """Number of correct argmax predictions, or None when ``y`` are not class labels."""
    if logits.ndim != 2 or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        return None
    return int(np.count_nonzero(np.argmax(logits, axis=1) == y))


class _Tally:
    """Sums over one epoch's batches: loss, correct predictions, samples."""

    def __init__(self):
        self.loss, self.correct, self.n, self.steps = 0.0, 0, 0, 0

    def add(self, loss: float, correct: int | None, n: int) -> None:
        self.loss += loss * n
        self.correct = None if correct is None or self.correct is None else self.correct + correct
        self.n += n
        self.steps += 1

    def means(self) -> tuple:
        """(mean loss, accuracy or None)."""
        return self.loss / self.n, (None if self.correct is None else self.correct / self.n)


class Trainer:
    """Minibatch training of ``model`` with ``optimizer`` on ``train_data = (x, y)``.

    Keyword arguments:

    ``loss``        "cross_entropy" (default), "hinge", "mse", "l1", or a callable
                    ``loss(logits_tensor, y_array) -> scalar Tensor``
    ``epochs``      passes over the training data (in all, counting ``history``)
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
    ``divergence``  stop with a "diverged" record when a step's loss exceeds this
                    many times the first step's (None: never)
    ``history``     the epoch records of an earlier run to continue: training
                    resumes after its last epoch, shuffling as if it had never
                    stopped (the model, optimizer and scheduler must be restored too)

    ``stop()``, ``pause()`` and ``resume()`` may be called from any thread;
    they take effect between steps. ``history`` collects the epoch records.
    """

    def __init__(self, model, optimizer, train_data, val_data=None, *, loss="cross_entropy", epochs: int = 1,
                 batch_size: int = 64, scheduler=None, patience: int | None = None, seed: int = 0, run_dir=None,
                 log_every: int = 1, config: dict | None = None, restore_best: bool = False,
                 blas_threads: int | None = 1, augment=None, divergence: float | None = DIVERGENCE, history=None):
        from .data.augment import make_augment

        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        dtype = getattr(model, "dtype", np.float32)
        self.x, self.y = self._pair(train_data, "train_data", dtype)
        self.val_data = None if val_data is None else self._pair(val_data, "val_data", dtype)
        self.loss_name, self.loss_fn = self._loss(loss)
        if int(epochs) < 1 or int(batch_size) < 1 or int(log_every) < 1:
            raise ValueError(f"Trainer: epochs, batch_size and log_every must be >= 1 "
                             f"(got {epochs}, {batch_size}, {log_every})")
        if patience is not None and int(patience) < 1:
            raise ValueError(f"Trainer: patience must be >= 1 or None, got {patience}")
        self.epochs, self.batch_size, self.log_every = int(epochs), int(batch_size), int(log_every)
        self.patience = None if patience is None else int(patience)
        self.seed, self.restore_best, self.blas_threads = seed, bool(restore_best), blas_threads
        self.steps_per_epoch = -(-len(self.x) // self.batch_size)
        self.augment = make_augment(augment)
        self.control = Control()
        self.health = Health(model, self.loss_name, divergence)
        self._names = {id(p): name for name, p in self.health.names.items()}
        self.run_folder = RunFolder(run_dir, self, config) if run_dir is not None else None

        self.history: list[Record] = [r if isinstance(r, Record) else Record.from_dict(r) for r in history or ()]
        self.first_epoch = self.history[-1].epoch + 1 if self.history else 0
        if self.first_epoch >= self.epochs:
            raise ValueError(f"Trainer: the history already has {self.first_epoch} epoch(s); "
                             f"epochs={self.epochs} leaves none to train")
        self.step = self.history[-1].step if self.history else 0
        self.epoch = self.first_epoch
        self.best_loss, self.best_epoch, self.best_state = math.inf, None, None
        for r in self.history:
            self._note_if_best(r, keep_weights=False)
        self.last_record: Record | None = None
        self._grad_norms: dict = {}
        self._started = False
        self._t0 = None
        self._elapsed_before = self.history[-1].elapsed if self.history else 0.0

    @property
    def run_dir(self):
        return self.run_folder.path if self.run_folder is not None else None

    @property
    def config(self) -> dict:
        return self.run_folder.config if self.run_folder is not None else {}

    # -- the stream ------------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """Train, yielding step and epoch records and one final record (see the module docstring).

        One pass: a Trainer trains once; make a new one (same model) to continue.
        """
        if self._started:
            raise RuntimeError("Trainer.records() runs once; create a new Trainer to train again")
        self._started = True
        self._t0 = time.perf_counter()
        with limit_blas_threads(self.blas_threads):
            for record in self._loop():
                if self.run_folder is not None:
                    self.run_folder.write(record)
                if record.kind != "step":
                    self.last_record = record
                yield record

    def _loop(self) -> Iterator[Record]:
        """The algorithm: for every epoch, for every shuffled minibatch, forward, backward, step."""
        rng = np.random.default_rng(self.seed)
        for _ in range(self.first_epoch):  # a resumed run shuffles as if it had never stopped
            rng.permutation(len(self.x))
        for self.epoch in range(self.first_epoch, self.epochs):
            self.model.train()
            lr, tally = self.optimizer.lr, _Tally()
            augment_rng = np.random.default_rng([self.seed, 1, self.epoch])  # apart: the batch order stays
            for xb, yb in batches(self.x, self.y, self.batch_size, rng=rng):
                if self.control.should_stop():  # (waits while paused)
                    yield self._final("stopped", "training stopped", lr)
                    return
                if self.augment is not None:
                    xb = self.augment(xb, augment_rng)
                logits, loss = self._forward_loss(xb, yb)
                problem = self.health.loss_problem(xb, float(loss.data), self._where())
                if problem is None:
                    self.optimizer.zero_grad()
                    loss.backward()
                    self._grad_norms = grad_norms(self.optimizer.params, self._names)
                    problem = self.health.grad_problem(self._grad_norms, self._where())
                if problem is not None:
                    yield self._final(*problem, lr, float(loss.data))
                    return
                self.optimizer.step()
                self.step += 1
                correct = _accuracy(logits.data, yb)
                tally.add(float(loss.data), correct, len(xb))
                if self.step % self.log_every == 0 or tally.steps == self.steps_per_epoch:
                    yield Record("step", self.epoch, self.step, self.steps_per_epoch, float(loss.data),
                                 None if correct is None else correct / len(xb), lr, self._grad_norms,
                                 self._elapsed())
            yield self._end_epoch(tally, lr)
            if self.patience is not None and self.epoch - (self.best_epoch or 0) >= self.patience:
                yield self._early_stop(lr)
                return
        if self.restore_best and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        yield self._final("done", f"finished {self.epochs} epoch(s), {self.step} steps", self.optimizer.lr)

    # -- the books -------------------------------------------------------------------
    def _forward_loss(self, xb, yb):
        logits = self.model(Tensor(xb, name="input", requires_grad=False))
        return logits, self.loss_fn(logits, yb)

    def _where(self) -> str:
        return f"at epoch {self.epoch + 1}, step {self.step + 1}"

    def _elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._t0 - self.control.paused_time

    def _end_epoch(self, tally: _Tally, lr: float) -> Record:
        """The epoch record (with validation), the best weights so far, the schedule's next rate."""
        train_loss, train_acc = tally.means()
        val_loss, val_acc = self.evaluate(*self.val_data) if self.val_data is not None else (None, None)
        record = Record("epoch", self.epoch, self.step, self.steps_per_epoch, train_loss, train_acc, lr,
                        self._grad_norms, self._elapsed(), val_loss, val_acc)
        self.history.append(record)
        self._note_if_best(record, keep_weights=True)
        if self.scheduler is not None:
            self.scheduler.step()
        return record

    def _note_if_best(self, record: Record, keep_weights: bool) -> None:
        monitored = record.val_loss if self.val_data is not None else record.loss
        if monitored is not None and math.isfinite(monitored) and monitored < self.best_loss:
            self.best_loss, self.best_epoch = monitored, record.epoch
            self.best_state = self.model.state_dict() if keep_weights else None

    def _early_stop(self, lr: float) -> Record:
        what = "validation" if self.val_data is not None else "training"
        restored = "restored the weights of"
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        else:  # the best epoch was before a resume: its weights are only in checkpoint.npz
            restored = "the best weights (in checkpoint.npz) are those of"
        return self._final("early_stop", f"early stopping after epoch {self.epoch + 1}: the {what} loss has not "
                           f"improved for {self.patience} epoch(s); {restored} epoch {self.best_epoch + 1} "
                           f"({what} loss {self.best_loss:.4f})", lr)

    def _final(self, kind: str, message: str, lr: float, loss: float | None = None) -> Record:
        last = self.history[-1] if self.history else None
        return Record(kind, self.epoch, self.step, self.steps_per_epoch,
                      loss if loss is not None else (last.loss if last else float("nan")),
                      last.accuracy if last else None, lr, self._grad_norms, self._elapsed(),
                      last.val_loss if last else None, last.val_accuracy if last else None, message)

    def evaluate(self, x, y, batch_size: int = 1000) -> tuple:
        """(mean loss, accuracy or None) of the model on (x, y), in eval mode without a graph."""
        x, y = self._pair((x, y), "evaluate", getattr(self.model, "dtype", np.float32))
        was_training = self.model.training
        self.model.eval()
        tally = _Tally()
        try:
            with no_grad():
                for xb, yb in batches(x, y, batch_size, shuffle=False):
                    logits, loss = self._forward_loss(xb, yb)
                    tally.add(float(loss.data), _accuracy(logits.data, yb), len(xb))
        finally:
            self.model.train(was_training)
        return tally.means()

    # -- control from other threads --------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to stop before its next step (it yields a "stopped" record)."""
        self.control.stop()

    def pause(self) -> None:
        """Hold the loop before its next step until ``resume()`` (or ``stop()``)."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def stopping(self) -> bool:
        return self.control.stopping

    # -- arguments -------------------------------------------------------------------
    @staticmethod
    def _loss(loss):
        if isinstance(loss, str):
            if loss not in LOSSES:
                raise ValueError(f"Trainer: unknown loss {loss!r}; choose one of {', '.join(LOSSES)} or pass a function")
            return loss, LOSSES[loss]
        if callable(loss):
            return getattr(loss, "__name__", "loss"), loss
        raise TypeError(f"Trainer: loss must be a name or a callable, got {type(loss).__name__}")

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


def fit(model, optimizer, train_data, val_data=None, **kwargs) -> Trainer:
    """Train to the end (no streaming) and return the Trainer (``history``, ``last_record``)."""
    trainer = Trainer(model, optimizer, train_data, val_data, **kwargs)
    for _ in trainer.records():
        pass
    return trainer
