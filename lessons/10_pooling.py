"""# 10. Pooling: max routes the gradient, average spreads it

A **pooling** layer shrinks each channel of a feature map on its own: it
slides a window (usually 2 × 2 with stride 2) and keeps one number per
window.

- **Max pooling** keeps the largest value: "the feature is somewhere in this
  window; its exact position matters less". It is also a non-linearity.
- **Average pooling** keeps the mean.

Pooling has **no parameters**. It halves the height and width (a quarter of
the values), so later layers see a larger part of the image for the same
cost, and a small shift of the input often leaves the pooled output
unchanged. The output size is the convolution formula with `D = 1`:
`floor((W + 2P - K) / S) + 1`.

A typical CNN stacks `[CONV → ReLU → POOL] × N`, then flattens and finishes
with fully connected layers and a softmax. CONV and FC layers have
parameters; ReLU and POOL do not.

## The example

    x = [[1, 3, 2, 0],          max pool 2×2:  [[4, 5],
         [4, 2, 1, 5],                          [6, 7]]
         [0, 1, 7, 2],
         [6, 2, 3, 1]]          average pool:  [[2.5,  2.0 ],
                                                [2.25, 3.25]]

## Backward

Let the upstream gradient be `d_out = [[1, 2], [3, 4]]`.

**Max pooling routes**, exactly like the max gate of lesson 2: each window's
gradient goes to the element that won (the forward pass remembers where it
was, the `argmax`), and the other three get 0:

    d_x = [[0, 0, 0, 0],
           [1, 0, 0, 2],
           [0, 0, 4, 0],
           [3, 0, 0, 0]]

**Average pooling spreads**: `out = (x1 + x2 + x3 + x4) / 4`, so each of the
four elements has local gradient 1/4 and receives a quarter of its window's
gradient:

    d_x = [[0.25, 0.25, 0.5, 0.5 ],
           [0.25, 0.25, 0.5, 0.5 ],
           [0.75, 0.75, 1.0, 1.0 ],
           [0.75, 0.75, 1.0, 1.0 ]]

When windows **overlap** (stride smaller than the window, e.g. 3 × 3 windows
with stride 2) an element can be the maximum of several windows, and then it
collects the **sum** of their gradients: a value used several times, as in
lesson 2.

## Try it

- Step through `build()` in the app: the gradient arriving at `x` is zero
  except at the four winners.
- `figures()`: edges of the photo pooled again and again, max vs average.
  Max pooling keeps the thin edges bright; averaging smears them out.
- Exercise 10.1: write max pooling's backward pass with loops, including
  overlapping windows.
"""
import numpy as np

import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "Max pooling routes the gradient to each window's winner, average pooling spreads it evenly."
EXERCISES = ["10.1"]

X = np.array([[1.0, 3.0, 2.0, 0.0],
              [4.0, 2.0, 1.0, 5.0],
              [0.0, 1.0, 7.0, 2.0],
              [6.0, 2.0, 3.0, 1.0]])
D_OUT = np.array([[1.0, 2.0], [3.0, 4.0]])


def build():
    """L = Σ d_out · maxpool(x): backward delivers d_out = [[1, 2], [3, 4]] to the pooling gate."""
    x = gg.Tensor(X[None, None], name="x")
    pooled = gg.max_pool2d(x, 2)
    pooled.name = "maxpool"
    weighted = pooled * D_OUT[None, None]
    weighted.name = "weighted"
    loss = weighted.sum()
    loss.name = "L"
    return loss


def pool_and_backward(kind, kernel=2, stride=None, x=X, d_out=D_OUT):
    """Forward and backward of one pooling gate on a single-channel image."""
    t = gg.Tensor(x[None, None], name="x")
    pool = gg.max_pool2d if kind == "max" else gg.avg_pool2d
    out = pool(t, kernel, stride)
    out.backward(d_out[None, None])
    return out.data[0, 0], t.grad[0, 0]


def show(name, a):
    print(f"  {name} =\n    " + np.array2string(np.asarray(a), precision=3, separator=", ").replace("\n", "\n    "))


