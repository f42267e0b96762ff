"""# 9. Convolution: filtering an image

A fully connected layer looks at every pixel with its own weight (lesson 8:
15 million weights for 100 units on a 224 × 224 × 3 image). A **convolution**
looks at a small window with a small set of weights, the **kernel** (or
filter), and slides that same window over the whole image:

    out[p, q] = Σ_i Σ_j w[i, j] · x[p + i, q + j] + b

Two ideas make it work for images: **local connectivity** (each output sees
a small neighbourhood) and **weight sharing** (the same weights at every
position, so a feature is detected wherever it appears). A 3 × 3 kernel has
9 weights, however large the image.

## 1-D first

The textbook convolution of a signal `x` with a filter `h` is

    y[n] = Σ_k x[n - k] h[k]

Take `x = [4, -1, 0, 2, 1, 2, 3]` and the difference filter `h = [1, 0, -1]`.
The full convolution is `y[m] = x[m] - x[m - 2]`, 9 values long (m = 0..8,
counting x[m] = 0 outside the signal). To keep the output as long as the
input we **zero pad** one value on each side, `[0, 4, -1, 0, 2, 1, 2, 3, 0]`,
and keep the middle 7 values ("same" padding):

    convolution:        y = [-1, -4, 3, 1, 0, 2, -2]

Mind the index shift: "same" output `n` is full output `m = n + 1`, so it
reads `y[n] = x[n + 1] - x[n - 1]`, the filter centred on `x[n]`. Check the
first value: `x[1] - x[-1] = -1 - 0 = -1`.

Notice the `n - k`: as `k` grows we step *backwards* through `x`, which is the
same as sliding the **flipped** filter `[-1, 0, 1]` along the signal.

## Convolution vs cross-correlation

What deep-learning libraries call "convolution" does **not** flip the kernel:
it is a **cross-correlation**, `y[n] = Σ_k x[n + k] h[k]`. With the same
padded input and filter:

    cross-correlation:  y = [1, 4, -3, -1, 0, -2, 2]

the same numbers with the opposite sign, because flipping `[1, 0, -1]` negates
it. For a CNN the difference does not matter (the kernels are learned, and a
network would simply learn the flipped kernel), but for a hand-made kernel it
decides the sign of the result. gradgraph's `gg.conv2d`, like PyTorch's, is a
cross-correlation; in 2-D a true convolution flips the kernel both ways.

## Padding, stride, dilation

- **Padding** `P`: zeros added on every side. "Valid" means none (the output
  shrinks: a length-7 signal and a length-3 filter give 5 outputs, here
  `[4, -3, -1, 0, -2]`); "same" padding keeps the size.
- **Stride** `S`: how far the window moves between outputs (stride 2 halves
  the size).
- **Dilation** `D`: gaps between the kernel taps; a 3 × 3 kernel with dilation
  2 covers a 5 × 5 area with 9 weights (a larger receptive field for free).

The output size along each axis:

    W_out = floor((W + 2P - D(K - 1) - 1) / S) + 1

**Example.** The 3 × 3 input `[[0, 1, 2], [3, 4, 5], [6, 7, 8]]`, padding 1,
stride 2, the 2 × 2 kernel `[[0, 1], [2, 3]]`:
`W_out = floor((3 + 2 - 1 - 1) / 2) + 1 = floor(1.5) + 1 = 2`. The padded input
is 5 × 5, and the four windows (top-left corners at rows/columns 0 and 2) give

    0·0 + 1·0 + 2·0 + 3·0 = 0        0·0 + 1·0 + 2·1 + 3·2 = 8
    0·0 + 1·3 + 2·0 + 3·6 = 21       0·4 + 1·5 + 2·7 + 3·8 = 43

so the output is `[[0, 8], [21, 43]]`. (`build()` is this computation.)

## Classic kernels on a photo

`run()` and `figures()` filter a photo of Grace Hopper (it ships with
matplotlib), converted to grayscale and downsampled, with every kernel at once
(one `gg.conv2d` with 9 output channels, padding 1):

| kernel                 | weights                                    | sum |
|------------------------|--------------------------------------------|-----|
| identity               | [[0,0,0],[0,1,0],[0,0,0]]                  | 1   |
| edges 1                | [[1,0,-1],[0,0,0],[-1,0,1]]                | 0   |
| edges 2 (Laplacian)    | [[0,1,0],[1,-4,1],[0,1,0]]                 | 0   |
| edges 3                | [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]]          | 0   |
| sharpen                | [[0,-1,0],[-1,5,-1],[0,-1,0]]              | 1   |
| box blur               | (1/9) ones(3, 3)                           | 1   |
| Gaussian blur          | (1/16) [[1,2,1],[2,4,2],[1,2,1]]           | 1   |
| wider Gaussian blur    | (1/209) [[16,26,16],[26,41,26],[16,26,16]] | 1   |
| Sobel x                | [[-1,0,1],[-2,0,2],[-1,0,1]]               | 0   |

The sum tells you a lot. A kernel summing to 1 keeps the brightness of flat
regions (identity, blurs, sharpen: sharpen = identity − Laplacian, as the
table lists them: the centre 1 - (-4) = 5, the four neighbours 0 - 1 = -1;
subtracting the Laplacian adds back the detail it measures). A kernel summing to 0 maps every flat region to 0 and responds only
where the intensity changes: an **edge detector**.

**A mislabelled kernel.** One deck calls `[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`
a "sharpening" kernel. Its weights sum to 0, so it cannot sharpen: a
sharpened photo still looks like the photo, while this output is black
wherever the image is flat. It is the **Sobel x** filter: it measures how fast
the intensity changes from left to right, so it lights up **vertical edges**
(its transpose, Sobel y, finds horizontal ones). Compare the two panels in
`figures()`.

## Try it

- Change a kernel in `KERNELS` and rerun `figures()`.
- Make the stride 2 in `filter_photo` and predict the output size first.
"""
import numpy as np

