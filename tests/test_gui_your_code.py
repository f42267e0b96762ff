"""The student's code in the app: expression box, "Use my exercise gates", any build() file
reloaded on save, and lessons built off the GUI thread."""
import os
import subprocess
import sys
import threading

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from gradgraph_gui.sources import student_first  # noqa: E402


@pytest.fixture
def app_window(window):
    window.load_lessons()
    return window


def names(session):
    return [session.name(i) for i in range(len(session.nodes))]


def grad_of(session, name):
    while session.position < session.length:
        session.step()
    return float(session.graph.grad(name))


# -- the expression box ------------------------------------------------------------------

def test_typing_an_expression_and_enter_builds_its_graph(app_window, qtbot):
    box = app_window.your_code.expression
    qtbot.keyClicks(box.expression, "(x + y) * z")
    qtbot.keyClicks(box.values, "x=-2, y=5, z=-4")
    qtbot.keyClick(box.values, Qt.Key_Return)
    s = app_window.session
    assert s is not None and {"x", "y", "z", "f"} <= set(names(s))
    assert grad_of(s, "x") == -4 and grad_of(s, "z") == 3
    assert box.message.text() == "" and "(x + y) * z" in app_window.windowTitle()
    assert app_window.tabs.currentWidget() is app_window.graph_view


def test_a_refused_expression_says_why_and_keeps_the_graph(app_window):
    assert app_window.open_lesson("1")
    before = app_window.session
    assert not app_window.open_expression("__import__('os').system('echo hi')", "")
    assert "attribute access" in app_window.your_code.expression.message.text()
    assert app_window.session is before and app_window.errors.count == 0
    assert not app_window.open_expression("x * y", "x=1")
    assert "no value for y" in app_window.your_code.expression.message.text()


def test_open_expression_fills_the_boxes(app_window):
    assert app_window.open_expression("sigmoid(w * x)", "w=2, x=0.5")
    box = app_window.your_code.expression
    assert (box.expression.text(), box.values.text()) == ("sigmoid(w * x)", "w=2, x=0.5")
    assert app_window.lesson is None and not app_window.tabs.isTabEnabled(2)


# -- use my exercise gates ---------------------------------------------------------------------

def test_the_toggle_rebuilds_with_the_students_gates_and_gradcheck_blames_them(app_window, qtbot,
                                                                                  lessons_copy):
    lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    assert app_window.open_lesson("1")
    assert grad_of(app_window.session, "x") == -4
    app_window.your_code.mine_action.trigger()  # view -> model
    assert app_window.mine
    app_window.wait_for(app_window.builder)
    s = app_window.session
    assert "your Multiply (exercise 1.1, FAILS its check)" in app_window.statusBar().currentMessage()
    assert grad_of(s, "x") == 3
    app_window.actions["gradcheck"].setChecked(True)
    app_window.wait_for(app_window.gradcheck_worker)
    errors, blamed, failed = s.gradcheck_result()
    assert [s.name(i) for i in blamed] == ["f"]
    assert "wrong backward in f" in app_window.statusBar().currentMessage()
    app_window.set_mine(False)  # model -> view
    assert not app_window.your_code.mine_action.isChecked()
    app_window.wait_for(app_window.builder)
    assert grad_of(app_window.session, "x") == -4


