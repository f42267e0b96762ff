"""# 18. Named architectures: LeNet → AlexNet → VGG → GoogLeNet → ResNet

Five networks mark the road from reading cheques to beating people at
ImageNet (1.2 million photos, 1,000 classes). Their parameter counts and
output sizes follow from their layer shapes alone, with the formulas of
lessons 9 to 12:

    output size  = ⌊(W + 2P - K) / S⌋ + 1                     (gg.kernels.conv_output_size)
    conv params  = F · (C · K · K + 1)         multiply-adds = F · H_out · W_out · C · K · K
    fc params    = (inputs + 1) · outputs

`run()` prints every layer of every network with its output shape, its
parameters and its multiply-adds, computed from the layer shapes by
`summarize()` (nothing that large is built or trained); for LeNet-5 the
result is checked against the engine's own `gg.nn.LeNet5`.

| network   | year | input     | depth | parameters | multiply-adds | idea                                   |
|-----------|------|-----------|------:|-----------:|--------------:|----------------------------------------|
| LeNet-5   | 1998 | 1×28×28   | 5     | 61,706     | 0.4 M         | conv → pool → conv → pool → fc         |
| AlexNet   | 2012 | 3×227×227 | 8     | 62.4 M     | 1.1 G         | bigger, ReLU, dropout, GPUs            |
| VGG-16    | 2014 | 3×224×224 | 16    | 138.4 M    | 15.5 G        | only 3×3 convolutions, deeper          |
| GoogLeNet | 2014 | 3×224×224 | 22    | 7.0 M      | 1.6 G         | inception modules, 1×1 reductions, GAP |
| ResNet-18 | 2015 | 3×224×224 | 18    | 11.7 M     | 1.8 G         | residual connections                   |

## LeNet-5 (LeCun et al. 1998)

Lesson 12: about 60 thousand parameters, 0.95% test error on MNIST. **The
slide that calls AlexNet "the original network for MNIST" is wrong:** that
was LeNet-5. AlexNet was made for ImageNet.

## AlexNet (Krizhevsky, Sutskever, Hinton 2012)

Won ImageNet 2012 with a top-5 error of 15.3% against 26.2% for the runner-up
(top-5: the right class among the five highest scores, lesson 17). Five
convolutional and three fully connected layers, ReLU instead of tanh,
dropout, data augmentation, trained on two GPUs. The paper says the input is
224 × 224, but 11 × 11 filters with stride 4 give `⌊(224 - 11)/4⌋ + 1 = 54`
positions, not the 55 it draws; the arithmetic works for 227 × 227 (`run()`
computes both). 94% of its 62 million parameters sit in the three fully
connected layers. (The original split conv2, conv4 and conv5 into two groups
for its two GPUs, which makes 61 million; the table counts one GPU's version.)

## VGG-16 (Simonyan & Zisserman 2014)

Only 3 × 3 convolutions (two stacked see 5 × 5, three see 7 × 7, with fewer
parameters and more ReLUs), doubling the channels when the maps halve.
138 million parameters. **It is not fully convolutional,** as one slide says:
it ends in three fully connected layers, and they hold 124 of its 138 million
parameters (`run()` computes the share). The convolutions do 99% of the
*computation*, the fully connected layers hold 89% of the *parameters*.

## GoogLeNet (Szegedy et al. 2014)

22 layers but only 7 million parameters. Its **inception modules** run 1 × 1,
3 × 3 and 5 × 5 convolutions and a 3 × 3 max pool side by side and stack
their outputs along the channels; cheap 1 × 1 convolutions first reduce the
channels (192 → 16 before a 5 × 5 saves 90% of its multiply-adds). It ends
with **global average pooling** (lesson 14) instead of big fully connected
layers: its classifier has 1 million parameters, VGG's 124 million.

## ResNet (He et al. 2015)

Plain networks got *worse* beyond about 20 layers, on the training set too:
not overfitting, but harder optimization. A **residual block** adds its input
to its output,

    out = x + F(x)          so          dL/dx = dL/dout · (1 + dF/dx)

The add gate passes the gradient through unchanged (lesson 2), so every
block has a direct path back to the input: the gradient cannot vanish along
it, and a block that is not needed can learn F ≈ 0. ResNets reached 152
layers (3.6% top-5 error on ImageNet, better than the 5% estimated for
people) and are still the default backbone.

### Residual vs plain, measured

`run()` builds two 50-layer networks of 32 units on lesson 8's spiral data,
identical except for the skip connection: plain blocks `h ← relu(W h)` and
residual blocks `h ← h + W relu(h)` (with the branch weights scaled by
1/√50 so that 50 additions do not blow up the signal: real ResNets do the same
by starting each block's last batch-normalization scale at 0). A full run
gives, at initialization and after 300 Adam steps:

| network  | ‖dL/dW‖ first block | last block | loss at start | after 300 steps | accuracy |
|----------|--------------------:|-----------:|--------------:|----------------:|---------:|
| plain    | 1.5e-9              | 6e-10      | 1.099         | 1.099           | 33%      |
| residual | 0.23                | 0.25       | 1.174         | 0.006           | 100%     |

The plain network's gradients are a hundred million times too small: it never
leaves the uniform guess (ln 3 = 1.099). The residual one, with the same
layers and the same initial weights, learns the spiral.

## A word on history

Generative adversarial networks (GANs) are by Goodfellow et al. (2014), with
Yoshua Bengio among the co-authors; a slide credits them to "Joshua" Bengio.

## Try it

- The graph: one residual block. Step through the backward pass and watch
  the add gate send the same gradient down the skip and into the branch.
- In the app's Train tab: `kind` plain / residual and `depth`.
"""
from dataclasses import dataclass

