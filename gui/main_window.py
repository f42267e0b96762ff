"""The main window: lesson browser | graph, lesson text and code, training, figures.

Views subscribe to the Qt-free models: the canvas, inspector and ledger follow the
session themselves; the training worker's records arrive in ``TrainPanel`` on the main
thread. Errors of a lesson (or of the student's code in it) go to the error panel and
the window stays usable.

:class:`MainWindow` composes collaborators, each with one job: :class:`~.step_toolbar.StepToolbar`
(stepping and playing), :class:`~.gradcheck_overlay.GradcheckOverlay` (the gradient check),
:class:`~.lesson_loader.LessonLoader` (listing, building and reloading lessons),
:class:`~.lesson_tabs.LessonTabs` (the central tabs, figures, the train panel) and
:class:`~.sources.YourCode` (File → Open, the student's gates, typed expressions).

Slow work never runs on the GUI thread: loading and building a lesson, the
gradient check and training each run on a :class:`~.worker.GeneratorWorker`
whose signals arrive on the main thread; Numba kernels compile in a child process
(the engine's doing; compile_progress.py shows it in the status bar).
"""
from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (QDockWidget, QListView, QListWidget, QListWidgetItem, QMainWindow,
                               QStatusBar, QStyle, QStyledItemDelegate)

from .gradcheck_overlay import GradcheckOverlay
from .lesson_loader import LessonLoader, wait_for
from .lesson_tabs import LessonTabs
from .models import GraphSession, SessionFollower
from .panels import ErrorPanel, Inspector, LedgerPanel
from .settings import settings
from .sources import YourCode
from .step_toolbar import StepToolbar
from .worker import GeneratorWorker

STATUS_WORDS = {"passed": "passed", "failed": "failed", "todo": "to do"}
# badge colours (background, text) by overall state
BADGE_COLOURS = {"passed": ("#dcfce7", "#166534"), "failed": ("#fee2e2", "#991b1b"),
                 "todo": ("#fef3c7", "#92400e"), "unknown": ("#e2e8f0", "#334155")}


def exercise_counts(ids) -> dict | None:
    """{"passed": n, "failed": n, "todo": n} for a lesson's exercises (None without a checker)."""
    try:
        from gradgraph import exercises
    except Exception:
        return None
    counts = {"passed": 0, "failed": 0, "todo": 0}
    for e in ids:
        try:
            st = str(exercises.status(e))
        except Exception:
            st = "todo"
        counts[st if st in counts else "todo"] += 1
    return counts


def exercise_badge(ids, counts=None) -> tuple:
    """("2 exercises: 1 passed, 1 to do", state) for the lesson list; ("", "") without exercises.
    ``state`` (passed / failed / todo / unknown) picks the badge colour; ``counts`` None: not
    checked yet."""
    n = len(ids or ())
    if not n:
        return "", ""
    head = f"{n} exercise{'s' if n > 1 else ''}"
    if not counts:
        return head, "unknown"
    if counts.get("passed", 0) == n:
        return f"{head}: {'all ' if n > 1 else ''}passed ✓", "passed"
    state = "failed" if counts.get("failed") else "todo"
    if counts.get("todo", 0) == n:
        return f"{head} to do", state
    if n == 1:
        return f"{head}: failed", state
    parts = [f"{counts[k]} {STATUS_WORDS[k]}" for k in ("passed", "failed", "todo") if counts.get(k)]
    return f"{head}: " + ", ".join(parts), state


def exercise_report(ids) -> str:
    """The check of each exercise in ``ids``, one HTML line each: ✓ passed, ○ to do or
    ✗ not yet, with the checker's message (what is missing, a hint)."""
    import html

    from gradgraph import exercises

    lines = []
    marks = {"passed": ("#15803d", "✓ passed"), "todo": ("#b45309", "○ to do"), "failed": ("#b91c1c", "✗ not yet")}
    for ex in ids:
        try:
            result = exercises.check(ex)
            ok, message = bool(result.passed), str(getattr(result, "message", "") or "").strip()
            state = "passed" if ok else str(getattr(result, "status", "failed"))
        except Exception as error:
            ok, message, state = False, f"{type(error).__name__}: {error}", "failed"
        colour, mark = marks.get(state, marks["failed"])
        if message.lower().startswith(f"exercise {ex.lower()} "):  # "Exercise 1.1 is not done yet: ..."
            text = "exercise " + message[len("exercise "):]
        else:
            text = f"exercise {ex}: {message}"
        lines.append(f"<b style='color:{colour}'>{mark}</b>&nbsp; {html.escape(text)[:400]}")
    return "<br>".join(lines)


