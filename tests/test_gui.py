"""The desktop app, driven with pytest-qt: model -> view and view -> model."""
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("GRADGRAPH_SETTINGS_DIR", tempfile.mkdtemp(prefix="gradgraph-settings-"))

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

import gradgraph as gg  # noqa: E402
from gradgraph import lessons as lessons_module  # noqa: E402
from gradgraph_gui.main_window import MainWindow  # noqa: E402
from gradgraph_gui.models import GraphSession  # noqa: E402

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
def window(qtbot):
    w = MainWindow(screenshot_mode=True)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    yield w
    if w.train_panel is not None:
        w.train_panel.shutdown()


@pytest.fixture
def temp_lessons(tmp_path, monkeypatch):
    (tmp_path / "90_tiny_trainer.py").write_text(TINY_TRAINER_LESSON)
    (tmp_path / "91_broken.py").write_text(RAISING_LESSON)
    monkeypatch.setenv(lessons_module.LESSONS_ENV, str(tmp_path))
    return tmp_path


def chain_rule_session():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    q = x + y
    q.name = "q"
    f = q * z
    f.name = "f"
    return GraphSession(f)


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
    assert view.node_items[names["q"]].state[0] is True and view.node_items[names["q"]].state[3] == "3"

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
    assert window.graph_view.node_items[names["f"]].state[3] == "-24"
    assert window.graph_view.node_items[names["z"]].state[4] == "6"


def test_gradcheck_overlay_colours_nodes(window):
    window.set_session(chain_rule_session())
    window.session.seek(window.session.length)
    window.actions["gradcheck"].setChecked(True)
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
    assert "exercise 1.1" in text and ("passed" in text or "not yet" in text)


def test_gradcheck_overlay_lights_up_a_wrong_backward(window):
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
    items = window.graph_view.node_items
    names = {s.name(i): i for i in range(len(s))}
    assert items[names["x"]].state[5].name() == "#fca5a5"          # red: the gradient reaching x is wrong
    assert "wrong backward" in items[names["y"]].state[6]           # and the gate to blame is marked
    assert items[names["y"]].state[5].name() == "#86efac"           # y's own gradient is right
    window.actions["gradcheck"].setChecked(False)