import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "Kernels on a photo (edges, sharpen, blurs; Sobel is not sharpening), 1-D convolution, padding, stride, output size."

SIGNAL = [4.0, -1.0, 0.0, 2.0, 1.0, 2.0, 3.0]
FILTER = [1.0, 0.0, -1.0]

KERNELS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "edges 1": [[1, 0, -1], [0, 0, 0], [-1, 0, 1]],
    "edges 2 (Laplacian)": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "edges 3": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "box blur": np.ones((3, 3)) / 9,
    "Gaussian blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
    "wider Gaussian blur": np.array([[16, 26, 16], [26, 41, 26], [16, 26, 16]]) / 209,
    "Sobel x (not sharpening!)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
}


def output_size(W, K, P=0, S=1, D=1):
    """floor((W + 2P - D(K - 1) - 1) / S) + 1"""
    return (W + 2 * P - D * (K - 1) - 1) // S + 1


def convolve_1d(x, h, pad):
    """y[n] = Σ_k x[n - k] h[k], with ``pad`` zeros on each side of x (the flipped filter slides)."""
    xp = [0.0] * pad + list(x) + [0.0] * pad
    K = len(h)
    return [sum(xp[n + K - 1 - k] * h[k] for k in range(K)) for n in range(len(xp) - K + 1)]


def correlate_1d(x, h, pad):
    """y[n] = Σ_k x[n + k] h[k]: what CNN libraries call convolution (no flip)."""
    xp = [0.0] * pad + list(x) + [0.0] * pad
    K = len(h)
    return [sum(xp[n + k] * h[k] for k in range(K)) for n in range(len(xp) - K + 1)]


EXAMPLE_X = np.arange(9.0).reshape(1, 1, 3, 3)
EXAMPLE_W = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)


def build():
    """The output-size example: 3x3 input 0..8, padding 1, stride 2, kernel [[0, 1], [2, 3]] (summed)."""
    x = gg.Tensor(EXAMPLE_X, name="x")
    w = gg.Tensor(EXAMPLE_W, name="w")
    y = gg.conv2d(x, w, stride=2, padding=1)
    y.name = "conv"
    total = y.sum()
    total.name = "sum"
    return total


