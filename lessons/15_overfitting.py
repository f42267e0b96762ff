"""# 15. Overfitting and regularization, measured

A network with 61,706 parameters can memorize a few hundred images. It then
gets the training images right for the wrong reasons (this pixel was dark in
*that* shirt) and does worse on new images: it **overfits**. You see it in the
curves: the training loss keeps falling while the validation loss stops
falling and **turns back up**. The difference between them is the
*generalization gap*.

## The experiment

LeNet-5 is trained on a small subset of Fashion-MNIST (600 images in a full
run) for 40 epochs, and checked after every epoch on 2,000 validation images
it never trains on. Then each remedy is tried alone on the same split, with
the same seed:

- **Dropout** (`LeNet5(dropout=0.5)`): during training, every fully connected
  activation is zeroed with probability 0.5 (and the survivors doubled, so
  the expected value stays the same). No unit can rely on one particular
  other unit, so the network learns redundant, more general features.
- **Weight decay** (L2 regularization): minimize `loss + λ Σ w²`. Its
  gradient adds `2 λ w` to every weight's gradient, pulling weights towards 0
  on every step ("decay"); `Adam(weight_decay=d)` adds `d · w`, i.e. `d = 2 λ`.
  Smaller weights make a smoother function that cannot bend around every
  training image.
- **Early stopping** (`Trainer(patience=5)`): stop when the validation loss
  has not improved for 5 epochs and go back to the weights of the best epoch.
  It costs nothing and is almost always worth using.
- **Data augmentation** (`Trainer(augment="shift+flip")`, from
  `gg.data.augment`): every epoch each image is shifted by up to 2 pixels and
  mirrored at random, so the network never sees exactly the same image twice.
  Mirroring makes sense for clothes (a mirrored shirt is a shirt), not for
  digits or text. Small rotations, crops and noise are the other usual
  changes (`figures()` shows them).
- A **smaller model** (fewer filters or units) also overfits less; and the best
  remedy of all is more labelled data.

A full run gives (final epoch, or the restored best epoch for early stopping;
"gap" = validation loss − training loss, both measured in eval mode on the
plain images):

| remedy         | epochs | train loss | val loss | gap  | val accuracy |
|----------------|-------:|-----------:|---------:|-----:|-------------:|
| none           | 40     | 0.005      | 1.02     | 1.01 | 79.8%        |
| dropout 0.5    | 40     | 0.18       | 0.64     | 0.46 | 79.3%        |
| weight decay   | 40     | 0.34       | 0.73     | 0.40 | 73.6%        |
| early stopping | 18     | 0.26       | 0.64     | 0.38 | 78.5%        |
| augmentation   | 40     | 0.25       | 0.64     | 0.39 | 77.9%        |

Without a remedy the network gets all 600 training images right (training
loss 0.005) and the validation loss, lowest (0.64) in epoch 13, climbs back
to 1.02. Every remedy keeps the validation loss near its best and cuts the gap
by more than half. The validation *accuracy* hardly moves: overfitting first
makes the network over-confident on the images it gets wrong, which the loss
punishes and the accuracy does not see. Weight decay at this strength
(`weight_decay=0.02`) also costs accuracy: λ is a hyperparameter, chosen on
the validation set. `run()` prints the numbers of your run.

## Train mode and eval mode

Dropout must be **off at test time**: a prediction should not be random.
`model.train()` switches dropout on, `model.eval()` off; the Trainer and
`evaluate()` switch for you. `run()` evaluates the dropout model on the
validation images in train mode twice (two different answers) and once in
eval mode. Forgetting `model.eval()` is a classic bug.

## Shuffle every epoch

Minibatch gradient descent assumes every batch looks like the whole data
set. Fed in the file's order (all T-shirts, then all trousers, ...), every
step pulls the network towards the class it is looking at now, and it ends
the epoch predicting mostly the last classes it saw (bags and ankle boots).
`run()` shows it on the subset sorted by class. `gg.data.batches` and the Trainer draw a new random order
every epoch.

## Try it

- In the app's Train tab: `limit` (the subset size), `dropout`,
  `weight_decay`, `patience` and `augment`, and watch the two curves.
- `figures()`: the curves of every remedy, and augmented copies of one image.
"""
import numpy as np

