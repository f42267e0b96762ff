"""# 17. Before CNNs: logistic regression, nearest neighbour, templates, im2col

Before reaching for a CNN, build the simple baselines: they tell you what
"good" means on your data, and each one leads to an idea the CNN uses.

## 1. Logistic regression: one neuron, binary cross-entropy

One neuron with a sigmoid output answers a yes/no question with a
probability: `p = σ(w · x + b)`, here "is this an ankle boot (1) or a
sneaker (0)?" on the 784 pixels. It is trained with **binary cross-entropy**

    J = -(y log p + (1 - y) log(1 - p))      (mean over the images)

(note the minus sign: one deck drops it, which would make training
*maximize* the error). Its gradient with respect to the neuron's input `z` is
simply `p - y`, the same pattern as softmax cross-entropy (lesson 6).
Linear regression is the same neuron with the identity instead of the sigmoid.

One neuron draws one straight boundary. **Wider** networks (more units in a
layer) and **deeper** ones (more layers) draw more complex ones: a network
with one hidden layer and enough units can approximate any continuous
function as closely as you like (the *universal approximation* theorem), but
it may need very many units; depth reaches the same with far fewer (lesson 8).

## 2. Nearest neighbour: no training at all

**k-nearest neighbours** (kNN) keeps every training image and labels a new
one by a vote of the `k` training images closest to it in pixel space
(Euclidean distance). The distances of all test images to all training
images come out of one matrix product, no loops (exercise 17.1):

    ‖a - b‖² = ‖a‖² + ‖b‖² - 2 a · b

kNN is a useful baseline but **slow at test time** (every prediction compares
with all N training images: `run()` times it) and **weak**: distances between
raw pixels measure brightness and position, not "sleeve" or "heel". A shirt
shifted by two pixels can be farther from itself than from a dress.

## 3. A linear classifier is ten templates

The linear classifier `s = W x + b` (lesson 6) gives each class one row of
`W`, with one weight per pixel. Reshaped to 28 × 28, each row is an image: a
**template** of the class, and the score is how well the image matches it
(a dot product). `figures()` shows the ten learned templates: a blurred
average trouser, a sandal's straps, a bag's handle. One template per class
cannot describe a class that comes in several shapes (lesson 6's three modes).

## 4. Accuracy is not the whole story

- **Precision** of class c: of the images predicted c, the share that are c.
- **Recall** of class c: of the images that are c, the share predicted c.
- The **confusion matrix** (lesson 12) holds both: precision reads down a
  column, recall along a row.
- **Top-5 error** (ImageNet's measure, 1,000 classes): the right class is
  not among the five highest scores. With 10 classes top-5 is easy; `run()`
  prints it anyway, with the top-1 error.

## What a full run measures

On Fashion-MNIST (60,000 training images, 2,000 test images):

| model                                  | test accuracy                 | notes                          |
|----------------------------------------|-------------------------------|--------------------------------|
| logistic regression, boot vs sneaker   | 96.1% (2 classes)             | BCE 0.693 = ln 2 → 0.111       |
| kNN on pixels, k = 1 / 3 / 5 / 9       | 84.6% / 85.2% / 85.9% / 85.5% | 3 to 14 ms per test image      |
| linear classifier (7,850 parameters)   | 84.3%, top-5 error 0.4%       | shirt precision 55%            |

kNN is as accurate as the linear classifier here but has to keep all 60,000
images (47 million numbers) and compare with each of them for every
prediction; the linear classifier keeps 7,850 numbers and needs one matrix
product. The hardest classes are the tops (shirt, pullover, T-shirt, coat),
which the precision and recall columns of `run()` show. A CNN that learns
its own features does better (lessons 12 and 14).

## 5. Template matching, and convolution

To *find* a pattern in a larger image, slide the template over it and compute
the correlation at every position; the peak is where it matches best. This is
exactly what a convolution layer computes (cross-correlation, lesson 9), with
learned templates (filters) instead of a cut-out. `run()` hides a bag in a
64 × 64 scene of other clothes and finds it with `gg.conv2d`, normalizing
each window (a bright window would otherwise score high for any template).

## 6. Convolution as one matrix product: im2col

A convolution is many small dot products, which computers do fastest as one
big matrix product. **im2col** copies every receptive field (a `C × k × k`
window) into one column of a matrix; the filters, flattened to rows, multiply
it:

    X_col: (C·k·k, H_out·W_out)      W_row: (F, C·k·k)      out = W_row @ X_col

then reshape to `(F, H_out, W_out)`. It costs memory (each pixel is copied
up to k² times) and buys speed. `run()` checks it against `gg.conv2d`
(exercise 17.2).

## 7. A 3-D (multi-channel) convolution by hand

One filter spans **all** input channels: on an RGB image a 3 × 3 filter has
3 × 3 × 3 = 27 weights, and each output value sums over all three channels.
`run()` works one example with 2 channels and a 2 × 2 filter:

    channel 0 [[1, 2, 0], [0, 1, 3], [2, 1, 0]]   weights [[1, 0], [0, -1]]
    channel 1 [[0, 1, 1], [2, 0, 1], [1, 1, 2]]   weights [[2, 1], [0, 1]]
    output[0, 0] = (1·1 + 2·0 + 0·0 + 1·(-1)) + (0·2 + 1·1 + 2·0 + 0·1) + bias 0 = 0 + 1 = 1

## Try it

- Exercises 17.1 (the distance matrix without loops) and 17.2 (im2col).
- `figures()`: the ten templates, kNN accuracy against k, the template search.
"""
import time