def test_the_students_gates_are_tagged_yours_on_the_boxes_and_in_the_inspector(app_window, lessons_copy):
    lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    assert app_window.open_lesson("1")
    s = app_window.session
    f = names(s).index("f")
    assert s.yours(f) == "" and not app_window.graph_view.node_items[f].yours  # built-in gates
    app_window.set_mine(True)  # model -> view
    app_window.wait_for(app_window.builder)
    s = app_window.session
    f, q = names(s).index("f"), names(s).index("q")
    assert s.yours(f) == "your Multiply (exercise 1.1, FAILS its check)"
    assert s.yours(q) == "" and s.yours(names(s).index("x")) == ""  # the built-in Add, a leaf
    boxes = app_window.graph_view.node_items
    assert boxes[f].yours and not boxes[q].yours and "your Multiply" in boxes[f].toolTip()
    app_window.graph_view.nodeClicked.emit(f)  # view -> model -> inspector
    assert "yours:" in app_window.inspector.gate.text() and "your Multiply" in app_window.inspector.gate.text()
    app_window.graph_view.nodeClicked.emit(q)
    assert "yours:" not in app_window.inspector.gate.text()
    assert app_window.open_expression("a * b + c", "a=1, b=2, c=3")  # the expression box too
    s = app_window.session
    tagged = [i for i in range(len(s)) if app_window.graph_view.node_items[i].yours]
    assert [s.gate_name(i) for i in tagged] == ["Multiply"]


def test_an_error_in_the_students_gate_shows_their_line_first(app_window, lessons_copy):
    lessons_copy("1.1", "return d_out * self.y, d_out * self.x / self.missing")
    app_window.set_mine(True)
    assert app_window.open_lesson("1")
    app_window.session.to_backward()
    while app_window.errors.count == 0 and app_window.session.position < app_window.session.length:
        app_window._do("step")
    lines = app_window.errors.text.toPlainText().splitlines()
    assert lines[0] == "In your file:" and lines[1].startswith("ex01_1_multiply.py, line ")
    assert lines[1].endswith(", in backward")
    assert lines[2] == "    return d_out * self.y, d_out * self.x / self.missing"
    assert "AttributeError" in app_window.errors.summary.text()


def test_an_unfinished_exercise_falls_back_and_says_so(app_window):
    app_window.set_mine(True)  # no lesson open yet: nothing to rebuild
    assert app_window.builder is None
    assert app_window.open_lesson("2")
    message = app_window.statusBar().currentMessage()
    assert "the built-in Maximum is used (1 gate(s)): exercise 2.1 is not done yet" in message


def test_lessons_are_listed_on_a_worker_and_then_opened(window, qtbot):
    opened = []
    lessons = window.load_lessons(then=lambda: opened.append(window.open_lesson("2", wait=False)))
    assert lessons == [] and window.browser.count() == 0  # returned at once
    qtbot.waitUntil(lambda: window.session is not None, timeout=10000)
    assert opened == [True] and window.browser.count() >= 13
    assert window.browser.currentRow() == 1


# -- any file defining build(), reloaded on save ------------------------------------------------

SCRIPT = '''"""# My graph"""
import threading
import gradgraph as gg

BUILT_ON = []


def build():
    BUILT_ON.append(threading.current_thread().name)
    a, b = gg.Tensor(2.0, name="a"), gg.Tensor(3.0, name="b")
    out = a * b + VALUE
    out.name = "out"
    return out


VALUE = 1.0
'''


def test_a_script_opens_off_the_gui_thread_and_reloads_when_saved(app_window, qtbot, tmp_path):
    path = tmp_path / "my_graph.py"
    path.write_text(SCRIPT)
    assert app_window.open_lesson(str(path))
    s = app_window.session
    assert "out" in names(s) and float(s.graph.value("out")) == 7
    assert app_window.module.BUILT_ON[0] != threading.current_thread().name
    assert str(path) in app_window.watcher.files()

    path.write_text(SCRIPT.replace("VALUE = 1.0", "VALUE = 10.0"))
    qtbot.waitUntil(lambda: app_window.session is not None and app_window.session is not s
                    and float(app_window.session.graph.value("out")) == 16, timeout=10000)

    path.write_text(SCRIPT.replace("out = a * b + VALUE", "out = a * b + MISSING"))
    qtbot.waitUntil(lambda: app_window.errors.count > 0, timeout=10000)
    text = app_window.errors.text.toPlainText()
    assert text.startswith("In your file:\nmy_graph.py, line")
    assert "NameError" in app_window.errors.summary.text()


