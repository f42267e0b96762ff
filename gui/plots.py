"""matplotlib embedding, imported lazily (matplotlib costs startup time)."""
from __future__ import annotations


def make_canvas(width_in: float, height_in: float, dpi: int = 100):
    """A (FigureCanvasQTAgg, Figure) pair. Imports matplotlib on first use."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=dpi)
    canvas = FigureCanvasQTAgg(fig)
    return canvas, fig


def canvas_for(figure):
    """Embed an existing matplotlib Figure (from a lesson's figures())."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg

    return FigureCanvasQTAgg(figure)
