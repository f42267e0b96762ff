"""Drawing a graph with Graphviz: DOT source, SVG/PNG files, inline in Jupyter.

    print(to_dot(graph))                # DOT source (a string; no Graphviz needed)
    render(graph, "f.svg")              # needs Graphviz's `dot` program
    graph                               # in Jupyter: drawn inline (text without dot)

Each box shows the node's name and gate symbol, its value (green) and its
gradient (red): numbers for scalars (``-12``, ``0.731``), shape and
statistics for tensors. Arrows get thicker and redder where more gradient
flows back through them (the RMS magnitude on a log scale, see
:mod:`~gradgraph.graph.flow`). Given a stepper, only what is known at its
position is shown, and the current node is outlined in orange.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import views
from .flow import Flow
from .fmt import fmt_number, fmt_shape, is_scalar, rms, stats
from .graph import Graph
from .layout import GraphvizNotFoundError, dot_program, missing_dot_message

VALUE_COLOUR = "#1a7f37"
GRAD_COLOUR = "#cf222e"
CURRENT_COLOUR = "#f0883e"
_COLD, _HOT = (0x8c, 0x95, 0x9f), (0xd1, 0x24, 0x2f)
_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
#: Larger graphs are drawn collapsed to their groups in Jupyter, or not at all.
INLINE_LIMIT = 150


def _html(text: str) -> str:
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _number_or_stats(array) -> str:
    """``-12`` / ``0.731`` for one element, else ``(64, 120) μ 0.01 |max| 0.4``."""
    if is_scalar(array):
        return fmt_number(float(np.asarray(array).reshape(-1)[0]), 3)
    s = stats(array)
    return f"{fmt_shape(np.shape(array))} μ {fmt_number(s['mean'], 3)} |max| {fmt_number(s['absmax'], 3)}"


def _grad_text(array) -> str:
    if is_scalar(array):
        return fmt_number(float(np.asarray(array).reshape(-1)[0]), 3)
    return f"rms {fmt_number(rms(array), 3)} |max| {fmt_number(stats(array)['absmax'], 3)}"


def _colour(level: float) -> str:
    r, g, b = (round(c + (h - c) * level) for c, h in zip(_COLD, _HOT))
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(title: str, subtitle: str, value: str | None, grad: str | None) -> str:
    rows = [f'<tr><td><b>{_html(title)}</b>{"  " + _html(subtitle) if subtitle else ""}</td></tr>']
    if value is not None:
        rows.append(f'<tr><td><font color="{VALUE_COLOUR}">{_html(value)}</font></td></tr>')
    if grad is not None:
        rows.append(f'<tr><td><font color="{GRAD_COLOUR}">∂ {_html(grad)}</font></td></tr>')
    return '<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">' + "".join(rows) + "</table>>"


def to_dot(target, stepper=None, expanded=None, collapsed: bool = False, flow=True, check=None,
           values: bool = True, grads: bool = True, title: str | None = None) -> str:
    """DOT source for a Graph or a view of one (``views.full(graph)``, ``views.collapsed(graph)``).

    A Graph is drawn node by node, or with ``collapsed=True`` (or ``expanded``,
    the group paths to open) one box per scope group. ``stepper``: show only
    what is known at its position. ``flow``: style arrows by gradient magnitude
    (True computes ``Flow(graph)``; a Flow may be passed; False: plain arrows).
    ``check``: a ``gradcheck(graph)`` result, drawing failing nodes with a red
    border and blamed gates filled red.
    """
    if isinstance(target, Graph):
        target = views.collapsed(target, expanded) if (collapsed or expanded is not None) else views.full(target)
    view = target
    graph = view.graph
    if flow is True:
        try:
            flow = Flow(graph)
        except Exception:  # a broken gate must not stop the drawing
            flow = None
    flow = flow or None
    current = stepper.current.node if stepper is not None and stepper.current is not None else None

    def value_of(node):
        if not values:
            return None
        if stepper is None:
            return _number_or_stats(graph.value(node.index))
        v = stepper.value(node)
        return None if v is None else _number_or_stats(v)

    def grad_of(node):
        if not grads or not node.requires_grad:
            return None
        try:
            return known_grad(node)
        except Exception:  # a gate whose backward fails: still draw the values
            return "error"

    def known_grad(node):
        if stepper is None:
            g = graph.grad(node.index)
            return None if g is None else _grad_text(g)
        g = stepper.grad(node)
        if g is None:
            return None
        return _grad_text(g) + ("" if stepper.grad_known(node) else " (partial)")

    out = ["digraph gradgraph {", "  rankdir=LR;", '  graph [fontname="Helvetica", nodesep=0.25, ranksep=0.5];',
           '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", fillcolor="white"];',
           '  edge [color="#8c959f", arrowsize=0.7];']
    if title:
        out.append(f'  label="{_escape(title)}"; labelloc=t;')
    for v in view.nodes:
        attrs = {}
        if v.kind == "group":
            node = v.output
            gates = ", ".join(v.gate_names[:3]) + (", ..." if len(v.gate_names) > 3 else "")
            attrs["label"] = _label(v.label, f"[{gates}]" if gates else "", value_of(node), grad_of(node))
            attrs["style"] = '"filled,bold"'
            attrs["fillcolor"] = '"#f6f8fa"'
            attrs["peripheries"] = "2"
            members = v.members
        else:
            node = v.node
            attrs["label"] = _label(node.name, node.symbol, value_of(node), grad_of(node))
            if node.kind == "parameter":
                attrs["fillcolor"] = '"#fff8c5"'
            elif node.kind == "constant":
                attrs["style"] = '"rounded,dashed"'
            elif node.kind == "input":
                attrs["fillcolor"] = '"#ddf4ff"'
            members = [node]
        tooltip = node.formula or node.kind
        attrs["tooltip"] = f'"{_escape(tooltip)}"'
        if flow is not None and any(flow[m.name].flags for m in members):
            attrs["color"] = '"#bf8700"'
            attrs["penwidth"] = "2"
            if any("nonfinite" in flow[m.name].flags for m in members):
                attrs["fillcolor"] = '"#ffebe9"'
        if check is not None:
            results = [check[m.name] for m in members if m.name in check]
            if any(not r.ok for r in results):
                attrs["color"] = f'"{GRAD_COLOUR}"'
                attrs["penwidth"] = "2"
            if any(r.blamed for r in results):
                attrs["fillcolor"] = '"#ffd7d5"'
        if current is not None and current in members:
            attrs["color"] = f'"{CURRENT_COLOUR}"'
            attrs["penwidth"] = "3"
        out.append(f"  n{v.index} [{', '.join(f'{k}={val}' for k, val in attrs.items())}];")
    for e in view.edges:
        attrs = []
        if flow is not None:
            shown = [edge for edge in e.edges
                     if stepper is None or stepper.edge_known(edge)[1]]
            levels = [flow.edges[edge.index].level for edge in shown if flow.edges[edge.index].magnitude is not None]
            if levels:
                level = max(levels)
                attrs += [f'color="{_colour(level)}"', f"penwidth={1 + 3 * level:.2f}"]
        out.append(f"  n{e.source.index} -> n{e.target.index}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _run_dot(source: str, fmt: str, timeout: float = 120.0) -> bytes:
    program = dot_program()
    if program is None:
        raise GraphvizNotFoundError(missing_dot_message())
    run = subprocess.run([program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                         timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"dot failed: {run.stderr.decode('utf-8', 'replace').strip()}")
    return run.stdout


def render(target, path, **options) -> Path:
    """Draw a Graph, a view or DOT source as ``path`` (.svg, .png or .pdf, by suffix)
    with ``dot``; ``options`` go to :func:`to_dot`.

    The file is written atomically (a temporary file, then renamed). Raises
    :class:`GraphvizNotFoundError` with install hints when ``dot`` is missing.
    """
    source = target if isinstance(target, str) else to_dot(target, **options)
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"render: cannot tell the format from {path.name!r}; use .svg, .png or .pdf")
    data = _run_dot(source, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def svg(source: str) -> str:
    """The SVG drawing of DOT ``source`` (needs ``dot``)."""
    return _run_dot(source, "svg").decode("utf-8")


def mimebundle(graph) -> dict:
    """What Jupyter shows for a Graph: an SVG drawing when ``dot`` is available
    (collapsed to groups when the graph is big), else a text summary."""
    text = repr(graph)
    if dot_program() is None:
        return {"text/plain": text + "  (install Graphviz's `dot` to see it drawn)"}
    view = views.full(graph)
    if len(view.nodes) > INLINE_LIMIT and graph.groups:
        view = views.collapsed(graph)
    if len(view.nodes) > 2 * INLINE_LIMIT:
        return {"text/plain": text + "  (too big to draw inline: use render(graph, path, collapsed=True))"}
    try:
        return {"image/svg+xml": svg(to_dot(view)), "text/plain": text}
    except Exception as error:  # never break the notebook's display
        return {"text/plain": f"{text}  (drawing failed: {error})"}
