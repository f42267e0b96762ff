"""The main window: lesson browser | graph, lesson text and code, training, figures.

Views subscribe to the Qt-free models: the stepper calls ``_on_step``; the
training worker's records arrive in ``TrainPanel._on_record`` on the main
thread. Errors of a lesson (or of the student's code in it) go to the error
panel and the window stays usable.
"""
from __future__ import annotations

import sys
import threading
import traceback

from PySide6.QtCore import QFileSystemWatcher, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QLabel, QListWidget, QListWidgetItem, QMainWindow,
                               QSlider, QStatusBar, QStyle, QTabWidget, QToolBar, QVBoxLayout, QWidget)

from .code_view import LessonView
from .graph_view import GraphView
from .models import GraphSession, format_ledger_header
from .panels import ErrorPanel, Inspector, LedgerPanel
from .settings import settings

STATUS_MARK = {"passed": "✓", "failed": "✗", "todo": "○"}


def exercise_status(ids) -> str:
    """"✓1 ○1" for a lesson's exercises (empty when there are none or no checker)."""
    if not ids:
        return ""
    try:
        from gradgraph import exercises
    except Exception:
        return f"{len(ids)} exercise{'s' if len(ids) > 1 else ''}"
    counts: dict = {}
    for e in ids:
        try:
            st = str(exercises.status(e))
        except Exception:
            st = "todo"
        counts[st] = counts.get(st, 0) + 1
    return "  ".join(f"{STATUS_MARK.get(k, k)}{v}" for k, v in sorted(counts.items()))


class _Bridge(QObject):
    """Carries results from worker threads to the main thread (queued signals)."""

    warmupProgress = Signal(str)
    warmupDone = Signal(str)


