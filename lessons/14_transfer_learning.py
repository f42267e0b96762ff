"""# 14. Transfer learning: reuse what a network has learned

Labels are expensive; images are cheap. **Transfer learning** takes a network
trained on one task with many labels and reuses it for a new task with few.

## Why it works

A CNN's first layers learn small edge, stripe and blob detectors (lesson 13);
the later ones combine them into parts. Those features are useful for many
images, not only for the classes they were trained on. Only the last layers,
the **head** that turns features into *these* classes, are task-specific.

## The recipe

1. **Pretrain** a network on a large labelled task A.
2. **Replace the head**: throw away the fully connected layers and put new,
   randomly initialized ones in their place, sized for the new classes.
3. **Freeze** the convolutional layers (their parameters get
   `requires_grad = False`: backward skips them and the optimizer is given
   only the head's parameters) and train the head on the small task B.
4. Optionally **fine-tune**: also train the convolutional layers, with a
   learning rate about 10 times smaller, so that a few hundred labels nudge
   the features instead of overwriting them.

Always compare with **training from scratch** on the same few labels: that is
what transfer learning has to beat.

A frozen feature extractor never changes, so its outputs can be computed
once and stored; training the head then costs almost nothing. **Global
average pooling** makes the smallest possible head: average each of the 16
feature maps of `pool2` over its 5 × 5 positions, giving 16 numbers per image,
standardize them (mean 0, standard deviation 1 over the labelled images, as
for the pixels in lesson 12) and put one linear layer (16 · 5 + 5 = 85
parameters) on top. Large networks
(GoogLeNet, ResNet, lesson 18) end this way instead of with big fully
connected layers.

## Our experiment

Fashion-MNIST split into two tasks with different classes:

- task A (pretraining): T-shirt/top, trouser, pullover, dress, coat;
- task B (the new task): sandal, shirt, sneaker, bag, ankle boot.

LeNet-5 with 5 outputs is trained on all of task A's images. Then, for
several numbers of labelled task-B images (balanced over the 5 classes), four
models are trained for the same number of steps and tested on task B's test
images:

| model            | starts from                 | trains                                 |
|------------------|-----------------------------|----------------------------------------|
| scratch          | random weights              | everything                             |
| frozen + head    | task A's conv layers, new head | fc1, fc2, fc3 only                  |
| fine-tune        | task A's conv layers, new head | everything; conv layers at lr / 10  |
| frozen + GAP     | task A's conv layers        | one 16 → 5 linear layer on averaged maps |

A full run (60,000 Fashion-MNIST images; pretraining 2 epochs reaches 89% on
task A's test images) gives, on task B's 5,000 test images after 300 steps:

| labels | scratch | frozen + head | fine-tune | frozen + GAP |
|-------:|--------:|--------------:|----------:|-------------:|
| 25     | 76.5%   | 82.7%         | 82.4%     | 77.0%        |
| 100    | 89.3%   | 90.2%         | 90.3%     | 84.5%        |
| 500    | 92.5%   | 93.1%         | 93.1%     | 86.8%        |

With 25 labels (5 per class!) the pretrained features are worth 6 points;
with more labels training from scratch catches up, and with thousands it
would overtake a frozen network, whose features were chosen for other
classes. Fine-tuning with a small learning rate keeps the head start without
that ceiling. The GAP head (85 parameters) does well for its size, but
averaging throws away *where* in the image each feature was, which LeNet's
small maps need; on large networks with rich features it is the standard
head. Task B is the easier half of Fashion-MNIST (a shirt is the only hard
class), which is why scratch does well so soon. `run()` prints the numbers of
your run.

## In gradgraph

```python
model = gg.nn.LeNet5(num_classes=5)
model.conv1.weight.data[...] = pretrained.conv1.weight.data    # copy the features ...
for p in model.conv1.parameters() + model.conv2.parameters():
    p.requires_grad = False                                    # ... and freeze them
head = model.fc1.parameters() + model.fc2.parameters() + model.fc3.parameters()
opt = gg.optim.Adam(head, lr=1e-3)                             # only the head learns
```

## Try it

- In the graph: the frozen layers are not even there. With a constant image
  and no conv parameter needing a gradient, conv1 … pool2 compute a constant
  (the box `c_0`: the 400 features of this image), so the engine records no
  gates for them and the graph starts at fc1. That is exactly why a frozen
  feature extractor's outputs can be computed once and stored.
- In the app's Train tab: `variant` scratch / frozen / finetune and `labels`,
  and compare the validation accuracy after the same number of epochs.
- `figures()`: accuracy against the number of labels for the four models.
"""
import time

import numpy as np

import gradgraph as gg
from gradgraph import nn

SUMMARY = ('transfer learning: pretrain LeNet on 5 Fashion-MNIST classes, freeze the conv layers, train a new '
           'head (or global average pooling) on 5 other classes, fine-tune; vs training from scratch per label '
           'count.')

