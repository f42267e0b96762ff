"""Pictures of a lesson's step-through for slides: ``gradgraph export``.

    gradgraph export 1 --gif chain_rule.gif          # an animated GIF, one frame per step
    gradgraph export 1 --frames frames/              # frame_001.png, frame_002.png, ...
    gradgraph export 1 --svg slides/                 # frame_001.svg, ... (vector, for editing)

Each frame shows the lesson's graph (``build()``) after one more step of the
forward or backward pass, drawn like the app draws it: inputs on the left,
the output on the right, values in dark blue as they appear, gradients in red
as they arrive, the current node outlined in orange, and below the graph the
step in words (for a backward step, the chain-rule ledger: upstream gradient ×
local gradient). Large graphs (LeNet) are drawn with one box per layer.

The drawing uses matplotlib (the Agg and SVG backends, never Qt) on the
positions of :mod:`gradgraph.graph.layout`; Pillow writes the GIF. From Python::

    from gradgraph import export
    export.export_lesson(1, gif="chain_rule.gif")
    for fig in export.frames(output_tensor): ...      # any graph, one Figure per step
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write
from .graph import Graph, Stepper, collapsed, full, step_ledger
from .graph.fmt import fmt_short

__all__ = ["DEFAULT_WIDTH", "MIN_WIDTH", "export_lesson", "frames", "cli_export"]

#: Frame width in pixels (slides are 1280 or 1920 wide); frames are never narrower than MIN_WIDTH.
DEFAULT_WIDTH = 1280
MIN_WIDTH = 600
DPI = 100
#: Graphs with more nodes than this are drawn one box per layer (when they have layers).
GROUP_ABOVE = 16
#: Fold a graph into more rows while its boxes would be drawn smaller than this (page points per layout point).
MIN_SCALE = 0.8
MAX_GRAPH_HEIGHT = 7.0   # inches

# The app's palette (gui/graph_view.py), so exported frames look like the screen.
KIND_FILL = {"input": "#dbeafe", "parameter": "#ede9fe", "constant": "#f1f5f9", "intermediate": "#ffffff"}
GROUP_FILL = "#fefce8"
CURRENT = "#f97316"
BORDER = "#64748b"
UNKNOWN = "#aab6c6"
UNKNOWN_TEXT = "#8391a7"
VALUE_TEXT = "#1e3a8a"
GRAD_TEXT = "#b91c1c"
BACKGROUND = "#f8fafc"


def _positions(view):
    """The layout of a view, with Graphviz's dot when it is installed (quietly falling back)."""
    from .graph.layout import layout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return layout(view, engine="auto")


class _Geometry:
    """Box positions and edge polylines to draw: the layout as it is, or cut into ``rows`` bands of
    columns stacked top to bottom (a long chain such as LeNet's layers would otherwise be too small
    to read on a slide). Each band keeps its own height; edges between bands run along the gap."""

    def __init__(self, lay, rows: int = 1, gap: float = 40.0):
        from .graph.layout import Box

        step = lay.width / rows
        band = {name: min(rows - 1, int((box.x + box.w / 2) / step)) for name, box in lay.boxes.items()}
        inside = [r for r in lay.routes if band[r.source] == band[r.target]]
        dx, dy, bottoms, top = [], [], [], 0.0
        for k in range(rows):
            names = [n for n, b in band.items() if b == k]
            ys = [lay.boxes[n].y for n in names] + [p[1] for r in inside if band[r.source] == k for p in r.points]
            ends = [lay.boxes[n].y + lay.boxes[n].h for n in names] + \
                [p[1] for r in inside if band[r.source] == k for p in r.points]
            low, high = (min(ys), max(ends)) if names else (0.0, 0.0)
            dx.append(min((lay.boxes[n].x for n in names), default=0.0) if rows > 1 else 0.0)
            dy.append(top - low if rows > 1 else 0.0)
            bottoms.append(top + high - low)
            top += high - low + gap
        self.boxes = {name: Box(name, box.x - dx[band[name]], box.y + dy[band[name]], box.w, box.h)
                      for name, box in lay.boxes.items()}
        self.routes = []
        for route in lay.routes:
            a, b = band[route.source], band[route.target]
            if a == b:
                points = np.array(route.points, dtype=float) + np.array([-dx[a], dy[a]])
            else:   # across a fold: out to the right, back along the gap below the band, in from the left
                s, t = self.boxes[route.source], self.boxes[route.target]
                between = bottoms[a] + gap / 2
                points = np.array([[s.x + s.w, s.y + s.h / 2], [s.x + s.w + 12, s.y + s.h / 2],
                                   [s.x + s.w + 12, between], [t.x - 12, between],
                                   [t.x - 12, t.y + t.h / 2], [t.x, t.y + t.h / 2]])
            self.routes.append((route.index, route.target, points))
        self.width = max(max(box.x + box.w for box in self.boxes.values()) + (12 if rows > 1 else 0),
                         lay.width if rows == 1 else 0)
        self.height = max(max(box.y + box.h for box in self.boxes.values()), lay.height if rows == 1 else 0)


