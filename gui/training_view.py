"""The Train tab: a lesson's ``trainer(...)`` run in a worker thread, with live views.

Threads: :meth:`TrainingStream.events` runs on a
:class:`~.worker.GeneratorWorker`. It iterates ``Trainer.records()`` and,
between steps, computes the heavy snapshots (filters, feature maps,
predictions and confusion matrix, decision boundary) because only it may
touch the model while training runs. Each record and snapshot it yields
arrives on the main thread (``_on_event``); the panel keeps them and a QTimer
redraws at most a few times per second, so the event loop never waits for
training. Pause and resume are the worker's (training waits after a step).

:class:`TrainPanel` owns the run (start, pause, stop, explore a model) and composes
its parts: :class:`~.train_options.TrainOptions` (the form),
:class:`~.train_views.TrainingCurves` and :class:`~.train_views.ModelViews` (the live views).
"""
from __future__ import annotations

import copy
import threading
import time
import traceback
import types

import numpy as np
from PySide6.QtCore import QCoreApplication, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget

from gradgraph import inspect as inspect_model
from gradgraph.nn import Module

from .train_options import TrainOptions
from .train_views import ModelViews, TrainingCurves
from .worker import GeneratorWorker

REDRAW_INTERVAL = 0.2  # seconds between curve redraws (at most 5/s)
SNAPSHOT_INTERVAL = 1.5  # seconds of training between snapshots (filters, feature maps)
HEAVY_INTERVAL = 6.0  # seconds between predictions on the validation sample (confusion matrix)


def class_names(dataset) -> list | None:
    """The class names of a dataset by name (None for a lesson's own data)."""
    from gradgraph.data import CLASSES

    return list(CLASSES.get(dataset, [])) or None


# -- the worker's generator (no Qt) ----------------------------------------------------------------------

class TrainingStream:
    """A Trainer's records with snapshots in between: ``events()`` is the worker's generator."""

    def __init__(self, trainer, max_steps: int | None = None, image_index: int = 0):
        self.trainer = trainer
        self.max_steps = max_steps
        self.image_index = image_index
        self.snapshot_requested = threading.Event()
        self.snapshot_requested.set()  # one right away
        self._last_snapshot = 0.0
        self._last_heavy = 0.0
        self.kind = data_kind(trainer)
        self.eval_x, self.eval_y = eval_data(trainer)

    def request_snapshot(self, image_index: int | None = None):
        if image_index is not None:
            self.image_index = int(image_index)
        self.snapshot_requested.set()

    def events(self):
        """Yield ``("record", record)`` for every training record and ``("snapshot", dict)``
        when one is due (every few seconds, at epoch ends, or when asked for)."""
        for record in self.trainer.records():
            yield "record", record
            now = time.perf_counter()
            if (record.kind != "step" or self.snapshot_requested.is_set()
                    or now - self._last_snapshot > SNAPSHOT_INTERVAL):
                heavy = record.kind != "step" or now - self._last_heavy > HEAVY_INTERVAL
                self.snapshot_requested.clear()
                yield "snapshot", self.snapshot(heavy=heavy)
                self._last_snapshot = time.perf_counter()
                if heavy:
                    self._last_heavy = self._last_snapshot
            if (self.max_steps is not None and record.kind == "step"
                    and record.step >= self.max_steps):
                self.trainer.stop()
            if getattr(record, "final", record.kind in ("done", "stopped", "early_stop", "nan")):
                break

    def snapshot(self, heavy: bool = True) -> dict:
        """Filters and feature maps; with ``heavy`` also predictions (confusion matrix, boundary)."""
        return model_snapshot(self.trainer, self.kind, self.eval_x, self.eval_y, self.image_index, heavy)


def data_kind(trainer) -> str:
    """``"image"`` (N, C, H, W), ``"2d"`` (points in the plane) or ``"other"``."""
    x = np.asarray(trainer.x)
    return "image" if x.ndim == 4 else ("2d" if x.ndim == 2 and x.shape[1] == 2 else "other")


