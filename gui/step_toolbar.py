"""The window's Step toolbar: reset, back, step, play at a speed, jump to the backward pass,
fit, gradcheck, reload, the lesson's build switches and the "step n/m · phase" label.

:class:`StepToolbar` owns the stepping controls and the play timer; what a step
does is the session's business (the canvas, inspector and ledger follow it).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSlider, QStyle, QToolBar

from .build_options import BuildOptions
from .sources import student_first

ICONS = {"reset": QStyle.SP_MediaSkipBackward, "back": QStyle.SP_MediaSeekBackward,
         "step": QStyle.SP_MediaSeekForward, "play": QStyle.SP_MediaPlay,
         "backward": QStyle.SP_ArrowLeft, "reload": QStyle.SP_BrowserReload}


class StepToolbar(QObject):
    """The toolbar of ``window`` (a MainWindow): ``actions`` by key, the ``speed`` slider,
    the ``build_options`` switches and the ``step_label``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._on_play_tick)
        self.actions = {}
        self.toolbar = tb = QToolBar("Step")
        tb.setObjectName("steptoolbar")
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        window.addToolBar(tb)

        self._action("reset", "Reset", "Back to the start", ["Home"], lambda: self.do("reset"))
        self._action("back", "Back", "One step back", ["Left"], lambda: self.do("back"))
        self._action("step", "Step", "One step forward", ["Right", "Space"], lambda: self.do("step"))
        self._action("play", "Play", "Play / pause", ["P"], self.toggle_play, checkable=True)
        tb.addWidget(QLabel(" speed "))
        self.speed = QSlider(Qt.Horizontal)
        self.speed.setRange(1, 30)
        self.speed.setValue(4)
        self.speed.setFixedWidth(110)
        self.speed.setToolTip("steps per second")
        self.speed.valueChanged.connect(self._on_speed_changed)
        tb.addWidget(self.speed)
        self._action("backward", "To backward", "Jump to the start of the backward pass", ["B", "End"],
                     lambda: self.do("backward"))
        tb.addSeparator()
        self._action("fit", "Fit", "Fit the graph in the window", ["F"], window.graph_view.fit)
        window.gradcheck.action = self._action(
            "gradcheck", "Gradcheck", "Colour nodes by analytic vs numerical gradient: green matches "
            "(< 1e-7), yellow matches within the tolerance of its precision, red differs",
            ["G"], window.gradcheck.toggled, checkable=True)
        self._action("reload", "Reload", "Reload the lesson file", ["Ctrl+R"], window.reload_lesson)
        self.build_options = BuildOptions()
        self.build_options_action = tb.addWidget(self.build_options)  # shown for lessons with variants
        self.build_options_action.setVisible(False)
        self.step_label = QLabel("")
        self.step_label.setStyleSheet("padding-left: 12px; font-weight: bold")
        tb.addWidget(self.step_label)

    def _action(self, key, text, tip, shortcuts, slot, checkable=False):
        a = QAction(text, self.window)
        if key in ICONS:
            a.setIcon(self.window.style().standardIcon(ICONS[key]))
        a.setToolTip(f"{tip} ({', '.join(shortcuts)})" if shortcuts else tip)
        a.setShortcuts([QKeySequence(s) for s in shortcuts])
        a.setShortcutContext(Qt.WindowShortcut)
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.toolbar.addAction(a)
        self.actions[key] = a
        return a

    def do(self, what):
        """One of reset, back, step, backward on the open session; an error (the student's
        gate raising, say) stops playing and goes to the error panel."""
        w = self.window
        s = w.session
        if s is None:
            return
        try:
            {"step": s.step, "back": s.back, "reset": s.reset, "backward": s.to_backward}[what]()
        except Exception as error:
            self.stop_play()
            w.show_error(f"step ({what})", error, student_first(error, *w.student_files()))

    def update(self):
        """The toolbar's parts of a step: the step label, and the current box kept in view
        while playing (the canvas, the inspector and the ledger follow the session themselves)."""
        s = self.window.session
        if s is None:
            self.step_label.setText("")
            return
        self.step_label.setText(f"step {s.position}/{s.length} · {s.phase}")
        if self.play_timer.isActive() or self.window.screenshot_mode:
            self.window.graph_view.ensure_current_visible()

    def toggle_play(self, on=None):
        if on is None:
            on = not self.play_timer.isActive()
        was_playing = self.play_timer.isActive()
        status = self.window.statusBar()
        if on and self.window.session is not None:
            self.play_timer.start(int(1000 / self.speed.value()))
            status.showMessage("playing… (P or Space pauses)")
        else:
            self.play_timer.stop()
            if was_playing:
                status.showMessage("paused (P plays on)")
        a = self.actions["play"]
        a.blockSignals(True)
        a.setChecked(self.play_timer.isActive())
        a.blockSignals(False)

    def stop_play(self):
        self.toggle_play(False)

    def _on_play_tick(self):
        s = self.window.session
        if s is None or s.position >= s.length:
            self.stop_play()
            return
        self.do("step")

    def _on_speed_changed(self, value):
        if self.play_timer.isActive():
            self.play_timer.setInterval(int(1000 / value))