def _node_lines(stepper, box):
    """(title, subtitle, value line, grad line, value known, gradient state) for one box."""
    if box.is_group:
        members = box.members
        values = sum(stepper.value_known(m.index) for m in members)
        states = [stepper.grad_state(m.index) for m in members]
        grads = sum(s == "known" for s in states)
        needing = sum(s != "none" for s in states)
        out = box.output
        value = stepper.value(out.index)
        grad = stepper.grad(out.index)
        return (box.label, ", ".join(box.gate_names[:3]),
                f"values {values}/{len(members)}" + (f"  {fmt_short(value)}" if value is not None else ""),
                f"grads {grads}/{needing}" + (f"  {fmt_short(grad)}" if grad is not None else "") if needing else "",
                values > 0, "known" if needing and grads == needing else ("partial" if grads else "unknown"))
    node = box.node
    value = stepper.value(node.index)
    state = stepper.grad_state(node.index)
    grad = stepper.grad(node.index)
    subtitle = node.symbol if node.gate is not None else node.kind
    shape = "" if node.is_scalar else "×".join(map(str, node.shape))
    grad_line = "" if state == "none" else "grad " + (fmt_short(grad) if grad is not None else "?")
    return (node.name, f"{subtitle}  {shape}".strip(), "val " + (fmt_short(value) if value is not None else "?"),
            grad_line, value is not None, state)


def _caption(stepper) -> list:
    """The lines under the graph: the step in words, and the ledger of a backward step."""
    step = stepper.current
    if step is None:
        return ["Nothing computed yet: step through the forward pass."]
    lines = [step.text]
    if step.phase == "backward" and step.kind != "seed":
        lines += [line.text for line in step_ledger(step)][:4]
    return lines


def _fold(lay, width_px: int):
    """The geometry with the fewest rows (at most 4) whose boxes are drawn at MIN_SCALE or larger;
    failing that, the one that draws them largest."""
    best = None
    for rows in range(1, 5):
        geometry = _Geometry(lay, rows)
        if _scale(geometry, width_px) >= MIN_SCALE:
            return geometry
        if best is None or _scale(geometry, width_px) > _scale(best, width_px):
            best = geometry
    return best


def _scale(geometry, width_px: int, margin: float = 24.0) -> float:
    width_in = max(width_px, MIN_WIDTH) / DPI
    graph_w, graph_h = geometry.width + 2 * margin, geometry.height + 2 * margin
    graph_in = min(width_in * graph_h / graph_w, MAX_GRAPH_HEIGHT)
    return min(0.98 * width_in * 72 / graph_w, graph_in * 72 / graph_h)