import gradgraph as gg
from gradgraph import nn

SUMMARY = ('overfitting and regularization, measured: the train/val gap on a small subset, then dropout, weight '
           'decay (L2), early stopping and data augmentation; train/eval mode; shuffling each epoch.')

REMEDIES = {
    "none": {},
    "dropout 0.5": {"dropout": 0.5},
    "weight decay": {"weight_decay": 0.02},
    "early stopping": {"patience": 5},
    "augmentation": {"augment": "shift+flip"},
}


def split(quick=False, limit=None):
    """A small training subset (``limit`` images) and a validation set from other training images."""
    images, labels, name = gg.data.load_local("fashion-mnist", "train", full=not quick)
    x = gg.data.normalize_images(images)
    subset, val = (limit or (300 if quick else 600)), (500 if quick else 2000)
    if not 0 < subset <= len(x) - val:
        raise ValueError(f"limit must be between 1 and {len(x) - val}, got {limit}")
    return (x[:subset], labels[:subset]), (x[-val:], labels[-val:]), name


def trainer(quick=False, *, epochs=None, batch_size=32, lr=1e-3, limit=None, dropout=0.0, weight_decay=0.0,
            patience=None, augment="none", seed=0, **options):
    """LeNet-5 on the first ``limit`` training images (600; quick: 300), validated on other images."""
    (x, y), val, _ = split(quick, limit)
    model = nn.LeNet5(dropout=dropout, rng=seed)
    opt = gg.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    return gg.train.Trainer(model, opt, (x, y), val, epochs=epochs or (12 if quick else 40), batch_size=batch_size,
                            patience=patience, augment=augment, seed=seed,
                            **options)


def measure(quick=False):
    """Train once per remedy; curves and the final (or restored) losses and accuracies."""
    (x, y), (x_val, y_val), name = split(quick)
    results = {}
    for remedy, settings in REMEDIES.items():
        t = trainer(quick, **settings)
        for _ in t.records():
            pass
        train_loss, train_accuracy = t.evaluate(x, y)       # eval mode, plain images
        val_loss, val_accuracy = t.evaluate(x_val, y_val)
        results[remedy] = {
            "train_curve": [r.loss for r in t.history], "val_curve": [r.val_loss for r in t.history],
            "train_loss": train_loss, "val_loss": val_loss, "gap": val_loss - train_loss,
            "train_accuracy": train_accuracy, "val_accuracy": val_accuracy, "epochs": len(t.history),
            "best_epoch": t.best_epoch + 1, "model": t.model,
        }
    return {"results": results, "dataset": name, "train_size": len(x), "val_size": len(x_val)}


_cache = {}


def measured(quick=False):
    if quick not in _cache:
        _cache[quick] = measure(quick)
    return _cache[quick]


def modes(model, x, y):
    """Validation accuracy in train mode (dropout on) twice, then in eval mode."""
    out = []
    with gg.no_grad():
        for training in (True, True, False):
            model.train(training)
            out.append(float(np.mean(model(x).data.argmax(axis=1) == y)))
    model.train()
    return out


def shuffling(quick=False):
    """One epoch on the subset sorted by class, in file order vs shuffled:
    {how: (validation accuracy, the most predicted class, its share of the predictions)}."""
    (x, y), (x_val, y_val), _ = split(quick)
    order = np.argsort(y, kind="stable")
    x, y = x[order], y[order]
    out = {}
    for shuffle in (False, True):
        model = nn.LeNet5(rng=0)
        opt = gg.optim.Adam(model.parameters(), lr=1e-3)
        for xb, yb in gg.data.batches(x, y, 32, shuffle=shuffle, rng=0):
            opt.zero_grad()
            gg.losses.cross_entropy(model(xb), yb).backward()
            opt.step()
        with gg.no_grad():
            predicted = model(x_val).data.argmax(axis=1)
        counts = np.bincount(predicted, minlength=10)
        top = int(np.argmax(counts))
        out["shuffled" if shuffle else "in file order"] = (float(np.mean(predicted == y_val)),
                                                          gg.data.CLASSES["fashion-mnist"][top],
                                                          float(counts[top] / len(predicted)))
    return out


