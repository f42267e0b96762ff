"""The Gradcheck button: colour the graph's nodes by analytic vs numerical gradient.

The check replays the forward pass twice per checked element (about a second for
LeNet), so it runs on a :class:`~.worker.GeneratorWorker`; the colours appear when
it is done. A token makes a check of an older graph (or one switched off meanwhile)
unwanted when it ends. While it runs, the inspector refuses edits.
"""
from __future__ import annotations

from PySide6.QtCore import QObject

from .worker import GeneratorWorker


class GradcheckOverlay(QObject):
    """The gradient check of the window's open graph; ``action`` is the toolbar's
    checkable Gradcheck button (set by the toolbar when it is built)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.action = None
        self.running = False
        self.worker = None
        self._token = 0

    def toggled(self, on):
        if on:
            self.start()
            return
        self.forget()
        self.window.graph_view.set_overlay("none")
        status = self.window.statusBar()
        if status.currentMessage().startswith("checking gradients"):
            status.clearMessage()

    def wanted(self) -> bool:
        return self.action is not None and self.action.isChecked()

    def forget(self):
        """A check still running is ignored when it ends (another graph, switched off, closing)."""
        self._token += 1
        self._finished()

    def start(self):
        """Check the open graph on a worker thread, or show the stored result of this graph."""
        w = self.window
        s = w.session
        if s is None:
            return
        w.graph_view.set_overlay("gradcheck")
        if s.gradcheck_result() is not None:
            self._report(s)
            return
        self._token += 1
        token = self._token
        self.running = True
        w.inspector.set_editable(False, "wait: the gradient check is running")
        w.statusBar().showMessage("checking gradients… (the overlay appears when it is done)")

        self.worker = worker = GeneratorWorker(s.compute_gradcheck, name="gradcheck")
        worker.returned.connect(lambda result: self._on_done(token, s, *result, None))
        worker.errored.connect(lambda error: self._on_done(token, s, None, None, error))
        worker.start()

    def _finished(self):
        self.running = False
        self.window.inspector.set_editable(True)

    def _on_done(self, token, s, version, pair, error):
        w = self.window
        if token != self._token or s is not w.session:
            return  # switched off, or another lesson since
        self._finished()
        if error is not None:
            self._set_checked(False)
            w.graph_view.set_overlay("none")
            w.show_error("gradcheck", error)
            return
        if not s.store_gradcheck(version, pair):
            self.start()  # the values changed meanwhile: check again
            return
        w.graph_view.refresh()
        self._report(s)

    def _report(self, s):
        errors, blamed, failed = s.gradcheck_result()
        bad = sorted(failed) if failed is not None else [i for i, e in errors.items() if e != e or e > 1e-2]
        rough = s.low_precision()
        if not bad:
            text = f"gradcheck: all {len(errors)} nodes agree with the numerical gradient"
            if rough:
                text += " (float32: yellow means within float32's tolerance)"
        else:
            names = ", ".join(s.name(i) for i in bad[:4]) + ("…" if len(bad) > 4 else "")
            text = f"gradcheck: {len(bad)} of {len(errors)} nodes differ ({names})"
            if blamed:
                text += (" · suspect: " if rough else " · wrong backward in ") + \
                    ", ".join(s.name(i) for i in sorted(blamed))
            if rough:
                text += (" · float32 graph: a nudge of 1e-3 can cross a ReLU or max-pool kink, "
                         "so this may be a kink rather than a bug (lesson 4)")
        self.window.statusBar().showMessage(text, 20000)

    def _set_checked(self, on):
        self.action.blockSignals(True)
        self.action.setChecked(on)
        self.action.blockSignals(False)
