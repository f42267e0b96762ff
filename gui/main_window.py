"""The main window: lesson browser | graph, lesson text and code, training, figures.

Views subscribe to the Qt-free models: the stepper calls ``_on_step``; the
training worker's records arrive in ``TrainPanel._on_record`` on the main
thread. Errors of a lesson (or of the student's code in it) go to the error
panel and the window stays usable.

Slow work never runs on the GUI thread: loading and building a lesson, the
gradient check and training each run on a :class:`~.worker.GeneratorWorker`
whose signals arrive on the main thread; Numba kernels compile in a child process
(the engine's doing; compile_progress.py shows it in the status bar).
"""
from __future__ import annotations

import sys
import traceback

from PySide6.QtCore import QEventLoop, QFileSystemWatcher, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import (QDockWidget, QListView, QListWidget, QListWidgetItem, QMainWindow,
                               QStatusBar, QStyle, QStyledItemDelegate, QTabWidget,
                               QVBoxLayout, QWidget)

from .code_view import LessonView
from .gradcheck_overlay import GradcheckOverlay
from .graph_view import GraphView
from .models import GraphSession, SessionFollower
from .panels import ErrorPanel, Inspector, LedgerPanel
from .settings import settings
from .step_toolbar import StepToolbar
from .sources import YourCode, build_lesson, student_first
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