TITLE_ROLE, SUMMARY_ROLE, BADGE_ROLE = Qt.UserRole + 1, Qt.UserRole + 2, Qt.UserRole + 3


class LessonDelegate(QStyledItemDelegate):
    """One lesson in the list: the title in bold, the summary smaller and grey below it, and
    the exercise status as a small coloured badge; a thin line between lessons."""

    PAD_X, PAD_Y, GAP, SUMMARY_LINES = 10, 8, 3, 4

    def __init__(self, view):
        super().__init__(view)
        self.view = view

    def _fonts(self, option):
        title = QFont(option.font)
        title.setBold(True)
        summary = QFont(option.font)
        summary.setPointSizeF(max(7.0, option.font.pointSizeF() - 1.0))
        badge = QFont(option.font)
        badge.setPointSizeF(max(6.5, option.font.pointSizeF() - 1.5))
        return title, summary, badge

    def _geometry(self, option, index, width):
        """Rects (relative to the item's top-left) of the title, the summary and the badge."""
        title_font, summary_font, badge_font = self._fonts(option)
        inner = max(40, width - 2 * self.PAD_X)
        title = index.data(TITLE_ROLE) or index.data(Qt.DisplayRole) or ""
        summary = index.data(SUMMARY_ROLE) or ""
        badge = (index.data(BADGE_ROLE) or ("", ""))[0]
        flags = int(Qt.TextWordWrap)
        y = self.PAD_Y
        t = QFontMetrics(title_font).boundingRect(QRect(0, 0, inner, 10000), flags, title)
        title_rect = QRect(self.PAD_X, y, inner, t.height())
        y += t.height()
        summary_rect = QRect(self.PAD_X, y, inner, 0)
        if summary:
            fm = QFontMetrics(summary_font)
            h = min(fm.boundingRect(QRect(0, 0, inner, 10000), flags, summary).height(),
                    self.SUMMARY_LINES * fm.lineSpacing())
            summary_rect = QRect(self.PAD_X, y + self.GAP, inner, h)
            y += self.GAP + h
        badge_rect = QRect()
        if badge:
            fm = QFontMetrics(badge_font)
            badge_rect = QRect(self.PAD_X, y + self.GAP + 2, min(inner, fm.horizontalAdvance(badge) + 14),
                               fm.height() + 4)
            y += self.GAP + 2 + badge_rect.height()
        return title_rect, summary_rect, badge_rect, y + self.PAD_Y

    def sizeHint(self, option, index):
        width = self.view.viewport().width() or option.rect.width() or 240
        return QSize(width, self._geometry(option, index, width)[3])

    def paint(self, painter, option, index):
        self.initStyleOption(option, index)
        painter.save()
        rect = option.rect
        selected = bool(option.state & QStyle.State_Selected)
        hover = bool(option.state & QStyle.State_MouseOver)
        if selected:
            painter.fillRect(rect, option.palette.highlight())
        elif hover:
            painter.fillRect(rect, QColor("#eef2f7"))
        painter.setPen(QColor("#e2e8f0"))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        title_font, summary_font, badge_font = self._fonts(option)
        title_rect, summary_rect, badge_rect, _ = self._geometry(option, index, rect.width())
        flags = int(Qt.TextWordWrap | Qt.AlignLeft | Qt.AlignTop)
        painter.translate(rect.topLeft())
        painter.setFont(title_font)
        painter.setPen(option.palette.highlightedText().color() if selected else QColor("#0f172a"))
        painter.drawText(title_rect, flags, index.data(TITLE_ROLE) or index.data(Qt.DisplayRole) or "")
        summary = index.data(SUMMARY_ROLE) or ""
        if summary:
            painter.setFont(summary_font)
            painter.setPen(QColor("#e0ecff") if selected else QColor("#64748b"))
            fm = QFontMetrics(summary_font)
            text = summary
            full = fm.boundingRect(QRect(0, 0, summary_rect.width(), 10000), int(Qt.TextWordWrap), summary)
            if full.height() > summary_rect.height():  # too long: cut at the last line with an ellipsis
                keep = len(summary)
                while keep > 10 and fm.boundingRect(QRect(0, 0, summary_rect.width(), 10000), int(Qt.TextWordWrap),
                                                    summary[:keep] + "…").height() > summary_rect.height():
                    keep -= 8
                text = summary[:keep].rstrip() + "…"
            painter.drawText(summary_rect, flags, text)
        badge, state = index.data(BADGE_ROLE) or ("", "")
        if badge:
            bg, fg = BADGE_COLOURS.get(state, BADGE_COLOURS["unknown"])
            painter.setRenderHint(QPainter.Antialiasing)
            painter.setPen(Qt.NoPen)
            painter.setBrush(QColor(bg))
            painter.drawRoundedRect(QRectF(badge_rect), 6, 6)
            painter.setFont(badge_font)
            painter.setPen(QColor(fg))
            painter.drawText(badge_rect, int(Qt.AlignCenter), badge)
        painter.restore()