import numpy as np

import gradgraph as gg
from gradgraph import nn
from gradgraph.kernels import conv_output_size as output_size

SUMMARY = ('named architectures LeNet-5, AlexNet, VGG-16, GoogLeNet, ResNet: layers, output sizes, parameters '
           'and multiply-adds computed from their shapes; residual vs plain gradient flow.')

KINDS = ("residual", "plain")


# -- layers as shapes ---------------------------------------------------------------------
# Each layer maps an input shape (C, H, W) to (output shape, parameters, multiply-adds).

@dataclass
class Conv:
    out: int
    k: int
    stride: int = 1
    padding: int = 0
    bias: bool = True

    def __call__(self, c, h, w):
        h2 = output_size(h, self.k, self.stride, self.padding)
        w2 = output_size(w, self.k, self.stride, self.padding)
        return (self.out, h2, w2), self.out * (c * self.k * self.k + self.bias), self.out * h2 * w2 * c * self.k ** 2

    def __str__(self):
        return f"conv {self.k}x{self.k}" + (f"/{self.stride}" if self.stride > 1 else "")


@dataclass
class Pool:
    k: int
    stride: int = 2
    padding: int = 0
    kind: str = "max"

    def __call__(self, c, h, w):
        return (c, output_size(h, self.k, self.stride, self.padding),
                output_size(w, self.k, self.stride, self.padding)), 0, 0

    def __str__(self):
        return f"{self.kind} pool {self.k}x{self.k}/{self.stride}"


@dataclass
class FC:
    out: int

    def __call__(self, c, h, w):
        n = c * h * w
        return (self.out, 1, 1), (n + 1) * self.out, n * self.out

    def __str__(self):
        return "fully connected"


@dataclass
class GlobalAveragePool:
    def __call__(self, c, h, w):
        return (c, 1, 1), 0, 0

    def __str__(self):
        return "global average pool"


@dataclass
class BatchNorm:
    def __call__(self, c, h, w):
        return (c, h, w), 2 * c, 0      # a scale and a shift per channel

    def __str__(self):
        return "batch norm"


def _chain(layers, shape):
    params = macs = 0
    for layer in layers:
        shape, p, m = layer(*shape)
        params, macs = params + p, macs + m
    return shape, params, macs


