"""Side panels: the node inspector, the chain-rule ledger, the error panel."""
from __future__ import annotations

import traceback

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from gradgraph.graph.ledger import element_terms

from .models import (YOURS_COLOUR, GraphSession, SessionFollower, fmt_number, format_ledger_header,
                     forward_lines)
from .tensor_view import TensorView

HISTOGRAM_FROM = 64  # a histogram of fewer numbers is noise: they are shown as numbers instead


def _mono(size=9.5) -> QFont:
    f = QFont("monospace")
    f.setStyleHint(QFont.Monospace)
    f.setPointSizeF(size)
    return f


def side_by_side_blocks(lines: list, rows: int, columns: int, gap: int = 4) -> list:
    """``lines`` as they are when they fit in ``rows``; else their blocks (a block starts at
    an unindented line) placed next to each other while they fit in ``columns`` characters,
    so the whole step shows at once. Blocks that do not fit side by side stay below."""
    if len(lines) <= rows:
        return list(lines)
    blocks: list = []
    for line in lines:
        if not blocks or (line and not line[0].isspace()):
            blocks.append([])
        blocks[-1].append(line)
    out, band, width = [], [], 0
    for block in blocks + [None]:
        block_width = max((len(line) for line in block), default=0) if block is not None else 0
        if block is None or (band and width + gap + block_width > columns):
            height = max(len(b) for b, _ in band)
            for r in range(height):
                out.append((" " * gap).join((b[r] if r < len(b) else "").ljust(w) for b, w in band).rstrip())
            band, width = [], 0
        if block is not None:
            band.append((block, block_width))
            width += block_width + (gap if len(band) > 1 else 0)
    return out


def narrow_lines(lines: list) -> list:
    """Chain-rule lines (the engine's LedgerLines) for a narrow panel: a line's bracketed
    general form (``dL/dX = dL/dXW · Wᵀ   [dZ/dX: d_out @ W^T]``) goes on a line of its own,
    and the matrices of a small-tensor step are stacked one under the other, each with its
    label, instead of side by side."""
    from gradgraph.graph.fmt import side_by_side

    out = []
    for line in lines:
        text = getattr(line, "text", line)
        first, *rest = text.split("\n")
        head, gap, form = first.partition("   [")
        if gap and form.endswith("]"):
            out += [head.rstrip(), "    [" + form]
        else:
            out.append(first)
        operands = getattr(line, "operands", ())
        if not operands:
            out += rest
            continue
        for term in operands:  # an operator, or a block: its label above its matrix
            out += ["  " + term] if isinstance(term, str) else ["  " + row for row in side_by_side([term])]
    return out


