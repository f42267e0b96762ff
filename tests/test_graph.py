"""The graph model: nodes, stepping, the chain-rule ledger, set_value + replay."""
import numpy as np
import pytest

import gradgraph as gg
from gradgraph.graph import Graph, Stepper, gradcheck
from gradgraph.graph.ledger import ledger

from examples import lecture


# -- nodes ------------------------------------------------------------------------------

def test_nodes_in_topological_order_with_leaves_first():
    graph = Graph(lecture())
    assert [n.name for n in graph.nodes] == ["x", "y", "z", "q", "f"]
    assert [n.kind for n in graph.nodes] == ["input"] * 3 + ["intermediate"] * 2
    assert [n.index for n in graph.nodes] == list(range(5))
    assert graph.output is graph.nodes[-1]


def test_node_fields():
    graph = Graph(lecture())
    x, q, f = graph.node("x"), graph.node("q"), graph.node("f")
    assert x.gate is None and x.is_leaf
    assert q.gate == "Add" and f.gate == "Multiply"
    assert f.gate.symbol == "*" and f.gate.formula == "z = x * y" and f.op is f.tensor.gate
    assert [p.name for p in f.parents] == ["q", "z"]
    assert [c.name for c in x.children] == ["q"]
    assert (x.value, q.value, f.value) == (-2.0, 3.0, -12.0)
    assert isinstance(f.value, float)
    assert (x.grad, graph.node("y").grad, graph.node("z").grad, q.grad, f.grad) == (-4.0, -4.0, 3.0, -4.0, 1.0)
    assert x.shape == () and q.group is None
    assert graph.node(0) is x and graph.node(x.tensor) is x and "q" in graph


def test_graph_never_touches_tensor_grads():
    f = lecture()
    graph = Graph(f)
    graph.backward()
    assert all(n.tensor.grad is None for n in graph.nodes)


def test_unnamed_nodes_get_unique_automatic_names():
    a, b = gg.Tensor(1.0), gg.Tensor(2.0)
    out = (a * b + a) * 3.0
    graph = Graph(out)
    names = [n.name for n in graph.nodes]
    assert len(set(names)) == len(names)
    assert {"x_0", "x_1", "c_0", "mul_0", "add_0", "mul_1"} == set(names)


def test_repeated_user_names_are_made_unique():
    w1, w2 = gg.Tensor(1.0, name="w"), gg.Tensor(2.0, name="w")
    graph = Graph(w1 * w2)
    assert len({n.name for n in graph.nodes}) == 3


def test_a_leaf_as_output():
    x = gg.Tensor(3.0, name="x")
    graph = Graph(x)
    assert [s.kind for s in Stepper(graph).steps] == ["leaf", "seed"]
    assert graph.node("x").grad == 1.0


# -- steps and the stepper ---------------------------------------------------------------

def test_steps_forward_then_backward():
    graph = Graph(lecture())
    steps = Stepper(graph).steps
    assert [(s.phase, s.kind, s.node.name) for s in steps] == [
        ("forward", "leaf", "x"), ("forward", "leaf", "y"), ("forward", "leaf", "z"),
        ("forward", "gate", "q"), ("forward", "gate", "f"),
        ("backward", "seed", "f"), ("backward", "gate", "f"), ("backward", "gate", "q"),
    ]
    assert Stepper(graph).backward_start == 5
    assert steps[3].text == "q = x + y = 3"
    assert steps[4].text == "f = q * z = -12"


def test_stepper_states_forward_back_seek_reset():
    graph = Graph(lecture())
    s = Stepper(graph)
    assert isinstance(s, Stepper) and s.position == 0 and len(s) == 8 and s.current is None
    assert not any(s.known_values()) and not any(s.known_grads())
    assert s.step().node.name == "x"
    assert s.value_known("x") and not s.value_known("y") and s.value("y") is None
    s.seek(4)
    assert s.current.node.name == "q" and s.value_known("q") and not s.value_known("f")
    assert s.phase == "forward"
    s.seek(s.backward_start)
    assert s.known_values().all() and not s.known_grads().any()
    s.step()  # the seed
    assert s.phase == "backward" and s.grad_known("f") and not s.grad_known("q")
    assert s.grad("f") == 1.0
    s.step()  # back through f = q * z
    assert s.grad_known("q") and s.grad_known("z") and not s.grad_known("x")
    assert s.grad("q") == -4.0 and s.grad("z") == 3.0 and s.grad("x") is None
    assert s.grad_state("x") == "unknown" and s.grad_state("q") == "known"
    s.step()
    assert s.known_grads().all() and s.at_end and s.step() is None
    undone = s.back()
    assert undone.node.name == "q" and s.position == 7 and not s.grad_known("x")
    s.reset()
    assert s.position == 0 and s.back() is None
    s.run_to_end()
    assert s.position == len(s)
    s.seek(-5)
    assert s.position == 0
    s.seek(1000)
    assert s.position == len(s)