@dataclass
class Inception:
    """Four branches side by side, stacked along the channels: 1x1 | 1x1 → 3x3 | 1x1 → 5x5 | pool → 1x1."""
    n1: int
    r3: int
    n3: int
    r5: int
    n5: int
    pool_proj: int

    def __call__(self, c, h, w):
        branches = [[Conv(self.n1, 1)], [Conv(self.r3, 1), Conv(self.n3, 3, padding=1)],
                    [Conv(self.r5, 1), Conv(self.n5, 5, padding=2)],
                    [Pool(3, 1, 1), Conv(self.pool_proj, 1)]]
        results = [_chain(branch, (c, h, w)) for branch in branches]
        channels = sum(shape[0] for shape, _, _ in results)
        return (channels, h, w), sum(p for _, p, _ in results), sum(m for _, _, m in results)

    def __str__(self):
        return "inception"


@dataclass
class BasicBlock:
    """ResNet's block: conv 3x3 → BN → ReLU → conv 3x3 → BN, plus the input (through a 1x1 conv when
    the shape changes)."""
    out: int
    stride: int = 1

    def __call__(self, c, h, w):
        branch = [Conv(self.out, 3, self.stride, 1, bias=False), BatchNorm(),
                  Conv(self.out, 3, 1, 1, bias=False), BatchNorm()]
        shape, params, macs = _chain(branch, (c, h, w))
        if self.stride != 1 or c != self.out:
            _, p, m = _chain([Conv(self.out, 1, self.stride, bias=False), BatchNorm()], (c, h, w))
            params, macs = params + p, macs + m
        return shape, params, macs

    def __str__(self):
        return "residual block" + (f"/{self.stride}" if self.stride > 1 else "")


def summarize(layers, shape):
    """Rows (name, what, output shape, parameters, multiply-adds) and the totals, from the input shape."""
    rows = []
    for name, layer in layers:
        shape, params, macs = layer(*shape)
        rows.append((name, str(layer), shape, params, macs))
    return rows, sum(r[3] for r in rows), sum(r[4] for r in rows)


def _fc_stack(*sizes):
    return [(f"fc{i}", FC(n)) for i, n in enumerate(sizes, start=1)]


ARCHITECTURES = {
    "LeNet-5": ((1, 28, 28), [("conv1", Conv(6, 5, padding=2)), ("pool1", Pool(2)), ("conv2", Conv(16, 5)),
                              ("pool2", Pool(2))] + _fc_stack(120, 84, 10)),
    "AlexNet": ((3, 227, 227), [("conv1", Conv(96, 11, 4)), ("pool1", Pool(3)), ("conv2", Conv(256, 5, padding=2)),
                                ("pool2", Pool(3)), ("conv3", Conv(384, 3, padding=1)),
                                ("conv4", Conv(384, 3, padding=1)), ("conv5", Conv(256, 3, padding=1)),
                                ("pool5", Pool(3))] + _fc_stack(4096, 4096, 1000)),
    "VGG-16": ((3, 224, 224), [layer for stage, (n, width) in enumerate(((2, 64), (2, 128), (3, 256), (3, 512),
                                                                          (3, 512)), start=1)
                               for layer in [(f"conv{stage}_{i}", Conv(width, 3, padding=1)) for i in range(1, n + 1)]
                               + [(f"pool{stage}", Pool(2))]] + _fc_stack(4096, 4096, 1000)),
    "GoogLeNet": ((3, 224, 224), [
        ("conv1", Conv(64, 7, 2, 3)), ("pool1", Pool(3, 2, 1)), ("conv2_reduce", Conv(64, 1)),
        ("conv2", Conv(192, 3, padding=1)), ("pool2", Pool(3, 2, 1)),
        ("3a", Inception(64, 96, 128, 16, 32, 32)), ("3b", Inception(128, 128, 192, 32, 96, 64)),
        ("pool3", Pool(3, 2, 1)),
        ("4a", Inception(192, 96, 208, 16, 48, 64)), ("4b", Inception(160, 112, 224, 24, 64, 64)),
        ("4c", Inception(128, 128, 256, 24, 64, 64)), ("4d", Inception(112, 144, 288, 32, 64, 64)),
        ("4e", Inception(256, 160, 320, 32, 128, 128)), ("pool4", Pool(3, 2, 1)),
        ("5a", Inception(256, 160, 320, 32, 128, 128)), ("5b", Inception(384, 192, 384, 48, 128, 128)),
        ("gap", GlobalAveragePool()), ("fc", FC(1000))]),
    "ResNet-18": ((3, 224, 224), [
        ("conv1", Conv(64, 7, 2, 3, bias=False)), ("bn1", BatchNorm()), ("pool1", Pool(3, 2, 1)),
        ("layer1.0", BasicBlock(64)), ("layer1.1", BasicBlock(64)),
        ("layer2.0", BasicBlock(128, 2)), ("layer2.1", BasicBlock(128)),
        ("layer3.0", BasicBlock(256, 2)), ("layer3.1", BasicBlock(256)),
        ("layer4.0", BasicBlock(512, 2)), ("layer4.1", BasicBlock(512)),
        ("gap", GlobalAveragePool()), ("fc", FC(1000))]),
}