class LedgerPanel(SessionFollower, QWidget):
    """The chain-rule lines of the current step (and what the step did)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.header = QLabel("no graph")
        f = self.header.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() + 1)
        self.header.setFont(f)
        self.header.setWordWrap(True)  # a long step text wraps instead of widening the window
        self.header.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(_mono(10.5))
        self.text.setLineWrapMode(QPlainTextEdit.NoWrap)  # matrices keep their columns aligned
        self.text.setMaximumBlockCount(500)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.header)
        layout.addWidget(self.text)


    def show_step(self, header: str, lines: list[str]):
        self.header.setText(header)
        self.step_lines = "\n".join(lines).split("\n") if lines else []  # an entry may hold several lines
        self._lay_out()

    def _lay_out(self):
        """The lines one under the other, or, when they are taller than the panel and its
        width allows, their blocks side by side (lesson 5's two matmul gradients at once)."""
        fm = QFontMetricsF(self.text.font())
        rows = max(1, int(self.text.viewport().height() / fm.lineSpacing()))
        columns = max(20, int(self.text.viewport().width() / fm.horizontalAdvance("m")) - 1)
        self.text.setPlainText("\n".join(side_by_side_blocks(self.step_lines, rows, columns)))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if getattr(self, "step_lines", None):
            self._lay_out()

    # -- model -> view: the panel subscribes to the session it shows ----------------------------
    def set_session(self, session):
        self.follow(session)
        self._on_step()

    def _on_step(self, *event):
        s = self.session
        if s is None:
            self.show_step("no graph", [])
            return
        lines = s.ledger()
        cur = s.current()
        if s.position == 0:
            lines = ["start: nothing is computed yet.",
                     "Step (→ or Space) to compute the values one by one; B jumps to the backward pass."]
        elif not lines and cur is not None and s.position <= s.backward_start:
            lines = forward_lines(s)
        if s.position >= s.length > s.backward_start:
            lines = lines + ["", "gradient flow: " + s.flow()[3].replace("\n", "\n  ")]
        self.show_step(format_ledger_header(s), lines)


class Inspector(SessionFollower, QWidget):
    """One node: gate, formula, value and gradient (numbers or heatmaps), its ledger
    lines, and for a leaf an editor for its value."""

    valueEdited = Signal(int, object)  # node index, new numpy value

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session: GraphSession | None = None
        self.index = None
        self.title = QLabel("Click a node to inspect it")
        tf = self.title.font()
        tf.setBold(True)
        tf.setPointSizeF(tf.pointSizeF() + 2)
        self.title.setFont(tf)
        self.title.setWordWrap(True)
        self.gate = QLabel()
        self.gate.setWordWrap(True)
        self.gate.setTextFormat(Qt.RichText)
        self.value = TensorView()
        self.grad = TensorView()
        self.grad.elementClicked.connect(self._on_element_clicked)
        self.value.elementClicked.connect(self._on_element_clicked)
        self.element = QLabel()
        self.element.setFont(_mono(9))
        self.element.setWordWrap(True)
        self.element.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.hist_holder = QVBoxLayout()
        self.hist_canvas = None
        self.lines = QPlainTextEdit()
        self.lines.setReadOnly(True)
        self.lines.setFont(_mono(9))
        # the panel is narrow: long lines wrap (the ledger below shows them unwrapped)
        self.lines.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.lines.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.lines.setMinimumHeight(80)

        # leaf editor
        self.editor = QWidget()
        ed = QHBoxLayout(self.editor)
        ed.setContentsMargins(0, 0, 0, 0)
        self.spin = QDoubleSpinBox()
        self.spin.setRange(-1e6, 1e6)
        self.spin.setDecimals(4)
        self.spin.setSingleStep(0.5)
        self.spin.setKeyboardTracking(False)
        self.spin.valueChanged.connect(self._apply_spin)
        self.line = QLineEdit()
        self.line.setPlaceholderText("values, comma separated (or one number for all)")
        self.line.returnPressed.connect(self._apply_line)
        self.apply = QPushButton("Set")
        self.apply.clicked.connect(self._apply_line)
        ed.addWidget(QLabel("edit:"))
        ed.addWidget(self.spin)
        ed.addWidget(self.line, 1)
        ed.addWidget(self.apply)
        self.edit_error = QLabel()
        self.edit_error.setStyleSheet("color: #b91c1c")

        body = QWidget()
        form = QVBoxLayout(body)
        form.addWidget(self.title)
        form.addWidget(self.gate)
        form.addWidget(self.editor)
        form.addWidget(self.edit_error)
        form.addWidget(QLabel("<b>value</b>"))
        form.addWidget(self.value)
        grad_title = QLabel("<b>gradient</b> d(output)/d(node) <span style='color:#6e7781'>"
                            "(click an entry: what summed into it)</span>")
        grad_title.setWordWrap(True)
        form.addWidget(grad_title)
        form.addWidget(self.grad)
        form.addWidget(self.element)
        form.addLayout(self.hist_holder)
        form.addWidget(QLabel("<b>chain-rule lines for this node</b>"))
        form.addWidget(self.lines)
        form.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.editor.hide()

    def set_editable(self, on: bool, why: str = ""):
        """Allow or forbid editing leaf values (not while a gradient check runs)."""
        self.editor.setEnabled(on)
        self.editor.setToolTip("" if on else why)

    def set_session(self, session):
        """Show nodes of ``session`` and follow its steps (the inspector subscribes itself)."""
        self.follow(session)
        self.index = None
        self._shown = None
        self.title.setText("Click a node to inspect it")
        self.gate.clear()
        self.value.show_array(None)
        self.grad.show_array(None)
        self.element.clear()
        self.lines.clear()
        self.editor.hide()
        self._clear_hist()

    def _clear_hist(self):
        if self.hist_canvas is not None:
            self.hist_canvas.setParent(None)
            self.hist_canvas.deleteLater()
            self.hist_canvas = None

    def show_node(self, index):
        self.index = index
        self._shown = None
        self.element.clear()
        self.refresh()

    def _on_step(self, *event):
        self.refresh()

    def _on_element_clicked(self, index):
        """One entry of the gradient: the products that summed into it (the engine writes them)."""
        s, i = self.session, self.index
        if s is None or i is None or s.grad_state(i) != "known":
            self.element.setText("(the gradient of this entry is not complete yet)")
            return
        self.element.setText("\n".join(element_terms(s.graph, i, index)))

    def refresh(self):
        s, i = self.session, self.index
        if s is None or i is None or i >= len(s):
            return
        vk = s.value_known(i)
        gstate = s.grad_state(i)
        gk = gstate in ("known", "partial")
        key = (id(s), i, s.graph.version, vk, gstate, s.position if gstate == "partial" else None,
               len(s.ledger_for(i)))
        if key == getattr(self, "_shown", None):
            return  # nothing this node shows has changed: keep stepping cheap
        self._shown = key
        shape = s.shape(i)
        shape_txt = "scalar" if not shape or int(np.prod(shape)) == 1 else "shape " + "×".join(map(str, shape))
        self.title.setText(f"{s.name(i)}   ({s.kind(i)}, {shape_txt})")
        formula, local = s.formula(i)
        if s.gate(i) is None:
            self.gate.setText("a leaf: its value is given, not computed")
        else:
            import html

            lines = [f"gate <b>{s.gate_name(i)}</b>: <code>{html.escape(s.name(i))} = "
                     f"{html.escape(s.expression(i))}</code>"]
            if s.subexpression(i):
                lines.append(f"that is <code>{html.escape(s.name(i))} = {html.escape(s.subexpression(i))}</code>")
            if s.yours(i):
                lines.insert(0, f"<span style='color:{YOURS_COLOUR}'><b>yours:</b> {html.escape(s.yours(i))}</span>")
            lines += [f"<code>{html.escape(l)}</code>" for l in local]
            if formula:
                lines.append(f"<span style='color:#6e7781'>general form: {html.escape(formula)}</span>")
            self.gate.setText("<br>".join(lines))
        value, grad = s.value(i), s.grad(i)
        if vk:
            self.value.show_array(value)
        else:
            self.value.show_array(None, "? (not computed yet at this step)")
        if gstate == "none":
            self.grad.show_array(None, "– (a constant: no gradient needed)")
        elif gk:
            self.grad.show_array(grad, "\n(partial: more contributions to come)" if gstate == "partial" else "")
        elif s.position <= s.backward_start:
            self.grad.show_array(None, "? (the gradient arrives in the backward pass)")
        else:
            self.grad.show_array(None, "? (not reached yet: the backward pass is on its way)")
        many = value is not None and np.size(value) >= HISTOGRAM_FROM
        self._histogram(value if vk and many else None, grad if gk and many else None)
        if gstate == "none":
            empty = "(a constant: no gradient is sent to it)"
        elif s.position <= s.backward_start:
            empty = "(forward pass: the gradient arrives in the backward pass)"
        elif s.position < s.length:
            empty = "(none yet: the backward pass has not reached this node)"
        else:
            empty = "(no gradient flows through this node)"
        self.lines.setPlainText("\n".join(narrow_lines(s.ledger_lines_for(i))) or empty)
        leaf = s.is_leaf(i) and s.kind(i) in ("input", "parameter")
        self.editor.setVisible(leaf)
        self.edit_error.clear()
        if leaf:
            scalar = np.size(value) == 1
            self.spin.setVisible(scalar)
            self.line.setVisible(not scalar)
            self.apply.setVisible(not scalar)
            if scalar:
                self.spin.blockSignals(True)
                self.spin.setValue(float(np.asarray(value).reshape(-1)[0]))
                self.spin.blockSignals(False)
            else:
                flat = np.asarray(value).reshape(-1)
                self.line.setText(", ".join(fmt_number(v) for v in flat[:64]) if flat.size <= 64 else "")

    def _histogram(self, value, grad):
        self._clear_hist()
        if value is None and grad is None:
            return
        from .plots import make_canvas

        canvas, fig = make_canvas(3.0, 1.7)
        ax = fig.add_subplot(111)
        if value is not None:
            ax.hist(np.asarray(value, dtype=np.float64).ravel(), bins=40, alpha=0.6, color="#334155", label="value")
        if grad is not None:
            ax.hist(np.asarray(grad, dtype=np.float64).ravel(), bins=40, alpha=0.6, color="#dc2626", label="grad")
        ax.legend(fontsize=7)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        canvas.setMinimumHeight(150)
        self.hist_canvas = canvas
        self.hist_holder.addWidget(canvas)

    def _apply_spin(self, v):
        if self.index is not None:
            self.valueEdited.emit(self.index, np.asarray(v, dtype=np.float64))

    def _apply_line(self):
        s, i = self.session, self.index
        if s is None or i is None:
            return
        text = self.line.text().replace(";", ",")
        try:
            numbers = np.array([float(t) for t in text.split(",") if t.strip()])
            shape = s.shape(i)
            size = int(np.prod(shape)) if shape else 1
            if numbers.size == 1:
                numbers = np.full(shape, numbers[0])
            elif numbers.size != size:
                raise ValueError(f"need {size} numbers for shape {shape}, got {numbers.size}")
            self.valueEdited.emit(i, numbers.reshape(shape))
        except ValueError as error:
            self.edit_error.setText(str(error))


def _is_ours(filename: str) -> bool:
    """A frame of gradgraph, the app, Python or an installed package (not the student's)."""
    import os

    import gradgraph

    ours = (os.path.dirname(os.path.abspath(gradgraph.__file__)), os.path.dirname(os.path.abspath(__file__)),
            os.path.dirname(os.path.abspath(traceback.__file__)))
    path = os.path.abspath(filename)
    return path.startswith(ours) or "site-packages" in path or filename.startswith("<frozen")


def student_first(error: BaseException) -> str:
    """The traceback with the student's own frame first: where in *their* file it went
    wrong (the deepest frame outside gradgraph, the app and Python), then the full story."""
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if not _is_ours(f.filename)]
    full = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if not theirs:
        return full
    f = theirs[-1]
    head = (f"In your code: {f.filename}, line {f.lineno}, in {f.name}\n"
            f"    {(f.line or '').strip()}\n{type(error).__name__}: {error}\n\n")
    return head + "Full traceback:\n" + full


class ErrorPanel(QWidget):
    """Errors of a lesson or of the student's code, with the traceback. The app stays usable."""

    cleared = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: #b91c1c; font-weight: bold")
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(_mono(9.5))
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.text)
        self.count = 0

    def show_error(self, where: str, error: BaseException, tb: str | None = None):
        self.count += 1
        tb = tb or student_first(error)
        self.summary.setText(f"{where}: {type(error).__name__}: {error}")
        self.text.setPlainText(tb)

    def clear(self):
        self.summary.clear()
        self.text.clear()
        self.cleared.emit()