import numpy as np

import gradgraph as gg
from gradgraph import nn

SUMMARY = ('baselines before CNNs: logistic regression with binary cross-entropy, k-nearest neighbour (kNN) on '
           'pixels, linear-classifier weights as templates, precision/recall/top-5, template matching, im2col, a'
           ' multi-channel conv.')

CLASSES = gg.data.CLASSES["fashion-mnist"]


def load(quick=False):
    """Flattened pixels in [0, 1] (float32): (x, y, x_test, y_test, dataset name); kNN and templates read
    these (quick: the starter set; full: 60,000 training and the first 2,000 test images)."""
    x, y, name = gg.data.load_local("fashion-mnist", "train", full=not quick)
    x_test, y_test, _ = gg.data.load_local("fashion-mnist", "test", full=not quick)
    x_test, y_test = x_test[:2000], y_test[:2000]
    flat = lambda images: (images.reshape(len(images), -1) / np.float32(255)).astype(np.float32)  # noqa: E731
    return flat(x), y, flat(x_test), y_test, name


def logistic_regression(x, y, x_test, y_test, positive=9, negative=7, steps=300, lr=0.5):
    """One sigmoid neuron trained with binary cross-entropy: ankle boot (1) vs sneaker (0)."""
    keep, keep_test = np.isin(y, (positive, negative)), np.isin(y_test, (positive, negative))
    xb, yb = x[keep], (y[keep] == positive).astype(np.float32)[:, None]
    w = gg.Tensor(np.zeros((784, 1), dtype=np.float32), name="w")
    b = gg.Tensor(np.zeros(1, dtype=np.float32), name="b")
    opt = gg.optim.SGD([w, b], lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        p = (gg.Tensor(xb, requires_grad=False) @ w + b).sigmoid()
        loss = gg.losses.binary_cross_entropy(p, yb)
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    with gg.no_grad():
        p_test = (gg.Tensor(x_test[keep_test]) @ w + b).sigmoid().data[:, 0]
    accuracy = float(np.mean((p_test > 0.5) == (y_test[keep_test] == positive)))
    return losses, accuracy, len(xb)


def distances(a, b):
    """Squared Euclidean distances between the rows of a (M, D) and b (N, D): (M, N), no loops."""
    return (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)


def knn(x, y, x_test, ks=(1, 3, 5, 9), chunk=500):
    """Predictions of k-nearest neighbours for each k in ``ks``, and the seconds per test image."""
    began = time.perf_counter()
    predictions = {k: [] for k in ks}
    for start in range(0, len(x_test), chunk):
        d = distances(x_test[start:start + chunk], x)
        nearest = np.argsort(d, axis=1)[:, :max(ks)]
        for k in ks:
            votes = y[nearest[:, :k]]
            counts = np.apply_along_axis(np.bincount, 1, votes, minlength=10)
            predictions[k].append(counts.argmax(axis=1))       # a tie goes to the lower class
    seconds = (time.perf_counter() - began) / len(x_test)
    return {k: np.concatenate(v) for k, v in predictions.items()}, seconds


def linear_classifier(x, y, epochs=5, seed=0):
    """Softmax regression s = x W + b on the pixels, from zero weights with a little weight decay (which
    keeps pixels that never matter at 0, so the templates stay readable); returns the layer."""
    layer = nn.Linear(784, 10, rng=seed)
    layer.weight.data[...] = 0      # no hidden layer, so no symmetry to break: start every template blank
    gg.train.fit(layer, gg.optim.SGD(layer.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3), (x, y),
                 epochs=epochs, batch_size=64, seed=seed)
    return layer


def metrics(scores, y):
    """Top-1 and top-5 error, precision and recall per class, the confusion matrix."""
    predicted = scores.argmax(axis=1)
    top5 = np.argsort(-scores, axis=1)[:, :5]
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    precision = np.diag(confusion) / np.maximum(confusion.sum(axis=0), 1)   # down each column
    recall = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)      # along each row
    return {"top1_error": float(np.mean(predicted != y)), "top5_error": float(np.mean((top5 != y[:, None]).all(1))),
            "precision": precision, "recall": recall, "confusion": confusion}