def test_gg_stepper_accepts_a_graph_or_a_tensor():
    assert len(gg.Stepper(lecture())) == 8
    assert len(gg.Stepper(gg.Graph(lecture()))) == 8


def test_stepping_does_one_gate_of_work_and_back_does_none():
    calls = []

    class Counting(gg.Gate):
        symbol = "c"

        def forward(self, x):
            calls.append("forward")
            return x * 1.0

        def backward(self, d_out):
            calls.append("backward")
            return (d_out,)

    x = gg.Tensor(1.0, name="x")
    h = x
    for _ in range(5):
        h = Counting()(h)
    calls.clear()
    s = Stepper(Graph(h))
    s.step()
    assert calls == []                    # a leaf: nothing to compute
    s.step()
    assert calls == ["forward"]           # exactly one gate
    s.seek(s.backward_start)
    assert calls.count("forward") == 5
    s.seek(s.backward_start + 2)
    assert calls.count("backward") == 1
    before = list(calls)
    s.back()
    s.back()
    s.seek(s.backward_start + 2)          # cached: nothing recomputed
    assert calls == before


def test_partial_gradients_of_a_node_used_twice():
    x = gg.Tensor(3.0, name="x")
    a = x * 2.0
    a.name = "a"
    b = x * 5.0
    b.name = "b"
    f = a + b
    f.name = "f"
    s = Stepper(Graph(f))
    s.seek(s.backward_start + 2)  # seed, back through f: a and b known
    s.step()                      # back through b (reverse topological order): x gets 5
    assert s.grad_state("x") == "partial" and s.grad("x") == 5.0
    s.step()                      # back through a: x gets 2 more
    assert s.grad_state("x") == "known" and s.grad("x") == 7.0


def test_subscribers_hear_position_and_value_changes():
    graph = Graph(lecture())
    s = Stepper(graph)
    events = []
    unsubscribe = s.subscribe(events.append)
    s.step()
    s.seek(3)
    s.back()
    assert [(e.kind, e.previous, e.position) for e in events] == [("position", 0, 1), ("position", 1, 3),
                                                                   ("position", 3, 2)]
    graph.set_value("x", 1.0)
    assert events[-1].kind == "values"
    unsubscribe()
    s.step()
    assert len(events) == 4


# -- set_value and replay ------------------------------------------------------------------

def test_set_value_replays_values_and_gradients():
    graph = Graph(lecture())
    s = Stepper(graph)
    s.run_to_end()
    graph.set_value("x", 1.0)
    assert graph.node("f").value == -24.0        # (1 + 5) * -4
    assert graph.node("q").value == 6.0
    assert graph.node("z").grad == 6.0           # df/dz = q
    assert s.value("f") == -24.0 and s.grad("z") == 6.0
    assert "df/dz = df/df · df/dz = 1 · 6 = 6" in ledger(graph).text
    graph.reset_values()
    assert graph.node("f").value == -12.0 and graph.node("z").grad == 3.0


def test_set_value_only_recomputes_what_depends_on_the_node():
    graph = Graph(lecture())
    graph.forward()
    graph.set_value("z", 2.0)
    calls = []
    graph.subscribe(calls.append)
    q_before = graph.value("q")
    graph.set_value("z", 3.0)
    assert graph.value("q") is q_before               # q = x + y does not depend on z: kept
    assert graph.node("f").value == 9.0 and len(calls) == 1


def test_set_value_checks_the_node_and_the_shape():
    graph = Graph(lecture())
    with pytest.raises(ValueError, match="gate"):
        graph.set_value("q", 1.0)
    w = gg.Tensor(np.ones(3), name="w")
    g2 = Graph((w * 2.0).sum())
    with pytest.raises(ValueError, match="shape"):
        g2.set_value("w", np.ones(4))
    g2.set_value("w", [1.0, 2.0, 3.0])
    assert g2.output.value == 12.0


def test_a_gate_object_used_twice_gives_each_node_its_own_state():
    mul = gg.ops.Multiply()
    x, y, z = gg.Tensor(2.0, name="x"), gg.Tensor(3.0, name="y"), gg.Tensor(4.0, name="z")
    a = mul(x, y)          # the same gate object used twice: its state is the last call's
    f = mul(a, z)
    graph = Graph(f)
    assert graph.node("x").grad == 12.0 and graph.node("y").grad == 8.0 and graph.node("z").grad == 6.0
    f.backward()           # the tensors' own backward too: a == x * y kept its inputs
    assert (x.grad, y.grad, z.grad) == (12.0, 8.0, 6.0)


def test_non_scalar_output_is_seeded_with_ones():
    w = gg.Tensor(np.array([1.0, -2.0]), name="w")
    graph = Graph(w * 3.0)
    np.testing.assert_allclose(graph.node("w").grad, [3.0, 3.0])
    graph = Graph(w * 3.0, grad=np.array([1.0, 0.5]))
    np.testing.assert_allclose(graph.node("w").grad, [3.0, 1.5])


