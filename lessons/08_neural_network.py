"""# 8. Activations and a two-layer network

## Neurons in layers

A neuron computes `a = f(Σ_i w_i x_i + b)`. Put many side by side and you
have a **layer**, `z_i = Σ_j x_j w_ji + w_0i`, `a_i = f(z_i)`, or in matrix
form `a = f(x W + b)`. Cascade layers and you have a network:

    2 layers:  s = W2 max(0, W1 x)
    3 layers:  s = W3 max(0, W2 max(0, W1 x))

(biases left out). Without the `max(0, ·)` in between, `W2 W1` would be one
matrix and the network would still be linear. The non-linear **activation
function** is what makes depth pay off.

## Activation functions

| name        | formula                   | range      | notes                                  |
|-------------|---------------------------|------------|----------------------------------------|
| sigmoid     | 1 / (1 + e^(-x))          | (0, 1)     | saturates: gradient at most 0.25        |
| tanh        | 2 σ(2x) - 1               | (-1, 1)    | zero-centred sigmoid, max gradient 1    |
| ReLU        | max(0, x)                 | [0, ∞)     | the default: cheap, no saturation for x > 0 |
| leaky ReLU  | x if x > 0 else 0.01 x    | (-∞, ∞)    | never exactly flat: avoids dead units   |

ReLU's range is `[0, ∞)`, 0 included (a slide writes `(0, ∞)`): for every
negative input it outputs exactly 0, which is also why a unit can "die".

The **output layer** fits the task: identity for regression (any real
number), sigmoid for a yes/no probability, softmax for one of many classes
(probabilities that sum to 1), ReLU for a non-negative quantity, tanh for
values in (-1, 1). A slide advises "classification: ReLU activation with
softmax". Not on the output layer: a ReLU before the softmax clips every
negative score to 0, so the network cannot make a class *less* likely than
another whose score is also negative, and no gradient flows through the
clipped scores. The last layer gives plain linear scores (logits) to the
softmax; ReLUs belong in the hidden layers.

## What a linear classifier cannot do

Lesson 6 ended with a linear classifier failing on XOR. Three classic cases
where no straight line separates the classes:

- **XOR**: class 1 in quadrants 1 and 3, class 0 in quadrants 2 and 4;
- **a ring**: class 1 where `1 ≤ ||x|| ≤ 2`, class 0 inside and outside;
- **three modes**: class 1 in three separate clusters around class 0.

A two-layer network with a hidden ReLU layer learns all three: each hidden
unit contributes one straight "crease", and the output layer combines the
creases into a bent boundary (three units are enough for the three modes,
one per cluster). `run()` trains a linear model and a 2-layer network with
32 hidden units on each, and `figures()` draws the decision boundaries.

## Vanishing gradients

Backpropagation multiplies the local gradients of every layer it passes.
The sigmoid's local gradient `(1 - σ) σ` is at most 0.25, so in a deep stack of
sigmoids the gradient shrinks by a factor of four or more *per layer*. `run()`
builds 10 hidden layers of 32 units and measures the size (L2 norm) of each
weight matrix's gradient at initialization: with sigmoids, the first layer's
gradient is about 10⁷ times smaller than the last one's, so the first layers
barely learn. With ReLU (local gradient exactly 1 where active) the gradients
keep their size. That is one reason ReLU became the default.

## Dead ReLUs

The flip side: where a ReLU's input is negative, its gradient is exactly 0.
A unit whose input is negative for *every* training example never receives
a gradient again, so its weights never change: it is **dead**. A too-large
learning rate is the usual killer: one big step pushes the bias far negative.
`run()` trains the ring network with SGD and momentum: with learning rate
0.01 none of the 32 hidden units dies; with 0.5, most of them do. Leaky ReLU
(a small slope α for x < 0) keeps a gradient flowing so units can come back.

## Why not fully connected layers for images?

A 224 × 224 × 3 image has 150,528 numbers; a first layer of just 100 units
already needs 150,528 × 100 ≈ 15 million weights, and every unit looks at
every pixel. Some slides quote about 1.6 billion weights for a 128 × 128
image with three fully connected layers of 16,384 units; counting the three
16,384 × 16,384 weight matrices gives 3 × 16,384² ≈ 0.8 billion. Either way,
far too many: lesson 9's convolutions share a few weights across positions.

## Try it

- In the app, train the network (`trainer()`; options `dataset="ring"`,
  `hidden=3`, `activation="tanh"`, `lr=...`) and watch the boundary bend.
- With `hidden=3` on `three_modes`, look at how each hidden unit's crease
  cuts off one cluster.
"""
import numpy as np

