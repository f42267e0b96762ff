"""The desktop app, driven with pytest-qt: model -> view and view -> model."""
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GRADGRAPH_SETTINGS_DIR", tempfile.mkdtemp(prefix="gradgraph-settings-"))

import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
import pytest  # noqa: E402


import gradgraph as gg  # noqa: E402
from gradgraph import lessons as lessons_module  # noqa: E402
from gradgraph_gui.main_window import MainWindow  # noqa: E402
from gradgraph_gui.models import GraphSession  # noqa: E402

from examples import lecture  # noqa: E402

pytestmark = pytest.mark.gui

TINY_TRAINER_LESSON = '''
"""# 90. A tiny trainer

A two-layer network on XOR, for the tests.
"""
import numpy as np
import gradgraph as gg
from gradgraph import data, nn, optim
from gradgraph.train import Trainer

SUMMARY = "tiny network on xor"


def build():
    x = gg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), name="x")
    w = gg.Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), name="w")
    return (x @ w).tanh().sum()


def trainer(quick=False, dataset="xor", epochs=3, batch_size=8, lr=0.1, optimizer="sgd"):
    x, y = data.xor(400)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    return Trainer(model, optim.SGD(model.parameters(), lr=lr), (x, y), (x[:80], y[:80]),
                   epochs=epochs, batch_size=batch_size)
'''

RAISING_LESSON = '''
"""# 91. A lesson with a bug"""
SUMMARY = "build() raises"


def build():
    raise ZeroDivisionError("student bug in build")
'''


@pytest.fixture
def temp_lessons(tmp_path, monkeypatch):
    (tmp_path / "90_tiny_trainer.py").write_text(TINY_TRAINER_LESSON)
    (tmp_path / "91_broken.py").write_text(RAISING_LESSON)
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    return tmp_path


def chain_rule_session():
    return GraphSession(lecture())


def test_stepping_moves_the_highlight_and_reveals_values(window, qtbot):
    window.set_session(chain_rule_session())
    s, view = window.session, window.graph_view
    layouts = view.layout_count
    names = {s.name(i): i for i in range(len(s))}
    assert not any(item.state[2] for item in view.node_items.values())  # nothing current at the start
    assert view.node_items[names["q"]].state[0] is False                  # q not computed: "?"

    window.actions["step"].trigger()
    highlighted = [i for i, item in view.node_items.items() if item.state[2]]
    assert len(highlighted) == 1
    first = highlighted[0]
    window.actions["step"].trigger()
    second = [i for i, item in view.node_items.items() if item.state[2]]
    assert second and second != [first]
    while not s.value_known(names["q"]):
        window.actions["step"].trigger()
    assert s.current() == names["q"]
    assert view.node_items[names["q"]].state[2] is True
    assert view.node_items[names["q"]].state[0] is True and view.node_items[names["q"]].state[3] == ("3",)

    window.actions["backward"].trigger()
    window.actions["step"].trigger()
    assert window.ledger.text.toPlainText().strip(), "the ledger shows the step's chain-rule lines"
    window.actions["reset"].trigger()
    assert s.position == 0
    window.actions["back"].trigger()
    assert s.position == 0
    assert view.layout_count == layouts, "stepping must not lay the graph out again"


def test_keys_step(window, qtbot):
    from PySide6.QtCore import Qt

    window.set_session(chain_rule_session())
    window.activateWindow()
    window.graph_view.setFocus()
    qtbot.keyClick(window.graph_view, Qt.Key_Right)
    qtbot.keyClick(window.graph_view, Qt.Key_Space)
    assert window.session.position == 2
    qtbot.keyClick(window.graph_view, Qt.Key_Left)
    assert window.session.position == 1
    qtbot.keyClick(window.graph_view, Qt.Key_B)
    assert window.session.position == window.session.backward_start
    qtbot.keyClick(window.graph_view, Qt.Key_Home)
    assert window.session.position == 0


def test_editing_a_leaf_updates_values_and_gradients(window):
    window.set_session(chain_rule_session())
    s = window.session
    names = {s.name(i): i for i in range(len(s))}
    s.seek(s.length)
    position = s.position
    window.graph_view.nodeClicked.emit(names["x"])
    assert window.inspector.editor.isVisible()
    window.inspector.spin.setValue(1.0)  # x = 1 -> q = 6, f = -24, df/dz = q = 6
    assert s.position == position
    assert float(s.value(names["f"])) == pytest.approx(-24.0)
    assert float(s.grad(names["z"])) == pytest.approx(6.0)
    assert window.graph_view.node_items[names["f"]].state[3] == ("-24",)
    assert window.graph_view.node_items[names["z"]].state[4] == ("6",)


def test_gradcheck_overlay_colours_nodes(window, qtbot):
    window.set_session(chain_rule_session())
    window.session.seek(window.session.length)
    window.actions["gradcheck"].setChecked(True)
    qtbot.waitUntil(lambda: not window.gradcheck_running, timeout=20000)
    overlays = [item.state[5] for item in window.graph_view.node_items.values()]
    assert any(c is not None and c.name() == "#86efac" for c in overlays)  # green: correct backward
    window.actions["gradcheck"].setChecked(False)


