"""Gradient flow (dead ReLUs, saturation, NaN, vanishing) and gradcheck on the graph."""
import numpy as np
import pytest

import gradgraph as gg
from gradgraph.graph import Flow, Graph, gradcheck


def named(tensor, name):
    tensor.name = name
    return tensor


class WrongSquare(gg.Gate):
    """z = x²  with a student's bug: dz/dx = x (the 2 is missing)."""

    symbol = "sq"

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, d_out):
        return (d_out * self.x,)


# -- gradcheck ---------------------------------------------------------------------------

def test_gradcheck_passes_on_a_correct_graph():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = named(named(x + y, "q") * z, "f")
    result = gradcheck(Graph(f), eps=1e-6)
    assert set(result) == {"x", "y", "z", "q", "f"}
    assert result.ok and not result.suspects
    assert result["x"].analytic == -4.0 and result["x"].numerical == pytest.approx(-4.0)
    assert result["z"].rel_error < 1e-6 and result["z"].ok


def test_gradcheck_flags_a_wrong_custom_gate():
    x, y = gg.Tensor(1.5, name="x"), gg.Tensor(-2.0, name="y")
    s = named(WrongSquare()(x), "s")
    f = named(s * y, "f")
    result = gradcheck(Graph(f))
    assert result["s"].ok and result["f"].ok and result["y"].ok   # downstream of the bug: fine
    assert not result["x"].ok                                      # the input of the wrong gate
    assert result["x"].analytic == pytest.approx(-3.0)             # dz/dx = x (wrong)
    assert result["x"].numerical == pytest.approx(-6.0)            # 2x (right)
    assert result.suspects == ["s"] and result["s"].blamed
    assert result.failures == ["x"] and not result.ok


def test_gradcheck_blames_the_right_gate_when_the_bug_is_deep():
    x = gg.Tensor(np.array([0.5, -1.0, 2.0]), name="x")
    h = named(WrongSquare()(x), "h")
    t = named(h.tanh(), "t")
    loss = named(t.sum(), "L")
    result = gradcheck(Graph(loss))
    assert result.suspects == ["h"]
    assert result["t"].ok and result["h"].ok and not result["x"].ok


def test_gradcheck_samples_big_tensors_and_leaves_the_graph_intact():
    rng = np.random.default_rng(0)
    w = gg.Tensor(rng.normal(size=(30, 20)), name="W")
    x = gg.Tensor(rng.normal(size=(5, 30)), name="X")
    loss = named((x @ w).tanh().mean(), "L")
    graph = Graph(loss)
    before = graph.node("W").grad.copy()
    result = gradcheck(graph, max_elements=10)
    assert result.ok
    assert result["W"].sampled and len(result["W"].indices) == 10 and result["W"].analytic.shape == (10,)
    np.testing.assert_array_equal(graph.node("W").grad, before)
    # the gates were left with other inputs by the replays; backward still uses the right ones
    graph.set_value("X", x.data)
    np.testing.assert_allclose(graph.node("W").grad, before)


def test_gradcheck_skips_constants():
    x = gg.Tensor(2.0, name="x")
    graph = Graph(named(x * 3.0, "f"))
    assert set(gradcheck(graph)) == {"x", "f"}


# -- flow ----------------------------------------------------------------------------------

def test_flow_levels_are_normalised():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    f = named(named(x + y, "q") * z, "f")
    graph = Graph(f)
    flow = Flow(graph)
    assert flow["x"].magnitude == 4.0 and flow["f"].magnitude == 1.0
    assert all(0.0 <= info.level <= 1.0 for info in flow.values())
    assert flow["x"].level == 1.0 and flow["f"].level == 0.0
    assert len(flow.edges) == len(graph.edges)
    assert flow.summary() == "no problems found" and flow.first_nonfinite is None


def test_flow_flags_dead_relu_units_only_across_a_whole_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4))
    x[:, :3] = -np.abs(x[:, :3])          # units 0-2 are off for all 16 samples, unit 3 is not
    r = named(gg.Tensor(x, name="x").relu(), "r")
    flow = Flow(Graph(named(r.sum(), "L")))
    assert flow["r"].dead_fraction == 0.75 and flow["r"].batch == 16
    assert flow.dead_relus == ["r"] and "dead" in flow["r"].flags
    assert "for all 16 samples" in flow.summary()


def test_flow_does_not_call_sparse_activations_of_one_sample_dead():
    x = gg.Tensor(np.array([[-3.0, -2.0, -1.0, 0.5]]), name="x")   # a batch of one
    r = named(x.relu(), "r")
    flow = Flow(Graph(named(r.sum(), "L")))
    assert flow["r"].dead_fraction is None and flow.dead_relus == []
    assert "dead" not in flow.summary()


