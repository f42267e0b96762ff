"""Entry point: ``gradgraph`` (no arguments) and ``gradgraph gui ...``.

    gradgraph gui --lesson 1 --steps 5 --screenshot shot.png   # render to PNG and exit
    gradgraph gui --lesson my_graph.py                         # any file defining build()
    gradgraph gui --expr "(x + y) * z" --values "x=-2, y=5, z=-4"
    gradgraph gui --lesson 2 --mine                            # with your exercise gates

Heavy imports (matplotlib, numba) are deferred: the window shows first, the
last lesson opens right after; Numba kernels a lesson needs compile in a child
process (numpy runs them meanwhile) with progress in the status bar.
"""
from __future__ import annotations

import os
import sys
import time

SCREENSHOT_SIZE = (1400, 900)
MIN_SIZE = (800, 500)  # below this the panels have no usable width
PROBE_ENV = "GRADGRAPH_STARTUP_PROBE"  # print the time of the first paint and quit (benchmarks)


def _app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("gradgraph")
        app.setOrganizationName("gradgraph")
    return app


def process_events(app, seconds: float = 0.0):
    end = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)


def take_steps(window, steps: int, backward: bool = False):
    s = window.session
    if s is None:
        return
    if backward:
        s.to_backward()
    for _ in range(max(0, int(steps))):
        if s.position >= s.length:
            break
        s.step()


def open_source(window, args, wait: bool = True) -> bool:
    """Open what the command line asked for: ``--expr``/``--values``, else ``--lesson`` (an id
    or a file), with ``--mine``; False (and the reason printed) when that failed."""
    if getattr(args, "mine", False):
        window.set_mine(True)
    expression = getattr(args, "expr", None)
    if expression is not None:
        ok = window.open_expression(expression, getattr(args, "values", "") or "")
        if not ok:
            print(f"gradgraph gui: {window.your_code.expression.message.text()}", file=sys.stderr)
        return ok
    lesson = getattr(args, "lesson", None) or window.settings.value("last_lesson") or None
    if lesson is None and window.browser.lessons:
        lesson = window.browser.lessons[0].id
    return lesson is not None and window.open_lesson(lesson, wait=wait)


def screenshot(args, app, window) -> int:
    if not getattr(args, "lesson", None):
        args.lesson = "1"
    ok = open_source(window, args)
    take_steps(window, getattr(args, "steps", 0) or 0, bool(getattr(args, "backward", False)))
    train_steps = int(getattr(args, "train_steps", 0) or 0)
    if train_steps and window.train_panel is not None and window.tabs.isTabEnabled(2):
        window.tabs.setCurrentIndex(2)
        panel = window.train_panel
        panel.start(max_steps=train_steps)
        deadline = time.perf_counter() + 600
        while panel.running and time.perf_counter() < deadline:
            process_events(app, 0.05)
        panel.flush()
    elif window.session is None and ok:
        window.tabs.setCurrentIndex(1)
    else:
        window.tabs.setCurrentIndex(0)
    if window.session is not None and window.session.current() is not None:
        cur = window.session.current()
        window.inspector.show_node(cur)
    process_events(app, 0.2)
    if window.session is not None:
        window.graph_view.fit(readable=True)
        window.graph_view.ensure_current_visible()
    process_events(app, 0.1)
    path = os.path.abspath(args.screenshot)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    pixmap = window.grab()
    if pixmap.isNull() or not pixmap.save(path, "PNG"):
        print(f"gradgraph gui: could not write {path}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({pixmap.width()}x{pixmap.height()})")
    if not ok and getattr(args, "expr", None) is not None:
        return 2  # the reason was printed by open_source
    if window.errors.count:
        print(f"gradgraph gui: the lesson reported an error: {window.errors.summary.text()}", file=sys.stderr)
        return 2
    return 0


def parse_size(text):
    """``"1280x800"`` -> ``(1280, 800)``; ``None`` stays ``None``. A wrong size is a ValueError
    naming the valid form and range."""
    if text is None:
        return None
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"--size {text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1280x800") from None
    if width < MIN_SIZE[0] or height < MIN_SIZE[1] or width > 10000 or height > 10000:
        raise ValueError(f"--size {text!r}: width must be {MIN_SIZE[0]}..10000 and height "
                         f"{MIN_SIZE[1]}..10000 pixels")
    return width, height


def has_screen() -> bool:
    """Whether Qt can open a window here: a platform was chosen, a Wayland display is set, or
    the X display in DISPLAY accepts a connection (a DISPLAY that cannot be opened would make
    Qt abort the whole process)."""
    if os.environ.get("QT_QPA_PLATFORM") or not sys.platform.startswith("linux"):
        return True
    if os.environ.get("WAYLAND_DISPLAY"):
        return True
    display = os.environ.get("DISPLAY")
    if not display:
        return False
    import ctypes
    import ctypes.util

    try:
        xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")  # what Qt's xcb platform uses
    except OSError:
        return True  # cannot check: let Qt try
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)  # never NULL: an error connection instead
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def terminal_fallback(args) -> int:
    """No screen: say so, and show the lesson in the terminal instead of aborting in Qt."""
    lesson = getattr(args, "lesson", None) or "1"
    display = os.environ.get("DISPLAY")
    why = f"the display DISPLAY={display} cannot be opened" if display else "no screen found (DISPLAY is not set)"
    print(
        f"gradgraph: {why}, so the desktop app cannot open.\n"
        "  On a desktop, run `gradgraph` there; on a server try `xvfb-run -a gradgraph`,\n"
        "  or take a picture with `gradgraph gui --lesson 1 --steps 6 --screenshot out.png`.\n"
        f"Showing lesson {lesson} in the terminal instead (`gradgraph lessons` lists them all).\n",
        file=sys.stderr,
    )
    from argparse import Namespace

    from gradgraph.lessons import cli_run

    return cli_run(Namespace(id=str(lesson), quick=False))


def main(args=None) -> int:
    shot = getattr(args, "screenshot", None)
    try:
        size = parse_size(getattr(args, "size", None))
    except ValueError as error:
        print(f"gradgraph gui: {error}", file=sys.stderr)
        return 2
    if not has_screen():
        if not shot:
            return terminal_fallback(args)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen

    from PySide6.QtCore import QTimer

    from .main_window import MainWindow

    app = _app()
    window = MainWindow(screenshot_mode=bool(shot))
    window.start_warmup()  # compile progress in the status bar, from the lesson's first conv on
    if shot:
        window.show_at_size(*(size or SCREENSHOT_SIZE))
        window.load_lessons()
        window.browser.update_status()
        process_events(app, 0.05)
        try:
            return screenshot(args, app, window)
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()

    if os.environ.get(PROBE_ENV):
        def probe():
            print(f"first-paint {time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)
        window.first_paint_callbacks.append(probe)

    if size is not None:  # a starting size: the window stays resizable (and within the screen)
        window.resize(*size)
        window.share_room(*size)
    window.show()

    def after_listing():
        steps, backward = getattr(args, "steps", 0) or 0, bool(getattr(args, "backward", False))
        if open_source(window, args, wait=bool(steps or backward)):  # the build runs on a worker
            take_steps(window, steps, backward)
        QTimer.singleShot(300, window.browser.update_status)

    QTimer.singleShot(0, lambda: window.load_lessons(then=after_listing))
    return int(app.exec() or 0)