# -- residual vs plain ----------------------------------------------------------------------

class PlainBlock(nn.Module):
    """h ← relu(W h + b)"""

    def __init__(self, width, rng):
        super().__init__()
        self.fc = nn.Linear(width, width, init="xavier", rng=rng)

    def forward(self, h):
        return self.fc(h).relu()


class ResidualBlock(nn.Module):
    """h ← h + W relu(h) + b, the branch's weights scaled by ``scale`` (1/√depth)."""

    def __init__(self, width, rng, scale=1.0):
        super().__init__()
        self.fc = nn.Linear(width, width, init="xavier", rng=rng)
        self.fc.weight.data *= np.float32(scale)

    def forward(self, h):
        return h + self.fc(h.relu())


def deep_network(kind="residual", depth=50, width=32, seed=0):
    rng = np.random.default_rng(seed)
    blocks = [ResidualBlock(width, rng, 1 / np.sqrt(depth)) if kind == "residual" else PlainBlock(width, rng)
              for _ in range(depth)]
    return nn.Sequential(nn.Linear(2, width, init="xavier", rng=rng), *blocks,
                         nn.Linear(width, 3, init="xavier", rng=rng))


def gradient_flow(kind, depth=50, steps=300):
    """Gradient norms of every block's weights at initialization, the loss before and after ``steps`` Adam
    steps on the spiral, and the final accuracy."""
    x, y = gg.data.spiral(600)
    model = deep_network(kind, depth)
    first = gg.losses.cross_entropy(model(x), y)
    first.backward()
    norms = [float(np.linalg.norm(block.fc.weight.grad)) for block in list(model)[1:-1]]
    opt = gg.optim.Adam(model.parameters(), lr=1e-3)
    loss = first
    for _ in range(steps):
        opt.zero_grad()
        loss = gg.losses.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    with gg.no_grad():
        accuracy = float(np.mean(model(x).data.argmax(axis=1) == y))
    return {"norms": norms, "loss_start": float(first.data), "loss_end": float(loss.data), "accuracy": accuracy}


def build():
    """One residual block out = x + W2 relu(W1 x): the add gate sends the gradient down both paths."""
    x = gg.Tensor([[1.0, -2.0]], name="x")
    w1 = gg.Tensor([[1.0, 0.5], [-0.5, 1.0]], name="W1")
    w2 = gg.Tensor([[0.2, 0.1], [-0.3, 0.4]], name="W2")
    h = (x @ w1).relu()
    h.name = "h"
    branch = h @ w2
    branch.name = "F"
    out = x + branch
    out.name = "out"
    loss = (out * out).sum()
    loss.name = "L"
    return loss