def test_open_lesson_without_waiting_returns_before_the_build_and_the_window_stays_live(app_window, qtbot,
                                                                                       tmp_path):
    path = tmp_path / "slow.py"
    path.write_text("import time, gradgraph as gg\n\ndef build():\n    time.sleep(0.5)\n"
                    "    return gg.Tensor(1.0, name='a') * 2\n")
    assert app_window.open_lesson(str(path), wait=False)
    assert app_window.session is None and app_window.builder is not None
    ticks = []
    qtbot.waitUntil(lambda: ticks.append(1) or app_window.session is not None, timeout=10000)
    assert len(ticks) > 3, "the event loop ran while the lesson was building"


def test_student_first_puts_the_students_frame_on_top(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("def f():\n    return 1 / 0\n")
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    try:
        namespace["f"]()
    except ZeroDivisionError as error:
        text = student_first(error, path)
    assert text.splitlines()[:3] == ["In your file:", "mine.py, line 2, in f", "    return 1 / 0"]
    assert "The whole traceback:" in text


# -- the command line ------------------------------------------------------------------------------

def run_gui(*args, cwd):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "gradgraph", "gui", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_gui_expr_and_lesson_path_screenshots(tmp_path):
    shot = tmp_path / "expr.png"
    done = run_gui("--expr", "(x + y) * z", "--values", "x=-2, y=5, z=-4", "--steps", "7",
                   "--screenshot", str(shot), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert shot.stat().st_size > 10000
    refused = run_gui("--expr", "lambda: 0", "--screenshot", str(tmp_path / "bad.png"), cwd=tmp_path)
    assert refused.returncode == 2 and "lambda is not allowed" in refused.stderr
    script = tmp_path / "my_graph.py"
    script.write_text(SCRIPT)
    done = run_gui("--lesson", str(script), "--screenshot", str(tmp_path / "script.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "script.png").is_file()
    done = run_gui("--lesson", "2", "--mine", "--steps", "12", "--screenshot", str(tmp_path / "mine.png"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mine.png").is_file()


def test_the_code_is_scrolled_to_its_first_line_when_the_lesson_tab_is_shown(app_window, qtbot):
    from gradgraph_gui.code_view import _first_code_line

    assert app_window.open_lesson("12")
    code = app_window.lesson_view.code
    first = _first_code_line(code.toPlainText())
    assert first > 1 and code.verticalScrollBar().value() == 0  # hidden: not laid out yet
    app_window.tabs.setCurrentWidget(app_window.lesson_view)
    qtbot.waitUntil(lambda: code.verticalScrollBar().value() == first - 1, timeout=5000)


def test_an_expression_is_built_with_my_gates_when_the_toggle_is_on(app_window, lessons_copy):
    lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    app_window.set_mine(True)
    assert app_window.open_expression("x * y", "x=2, y=5")
    assert grad_of(app_window.session, "x") == 2  # the swapped backward: d_out * x instead of d_out * y
    app_window.your_code.mine_action.trigger()  # off: the expression is built again
    assert not app_window.mine and grad_of(app_window.session, "x") == 5


def test_a_typed_expressions_nodes_say_what_they_stand_for(app_window):
    assert app_window.open_expression("max(x * y, z) + sigmoid(x) - 2 * x", "x=1.5, y=-2, z=0.5")
    s = app_window.session
    at = {s.name(i): i for i in range(len(s))}
    assert s.subexpression(at["maximum_0"]) == "max(x * y, z)"
    assert s.subexpression(at["mul_1"]) == "2 * x"  # a constant is written as its number
    assert s.subexpression(at["f"]) == "(max(x * y, z) + σ(x)) - (2 * x)"
    assert s.subexpression(at["mul_0"]) == "" and s.subexpression(at["x"]) == ""  # nothing to add
    box = app_window.graph_view.node_items[at["maximum_0"]]
    assert "maximum_0 = max(x * y, z)" in box.toolTip()
    app_window.graph_view.nodeClicked.emit(at["maximum_0"])  # view -> inspector
    assert "that is <code>maximum_0 = max(x * y, z)</code>" in app_window.inspector.gate.text()
