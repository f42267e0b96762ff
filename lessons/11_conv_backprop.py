"""# 11. Backpropagation through a convolution, and a tiny CNN

A convolution is nothing but many multiply and add gates sharing weights, so
its backward pass follows from lesson 2's patterns. One output value is

    out[p, q] = Σ_i Σ_j w[i, j] · x[p + i, q + j] + b

Every product `w[i, j] · x[p + i, q + j]` is a multiply gate (it *switches*:
each factor receives `d_out[p, q]` times the other factor), and the sums are
add gates (they *distribute*). Every weight and every pixel takes part in
many products, and their gradients **add up**.

## The three gradients

    d_b       = Σ_{p,q} d_out[p, q]
    d_w[i, j] = Σ_{p,q} d_out[p, q] · x[p + i, q + j]     (x correlated with d_out)
    d_x[h, v] = Σ_{p,q} d_out[p, q] · w[h - p, v - q]     (d_out fully correlated with the flipped w)

The last line says: pad `d_out` with `K - 1` zeros on every side and slide the
kernel **flipped** (rotated by 180°) over it, a "full" correlation, which is a
true convolution of `d_out` with `w`. The forward pass was a correlation; its
backward with respect to the input is a convolution. With several channels
and filters, `d_w[f, c]` correlates input channel `c` with output channel `f`,
and `d_x[c]` sums the contributions of all filters. With stride `S`, `d_out`
is first spread out with `S - 1` zeros between its entries; with padding, the
padded border's gradient is cut off at the end.

## By hand

Take the 3 × 3 input 0..8, the 2 × 2 kernel `[[0, 1], [2, 3]]`, bias 0,
stride 1, no padding:

    x = [[0, 1, 2],        out = [[19, 25],        (19 = 0·0 + 1·1 + 2·3 + 3·4)
         [3, 4, 5],               [37, 43]]
         [6, 7, 8]]

With `d_out` all ones:

    d_b = 4
    d_w = [[0+1+3+4, 1+2+4+5],     = [[ 8, 12],      each weight saw four pixels
           [3+4+6+7, 4+5+7+8]]        [20, 24]]
    d_x = [[0, 1, 1],                               each pixel collects the weights
           [2, 6, 4],                               that touched it: the centre
           [2, 5, 3]]                               pixel 4 met all four, 0+1+2+3 = 6

`run()` computes `d_x` both ways (the engine's loops, and the full
correlation with the flipped kernel) for random shapes, with stride and
padding, and checks everything with `gradcheck`.

## A tiny CNN

Then `run()` trains the smallest network worth the name on 8 × 8 images of a
vertical or a horizontal bar:

    conv 3×3 (1 → 4 filters, padding 1) → ReLU → max pool 2×2 → flatten → linear (64 → 2)

It reaches high accuracy in a few epochs, and its four filters usually turn
into little edge detectors, the Sobel-like kernels of lesson 9, found by
gradient descent instead of by hand. `build()` is this network on one image,
with each layer grouped in the graph.

## Try it

- Exercise 11.1: write a convolution's backward pass with loops (d_x, d_w,
  d_b), with stride and padding. Compare with `gradgraph/kernels/reference.py`.
- Train the tiny CNN in the app and watch the filters form.
"""
import numpy as np

import gradgraph as gg
from gradgraph import nn
from gradgraph.graph.walk import walkthrough

SUMMARY = "d_x is d_out convolved with the flipped kernel; d_w correlates x with d_out; a tiny CNN learns edge filters."
EXERCISES = ["11.1"]

X = np.arange(9.0).reshape(3, 3)
W = np.array([[0.0, 1.0], [2.0, 3.0]])


def full_correlation_with_flipped(d_out, w, stride=1, padding=0, input_size=None):
    """d_x for a single-channel, single-filter convolution, without loops over positions:
    spread d_out by the stride, pad it by K - 1, correlate with the kernel rotated by 180°,
    then cut off the forward padding."""
    K = w.shape[0]
    if stride > 1:
        spread = np.zeros(((d_out.shape[0] - 1) * stride + 1, (d_out.shape[1] - 1) * stride + 1))
        spread[::stride, ::stride] = d_out
        d_out = spread
    padded = np.pad(d_out, K - 1)
    flipped = w[::-1, ::-1]
    H = padded.shape[0] - K + 1
    Wd = padded.shape[1] - K + 1
    d_xpad = np.array([[np.sum(padded[i:i + K, j:j + K] * flipped) for j in range(Wd)] for i in range(H)])
    if input_size is not None:  # rows/columns the forward never reached (stride) get no gradient
        size = input_size + 2 * padding
        d_xpad = np.pad(d_xpad, ((0, size - d_xpad.shape[0]), (0, size - d_xpad.shape[1])))
    return d_xpad[padding:d_xpad.shape[0] - padding, padding:d_xpad.shape[1] - padding]


