"""The Train tab's options form: dataset, epochs, batch size, learning rate, optimizer, and a
widget for each other simple option of the lesson's ``trainer(...)`` (hidden units,
activation, patience, ...), read from its signature.

:class:`TrainOptions` owns the widgets; the panel lays them out next to its run controls.
``options()`` is what ``trainer(**options)`` is called with: only the parameters the
lesson's trainer takes.
"""
from __future__ import annotations

import inspect

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QSpinBox

from gradgraph.optim import OPTIMIZERS, default_lr

IMAGE_DATASETS = ["fashion-mnist-starter", "fashion-mnist", "mnist"]
TOY_DATASETS = ["xor", "ring", "three_modes", "spiral"]

#: options whose default is None but which take a whole number: (highest, step); 0 reads "off"
OPTIONAL_INTS = {"patience": (1000, 1), "limit": (1_000_000, 100)}
#: trainer() options shown side by side (more wrap to the next row: a laptop's width holds four)
EXTRAS_PER_ROW = 4
#: float options that are a fraction in [0, 1): spin boxes in steps of 0.05
FRACTIONS = ("dropout", "val_fraction", "momentum", "weight_decay")
OPTION_TIPS = {
    "patience": "early stopping: stop when the validation loss has not improved for this many epochs "
                "(off: train every epoch)",
    "limit": "use only the first N training images (off: all of them)",
    "dropout": "probability of zeroing a unit during training (0: no dropout)",
    "val_fraction": "share of the training images kept aside to validate on",
    "seed": "random seed: the same seed gives the same run",
    "hidden": "hidden units (0: a linear classifier)",
    "augment": "random changes to the training images (shift, flip, rotate, noise; standard = the first three)",
}


def _choices(module, name):
    """The allowed values of a string option: the lesson's ``NAMES`` table (``activation`` ->
    ``ACTIVATIONS``), else the LeNet-5 tables of gradgraph.nn (activation, pool) or
    gradgraph.data's ``AUGMENTS`` (augment)."""
    key = name.upper() + "S"
    table = getattr(module, key, None)
    if isinstance(table, (dict, list, tuple)) and table:
        return list(table)
    try:
        from gradgraph.data import augment
        from gradgraph.nn import lenet
    except Exception:
        return None
    table = getattr(lenet, key, None) or getattr(augment, key, None)  # augment -> AUGMENTS
    return list(table) if isinstance(table, (dict, list, tuple)) and table else None


def _optional_int_spin(name):
    """A spin box for an option whose default is None: 0 reads "off" and passes None."""
    high, step = OPTIONAL_INTS.get(name, (1_000_000, 1))
    w = QSpinBox()
    w.setRange(0, high)
    w.setSingleStep(step)
    w.setSpecialValueText("off")
    w.setValue(0)
    w.setMinimumWidth(72)

    def get():
        return w.value() or None
    return w, get


