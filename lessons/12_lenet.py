"""# 12. LeNet-5: a real CNN on real images

Everything so far comes together: convolutions, pooling, ReLUs, fully
connected layers, softmax cross-entropy, Adam. **LeNet-5** (LeCun et al.,
1998) read handwritten digits for banks' cheque readers; on MNIST it reached
0.95% test error (0.8% when trained with distorted copies of the images).

## The architecture

The original reads 32 × 32 images; a 28 × 28 MNIST image padded with 2 pixels
on each side is 32 × 32, so our first convolution uses `padding=2`:

| layer          | output       | what                                  | parameters |
|----------------|--------------|---------------------------------------|-----------:|
| input          | 1 @ 28×28    |                                       |            |
| C1 `conv1`     | 6 @ 28×28    | 6 filters 5×5, padding 2, ReLU        | 156        |
| S2 `pool1`     | 6 @ 14×14    | 2×2 pooling, stride 2                 | 0          |
| C3 `conv2`     | 16 @ 10×10   | 16 filters 5×5 × 6 channels, ReLU     | 2,416      |
| S4 `pool2`     | 16 @ 5×5     | 2×2 pooling, stride 2                 | 0          |
| F5 `fc1`       | 120          | fully connected (400 → 120), ReLU     | 48,120     |
| F6 `fc2`       | 84           | fully connected, ReLU                 | 10,164     |
| output `fc3`   | 10           | class scores, then softmax            | 850        |
|                |              |                                       | **61,706** |

(`conv1`: 6 · (5·5 + 1) = 156; `conv2`: 16 · (6·5·5 + 1) = 2,416; `fc1`:
400 · 120 + 120 = 48,120.) About 60 thousand parameters, as the paper says.

The paper calls the 120-unit layer **C5**, a *convolution* with 5 × 5
filters: on its 32 × 32 input, S4's maps are exactly 5 × 5, so each filter
sees the whole map and the output is 120 maps of 1 × 1. That is the same
arithmetic as a fully connected layer on the 400 flattened values, which is
how we build it (`nn/lenet.py` names it **F5**, like F6). We call it F5
because that is what the code does; the two only differ for a larger input,
where C5 would slide and give more than one output per filter.
Ours is the usual modern simplification: the original C3 connected each map to
only some of S2's maps, used tanh-like squashing and average-like pooling, and
had special output units. `gg.nn.LeNet5(activation="tanh", pool="avg")` gets
closer to it.

## The data, and checking it first

The bundled **Fashion-MNIST starter set** (no download needed): 28 × 28
grayscale photos of clothing in 10 classes (T-shirt/top, trouser, pullover,
dress, coat, sandal, shirt, sneaker, bag, ankle boot), 5,000 for training
(500 per class) and 1,000 for testing. `trainer(dataset="mnist")` or
`"fashion-mnist"` uses the full 60,000 / 10,000 sets (found locally or
downloaded).

The first thing to do with data is to *look* at it: shapes, labels, value
ranges. The number one cause of a network that will not learn is wrongly
transformed input. We scale the pixels from 0..255 to `(x/255 - 0.286) / 0.353`
(the training set's mean and standard deviation), so the inputs have mean 0
and standard deviation 1; `run()` prints the statistics.

## Train, validation, test

- **train** (90% of the training images): the weights are fitted to these;
- **validation** (the other 10%): to choose hyperparameters (learning rate,
  dropout, when to stop) and to watch for overfitting;
- **test**: looked at *once*, at the end, to report the result. Tuning on the
  test set makes the reported number a lie.

## Sanity checks before training

- The loss at initialization should be about `ln 10 = 2.30` (lesson 6), if
  the initial scores are small. `run()` prints LeNet's. If it is well above
  2.30, the initial scores are large, so the softmax starts out confidently
  wrong on many images and the first steps are spent undoing that; scaling
  the output layer's initial weights down by 10 brings the loss back to about
  2.30 (`run()` shows both).
- A network should be able to **overfit a tiny set**: 20 images, many steps,
  training loss near 0. If it cannot, something is broken (in full mode
  `run()` does this).
- Clear the gradients before every step (`optimizer.zero_grad()`), or they
  accumulate (lesson 2).

## Overfitting

If the training loss keeps falling while the validation loss turns back up,
the network is **memorizing** the training set. Remedies: more data (or
**data augmentation**: shifted, rotated, cropped copies), a smaller network,
**dropout** (`LeNet5(dropout=0.5)`: during training, randomly zero half of the
fully connected activations, so no unit can rely on any other), and **early
stopping** (`trainer(patience=2)`: stop when the validation loss has not
improved for 2 epochs and restore the best weights). `trainer(augment="shift")`
trains on randomly shifted copies (`gg.data.augment`). Lesson 15 measures
each remedy.

## Reading the results

`figures()` shows the first layer's 6 filters (small edge and blob
detectors), the feature maps of one image after `conv1` and `conv2` (more
abstract with depth), the loss curves, and the **confusion matrix**: row =
true class, column = predicted. On Fashion-MNIST most mistakes are between
similar garments (shirt, T-shirt, pullover, coat).

## Practical habits

Two different habits, for two different jobs:

- **Debugging**: change *one* thing at a time, so that you know what caused
  the change you see.
- **Tuning** several hyperparameters: try **random** combinations rather
  than a grid. With 9 runs, a 3 × 3 grid tries only 3 values of each
  hyperparameter; 9 random points try 9 values of each, and usually only one
  or two hyperparameters matter much. Sample scale-like hyperparameters
  (learning rate, weight decay) on a **log scale**: `lr = 10 **
  np.random.uniform(-4, -1)` is as likely to land in [1e-4, 1e-3] as in
  [1e-2, 1e-1]. A slide writes `np.random.random(min=0.1, max=100)`: numpy
  has no such call (`np.random.uniform(0.1, 100)` is what it means), and
  sampling [0.1, 100] uniformly puts about 90% of the draws above 10; sample
  the exponent instead, `10 ** np.random.uniform(-1, 2)`. `run()` shows the
  difference.

Log every run and name it after its settings, e.g.
`lenet_fashion-mnist_lr_0.001_epochs_10_batch_64_opt_adam`
(`gradgraph train lenet ...` does this and saves checkpoints). If the loss is
constant, check the initialization (all-zero weights never break symmetry); if
it jumps around, lower the learning rate or raise the batch size.

## Try it

- In the app: train with `dropout=0.5`, or `activation="sigmoid"` (slower:
  lesson 8's vanishing gradients), or `pool="avg"`, and compare the curves.
- From a terminal: `gradgraph train lenet --epochs 5 --patience 2`.
"""
import numpy as np