def eval_data(trainer) -> tuple:
    """The samples snapshots look at: up to 500 validation samples (else training samples)."""
    val = getattr(trainer, "val_data", None)
    x, y = val if val is not None else (trainer.x, trainer.y)
    return np.asarray(x)[:500], np.asarray(y)[:500]


def model_snapshot(trainer, kind, eval_x, eval_y, image_index: int = 0, heavy: bool = True) -> dict:
    """What the panel shows of a model (read with :mod:`gradgraph.inspect`): filters, the
    feature maps of validation image ``image_index``; with ``heavy`` also predictions
    (confusion matrix, decision boundary). Called by the training worker, and on the main
    thread when training is paused or over, or for a loaded checkpoint."""
    model = trainer.model
    snap: dict = {"kind": kind}
    try:
        is_module = isinstance(model, Module)
        if is_module:
            snap["filters"] = {k: np.array(v) for k, v in inspect_model.filters(model).items()}
        if kind == "image" and is_module and len(eval_x):
            i = min(max(0, int(image_index)), len(eval_x) - 1)
            snap["image"] = np.array(eval_x[i])
            snap["image_label"] = int(eval_y[i]) if np.ndim(eval_y[i]) == 0 else None
            snap["feature_maps"] = dict(inspect_model.feature_maps(model, eval_x[i]))
        y = eval_y
        if not heavy:
            return snap
        if y.ndim == 1 and np.issubdtype(y.dtype, np.integer) or (y.ndim == 2 and y.shape[1] == 1):
            labels = y.reshape(-1).astype(int)
            pred = inspect_model.predicted_classes(inspect_model.predict(model, eval_x))
            snap["confusion"] = inspect_model.confusion_matrix(labels, pred)
            snap["predictions"] = pred[:32]
            snap["labels"] = labels[:32]
        if kind == "2d":
            x = np.asarray(trainer.x, dtype=np.float64)
            boundary = inspect_model.decision_boundary(model, x, resolution=100)
            snap["boundary"] = boundary.classes
            snap["bounds"] = (boundary.lo, boundary.hi)
            snap["points"] = x[:600]
            snap["point_labels"] = np.asarray(trainer.y).reshape(len(x), -1)[:600, 0].astype(int)
    except Exception as error:  # a snapshot must never stop training
        snap["error"] = f"{type(error).__name__}: {error}"
    return snap


# -- small painted views ---------------------------------------------------------------------------

# -- the panel ----------------------------------------------------------------------------------------

