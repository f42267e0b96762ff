"""Views collapsed to groups, layout (dot and built-in), DOT output and rendering."""
import shutil
import warnings

import numpy as np
import pytest

import gradgraph as gg
from gradgraph.graph import Graph, GraphvizNotFoundError, Stepper, collapsed, full, render, to_dot
from gradgraph.graph import layout as layout_module
from gradgraph.graph.layout import layered_layout, layout

from examples import lecture

HAVE_DOT = shutil.which("dot") is not None


def named(tensor, name):
    tensor.name = name
    return tensor


def mlp(layers=3, width=4, seed=0):
    """A small MLP on a batch, every layer in its own scope, all inside "net"."""
    rng = np.random.default_rng(seed)
    x = gg.Tensor(rng.normal(size=(2, width)), name="input")
    h = x
    with gg.scope("net"):
        for k in range(layers):
            with gg.scope(f"fc{k}"):
                w = gg.Tensor(rng.normal(size=(width, width)), name=f"fc{k}.weight")
                b = gg.Tensor(np.zeros(width), name=f"fc{k}.bias")
                h = (h @ w + b).relu()
        loss = h.mean()
    return named(loss, "loss")


@pytest.fixture
def no_dot(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k))
    monkeypatch.setenv("PATH", "")


# -- views -------------------------------------------------------------------------------

def test_groups_collect_nested_paths():
    graph = Graph(mlp())
    assert {"net", "net/fc0", "net/fc1", "net/fc2"} <= set(graph.groups)
    assert set(graph.groups["net/fc0"]) < set(graph.groups["net"])
    assert graph.node("fc0.weight") in graph.groups["net/fc0"]


def test_collapsed_view_shows_one_box_per_layer_and_expands():
    graph = Graph(mlp())
    view = collapsed(graph)                      # "net" holds every gate: opened automatically
    names = [v.name for v in view.nodes]
    assert names == ["input", "net/fc0", "net/fc1", "net/fc2", "loss"]
    assert [v.kind for v in view.nodes] == ["node", "group", "group", "group", "node"]
    assert view.node("net/fc0").label == "fc0" and view.node("net/fc0").gate_names == ["MatMul", "Add", "ReLU"]
    assert view.node("net/fc1").output.gate == "ReLU"
    assert [(e.source.name, e.target.name) for e in view.edges] == [
        ("input", "net/fc0"), ("net/fc0", "net/fc1"), ("net/fc1", "net/fc2"), ("net/fc2", "loss")]
    assert view.box_of("fc1.weight").name == "net/fc1"
    assert all(e.source.index < e.target.index for e in view.edges)   # boxes in topological order

    opened = view.expand("net/fc1")
    assert "fc1.weight" in [v.name for v in opened.nodes] and "net/fc1" not in [v.name for v in opened.nodes]
    assert opened.collapse("net/fc1").expanded == view.expanded
    everything = collapsed(graph, expanded=set())
    assert [v.name for v in everything.nodes] == ["input", "net"]


@pytest.mark.filterwarnings("ignore:Graphviz")
def test_layout_of_a_collapsed_view(no_dot):
    graph = Graph(mlp())
    lay = layout(collapsed(graph))
    assert lay.engine == "builtin"
    xs = [lay.boxes[name].x for name in ["input", "net/fc0", "net/fc1", "net/fc2", "loss"]]
    assert xs == sorted(xs) and len(set(xs)) == 5          # left to right
    assert len(lay.routes) == 4


# -- layout ---------------------------------------------------------------------------------

def test_layout_without_dot_uses_the_builtin_engine(no_dot):
    layout_module._notice_shown = False
    graph = Graph(lecture())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lay = layout(graph)
        again = layout(graph)
    assert lay.engine == "builtin" and "dot" in lay.notice and again.notice
    assert sum("dot" in str(w.message) for w in caught) == 1      # one notice only
    boxes = lay.boxes
    assert set(boxes) == {"x", "y", "z", "q", "f"}
    assert boxes["x"].x < boxes["q"].x < boxes["f"].x           # inputs left, output right
    assert boxes["z"].x < boxes["f"].x
    x, y, w, h = boxes["q"]
    assert w > 0 and h > 0
    assert len(lay.routes) == 4 and all(len(r.points) >= 2 for r in lay.routes)


