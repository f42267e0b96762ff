"""Run folders: what a training run leaves on disk, written from its record stream.

:class:`RunFolder` is a consumer of :meth:`gradgraph.train.Trainer.records`:
it sees each record as it goes by and keeps the folder up to date, atomically::

    config.json           the settings (written when training starts)
    checkpoint.npz        the weights with the best validation loss   } after
    checkpoint_last.npz   the weights after the latest epoch          } every
    history.csv           one line of metrics per epoch               } epoch
    loss_curve.png        loss and accuracy curves                    }

A checkpoint also carries what a resumed run needs (the epoch, the history, the
learning-rate schedule, the settings): :func:`read_run` returns it, and
``gradgraph train lenet --resume runs/<run>/checkpoint_last.npz`` carries on
in the same folder.
"""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from .checkpoint import read_checkpoint, save_checkpoint
from .files import atomic_write, atomic_write_text

__all__ = ["FILES", "RunFolder", "make_run_dir", "read_run", "run_name"]

#: The files of a run folder and what each holds.
FILES = {
    "checkpoint.npz": "best weights (lowest validation loss)",
    "checkpoint_last.npz": "weights after the last finished epoch",
    "history.csv": "per-epoch metrics",
    "loss_curve.png": "loss and accuracy curves",
    "config.json": "the settings",
}
COLUMNS = ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed"]


class RunFolder:
    """Keeps ``path`` up to date with ``trainer``'s records: call :meth:`write` with each one.

    ``config``: settings saved in config.json and in every checkpoint.
    """

    def __init__(self, path, trainer, config: dict | None = None):
        self.path, self.trainer, self.config = Path(path), trainer, dict(config or {})
        self.started = False

    def write(self, record) -> None:
        if not self.started:
            self.started = True
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path / "config.json", json.dumps(self._config(), indent=2, default=str) + "\n")
        if record.kind == "epoch":
            self._save("checkpoint_last.npz", "last", record)
            if self.trainer.best_epoch == record.epoch or not (self.path / "checkpoint.npz").exists():
                self._save("checkpoint.npz", "best", record)
            atomic_write_text(self.path / "history.csv", history_csv(self.trainer.history))
            try:
                self._plot()
            except Exception as exc:  # a plot must never stop training
                print(f"warning: could not draw loss_curve.png: {exc}", file=sys.stderr)

    def files(self) -> list[tuple[Path, str]]:
        """(path, what it holds) for each file of the folder that exists."""
        return [(self.path / name, what) for name, what in FILES.items() if (self.path / name).exists()]

    def _config(self) -> dict:
        t = self.trainer
        config = {
            "model": type(t.model).__name__,
            "model_repr": repr(t.model),
            "parameters": t.model.num_parameters() if hasattr(t.model, "num_parameters") else None,
            "optimizer": type(t.optimizer).__name__,
            "optimizer_repr": repr(t.optimizer),
            "lr": t.optimizer.lr,
            "loss": t.loss_name,
            "epochs": t.epochs,
            "batch_size": t.batch_size,
            "patience": t.patience,
            "augment": repr(t.augment) if getattr(t, "augment", None) is not None else None,
            "seed": t.seed,
            "train_samples": int(len(t.x)),
            "val_samples": int(len(t.val_data[0])) if t.val_data is not None else 0,
            "dtype": str(getattr(t.model, "dtype", "")),
        }
        config.update(self.config)
        return config

    def _save(self, filename: str, reason: str, record) -> None:
        t = self.trainer
        extra = {"epoch": record.epoch, "step": record.step, "reason": reason, "loss": record.loss,
                 "val_loss": record.val_loss, "val_accuracy": record.val_accuracy, "config": self.config,
                 "epochs": t.epochs, "batch_size": t.batch_size, "seed": t.seed,
                 "history": [r.to_dict() for r in t.history],
                 "scheduler": t.scheduler.state_dict() if t.scheduler is not None else None}
        save_checkpoint(self.path / filename, t.model, t.optimizer, extra)

    def _plot(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        history = self.trainer.history
        epochs = [r.epoch + 1 for r in history]
        fig = Figure(figsize=(9, 3.6), dpi=100)
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2)
        ax1.plot(epochs, [r.loss for r in history], "o-", label="train")
        if any(r.val_loss is not None for r in history):
            ax1.plot(epochs, [r.val_loss for r in history], "s-", label="validation")
        ax1.set_xlabel("epoch")
        ax1.set_ylabel(f"loss ({self.trainer.loss_name})")
        ax1.set_title("loss")
        ax1.legend()
        ax1.grid(alpha=0.3)
        if any(r.accuracy is not None for r in history):
            ax2.plot(epochs, [100 * r.accuracy for r in history], "o-", label="train")
            if any(r.val_accuracy is not None for r in history):
                ax2.plot(epochs, [100 * r.val_accuracy for r in history], "s-", label="validation")
            ax2.set_ylabel("accuracy (%)")
            ax2.legend()
        ax2.set_xlabel("epoch")
        ax2.set_title("accuracy")
        ax2.grid(alpha=0.3)
        for ax in (ax1, ax2):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        fig.tight_layout()
        with atomic_write(self.path / "loss_curve.png") as f:
            fig.savefig(f, format="png")


def history_csv(history) -> str:
    """The epoch records as CSV text, one line per epoch (epochs counted from 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for r in history:
        writer.writerow([r.epoch + 1, r.step] + ["" if getattr(r, c) is None else f"{getattr(r, c):.6g}"
                                                  for c in COLUMNS[2:]])
    return buffer.getvalue()


def read_run(checkpoint) -> dict:
    """What a checkpoint says about its run, to resume it: the ``extra`` dict given when it was
    saved (``epoch``, ``history``, ``scheduler``, ``config``, ...) plus ``run_dir``, its folder.

    Raises :class:`gradgraph.checkpoint.CheckpointError` for a file that is not a
    checkpoint, and ``ValueError`` for one saved without a run (no history).
    """
    checkpoint = Path(checkpoint)
    _, _, meta = read_checkpoint(checkpoint)
    extra = dict(meta.get("extra") or {})
    if not isinstance(extra.get("history"), list) or not extra["history"]:
        raise ValueError(f"{checkpoint} holds weights but no training history, so there is no run to resume")
    extra["run_dir"] = checkpoint.resolve().parent
    return extra


# -- naming --------------------------------------------------------------------------------
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
