"""The Train tab: a lesson's ``trainer(...)`` run in a worker thread, with live views.

Threads: :meth:`TrainingStream.events` runs on a
:class:`~.worker.GeneratorWorker`. It iterates ``Trainer.records()`` and,
between steps, computes the heavy snapshots (filters, feature maps,
predictions and confusion matrix, decision boundary) because only it may
touch the model while training runs. Each record and snapshot it yields
arrives on the main thread (``_on_event``); the panel keeps them and a QTimer
redraws at most a few times per second, so the event loop never waits for
training. Pause and resume are the worker's (training waits after a step).
"""
from __future__ import annotations

import copy
import math
import threading
import time
import traceback
import types

import numpy as np
from PySide6.QtCore import QCoreApplication, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSpinBox,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from gradgraph import inspect as inspect_model
from gradgraph.nn import Module

from .cnn_views import TileDialog, TileGrid
from .lineplot import LinePlot, Series
from .train_options import TrainOptions
from .worker import GeneratorWorker

REDRAW_INTERVAL = 0.2  # seconds between curve redraws (at most 5/s)
SNAPSHOT_INTERVAL = 1.5  # seconds of training between snapshots (filters, feature maps)
HEAVY_INTERVAL = 6.0  # seconds between predictions on the validation sample (confusion matrix)
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777", "#65a30d",
           "#475569", "#ca8a04"]


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

