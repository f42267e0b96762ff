"""Opening a lesson in the window: listing the lessons, loading and building one off the
GUI thread, and reloading it when its file changes on disk.

:class:`LessonLoader` runs :func:`~.sources.build_lesson` on a
:class:`~.worker.GeneratorWorker` and hands the result to the window. Every build
gets a token; a newer build (another lesson, a reload, a typed expression) makes an
older one's result unwanted.
"""
from __future__ import annotations

from PySide6.QtCore import QEventLoop, QFileSystemWatcher, QObject, QTimer

from .sources import build_lesson, student_first
from .worker import GeneratorWorker


def wait_for(worker) -> None:
    """Run the event loop until ``worker`` (if any) has finished (the window stays responsive)."""
    if worker is None or worker.is_finished:
        return
    loop = QEventLoop()
    worker.finished.connect(loop.quit)
    loop.exec()  # its finished signal can only arrive inside an event loop: no race


class LessonLoader(QObject):
    """Loads and builds the lessons of ``window`` (a MainWindow: it sets ``window.lesson``
    and ``window.module`` and shows what was built)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.builder = None           # the GeneratorWorker building the open lesson, if any
        self.build_ok = None
        self._token = 0
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._on_file_changed)
        self._reload_timer = QTimer(self, singleShot=True, interval=400)
        self._reload_timer.timeout.connect(self.reload)

    def cancel(self):
        """A build still running is no longer wanted."""
        self._token += 1

    def list_lessons(self, then=None):
        """List the lessons in the browser (on a worker: the listing reads every lesson file).
        Without ``then`` wait for it and return the lessons; with ``then``, return at once and
        call ``then()`` when the list is shown."""
        from gradgraph import lessons as lessons_module

        w = self.window
        worker = GeneratorWorker(lessons_module.list_lessons, name="list-lessons")
        worker.returned.connect(self._on_lessons_listed)
        worker.errored.connect(lambda error: w.show_error("listing lessons", error))
        if then is not None:
            worker.finished.connect(then)
        worker.start()
        if then is None:
            wait_for(worker)
        return w.browser.lessons

    def _on_lessons_listed(self, lessons):
        self.window.browser.populate(lessons)
        if self.window.lesson is not None:
            self.window.browser.select_id(self.window.lesson.id)

    def open(self, key, wait: bool = True) -> bool:
        """See :meth:`MainWindow.open_lesson`."""
        from gradgraph import lessons as lessons_module

        w = self.window
        w.stop_play()
        try:
            lesson = lessons_module.find_lesson(key)
        except Exception as error:
            w.show_error("opening lesson", error)
            return False
        self.watch(lesson.path)
        w.lesson, w.expression = lesson, None
        w.browser.select_id(lesson.id)
        w.setWindowTitle(f"gradgraph — {lesson.id} {lesson.title}")
        if not w.screenshot_mode and lesson.number:  # a script of one's own is not a "last lesson"
            w.settings.setValue("last_lesson", lesson.id)
        ok = self.load_current(wait)
        w.lessonOpened.emit(lesson.id)
        return ok

    def reload(self, wait: bool = False):
        w = self.window
        if w.lesson is None:
            return
        from gradgraph import lessons as lessons_module

        try:  # the title, summary or exercises may have changed
            w.lesson = lessons_module.find_lesson(str(w.lesson.path))
        except LookupError as error:  # renamed or removed meanwhile: keep showing the file we have
            w.statusBar().showMessage(f"reload: {error}", 5000)
        self.watch(w.lesson.path)
        self.load_current(wait)
        w.statusBar().showMessage(f"reloading {w.lesson.path.name}…", 3000)

    def watch(self, path):
        """Reload when the open file changes on disk (an editor's save may replace the file:
        the watcher then forgets it, so it is added again on every load)."""
        lesson = self.window.lesson
        if lesson is not None and str(lesson.path) in self.watcher.files() and lesson.path != path:
            self.watcher.removePath(str(lesson.path))
        if path is not None and str(path) not in self.watcher.files():
            self.watcher.addPath(str(path))

    def _on_file_changed(self, path):
        if self.window.lesson is not None and path == str(self.window.lesson.path):
            self._reload_timer.start()

    def load_current(self, wait: bool = True) -> bool:
        """Show the open lesson's text and code at once, then build its graph."""
        w = self.window
        lesson = w.lesson
        try:
            source = lesson.path.read_text(encoding="utf-8")
        except OSError as error:
            source = f"# cannot read {lesson.path}: {error}"
        w.lesson_view.show_lesson(lesson.text, source, lesson.path, lesson.exercises)
        w.set_session(None)
        w.module = None
        w.lesson_tabs.clear()
        w.build_options.set_build(None)  # the new file's switches come when it is loaded
        w.build_options_action.setVisible(False)
        return self.build(lesson, wait)

    def build(self, lesson, wait: bool, module=None) -> bool:
        """Load and build ``lesson`` on a worker (see sources.build_lesson; ``module``: already
        loaded, build it again with the chosen switches)."""
        w = self.window
        self._token += 1
        token = self._token
        if self.builder is not None:
            self.builder.quit()
        phase = ["loading"]
        worker = GeneratorWorker(build_lesson, lesson, w.mine, w.build_options.values(), module, name="build")

        def on_progress(text):
            phase[0] = text
            if token == self._token:
                w.statusBar().showMessage(text)

        worker.yielded.connect(on_progress)
        worker.returned.connect(lambda built: self._on_built(token, built))
        worker.errored.connect(lambda error: self._on_build_failed(token, lesson, phase[0], error))
        self.builder = worker
        self.build_ok = None
        worker.start()
        if wait:
            wait_for(worker)
            return bool(self.build_ok)
        return True

    def _on_built(self, token, built):
        if token != self._token:
            return  # another lesson was opened meanwhile
        w = self.window
        self.builder = None
        w.module = module = built.module
        w.lesson_tabs.show_module(w.lesson, module)
        if built.loaded:  # a freshly loaded file: offer its build() switches (a rebuild keeps them)
            build = getattr(module, "build", None)
            w.build_options.set_build(build if callable(build) else None, getattr(module, "BUILD_OPTIONS", None))
            w.build_options_action.setVisible(bool(w.build_options.boxes))
        self.build_ok = True
        w.statusBar().clearMessage()
        if built.session is None:
            w.ledger.show_step("this lesson has no build(): nothing to step through", [])
            return
        w.set_session(built.session)
        w.errors.clear()
        if built.report is not None:
            w.statusBar().showMessage("your exercise gates: " + str(built.report).replace("\n", "; "), 30000)

    def _on_build_failed(self, token, lesson, phase, error):
        if token != self._token:
            return
        self.builder = None
        self.build_ok = False
        what = "failed to load" if phase.startswith("loading") else "build() raised"
        where = f"lesson {lesson.id} ({lesson.path.name}) {what}" if lesson.number else f"{lesson.path.name}: {what}"
        self.window.show_error(where, error, student_first(error, *self.window.student_files()))