def test_a_raising_lesson_shows_the_error_panel(window, temp_lessons):
    window.load_lessons()
    assert not window.open_lesson("91")
    assert window.errors.count == 1
    assert "ZeroDivisionError" in window.errors.summary.text()
    assert "student bug in build" in window.errors.text.toPlainText()
    assert window.session is None
    assert window.open_lesson("90"), "the app stays usable"
    assert window.session is not None


def test_training_emits_progress_and_can_be_stopped(window, temp_lessons, qtbot):
    window.load_lessons()
    assert window.open_lesson("90")
    assert window.tabs.isTabEnabled(2)
    panel = window.train_panel
    seen = []
    panel.progress.connect(lambda done, total: seen.append(done))
    with qtbot.waitSignal(panel.finished, timeout=20000) as blocker:
        assert panel.start(max_steps=30)
    assert blocker.args == ["stopped"]
    assert seen and max(seen) >= 30
    assert not panel.running
    panel.flush()
    assert panel.last_snapshot is not None and "boundary" in panel.last_snapshot

    # start again, then stop from the button
    with qtbot.waitSignal(panel.finished, timeout=20000) as blocker:
        panel.epochs.setValue(200)
        assert panel.start()
        qtbot.waitUntil(lambda: len(panel.history["step"]) > 3, timeout=10000)
        panel.stop_button.click()
    assert blocker.args == ["stopped"]


def test_every_lesson_opens(window):
    lessons = window.load_lessons()
    assert lessons, "no lessons found"
    for lesson in lessons:
        ok = window.open_lesson(lesson.id)
        assert ok, f"lesson {lesson.id}: {window.errors.summary.text()}\n{window.errors.text.toPlainText()}"
        if window.session is not None:
            window.session.seek(window.session.length)
            window.graph_view.refresh()