def test_flow_flags_saturated_sigmoid_and_vanishing_gradient():
    x = gg.Tensor(np.array([[30.0, 40.0, -50.0]] * 8), name="x")
    s = named(x.sigmoid(), "s")
    w = gg.Tensor(np.array([1.0, 1.0, 1.0]), name="w")
    loss = named((s * w).sum(), "L")
    flow = Flow(Graph(loss))
    assert flow.saturated == ["s"] and flow["s"].saturated_fraction == 1.0 and flow["s"].batch == 8
    assert "x" in flow.vanishing and "w" not in flow.vanishing


def test_flow_says_the_loser_of_a_max_is_routed_not_vanishing():
    from gradgraph import lessons

    flow = Flow(Graph(lessons.load(lessons.find_lesson("2")).build()))
    assert flow.vanishing == [] and flow.routed == ["w"]
    assert flow["w"].notes == ["routed: lost the max"]
    assert flow.summary().startswith("no problems found")


def test_flow_routing_passes_through_gates_upstream_of_the_loser():
    a, b = gg.Tensor(2.0, name="a"), gg.Tensor(-3.0, name="b")
    p = named(a * b, "p")                       # -6 loses the max against 1
    m = named(gg.maximum(p, gg.Tensor(1.0, name="one")), "m")
    flow = Flow(Graph(named(m * 2.0, "f")))
    assert set(flow.routed) == {"p", "a", "b"} and flow.vanishing == []


def test_flow_vanishing_is_judged_along_the_path():
    x = gg.Tensor(1.0, name="x")
    small = named(x * 1e-5, "small")            # the gradient to x shrinks 1e5-fold here
    big = named(small * 1e4, "big")
    flow = Flow(Graph(named(big + 0.0, "f")))
    assert flow.vanishing == ["x"]            # 0.1 vs the 1e4 it met on its way
    assert flow["x"].path_max == 1e4


def test_flow_does_not_call_a_small_factor_inside_the_net_vanishing():
    """A softmax's normaliser gets a tiny gradient by design; only learnable leaves are judged."""
    scores = gg.Tensor(np.array([3.2, 5.1, -1.7]), name="s")
    e = named(scores.exp(), "e")
    total = named(e.sum(), "total")              # d/dtotal = -e_y / total^2: small, as it should be
    loss = named(-(e[0] / total).log(), "L")
    flow = Flow(Graph(loss))
    assert flow["total"].magnitude < 1e-3 * flow["total"].path_max
    assert flow.vanishing == []


def test_flow_finds_the_first_nan():
    x = gg.Tensor(np.array([1.0, -1.0]), name="x")
    with np.errstate(all="ignore"):
        lg = named(x.log(), "lg")      # log(-1) = nan
        out = named((lg * 2.0).sum(), "L")
        flow = Flow(Graph(out))
    assert flow.first_nonfinite.name == "lg" and flow.first_nonfinite_in == "value"
    assert flow.first_nan is flow.first_nonfinite
    assert "nonfinite" in flow["lg"].flags and "inherited" not in flow["lg"].flags
    assert "inherited" in flow["L"].flags and flow["L"].inherited_from == "lg"
    assert "nonfinite" not in flow["L"].flags and flow["L"].notes == ["NaN/Inf inherited from lg"]


def test_flow_finds_a_nan_born_in_the_backward_pass():
    x = gg.Tensor(0.0, name="x")
    r = named(x ** 0.5, "r")           # value 0 is fine, d/dx = 0.5 x^-0.5 = inf
    with np.errstate(all="ignore"):
        flow = Flow(Graph(named(r * 3.0, "f")))
    assert flow.first_nonfinite.name == "x" and flow.first_nonfinite_in == "grad"


def test_float32_cnn_is_checked_in_float64_and_kinks_are_left_out():
    """A float32 conv/ReLU/max-pool net passes: promoted to float64, ties in pooling windows skipped."""
    import numpy as np

    import gradgraph as gg

    rng = np.random.default_rng(0)
    x = gg.Tensor(rng.random((2, 1, 8, 8)).astype(np.float32), requires_grad=False)
    w = gg.Tensor(rng.normal(size=(3, 1, 3, 3)).astype(np.float32))
    h = gg.max_pool2d(gg.conv2d(x, w, padding=1).relu(), 2)  # many zeros: ties in pooling windows
    loss = (h.reshape(2, -1) @ gg.Tensor(rng.normal(size=(48, 4)).astype(np.float32))).softmax().max(axis=1).sum()
    graph = gg.Graph(loss)
    check = gradcheck(graph, max_elements=30)
    assert check.ok, check.summary()
    assert any(c.kinks for c in check.values())
    assert graph.value(graph.output).dtype == np.float32  # the graph keeps its float32 values
