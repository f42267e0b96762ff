"""The chain-rule ledger on the lecture's examples: add distributes, max routes, mul switches."""
import numpy as np

import gradgraph as gg
from gradgraph.graph import Graph, LedgerLine, Stepper, gradcheck, step_ledger
from gradgraph.graph.ledger import ledger

from examples import lecture


def named(tensor, name):
    tensor.name = name
    return tensor


def edge_lines(graph):
    return [line for line in ledger(graph) if line.kind == "edge"]


def test_lecture_ledger_text():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = named(named(x + y, "q") * z, "f")
    text = ledger(Graph(f)).text
    assert text.splitlines() == [
        "df/df = 1",
        "df/dq = df/df · df/dq = 1 · -4 = -4",
        "df/dz = df/df · df/dz = 1 · 3 = 3",
        "df/dx = df/dq · dq/dx = -4 · 1 = -4",
        "df/dy = df/dq · dq/dy = -4 · 1 = -4",
    ]


def test_ledger_lines_are_structured():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = named(named(x + y, "q") * z, "f")
    line = next(l for l in ledger(Graph(f)) if l.target == "x")
    assert isinstance(line, LedgerLine)
    assert (line.kind, line.target, line.via, line.upstream, line.local, line.contribution) == \
        ("edge", "x", "q", -4.0, 1.0, -4.0)
    assert line.local_formula == "dz/dx = 1" and line.slot == 0
    assert str(line) == line.text


def test_add_distributes():
    a, b = gg.Tensor(1.0, name="a"), gg.Tensor(2.0, name="b")
    f = named(named(a + b, "s") * 3.0, "f")
    lines = {l.target: l for l in edge_lines(Graph(f))}
    assert lines["a"].contribution == lines["b"].contribution == lines["s"].contribution == 3.0
    assert lines["a"].local == lines["b"].local == 1.0


def test_max_routes():
    x, y = gg.Tensor(4.0, name="x"), gg.Tensor(-1.0, name="y")
    f = named(named(gg.maximum(x, y), "m") * 2.0, "f")
    lines = {l.target: l for l in edge_lines(Graph(f))}
    assert lines["x"].text == "df/dx = df/dm · dm/dx = 2 · 1 = 2"
    assert lines["y"].text == "df/dy = df/dm · dm/dy = 2 · 0 = 0"


def test_mul_switches():
    x, y = gg.Tensor(3.0, name="x"), gg.Tensor(-4.0, name="y")
    f = named(x * y, "f")
    lines = {l.target: l for l in edge_lines(Graph(f))}
    assert lines["x"].local == -4.0 and lines["y"].local == 3.0


def test_a_node_used_twice_by_one_gate_sums_its_contributions():
    x = gg.Tensor(3.0, name="x")
    f = named(x * x, "f")
    lines = ledger(Graph(f))
    edges = [l for l in lines if l.kind == "edge"]
    assert [l.slot for l in edges] == [0, 1] and all(l.contribution == 3.0 for l in edges)
    total = [l for l in lines if l.kind == "sum"]
    assert len(total) == 1 and total[0].text == "df/dx = 3 + 3 = 6"
    assert total[0].contribution == 6.0 and total[0].terms == (3.0, 3.0)


def test_a_node_used_by_two_gates_sums_when_complete():
    x = gg.Tensor(1.0, name="x")
    a = named(x * 2.0, "a")
    b = named(x * 3.0, "b")
    f = named(a + b, "f")
    graph = Graph(f)
    s = Stepper(graph)
    sums = []
    while s.step() is not None:
        sums += [l for l in step_ledger(s.current) if l.kind == "sum"]
    assert len(sums) == 1
    assert sums[0].text == "df/dx = 3 + 2 = 5"     # b's contribution arrives first (reverse order)
    assert sums[0].sources == ("b", "a")
    assert sums[0].step == len(s) - 1              # written when the last part arrives


def test_step_ledger_is_one_steps_and_a_steppers_ledger_accumulates():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = named(named(x + y, "q") * z, "f")
    s = Stepper(Graph(f))
    assert list(step_ledger(s.current)) == []    # position 0: no step yet
    s.seek(3)
    assert list(step_ledger(s.current)) == [] and list(ledger(s)) == []
    s.seek(s.backward_start + 1)
    assert step_ledger(s.current).text == "df/df = 1"
    s.step()
    assert len(step_ledger(s.current)) == 2 and len(ledger(s)) == 3
    assert len(ledger(s.graph)) == 5            # the graph's whole backward pass


def test_large_tensor_lines_show_shapes_and_statistics():
    w = gg.Tensor(np.arange(90.0).reshape(9, 10), name="W")
    x = gg.Tensor(np.ones(10), name="v")
    loss = named((w @ x).sum(), "L")
    text = ledger(Graph(loss)).text
    line = next(l for l in text.splitlines() if l.startswith("dL/dW"))
    assert "(9, 10)" in line and "mean" in line and "|max|" in line and "norm" in line
    assert "[dZ/dX: d_out @ W^T]" in line     # the gate's local-gradient formula (W is its X)


def _matmul_graph():
    x = gg.Tensor(np.array([[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]]), name="X")
    w = gg.Tensor(np.array([[0.5, -1.0], [2.0, 0.0], [-1.0, 1.0]]), name="W")
    y = named(x @ w, "Y")
    h = named(y.relu(), "H")
    return Graph(named(h.sum(), "L"))