def test_settings_remember_the_last_lesson(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.load_lessons()
    w.open_lesson("1")
    w.close()
    assert str(w.settings.value("last_lesson")) == "01"
    assert str(os.environ["GRADGRAPH_SETTINGS_DIR"]) in w.settings.fileName()


def test_screenshot_cli_writes_a_png(tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-m", "gradgraph", "gui", "--lesson", "1", "--steps", "3",
                             "--screenshot", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_highlighter_and_lesson_text(window):
    window.load_lessons()
    window.open_lesson("1")
    assert "chain rule" in window.lesson_view.explanation.toPlainText().lower()
    assert "def build" in window.lesson_view.code.toPlainText()


def test_large_graph_steps_without_relayout(window):
    x = gg.Tensor(np.linspace(-1, 1, 8), name="x")
    h = x
    for k in range(250):
        h = (h * 1.01 + 0.1).tanh() if k % 2 else h * 0.99 + 0.01
    out = h.sum()
    window.set_session(GraphSession(out))
    count = window.graph_view.layout_count
    for _ in range(60):
        window.session.step()
    window.session.seek(window.session.backward_start + 5)
    assert window.graph_view.layout_count == count


def test_layer_groups_collapse_and_expand(window):
    window.load_lessons()
    assert window.open_lesson("12")
    view = window.graph_view
    assert view.group_items, "a LeNet graph opens with one box per layer"
    count = view.layout_count
    name = next(iter(view.group_items))
    members = view.group_items[name].members
    view.toggle_group(name)                       # double-click on the box
    assert name not in view.group_items
    assert all(m in view.node_items for m in members)
    view.toggle_group(name)                       # double-click on the frame's title
    assert name in view.group_items
    assert view.layout_count == count + 2
    window.session.seek(window.session.length)
    window.graph_view.refresh()
    assert window.graph_view.group_items[name].state[1] > 0   # gradients arrived


def test_figures_tab_shows_the_lessons_figures(window):
    window.load_lessons()
    with_figures = [l for l in window.browser.lessons if "def figures" in l.path.read_text()]
    assert with_figures
    assert window.open_lesson(with_figures[0].id)
    window.tabs.setCurrentWidget(window.figures_holder)
    assert window.figures_holder.count() >= 1
    assert not window.inspector_dock.isVisible()   # graph-only docks give the room back
    window.tabs.setCurrentWidget(window.graph_view)
    assert window.inspector_dock.isVisible()


def test_exercise_check_reports_in_the_lesson_view(window):
    window.load_lessons()
    assert window.open_lesson("1")
    window.check_exercises()
    text = window.lesson_view.exercise_result.text()
    assert "exercise 1.1" in text and ("passed" in text or "not yet" in text or "to do" in text)


def test_gradcheck_overlay_lights_up_a_wrong_backward(window, qtbot):
    class WrongSquare(gg.Gate):
        symbol, formula, local = "sq", "z = x^2", ("dz/dx = 2x",)

        def forward(self, x):
            self.x = x
            return x * x

        def backward(self, d_out):
            return (d_out * 3 * self.x,)  # a student's bug: 3x instead of 2x

    x = gg.Tensor(np.array([0.5, -1.5, 2.0]), name="x")
    y = WrongSquare()(x)
    y.name = "y"
    out = (y * 2.0).sum()
    window.set_session(GraphSession(out))
    s = window.session
    s.seek(s.length)
    window.actions["gradcheck"].setChecked(True)
    qtbot.waitUntil(lambda: not window.gradcheck_running, timeout=20000)
    items = window.graph_view.node_items
    names = {s.name(i): i for i in range(len(s))}
    assert items[names["x"]].state[5].name() == "#fca5a5"          # red: the gradient reaching x is wrong
    assert "wrong backward" in items[names["y"]].state[6]           # and the gate to blame is marked
    assert items[names["y"]].state[5].name() == "#86efac"           # y's own gradient is right
    window.actions["gradcheck"].setChecked(False)


# -- polish: wrapped layout, fitting, lesson list, gradcheck worker, optional options ---------

def test_wrapped_layout_keeps_every_box_within_the_width():
    from types import SimpleNamespace

    from gradgraph_gui.layout import best_wrap, wrap_rows

    names = [f"b{k}" for k in range(14)]
    boxes = {n: (k * 250.0, 0.0 if k % 3 else 10.0, 200.0, 92.0) for k, n in enumerate(names)}
    ends = list(zip(names, names[1:]))
    routes = [SimpleNamespace(index=k, points=[(boxes[s][0] + 200, 46.0), (boxes[t][0], 46.0)], bezier=None)
              for k, (s, t) in enumerate(ends)]
    wrap = wrap_rows(boxes, routes, ends, max_width=800.0)
    assert set(wrap.boxes) == set(boxes) and [len(b) for b in wrap.bands] == [3, 3, 3, 3, 2]
    assert all(x >= 0 and x + w <= 800.0 + 1e-6 for x, y, w, h in wrap.boxes.values())
    # reading order: along the chain the bands only go down, and left to right within a band
    band = {n: b for b, keys in enumerate(wrap.bands) for n in keys}
    assert [band[n] for n in names] == sorted(band[n] for n in names)
    for a, b in ends:
        if band[a] == band[b]:
            assert wrap.boxes[a][0] < wrap.boxes[b][0]
    # no two boxes overlap
    rects = list(wrap.boxes.values())
    for i, (x1, y1, w1, h1) in enumerate(rects):
        for x2, y2, w2, h2 in rects[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
    # an edge to the next band leaves its source on the right and enters its target on the left
    for route, (s, t) in zip(wrap.routes, ends):
        (sx, sy, sw, sh), (tx, ty, _, th) = wrap.boxes[s], wrap.boxes[t]
        assert route.wrapped == (band[s] != band[t])
        if route.wrapped:
            assert route.points[0] == (sx + sw, sy + sh / 2) and route.points[-1] == (tx, ty + th / 2)
            below = max(wrap.boxes[n][1] + wrap.boxes[n][3] for n in wrap.bands[band[s]])
            above = min(wrap.boxes[n][1] for n in wrap.bands[band[t]])
            assert any(below < y < above for _, y in route.points), "it runs through the gap between rows"
    # the whole chain in a 900 x 600 window: folded; three boxes: left alone
    plan = best_wrap(boxes, routes, ends, 900, 600, max_scale=1.6, min_scale=0.85)
    assert plan is not None and plan[1] >= 3
    small = {n: boxes[n] for n in names[:3]}
    assert best_wrap(small, routes[:2], ends[:2], 900, 600, max_scale=1.6) is None
    # a window too small for the whole chain at a readable zoom: the rows fit across it, so
    # the student scrolls down only (not sideways too)
    limit, bands = best_wrap(boxes, routes, ends, 760, 420, max_scale=1.6, margin=40, min_scale=0.85,
                             whole_from=0.78)
    assert (wrap_rows(boxes, routes, ends, limit, bands).width + 2 * 40) * 0.85 <= 760


def _visible_scene_rect(view):
    return view.mapToScene(view.viewport().rect()).boundingRect()


@pytest.mark.parametrize("lesson", ["12", "13", "8"])
def test_big_graphs_are_wholly_visible_when_opened(window, lesson):
    from gradgraph_gui.graph_view import MIN_FIT_SCALE

    window.load_lessons()
    assert window.open_lesson(lesson)
    view = window.graph_view
    visible = _visible_scene_rect(view).adjusted(-1, -1, 1, 1)
    items = list(view.node_items.values()) + list(view.group_items.values())
    assert len(items) >= 10
    assert all(visible.contains(item.sceneBoundingRect().adjusted(3, 3, -3, -3)) for item in items)
    assert view.transform().m11() >= MIN_FIT_SCALE - 1e-6


def test_small_graph_fills_the_window(window):
    from gradgraph_gui.graph_view import MAX_FIT_SCALE

    window.set_session(chain_rule_session())
    view = window.graph_view
    view.fit(readable=True)
    assert view.wrap is None, "a small graph keeps the lecture's single row"
    scale = view.transform().m11()
    assert 1.0 < scale <= MAX_FIT_SCALE + 1e-6
    bounds = view._scene.itemsBoundingRect()
    assert bounds.width() * scale > 0.6 * view.viewport().width() or \
        bounds.height() * scale > 0.6 * view.viewport().height()


def test_lesson_list_shows_title_summary_and_exercise_badge(window):
    from gradgraph_gui.main_window import (BADGE_ROLE, SUMMARY_ROLE, TITLE_ROLE, exercise_badge)

    assert exercise_badge(()) == ("", "")
    assert exercise_badge(("1.1", "1.2")) == ("2 exercises", "unknown")
    assert exercise_badge(("1.1", "1.2"), {"passed": 1, "failed": 0, "todo": 1}) == \
        ("2 exercises: 1 passed, 1 to do", "todo")
    assert exercise_badge(("1.1",), {"passed": 1, "failed": 0, "todo": 0}) == ("1 exercise: passed ✓", "passed")
    assert exercise_badge(("1.1", "1.2"), {"passed": 0, "failed": 1, "todo": 1})[1] == "failed"

    lessons = window.load_lessons()
    window.browser.update_status()
    first = window.browser.item(0)
    assert first.data(TITLE_ROLE).startswith("1. ") and "\n" not in first.data(TITLE_ROLE)
    assert first.data(SUMMARY_ROLE) == lessons[0].summary
    assert first.data(BADGE_ROLE)[0].startswith(f"{len(lessons[0].exercises)} exercise")
    delegate = window.browser.itemDelegate()
    from PySide6.QtWidgets import QStyleOptionViewItem

    option = QStyleOptionViewItem()
    option.font = window.browser.font()
    index = window.browser.model().index(0, 0)
    one_line = window.browser.fontMetrics().height()
    assert delegate.sizeHint(option, index).height() > 3 * one_line   # title, summary, badge, padding


def test_gradcheck_runs_in_a_worker_thread(window, qtbot):
    import threading

    window.set_session(chain_rule_session())
    s = window.session
    s.seek(s.length)
    release, seen = threading.Event(), []
    real = s.compute_gradcheck

    def slow():
        seen.append(threading.current_thread() is threading.main_thread())
        release.wait(10)
        return real()

    s.compute_gradcheck = slow
    window.actions["gradcheck"].setChecked(True)      # returns at once: the check runs elsewhere
    assert window.gradcheck_running
    assert window.statusBar().currentMessage().startswith("checking gradients")
    assert not window.inspector.editor.isEnabled()     # no edits while gates are being replayed
    assert all(item.state[5] is None for item in window.graph_view.node_items.values())
    window.actions["step"].trigger()                   # the window still answers
    release.set()
    qtbot.waitUntil(lambda: not window.gradcheck_running, timeout=20000)
    assert seen == [False]
    assert all(item.state[5] is not None for item in window.graph_view.node_items.values())
    assert window.inspector.editor.isEnabled()
    assert window.statusBar().currentMessage().startswith("gradcheck:")
    window.actions["gradcheck"].setChecked(False)
    assert all(item.state[5] is None for item in window.graph_view.node_items.values())


OPTIONS_LESSON = '''
"""# 92. Options"""
import numpy as np
from gradgraph import data, nn, optim
from gradgraph.train import Trainer

SUMMARY = "options whose default is None"
SEEN = {}


def trainer(quick=False, *, dataset="xor", epochs=None, batch_size=8, lr=0.1, optimizer="sgd",
            patience=None, limit=None, dropout=0.0, augment="none"):
    SEEN.update(patience=patience, limit=limit)
    x, y = data.xor(40)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    return Trainer(model, optim.SGD(model.parameters(), lr=lr), (x, y), epochs=1, batch_size=batch_size)
'''


def test_options_defaulting_to_none_get_an_off_spin_box(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QSpinBox

    (tmp_path / "92_options.py").write_text(OPTIONS_LESSON)
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    window.load_lessons()
    assert window.open_lesson("92")
    panel = window.train_panel
    assert {"patience", "limit", "dropout"} <= set(panel.extras)
    off = [w for w in panel.findChildren(QSpinBox) if w.specialValueText() == "off"]
    assert len(off) == 2, "an 'off' spin box for each None default"
    assert panel.options()["patience"] is None and panel.options()["limit"] is None
    off[0].setValue(3)
    chosen = panel.options()
    assert sorted((chosen["patience"] or 0, chosen["limit"] or 0)) == [0, 3]


def test_the_learning_rate_follows_the_optimizer_registry(window, tmp_path, monkeypatch):
    from gradgraph.optim import OPTIMIZERS, default_lr

    (tmp_path / "93_lr.py").write_text(OPTIONS_LESSON.replace("lr=0.1", "lr=None").replace("92", "93"))
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    window.load_lessons()
    assert window.open_lesson("93")
    panel = window.train_panel
    assert [panel.optimizer.itemText(i) for i in range(panel.optimizer.count())] == list(OPTIMIZERS)
    for name in ("sgd", "rmsprop", "adam"):
        panel.optimizer.setCurrentText(name)
        assert panel.lr.value() == pytest.approx(default_lr(name))
    assert panel.options()["lr"] == pytest.approx(default_lr("adam"))


def test_inspector_says_when_the_gradient_will_arrive(window):
    window.set_session(chain_rule_session())
    s = window.session
    s.seek(2)
    window.graph_view.nodeClicked.emit(s.current())
    assert "backward pass" in window.inspector.grad.text.text()
    assert "arrives in the backward pass" in window.inspector.lines.toPlainText()
    assert "no backward step" not in window.inspector.lines.toPlainText()


def test_gradcheck_colours_follow_the_engines_verdict():
    from gradgraph_gui.graph_view import error_colour

    green, yellow, red = "#86efac", "#fde047", "#fca5a5"
    assert error_colour(1e-9, True).name() == green
    assert error_colour(0.3, True).name() == yellow      # float32: within its tolerance, roughly
    assert error_colour(1e-4, False).name() == red       # fails the check
    assert error_colour(0.5).name() == red               # no verdict: relative error > 1e-2
    assert error_colour(1e-4).name() == yellow
    assert error_colour(float("nan"), True).name() == red


def test_no_screen_falls_back_to_the_terminal_lesson(monkeypatch, capsys):
    """`gradgraph` on a machine without a display explains itself and runs the lesson in the terminal."""
    from argparse import Namespace

    from gradgraph_gui import app as app_module

    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(app_module.sys, "platform", "linux")
    assert app_module.main(Namespace(lesson="1", screenshot=None, steps=0)) == 0
    out = capsys.readouterr()
    assert "no screen found" in out.err
    assert "f = q * z = -12" in out.out


# -- tensors you can check by hand, flags, laptop sizes (issue 12) ------------------------------

def _lesson5(window):
    window.load_lessons()
    assert window.open_lesson("5")
    s = window.session
    return s, {s.name(i): i for i in range(len(s))}


def test_boxes_show_every_entry_of_a_small_matrix(window):
    s, names = _lesson5(window)
    s.seek(s.length)                                   # model -> view
    state = window.graph_view.node_items[names["X"]].state
    assert state[3] == ("[1   2  -1]", "[0  -1   3]")   # value rows
    assert state[4] == ("[0.5  2  -1]", "[ -1  0   1]")  # gradient rows: dL/dX


def test_ledger_panel_follows_the_session_by_itself(window):
    s, names = _lesson5(window)
    s.seek(s.backward_start)
    while s.current() != names["XW"] or s.position <= s.backward_start:
        s.step()                                       # no MainWindow call: the panel subscribed
    text = window.ledger.text.toPlainText()
    assert "dL/dW = Xᵀ · dL/dXW" in text and "[ 2  -1]" in text
    assert "XW = X @ W" in window.ledger.header.text()


def test_inspector_shows_the_matrix_and_the_terms_of_a_clicked_entry(window, qtbot):
    from PySide6.QtCore import QPoint

    s, names = _lesson5(window)
    s.seek(s.length)
    window.graph_view.nodeClicked.emit(names["W"])     # view -> model -> view
    matrix = window.inspector.grad.matrix
    assert "[-1   3]" in matrix.text()
    fm = matrix.fontMetrics()
    row, char = 2, matrix.text().splitlines()[2].index("3")  # the 3 of dL/dW[2, 1]
    point = QPoint(matrix.contentsMargins().left() + int((char + 0.5) * fm.horizontalAdvance("0")),
                   matrix.contentsMargins().top() + int((row + 0.5) * fm.lineSpacing()))
    qtbot.mouseClick(matrix, Qt.LeftButton, pos=point)       # view -> model: click the entry
    terms = window.inspector.element.text()
    assert terms.startswith("dL/dW[2, 1] = 3") and "X[1,2]·dL/dXW[1,1]" in terms


def test_a_large_tensor_gets_a_slice_picker_a_colour_scale_and_hover_numbers(qtbot):
    from PySide6.QtCore import QPoint

    from gradgraph_gui.tensor_view import TensorView

    view = TensorView()
    qtbot.addWidget(view)
    a = np.zeros((2, 3, 10, 10))
    a[1, 2, 4, 5] = -2.0
    a[1, 2, 0, 0] = 0.5
    view.show_array(a)
    assert not view.picker.isHidden() and not view.scale.isHidden()
    view.sample.setValue(1)
    view.channel.setValue(2)
    assert view.scale.labels() == ("-2", "0", "2")     # zero-centred, labelled
    pm = view.heat.pixmap()
    cell = view.heat.cell_at(QPoint(int(5.5 * pm.width() / 10), int(4.5 * pm.height() / 10)))
    assert cell == (4, 5)
    view._on_hover(cell)
    assert view.hover.text() == "[1, 2, 4, 5] = -2"
    with qtbot.waitSignal(view.elementClicked) as clicked:
        view._on_cell_clicked(cell)
    assert clicked.args == [(1, 2, 4, 5)]
    view.show_array(np.ones((2, 2)))
    assert view.heat.isHidden() and "[1  1]" in view.matrix.text()


def test_flags_use_the_engine_notes_and_show_on_collapsed_boxes(window):
    window.load_lessons()
    assert window.open_lesson("2")
    s = window.session
    s.seek(s.length)
    names = {s.name(i): i for i in range(len(s))}
    assert window.graph_view.node_items[names["w"]].state[6] == "routed: lost the max"
    assert window.graph_view.node_items[names["x"]].state[6] == ""
    rng = np.random.default_rng(0)
    x = gg.Tensor(-np.abs(rng.normal(size=(16, 4))), name="x")
    with gg.scope("layer"):
        r = x.relu()
    window.set_session(GraphSession((r * 2.0).sum()))
    window.graph_view.expanded = set()
    window.graph_view.rebuild()
    window.session.seek(window.session.length)
    (group,) = window.graph_view.group_items.values()
    assert group.state[4].startswith("dead ReLU: 100% of units off for all 16 samples")


def test_size_renders_at_exactly_that_size_and_bad_sizes_get_one_line(tmp_path, capsys):
    from gradgraph_gui.app import parse_size

    assert parse_size("1280x800") == (1280, 800)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_size("big")
    with pytest.raises(ValueError, match="800..10000"):
        parse_size("300x200")
    shot = tmp_path / "l12.png"
    result = subprocess.run([sys.executable, "-m", "gradgraph", "gui", "--lesson", "12", "--size", "1280x800",
                             "--screenshot", str(shot)], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert result.returncode == 0, result.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 800)


def test_window_never_grows_past_the_screen_and_header_wraps(qtbot):
    w = MainWindow(screenshot_mode=False)
    qtbot.addWidget(w)
    w.show()
    free = w.screen().availableGeometry().size()
    assert w.maximumWidth() <= free.width() and w.maximumHeight() <= free.height()
    w.ledger.show_step("step 44/44 · backward · " + "a very long header " * 40, [])
    assert w.ledger.header.wordWrap() and w.ledger.minimumSizeHint().width() < 600


def test_status_bar_says_paused_and_view_menu_reopens_panels(window):
    window.load_lessons()
    assert window.open_lesson("1")
    window.toggle_play(True)
    window.toggle_play(False)
    assert window.statusBar().currentMessage().startswith("paused")
    window.inspector_dock.close()
    assert window.inspector_dock.isHidden()
    action = next(a for a in window.view_menu.actions() if a.text() == "Inspector")
    action.trigger()
    assert not window.inspector_dock.isHidden()


def test_error_panel_shows_the_students_frame_first(window, tmp_path):
    from gradgraph_gui.panels import student_first

    script = tmp_path / "mine.py"
    script.write_text("import gradgraph as gg\n\ndef build():\n    return gg.Tensor(1.0) / undefined_name\n")
    import runpy

    try:
        runpy.run_path(str(script))["build"]()
    except NameError as error:
        text = student_first(error)
    assert text.startswith(f"In your code: {script}, line 4, in build")
    assert "Full traceback:" in text


TINY_CNN_LESSON = '''
"""# 93. A tiny CNN"""
import numpy as np
from gradgraph import nn, optim
from gradgraph.train import Trainer

SUMMARY = "tiny cnn"


def trainer(quick=False, epochs=1, batch_size=8):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 1, 8, 8)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    nn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 2))
    return Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, y), (x[:16], y[:16]),
                   epochs=epochs, batch_size=batch_size)
'''


@pytest.fixture
def cnn_lesson(window, tmp_path, monkeypatch):
    """The Train panel of a lesson training a tiny CNN (not started)."""
    (tmp_path / "93_tiny_cnn.py").write_text(TINY_CNN_LESSON)
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    window.load_lessons()
    assert window.open_lesson("93")
    return window.train_panel


@pytest.fixture
def cnn_panel(cnn_lesson, qtbot):
    """The same, trained for one epoch."""
    panel = cnn_lesson
    with qtbot.waitSignal(panel.finished, timeout=30000):
        assert panel.start()
    panel.flush()
    return panel


def test_feature_maps_can_be_explored_after_training(cnn_panel):
    from gradgraph_gui.cnn_views import MIN_TILE

    panel = cnn_panel
    assert not panel.running and panel.maps.rows
    first = panel.maps.rows[1][1].copy()                 # the first layer's maps for image 0
    panel.image_index.setValue(5)                        # view -> model: a new image after training
    label, tiles, _ = panel.maps.rows[0]
    assert label.startswith("input #5")
    np.testing.assert_array_equal(tiles[0], panel.trainer.val_data[0][5, 0])
    assert not np.array_equal(panel.maps.rows[1][1], first)
    panel.layer.setCurrentText("1")                      # one layer only (the ReLU of nn.Sequential)
    assert [r[0].split()[0] for r in panel.maps.rows] == ["input", "1"]
    width, height = panel.filters.tile_size(panel.filters.rows[0][1])
    assert width >= MIN_TILE and height >= MIN_TILE      # a 3x3 filter is drawn large


def test_clicking_a_tile_enlarges_it_with_numbers(cnn_panel, qtbot):
    panel = cnn_panel
    panel.filters.resize(500, 400)
    rect, row, tile = panel.filters.tile_rects()[1]
    with qtbot.waitSignal(panel.filters.tileClicked) as clicked:
        qtbot.mouseClick(panel.filters, Qt.LeftButton, pos=rect.center().toPoint())
    assert clicked.args[1] == 1
    dialog = panel.tile_dialog
    assert dialog.isVisible() and not dialog.view.heat.isHidden()
    np.testing.assert_array_equal(dialog.view.array, panel.trainer.model[0].weight.data[1, 0])


def test_a_checkpoint_can_be_explored(cnn_panel, tmp_path):
    from gradgraph.checkpoint import save_checkpoint

    panel = cnn_panel
    weights = panel.trainer.model[0].weight.data * 0 + 0.25
    panel.trainer.model[0].weight.data[...] = weights
    path = save_checkpoint(tmp_path / "net.npz", panel.trainer.model)
    panel.trainer = None
    assert panel.explore_checkpoint(str(path))
    np.testing.assert_array_equal(panel.filters.rows[0][1][0], weights[0, 0])
    assert "looking inside" in panel.status.text()
    assert not panel.explore_checkpoint(str(tmp_path / "missing.npz"))


def test_lesson_3_one_gate_sigmoid_version_can_be_opened(window):
    window.load_lessons()
    assert window.open_lesson("3")
    gates = lambda: [window.session.gate_name(i) for i in range(len(window.session))  # noqa: E731
                     if window.session.gate(i) is not None]
    assert "Sigmoid" not in gates()
    box = window.build_options.boxes["fused"]
    assert box.text() == "one sigmoid gate" and window.build_options_action.isVisible()
    box.setChecked(True)                                   # view -> model: build(fused=True)
    window.wait_for(window.builder)                        # rebuilt on a worker
    assert "Sigmoid" in gates() and len(gates()) < 8
    assert window.open_lesson("1") and not window.build_options_action.isVisible()


def test_dataset_box_shows_the_chosen_dataset(window, tmp_path, monkeypatch, qtbot):
    (tmp_path / "94_moons.py").write_text(TINY_TRAINER_LESSON.replace('dataset="xor"', 'dataset="moons"'))
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    window.load_lessons()
    assert window.open_lesson("94")
    panel = window.train_panel
    assert panel.dataset.currentText() == "moons"          # the lesson's own choice, not the first item
    panel.dataset.setCurrentText("mnist")
    assert panel.options()["dataset"] == "mnist"
    panel.dataset.setCurrentText("moons")
    with qtbot.waitSignal(panel.finished, timeout=20000):
        assert panel.start(max_steps=3)
        assert "on moons" in panel.status.text()          # what it trains on, said while training


def test_a_step_redraws_only_the_boxes_it_touches_and_matches_a_full_refresh(window):
    s, names = _lesson5(window)
    view = window.graph_view
    states = []
    while s.position < s.length - 1:
        window.actions["step"].trigger()                 # partial refreshes
        partial = {i: item.state for i, item in view.node_items.items()}
        partial_edges = [e.state for e in view.edge_items]
        view.refresh()                                   # everything from scratch
        assert partial == {i: item.state for i, item in view.node_items.items()}, s.position
        assert partial_edges == [e.state for e in view.edge_items], s.position
        states.append(partial)
    window.actions["back"].trigger()
    partial = {i: item.state for i, item in view.node_items.items()}
    view.refresh()
    assert partial == {i: item.state for i, item in view.node_items.items()}
    event = type("E", (), {"kind": "position", "position": 9, "previous": 8})()
    assert s.step_touches(event) is not None and len(s.step_touches(event)) < len(s)


def test_training_snapshot_of_an_image_model_reads_gradgraph_inspect():
    from gradgraph_gui.training_view import TrainingStream

    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 1, 8, 8)).astype(np.float32)
    y = np.arange(6) % 3
    model = gg.nn.Sequential(gg.nn.Conv2d(1, 2, 3, rng=0), gg.nn.ReLU(), gg.nn.Flatten(), gg.nn.Linear(72, 3, rng=0))
    trainer = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.1), (x, y))
    snap = TrainingStream(trainer).snapshot(heavy=True)
    assert "error" not in snap, snap.get("error")
    assert snap["filters"]["0"].shape == (2, 1, 3, 3)
    assert list(snap["feature_maps"]) == ["0", "1", "2", "3"] and snap["feature_maps"]["0"].shape == (2, 6, 6)
    assert snap["confusion"].sum() == 6 and snap["confusion"].shape == (3, 3)