# -- big graphs ----------------------------------------------------------------------------

def test_100000_node_chain_without_recursion_errors():
    x = gg.Tensor(0.5, name="x")
    h = x
    for _ in range(100_000):
        h = -h
    graph = Graph(h)
    assert len(graph.nodes) == 100_001
    assert graph.output.value == 0.5 and graph.node("x").grad == 1.0
    s = Stepper(graph)
    s.seek(len(s) - 1)
    assert s.grad_known(graph.nodes[1]) and not s.grad_known("x")


def test_no_qt_in_the_graph_package():
    import pathlib

    import gradgraph.graph

    for path in pathlib.Path(gradgraph.graph.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "PySide6" not in text and "gradgraph_gui" not in text, path


# -- the graph agrees with Tensor.backward ---------------------------------------------------

from hypothesis import given  # noqa: E402

from strategies import seeds  # noqa: E402


@given(seeds)
def test_graph_gradients_match_tensor_backward(seed):
    rng = np.random.default_rng(seed)
    leaves = [gg.Tensor(rng.normal(size=(2, 3)), name=f"a{k}") for k in range(3)]
    values = list(leaves)
    for _ in range(8):
        a, b = (values[i] for i in rng.integers(len(values), size=2))
        op = rng.integers(5)
        values.append([lambda: a + b, lambda: a * b, lambda: a.tanh(), lambda: gg.maximum(a, b),
                       lambda: a.sigmoid() - b][op]())
    out = (values[-1] * values[-2]).sum()
    graph = Graph(out)
    out.backward()
    for leaf in leaves:
        if leaf in graph:
            np.testing.assert_allclose(graph.node(leaf).grad, leaf.grad, rtol=1e-12, atol=1e-12)
        else:
            assert leaf.grad is None   # not used by the output
    s = Stepper(graph)
    s.run_to_end()
    assert s.known_values().all() and s.known_grads().all()


# -- one backward, each node with its own gate -------------------------------------------------

def test_editing_the_graph_never_disturbs_the_tensors_gates():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = (x + y) * z
    graph = Graph(f)
    graph.set_value("x", 1.0)
    assert graph.node("z").grad == 6.0            # (1 + 5): the graph's own values
    f.backward()
    assert z.grad == 3.0 and x.grad == -4.0       # the tensors' backward still sees x = -2


def test_replays_need_no_repriming():
    graph = Graph(lecture())
    s = Stepper(graph)
    s.run_to_end()
    gradcheck(graph)                              # nudged replays on the check's own gates
    assert graph.node("z").grad == 3.0 and graph.local_gradient("f", 1) == 3.0
    graph.set_value("z", 2.0)
    assert graph.node("x").grad == 2.0            # df/dx = z, by the same gates, no re-priming
    graph.set_value("y", 0.0)
    graph.set_value("z", -4.0)
    s.replay()
    assert s.grad("z") == -2.0 and graph.local_gradient("f", 1) == -2.0


def test_a_failing_backward_raises_at_its_step_every_time():
    class Broken(gg.Gate):
        symbol = "b"

        def forward(self, x):
            return x * 1.0

        def backward(self, d_out):
            raise RuntimeError("not written yet")

    x = gg.Tensor(2.0, name="x")
    f = Broken()(x) * 3.0
    s = Stepper(Graph(f))
    s.seek(s.backward_start + 2)                  # the seed and the multiply: fine
    for _ in range(2):
        with pytest.raises(RuntimeError, match="not written yet"):
            s.step()
        assert s.position == s.backward_start + 2


def test_graph_copy_keeps_the_edited_values_in_another_dtype():
    w = gg.Tensor(np.array([1.0, 2.0], dtype=np.float32), name="w")
    graph = Graph((w * w).sum())
    graph.set_value("w", [3.0, 4.0])
    double = graph.copy(np.float64)
    assert double.value("w").dtype == np.float64 and double.node("w").dtype == np.float64
    np.testing.assert_allclose(double.node("w").grad, [6.0, 8.0])
    assert graph.value("w").dtype == np.float32 and graph.output.value == 25.0


def test_a_stepper_nobody_holds_is_collected():
    import gc
    import weakref

    graph = Graph(lecture())
    ref = weakref.ref(Stepper(graph))
    gc.collect()
    assert ref() is None
    graph.set_value("x", 0.0)                     # its listener is gone with it: no error


def test_node_adjacency_is_public():
    graph = Graph(lecture())
    q, f = graph.node("q"), graph.node("f")
    assert [e.source.name for e in f.in_edges] == ["q", "z"] and [e.slot for e in f.in_edges] == [0, 1]
    assert q.out_edges == [e for e in graph.edges if e.source is q] and q.children == [f]