def bars(n=200, size=8, seed=0):
    """Images of one vertical (label 0) or horizontal (label 1) bar, with noise: float32 (n, 1, size, size)."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0, 0.2, size=(n, 1, size, size)).astype(np.float32)
    labels = np.arange(n) % 2
    for k in range(n):
        where, start = rng.integers(1, size - 1), rng.integers(0, 3)
        length = rng.integers(size - 3, size - start + 1)
        if labels[k] == 0:
            images[k, 0, start:start + length, where] += 1.0
        else:
            images[k, 0, where, start:start + length] += 1.0
    order = rng.permutation(n)
    return images[order], labels[order].astype(np.int64)


class TinyCNN(nn.Module):
    """conv 3x3 (1 -> 4, padding 1) -> ReLU -> max pool 2x2 -> flatten -> linear (64 -> 2), for 8x8 images."""

    def __init__(self, seed=0, dtype=np.float32):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1, rng=seed, dtype=dtype)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 4 * 4, 2, init="xavier", rng=seed + 1, dtype=dtype)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))


def build():
    """The tiny CNN (float64) on one bar image, with its cross-entropy loss."""
    images, labels = bars(n=2)
    model = TinyCNN(dtype=np.float64)
    loss = gg.losses.cross_entropy(model(gg.Tensor(images[:1], name="image", requires_grad=False,
                                                   dtype=np.float64)), labels[:1])
    loss.name = "loss"
    return loss


def trainer(quick=False, *, epochs=None, batch_size=16, lr=0.01, seed=0, **options):
    """Adam on the bar images: the app shows the loss, the 4 filters and the feature maps."""
    images, labels = bars(n=120 if quick else 400, seed=seed)
    split = len(images) * 3 // 4
    model = TinyCNN(seed)
    return gg.train.Trainer(model, gg.optim.Adam(model.parameters(), lr=lr), (images[:split], labels[:split]),
                            (images[split:], labels[split:]), epochs=epochs or (2 if quick else 8),
                            batch_size=batch_size, seed=seed, **options)


def run(quick=False):
    print("By hand: x = 0..8 (3x3), w = [[0, 1], [2, 3]], stride 1, no padding, d_out = ones")
    x = gg.Tensor(X[None, None], name="x")
    w = gg.Tensor(W[None, None], name="w")
    b = gg.Tensor(np.zeros(1), name="b")
    out = gg.conv2d(x, w, b)
    out.backward(np.ones(out.shape))
    print(f"  out = {out.data[0, 0].tolist()}")
    print(f"  d_b = {b.grad.tolist()}   d_w = {w.grad[0, 0].tolist()}")
    print(f"  d_x = {x.grad[0, 0].tolist()}")
    by_flip = full_correlation_with_flipped(np.ones((2, 2)), W)
    print(f"  d_x as the full correlation of d_out with the flipped kernel: {by_flip.tolist()}")

    print("\nRandom 7x7 inputs and 3x3 kernels: the engine's d_x vs the flipped-kernel formula")
    rng = np.random.default_rng(0)
    differences = {}
    for stride, padding in ((1, 0), (1, 1), (2, 1), (2, 0)):
        xr = gg.Tensor(rng.normal(size=(1, 1, 7, 7)))
        wr = rng.normal(size=(3, 3))
        y = gg.conv2d(xr, wr[None, None], stride=stride, padding=padding)
        d_out = rng.normal(size=y.shape[2:])
        y.backward(d_out[None, None])
        formula = full_correlation_with_flipped(d_out, wr, stride, padding, input_size=7)
        differences[(stride, padding)] = float(np.max(np.abs(formula - xr.grad[0, 0])))
        print(f"  stride {stride}, padding {padding}: output {y.shape[2]}x{y.shape[3]},"
              f" max difference {differences[(stride, padding)]:.1e}")

    inputs = [gg.Tensor(rng.normal(size=(2, 3, 6, 6)), name="x"), gg.Tensor(rng.normal(size=(4, 3, 3, 3)), name="w"),
              gg.Tensor(rng.normal(size=4), name="b")]
    ok = gg.gradcheck(lambda a, c, d: gg.conv2d(a, c, d, stride=2, padding=1), inputs)
    print(f"  gradcheck, 2 images x 3 channels, 4 filters, stride 2, padding 1: {'passes' if ok else 'fails'}")

    print("\nThe tiny CNN on one image")
    loss = build()
    walkthrough(loss)

    print("\nTraining it on vertical vs horizontal bars")
    t = trainer(quick)
    for record in t.records():
        if record.kind == "epoch":
            print(f"  epoch {record.epoch + 1}: training loss {record.loss:.3f}, validation accuracy "
                  f"{record.val_accuracy:.0%}")
    val_loss, val_accuracy = t.evaluate(*t.val_data)
    filters = t.model.conv.weight.data[:, 0]
    print("  the learned 3x3 filters (rounded):")
    for f in filters:
        print("    " + np.array2string(np.round(f, 1), separator=", ").replace("\n", "\n    "))

    return {"out": out.data[0, 0].tolist(), "d_b": b.grad.tolist(), "d_w": w.grad[0, 0].tolist(),
            "d_x": x.grad[0, 0].tolist(), "d_x_flipped": by_flip.tolist(), "differences": differences,
            "gradcheck": ok, "val_accuracy": val_accuracy}


def figures(quick=False):
    from matplotlib.figure import Figure

    t = trainer(quick)
    images, labels = t.x, t.y
    for _ in t.records():
        pass
    filters = t.model.conv.weight.data[:, 0]
    maps = gg.inspect.feature_maps(t.model, images[0])["conv"]
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    axes = fig.subplots(2, 5)
    axes[0, 0].imshow(images[0, 0], cmap="gray")
    axes[0, 0].set_title(f"input ({'vertical' if labels[0] == 0 else 'horizontal'})", fontsize=9)
    limit = np.abs(filters).max()
    for k in range(4):
        axes[0, k + 1].imshow(filters[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[0, k + 1].set_title(f"filter {k}", fontsize=9)
        axes[1, k + 1].imshow(maps[k], cmap="gray")
        axes[1, k + 1].set_title(f"feature map {k}", fontsize=9)
    axes[1, 0].imshow(images[1, 0], cmap="gray")
    axes[1, 0].set_title(f"another ({'vertical' if labels[1] == 0 else 'horizontal'})", fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.suptitle("The tiny CNN after training: its 3x3 filters (red +, blue -) and what they see")
    return [fig]


if __name__ == "__main__":
    gg.lessons.main(run)