def _figure_title(fig) -> str:
    """A figure's own title (its suptitle), else the first title of its axes."""
    try:
        sup = fig.get_suptitle() if hasattr(fig, "get_suptitle") else getattr(getattr(fig, "_suptitle", None),
                                                                               "get_text", lambda: "")()
    except Exception:
        sup = ""
    if sup and sup.strip():
        return " ".join(sup.split())
    titles = [ax.get_title() for ax in fig.get_axes() if ax.get_title()]
    return titles[0] if titles else ""


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
        self.builder = None           # the GeneratorWorker building the open lesson, if any
        self.expression = None        # (expression, values) while a typed expression is shown
        self._build_token = 0
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
        self.compile_progress = None  # kernel compile progress in the status bar: start_warmup()
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
        self.browser.setMinimumWidth(190)
        self.inspector.setMinimumWidth(250)
        self.share_room(1400, 900)

        self.graph_view.nodeClicked.connect(self._on_node_clicked)

        self.gradcheck = GradcheckOverlay(self)  # the Gradcheck button's check and colours
        self.step_toolbar = StepToolbar(self)
        self.actions, self.speed = self.step_toolbar.actions, self.step_toolbar.speed
        self.build_options = self.step_toolbar.build_options
        self.build_options_action = self.step_toolbar.build_options_action
        self.build_options.changed.connect(self._on_build_options_changed)
        self.your_code = YourCode(self)  # File → Open, "use my exercise gates", the expression box
        self._build_view_menu()
        self.setStatusBar(QStatusBar())
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

    @property
    def gradcheck_running(self) -> bool:
        return self.gradcheck.running

    @property
    def gradcheck_worker(self):
        return self.gradcheck.worker

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

    # -- lessons --------------------------------------------------------------------
    def load_lessons(self, then=None):
        """List the lessons in the browser; the listing reads every lesson file, so it runs on a
        worker. Without ``then`` wait for it (event loop running) and return the lessons; with
        ``then``, return at once and call ``then()`` when the list is shown."""
        from gradgraph import lessons as lessons_module

        worker = GeneratorWorker(lessons_module.list_lessons, name="list-lessons")
        worker.returned.connect(self._on_lessons_listed)
        worker.errored.connect(lambda error: self.show_error("listing lessons", error))
        if then is not None:
            worker.finished.connect(then)
        worker.start()
        if then is None:
            self.wait_for(worker)
        return self.browser.lessons

    def _on_lessons_listed(self, lessons):
        self.browser.populate(lessons)
        if self.lesson is not None:
            self.browser.select_id(self.lesson.id)

    def open_lesson(self, key, wait: bool = True) -> bool:
        """Open a lesson by id/slug/Lesson, or any Python file defining ``build()`` by its path.

        The file is loaded and its graph built on a worker thread. ``wait``: run the event
        loop here until that is done and say whether it worked (scripts, tests,
        screenshots); the window's own controls pass False and return at once. Errors
        go to the error panel, the student's own frame first.
        """
        from gradgraph import lessons as lessons_module

        self.stop_play()
        try:
            lesson = lessons_module.find_lesson(key)
        except Exception as error:
            self.show_error("opening lesson", error)
            return False
        self._watch(lesson.path)
        self.lesson, self.expression = lesson, None
        self.browser.select_id(lesson.id)
        self.setWindowTitle(f"gradgraph — {lesson.id} {lesson.title}")
        if not self.screenshot_mode and lesson.number:  # a script of one's own is not a "last lesson"
            self.settings.setValue("last_lesson", lesson.id)
        ok = self._load_current(wait)
        self.lessonOpened.emit(lesson.id)
        return ok

    def reload_lesson(self, wait: bool = False):
        if self.lesson is None:
            return
        from gradgraph import lessons as lessons_module

        try:  # the title, summary or exercises may have changed
            self.lesson = lessons_module.find_lesson(str(self.lesson.path))
        except LookupError as error:  # renamed or removed meanwhile: keep showing the file we have
            self.statusBar().showMessage(f"reload: {error}", 5000)
        self._watch(self.lesson.path)
        self._load_current(wait)
        self.statusBar().showMessage(f"reloading {self.lesson.path.name}…", 3000)

    def _watch(self, path):
        """Reload when the open file changes on disk (an editor's save may replace the file:
        the watcher then forgets it, so it is added again on every load)."""
        watched = self.watcher.files()
        if self.lesson is not None and str(self.lesson.path) in watched and self.lesson.path != path:
            self.watcher.removePath(str(self.lesson.path))
        if path is not None and str(path) not in self.watcher.files():
            self.watcher.addPath(str(path))

    def _load_current(self, wait: bool = True) -> bool:
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
        self.build_options.set_build(None)  # the new file's switches come when it is loaded
        self.build_options_action.setVisible(False)
        return self._build_in_background(lesson, wait)

    # -- building graphs off the GUI thread ------------------------------------------------
    def _build_in_background(self, lesson, wait: bool, module=None) -> bool:
        """Load and build ``lesson`` on a worker (see sources.build_lesson; ``module``: already
        loaded, build it again with the chosen switches); a newer build makes an older one's
        result unwanted."""
        self._build_token += 1
        token = self._build_token
        if self.builder is not None:
            self.builder.quit()
        phase = ["loading"]
        worker = GeneratorWorker(build_lesson, lesson, self.mine, self.build_options.values(), module, name="build")

        def on_progress(text):
            phase[0] = text
            if token == self._build_token:
                self.statusBar().showMessage(text)

        worker.yielded.connect(on_progress)
        worker.returned.connect(lambda built: self._on_built(token, built))
        worker.errored.connect(lambda error: self._on_build_failed(token, lesson, phase[0], error))
        self.builder = worker
        self.build_ok = None
        worker.start()
        if wait:
            self.wait_for(worker)
            return bool(self.build_ok)
        return True

    def wait_for(self, worker) -> None:
        """Run the event loop until ``worker`` (if any) has finished (the window stays responsive)."""
        if worker is None or worker.is_finished:
            return
        loop = QEventLoop()
        worker.finished.connect(loop.quit)
        loop.exec()  # its finished signal can only arrive inside an event loop: no race

    def _on_built(self, token, built):
        if token != self._build_token:
            return  # another lesson was opened meanwhile
        self.builder = None
        self.module = module = built.module
        self.tabs.setTabEnabled(2, callable(getattr(module, "trainer", None)))
        self.tabs.setTabEnabled(3, callable(getattr(module, "figures", None)))
        if self.tabs.isTabEnabled(2):
            self._ensure_train_panel().set_lesson(self.lesson, module)
        if built.loaded:  # a freshly loaded file: offer its build() switches (a rebuild keeps them)
            build = getattr(module, "build", None)
            self.build_options.set_build(build if callable(build) else None, getattr(module, "BUILD_OPTIONS", None))
            self.build_options_action.setVisible(bool(self.build_options.boxes))
        self.build_ok = True
        self.statusBar().clearMessage()
        if built.session is None:
            self.ledger.show_step("this lesson has no build(): nothing to step through", [])
            return
        self.set_session(built.session)
        self.errors.clear()
        if built.report is not None:
            self.statusBar().showMessage("your exercise gates: " + str(built.report).replace("\n", "; "), 30000)

    def _on_build_failed(self, token, lesson, phase, error):
        if token != self._build_token:
            return
        self.builder = None
        self.build_ok = False
        what = "failed to load" if phase.startswith("loading") else "build() raised"
        where = f"lesson {lesson.id} ({lesson.path.name}) {what}" if lesson.number else f"{lesson.path.name}: {what}"
        self.show_error(where, error, student_first(error, *self.student_files()))

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
        on = bool(on)
        if self.your_code.mine_action.isChecked() != on:
            self.your_code.mine_action.setChecked(on)  # calls back here
            return
        if on == self.mine:
            return
        self.mine = on
        if self.lesson is not None:
            self._load_current(wait=False)
        elif self.expression is not None:
            self.open_expression(*self.expression)

    def open_expression(self, text: str, values: str) -> bool:
        """Build the graph of a typed expression (``(x + y) * z``, ``x=-2, y=5, z=-4``) and show it;
        a refused expression says why under the box. It is tiny: built right here."""
        from gradgraph.expr import ExpressionError, build

        box = self.your_code.expression
        box.set_text(text, values)
        try:
            if self.mine:  # the student's gates for x * y, max(x, y), sigmoid(x), ...
                from gradgraph import exercises

                with exercises.mine() as report:
                    output = build(text, values)
            else:
                output, report = build(text, values), None
            session = GraphSession(output, mine=report)
        except ExpressionError as error:
            box.show_result(str(error))
            self.statusBar().showMessage(f"expression: {error}", 10000)
            return False
        box.show_result("")
        self.expression = (text, values)
        self.stop_play()
        self._build_token += 1  # a lesson still building is no longer wanted
        self._watch(None)
        self.lesson, self.module = None, None
        self.browser.clearSelection()
        self.setWindowTitle(f"gradgraph — f = {text.strip()}")
        self.lesson_view.show_lesson(f"# f = {text.strip()}\n\nwith {values.strip()}", "", None)
        self._reset_figures()
        if self.train_panel is not None:
            self.train_panel.set_lesson(None, None)
        self.tabs.setTabEnabled(2, False)
        self.tabs.setTabEnabled(3, False)
        self.tabs.setCurrentWidget(self.graph_view)
        self.set_session(session)
        self.errors.clear()
        return True

    def _on_build_options_changed(self):
        if self.module is not None and callable(getattr(self.module, "build", None)):
            self.stop_play()
            self._build_in_background(self.lesson, wait=False, module=self.module)

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
        import html

        try:
            from gradgraph import exercises
        except Exception as error:
            self.show_error("exercises", error)
            return
        lines = []
        marks = {"passed": ("#15803d", "✓ passed"), "todo": ("#b45309", "○ to do"), "failed": ("#b91c1c", "✗ not yet")}
        for ex in self.lesson.exercises:
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
            title = _figure_title(fig) or f"Figure {k + 1}"
            tab = self.figures_holder.addTab(canvas_for(fig), (title[:32] + "…") if len(title) > 33 else title)
            self.figures_holder.setTabToolTip(tab, title)
        self.statusBar().clearMessage()

    def _ensure_train_panel(self):
        if self.train_panel is None:
            from .training_view import TrainPanel

            self.train_panel = TrainPanel(self)
            self.train_panel.errorRaised.connect(self.show_error)
            self.train_panel.statusMessage.connect(self.statusBar().showMessage)
            self.train_holder.layout().addWidget(self.train_panel)
        return self.train_panel

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
        self._build_token += 1  # a build or a check still running is no longer wanted
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
