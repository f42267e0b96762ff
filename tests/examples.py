"""Small graphs that several test files build."""
import gradgraph as gg


def lecture():
    """f = (x + y) z at x = -2, y = 5, z = -4, with q and f named as in the lecture."""
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    q = x + y
    q.name = "q"
    f = q * z
    f.name = "f"
    return f
