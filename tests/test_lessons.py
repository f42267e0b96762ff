"""Lessons: discovery and loading, and every lesson's quick run, graph, figures and trainer."""
import ast
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import exercises, lessons

LESSONS = lessons.list_lessons()
IDS = [lesson.id for lesson in LESSONS]
REPO = Path(__file__).resolve().parents[1]


# -- discovery -------------------------------------------------------------------------

def test_lessons_found_in_order():
    assert len(LESSONS) >= 8
    numbers = [lesson.number for lesson in LESSONS]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert numbers[:8] == list(range(1, 9))
    first = LESSONS[0]
    assert (first.id, first.number, first.slug) == ("01", 1, "chain_rule")
    assert first.path.name == "01_chain_rule.py"
    assert first.title.startswith("1. The chain rule")
    assert first.exercises == ("1.1", "1.2")


@pytest.mark.parametrize("key", [1, "1", "01", "chain_rule", "01_chain_rule", "01_chain_rule.py"])
def test_find_lesson(key):
    assert lessons.find_lesson(key).slug == "chain_rule"


def test_find_lesson_unknown_lists_valid_ids():
    with pytest.raises(lessons.LessonNotFoundError) as info:
        lessons.find_lesson("nonsense")
    assert "chain_rule" in str(info.value) and "gradient_patterns" in str(info.value)
    with pytest.raises(lessons.LessonNotFoundError):
        lessons.find_lesson(99)


def test_load_gives_a_fresh_module_each_time(tmp_path, monkeypatch):
    monkeypatch.setenv(lessons.LESSONS_ENV, str(tmp_path))
    path = tmp_path / "01_demo.py"
    path.write_text('"""# 1. Demo\n\nText."""\nSUMMARY = "demo"\nVALUE = 1\n')
    (tmp_path / "notes.py").write_text("")  # not a lesson: no NN_ prefix
    assert [l.slug for l in lessons.list_lessons()] == ["demo"]
    first = lessons.load("demo")
    path.write_text('"""# 1. Demo\n\nText."""\nSUMMARY = "demo, edited"\nVALUE = 2\n')
    second = lessons.load(1)
    assert first is not second and first.__name__ != second.__name__
    assert (first.VALUE, second.VALUE) == (1, 2)
    assert lessons.find_lesson(1).summary == "demo, edited"


def test_a_broken_lesson_is_still_listed(tmp_path, monkeypatch):
    monkeypatch.setenv(lessons.LESSONS_ENV, str(tmp_path))
    (tmp_path / "02_broken.py").write_text('"""# 2. Broken"""\ndef run(:\n')
    (listed,) = lessons.list_lessons()
    assert listed.slug == "broken" and "syntax error" in listed.text


def test_cli_list_and_run(capsys):
    assert lessons.cli_list(Namespace()) == 0
    out = capsys.readouterr().out
    assert "chain_rule" in out
    assert lessons.cli_run(Namespace(id="1", quick=True)) == 0
    assert "-12" in capsys.readouterr().out
    assert lessons.cli_run(Namespace(id="nope", quick=True)) == 2
    assert "chain_rule" in capsys.readouterr().err


def test_lesson_files_follow_the_protocol():
    valid_exercises = {e.id for e in exercises.list_exercises()}
    for lesson in LESSONS:
        source = lesson.path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        doc = ast.get_docstring(tree)
        assert doc.startswith(f"# {lesson.number}. "), lesson.path
        assert lesson.summary, f"{lesson.path.name} has no SUMMARY"
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert {"build", "run"} <= functions, lesson.path
        assert 'if __name__ == "__main__":\n    gg.lessons.main(run)' in source, lesson.path
        assert "pyplot" not in source and "plt.show" not in source, lesson.path
        assert set(lesson.exercises) <= valid_exercises, lesson.path


# -- every lesson, quick ------------------------------------------------------------------

@pytest.fixture(scope="module")
def modules():
    return {}