def _draw(stepper, view, lay, title: str, width_px: int):
    """One frame: the graph at the stepper's position, as a matplotlib Figure (no pyplot).
    ``lay`` is a folded geometry (:func:`_fold`)."""
    import textwrap

    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    margin = 24.0
    graph_w, graph_h = lay.width + 2 * margin, lay.height + 2 * margin
    width_in = max(width_px, MIN_WIDTH) / DPI
    graph_in = min(width_in * graph_h / graph_w, MAX_GRAPH_HEIGHT)   # the graph's height on the page
    header_in, caption_in = 0.95, 1.6
    fig = Figure(figsize=(width_in, header_in + graph_in + caption_in), dpi=DPI, facecolor=BACKGROUND)
    total = header_in + graph_in + caption_in
    ax = fig.add_axes((0.01, caption_in / total, 0.98, graph_in / total))
    ax.set_xlim(-margin, lay.width + margin)
    ax.set_ylim(lay.height + margin, -margin)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    scale = _scale(lay, width_px, margin)   # page points per layout point: fonts follow the boxes
    font = lambda size: max(5.0, size * scale)  # noqa: E731

    current = stepper.current.node if stepper.current is not None else None
    for index, target_name, points in lay.routes:
        edge = view.edges[index]
        crossed = [stepper.edge_known(e) for e in edge.edges]
        value_crossed = any(v for v, _ in crossed)
        grad_crossed = any(g for _, g in crossed)
        points = points.copy()
        target = lay.boxes[target_name]
        direction = points[-1] - points[-2]
        if direction[0] > 1e-6 and points[-1][0] < target.x:   # dot ends the line where its arrowhead starts
            points[-1] = points[-1] + direction * (target.x - points[-1][0]) / direction[0]
        colour = GRAD_TEXT if grad_crossed else (BORDER if value_crossed else UNKNOWN)
        ax.plot(points[:, 0], points[:, 1], color=colour, lw=max(0.6, 1.6 * scale), zorder=1,
                ls="-" if value_crossed else (0, (3, 2)))
        ax.add_patch(FancyArrowPatch(tuple(points[-2]), tuple(points[-1]), arrowstyle="-|>",
                                     mutation_scale=12 * scale, color=colour, lw=0, zorder=1))

    for box in view.nodes:
        x, y, w, h = lay.boxes[box.name]
        name, subtitle, value_line, grad_line, known, state = _node_lines(stepper, box)
        is_current = current is not None and any(m is current for m in box.members)
        fill = GROUP_FILL if box.is_group else KIND_FILL.get(box.node.kind, "#ffffff")
        edge_colour = CURRENT if is_current else (BORDER if known else UNKNOWN)
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={6}",
                                    facecolor=fill, edgecolor=edge_colour,
                                    lw=(3.0 if is_current else 1.2) * max(scale, 0.5), zorder=2))
        text_colour = "#0f172a" if known else UNKNOWN_TEXT
        rows = [(name, font(9.5), "bold", text_colour), (subtitle, font(7.5), "normal", BORDER),
                (value_line, font(7.5), "normal", VALUE_TEXT if known else UNKNOWN_TEXT)]
        if grad_line:
            rows.append((grad_line, font(7.5), "normal", GRAD_TEXT if state != "unknown" else UNKNOWN_TEXT))
        step = h / (len(rows) + 0.6)
        for k, (text, size, weight, colour) in enumerate(rows):
            ax.text(x + w / 2, y + step * (k + 0.8), _fit(text, w, size / max(scale, 1e-3)), ha="center",
                    va="center", fontsize=size, fontweight=weight, color=colour, zorder=3, family="DejaVu Sans")

    position = f"step {stepper.position}/{len(stepper)} · {stepper.phase} pass"
    fig.text(0.015, 1 - 0.3 * header_in / total, _cut(title, int(width_in * DPI / 12)), fontsize=17,
             fontweight="bold", va="center", color="#0f172a")
    fig.text(0.015, 1 - 0.75 * header_in / total, position, fontsize=14, va="center", ha="left",
             color=GRAD_TEXT if stepper.phase == "backward" else VALUE_TEXT)
    columns = int(width_in * DPI / 12.5)   # characters per line: 15-pt text, 13-pt monospace a little more
    caption = _caption(stepper)
    lines = textwrap.wrap(caption[0], columns)[:2] + [_cut(line, int(width_in * DPI / 11.5)) for line in caption[1:]]
    for k, line in enumerate(lines[:5]):
        fig.text(0.015, (caption_in - 0.3 - 0.26 * k) / total, line, fontsize=15 if k < len(lines) - len(caption) + 1 else 13,
                 family="DejaVu Sans" if k < len(lines) - len(caption) + 1 else "DejaVu Sans Mono",
                 color="#0f172a" if k < len(lines) - len(caption) + 1 else GRAD_TEXT,
                 va="center")
    return fig


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[:room - 1] + "…"


def _fit(text: str, box_width: float, size_pt: float) -> str:
    """Cut ``text`` to what fits in ``box_width`` layout points at about 0.58 em per character."""
    return _cut(text, max(4, int((box_width - 8) / (0.58 * size_pt))))


def frames(output, title: str = "", width: int = DEFAULT_WIDTH):
    """One matplotlib Figure per step of ``output``'s step-through (a Tensor or a Graph): frame k shows the
    graph after step k (1 .. number of steps). Graphs of more than GROUP_ABOVE nodes are drawn one box
    per layer (scope group), and a long graph is folded into rows."""
    graph = output if isinstance(output, Graph) else Graph(output)
    view = full(graph)
    if len(graph.nodes) > GROUP_ABOVE:
        grouped = collapsed(graph)
        view = grouped if len(grouped.nodes) < len(view.nodes) else view
    lay = _fold(_positions(view), width)
    stepper = Stepper(graph)
    for _ in range(len(stepper)):
        stepper.step()
        yield _draw(stepper, view, lay, title, width)


