"""The window's central tabs: Graph, Lesson & code, Train and Figures.

:class:`LessonTabs` builds them and keeps the last two in step with the open lesson:
Train is enabled for a lesson with ``trainer()`` (its panel is made the first time),
Figures for one with ``figures()`` (drawn when the tab is first shown). On any tab
but Graph the inspector and ledger docks step aside to give it the room.
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from .code_view import LessonView
from .graph_view import GraphView

TRAIN, FIGURES = 2, 3  # tab indices


def figure_title(fig) -> str:
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


class LessonTabs(QObject):
    """The tabs of ``window`` (a MainWindow): ``tabs``, ``graph_view``, ``lesson_view``,
    ``train_holder`` (with ``train_panel`` once made) and ``figures_holder``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.tabs = QTabWidget()
        self.graph_view = GraphView()
        self.lesson_view = LessonView()
        self.train_holder = QWidget()
        QVBoxLayout(self.train_holder).setContentsMargins(0, 0, 0, 0)
        self.train_panel = None
        self.figures_holder = QTabWidget()
        self.tabs.addTab(self.graph_view, "Graph")
        self.tabs.addTab(self.lesson_view, "Lesson && code")
        self.tabs.addTab(self.train_holder, "Train")
        self.tabs.addTab(self.figures_holder, "Figures")
        self.tabs.currentChanged.connect(self._on_tab_changed)

    def clear(self):
        """Nothing to train or draw: a new file is loading, or a typed expression is shown."""
        self._reset_figures()
        if self.train_panel is not None:
            self.train_panel.set_lesson(None, None)
        self.tabs.setTabEnabled(TRAIN, False)
        self.tabs.setTabEnabled(FIGURES, False)

    def show_module(self, lesson, module):
        """Offer the Train and Figures tabs of a freshly built lesson ``module``."""
        self.tabs.setTabEnabled(TRAIN, callable(getattr(module, "trainer", None)))
        self.tabs.setTabEnabled(FIGURES, callable(getattr(module, "figures", None)))
        if self.tabs.isTabEnabled(TRAIN):
            self.ensure_train_panel().set_lesson(lesson, module)

    def ensure_train_panel(self):
        if self.train_panel is None:
            from .training_view import TrainPanel

            w = self.window
            self.train_panel = TrainPanel(w)
            self.train_panel.errorRaised.connect(w.show_error)
            self.train_panel.statusMessage.connect(w.statusBar().showMessage)
            self.train_holder.layout().addWidget(self.train_panel)
        return self.train_panel

    def _on_tab_changed(self, index):
        w = self.window
        widget = self.tabs.widget(index)
        if widget is self.figures_holder and self.figures_holder.count() == 0:
            self._load_figures()
        # the inspector and the ledger belong to the graph: give the other tabs the room
        on_graph = widget is self.graph_view
        for dock in (w.inspector_dock, w.ledger_dock):
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
        w = self.window
        figures = getattr(w.module, "figures", None)
        if not callable(figures):
            return
        w.statusBar().showMessage("drawing the lesson's figures…")
        try:
            try:
                figs = figures(quick=True)
            except TypeError:
                figs = figures()
        except Exception as error:
            w.show_error(f"lesson {w.lesson.id}: figures() raised", error)
            return
        from .plots import canvas_for

        for k, fig in enumerate(figs or []):
            title = figure_title(fig) or f"Figure {k + 1}"
            tab = self.figures_holder.addTab(canvas_for(fig), (title[:32] + "…") if len(title) > 33 else title)
            self.figures_holder.setTabToolTip(tab, title)
        w.statusBar().clearMessage()