def _module(modules, lesson):
    if lesson.id not in modules:
        modules[lesson.id] = lessons.load(lesson)
    return modules[lesson.id]


@pytest.mark.parametrize("lesson_id", IDS)
def test_run_quick(lesson_id, modules, capsys):
    lesson = lessons.find_lesson(lesson_id)
    module = _module(modules, lesson)
    results = module.run(quick=True)
    out = capsys.readouterr().out
    assert isinstance(results, dict) and results
    assert out.strip(), "run() should print its walkthrough"


@pytest.mark.parametrize("lesson_id", IDS)
def test_build_backpropagates(lesson_id, modules):
    module = _module(modules, lessons.find_lesson(lesson_id))
    out = module.build()
    assert isinstance(out, gg.Tensor)
    assert out.gate is not None, "build() should return the output of a graph, not a leaf"
    out.backward(None if out.size == 1 else np.ones(out.shape, dtype=out.dtype))
    leaves = [n for n in gg.topological_order(out) if n.is_leaf and n.requires_grad]
    assert leaves and all(n.grad is not None and np.all(np.isfinite(n.grad)) for n in leaves)


@pytest.mark.parametrize("lesson_id", [l.id for l in LESSONS if "def figures(" in l.path.read_text()])
def test_figures(lesson_id, modules):
    from matplotlib.figure import Figure

    module = _module(modules, lessons.find_lesson(lesson_id))
    figs = module.figures(quick=True)
    assert figs and all(isinstance(f, Figure) for f in figs)
    for fig in figs:
        fig.canvas.draw()  # renders with Agg: catches plotting errors


@pytest.mark.parametrize("lesson_id", [l.id for l in LESSONS if "def trainer(" in l.path.read_text()])
def test_trainer(lesson_id, modules):
    module = _module(modules, lessons.find_lesson(lesson_id))
    trainer = module.trainer(quick=True)
    assert isinstance(trainer, gg.train.Trainer)
    for record in trainer.records():
        if record.kind == "step":
            assert np.isfinite(record.loss)
            trainer.stop()
    assert record.kind in ("stopped", "done")


# -- as scripts -------------------------------------------------------------------------

def test_lesson_runs_as_a_script_from_anywhere(tmp_path):
    script = lessons.find_lesson(1).path
    for cwd in (REPO, tmp_path):
        done = subprocess.run([sys.executable, str(script), "--quick"], cwd=cwd, capture_output=True, text=True,
                              env={**os.environ, "MPLBACKEND": "Agg"})
        assert done.returncode == 0, done.stderr
        assert "df/dx = -4" in done.stdout


def test_gradgraph_run_command():
    done = subprocess.run([sys.executable, "-m", "gradgraph", "run", "chain_rule", "--quick"], capture_output=True,
                          text=True, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr
    assert "f = q z = 3 (-4) = -12" in done.stdout


def test_dreaming_holds_the_weights_fixed(modules):
    module = _module(modules, lessons.find_lesson("looking_inside"))
    model = gg.nn.LeNet5(rng=0)
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    image, scores = module.dream(model, 1, steps=3)
    assert image.shape == (28, 28) and scores[-1] > scores[0]
    for name, p in model.named_parameters():
        assert p.grad is None and p.requires_grad and np.array_equal(p.data, before[name])


def test_lesson_13_looks_inside_the_bundled_trained_network():
    module = lessons.load(lessons.find_lesson("looking_inside"))
    assert module.checkpoint_path() is not None, "assets/lesson13-lenet5.npz is missing"
    model = module.trained_model()
    x, y = module.load("test", 200)
    with gg.no_grad():
        accuracy = float(np.mean(model(x).data.argmax(axis=1) == y))
    assert accuracy > 0.7, "the graph of lesson 13 must come from a trained network"
    score = module.build()
    params = {id(p) for p in model.parameters()}
    assert params & {id(t) for t in gg.topological_order(score)}, "build() uses the trained model"