import gradgraph as gg
from gradgraph import nn
from gradgraph.blas import limit_blas_threads

SUMMARY = "LeNet-5 on the bundled Fashion-MNIST set: train/val/test, curves, filters, feature maps, confusion, dropout, early stopping."

OPTIMIZERS = {"adam": gg.optim.Adam, "sgd": gg.optim.SGD, "rmsprop": gg.optim.RMSprop}


def load(dataset="fashion-mnist-starter", split="train", limit=None):
    """Images normalized to float32 (N, 1, 28, 28) and int64 labels; ``limit`` keeps the first N
    (the starter set is class-balanced, so a prefix is roughly balanced too)."""
    images, labels = gg.data.load_mnist(dataset, split)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return gg.data.normalize_images(images, dataset=dataset), labels


def trainer(quick=False, *, dataset="fashion-mnist-starter", epochs=None, batch_size=64, lr=1e-3,
            optimizer="adam", activation="relu", pool="max", dropout=0.0, patience=None, limit=None,
            val_fraction=0.1, augment="none", seed=0, **options):
    """LeNet-5 with a validation split; quick: 300 training images and 1 epoch. ``augment``: random
    changes to the training images (``gg.data.AUGMENTS``: shift, flip, rotate, noise, ...; lesson 15)."""
    limit = limit if limit is not None else (300 if quick else None)
    x, y = load(dataset, "train", limit)
    (x_train, y_train), (x_val, y_val) = gg.data.train_val_split(x, y, val_fraction, seed=seed)
    model = nn.LeNet5(activation=activation, pool=pool, dropout=dropout, rng=seed)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    return gg.train.Trainer(model, opt, (x_train, y_train), (x_val, y_val),
                            epochs=epochs or (1 if quick else 3), batch_size=batch_size, patience=patience,
                            seed=seed, augment=augment, config={"dataset": dataset}, **options)


