"""The expression box: type ``(x + y) * z`` and ``x=-2, y=5, z=-4``, press Enter, step through it.

The text is parsed by :mod:`gradgraph.expr` (``ast`` into engine calls, never
``eval``); a refused expression shows its one-line reason under the box.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QWidget

from gradgraph.expr import FUNCTIONS


class ExpressionBar(QWidget):
    """Two boxes (expression, values) and a button; ``submitted(expression, values)`` on Enter."""

    submitted = Signal(str, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.expression = QLineEdit()
        self.expression.setPlaceholderText("expression, e.g. (x + y) * z")
        self.expression.setToolTip("Operators + - * / ** and the functions " + ", ".join(FUNCTIONS)
                                   + ". Enter: build the graph and step through it.")
        self.values = QLineEdit()
        self.values.setPlaceholderText("values, e.g. x=-2, y=5, z=-4")
        self.button = QPushButton("Step through")
        self.message = QLabel()
        self.message.setStyleSheet("color: #b91c1c")
        self.message.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # never widens the window
        for box, stretch in ((self.expression, 3), (self.values, 2)):
            box.setMinimumWidth(120)
            box.returnPressed.connect(self._submit)
        self.button.clicked.connect(self._submit)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("f ="))
        layout.addWidget(self.expression, 3)
        layout.addWidget(self.values, 2)
        layout.addWidget(self.button)
        layout.addWidget(self.message, 2)

    def set_text(self, expression: str, values: str) -> None:
        self.expression.setText(expression)
        self.values.setText(values)

    def show_result(self, error: str = "") -> None:
        """An empty ``error``: the expression was built; else its reason, in red."""
        self.message.setText(error)
        self.message.setToolTip(error)

    def _submit(self):
        self.submitted.emit(self.expression.text(), self.values.text())