import gradgraph as gg
from gradgraph import nn

SUMMARY = "Activations; a 2-layer ReLU net on XOR, a ring and three modes; vanishing gradients; dead ReLUs."

DATASETS = ("xor", "ring", "three_modes")
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky_relu": nn.LeakyReLU}


class TwoLayerNet(nn.Module):
    """s = W2 f(W1 x + b1) + b2 for 2-D points; ``hidden=0`` gives a linear classifier s = W x + b."""

    def __init__(self, hidden=32, activation="relu", seed=0, dtype=np.float32, classes=2):
        super().__init__()
        if hidden == 0:
            self.linear = nn.Linear(2, classes, init="xavier", rng=seed, dtype=dtype)
            return
        init = "kaiming" if activation in ("relu", "leaky_relu") else "xavier"
        self.fc1 = nn.Linear(2, hidden, init=init, rng=seed, dtype=dtype)
        self.act = ACTIVATIONS[activation]()
        self.fc2 = nn.Linear(hidden, classes, init="xavier", rng=seed + 1, dtype=dtype)

    def hidden(self, x):
        """The hidden layer's activations f(W1 x + b1)."""
        return self.act(self.fc1(x))

    def forward(self, x):
        if hasattr(self, "linear"):
            return self.linear(x)
        return self.fc2(self.hidden(x))


def load_points(name, quick=False, seed=0):
    """A toy dataset by name: (X (n, 2), y (n,))."""
    make = getattr(gg.data.toy, name)
    return make(n=200 if quick else 400, seed=seed)


OPTIMIZERS = {"adam": gg.optim.Adam, "sgd": gg.optim.SGD, "rmsprop": gg.optim.RMSprop}


def trainer(quick=False, *, dataset="ring", hidden=32, activation="relu", lr=0.03, optimizer="adam", epochs=None,
            batch_size=32, seed=0, **options):
    """A Trainer for a 2-layer network on a 2-D toy dataset (the app draws its decision boundary).

    ``dataset``: xor, ring, three_modes or spiral; ``hidden``: hidden units (0: a linear classifier);
    ``activation``: relu, tanh, sigmoid or leaky_relu. Other options go to gg.train.Trainer.
    ``trainer.x``/``trainer.y`` hold the points; ``trainer.model`` maps (n, 2) points to class scores.
    """
    X, y = load_points(dataset, quick, seed)
    model = TwoLayerNet(hidden, activation, seed, classes=int(y.max()) + 1)
    epochs = epochs if epochs is not None else (15 if quick else 100)
    return gg.train.Trainer(model, OPTIMIZERS[optimizer](model.parameters(), lr=lr), (X, y), epochs=epochs,
                            batch_size=batch_size, seed=seed, **options)


def train(name, hidden, quick=False, activation="relu", lr=0.03):
    t = trainer(quick, dataset=name, hidden=hidden, activation=activation, lr=lr,
                log_every=10 ** 6)
    for record in t.records():
        pass
    loss, accuracy = t.evaluate(t.x, t.y)
    return t, accuracy


def build():
    """One forward pass of a 2-layer network (3 hidden ReLUs) on four XOR points, with its loss."""
    X = np.array([[0.8, 0.6], [-0.7, -0.5], [-0.6, 0.9], [0.5, -0.8]])
    y = np.array([1, 1, 0, 0])
    model = TwoLayerNet(hidden=3, seed=0, dtype=np.float64)
    s = model(gg.Tensor(X, name="x", requires_grad=False))
    loss = gg.losses.cross_entropy(s, y)
    loss.name = "loss"
    return loss


def deep_stack(activation, depth=10, width=32, seed=0):
    layers, d = [], 2
    init = "kaiming" if activation == "relu" else "xavier"
    for i in range(depth):
        layers += [nn.Linear(d, width, init=init, rng=seed + i, dtype=np.float64), ACTIVATIONS[activation]()]
        d = width
    layers.append(nn.Linear(d, 2, init="xavier", rng=seed + 99, dtype=np.float64))
    return nn.Sequential(*layers)


