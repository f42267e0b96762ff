"""The engine's shape: which modules import which, and how big a class may grow (in the
engine and in the app).

Imports are read from the source (every ``import`` statement, at module
level or inside a function), so a lazy import counts like any other.
"""
import ast
from pathlib import Path

import gradgraph
import gradgraph_gui

ENGINE = Path(gradgraph.__file__).resolve().parent

#: The one circle allowed: Tensor's operators create gates, gates create Tensors.
OPERATOR_CIRCLE = {"gradgraph.tensor", "gradgraph.gate", "gradgraph.ops"}

#: A class longer than this is doing more than one job.
MAX_CLASS_LINES = 300


def module_name(path: Path) -> str:
    parts = ("gradgraph",) + path.relative_to(ENGINE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def engine_modules() -> dict:
    return {module_name(path): path for path in sorted(ENGINE.rglob("*.py"))}


def imported(name: str, path: Path, modules: dict) -> set:
    """The gradgraph modules that module ``name`` imports (``from . import x`` names x
    if it is a module, else the package it comes from)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict:
    modules = engine_modules()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def circles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def allowed(component: set) -> bool:
    return all(m in OPERATOR_CIRCLE or m.startswith("gradgraph.ops.") for m in component)


def test_no_import_circles_but_the_operator_one():
    bad = [sorted(c) for c in circles(import_graph()) if not allowed(c)]
    assert not bad, f"import circles inside gradgraph/: {bad}"


def test_the_circle_finder_finds_circles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [{"a", "b", "c"}]
    assert not allowed({"gradgraph.graph.graph", "gradgraph.graph.dot"})
    assert allowed({"gradgraph.tensor", "gradgraph.gate", "gradgraph.ops.elementwise"})


def test_lazy_imports_count(tmp_path):
    package = tmp_path / "gradgraph"
    package.mkdir()
    probe = package / "probe.py"
    probe.write_text("def f():\n    from .dot import to_dot\n")
    assert imported("gradgraph.probe", probe, {"gradgraph.dot": None, "gradgraph.probe": None}) == {"gradgraph.dot"}


def test_the_graph_model_imports_nothing_that_presents_it():
    graph = import_graph()
    presenters = {f"gradgraph.graph.{m}" for m in ("stepper", "ledger", "flow", "check", "views", "layout",
                                                    "dot", "walk")}
    assert not graph["gradgraph.graph.graph"] & presenters
    assert graph["gradgraph.graph.graph"] <= {"gradgraph.tensor", "gradgraph.graph.fmt"}


def long_classes(root: Path) -> list:
    """``"module.Class: n lines"`` for every class under ``root`` longer than MAX_CLASS_LINES."""
    long = []
    for path in sorted(root.rglob("*.py")):
        name = ".".join((root.name,) + path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    return long


def test_no_class_is_longer_than_300_lines():
    assert not long_classes(ENGINE), long_classes(ENGINE)


def test_no_app_class_is_longer_than_300_lines():
    """The app's windows and panels too: each is composed of collaborators with one job."""
    app = Path(gradgraph_gui.__file__).resolve().parent
    assert not long_classes(app), long_classes(app)


def test_the_class_measure_finds_a_long_class(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{k} = {k}" for k in range(MAX_CLASS_LINES - 1))
    (package / "fits.py").write_text(f"class Fits:\n{body}\n")
    (package / "long.py").write_text(f"class Long:\n{body}\n    one_more = 1\n")
    assert long_classes(package) == [f"pkg.long.Long: {MAX_CLASS_LINES + 1} lines"]