def trainer(quick=False, *, epochs=None, batch_size=64, lr=1e-3, kind="residual", depth=50, seed=0, **options):
    """A deep plain or residual network on the spiral data."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 1 <= int(depth) <= 500:
        raise ValueError(f"depth must be between 1 and 500, got {depth}")
    x, y = gg.data.spiral(600)
    (x_train, y_train), val = gg.data.train_val_split(x, y, 0.2, seed=seed)
    model = deep_network(kind, int(depth), seed=seed)
    return gg.train.Trainer(model, gg.optim.Adam(model.parameters(), lr=lr), (x_train, y_train), val,
                            epochs=epochs or (3 if quick else 40), batch_size=batch_size, seed=seed, **options)


def _millions(n):
    """61,706 / 62.4 M / 15.5 G"""
    if n >= 1e9:
        return f"{n / 1e9:.1f} G"
    return f"{n:,}" if n < 1e6 else f"{n / 1e6:.1f} M"


def run(quick=False):
    totals = {}
    for name, (shape, layers) in ARCHITECTURES.items():
        rows, params, macs = summarize(layers, shape)
        totals[name] = (params, macs, rows)
        print(f"\n{name}: input {shape}, {params:,} parameters, {_millions(macs)} multiply-adds")
        for layer, what, out, p, m in rows:
            print(f"  {layer:<13} {what:<20} {'x'.join(map(str, out)):>12} {p:>12,} {m / 1e6:>10.1f} M")
        fc = sum(r[3] for r in rows if r[1] == "fully connected")
        print(f"  fully connected layers: {fc / params:.0%} of the parameters, "
              f"{sum(r[4] for r in rows if r[1] == 'fully connected') / macs:.1%} of the multiply-adds")

    engine = nn.LeNet5(rng=0)
    with gg.no_grad():
        out = engine(np.zeros((1, 1, 28, 28), dtype=np.float32))
    print(f"\nCheck: gg.nn.LeNet5 has {engine.num_parameters():,} parameters and gives {out.shape}; "
          f"the table says {totals['LeNet-5'][0]:,}")
    print(f"AlexNet's first layer on 224x224: {output_size(224, 11, 4, 0)} positions; on 227x227: "
          f"{output_size(227, 11, 4, 0)} (the paper's figure shows 55)")
    reduce = 16 * 28 * 28 * 192 + 32 * 28 * 28 * 16 * 25
    direct = 32 * 28 * 28 * 192 * 25
    print(f"GoogLeNet 3a's 5x5 branch: {direct / 1e6:.0f} M multiply-adds straight from 192 channels, "
          f"{reduce / 1e6:.0f} M through a 1x1 reduction to 16 ({1 - reduce / direct:.0%} saved)")

    print("\nResidual vs plain: 50 blocks of 32 units on the spiral, same initial weights")
    steps = 60 if quick else 300
    flow = {}
    for kind in ("plain", "residual"):
        r = gradient_flow(kind, steps=steps)
        flow[kind] = r
        print(f"  {kind:<8} |dL/dW| first block {r['norms'][0]:.2g}, last block {r['norms'][-1]:.2g}; "
              f"loss {r['loss_start']:.3f} -> {r['loss_end']:.3f} after {steps} steps; accuracy {r['accuracy']:.0%}")
    return {"parameters": {k: v[0] for k, v in totals.items()}, "macs": {k: v[1] for k, v in totals.items()},
            "lenet_engine": engine.num_parameters(),
            "flow": {k: {m: v for m, v in r.items() if m != "norms"} | {"first": r["norms"][0], "last": r["norms"][-1]}
                     for k, r in flow.items()}}


def figures(quick=False):
    from matplotlib.figure import Figure

    figs = []
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    names = list(ARCHITECTURES)
    summaries = [summarize(layers, shape) for shape, layers in ARCHITECTURES.values()]
    params = [s[1] for s in summaries]
    macs = [s[2] for s in summaries]
    ax1.bar(names, params, color="#2563eb")
    ax1.set_yscale("log")
    ax1.set_title("parameters")
    ax2.bar(names, macs, color="#ea580c")
    ax2.set_yscale("log")
    ax2.set_title("multiply-adds per image")
    for ax, values in ((ax1, params), (ax2, macs)):
        for i, v in enumerate(values):
            ax.text(i, v, _millions(v), ha="center", va="bottom", fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("Five architectures, computed from their layer shapes")
    figs.append(fig)

    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    for kind in ("plain", "residual"):
        norms = gradient_flow(kind, steps=0)["norms"]
        ax.semilogy(range(1, len(norms) + 1), norms, "o-", ms=3, label=kind)
    ax.set(xlabel="block", ylabel="‖dL/dW‖ at initialization", title="Gradient flow through 50 blocks")
    ax.grid(alpha=0.3)
    ax.legend()
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