def run(quick=False):
    print("The 4x4 example, 2x2 windows, stride 2, upstream gradient d_out = [[1, 2], [3, 4]]\n")
    max_out, max_grad = pool_and_backward("max")
    avg_out, avg_grad = pool_and_backward("avg")
    show("max pool", max_out)
    show("d_x (max routes to the winners)", max_grad)
    show("average pool", avg_out)
    show("d_x (average spreads d_out / 4)", avg_grad)

    print("\nThe same as a graph")
    walkthrough(build())

    print("\nOverlapping windows: 3x3, stride 1, on an input whose 9 is in all four windows")
    x = np.array([[1.0, 2.0, 0.0, 1.0], [0.0, 9.0, 3.0, 0.0], [2.0, 1.0, 0.0, 2.0], [1.0, 0.0, 1.0, 3.0]])
    overlap_out, overlap_grad = pool_and_backward("max", 3, 1, x=x)
    show("max pool", overlap_out)
    show("d_x (the 9 collects 1 + 2 + 3 + 4)", overlap_grad)

    print("\nA small shift: a feature at (1, 1) moved to (0, 0) stays in the same 2x2 window")
    a, b = np.zeros((4, 4)), np.zeros((4, 4))
    a[1, 1], b[0, 0] = 1.0, 1.0
    same = np.array_equal(gg.max_pool2d(a[None, None], 2).data, gg.max_pool2d(b[None, None], 2).data)
    print(f"  max-pooled outputs identical: {same}")

    rng = np.random.default_rng(0)
    ok = all(gg.gradcheck(lambda t, k=k, s=s: pool(t, k, s), [gg.Tensor(rng.normal(size=(1, 2, 6, 6)))])
             for pool in (gg.max_pool2d, gg.avg_pool2d) for k, s in ((2, 2), (3, 2)))
    print(f"\ngradcheck of max and average pooling (2x2/2 and overlapping 3x3/2): {'passes' if ok else 'fails'}")

    return {"max": max_out.tolist(), "max_grad": max_grad.tolist(), "avg": avg_out.tolist(),
            "avg_grad": avg_grad.tolist(), "overlap_grad": overlap_grad.tolist(), "shift_invariant": same,
            "gradcheck": ok}


def edge_map(factor):
    """|Sobel x| of the grayscale photo of Grace Hopper, downsampled by ``factor``."""
    import matplotlib.cbook
    import matplotlib.image

    rgb = matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    gray = (rgb[..., :3] / 255.0) @ np.array([0.299, 0.587, 0.114])
    gray = gray[::factor, ::factor]
    sobel = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None]
    with gg.no_grad():
        return np.abs(gg.conv2d(gray[None, None], sobel, padding=1).data)  # (1, 1, H, W)


def figures(quick=False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, (title, a) in zip(axes, (("x", X), ("d_x, max pooling", pool_and_backward("max")[1]),
                                      ("d_x, average pooling", pool_and_backward("avg")[1]))):
        ax.imshow(a, cmap="Blues")
        for (i, j), v in np.ndenumerate(a):
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=10)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("d_out = [[1, 2], [3, 4]]: max routes, average spreads")

    edges = edge_map(4 if quick else 2)
    fig2 = Figure(figsize=(10, 5.5), layout="constrained")
    axes = fig2.subplots(2, 4)
    vmax = np.percentile(edges, 99.5)  # one brightness scale for every panel
    for row, (kind, pool) in enumerate((("max", gg.max_pool2d), ("average", gg.avg_pool2d))):
        image = edges
        for col in range(4):
            shown = image[0, 0]
            axes[row, col].imshow(shown, cmap="gray", vmin=0, vmax=vmax)
            what = "edges" if col == 0 else f"{kind} pooled {('once', 'twice', '3 times')[col - 1]}"
            axes[row, col].set_title(f"{what}: {shown.shape[0]}x{shown.shape[1]}", fontsize=9)
            axes[row, col].set_axis_off()
            with gg.no_grad():
                image = pool(image, 2).data
    fig2.suptitle("Edges (|Sobel x|) of the photo, pooled 2x2 again and again")
    return [fig, fig2]


if __name__ == "__main__":
    gg.lessons.main(run)