def build():
    """LeNet-5 with dropout, in train mode, on one image: the dropout gates zero half of fc1's and fc2's outputs."""
    (x, y), _, _ = split(quick=True)
    model = nn.LeNet5(dropout=0.5, rng=0)
    loss = gg.losses.cross_entropy(model(gg.Tensor(x[:1], name="image", requires_grad=False)), y[:1])
    loss.name = "loss"
    return loss


def run(quick=False):
    result = measured(quick)
    print(f"LeNet-5 on {result['train_size']} training images of {result['dataset']}, "
          f"validated on {result['val_size']} others.")
    print("\nValidation loss by epoch (every 4th), then the final numbers in eval mode:")
    for remedy, r in result["results"].items():
        curve = " ".join(f"{v:.2f}" for v in r["val_curve"][::4])
        print(f"  {remedy:<15} {curve}")
    print(f"\n  {'remedy':<15} {'epochs':>6} {'train loss':>10} {'val loss':>9} {'gap':>6} {'train acc':>9}"
          f" {'val acc':>8}")
    for remedy, r in result["results"].items():
        print(f"  {remedy:<15} {r['epochs']:>6} {r['train_loss']:>10.3f} {r['val_loss']:>9.3f} {r['gap']:>6.2f}"
              f" {r['train_accuracy']:>9.1%} {r['val_accuracy']:>8.1%}")
    base = result["results"]["none"]
    lowest = min(base["val_curve"])
    turn = int(np.argmin(base["val_curve"])) + 1
    print(f"  without a remedy the validation loss bottoms out at {lowest:.3f} in epoch {turn} and ends at "
          f"{base['val_curve'][-1]:.3f}, while the training loss keeps falling")

    (_, _), (x_val, y_val), _ = split(quick)
    first, second, evaluated = modes(result["results"]["dropout 0.5"]["model"], x_val, y_val)
    print(f"\nThe dropout model on the validation images: train mode {first:.1%}, again {second:.1%} "
          f"(random), eval mode {evaluated:.1%}")

    shuffle = shuffling(quick)
    print("One epoch on the subset sorted by class:")
    for how, (acc, top, share) in shuffle.items():
        print(f"  {how:<14} validation accuracy {acc:.1%}; the most frequent prediction is {top!r} ({share:.0%})")
    return {"results": {k: {m: v for m, v in r.items() if m != "model"} for k, r in result["results"].items()},
            "modes": (first, second, evaluated), "shuffling": shuffle}


def figures(quick=False):
    from matplotlib.figure import Figure

    result = measured(quick)["results"]
    fig = Figure(figsize=(11, 6), layout="constrained")
    axes = fig.subplots(2, 3, sharey=True).ravel()
    top = max(max(r["val_curve"]) for r in result.values())
    for ax, (remedy, r) in zip(axes, result.items()):
        epochs = range(1, len(r["train_curve"]) + 1)
        ax.plot(epochs, r["train_curve"], label="training (during the epoch)")
        ax.plot(epochs, r["val_curve"], label="validation")
        ax.axvline(r["best_epoch"], color="0.7", ls=":", lw=1)
        ax.set_title(f"{remedy}: gap {r['gap']:.2f}, val acc {r['val_accuracy']:.0%}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, min(top, 2.5) * 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("cross-entropy loss")
    axes[0].legend(fontsize=8)
    ax = axes[-1]
    names = list(result)
    ax.barh(names, [r["gap"] for r in result.values()], color="#2563eb")
    ax.set_title("generalization gap (val - train loss)", fontsize=9)
    ax.invert_yaxis()
    fig.suptitle("Overfitting a small subset, and each remedy alone (dotted: best validation epoch)")
    figs = [fig]

    (x, _), _, _ = split(quick=True)
    rng = np.random.default_rng(0)
    fig = Figure(figsize=(10, 2.6), layout="constrained")
    axes = fig.subplots(1, 6)
    changes = [("original", None)] + [(name, gg.data.make_augment(name))
                                      for name in ("shift", "flip", "rotate", "noise", "standard")]
    for ax, (name, transform) in zip(axes, changes):
        image = x[:1] if transform is None else transform(x[:1], rng)
        ax.imshow(image[0, 0], cmap="gray")
        ax.set_title(name, fontsize=9)
        ax.set_axis_off()
    fig.suptitle("gg.data augmentations of one training image")
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
