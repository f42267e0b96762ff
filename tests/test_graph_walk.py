"""The terminal walkthrough: ``gradgraph walk`` and ``walkthrough(output)``."""
import io
import textwrap

import numpy as np

import gradgraph as gg
from gradgraph.cli import main
from gradgraph.graph.walk import walkthrough

from examples import lecture


def test_walkthrough_prints_values_and_ledger_and_sets_tensor_grads():
    out = io.StringIO()
    f = lecture()
    walkthrough(f, file=out)
    text = out.getvalue()
    for line in ("x = -2", "q = x + y = 3", "f = q * z = -12", "df/df = 1",
                 "df/dq = df/df · df/dq = 1 · -4 = -4", "df/dx = df/dq · dq/dx = -4 · 1 = -4"):
        assert line in text, line
    leaves = {t.name: t for t in gg.topological_order(f) if t.is_leaf}
    assert (float(leaves["x"].grad), float(leaves["z"].grad)) == (-4.0, 3.0)
    walkthrough(f, file=io.StringIO())                 # again: grads are not doubled
    assert float(leaves["x"].grad) == -4.0


def test_interactive_walkthrough_stops_on_q():
    out = io.StringIO()
    answers = iter(["", "", "q"])
    walkthrough(lecture(), file=out, interactive=True, input_fn=lambda prompt: next(answers))
    assert "q = x + y" not in out.getvalue() and "z = -4" in out.getvalue()


def test_walk_a_script_with_build(tmp_path, capsys):
    script = tmp_path / "mine.py"
    script.write_text(textwrap.dedent("""
        import gradgraph as gg

        def build():
            a = gg.Tensor(3.0, name="a")
            b = a * a
            b.name = "b"
            return b

        if __name__ == "__main__":
            raise SystemExit("must not run")
    """))
    assert main(["walk", str(script)]) == 0
    printed = capsys.readouterr().out
    assert "b = a * a = 9" in printed and "db/da = 3 + 3 = 6" in printed


def test_walk_a_script_without_build_uses_the_biggest_graph(tmp_path, capsys):
    script = tmp_path / "loose.py"
    script.write_text(textwrap.dedent("""
        import gradgraph as gg
        a = gg.Tensor(2.0, name="a")
        small = a * 2.0
        big = (a * 3.0 + 1.0).relu()
        big.name = "big"
    """))
    assert main(["walk", str(script)]) == 0
    assert "big = relu(" in capsys.readouterr().out


def test_walk_reports_a_wrong_target(tmp_path, capsys):
    assert main(["walk", str(tmp_path / "missing.py")]) == 2
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    assert main(["walk", str(empty)]) == 2
    assert "no build()" in capsys.readouterr().err


def test_walk_a_lesson(capsys):
    assert main(["walk", "1"]) == 0
    assert "f = q * z = -12" in capsys.readouterr().out


def test_walk_a_script_prints_every_entry_of_a_small_gradient_matrix(tmp_path, capsys):
    script = tmp_path / "matrices.py"
    script.write_text(textwrap.dedent("""
        import numpy as np
        import gradgraph as gg

        def build():
            x = gg.Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), name="X")
            w = gg.Tensor(np.array([[0.25, -1.5], [2.0, 0.125]]), name="W")
            y = x @ w
            y.name = "Y"
            return (y * y).sum()
    """))
    assert main(["walk", str(script)]) == 0
    printed = capsys.readouterr().out
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = np.array([[0.25, -1.5], [2.0, 0.125]])
    d_w = x.T @ (2 * (x @ w))
    final = printed[printed.index("Gradients of the inputs"):]
    for value in d_w.ravel():
        assert format(value, ".4g") in final, value
    assert "/dW = Xᵀ · d" in printed                  # the matmul step written as its formula