def _rgb(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def export_lesson(lesson, gif=None, frames_dir=None, svg_dir=None, width: int = DEFAULT_WIDTH,
                  duration: int = 1200, progress=None) -> dict:
    """Render a lesson's step-through: an animated GIF (``duration`` ms per frame, the last one held
    three times as long), PNG frames and/or SVG frames. Returns ``{"frames": n, "size": (w, h), ...paths}``."""
    from . import lessons

    if gif is None and frames_dir is None and svg_dir is None:
        raise ValueError("export: choose at least one of gif, frames_dir, svg_dir")
    if int(width) < MIN_WIDTH:
        raise ValueError(f"export: width must be at least {MIN_WIDTH} pixels, got {width}")
    info = lessons.find_lesson(lesson)
    module = lessons.load(info)
    if not callable(getattr(module, "build", None)):
        raise ValueError(f"export: lesson {info.number} ({info.slug}) has no build() to draw")
    title = f"{info.title}"
    images, count = [], 0
    for directory in (frames_dir, svg_dir):
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
    size = None
    for count, fig in enumerate(frames(module.build(), title, int(width)), start=1):
        if frames_dir is not None:
            with atomic_write(Path(frames_dir) / f"frame_{count:03d}.png") as f:
                fig.savefig(f, format="png", dpi=DPI, facecolor=fig.get_facecolor())
        if svg_dir is not None:
            from matplotlib import rc_context

            with rc_context({"svg.fonttype": "none"}), \
                    atomic_write(Path(svg_dir) / f"frame_{count:03d}.svg") as f:   # text stays text: editable
                fig.savefig(f, format="svg", facecolor=fig.get_facecolor())
        pixels = _rgb(fig)
        size = (pixels.shape[1], pixels.shape[0])
        if gif is not None:
            images.append(pixels)
        if progress is not None:
            progress(count)
    if gif is not None:
        from PIL import Image

        pictures = [Image.fromarray(p).quantize(colors=255, method=Image.Quantize.MEDIANCUT) for p in images]
        durations = [int(duration)] * (len(pictures) - 1) + [3 * int(duration)]
        with atomic_write(Path(gif)) as f:
            pictures[0].save(f, format="GIF", save_all=True, append_images=pictures[1:], duration=durations,
                             loop=0, optimize=False)
    return {"frames": count, "size": size, "gif": gif, "frames_dir": frames_dir, "svg_dir": svg_dir}


def cli_export(args) -> int:
    """``gradgraph export LESSON --gif PATH [--frames DIR] [--svg DIR] [--width PX] [--duration MS]``"""
    from .lessons import LessonNotFoundError

    gif, frames_dir, svg_dir = getattr(args, "gif", None), getattr(args, "frames", None), getattr(args, "svg", None)
    if gif is None and frames_dir is None and svg_dir is None:
        print("export: say what to write: --gif PATH, --frames DIR (PNG) and/or --svg DIR", file=sys.stderr)
        return 2
    width = int(getattr(args, "width", None) or DEFAULT_WIDTH)
    if width < MIN_WIDTH:
        print(f"export: --width must be at least {MIN_WIDTH} pixels, got {width}", file=sys.stderr)
        return 2
    if gif is not None and not os.path.isdir(os.path.dirname(os.path.abspath(gif))):
        print(f"export: the folder of {gif} does not exist", file=sys.stderr)
        return 2
    tty = sys.stderr.isatty()
    try:
        result = export_lesson(args.lesson, gif, frames_dir, svg_dir, width,
                               int(getattr(args, "duration", None) or 1200),
                               progress=(lambda n: print(f"\rframe {n}", end="", file=sys.stderr, flush=True))
                               if tty else None)
    except LessonNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    except ValueError as error:
        print(("\n" if tty else "") + str(error), file=sys.stderr)
        return 2
    if tty:
        print("", file=sys.stderr)
    w, h = result["size"]
    for what, where in (("GIF", gif), ("PNG frames", frames_dir), ("SVG frames", svg_dir)):
        if where is not None:
            print(f"{what}: {where}  ({result['frames']} frames, {w}x{h} px)")
    return 0
