"""Where the app's graphs come from: a lesson, any Python file defining ``build()``, or a
typed expression; optionally built with the student's own exercise gates.

* :func:`build_lesson` runs on a :class:`~gradgraph_gui.worker.GeneratorWorker` (a
  lesson's ``build()`` may run convolutions or train for a while: never on the GUI
  thread). It yields status lines and returns a :class:`Built`.
* :func:`student_first` orders a traceback so the student's own file comes first.
* :class:`YourCode` puts the student's code in the window: File → Open…, the
  "Use my exercise gates" toggle and the expression box (:mod:`.expression`).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QToolBar

from .expression import ExpressionBar
from .models import GraphSession


@dataclass
class Built:
    """What building a lesson gave: the module (``loaded``: just now), the graph session
    (None without ``build()``), and with ``mine`` the :class:`gradgraph.exercises.MineReport`."""

    lesson: object
    module: object
    loaded: bool
    session: object = None
    report: object = None


def build_lesson(lesson, mine: bool = False, options=None, module=None):
    """Load the lesson file (unless ``module`` is given) and build its graph with
    ``build(**options)`` (a generator for a GeneratorWorker)."""
    from gradgraph import exercises, lessons

    from .models import GraphSession

    loaded = module is None
    if loaded:
        yield f"loading {lesson.path.name}…"
        module = lessons.load(lesson)
        if callable(getattr(module, "trainer", None)):
            from . import training_view  # noqa: F401 - importing it takes ~0.1 s: here, not on the GUI thread
    build = getattr(module, "build", None)
    if not callable(build):
        return Built(lesson, module, loaded)
    yield f"building the graph of {lesson.path.name}" + (" with your exercise gates…" if mine else "…")
    if mine:  # cold conv kernels run on numpy while a child process compiles them (gradgraph.kernels)
        with exercises.mine() as report:
            output = build(**(options or {}))
    else:
        output, report = build(**(options or {})), None
    yield "laying out the graph…"
    session = GraphSession(output, mine=report)
    session.layout(session.view(session.default_expanded()))  # Graphviz runs here, not on the GUI thread
    return Built(lesson, module, loaded, session, report)


def student_first(error: BaseException, *paths) -> str:
    """The traceback of ``error`` with the frames in the student's files ``paths`` first.

    A lesson, a script or an exercise gate fails somewhere deep in the engine more
    often than on its own line; the student needs their own line first, the
    engine's frames after.
    """
    full = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    files = {Path(p).resolve() for p in paths if p is not None}
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).resolve() in files:
        name = Path(error.filename).name
        return f"{name}, line {error.lineno}: {error.msg}\n    {(error.text or '').strip()}\n\n{full}"
    mine = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() in files]
    if not mine:
        return full
    head = "".join(f"{Path(f.filename).name}, line {f.lineno}, in {f.name}\n    {(f.line or '').strip()}\n"
                   for f in mine)
    return f"In your file:\n{head}\n{type(error).__name__}: {error}\n\nThe whole traceback:\n{full}"


class YourCode(QObject):
    """The student's code in the window: File → Open…, "Use my exercise gates", the expression box.

    The window provides ``open_lesson(key)`` (a path opens any Python file defining
    ``build()``) and holds what is shown: ``lesson`` or ``expression``, and ``mine``.
    This object adds the controls, switches ``mine`` and builds typed expressions.
    """

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.open_action = QAction("&Open a Python file…", window)
        self.open_action.setShortcut(QKeySequence.Open)
        self.open_action.setToolTip("Open any Python file that defines build() (reloaded when you save it)")
        self.open_action.triggered.connect(self.choose_file)
        self.mine_action = QAction("Use my exercise gates", window)
        self.mine_action.setCheckable(True)
        self.mine_action.setShortcut(QKeySequence("Ctrl+M"))
        self.mine_action.setToolTip("Build the lessons with your own exercise gates (multiply, add, max, sigmoid, "
                                    "…) so a wrong backward shows in the numbers and in the gradcheck; an "
                                    "unfinished exercise keeps the built-in gate")
        self.mine_action.toggled.connect(self.set_mine)

        menu = window.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        menu.addAction(self.mine_action)

        self.expression = ExpressionBar()
        self.expression.submitted.connect(self.open_expression)
        self.toolbar = QToolBar("Your code")
        self.toolbar.setObjectName("yourcodetoolbar")
        self.toolbar.addAction(self.mine_action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.expression)
        window.addToolBarBreak()
        window.addToolBar(self.toolbar)

    def choose_file(self):
        start = str(self.window.lesson.path.parent) if self.window.lesson is not None else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a Python file defining build()", start,
                                              "Python files (*.py)")
        if path:
            self.window.open_lesson(path)

    def set_mine(self, on: bool) -> None:
        """Build with the student's exercise gates (or the built-in ones again): the open
        lesson or expression is built again."""
        w = self.window
        on = bool(on)
        if self.mine_action.isChecked() != on:
            self.mine_action.setChecked(on)  # calls back here
            return
        if on == w.mine:
            return
        w.mine = on
        if w.lesson is not None:
            w.loader.load_current(wait=False)
        elif w.expression is not None:
            self.open_expression(*w.expression)

    def open_expression(self, text: str, values: str) -> bool:
        """Build the graph of a typed expression (``(x + y) * z``, ``x=-2, y=5, z=-4``) and show it
        in the window; a refused expression says why under the box. It is tiny: built right here."""
        from gradgraph.expr import ExpressionError, build

        w, box = self.window, self.expression
        box.set_text(text, values)
        try:
            if w.mine:  # the student's gates for x * y, max(x, y), sigmoid(x), ...
                from gradgraph import exercises

                with exercises.mine() as report:
                    output = build(text, values)
            else:
                output, report = build(text, values), None
            session = GraphSession(output, mine=report)
        except ExpressionError as error:
            box.show_result(str(error))
            w.statusBar().showMessage(f"expression: {error}", 10000)
            return False
        box.show_result("")
        w.expression = (text, values)
        w.stop_play()
        w.loader.cancel()  # a lesson still building is no longer wanted
        w.loader.watch(None)
        w.lesson, w.module = None, None
        w.browser.clearSelection()
        w.setWindowTitle(f"gradgraph — f = {text.strip()}")
        w.lesson_view.show_lesson(f"# f = {text.strip()}\n\nwith {values.strip()}", "", None)
        w.lesson_tabs.clear()
        w.tabs.setCurrentWidget(w.graph_view)
        w.set_session(session)
        w.errors.clear()
        return True