class TrainOptions:
    """The form's widgets: ``dataset``, ``epochs``, ``batch``, ``lr``, ``optimizer`` (the
    ``fields``), and ``extras_line``, a row of the lesson's own options (``extras``: name ->
    getter)."""

    STANDARD = ("quick", "dataset", "epochs", "batch_size", "lr", "optimizer")

    def __init__(self):
        self.params, self.accepts_any = {}, False
        self.dataset = QComboBox()
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 1000)
        self.epochs.setSpecialValueText("auto")  # 0: let trainer() choose (epochs=None)
        self.epochs.setToolTip("epochs to train (auto: the lesson's choice)")
        self.epochs.setValue(1)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setValue(64)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.0, 10.0)
        self.lr.setSingleStep(0.001)
        self.lr.setValue(default_lr(next(iter(OPTIMIZERS))))
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        self.optimizer.currentTextChanged.connect(self._on_optimizer_changed)
        self.fields = (("dataset", self.dataset), ("epochs", self.epochs), ("batch", self.batch),
                       ("lr", self.lr), ("optimizer", self.optimizer))
        # the lesson's own trainer() options (hidden units, activation, ...), EXTRAS_PER_ROW to a row
        self.extras_row = QGridLayout()
        self.extras_row.setHorizontalSpacing(6)
        self.extras: dict = {}
        self.extras_line = QHBoxLayout()
        self.extras_label = QLabel("lesson options:")
        self.extras_line.addWidget(self.extras_label)
        self.extras_line.addLayout(self.extras_row)
        self.extras_line.addStretch(1)

    def set_module(self, module):
        """Read the options of ``module.trainer`` (none without a module) and show them."""
        factory = getattr(module, "trainer", None) if module is not None else None
        self.params = {}
        self.accepts_any = False
        if factory is not None:
            try:
                sig = inspect.signature(factory)
                self.params = {k: v.default for k, v in sig.parameters.items()
                               if v.kind not in (v.VAR_KEYWORD, v.VAR_POSITIONAL)}
                self.accepts_any = any(v.kind == v.VAR_KEYWORD for v in sig.parameters.values())
            except (TypeError, ValueError):
                self.accepts_any = True
        default_ds = self.params.get("dataset", inspect.Parameter.empty)
        choices = list(getattr(module, "DATASETS", []) or []) if module is not None else []
        if not choices:
            choices = TOY_DATASETS if default_ds in TOY_DATASETS else IMAGE_DATASETS
        if "dataset" not in self.params:
            choices = ["the lesson's data"]
        elif isinstance(default_ds, str) and default_ds not in choices:
            choices = [default_ds] + choices  # the box shows the dataset the lesson chose
        self.dataset.clear()
        self.dataset.addItems(choices)
        self._build_extras(module)
        if isinstance(default_ds, str) and default_ds in choices:
            self.dataset.setCurrentText(default_ds)
        for name, widget, fallback in (("epochs", self.epochs, 0), ("batch_size", self.batch, 64)):
            d = self.params.get(name)
            widget.setValue(d if isinstance(d, int) and not isinstance(d, bool) else fallback)
        d = self.params.get("lr")
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            self.lr.setValue(float(d))
        d = self.params.get("optimizer")
        if isinstance(d, str) and d in OPTIMIZERS:
            self.optimizer.setCurrentText(d)
        for name, widget in (("dataset", self.dataset), ("epochs", self.epochs), ("batch_size", self.batch),
                             ("lr", self.lr), ("optimizer", self.optimizer)):
            widget.setEnabled(name in self.params or (self.accepts_any and name in ("epochs", "batch_size")))

    def _build_extras(self, module):
        """A widget for each other simple option of the lesson's trainer(): a combo box when the
        lesson has a matching table (``activation`` -> ``ACTIVATIONS``), else a spin box / line
        edit. An option whose default is None (``patience``, ``limit``) gets a spin box whose
        lowest value reads "off" and passes None."""
        while self.extras_row.count():
            w = self.extras_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.extras = {}
        for name, default in self.params.items():
            if name in self.STANDARD or isinstance(default, bool) or default is inspect.Parameter.empty:
                continue
            table = _choices(module, name)
            tip = OPTION_TIPS.get(name, "")
            if isinstance(default, str) and table and default in table:
                w = QComboBox()
                w.addItems([str(k) for k in table])
                w.setCurrentText(default)
                get = w.currentText
            elif default is None:
                w, get = _optional_int_spin(name)
                tip = tip or f"{name.replace('_', ' ')}: off passes None (the lesson's default)"
            elif isinstance(default, int):
                w = QSpinBox()
                w.setRange(0, 100000)
                w.setValue(default)
                get = w.value
            elif isinstance(default, float):
                w = QDoubleSpinBox()
                if 0.0 <= default < 1.0 and name in FRACTIONS:
                    w.setDecimals(2)
                    w.setRange(0.0, 0.95)
                    w.setSingleStep(0.05)
                else:
                    w.setDecimals(4)
                    w.setRange(-1e6, 1e6)
                w.setValue(default)
                get = w.value
            elif isinstance(default, str):
                w = QLineEdit(default)
                w.setMaximumWidth(90)
                get = w.text
            else:
                continue
            label = QLabel(name.replace("_", " "))
            if tip:
                label.setToolTip(tip)
                w.setToolTip(tip)
            label.setMinimumWidth(label.sizeHint().width())  # a label is never cut ("val fractio")
            row, column = divmod(len(self.extras), EXTRAS_PER_ROW)
            self.extras_row.addWidget(label, row, 2 * column, Qt.AlignRight)
            self.extras_row.addWidget(w, row, 2 * column + 1)
            self.extras[name] = get
        self.extras_label.setVisible(bool(self.extras))

    def options(self) -> dict:
        wanted = {"dataset": self.dataset.currentText(), "epochs": self.epochs.value() or None,
                  "batch_size": self.batch.value(), "lr": self.lr.value(),
                  "optimizer": self.optimizer.currentText()}
        # Only the lesson's own parameters: extra **options usually go on to Trainer(...),
        # which knows epochs and batch_size but not dataset, lr or optimizer.
        chosen = {k: v for k, v in wanted.items()
                  if k in self.params or (self.accepts_any and k in ("epochs", "batch_size") and v is not None)}
        chosen.update({name: get() for name, get in self.extras.items()})
        return chosen

    def _on_optimizer_changed(self, name):
        if "lr" not in self.params or not isinstance(self.params.get("lr"), float):
            self.lr.setValue(default_lr(name))