class LessonBrowser(QListWidget):
    """Title, one-line summary and exercise status of every lesson."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lessons = []
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setSpacing(2)

    def populate(self, lessons):
        self.clear()
        self.lessons = list(lessons)
        for lesson in self.lessons:
            item = QListWidgetItem(self._text(lesson, ""))
            item.setToolTip(f"{lesson.title}\n{lesson.summary}\n{lesson.path}")
            self.addItem(item)

    @staticmethod
    def _text(lesson, status):
        import re

        title = re.sub(r"^\s*\d+\s*[.:)]\s*", "", lesson.title)
        extra = f"   [{status}]" if status else ""
        return f"{lesson.number}. {title}{extra}\n{lesson.summary}"

    def update_status(self):
        for row, lesson in enumerate(self.lessons):
            status = exercise_status(lesson.exercises)
            self.item(row).setText(self._text(lesson, status))

    def select_id(self, lesson_id):
        for row, lesson in enumerate(self.lessons):
            if lesson.id == lesson_id:
                self.blockSignals(True)
                self.setCurrentRow(row)
                self.blockSignals(False)


class MainWindow(QMainWindow):
    lessonOpened = Signal(str)

    def __init__(self, screenshot_mode: bool = False):
        super().__init__()
        self.setWindowTitle("gradgraph")
        self.screenshot_mode = screenshot_mode
        self.settings = settings()
        self.session: GraphSession | None = None
        self.lesson = None
        self.module = None
        self._unsubscribe = None
        self._bridge = _Bridge(self)
        self._bridge.warmupProgress.connect(self._on_warmup_progress)
        self._bridge.warmupDone.connect(self._on_warmup_done)
        self.first_paint_callbacks = []

        # central tabs
        self.tabs = QTabWidget()
        self.graph_view = GraphView()
        self.lesson_view = LessonView()
        self.lesson_view.reloadRequested.connect(self.reload_lesson)
        self.lesson_view.checkRequested.connect(self.check_exercises)
        self.train_holder = QWidget()
        QVBoxLayout(self.train_holder).setContentsMargins(0, 0, 0, 0)
        self.train_panel = None
        self.figures_holder = QTabWidget()
        self.tabs.addTab(self.graph_view, "Graph")
        self.tabs.addTab(self.lesson_view, "Lesson && code")
        self.tabs.addTab(self.train_holder, "Train")
        self.tabs.addTab(self.figures_holder, "Figures")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        self.setCentralWidget(self.tabs)

        # docks
        self.browser = LessonBrowser()
        self.browser.currentRowChanged.connect(self._on_lesson_chosen)
        self.inspector = Inspector()
        self.inspector.valueEdited.connect(self._on_value_edited)
        self.ledger = LedgerPanel()
        self.errors = ErrorPanel()
        self.browser_dock = self._dock("Lessons", self.browser, Qt.LeftDockWidgetArea, "lessons")
        self.inspector_dock = self._dock("Inspector", self.inspector, Qt.RightDockWidgetArea, "inspector")
        self.ledger_dock = self._dock("Chain-rule ledger", self.ledger, Qt.BottomDockWidgetArea, "ledger")
        self.errors_dock = self._dock("Errors", self.errors, Qt.BottomDockWidgetArea, "errors")
        self.tabifyDockWidget(self.ledger_dock, self.errors_dock)
        self.errors_dock.hide()  # shown when something goes wrong
        self.errors.cleared.connect(self.errors_dock.hide)
        self.ledger_dock.raise_()
        self.resizeDocks([self.browser_dock, self.inspector_dock], [250, 310], Qt.Horizontal)
        self.resizeDocks([self.ledger_dock], [150], Qt.Vertical)

        self.graph_view.nodeClicked.connect(self._on_node_clicked)
        self.graph_view.layoutChanged.connect(self._on_layout_changed)

        self._build_toolbar()
        self.setStatusBar(QStatusBar())
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._on_file_changed)
        self._reload_timer = QTimer(self, singleShot=True, interval=400)
        self._reload_timer.timeout.connect(self.reload_lesson)

        if not screenshot_mode:
            geometry = self.settings.value("window/geometry")
            state = self.settings.value("window/state")
            if geometry is not None:
                self.restoreGeometry(geometry)
            else:
                self.resize(1400, 900)
            if state is not None:
                self.restoreState(state)

    def _dock(self, title, widget, area, name):
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_toolbar(self):
        tb = QToolBar("Step")
        tb.setObjectName("steptoolbar")
        self.addToolBar(tb)
        self.actions = {}

        style = self.style()
        icons = {"reset": QStyle.SP_MediaSkipBackward, "back": QStyle.SP_MediaSeekBackward,
                 "step": QStyle.SP_MediaSeekForward, "play": QStyle.SP_MediaPlay,
                 "backward": QStyle.SP_ArrowLeft, "reload": QStyle.SP_BrowserReload}
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)

        def act(key, text, tip, shortcuts, slot, checkable=False):
            a = QAction(text, self)
            if key in icons:
                a.setIcon(style.standardIcon(icons[key]))
            a.setToolTip(f"{tip} ({', '.join(shortcuts)})" if shortcuts else tip)
            a.setShortcuts([QKeySequence(s) for s in shortcuts])
            a.setShortcutContext(Qt.WindowShortcut)
            a.setCheckable(checkable)
            (a.toggled if checkable else a.triggered).connect(slot)
            tb.addAction(a)
            self.actions[key] = a
            return a

        act("reset", "Reset", "Back to the start", ["Home"], lambda: self._do("reset"))
        act("back", "Back", "One step back", ["Left"], lambda: self._do("back"))
        act("step", "Step", "One step forward", ["Right", "Space"], lambda: self._do("step"))
        act("play", "Play", "Play / pause", ["P"], self.toggle_play, checkable=True)
        tb.addWidget(QLabel(" speed "))
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(1, 30)
        self.speed.setValue(4)
        self.speed.setFixedWidth(110)
        self.speed.setToolTip("steps per second")
        self.speed.valueChanged.connect(self._on_speed_changed)
        tb.addWidget(self.speed)
        act("backward", "To backward", "Jump to the start of the backward pass", ["B", "End"],
            lambda: self._do("backward"))
        tb.addSeparator()
        act("fit", "Fit", "Fit the graph in the window", ["F"], self.graph_view.fit)
        act("gradcheck", "Gradcheck", "Colour nodes by analytic vs numerical gradient error "
            "(green < 1e-7, yellow, red > 1e-2)", ["G"], self._on_gradcheck_toggled, checkable=True)
        act("reload", "Reload", "Reload the lesson file", ["Ctrl+R"], self.reload_lesson)
        self.step_label = QLabel("")
        self.step_label.setStyleSheet("padding-left: 12px; font-weight: bold")
        tb.addWidget(self.step_label)

    # -- lessons --------------------------------------------------------------------
    def load_lessons(self):
        try:
            from gradgraph import lessons as lessons_module

            lessons = lessons_module.list_lessons()
        except Exception as error:
            self.show_error("listing lessons", error)
            lessons = []
        self.browser.populate(lessons)
        return lessons

    def open_lesson(self, key) -> bool:
        """Open a lesson by id/slug/Lesson; errors go to the error panel. True on success."""
        from gradgraph import lessons as lessons_module

        self.stop_play()
        try:
            lesson = lessons_module.find_lesson(key)
        except Exception as error:
            self.show_error("opening lesson", error)
            return False
        if self.lesson is not None and self.lesson.path and str(self.lesson.path) in self.watcher.files():
            self.watcher.removePath(str(self.lesson.path))
        self.lesson = lesson
        self.browser.select_id(lesson.id)
        self.setWindowTitle(f"gradgraph — {lesson.id} {lesson.title}")
        if not self.screenshot_mode:
            self.settings.setValue("last_lesson", lesson.id)
        self.watcher.addPath(str(lesson.path))
        ok = self._load_current()
        self.lessonOpened.emit(lesson.id)
        return ok

    def reload_lesson(self):
        if self.lesson is None:
            return
        from gradgraph import lessons as lessons_module

        try:  # the title, summary or exercises may have changed
            self.lesson = lessons_module.find_lesson(self.lesson.id)
        except Exception:
            pass
        if str(self.lesson.path) not in self.watcher.files():
            self.watcher.addPath(str(self.lesson.path))
        self._load_current()
        self.statusBar().showMessage(f"reloaded {self.lesson.path.name}", 3000)

    def _load_current(self) -> bool:
        from gradgraph import lessons as lessons_module

        lesson = self.lesson
        try:
            source = lesson.path.read_text(encoding="utf-8")
        except OSError as error:
            source = f"# cannot read {lesson.path}: {error}"
        self.lesson_view.show_lesson(lesson.text, source, lesson.path, lesson.exercises)
        self.set_session(None)
        self.module = None
        self._reset_figures()
        if self.train_panel is not None:
            self.train_panel.set_lesson(None, None)
        self.tabs.setTabEnabled(2, False)
        self.tabs.setTabEnabled(3, False)
        try:
            module = lessons_module.load(lesson)
        except BaseException as error:  # a syntax error, an import error, anything
            if isinstance(error, KeyboardInterrupt):
                raise
            self.show_error(f"lesson {lesson.id} ({lesson.path.name}) failed to load", error)
            return False
        self.module = module
        self.tabs.setTabEnabled(2, callable(getattr(module, "trainer", None)))
        self.tabs.setTabEnabled(3, callable(getattr(module, "figures", None)))
        if self.tabs.isTabEnabled(2):
            self._ensure_train_panel().set_lesson(lesson, module)
        build = getattr(module, "build", None)
        if not callable(build):
            self.ledger.show_step("this lesson has no build(): nothing to step through", [])
            return True
        try:
            output = build()
            session = GraphSession(output)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                raise
            self.show_error(f"lesson {lesson.id}: build() raised", error)
            return False
        self.set_session(session)
        self.errors.clear()
        return True

    def set_session(self, session):
        if self._unsubscribe is not None:
            try:
                self._unsubscribe()
            except Exception:
                pass
            self._unsubscribe = None
        self.session = session
        if session is not None:
            self._unsubscribe = session.subscribe(self._on_step)
        self.graph_view.set_session(session)
        self.inspector.set_session(session)
        self._update_step_ui()

    # -- stepping ----------------------------------------------------------------------
    def _do(self, what):
        s = self.session
        if s is None:
            return
        try:
            if what == "step":
                s.step()
            elif what == "back":
                s.back()
            elif what == "reset":
                s.reset()
            elif what == "backward":
                s.to_backward()
        except Exception as error:
            self.stop_play()
            self.show_error(f"step ({what})", error)

    def _on_step(self, *event):
        """Stepper callback: update item state only (no re-layout)."""
        self._update_step_ui()

    def _update_step_ui(self):
        s = self.session
        if s is None:
            self.step_label.setText("")
            self.ledger.show_step("no graph", [])
            self.graph_view.refresh()
            return
        self.graph_view.refresh()
        header = format_ledger_header(s)
        lines = s.ledger()
        cur = s.current()
        if s.position == 0:
            lines = ["start: nothing is computed yet.",
                     "Step (→ or Space) to compute the values one by one; B jumps to the backward pass."]
        elif not lines and cur is not None and s.position <= s.backward_start:
            formula, _ = s.formula(cur)
            lines = ["forward: " + s.current_text() + (f"      [{formula}]" if formula else "")]
        if s.position >= s.length and s.length > s.backward_start:
            try:
                summary = s.flow()[3]
                lines = lines + ["", "gradient flow: " + summary.replace("\n", "\n  ")]
            except Exception:
                pass
        self.ledger.show_step(header, lines)
        self.step_label.setText(f"step {s.position}/{s.length} · {s.phase}")
        self.inspector.refresh()
        if self.play_timer.isActive() or self.screenshot_mode:
            self.graph_view.ensure_current_visible()

    def toggle_play(self, on=None):
        if on is None:
            on = not self.play_timer.isActive()
        if on and self.session is not None:
            self.play_timer.start(int(1000 / self.speed.value()))
        else:
            self.play_timer.stop()
        a = self.actions["play"]
        a.blockSignals(True)
        a.setChecked(self.play_timer.isActive())
        a.blockSignals(False)

    def stop_play(self):
        self.toggle_play(False)

    def _on_play_tick(self):
        s = self.session
        if s is None or s.position >= s.length:
            self.stop_play()
            return
        self._do("step")

    def _on_speed_changed(self, value):
        if self.play_timer.isActive():
            self.play_timer.setInterval(int(1000 / value))

    # -- inspecting and editing ----------------------------------------------------------
    def _on_node_clicked(self, index):
        self.inspector.show_node(index)

    def _on_layout_changed(self):
        pass

    def _on_value_edited(self, index, value):
        s = self.session
        if s is None:
            return
        try:
            s.set_value(index, value)  # the stepper replays to the same position
        except Exception as error:
            self.show_error(f"setting {s.name(index)}", error)
            return
        self.graph_view.invalidate_texts()
        self._update_step_ui()

    def _on_gradcheck_toggled(self, on):
        if self.session is None:
            return
        try:
            self.graph_view.set_overlay("gradcheck" if on else "none")
        except Exception as error:
            self.graph_view.overlay = "none"
            self.show_error("gradcheck", error)

    def check_exercises(self):
        """Run gradgraph.exercises.check for the lesson's exercises; show pass/fail and hints."""
        if self.lesson is None or not self.lesson.exercises:
            return
        import html

        try:
            from gradgraph import exercises
        except Exception as error:
            self.show_error("exercises", error)
            return
        lines = []
        for ex in self.lesson.exercises:
            try:
                result = exercises.check(ex)
                ok, message = bool(result.passed), str(getattr(result, "message", "") or "")
            except Exception as error:
                ok, message = False, f"{type(error).__name__}: {error}"
            colour = "#15803d" if ok else "#b91c1c"
            lines.append(f"<b style='color:{colour}'>{'✓ passed' if ok else '✗ not yet'}</b> "
                         f"exercise {html.escape(ex)}: {html.escape(message.strip())[:400]}")
        self.lesson_view.exercise_result.setText("<br>".join(lines))
        self.browser.update_status()

    # -- errors, files, figures ----------------------------------------------------------------
    def show_error(self, where, error, tb=None):
        self.errors.show_error(where, error, tb)
        self.errors_dock.show()
        self.errors_dock.raise_()
        self.statusBar().showMessage(f"{where}: {type(error).__name__}: {error}", 10000)
        if not self.screenshot_mode and "pytest" not in sys.modules:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)

    def _on_file_changed(self, path):
        if self.lesson is not None and path == str(self.lesson.path):
            self._reload_timer.start()

    def _on_tab_changed(self, index):
        widget = self.tabs.widget(index)
        if widget is self.figures_holder and self.figures_holder.count() == 0:
            self._load_figures()
        # the inspector and the ledger belong to the graph: give the other tabs the room
        on_graph = widget is self.graph_view
        for dock in (self.inspector_dock, self.ledger_dock):
            if on_graph:
                if dock.property("autoHidden"):
                    dock.setProperty("autoHidden", False)
                    dock.show()
            elif dock.isVisible():
                dock.setProperty("autoHidden", True)
                dock.hide()

    def _reset_figures(self):
        while self.figures_holder.count():
            w = self.figures_holder.widget(0)
            self.figures_holder.removeTab(0)
            w.deleteLater()

    def _load_figures(self):
        figures = getattr(self.module, "figures", None)
        if not callable(figures):
            return
        self.statusBar().showMessage("drawing the lesson's figures…")
        try:
            try:
                figs = figures(quick=True)
            except TypeError:
                figs = figures()
        except Exception as error:
            self.show_error(f"lesson {self.lesson.id}: figures() raised", error)
            return
        from .plots import canvas_for

        for k, fig in enumerate(figs or []):
            titles = [ax.get_title() for ax in fig.get_axes() if ax.get_title()]
            title = titles[0] if titles else f"Figure {k + 1}"
            self.figures_holder.addTab(canvas_for(fig), (title[:32] + "…") if len(title) > 33 else title)
        self.statusBar().clearMessage()

    def _ensure_train_panel(self):
        if self.train_panel is None:
            from .training_view import TrainPanel

            self.train_panel = TrainPanel(self)
            self.train_panel.errorRaised.connect(self.show_error)
            self.train_panel.statusMessage.connect(self.statusBar().showMessage)
            self.train_holder.layout().addWidget(self.train_panel)
        return self.train_panel

    # -- Numba warm-up -----------------------------------------------------------------------------
    def start_warmup(self):
        """Compile (or load from cache) the Numba kernels in a worker thread, with status messages."""
        def work():
            try:
                from gradgraph import kernels
            except Exception:
                self._bridge.warmupDone.emit("")
                return
            warmup = getattr(kernels, "warmup", None)
            if warmup is None:
                self._bridge.warmupDone.emit("")
                return
            is_warm = getattr(kernels, "is_warm", None)
            try:
                cold = not is_warm() if callable(is_warm) else True
            except Exception:
                cold = True
            if cold:
                self._bridge.warmupProgress.emit("Compiling the Numba kernels (first start only)…")
            try:
                warmup(progress=lambda *a: self._bridge.warmupProgress.emit(" ".join(str(x) for x in a)))
            except TypeError:
                warmup()
            except Exception as error:
                self._bridge.warmupDone.emit(f"kernel warm-up failed: {error}")
                return
            self._bridge.warmupDone.emit("Kernels ready." if cold else "")

        self._warmup_thread = threading.Thread(target=work, name="gradgraph-warmup", daemon=True)
        self._warmup_thread.start()

    def _on_warmup_progress(self, text):
        self.statusBar().showMessage(text)

    def _on_warmup_done(self, text):
        if text:
            self.statusBar().showMessage(text, 5000)
        elif self.statusBar().currentMessage().startswith("Compiling"):
            self.statusBar().clearMessage()

    # -- window state -------------------------------------------------------------------------------
    def paintEvent(self, event):
        super().paintEvent(event)
        while self.first_paint_callbacks:
            self.first_paint_callbacks.pop(0)()

    def closeEvent(self, event):
        self.stop_play()
        if self.train_panel is not None:
            self.train_panel.shutdown()
        if not self.screenshot_mode:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.settings.sync()
        super().closeEvent(event)

    def _on_lesson_chosen(self, row):
        if 0 <= row < len(self.browser.lessons):
            self.open_lesson(self.browser.lessons[row])