def test_engine_dot_without_dot_raises(no_dot):
    with pytest.raises(GraphvizNotFoundError, match="apt install graphviz"):
        layout(Graph(lecture()), engine="dot")
    with pytest.raises(GraphvizNotFoundError):
        render(Graph(lecture()), "/tmp/never.svg")


def test_builtin_layout_has_no_overlaps_and_few_crossings():
    rng = np.random.default_rng(1)
    nodes = [gg.Tensor(float(v), name=f"in{k}") for k, v in enumerate(rng.normal(size=6))]
    for k in range(60):
        a, b = rng.choice(len(nodes), 2, replace=False)
        nodes.append(nodes[a] * nodes[b] if k % 2 else nodes[a] + nodes[b])
    out = nodes[-1]
    for t in nodes[-10:-1]:
        out = out + t
    view = full(Graph(out))
    lay = layered_layout(view)
    columns = {}
    for box in lay.boxes.values():
        columns.setdefault(round(box.x + box.w / 2), []).append(box)
    for boxes in columns.values():
        boxes.sort(key=lambda b: b.y)
        for upper, lower in zip(boxes, boxes[1:]):
            assert upper.y + upper.h <= lower.y + 1e-6
    for route in lay.routes:
        assert route.points[0][0] <= route.points[-1][0]


def test_builtin_layout_handles_cycles_between_groups():
    x = gg.Tensor(1.0, name="x")
    with gg.scope("A"):
        a = x * 2.0
    with gg.scope("B"):
        b = a + 1.0
    with gg.scope("A"):
        c = b * 3.0                     # back into A: the box graph has a cycle A -> B -> A
    graph = Graph(c)
    view = collapsed(graph, expanded=set())
    lay = layered_layout(view)
    assert set(lay.boxes) == {"x", "A", "B"} and len(lay.routes) == 3   # x -> A, A -> B, B -> A


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz dot not installed")
def test_layout_with_dot():
    lay = layout(Graph(lecture()), engine="dot")
    assert lay.engine == "dot" and lay.notice is None
    assert lay.boxes["x"].x < lay.boxes["f"].x
    assert all(r.bezier and len(r.bezier) % 3 == 1 for r in lay.routes)


# -- DOT and rendering --------------------------------------------------------------------

def test_to_dot_labels_values_and_gradients():
    dot = to_dot(Graph(lecture()))
    assert dot.startswith("digraph") and "rankdir=LR" in dot
    for text in ("<b>q</b>", "<b>f</b>", "-12", ">3<", "-4", "∂ 3", "∂ -4", "*", "+"):
        assert text in dot, text
    assert "penwidth=" in dot


def test_to_dot_formats_numbers_compactly_and_tensors_by_shape():
    x = gg.Tensor(0.0, name="x")
    s = named(x.sigmoid() + 0.23105858, "s")      # 0.73105858
    assert ">0.731<" in to_dot(Graph(s))
    w = gg.Tensor(np.ones((3, 4)), name="W")
    dot = to_dot(Graph(named(w.sum(), "L")))
    assert "(3, 4)" in dot and "|max|" in dot


def test_to_dot_with_a_stepper_shows_only_what_is_known():
    graph = Graph(lecture())
    s = Stepper(graph)
    s.seek(4)
    dot = to_dot(graph, stepper=s)
    assert ">3<" in dot and "-12" not in dot and "∂" not in dot
    s.run_to_end()
    assert "-12" in to_dot(graph, stepper=s)


def test_collapsed_to_dot():
    graph = Graph(mlp())
    dot = to_dot(graph, collapsed=True)
    assert "<b>fc1</b>" in dot and "MatMul" in dot and "peripheries=2" in dot
    assert to_dot(collapsed(graph)) == dot


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz dot not installed")
def test_render_svg_and_png(tmp_path):
    graph = Graph(lecture())
    svg = render(graph, tmp_path / "f.svg")
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg")) and "-12" in svg.read_text()
    png = render(graph, tmp_path / "f.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="svg"):
        render(graph, tmp_path / "f.txt")


def test_jupyter_repr_falls_back_without_dot(no_dot):
    bundle = Graph(lecture())._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "Graph(5 nodes" in bundle["text/plain"]


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz dot not installed")
def test_jupyter_repr_svg():
    bundle = Graph(lecture())._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"]
