"""The student's exercise gates in the lessons: gg.lessons.build(ID, mine=True), walk --mine."""
import warnings

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import exercises
from gradgraph.cli import main
from gradgraph.gate import substitute_gates
from gradgraph.graph import gradcheck


def gates(out):
    return [n.gate for n in gg.topological_order(out) if n.gate is not None]


def grads(out):
    out.backward()
    return {n.name: np.array(n.grad) for n in gg.topological_order(out) if n.is_leaf and n.requires_grad}


def test_substitute_gates_redirects_construction_inside_the_block_only():
    class Mine(gg.ops.Multiply):
        pass

    with substitute_gates({gg.ops.Multiply: lambda: Mine()}):
        inside = gg.Tensor(2.0) * gg.Tensor(3.0)
        kept = gg.Tensor(2.0) + gg.Tensor(3.0)
        declined = None
        with substitute_gates({gg.ops.Multiply: lambda: declined}):
            builtin = gg.Tensor(2.0) * gg.Tensor(3.0)
    after = gg.Tensor(2.0) * gg.Tensor(3.0)
    assert type(inside.gate) is Mine and type(kept.gate) is gg.ops.Add
    assert type(builtin.gate) is gg.ops.Multiply and type(after.gate) is gg.ops.Multiply


def test_a_gate_called_twice_inside_the_block_is_copied_not_substituted():
    gate = gg.ops.Multiply()
    first = gate(gg.Tensor(2.0), gg.Tensor(3.0))
    with substitute_gates({gg.ops.Multiply: lambda: pytest.fail("a copy must not build a new gate")}):
        second = gate(gg.Tensor(4.0), gg.Tensor(5.0))  # the engine records a copy of the gate
    assert type(second.gate) is gg.ops.Multiply and second.gate is not first.gate
    assert float(second.data) == 20


@pytest.mark.parametrize("lesson", [1, 2, 3, 5, 8, 9, 10, 11])
def test_the_reference_solutions_give_every_lesson_the_same_numbers(lesson):
    """mine() with the solutions swaps every exercise gate the lesson uses, and nothing changes."""
    module = gg.lessons.load(lesson)
    expected = grads(module.build())
    with exercises.mine(solutions=True) as report:
        out = module.build()
    got = grads(out)
    assert report.built, "the lesson builds no gate that has an exercise"
    assert not report.fallbacks, report.lines()
    assert any("gradgraph_exercise_" in type(g).__module__ for g in gates(out))
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6, atol=1e-9, err_msg=name)


def test_unfinished_exercises_keep_the_built_in_gates_and_say_so():
    with pytest.warns(UserWarning, match="built-in Multiply is used .*exercise 1.1 is not done yet"):
        f = gg.lessons.build(1, mine=True)
    assert {type(g).__module__ for g in gates(f)} == {"gradgraph.ops.elementwise"}
    assert float(f.data) == -12


def test_a_wrong_backward_shows_in_the_lessons_numbers_and_the_gradcheck(lessons_copy):
    assert lessons_copy("1.1", "return d_out * self.x, d_out * self.y").status == "failed"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1.1 is used; 1.2 (add) still falls back: a warning
        with pytest.raises(UserWarning, match="Add"):
            gg.lessons.build(1, mine=True)
    out, report = gg.lessons.build_with_report(1, mine=True)
    assert "your Multiply (exercise 1.1, FAILS its check) is used: 1 gate(s)" in report.lines()
    assert float(grads(out)["x"]) == 3  # the swapped multiply sends z's value back: 3, not -4
    check = gradcheck(gg.Graph(gg.lessons.build_with_report(1, mine=True)[0]))
    assert not check.ok and check.suspects == ["f"]
    builtin = gradcheck(gg.Graph(gg.lessons.build(1)))
    assert builtin.ok


def test_a_student_class_that_cannot_take_the_lessons_arguments_falls_back():
    with exercises.mine(solutions=True) as report:
        gg.max_pool2d(gg.Tensor(np.ones((1, 1, 4, 4))), 2, padding=1)
    assert report.fallbacks == {"10.1": 1}
    assert "takes no argument padding" in report.kept["10.1"]


def test_a_student_file_that_does_not_load_keeps_the_built_in(lessons_copy):
    stub = exercises.find_exercise("2.1").stub
    stub.write_text("import gradgraph as gg\nclass Maximum(gg.Gate):\n    def forward(self, x, y) return x\n")
    f, report = gg.lessons.build_with_report(2, mine=True)
    assert "ex02_1_max.py does not load (SyntaxError" in report.kept["2.1"]
    assert any(line.startswith("the built-in Maximum is used (1 gate(s))") for line in report.lines())


def test_walk_mine_prints_whose_gates_and_the_gradcheck(lessons_copy, capsys):
    lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    assert main(["walk", "1", "--mine"]) == 0
    out = capsys.readouterr().out
    assert "your Multiply (exercise 1.1, FAILS its check) is used" in out
    assert "the built-in Add is used (1 gate(s)): exercise 1.2 is not done yet" in out
    assert "df/dx = 3" in out
    assert "wrong backward in: f" in out


def test_walk_mine_with_everything_right_agrees(capsys):
    assert main(["walk", "1", "--mine"]) == 0
    assert "Gradient check: all 5 nodes agree" in capsys.readouterr().out


def test_any_python_file_is_a_lesson_by_its_path(tmp_path):
    path = tmp_path / "my_graph.py"
    path.write_text('"""# My graph"""\nimport gradgraph as gg\n\n\ndef build():\n'
                    '    return gg.Tensor(2.0, name="a") * gg.Tensor(3.0, name="b")\n')
    lesson = gg.lessons.find_lesson(str(path))
    assert (lesson.title, lesson.number, lesson.path) == ("My graph", 0, path.resolve())
    assert float(gg.lessons.build(str(path)).data) == 6
    with pytest.raises(gg.lessons.LessonNotFoundError):
        gg.lessons.find_lesson(str(tmp_path / "missing.py"))


def test_an_expression_walked_with_my_gates(lessons_copy, capsys):
    lessons_copy("1.1", "return d_out * self.x, d_out * self.y")
    assert main(["walk", "--expr", "x * y", "--values", "x=2, y=5", "--mine"]) == 0
    out = capsys.readouterr().out
    assert "your Multiply (exercise 1.1, FAILS its check) is used: 1 gate(s)" in out
    assert "df/dx = 2" in out and "wrong backward in: f" in out