def test_small_matmul_step_reads_as_the_formula_with_its_matrices():
    graph = _matmul_graph()
    lines = {l.target: l for l in ledger(graph) if l.kind == "edge"}
    w_line = lines["W"]
    assert w_line.text.splitlines()[0].startswith("dL/dW = Xᵀ · dL/dY")
    labels = [t[0] for t in w_line.operands if not isinstance(t, str)]
    assert labels == ["Xᵀ", "dL/dY", "dL/dW"]
    xt, d_y, d_w = (t[1] for t in w_line.operands if not isinstance(t, str))
    np.testing.assert_array_equal(d_w, xt @ d_y)
    np.testing.assert_array_equal(d_y, [[1.0, 0.0], [0.0, 1.0]])  # relu: Y = [[5.5, -2], [-5, 3]]
    rows = w_line.text.splitlines()[1:]
    assert len(rows) == 4                               # labels + the 3 rows of Xᵀ and of dL/dW
    assert "[ 1   0]" in rows[1] and "[-1   3]" in rows[3]  # every entry of dL/dW = Xᵀ · dL/dY
    x_line = lines["X"]
    assert x_line.text.splitlines()[0].startswith("dL/dX = dL/dY · Wᵀ")


def test_small_elementwise_step_shows_the_elementwise_product():
    line = next(l for l in ledger(_matmul_graph()) if l.kind == "edge" and l.target == "Y")
    assert line.text.splitlines()[0].startswith("dL/dY = dL/dH ⊙ dH/dY")
    upstream, local, result = (t[1] for t in line.operands if not isinstance(t, str))
    np.testing.assert_array_equal(local, [[1.0, 0.0], [0.0, 1.0]])   # [Y > 0]
    np.testing.assert_array_equal(result, upstream * local)
    assert "⊙" in line.text.splitlines()[2]


def test_small_broadcast_step_says_it_sums():
    y = gg.Tensor(np.array([[1.0, -2.0], [3.0, 4.0]]), name="Y")
    b = gg.Tensor(np.array([0.5, -0.5]), name="b")
    z = named(y * b, "Z")
    line = next(l for l in ledger(Graph(named(z.sum(), "L"))) if l.target == "b")
    assert "summed over the broadcast axes" in line.text
    np.testing.assert_array_equal(line.contribution, [4.0, 2.0])


def test_local_gradient_does_not_disturb_the_gate():
    x, y = gg.Tensor(3.0, name="x"), gg.Tensor(-4.0, name="y")
    f = named(x * y, "f")
    graph = Graph(f)
    ledger(graph)
    assert graph.local_gradient("f", 0) == -4.0
    op = graph.node("f").op
    assert op.x == 3.0 and op.y == -4.0


def test_local_derivatives_use_the_node_names():
    from gradgraph.graph.stepper import local_derivatives

    nodes = {n.name: n for n in gg.Graph(lecture()).nodes}
    assert local_derivatives(nodes["q"]) == ("dq/dx = 1", "dq/dy = 1")
    assert local_derivatives(nodes["f"]) == ("df/dq = z", "df/dz = q")  # z the input, not the output
    assert local_derivatives(nodes["x"]) == ()
    (p,) = [n for n in gg.Graph(nodes["x"].tensor ** 2).nodes if n.gate is not None]
    assert local_derivatives(p) == (f"d{p.name}/dx = 2 x^(2-1)",)
    a, b = gg.Tensor(np.ones((2, 2)), name="A"), gg.Tensor(np.ones((2, 2)), name="B")
    (m,) = [n for n in gg.Graph(a @ b).nodes if n.gate is not None]
    assert local_derivatives(m) == tuple(m.local)  # written in other letters: kept as is


def test_element_terms_write_out_the_sum_behind_one_gradient_entry():
    from gradgraph.graph.ledger import element_terms

    graph = _matmul_graph()
    lines = element_terms(graph, "W", (2, 1))       # dL/dW[2, 1] = Σ_n X[n, 2] · dL/dY[n, 1]
    assert lines[0] == "dL/dW[2, 1] = 3, made of:"
    assert lines[2].strip() == "= X[0,2]·dL/dY[0,1] + X[1,2]·dL/dY[1,1]"
    assert lines[3].strip() == "= (-1)·0 + 3·1 = 3"
    b = gg.Tensor(np.array([0.5, -0.5]), name="b")
    y = gg.Tensor(np.array([[1.0, -2.0], [3.0, 4.0]]), name="Y")
    lines = element_terms(Graph(named((y * b).sum(), "L")), "b", (1,))
    assert lines[0] == "dL/db[1] = 2, made of:" and lines[-1].endswith("= 1·(-2) + 1·4 = 2")


def test_matrix_cell_at_names_the_entry_under_a_character():
    from gradgraph.graph.fmt import matrix_cell_at, matrix_lines

    a = np.array([[1.0, 2.0, -1.0], [0.0, -1.0, 3.0]])
    row = matrix_lines(a)[1]
    assert row == "[0  -1   3]"
    assert matrix_cell_at(a, 1, row.index("3")) == (1, 2)
    assert matrix_cell_at(a, 1, row.index("-")) == (1, 1)
    assert matrix_cell_at(a, 1, len(row) - 1) is None and matrix_cell_at(a, 2, 1) is None
    assert matrix_cell_at(np.array([0.1, -0.2]), 0, 6) == (1,)