class TrainPanel(QWidget):
    progress = Signal(int, int)       # steps done, total steps
    finished = Signal(str)            # final record kind ("done", "stopped", ...) or "error"
    errorRaised = Signal(str, object, object)
    statusMessage = Signal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lesson = self.module = None
        self.worker: GeneratorWorker | None = None
        self.stream: TrainingStream | None = None
        self._snapshot = None  # snapshots arrived since the last redraw, merged
        self.trainer = None
        self.running = False
        self.total_steps = 0
        self._dirty = False
        self._last_draw = 0.0
        self.final_kind = None

        # controls: the options form, then Start, Pause, Stop
        self.form = TrainOptions()
        self.dataset, self.epochs, self.batch = self.form.dataset, self.form.epochs, self.form.batch
        self.lr, self.optimizer = self.form.lr, self.form.optimizer
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(lambda: self.start())
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.progress_bar = QProgressBar()
        self.status = QLabel("choose the settings and press Start")
        controls = QHBoxLayout()
        for label, w in self.form.fields:
            controls.addWidget(QLabel(label))
            controls.addWidget(w)
        controls.addStretch(1)
        for b in (self.start_button, self.pause_button, self.stop_button):
            controls.addWidget(b)
        bar = QHBoxLayout()
        bar.addWidget(self.progress_bar, 2)
        bar.addWidget(self.status, 3)

        # views: the curves | what the model looks like inside
        self.curves = TrainingCurves()
        self.views = ModelViews()
        self.maps, self.filters, self.layer = self.views.maps, self.views.filters, self.views.layer
        self.image_index = self.views.image_index
        self.image_index.valueChanged.connect(self._on_image_changed)
        self.views.load_button.clicked.connect(self._on_load_clicked)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(self.views)
        split.setSizes([560, 440])

        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addLayout(self.form.extras_line)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(50)
        self.timer.timeout.connect(self._redraw_if_due)
        self._set_running(False)

    # -- lesson ------------------------------------------------------------------------
    def set_lesson(self, lesson, module):
        if self.running:
            self.stop()
        self.lesson, self.module = lesson, module
        self.form.set_module(module)
        self.status.setText("choose the settings and press Start" if module else "")

    @property
    def extras(self) -> dict:
        """The lesson's own trainer() options in the form: name -> getter."""
        return self.form.extras

    def options(self) -> dict:
        """The options ``trainer(**options)`` is called with (see TrainOptions.options)."""
        return self.form.options()

    # -- running ---------------------------------------------------------------------------
    def start(self, max_steps: int | None = None, quick: bool = False, **overrides):
        if self.running or self.module is None:
            return False
        options = self.options()
        options.update(overrides)
        self.statusMessage.emit("building the trainer…", 3000)
        try:
            trainer = self._make_trainer(options, quick)
        except Exception as error:
            self.errorRaised.emit(f"lesson {self.lesson.id if self.lesson else ''}: trainer() raised", error, None)
            self.finished.emit("error")
            return False
        self.trainer = trainer
        self._reset_history()
        self.views.class_names = class_names(options.get("dataset"))
        steps_per_epoch = int(getattr(trainer, "steps_per_epoch", 0) or 0)
        epochs = int(getattr(trainer, "epochs", 1) or 1)
        self.total_steps = steps_per_epoch * epochs
        if max_steps:
            self.total_steps = min(self.total_steps or max_steps, max_steps)
        self.curves.total_steps = self.total_steps
        self.progress_bar.setRange(0, max(1, self.total_steps))
        self.progress_bar.setValue(0)
        self.stream = TrainingStream(trainer, max_steps=max_steps, image_index=self.image_index.value())
        self.worker = GeneratorWorker(self.stream.events, name="train")
        self.worker.yielded.connect(self._on_event)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.views.show_kind(self.stream.kind)  # filters and feature maps need images
        self._set_running(True)
        self.status.setText(f"training {type(trainer.model).__name__} on {self.dataset.currentText()} "
                            f"({len(trainer.x)} samples, {self.total_steps} steps)…")
        self.worker.start()
        self.timer.start()
        return True

    def _make_trainer(self, options, quick):
        try:
            return self.module.trainer(quick=quick, **options)
        except TypeError as error:
            if "quick" not in str(error):
                raise
            return self.module.trainer(**options)

    def stop(self):
        if self.trainer is not None and self.running:
            self.trainer.stop()  # the trainer ends with a "stopped" record
            self.worker.resume()
            self.status.setText("stopping after this step…")

    def _on_pause_toggled(self, paused):
        if self.worker is None or not self.running:
            return
        if paused:
            self.worker.pause()  # training waits after the current step
            self.status.setText("paused")
        else:
            self.worker.resume()
            self.status.setText("training…")

    def _stop_timer_if_idle(self):
        if not self.running:
            self._redraw_if_due(force=True)
            self.timer.stop()

    def shutdown(self, timeout: float = 5.0):
        """Stop and join the worker (window closing, lesson change)."""
        if self.worker is not None:
            if self.trainer is not None and self.running:
                self.trainer.stop()
            self.worker.quit()
            self.worker.join(timeout)

    def flush(self):
        """Handle every event the worker has sent so far and redraw (screenshots, tests)."""
        QCoreApplication.processEvents()
        self._redraw_if_due(force=True)

    def _set_running(self, on):
        self.running = on
        self.start_button.setEnabled(not on)
        self.pause_button.setEnabled(on)
        self.stop_button.setEnabled(on)
        if not on:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.blockSignals(False)

    def _on_image_changed(self, value):
        if self.can_explore_now():
            self.explore()            # paused or done: the model holds still, read it here
        elif self.stream is not None and self.running:
            self.stream.request_snapshot(value)

    # -- events from the worker (main thread) ------------------------------------------------------
    def _on_event(self, event):
        kind, value = event
        if kind == "record":
            self._on_record(value)
        else:  # a light snapshot does not erase what a heavy one brought
            self._snapshot = value if self._snapshot is None else {**self._snapshot, **value}

    def _redraw_if_due(self, force=False):
        """The timer's tick: show the latest snapshot and redraw the curves, a few times a second."""
        if self._snapshot is not None:
            snapshot, self._snapshot = self._snapshot, None
            self._show_snapshot(snapshot)
        now = time.perf_counter()
        if self._dirty and (force or now - self._last_draw >= REDRAW_INTERVAL):
            self._dirty = False
            self.curves.redraw()
            self._last_draw = time.perf_counter()

    def _on_record(self, r):
        self.curves.add(r)
        if r.kind == "step":
            self.progress_bar.setValue(min(r.step, self.progress_bar.maximum()))
            self.progress.emit(r.step, self.total_steps)
            self.status.setText(f"epoch {r.epoch + 1} · step {r.step}/{self.total_steps} · loss {r.loss:.4f}"
                                + (f" · batch accuracy {100 * r.accuracy:.0f}%" if r.accuracy is not None else "")
                                + f" · {r.elapsed:.1f} s")
        elif r.kind != "epoch":
            self.final_kind = r.kind
            msg = r.message or r.kind
            self.status.setText(msg)
            self.statusMessage.emit(f"training: {msg}", 8000)
        self._dirty = True

    # -- exploring: any time, from any model ------------------------------------------------------
    def can_explore_now(self) -> bool:
        """The model can be read on this thread: training is over, stopped or paused."""
        return self.trainer is not None and (not self.running or self.pause_button.isChecked())

    def explore(self):
        """Feature maps (and filters) of the chosen image, computed here and now."""
        if not self.can_explore_now():
            return
        kind, (x, y) = data_kind(self.trainer), eval_data(self.trainer)
        trainer = self.trainer
        if self.running:  # paused: the step in flight may still finish; read a copy of the model
            trainer = types.SimpleNamespace(model=copy.deepcopy(trainer.model), x=trainer.x, y=trainer.y)
        self._show_snapshot(model_snapshot(trainer, kind, x, y, self.image_index.value(), heavy=False))

    def explore_checkpoint(self, path) -> bool:
        """Look inside a saved network: build the lesson's model (not trained), load the
        checkpoint into it, show its filters and feature maps. True on success."""
        from gradgraph.checkpoint import load_checkpoint

        if self.running or self.module is None:
            return False
        try:
            trainer = self._make_trainer(self.options(), quick=True)
            load_checkpoint(path, trainer.model)
        except Exception as error:  # a wrong file or a model of another shape: one message
            self.errorRaised.emit(f"loading {path}", error, None)
            return False
        self.trainer = trainer
        self.views.class_names = class_names(self.options().get("dataset"))
        self.views.top_tabs.setVisible(data_kind(trainer) == "image")
        self.status.setText(f"looking inside {path}: choose an input image and a layer")
        self.explore()
        return True

    def _on_load_clicked(self):
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Load a checkpoint", "", "gradgraph checkpoints (*.npz)")
        if path:
            self.explore_checkpoint(path)

    def _on_error(self, error):
        tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.status.setText(f"training failed: {type(error).__name__}: {error}")
        self.errorRaised.emit("training", error, tb)
        self.final_kind = "error"

    def _on_finished(self):
        self._set_running(False)
        QTimer.singleShot(1500, self._stop_timer_if_idle)
        self._dirty = True
        self.finished.emit(getattr(self, "final_kind", "done"))

    # -- drawing -------------------------------------------------------------------------------------
    def _reset_history(self):
        self.curves.reset()
        self.final_kind = None
        self.views.last_snapshot = None

    @property
    def history(self) -> dict:
        """The numbers of the records so far (see TrainingCurves)."""
        return self.curves.history

    @property
    def last_snapshot(self):
        """Every snapshot shown since the run started, merged (see ModelViews)."""
        return self.views.last_snapshot

    @property
    def tile_dialog(self):
        return self.views.tile_dialog

    def _show_snapshot(self, snap):
        self.views.show_snapshot(snap)
        if "error" in snap:
            self.statusMessage.emit(f"snapshot: {snap['error']}", 5000)