TASK_A = (0, 1, 2, 3, 4)
TASK_B = (5, 6, 7, 8, 9)
VARIANTS = ("scratch", "frozen", "finetune")          # what trainer() offers (the app's combo box)
COMPARED = VARIANTS + ("gap",)                           # what compare() measures
LABELS = {"scratch": "scratch", "frozen": "frozen + head", "finetune": "fine-tune", "gap": "frozen + GAP"}
CONV_LAYERS = ("conv1", "conv2")
HEAD_LAYERS = ("fc1", "fc2", "fc3")


def load(split, quick):
    """Normalized Fashion-MNIST (full when installed, the starter set in quick mode or offline)."""
    images, labels, name = gg.data.load_local("fashion-mnist", split, full=not quick)
    return gg.data.normalize_images(images), labels, name


def task(x, y, classes):
    """The images of ``classes`` with labels renumbered 0..len(classes)-1."""
    keep = np.isin(y, classes)
    return x[keep], y[keep] - classes[0]


def few_labels(x, y, n, seed=0):
    """``n`` images, as many of each class as possible (a balanced small labelled set)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = n // len(classes)
    chosen = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])
    rng.shuffle(chosen)
    return x[chosen], y[chosen]


def layer_params(model, names):
    return [p for name in names for p in getattr(model, name).parameters()]


def pretrain(quick=False, seed=0):
    """LeNet-5 trained on task A; returns (model, its test accuracy on task A, seconds)."""
    x, y, _ = load("train", quick)
    x_test, y_test, _ = load("test", quick)
    xa, ya = task(x, y, TASK_A)
    model = nn.LeNet5(num_classes=len(TASK_A), rng=seed)
    began = time.perf_counter()
    trainer = gg.train.fit(model, gg.optim.Adam(model.parameters(), lr=1e-3), (xa, ya),
                           epochs=1 if quick else 2, batch_size=64, seed=seed)
    _, accuracy = trainer.evaluate(*task(x_test, y_test, TASK_A))
    return model, accuracy, time.perf_counter() - began


def transferred(pretrained, variant, seed=1):
    """A new LeNet-5 for task B: its conv layers copied from ``pretrained`` (except for
    "scratch") and frozen for "frozen"; returns (model, [(params, lr scale), ...])."""
    model = nn.LeNet5(num_classes=len(TASK_B), rng=seed)
    if variant == "scratch":
        return model, [(model.parameters(), 1.0)]
    for name in CONV_LAYERS:
        for mine, theirs in zip(getattr(model, name).parameters(), getattr(pretrained, name).parameters()):
            mine.data = theirs.data.copy()
    convs, head = layer_params(model, CONV_LAYERS), layer_params(model, HEAD_LAYERS)
    if variant == "frozen":
        for p in convs:
            p.requires_grad = False
        return model, [(head, 1.0)]
    return model, [(convs, 0.1), (head, 1.0)]           # fine-tune: the features move 10x slower


def features(pretrained, x):
    """The frozen network's pool2 maps averaged over their positions: (N, 16) (global average pooling)."""
    out = []
    with gg.no_grad():
        for start in range(0, len(x), 1000):
            h = gg.Tensor(x[start:start + 1000], requires_grad=False)
            for name, layer in pretrained.named_children():
                h = layer(h)
                if name == "pool2":
                    break
            out.append(h.data.mean(axis=(2, 3)))
    return np.concatenate(out)


def train(model, groups, x, y, steps, lr=1e-3, batch_size=32, seed=0):
    """``steps`` minibatch steps with one Adam per parameter group (each at lr · its scale)."""
    optimizers = [gg.optim.Adam(params, lr=lr * scale) for params, scale in groups]
    rng = np.random.default_rng(seed)
    model.train()
    done = 0
    while done < steps:
        for xb, yb in gg.data.batches(x, y, batch_size, rng=rng):   # reshuffled every epoch
            for opt in optimizers:
                opt.zero_grad()
            gg.losses.cross_entropy(model(xb), yb).backward()
            for opt in optimizers:
                opt.step()
            done += 1
            if done == steps:
                break
    return model


def accuracy(model, x, y):
    with gg.no_grad():
        model.eval()
        predicted = np.concatenate([model(x[k:k + 1000]).data.argmax(axis=1) for k in range(0, len(x), 1000)])
        model.train()
    return float(np.mean(predicted == y))