_trained = {}


def trained(quick=False):
    """Train once per module and quick setting (run() and figures() share the result)."""
    if quick not in _trained:
        t = trainer(quick)
        history = [r for r in t.records() if r.kind in ("step", "epoch")]
        _trained[quick] = (t, history)
    return _trained[quick]


def build():
    """LeNet-5 on one test image and its loss; the nodes are grouped by layer (conv1, relu1, pool1, ...)."""
    x, y = load(split="test", limit=1)
    model = nn.LeNet5(rng=0)
    logits = model(gg.Tensor(x, name="image", requires_grad=False))
    loss = gg.losses.cross_entropy(logits, y)
    loss.name = "loss"
    return loss


def confusion(model, x, y, classes=10):
    """counts[i, j] = how many images of true class i were predicted as class j."""
    predicted = gg.inspect.predict(model, x).argmax(axis=1)
    return gg.inspect.confusion_matrix(y, predicted, classes)


def overfit_tiny(steps=40):
    """Can LeNet memorize 20 images? (It should: the loss goes to ~0.)"""
    x, y = load(limit=20)
    model = nn.LeNet5(rng=1)
    opt = gg.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    with limit_blas_threads(1):  # leave both cores to the conv kernels (see gradgraph/blas.py)
        for _ in range(steps):
            opt.zero_grad()
            loss = gg.losses.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
    return losses


def run(quick=False):
    classes = gg.data.CLASSES["fashion-mnist"]
    x, y = load(limit=300 if quick else None)
    print(f"Data: {x.shape[0]} training images of shape {x.shape[1:]} ({x.dtype}), labels {y.min()}..{y.max()},"
          f" per class {np.bincount(y, minlength=10).tolist()}")
    print(f"  after normalization: mean {x.mean():.3f}, std {x.std():.3f}, min {x.min():.2f}, max {x.max():.2f}")

    model = nn.LeNet5(rng=0)
    print(f"\nLeNet-5: {model.num_parameters():,} parameters")
    for name, p in model.named_parameters():
        print(f"  {name:<14} {str(p.shape):<16} {p.size:>7,}")

    with gg.no_grad():
        initial = float(gg.losses.cross_entropy(model(x[:200]), y[:200]).data)
        small = nn.LeNet5(rng=0)
        small.fc3.weight.data *= 0.1
        initial_small = float(gg.losses.cross_entropy(small(x[:200]), y[:200]).data)
    print(f"\nLoss at initialization: {initial:.3f}   (ln 10 = {np.log(10):.3f});"
          f" with the output layer's weights scaled by 0.1: {initial_small:.3f}")

    draws = np.random.default_rng(0)
    linear, logarithmic = draws.uniform(0.1, 100, 10_000), 10 ** draws.uniform(-1, 2, 10_000)
    print(f"\nSampling a hyperparameter in [0.1, 100]: uniformly, {np.mean(linear > 10):.0%} of the draws are above 10"
          f" and {np.mean(linear < 1):.1%} below 1; as 10 ** uniform(-1, 2), {np.mean(logarithmic > 10):.0%} and"
          f" {np.mean(logarithmic < 1):.0%}: each factor of 10 equally often")

    if quick:
        tiny = None
        print("Overfitting 20 images: skipped in quick mode")
    else:
        tiny = overfit_tiny()
        print(f"Overfitting 20 images: loss {tiny[0]:.3f} -> {tiny[-1]:.4f} after {len(tiny)} steps")

    t, history = trained(quick)
    print(f"\nTraining on {len(t.x)} images, validating on {len(t.val_data[0])}:")
    for record in history:
        if record.kind == "epoch":
            print(f"  epoch {record.epoch + 1}: train loss {record.loss:.3f}, accuracy {record.accuracy:.1%};"
                  f" validation loss {record.val_loss:.3f}, accuracy {record.val_accuracy:.1%}"
                  f"  ({record.elapsed:.0f} s)")

    x_test, y_test = load(split="test", limit=200 if quick else None)
    test_loss, test_accuracy = t.evaluate(x_test, y_test)
    print(f"\nTest set (looked at once): {len(x_test)} images, accuracy {test_accuracy:.1%}, loss {test_loss:.3f}")
    counts = confusion(t.model, x_test, y_test)
    off = counts - np.diag(np.diag(counts))
    i, j = np.unravel_index(int(np.argmax(off)), off.shape)
    print(f"  most frequent confusion: {counts[i, j]} x '{classes[i]}' predicted as '{classes[j]}'")
    print("  confusion matrix (rows: true class, columns: predicted):")
    for name, row in zip(classes, counts):
        print(f"    {name:>12} " + " ".join(f"{v:3d}" for v in row))

    return {"parameters": model.num_parameters(), "initial_loss": initial, "initial_loss_small": initial_small,
            "log_sampling": (float(np.mean(linear > 10)), float(np.mean(logarithmic > 10))),
            "tiny_overfit": tiny,
            "test_accuracy": test_accuracy, "confusion": counts.tolist(),
            "epochs": [(r.loss, r.val_loss) for r in history if r.kind == "epoch"]}