def test_the_first_nan_is_marked_apart_from_the_nodes_that_inherit_it(window):
    from gradgraph_gui.graph_view import flag_colours

    x = gg.Tensor(np.array([1.0, -1.0]), name="x")
    with np.errstate(all="ignore"):
        lg = x.log()
        lg.name = "lg"
        out = (lg * 2.0).sum()
        out.name = "L"
        window.set_session(GraphSession(out))
        s = window.session
        s.seek(s.length)
    names = {s.name(i): i for i in range(len(s))}
    first = window.graph_view.node_items[names["lg"]].state[6]
    inherited = window.graph_view.node_items[names["L"]].state[6]
    assert first.startswith("NaN/Inf starts here") and inherited == "NaN/Inf inherited from lg"
    assert flag_colours(first) != flag_colours(inherited)


def test_feature_maps_can_be_explored_while_paused(cnn_lesson, qtbot):
    panel = cnn_lesson
    panel.epochs.setValue(500)
    assert panel.start()
    qtbot.waitUntil(lambda: len(panel.history["step"]) > 2, timeout=20000)
    panel.pause_button.setChecked(True)
    assert panel.can_explore_now()
    panel.image_index.setValue(7)                        # no worker round trip: shown at once
    assert panel.maps.rows[0][0].startswith("input #7")
    np.testing.assert_array_equal(panel.maps.rows[0][1][0], panel.trainer.val_data[0][7, 0])
    with qtbot.waitSignal(panel.finished, timeout=20000):
        panel.stop()
        panel.pause_button.setChecked(False)


