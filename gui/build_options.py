"""Switches for a lesson's ``build()`` variants: one checkbox per keyword argument whose
default is ``True`` or ``False`` (lesson 3: ``build(fused=False)``, the eight small gates,
or ``fused=True``, one sigmoid gate). A lesson may label them in ``BUILD_OPTIONS``::

    BUILD_OPTIONS = {"fused": "one sigmoid gate"}
"""
from __future__ import annotations

import inspect

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QWidget


#: Keyword arguments the app sets by itself, not offered as switches ("Use my exercise gates").
HIDDEN = frozenset({"mine"})


def switches(build, labels=None) -> dict:
    """``{name: (label, default)}`` for the boolean keyword arguments of ``build`` (but not
    those in :data:`HIDDEN`)."""
    try:
        parameters = inspect.signature(build).parameters.values()
    except (TypeError, ValueError):
        return {}
    labels = labels or {}
    return {p.name: (labels.get(p.name, p.name.replace("_", " ")), p.default)
            for p in parameters if isinstance(p.default, bool) and p.name not in HIDDEN}


class BuildOptions(QWidget):
    """The checkboxes; ``changed`` when one is toggled, ``values()`` for ``build(**values)``."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.boxes: dict = {}
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(8, 0, 0, 0)

    def set_build(self, build, labels=None):
        """Offer the switches of ``build`` (``build`` None: none)."""
        for box in self.boxes.values():
            self.row.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        for name, (label, default) in switches(build, labels).items():
            box = QCheckBox(label)
            box.setChecked(default)
            box.setToolTip(f"build({name}={not default}) instead of the default")
            box.toggled.connect(self.changed)
            self.row.addWidget(box)
            self.boxes[name] = box

    def values(self) -> dict:
        return {name: box.isChecked() for name, box in self.boxes.items()}
