"""The lesson's explanation (Markdown) beside its code (read-only, highlighted)."""
from __future__ import annotations

import keyword
import re

from PySide6.QtCore import QUrl, Qt, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFont, QSyntaxHighlighter, QTextCharFormat
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSplitter,
                               QTextBrowser, QVBoxLayout, QWidget)


def _fmt(colour: str, bold=False, italic=False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(colour))
    if bold:
        f.setFontWeight(QFont.Bold)
    f.setFontItalic(italic)
    return f


def _first_code_line(source: str) -> int:
    """The line after the module docstring (1-based), or 1."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return 1
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        return (body[1].lineno if len(body) > 1 else body[0].end_lineno + 1)
    return 1


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, numbers, strings (including triple-quoted), comments, decorators."""

    RULES = [
        (re.compile(r"\b(" + "|".join(keyword.kwlist) + r")\b"), _fmt("#7c3aed", bold=True)),
        (re.compile(r"\b(self|cls|None|True|False)\b"), _fmt("#b45309")),
        (re.compile(r"\b(print|len|range|float|int|str|list|dict|tuple|super|isinstance|zip|enumerate|"
                    r"min|max|sum|abs)\b"), _fmt("#0369a1")),
        (re.compile(r"\bdef\s+(\w+)|\bclass\s+(\w+)"), _fmt("#1d4ed8", bold=True)),
        (re.compile(r"@\w+(\.\w+)*"), _fmt("#be185d")),
        (re.compile(r"\b\d+(\.\d*)?([eE][-+]?\d+)?\b"), _fmt("#059669")),
        (re.compile(r"'[^'\\\n]*(\\.[^'\\\n]*)*'|\"[^\"\\\n]*(\\.[^\"\\\n]*)*\""), _fmt("#15803d")),
        (re.compile(r"#[^\n]*"), _fmt("#6b7280", italic=True)),
    ]
    TRIPLE = [re.compile('"""'), re.compile("'''")]
    STRING = _fmt("#15803d")

    def highlightBlock(self, text: str):
        for pattern, fmt in self.RULES:
            for m in pattern.finditer(text):
                start, end = m.span(1) if pattern.pattern.startswith(r"\bdef") and m.group(1) else m.span()
                if pattern.pattern.startswith(r"\bdef") and m.group(2):
                    start, end = m.span(2)
                self.setFormat(start, end - start, fmt)
        # triple-quoted strings spanning blocks: state 1 = inside """, 2 = inside '''
        self.setCurrentBlockState(0)
        start = 0
        state = self.previousBlockState()
        while True:
            if state in (1, 2):
                m = self.TRIPLE[state - 1].search(text, start)
                if m is None:
                    self.setFormat(start, len(text) - start, self.STRING)
                    self.setCurrentBlockState(state)
                    return
                self.setFormat(start, m.end() - start, self.STRING)
                start, state = m.end(), 0
            else:
                hits = [(m.start(), k + 1, m) for k, p in enumerate(self.TRIPLE)
                        for m in [p.search(text, start)] if m]
                if not hits:
                    return
                pos, state, m = min(hits, key=lambda h: h[0])
                self.setFormat(pos, 3, self.STRING)
                start = m.end()


class LessonView(QWidget):
    """Explanation (rendered Markdown) | code, with Open in editor and Reload buttons."""

    reloadRequested = Signal()
    checkRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.path = None
        self.explanation = QTextBrowser()
        self.explanation.setOpenExternalLinks(True)
        self.code = QPlainTextEdit()
        self.code.setReadOnly(True)
        self.code.setLineWrapMode(QPlainTextEdit.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.Monospace)
        mono.setPointSizeF(10)
        self.code.setFont(mono)
        self.highlighter = PythonHighlighter(self.code.document())
        self.path_label = QLabel()
        self.path_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.open_button = QPushButton("Open in editor")
        self.open_button.setToolTip("Open the lesson file in your editor; press Reload after saving")
        self.open_button.clicked.connect(self.open_in_editor)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Re-run the lesson file (picks up your edits)")
        self.reload_button.clicked.connect(self.reloadRequested)
        self.check_button = QPushButton("Check exercises")
        self.check_button.setToolTip("Run the checks of this lesson's exercises on your code")
        self.check_button.clicked.connect(self.checkRequested)
        self.exercise_result = QLabel()
        self.exercise_result.setWordWrap(True)
        self.exercise_result.setTextInteractionFlags(Qt.TextSelectableByMouse)

        code_box = QWidget()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.path_label, 1)
        bar.addWidget(self.open_button)
        bar.addWidget(self.reload_button)
        bar.addWidget(self.check_button)
        v = QVBoxLayout(code_box)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(bar)
        v.addWidget(self.code)
        v.addWidget(self.exercise_result)

        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.explanation)
        splitter.addWidget(code_box)
        splitter.setSizes([500, 500])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    def show_lesson(self, markdown: str, source: str, path, exercises=()):
        self.path = path
        self.check_button.setVisible(bool(exercises))
        self.exercise_result.setText(f"exercises: {', '.join(exercises)}" if exercises else "")
        self.explanation.setMarkdown(markdown)
        same_file = path == getattr(self, "_shown_path", None)
        scroll = self.code.verticalScrollBar().value()
        self.code.setPlainText(source)
        if same_file:  # a reload keeps the student's place
            self.code.verticalScrollBar().setValue(scroll)
        else:  # the docstring is rendered on the left: start at the code
            self._scroll_pending = _first_code_line(source)
            if self.isVisible():  # scrolling lays the whole file out (~50 ms): wait until it is seen
                self.showEvent(None)
        self._shown_path = path
        self.path_label.setText(str(path) if path else "")

    def showEvent(self, event):
        if event is not None:
            super().showEvent(event)
        line, self._scroll_pending = getattr(self, "_scroll_pending", None), None
        if line is not None:
            self._scroll_to_line(line)

    def _scroll_to_line(self, line: int):
        block = self.code.document().findBlockByLineNumber(max(0, line - 1))
        cursor = self.code.textCursor()
        cursor.setPosition(block.position())
        self.code.setTextCursor(cursor)
        self.code.verticalScrollBar().setValue(max(0, line - 1))  # the first code line on top

    def open_in_editor(self):
        if self.path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path)))