class MatrixView(QWidget):
    """A confusion matrix: rows = true class, columns = predicted, counts in the cells."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.matrix = None
        self.names = None
        self.setMinimumSize(260, 220)

    def set_matrix(self, matrix, names=None):
        self.matrix, self.names = matrix, names
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        m = self.matrix
        if m is None:
            p.drawText(self.rect(), Qt.AlignCenter, "confusion matrix: start training")
            return
        n = len(m)
        left, top = 90, 28
        size = max(4.0, min((self.width() - left - 10) / n, (self.height() - top - 30) / n))
        font = QFont()
        font.setPointSizeF(max(6.0, min(9.0, size / 3.2)))
        p.setFont(font)
        total = max(1, int(m.sum()))
        acc = np.trace(m) / total
        p.drawText(QRectF(0, 0, self.width(), 22), Qt.AlignCenter,
                   f"true class (rows) vs predicted (columns) · accuracy {100 * acc:.1f}% on {total}")
        for r in range(n):
            name = self.names[r] if self.names and r < len(self.names) else str(r)
            p.setPen(QColor("#334155"))
            p.drawText(QRectF(0, top + r * size, left - 4, size), Qt.AlignRight | Qt.AlignVCenter, name[:12])
            row_total = max(1, int(m[r].sum()))
            for c in range(n):
                t = m[r, c] / row_total
                colour = QColor.fromRgbF(1 - 0.8 * t, 1 - 0.55 * t, 1 - 0.2 * t) if r == c else \
                    QColor.fromRgbF(1, 1 - 0.7 * t, 1 - 0.7 * t)
                cell = QRectF(left + c * size, top + r * size, size - 1, size - 1)
                p.fillRect(cell, colour)
                if size >= 16 and m[r, c]:
                    p.setPen(QColor("#0f172a"))
                    p.drawText(cell, Qt.AlignCenter, str(int(m[r, c])))
        p.setPen(QColor("#334155"))
        for c in range(n):
            p.drawText(QRectF(left + c * size, top + n * size + 2, size, 16), Qt.AlignCenter, str(c))


class BoundaryView(QWidget):
    """Decision regions of a 2-D classifier with the training points on top."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.snap = None
        self.setMinimumSize(240, 240)

    def set_snapshot(self, snap):
        self.snap = snap
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("white"))
        s = self.snap
        if not s or "boundary" not in s:
            p.setPen(QColor("#64748b"))
            p.drawText(self.rect(), Qt.AlignCenter, "the decision boundary of a 2-D dataset\nappears here while training")
            return
        caption = QRectF(6, 3, self.width() - 12, 20)
        p.setPen(QColor("#475569"))
        p.drawText(caption, Qt.AlignCenter | Qt.TextWordWrap,
                   "shading: predicted class · dots: training points (true class)")
        b = s["boundary"]
        rgb = np.zeros(b.shape + (3,), dtype=np.uint8)
        for k in range(int(b.max()) + 1):
            c = QColor(PALETTE[k % len(PALETTE)]).lighter(175)
            rgb[b == k] = (c.red(), c.green(), c.blue())
        image = QImage(np.ascontiguousarray(rgb[::-1]).data, b.shape[1], b.shape[0], 3 * b.shape[1],
                       QImage.Format_RGB888).copy()
        side = min(self.width(), self.height() - 26) - 10
        target = QRectF((self.width() - side) / 2, 24 + (self.height() - 24 - side) / 2, side, side)
        p.drawImage(target, image)
        lo, hi = s["bounds"]
        p.setRenderHint(QPainter.Antialiasing)
        for (x, y), label in zip(s["points"], s["point_labels"]):
            px = target.left() + (x - lo[0]) / (hi[0] - lo[0]) * side
            py = target.bottom() - (y - lo[1]) / (hi[1] - lo[1]) * side
            p.setPen(QPen(QColor("white"), 0.8))
            p.setBrush(QColor(PALETTE[label % len(PALETTE)]))
            p.drawEllipse(QRectF(px - 3, py - 3, 6, 6))


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
        self.class_names = None
        self._dirty = False
        self._last_draw = 0.0
        self._reset_history()

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

        # views
        self.loss_plot = LinePlot("loss, accuracy and gradient norms (live)", "loss")
        self.acc_plot = LinePlot("", "accuracy %", y_range=(0, 100), legend_loc="lower right")
        self.norm_plot = LinePlot("", "‖grad‖ per layer (log)", log_y=True)
        self.norm_plot.xlabel = "step"
        self.curves = QWidget()
        cv = QVBoxLayout(self.curves)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.setSpacing(0)
        for plot in (self.loss_plot, self.acc_plot, self.norm_plot):
            cv.addWidget(plot)
        self.maps = TileGrid("start training (or load a checkpoint) to see the feature maps")
        self.filters = TileGrid("start training (or load a checkpoint) to see the filters")
        self.tile_dialog = None
        for grid in (self.maps, self.filters):
            grid.tileClicked.connect(self._on_tile_clicked)
        self.image_index = QSpinBox()
        self.image_index.setRange(0, 499)
        self.image_index.setPrefix("input image #")
        self.image_index.valueChanged.connect(self._on_image_changed)
        self.layer = QComboBox()
        self.layer.addItem("all layers")
        self.layer.setToolTip("show the feature maps of one layer only (larger)")
        self.layer.currentTextChanged.connect(self._on_layer_changed)
        self.load_button = QPushButton("Load checkpoint…")
        self.load_button.setToolTip("look inside a saved network (.npz from gradgraph train or save_checkpoint)")
        self.load_button.clicked.connect(self._on_load_clicked)
        maps_box = QWidget()
        mv = QVBoxLayout(maps_box)
        mv.setContentsMargins(0, 0, 0, 0)
        pick = QHBoxLayout()
        pick.addWidget(self.image_index)
        pick.addWidget(self.layer)
        for text, factor in (("−", 0.8), ("+", 1.25)):
            button = QPushButton(text)
            button.setFixedWidth(28)
            button.setToolTip("zoom the tiles (also Ctrl + wheel); click a tile to enlarge it")
            button.clicked.connect(lambda _=False, f=factor: self._zoom_tiles(f))
            pick.addWidget(button)
        pick.addStretch(1)
        pick.addWidget(self.load_button)
        self.image_index.setToolTip("which validation image the feature maps are computed for "
                                    "(any time: while training, paused, or after)")
        mv.addLayout(pick)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.maps)
        mv.addWidget(scroll)
        filters_scroll = QScrollArea()
        filters_scroll.setWidgetResizable(True)
        filters_scroll.setWidget(self.filters)
        self.confusion = MatrixView()
        self.boundary = BoundaryView()
        self.predictions = QLabel()
        self.predictions.setWordWrap(True)
        self.predictions.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.top_tabs = QTabWidget()
        self.top_tabs.addTab(maps_box, "Feature maps")
        self.top_tabs.addTab(filters_scroll, "Filters")
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.confusion, "Confusion matrix")
        self.bottom_tabs.addTab(self.boundary, "Decision boundary")
        self.bottom_tabs.addTab(self.predictions, "Predictions")
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.top_tabs)
        right.addWidget(self.bottom_tabs)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.curves)
        split.addWidget(right)
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
        self.class_names = self._class_names(options.get("dataset"))
        steps_per_epoch = int(getattr(trainer, "steps_per_epoch", 0) or 0)
        epochs = int(getattr(trainer, "epochs", 1) or 1)
        self.total_steps = steps_per_epoch * epochs
        if max_steps:
            self.total_steps = min(self.total_steps or max_steps, max_steps)
        self.progress_bar.setRange(0, max(1, self.total_steps))
        self.progress_bar.setValue(0)
        self.stream = TrainingStream(trainer, max_steps=max_steps, image_index=self.image_index.value())
        self.worker = GeneratorWorker(self.stream.events, name="train")
        self.worker.yielded.connect(self._on_event)
        self.worker.errored.connect(self._on_error)
        self.worker.finished.connect(self._on_finished)
        self.bottom_tabs.setCurrentIndex(1 if self.stream.kind == "2d" else 0)
        self.bottom_tabs.setTabEnabled(1, self.stream.kind == "2d")
        self.top_tabs.setVisible(self.stream.kind == "image")  # filters and feature maps need images
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
            self._on_snapshot(snapshot)
        now = time.perf_counter()
        if self._dirty and (force or now - self._last_draw >= REDRAW_INTERVAL):
            self._redraw_curves()
            self._last_draw = time.perf_counter()

    def _on_record(self, r):
        h = self.history
        if r.kind == "step":
            h["step"].append(r.step)
            h["loss"].append(r.loss)
            h["acc"].append(r.accuracy)
            for name, value in (r.grad_norms or {}).items():
                h["norms"].setdefault(name, []).append((r.step, value))
            self.progress_bar.setValue(min(r.step, self.progress_bar.maximum()))
            self.progress.emit(r.step, self.total_steps)
            self.status.setText(f"epoch {r.epoch + 1} · step {r.step}/{self.total_steps} · loss {r.loss:.4f}"
                                + (f" · batch accuracy {100 * r.accuracy:.0f}%" if r.accuracy is not None else "")
                                + f" · {r.elapsed:.1f} s")
        elif r.kind == "epoch":
            h["epoch_step"].append(r.step)
            h["epoch_loss"].append(r.loss)
            h["val_loss"].append(r.val_loss)
            h["epoch_acc"].append(r.accuracy)
            h["val_acc"].append(r.val_accuracy)
        else:
            self.final_kind = r.kind
            msg = r.message or r.kind
            self.status.setText(msg)
            self.statusMessage.emit(f"training: {msg}", 8000)
        self._dirty = True

    def _on_snapshot(self, snap):
        self.last_snapshot = {**(self.last_snapshot or {}), **snap}
        rows = []
        for name, array in (snap.get("filters") or {}).items():
            rows.append((f"{name}: {array.shape[0]} filters × {array.shape[1]} channels, "
                         f"{array.shape[2]}×{array.shape[3]} (blue −, white 0, red +)", array, True))
        self.filters.set_rows(rows)
        if "feature_maps" in snap:
            layers = list(snap["feature_maps"])
            if [self.layer.itemText(k) for k in range(1, self.layer.count())] != layers:
                chosen = self.layer.currentText()
                self.layer.blockSignals(True)
                self.layer.clear()
                self.layer.addItems(["all layers"] + layers)
                self.layer.setCurrentText(chosen if chosen in layers else "all layers")
                self.layer.blockSignals(False)
            self._show_maps()
        if "confusion" in snap:
            self.confusion.set_matrix(snap["confusion"], self.class_names)
            pred, labels = snap["predictions"], snap["labels"]
            names = self.class_names or []
            fmt = lambda k: names[k] if k < len(names) else str(k)  # noqa: E731
            cells = [f"<span style='color:{'#15803d' if p == t else '#b91c1c'}'>#{i}: {fmt(p)}"
                     f"{'' if p == t else f' (true {fmt(t)})'}</span>" for i, (p, t) in enumerate(zip(pred, labels))]
            self.predictions.setText("predictions on the first validation samples:<br>" + "<br>".join(cells))
        if "boundary" in snap:
            self.boundary.set_snapshot(snap)
        if "error" in snap:
            self.statusMessage.emit(f"snapshot: {snap['error']}", 5000)

    def _show_maps(self):
        """The feature-map rows of the last snapshot: the input, then every layer (or the
        chosen one)."""
        snap = self.last_snapshot or {}
        if "feature_maps" not in snap:
            return
        label = snap.get("image_label")
        name = (self.class_names[label] if self.class_names and label is not None and label < len(self.class_names)
                else label)
        rows = [(f"input #{self.image_index.value()} (class {name})",
                 np.asarray(snap["image"]).reshape(-1, *np.shape(snap["image"])[-2:]))]
        chosen = self.layer.currentText()
        for layer, a in snap["feature_maps"].items():
            if chosen in ("", "all layers") or layer == chosen:
                rows.append((f"{layer}  ({'×'.join(map(str, np.shape(a)))})", a))
        self.maps.set_rows(rows)

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
        self._on_snapshot(model_snapshot(trainer, kind, x, y, self.image_index.value(), heavy=False))

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
        self.class_names = self._class_names(self.options().get("dataset"))
        self.top_tabs.setVisible(data_kind(trainer) == "image")
        self.status.setText(f"looking inside {path}: choose an input image and a layer")
        self.explore()
        return True

    def _on_load_clicked(self):
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self, "Load a checkpoint", "", "gradgraph checkpoints (*.npz)")
        if path:
            self.explore_checkpoint(path)

    def _on_layer_changed(self, _text):
        self._show_maps()

    def _zoom_tiles(self, factor):
        for grid in (self.maps, self.filters):
            grid.set_zoom(grid.zoom * factor)

    def _on_tile_clicked(self, label, index, tile):
        if self.tile_dialog is None:
            self.tile_dialog = TileDialog(self)
        self.tile_dialog.show_tile(label, index, tile)

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
        self.history = {"step": [], "loss": [], "acc": [], "norms": {}, "epoch_step": [], "epoch_loss": [],
                        "val_loss": [], "epoch_acc": [], "val_acc": []}
        self.final_kind = None
        self.last_snapshot = None

    @staticmethod
    def _class_names(dataset):
        try:
            from gradgraph.data import CLASSES

            return list(CLASSES.get(dataset, [])) or None
        except Exception:
            return None

    def _redraw_curves(self, now=False):
        """Repaint the three live panels from the history (a few ms: QPainter, main thread)."""
        self._dirty = False
        h = self.history
        steps = h["step"]
        x_range = (0, max(self.total_steps, steps[-1] if steps else 1))
        loss_series = [Series("batch loss", steps, h["loss"], "#94a3b8", 0.8)]
        if len(steps) >= 10:
            k = max(5, len(steps) // 30)
            smooth = np.convolve(np.asarray(h["loss"], dtype=float), np.ones(k) / k, mode="valid")
            loss_series.append(Series(f"mean of {k} steps", steps[k - 1:], smooth, "#1d4ed8", 2.0))
        if h["epoch_step"]:
            loss_series.append(Series("epoch (train)", h["epoch_step"], h["epoch_loss"], "#0f172a", 1.5, True))
            if any(v is not None for v in h["val_loss"]):
                loss_series.append(Series("validation", h["epoch_step"],
                                          [np.nan if v is None else v for v in h["val_loss"]], "#dc2626", 1.5, True))
        self.loss_plot.set_series(loss_series, x_range)
        acc = [np.nan if a is None else 100 * a for a in h["acc"]]
        acc_series = []
        if acc and not all(math.isnan(a) for a in acc):
            acc_series.append(Series("batch", steps, acc, "#94a3b8", 0.8))
            if h["epoch_step"]:
                acc_series.append(Series("epoch (train)", h["epoch_step"],
                                         [np.nan if a is None else 100 * a for a in h["epoch_acc"]],
                                         "#0f172a", 1.5, True))
                if any(v is not None for v in h["val_acc"]):
                    acc_series.append(Series("validation", h["epoch_step"],
                                             [np.nan if a is None else 100 * a for a in h["val_acc"]],
                                             "#dc2626", 1.5, True))
        self.acc_plot.set_series(acc_series, x_range)
        norm_series = []
        for k, (name, pts) in enumerate(h["norms"].items()):
            if pts:
                xs, ys = zip(*pts)
                norm_series.append(Series(name, xs, ys, PALETTE[k % len(PALETTE)], 1.0))
        self.norm_plot.set_series(norm_series, x_range)