def compare(quick=False):
    """Test accuracy on task B of every variant for every label count: {variant: {labels: accuracy}}."""
    pretrained, accuracy_a, seconds = pretrain(quick)
    x, y, name = load("train", quick)
    x_test, y_test, _ = load("test", quick)
    xb_all, yb_all = task(x, y, TASK_B)
    xb_test, yb_test = task(x_test, y_test, TASK_B)
    counts = (25, 100) if quick else (25, 100, 500)
    steps = 60 if quick else 300
    table = {v: {} for v in COMPARED}
    gap_test = features(pretrained, xb_test)
    for n in counts:
        x_few, y_few = few_labels(xb_all, yb_all, n)
        for variant in VARIANTS:
            model, groups = transferred(pretrained, variant)
            train(model, groups, x_few, y_few, steps)
            table[variant][n] = accuracy(model, xb_test, yb_test)
        gap_few = features(pretrained, x_few)
        mean, std = gap_few.mean(axis=0), gap_few.std(axis=0) + 1e-3   # standardize, like the inputs
        head = nn.Linear(16, len(TASK_B), init="xavier", rng=1)
        train(head, [(head.parameters(), 10.0)], (gap_few - mean) / std, y_few, steps)
        table["gap"][n] = accuracy(head, (gap_test - mean) / std, yb_test)
    return {"table": table, "counts": counts, "pretrain_accuracy": accuracy_a, "pretrain_seconds": seconds,
            "dataset": name, "test_images": len(xb_test), "steps": steps}


_cache = {}


def compared(quick=False):
    if quick not in _cache:
        _cache[quick] = compare(quick)
    return _cache[quick]


def build():
    """LeNet-5 for task B with frozen conv layers, on one sandal: the frozen part computes a constant, so the
    graph starts at the head (fc1)."""
    x, y, _ = load("test", quick=True)
    xb, yb = task(x, y, TASK_B)
    model, _ = transferred(nn.LeNet5(num_classes=5, rng=0), "frozen")
    loss = gg.losses.cross_entropy(model(gg.Tensor(xb[:1], name="image", requires_grad=False)), yb[:1])
    loss.name = "loss"
    return loss


def trainer(quick=False, *, epochs=None, batch_size=32, lr=1e-3, labels=100, variant="frozen", seed=0, **options):
    """Pretrain on task A, then a Trainer for task B with ``labels`` labelled images
    (variant: scratch, frozen or finetune; fine-tuning here uses one learning rate)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of scratch, frozen, finetune, not {variant!r}")
    pretrained, _, _ = pretrain(quick, seed)
    x, y, _ = load("train", quick)
    x_test, y_test, _ = load("test", quick)
    x_few, y_few = few_labels(*task(x, y, TASK_B), labels, seed)
    model, groups = transferred(pretrained, variant)
    params = [p for group, _ in groups for p in group]
    return gg.train.Trainer(model, gg.optim.Adam(params, lr=lr), (x_few, y_few), task(x_test, y_test, TASK_B),
                            epochs=epochs or (3 if quick else 20), batch_size=batch_size, seed=seed, **options)


def run(quick=False):
    result = compared(quick)
    table, counts = result["table"], result["counts"]
    print(f"Data: {result['dataset']}. Task A = classes {TASK_A}, task B = classes {TASK_B}.")
    print(f"Pretrained LeNet-5 on task A in {result['pretrain_seconds']:.0f} s: "
          f"{result['pretrain_accuracy']:.1%} test accuracy on task A.")
    model, groups = transferred(nn.LeNet5(num_classes=5, rng=0), "frozen")
    trainable = sum(p.size for group, _ in groups for p in group)
    print(f"Frozen: {model.num_parameters() - trainable:,} of {model.num_parameters():,} parameters frozen "
          f"(conv1, conv2), {trainable:,} in the new head; the GAP head has 16 * 5 + 5 = 85.")
    print(f"\nTask B test accuracy ({result['test_images']} test images) after {result['steps']} steps "
          f"of 32, by number of labelled task-B images:")
    print(f"  {'labels':>6}  " + "  ".join(f"{LABELS[v]:>13}" for v in COMPARED))
    for n in counts:
        print(f"  {n:>6}  " + "  ".join(f"{table[v][n]:>13.1%}" for v in COMPARED))
    best = {n: max(COMPARED, key=lambda v: table[v][n]) for n in counts}
    print("  best per row: " + ", ".join(f"{n} labels: {LABELS[v]}" for n, v in best.items()))
    return result


def figures(quick=False):
    from matplotlib.figure import Figure

    result = compared(quick)
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for variant, marker in zip(COMPARED, "osD^"):
        ax.plot(result["counts"], [100 * result["table"][variant][n] for n in result["counts"]],
                marker + "-", label=LABELS[variant])
    ax.set_xscale("log")
    ax.set_xticks(result["counts"], [str(n) for n in result["counts"]])
    ax.set_xlabel("labelled images of the new task (balanced over 5 classes)")
    ax.set_ylabel("test accuracy on the new task (%)")
    ax.set_title(f"Transfer from task A (5 classes) to task B ({result['dataset']})")
    ax.grid(alpha=0.3)
    ax.legend()
    return [fig]


if __name__ == "__main__":
    gg.lessons.main(run)