class LessonBrowser(QListWidget):
    """Title, summary and exercise status of every lesson (drawn by :class:`LessonDelegate`)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lessons = []
        self.setWordWrap(True)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.Adjust)
        self.setVerticalScrollMode(QListView.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setMouseTracking(True)
        self.setItemDelegate(LessonDelegate(self))

    def populate(self, lessons):
        self.clear()
        self.lessons = list(lessons)
        for lesson in self.lessons:
            item = QListWidgetItem(self._title(lesson))
            item.setData(TITLE_ROLE, self._title(lesson))
            item.setData(SUMMARY_ROLE, lesson.summary or "")
            item.setData(BADGE_ROLE, exercise_badge(lesson.exercises))
            item.setToolTip(f"{lesson.title}\n{lesson.summary}\n{lesson.path}")
            self.addItem(item)

    @staticmethod
    def _title(lesson):
        import re

        title = re.sub(r"^\s*\d+\s*[.:)]\s*", "", lesson.title)
        return f"{lesson.number}. {title}"

    def update_status(self):
        """Check every lesson's exercises on a worker (they run the student's code); each badge
        changes when its lesson has been checked. Returns the worker."""
        lessons = list(self.lessons)

        def check_all():
            for row, lesson in enumerate(lessons):
                if lesson.exercises:
                    yield row, lesson, exercise_counts(lesson.exercises)

        self.status_worker = GeneratorWorker(check_all, name="exercise-status")
        self.status_worker.yielded.connect(self._on_lesson_checked)
        return self.status_worker.start()

    def _on_lesson_checked(self, checked):
        row, lesson, counts = checked
        if row < len(self.lessons) and self.lessons[row] is lesson:
            self.item(row).setData(BADGE_ROLE, exercise_badge(lesson.exercises, counts))
            QTimer.singleShot(0, self.keep_selected_in_view)  # the badge may change the item's height

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.scheduleDelayedItemsLayout()  # the summaries wrap to the new width
        QTimer.singleShot(0, self.keep_selected_in_view)  # after the new heights are known

    def keep_selected_in_view(self):
        """The selected lesson stays in view when the list re-wraps or its badges change."""
        item = self.currentItem()
        if item is not None:
            self.scrollToItem(item)

    def select_id(self, lesson_id):
        for row, lesson in enumerate(self.lessons):
            if lesson.id == lesson_id:
                self.blockSignals(True)
                self.setCurrentRow(row)
                self.blockSignals(False)
                self.scrollToItem(self.item(row))


class MainWindow(SessionFollower, QMainWindow):
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
        self.mine = False             # build lessons with the student's exercise gates
        self.expression = None        # (expression, values) while a typed expression is shown
        self.first_paint_callbacks = []

        # central tabs
        self.lesson_tabs = LessonTabs(self)
        self.tabs, self.graph_view = self.lesson_tabs.tabs, self.lesson_tabs.graph_view
        self.lesson_view, self.figures_holder = self.lesson_tabs.lesson_view, self.lesson_tabs.figures_holder
        self.train_holder = self.lesson_tabs.train_holder
        self.lesson_view.reloadRequested.connect(self.reload_lesson)
        self.lesson_view.checkRequested.connect(self.check_exercises)
        self.compile_progress = None  # kernel compile progress in the status bar: start_warmup()
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
        self.browser.setMinimumWidth(190)
        self.inspector.setMinimumWidth(250)
        self.share_room(1400, 900)

        self.graph_view.nodeClicked.connect(self._on_node_clicked)

        self.loader = LessonLoader(self)  # listing, building and reloading lessons
        self.gradcheck = GradcheckOverlay(self)  # the Gradcheck button's check and colours
        self.step_toolbar = StepToolbar(self)
        self.actions, self.speed = self.step_toolbar.actions, self.step_toolbar.speed
        self.build_options = self.step_toolbar.build_options
        self.build_options_action = self.step_toolbar.build_options_action
        self.build_options.changed.connect(self._on_build_options_changed)
        self.your_code = YourCode(self)  # File → Open, "use my exercise gates", the expression box
        self._build_view_menu()
        self.setStatusBar(QStatusBar())

        if not screenshot_mode:
            geometry = self.settings.value("window/geometry")
            state = self.settings.value("window/state")
            if geometry is not None:
                self.restoreGeometry(geometry)
            else:
                self.resize(1400, 900)
            if state is not None:
                self.restoreState(state)

    @property
    def gradcheck_running(self) -> bool:
        return self.gradcheck.running

    @property
    def gradcheck_worker(self):
        return self.gradcheck.worker

    @property
    def train_panel(self):
        return self.lesson_tabs.train_panel

    def _ensure_train_panel(self):
        return self.lesson_tabs.ensure_train_panel()

    def _dock(self, title, widget, area, name):
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_view_menu(self):
        """View menu: reopen a closed panel (each dock's own show/hide action)."""
        menu = self.menuBar().addMenu("&View")
        for dock in (self.browser_dock, self.inspector_dock, self.ledger_dock, self.errors_dock):
            menu.addAction(dock.toggleViewAction())
        self.view_menu = menu

    # -- lessons (the loader does it) -----------------------------------------------------
    def load_lessons(self, then=None):
        """List the lessons in the browser; the listing reads every lesson file, so it runs on a
        worker. Without ``then`` wait for it (event loop running) and return the lessons; with
        ``then``, return at once and call ``then()`` when the list is shown."""
        return self.loader.list_lessons(then)

    def open_lesson(self, key, wait: bool = True) -> bool:
        """Open a lesson by id/slug/Lesson, or any Python file defining ``build()`` by its path.

        The file is loaded and its graph built on a worker thread. ``wait``: run the event
        loop here until that is done and say whether it worked (scripts, tests,
        screenshots); the window's own controls pass False and return at once. Errors
        go to the error panel, the student's own frame first.
        """
        return self.loader.open(key, wait)

    def reload_lesson(self, wait: bool = False):
        self.loader.reload(wait)

    @staticmethod
    def wait_for(worker) -> None:
        """Run the event loop until ``worker`` (if any) has finished (the window stays responsive)."""
        wait_for(worker)

    @property
    def builder(self):
        """The GeneratorWorker building the open lesson, if any."""
        return self.loader.builder

    @property
    def watcher(self):
        return self.loader.watcher

    def student_files(self) -> list:
        """The files the student wrote that the open graph runs: the lesson or script, and with
        "use my exercise gates" the exercise files (an error shows their frames first)."""
        files = [self.lesson.path] if self.lesson is not None else []
        if self.mine:
            from gradgraph import exercises

            files += [e.stub for e in exercises.list_exercises() if e.replaces]
        return files

    def set_mine(self, on: bool) -> None:
        """Build lessons with the student's exercise gates (or the built-in ones again)."""
        self.your_code.set_mine(on)

    def open_expression(self, text: str, values: str) -> bool:
        """Build the graph of a typed expression (``(x + y) * z``, ``x=-2, y=5, z=-4``) and show it;
        a refused expression says why under the box."""
        return self.your_code.open_expression(text, values)

    def _on_build_options_changed(self):
        if self.module is not None and callable(getattr(self.module, "build", None)):
            self.stop_play()
            self.loader.build(self.lesson, wait=False, module=self.module)

    def set_session(self, session):
        self.follow(session)
        self.gradcheck.forget()  # a check of the previous graph is no longer wanted
        self.graph_view.set_session(session)  # the views subscribe to the session themselves
        self.inspector.set_session(session)
        self.ledger.set_session(session)
        self.step_toolbar.update()
        if session is not None and self.gradcheck.wanted():
            self.gradcheck.start()

    # -- stepping (the toolbar does it) ----------------------------------------------------
    def _do(self, what):
        self.step_toolbar.do(what)

    def toggle_play(self, on=None):
        self.step_toolbar.toggle_play(on)

    def stop_play(self):
        self.step_toolbar.stop_play()

    def _on_step(self, event=None):
        """Stepper callback: the window's own parts of a step."""
        self.step_toolbar.update()

    # -- inspecting and editing ----------------------------------------------------------
    def _on_node_clicked(self, index):
        self.inspector.show_node(index)

    def _on_value_edited(self, index, value):
        s = self.session
        if s is None:
            return
        if self.gradcheck.running:
            self.statusBar().showMessage("wait for the gradient check to finish before editing values", 5000)
            self.inspector.show_node(index)
            return
        try:
            s.set_value(index, value)  # the stepper replays to the same position
        except Exception as error:
            self.show_error(f"setting {s.name(index)}", error)
            return
        self.graph_view.invalidate_texts()  # the views redrew themselves on the graph's "values" event
        if self.gradcheck.wanted():
            self.gradcheck.start()  # new values: the old check no longer applies

    def check_exercises(self):
        """Run gradgraph.exercises.check for the lesson's exercises; show pass/fail and hints."""
        if self.lesson is None or not self.lesson.exercises:
            return
        self.lesson_view.exercise_result.setText(exercise_report(self.lesson.exercises))
        self.browser.update_status()

    # -- errors ----------------------------------------------------------------
    def show_error(self, where, error, tb=None):
        self.errors.show_error(where, error, tb)
        self.errors_dock.show()
        self.errors_dock.raise_()
        self.statusBar().showMessage(f"{where}: {type(error).__name__}: {error}", 10000)
        if not self.screenshot_mode and "pytest" not in sys.modules:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)

    # -- Numba compile progress ---------------------------------------------------------------------
    def start_warmup(self):
        """Show kernel compile progress in the status bar (see compile_progress.py).

        Nothing to start: the engine compiles each kernel in a child process when it is
        first used (numpy runs it meanwhile); this only subscribes to its progress.
        Idempotent.
        """
        from .compile_progress import CompileProgress

        if self.compile_progress is None:
            self.compile_progress = CompileProgress(self)
            self.compile_progress.message.connect(self._on_compile_progress)

    def _on_compile_progress(self, text, timeout_ms):
        if text:
            self.statusBar().showMessage(text, timeout_ms)
        elif self.statusBar().currentMessage().startswith("Compiling"):
            self.statusBar().clearMessage()

    # -- window state -------------------------------------------------------------------------------
    def show_at_size(self, width: int, height: int):
        """Show the window at exactly ``width`` x ``height`` (``gradgraph gui --size``): the
        panels share that room, whatever their contents would like."""
        self.setFixedSize(int(width), int(height))
        self.show()
        self.share_room(width, height)

    def share_room(self, width: int, height: int):
        """Give the side panels a usable share of a ``width`` x ``height`` window: the lesson
        list about a fifth, the inspector a quarter, the ledger a fifth of the height."""
        self.resizeDocks([self.browser_dock, self.inspector_dock],
                         [max(190, int(0.15 * width)), max(250, int(0.2 * width))], Qt.Horizontal)
        self.resizeDocks([self.ledger_dock], [max(130, int(0.2 * height))], Qt.Vertical)

    def showEvent(self, event):
        super().showEvent(event)
        self.fit_screen()

    def fit_screen(self):
        """The window never grows past the screen: its maximum is the screen's free area
        (not for pictures, ``--screenshot`` and ``--size``, which may be larger than the
        screen they render on)."""
        screen = self.screen()
        if screen is None or self.screenshot_mode or self.minimumWidth() == self.maximumWidth():
            return
        free = screen.availableGeometry().size()
        if free.width() >= 640 and free.height() >= 400:
            self.setMaximumSize(free)

    def paintEvent(self, event):
        super().paintEvent(event)
        while self.first_paint_callbacks:
            self.first_paint_callbacks.pop(0)()

    def closeEvent(self, event):
        self.stop_play()
        self.loader.cancel()  # a build or a check still running is no longer wanted
        self.gradcheck.forget()
        if self.train_panel is not None:
            self.train_panel.shutdown()
        if not self.screenshot_mode:
            self.settings.setValue("window/geometry", self.saveGeometry())
            self.settings.setValue("window/state", self.saveState())
            self.settings.sync()
        super().closeEvent(event)

    def _on_lesson_chosen(self, row):
        if 0 <= row < len(self.browser.lessons):
            self.open_lesson(self.browser.lessons[row], wait=False)