def test_augment_option_offers_the_named_augmentations(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QComboBox

    from gradgraph.data import AUGMENTS

    (tmp_path / "92_options.py").write_text(OPTIONS_LESSON)
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    window.load_lessons()
    assert window.open_lesson("92")
    panel = window.train_panel
    assert "augment" in panel.extras and panel.options()["augment"] == "none"
    combos = [w for w in panel.findChildren(QComboBox) if w.findText("shift") >= 0]
    assert len(combos) == 1 and [combos[0].itemText(i) for i in range(combos[0].count())] == list(AUGMENTS)
    combos[0].setCurrentText("standard")
    assert panel.options()["augment"] == "standard"


def test_build_switches_are_the_boolean_keywords_except_the_apps_own():
    from gradgraph_gui.build_options import switches

    def build(fused=False, mine=False, scale=2.0, *, wide=True):
        return None

    assert switches(build, {"fused": "one gate"}) == {"fused": ("one gate", False), "wide": ("wide", True)}
    assert switches(None) == {}


def test_filters_are_drawn_around_zero_and_maps_in_greys(qtbot):
    from gradgraph_gui.cnn_views import TileGrid

    grid = TileGrid()
    qtbot.addWidget(grid)
    w = np.zeros((1, 1, 3, 3))
    w[0, 0, 0, 0], w[0, 0, 2, 2] = -1.0, 1.0
    grid.set_rows([("filters", w, True), ("maps", np.abs(w[0]))])
    signed, grey = grid.rows[0][2][0], grid.rows[1][2][0]
    assert signed.pixelColor(1, 1).name() == "#ffffff"          # 0 is white
    assert signed.pixelColor(0, 0).blue() > signed.pixelColor(0, 0).red()   # negative is blue
    assert grey.pixelColor(1, 1).name() == "#000000"            # the smallest activation is black


def test_a_small_tensor_step_is_written_out_in_the_ledger_not_as_statistics(window):
    """Lesson 5: the header names the matrix shown below it; a forward step writes the operands."""
    assert window.open_lesson("5")
    s = window.session
    while s.current() is None or s.name(s.current()) != "XW":
        s.step()
    header = window.ledger.header.text()
    assert header.endswith("XW = X @ W = the 2×2 matrix below") and "mean" not in header
    text = window.ledger.text.toPlainText()
    assert "[1   2  -1] @ [  2   0] = [5.5  -2]" in text  # X @ W = XW, entry by entry
    s.to_backward()
    while s.current() is None or s.name(s.current()) != "XW" or s.position <= s.backward_start:
        s.step()
    header = window.ledger.header.text()
    assert "upstream dL/dXW = the 2×2 matrix below" in header and "mean" not in header
    assert "dL/dX = dL/dXW · Wᵀ" in window.ledger.text.toPlainText()


@pytest.mark.parametrize("size", [(1280, 800), (1366, 768)])
def test_every_train_tab_label_is_readable_on_a_laptop(qtbot, size):
    """Lesson 12 has eight trainer() options: they wrap into rows instead of cutting labels."""
    from PySide6.QtWidgets import QLabel

    from gradgraph_gui.main_window import MainWindow

    w = MainWindow(screenshot_mode=True)
    qtbot.addWidget(w)
    w.show_at_size(*size)
    w.load_lessons()
    assert w.open_lesson("12")
    w.tabs.setCurrentIndex(2)
    qtbot.wait(50)
    labels = [lab for lab in w.train_panel.findChildren(QLabel) if lab.isVisible() and lab.text()]
    assert "val fraction" in [lab.text() for lab in labels]
    cut = [lab.text() for lab in labels if len(lab.text()) < 40 and lab.width() < lab.sizeHint().width()]
    assert cut == []


def test_the_ledger_puts_tall_blocks_side_by_side_and_the_inspector_wraps(window):
    from gradgraph_gui.panels import narrow_lines, side_by_side_blocks

    lines = ["a = 1", "  x", "  y", "b = 22", "  zz"]
    assert side_by_side_blocks(lines, 10, 80) == lines  # fits: unchanged
    assert side_by_side_blocks(lines, 3, 80) == ["a = 1    b = 22", "  x        zz", "  y"]
    assert side_by_side_blocks(lines, 3, 12) == lines  # too narrow to go side by side
    assert narrow_lines(["dL/dX = dL/dXW · Wᵀ   [dZ/dX: d_out @ W^T]", "  [1  0]"]) == \
        ["dL/dX = dL/dXW · Wᵀ", "    [dZ/dX: d_out @ W^T]", "  [1  0]"]
    window.show_at_size(1280, 800)
    assert window.open_lesson("5")
    s = window.session
    while s.position < s.length:
        s.step()
    text = window.ledger.text.toPlainText().splitlines()
    assert any("dL/dX = dL/dXW · Wᵀ" in line and "dL/dW = Xᵀ · dL/dXW" in line for line in text)
    window.graph_view.nodeClicked.emit(s.current())
    from PySide6.QtWidgets import QPlainTextEdit
    assert window.inspector.lines.lineWrapMode() == QPlainTextEdit.WidgetWidth
    shown = window.inspector.lines.toPlainText().splitlines()
    assert "    [dZ/dX: d_out @ W^T]" in shown
    k = shown.index("dL/dX = dL/dXW · Wᵀ")  # its matrices stacked: dL/dXW, ·, Wᵀ, =, dL/dX
    assert [row.strip() for row in shown[k + 2:k + 9]] == \
        ["dL/dXW", "[1  0]", "[0  1]", "·", "Wᵀ", "[0.5  2  -1]", "[ -1  0   1]"]


def test_a_partial_gradient_in_a_box_is_marked_so_far_and_fits_the_box(window):
    """x in max(x * y, z) + sigmoid(x): after sigmoid's step only one of its two paths has sent."""
    from PySide6.QtGui import QFontMetricsF

    assert window.open_expression("max(x * y, z) + sigmoid(x)", "x=1.5, y=-2, z=0.5")
    s, view = window.session, window.graph_view
    x = [i for i in range(len(s)) if s.name(i) == "x"][0]
    while s.grad_state(x) != "partial":
        s.step()
    box = view.node_items[x]
    grad_line = box.state[4][-1]
    assert grad_line == "0.1491 so far"
    width = QFontMetricsF(view.fonts.body).horizontalAdvance("grad " + grad_line)
    assert width <= box.rect.width() - 12  # not elided