def figures(quick=False):
    from matplotlib.figure import Figure

    classes = gg.data.CLASSES["fashion-mnist"]
    t, history = trained(quick)
    model = t.model
    figs = []

    fig = Figure(figsize=(9, 2.4), layout="constrained")
    axes = fig.subplots(1, 6)
    filters = model.conv1.weight.data[:, 0]
    limit = np.abs(filters).max()
    for k, ax in enumerate(axes):
        ax.imshow(filters[k], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(f"conv1 filter {k}", fontsize=8)
        ax.set_axis_off()
    fig.suptitle("The first layer's 5x5 filters (red +, blue -)")
    figs.append(fig)

    x_test, y_test = load(split="test", limit=200 if quick else 1000)
    maps = gg.inspect.feature_maps(model, x_test[0])
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    grid = fig.add_gridspec(3, 9)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(x_test[0, 0], cmap="gray")
    ax.set_title(f"input: {classes[y_test[0]]}", fontsize=9)
    ax.set_axis_off()
    for k in range(6):
        ax = fig.add_subplot(grid[0, 2 + k])
        ax.imshow(maps["conv1"][k], cmap="gray")
        ax.set_title(f"conv1 #{k}", fontsize=7)
        ax.set_axis_off()
    for k in range(14):
        ax = fig.add_subplot(grid[1 + k // 7, 2 + k % 7])
        ax.imshow(maps["conv2"][k], cmap="gray")
        ax.set_title(f"conv2 #{k}", fontsize=7)
        ax.set_axis_off()
    fig.suptitle("Feature maps: conv1 (28x28) and conv2 (10x10) for one test image")
    figs.append(fig)

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    steps = [r for r in history if r.kind == "step"]
    ax.plot([r.step for r in steps], [r.loss for r in steps], lw=0.8, alpha=0.7, label="training batches")
    epochs = [r for r in history if r.kind == "epoch"]
    ax.plot([r.step for r in epochs], [r.val_loss for r in epochs], "o-", label="validation (end of epoch)")
    ax.axhline(np.log(10), color="0.6", ls="--", lw=0.8, label="ln 10 (chance)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Loss curves")
    ax.legend()
    figs.append(fig)

    counts = confusion(model, x_test, y_test)
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(counts, cmap="Blues")
    for (i, j), v in np.ndenumerate(counts):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > counts.max() / 2 else "black")
    ax.set_xticks(range(10), classes, rotation=60, fontsize=8)
    ax.set_yticks(range(10), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(counts) / counts.sum()
    ax.set_title(f"Confusion matrix, {counts.sum()} test images, accuracy {accuracy:.1%}")
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