def photo(factor=4):
    """Grace Hopper in grayscale, values in [0, 1], downsampled by averaging factor x factor blocks."""
    import matplotlib.cbook
    import matplotlib.image

    rgb = matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    gray = (rgb[..., :3].astype(np.float64) / 255) @ np.array([0.299, 0.587, 0.114])
    H, W = (gray.shape[0] // factor) * factor, (gray.shape[1] // factor) * factor
    return gray[:H, :W].reshape(H // factor, factor, W // factor, factor).mean(axis=(1, 3))


def filter_photo(image, stride=1):
    """Every kernel in KERNELS at once: one conv2d with len(KERNELS) output channels."""
    w = np.array([np.asarray(k, dtype=np.float64) for k in KERNELS.values()])[:, None]  # (F, 1, 3, 3)
    with gg.no_grad():
        out = gg.conv2d(image[None, None], w, padding=1, stride=stride)
    return out.data[0]  # (F, H, W)


def run(quick=False):
    print("1-D: x =", SIGNAL, " h =", FILTER)
    conv = convolve_1d(SIGNAL, FILTER, pad=1)
    corr = correlate_1d(SIGNAL, FILTER, pad=1)
    valid = correlate_1d(SIGNAL, FILTER, pad=0)
    print("  zero padded x:            ", [0.0] + SIGNAL + [0.0])
    print("  convolution (flip):       ", conv, "  numpy agrees:", np.allclose(conv, np.convolve(SIGNAL, FILTER, "same")))
    print("  cross-correlation:        ", corr)
    print("  cross-correlation, valid: ", valid)

    print("\nOutput size: floor((W + 2P - D(K - 1) - 1) / S) + 1")
    size = output_size(3, 2, P=1, S=2)
    print(f"  3x3 input, kernel 2, padding 1, stride 2: floor((3 + 2 - 1 - 1) / 2) + 1 = {size}")
    print(f"  a 7x7 input with a 3x3 kernel, dilation 2, no padding: {output_size(7, 3, D=2)}")
    out = gg.conv2d(EXAMPLE_X, EXAMPLE_W, stride=2, padding=1).data[0, 0]
    print(f"  the example: input 0..8, kernel [[0, 1], [2, 3]] -> {out.tolist()}")
    print("\nThe example as a graph")
    walkthrough(build())

    image = photo(8 if quick else 4)
    filtered = filter_photo(image)
    print(f"\nThe photo: {image.shape[0]}x{image.shape[1]} grayscale; one conv2d with {len(KERNELS)} filters"
          f" -> output {filtered.shape}")
    sums = {}
    flat = {}
    for (name, kernel), response in zip(KERNELS.items(), filtered):
        sums[name] = float(np.sum(kernel))
        flat[name] = float(np.mean(response[1:-1, 1:-1]))  # mean output away from the zero border
        print(f"  {name:<26} sum {sums[name]:+.2f}   mean output {flat[name]:+.3f}"
              f"   (image mean {image[1:-1, 1:-1].mean():.3f})")
    print("  Kernels summing to 1 keep the brightness; kernels summing to 0 (edges, Sobel) give ~0 on"
          " flat regions. Sobel x is an edge detector, not a sharpening filter.")

    return {"conv_1d": conv, "corr_1d": corr, "valid_1d": valid, "output_size": size, "example": out.tolist(),
            "kernel_sums": sums, "photo_shape": image.shape, "filtered_shape": filtered.shape,
            "mean_outputs": flat}


def figures(quick=False):
    from matplotlib.figure import Figure

    image = photo(8 if quick else 2)
    filtered = filter_photo(image)
    fig = Figure(figsize=(12, 6), layout="constrained")
    axes = fig.subplots(2, 5)
    panels = [("original", image, 1.0)] + [(n, r, float(np.sum(k))) for (n, k), r in zip(KERNELS.items(), filtered)]
    for ax, (name, response, total) in zip(axes.ravel(), panels):
        if abs(total) > 0.5:   # brightness kept: show as an image
            ax.imshow(np.clip(response, 0, 1), cmap="gray", vmin=0, vmax=1)
        else:                  # an edge detector: show the size of the response
            magnitude = np.abs(response)
            ax.imshow(magnitude, cmap="gray", vmin=0, vmax=np.percentile(magnitude, 99))
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.suptitle("One conv2d, nine 3x3 kernels (edge detectors shown as |response|)")
    return [fig]


if __name__ == "__main__":
    gg.lessons.main(run)