def layer_gradient_norms(activation):
    """L2 norm of each Linear layer's weight gradient, first layer first, at initialization."""
    X, y = gg.data.toy.ring(n=200, seed=0)
    model = deep_stack(activation)
    gg.losses.cross_entropy(model(X), y).backward()
    return [float(np.linalg.norm(layer.weight.grad)) for layer in model if isinstance(layer, nn.Linear)]


def dead_units(lr, quick=False):
    """Train the ring network with SGD + momentum; count the hidden ReLUs that are 0 on every point."""
    X, y = gg.data.toy.ring(n=300, seed=0)
    model = TwoLayerNet(32, "relu", seed=0)
    t = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9), (X, y),
                         epochs=10 if quick else 30, batch_size=32, log_every=10 ** 6)
    for record in t.records():
        pass
    with gg.no_grad():
        hidden = model.hidden(X).data
    return int(np.sum(np.all(hidden <= 0, axis=0)))


def run(quick=False):
    print("Linear classifier vs a 2-layer ReLU network (32 hidden units): training accuracy")
    accuracy = {}
    for name in DATASETS:
        _, linear = train(name, 0, quick)
        _, net = train(name, 32, quick)
        accuracy[name] = {"linear": linear, "two_layer": net}
        print(f"  {name:<12} linear {linear:6.1%}    2-layer {net:6.1%}")

    print("\nOne forward and backward pass of a tiny network (3 hidden units, 4 XOR points)")
    loss = build()
    loss.backward()
    print(f"  loss {float(loss.data):.4f}; gradients reach every weight:",
          all(n.grad is not None for n in gg.topological_order(loss) if n.is_parameter))

    print("\nVanishing gradients: |dL/dW| per layer at initialization (10 hidden layers, first -> last)")
    norms = {}
    for activation in ("sigmoid", "tanh", "relu"):
        norms[activation] = layer_gradient_norms(activation)
        print(f"  {activation:<8} " + " ".join(f"{v:8.1e}" for v in norms[activation]))
    ratio = norms["sigmoid"][-1] / norms["sigmoid"][0]
    print(f"  sigmoid: the last layer's gradient is {ratio:.1e} times the first layer's")

    print("\nDead ReLUs: the ring network (32 hidden units) trained with SGD + momentum")
    dead = {}
    for lr in (0.01, 0.5):
        dead[lr] = dead_units(lr, quick)
        print(f"  lr {lr:<5g} {dead[lr]:2d} of the 32 hidden units are dead (0 on every training point)")

    return {"accuracy": accuracy, "grad_norms": norms, "sigmoid_ratio": ratio, "dead": dead,
            "tiny_loss": float(loss.data)}


def decision_boundary(ax, model, X, y, title):
    xs = np.linspace(X[:, 0].min() - 0.3, X[:, 0].max() + 0.3, 150)
    ys = np.linspace(X[:, 1].min() - 0.3, X[:, 1].max() + 0.3, 150)
    gx, gy = np.meshgrid(xs, ys)
    with gg.no_grad():
        scores = model(np.stack([gx.ravel(), gy.ravel()], axis=1)).data
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True))[:, 1].reshape(gx.shape)
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.35)
    ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", s=8, edgecolors="k", linewidths=0.2)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def figures(quick=False):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 6), layout="constrained")
    axes = fig.subplots(2, len(DATASETS))
    for col, name in enumerate(DATASETS):
        for row, hidden in enumerate((0, 32)):
            t, acc = train(name, hidden, quick)
            kind = "linear" if hidden == 0 else "2-layer, 32 ReLUs"
            decision_boundary(axes[row, col], t.model, t.x, t.y, f"{name}: {kind} ({acc:.0%})")
    fig.suptitle("Decision boundaries (black: p = 0.5)")

    fig2 = Figure(figsize=(7, 4), layout="constrained")
    ax = fig2.add_subplot()
    for activation in ("sigmoid", "tanh", "relu"):
        norms = layer_gradient_norms(activation)
        ax.semilogy(range(1, len(norms) + 1), norms, "o-", label=activation)
    ax.set_xlabel("layer (1 = nearest the input)")
    ax.set_ylabel("|dL/dW| at initialization")
    ax.set_title("Vanishing gradients in a deep sigmoid stack")
    ax.legend()
    return [fig, fig2]


if __name__ == "__main__":
    gg.lessons.main(run)