def scene(x, y, seed=3):
    """A 64 x 64 picture holding four clothes, one of them a bag; returns (scene, the bag, its top-left corner)."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((64, 64), dtype=np.float32)
    corners = [(2, 4), (3, 34), (34, 2), (35, 35)]
    bag_at = corners[int(rng.integers(4))]
    others = rng.choice(np.flatnonzero(y != 8), 3, replace=False)
    bag = x[rng.choice(np.flatnonzero(y == 8))].reshape(28, 28)
    pieces = iter(x[others].reshape(-1, 28, 28))
    for corner in corners:
        image = bag if corner == bag_at else next(pieces)
        canvas[corner[0]:corner[0] + 28, corner[1]:corner[1] + 28] = image
    return canvas, bag, bag_at


def match(canvas, template):
    """Normalized cross-correlation of ``template`` with every window of ``canvas`` (via gg.conv2d):
    (window - mean) · (template - mean) / (‖window - mean‖ ‖template - mean‖)."""
    t = template - template.mean()
    k = template.shape[0]
    with gg.no_grad():
        image = canvas[None, None].astype(np.float64)
        dot = gg.conv2d(gg.Tensor(image), gg.Tensor(t[None, None].astype(np.float64))).data[0, 0]
        box = np.ones((1, 1, k, k)) / (k * k)
        mean = gg.conv2d(gg.Tensor(image), gg.Tensor(box)).data[0, 0]
        mean_sq = gg.conv2d(gg.Tensor(image * image), gg.Tensor(box)).data[0, 0]
    window_norm = np.sqrt(np.maximum(mean_sq - mean * mean, 0) * k * k)
    return dot / (window_norm * np.linalg.norm(t) + 1e-8)


def im2col(x, k, stride=1, padding=0):
    """Every k x k receptive field of x (C, H, W) as one column: (C·k·k, H_out·W_out)."""
    c, h, w = x.shape
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    cols = np.empty((c * k * k, h_out * w_out), dtype=x.dtype)
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, i * stride:i * stride + k, j * stride:j * stride + k]
            cols[:, i * w_out + j] = window.reshape(-1)
    return cols


MULTI_X = np.array([[[1, 2, 0], [0, 1, 3], [2, 1, 0]],
                    [[0, 1, 1], [2, 0, 1], [1, 1, 2]]], dtype=np.float64)
MULTI_W = np.array([[[[1, 0], [0, -1]], [[2, 1], [0, 1]]]], dtype=np.float64)


def build():
    """Logistic regression on two pixels: p = σ(w1 x1 + w2 x2 + b), J = binary cross-entropy with y = 1."""
    x = gg.Tensor([[0.8, 0.2]], name="x", requires_grad=False)
    w = gg.Tensor([[1.5], [-2.0]], name="w")
    b = gg.Tensor([0.1], name="b")
    z = x @ w + b
    z.name = "z"
    p = z.sigmoid()
    p.name = "p"
    loss = gg.losses.binary_cross_entropy(p, np.array([[1.0]]))
    loss.name = "J"
    return loss


_cache = {}


def results(quick=False):
    if quick not in _cache:
        x, y, x_test, y_test, name = load(quick)
        predictions, seconds = knn(x, y, x_test)
        layer = linear_classifier(x, y, epochs=2 if quick else 5)
        with gg.no_grad():
            scores = layer(x_test).data
        _cache[quick] = {"data": (x, y, x_test, y_test, name), "knn": predictions, "knn_seconds": seconds,
                         "linear": layer, "scores": scores}
    return _cache[quick]


def run(quick=False):
    r = results(quick)
    x, y, x_test, y_test, name = r["data"]
    print(f"Data: {name}, {len(x)} training and {len(x_test)} test images, pixels in [0, 1]")

    losses, acc, n = logistic_regression(x, y, x_test, y_test, steps=100 if quick else 300)
    print(f"\n1. Logistic regression, ankle boot vs sneaker ({n} training images): BCE {losses[0]:.3f} (= ln 2) -> "
          f"{losses[-1]:.3f}; test accuracy {acc:.1%}")

    print(f"\n2. k-nearest neighbours on raw pixels: {r['knn_seconds'] * 1e3:.2f} ms per test image "
          f"(compared with all {len(x)} training images)")
    for k, predicted in r["knn"].items():
        print(f"  k = {k}: accuracy {np.mean(predicted == y_test):.1%}")

    m = metrics(r["scores"], y_test)
    print(f"\n3. Linear classifier (softmax regression, 7,850 parameters): accuracy {1 - m['top1_error']:.1%}, "
          f"top-1 error {m['top1_error']:.1%}, top-5 error {m['top5_error']:.1%}")
    print("4. Precision and recall per class:")
    for c, name_ in enumerate(CLASSES):
        print(f"  {name_:>12}: precision {m['precision'][c]:.0%}, recall {m['recall'][c]:.0%}")
    worst = int(np.argmin(m["recall"]))
    print(f"  lowest recall: {CLASSES[worst]} (found {m['recall'][worst]:.0%} of the time)")

    canvas, bag, corner = scene(x_test, y_test)
    ncc = match(canvas, bag)
    found = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    elsewhere = np.ones(ncc.shape, dtype=bool)
    elsewhere[max(0, found[0] - 8):found[0] + 9, max(0, found[1] - 8):found[1] + 9] = False
    print(f"\n5. Template matching: the bag is at {corner}; the correlation peaks at {tuple(int(v) for v in found)}"
          f" (score {ncc.max():.3f}; the best window elsewhere scores {ncc[elsewhere].max():.3f})")

    rng = np.random.default_rng(0)
    image, filters = rng.normal(size=(3, 6, 6)), rng.normal(size=(4, 3, 3, 3))
    cols = im2col(image, 3, stride=1, padding=1)
    by_matmul = (filters.reshape(4, -1) @ cols).reshape(4, 6, 6)
    with gg.no_grad():
        by_conv = gg.conv2d(gg.Tensor(image[None]), gg.Tensor(filters), padding=1).data[0]
    print(f"\n6. im2col: a (3, 6, 6) image, padding 1 -> columns {cols.shape}; filters as rows (4, 27); "
          f"(4, 27) @ (27, 36) reshaped to (4, 6, 6) differs from gg.conv2d by {np.abs(by_matmul - by_conv).max():.1e}")

    with gg.no_grad():
        out = gg.conv2d(gg.Tensor(MULTI_X[None]), gg.Tensor(MULTI_W)).data[0, 0]
    by_hand = (MULTI_X[:, 0:2, 0:2] * MULTI_W[0]).sum(axis=(1, 2))
    print(f"\n7. A 2-channel input, one 2 x 2 x 2 filter: output[0, 0] = {by_hand[0]:g} (channel 0) + "
          f"{by_hand[1]:g} (channel 1) = {out[0, 0]:g}; the whole output {out.tolist()}")
    return {"logistic_accuracy": acc, "knn": {k: float(np.mean(p == y_test)) for k, p in r["knn"].items()},
            "knn_ms": r["knn_seconds"] * 1e3, "linear_accuracy": 1 - m["top1_error"], "top5_error": m["top5_error"],
            "template_found": tuple(int(v) for v in found), "template_at": corner,
            "im2col_error": float(np.abs(by_matmul - by_conv).max()), "multichannel": out.tolist()}


def figures(quick=False):
    from matplotlib.figure import Figure

    r = results(quick)
    x, y, x_test, y_test, _ = r["data"]
    figs = []
    fig = Figure(figsize=(11, 2.8), layout="constrained")
    axes = fig.subplots(1, 10)
    templates = r["linear"].weight.data.T.reshape(10, 28, 28)
    for ax, template, name in zip(axes, templates, CLASSES):
        limit = np.abs(template).max()
        ax.imshow(template, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize=8)
        ax.set_axis_off()
    fig.suptitle("The linear classifier's weights: one template per class (red: bright pixels count for it)")
    figs.append(fig)

    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ks = list(r["knn"])
    ax1.plot(ks, [100 * np.mean(r["knn"][k] == y_test) for k in ks], "o-")
    ax1.set(xlabel="k", ylabel="test accuracy (%)", title="k-nearest neighbours")
    ax1.grid(alpha=0.3)
    canvas, bag, corner = scene(x_test, y_test)
    ncc = match(canvas, bag)
    found = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    ax2.imshow(canvas, cmap="gray")
    from matplotlib.patches import Rectangle
    ax2.add_patch(Rectangle((found[1] - 0.5, found[0] - 0.5), 28, 28, fill=False, color="#f97316", lw=2))
    ax2.set_title("scene: the best match (orange)")
    ax2.set_axis_off()
    image = ax3.imshow(ncc, cmap="viridis")
    ax3.set_title("correlation with the bag template")
    fig.colorbar(image, ax=ax3, shrink=0.8)
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
