"""# 16. Initialization, learning-rate schedules, and the shape of the landscape

Where training starts and how big its steps are decide whether it gets
anywhere. This lesson measures three things: the initial weights, the
learning rate over time, and what minima and saddle points do to gradient
descent.

## 1. All-zero (or all-equal) weights: symmetry

If every weight of a layer starts with the same value, every unit of that
layer computes the same output, receives the same gradient, and takes the
same step: the units stay identical forever, and a layer of 64 units is
worth one. With **all-zero** weights it is worse: a ReLU network's hidden
outputs are 0, so the gradients of all weights are 0 too and only the output
biases learn. The loss then sits at `ln 10 = 2.30` (the uniform guess) for
good: *a constant loss? check for zero initialization*. `run()` trains a
784 → 64 → 10 network from zeros (loss 2.303 after 100 steps), from all
weights 0.01 (loss 2.302 too; its 64 hidden units are still identical after
training, up to rounding: the largest difference between two units' weights
is about 1e-8), and from Kaiming-random weights (loss 0.48).

Random weights break the symmetry, but their **scale** matters.

## 2. The scale, through depth

Each layer multiplies the signal by its weights. With `n` inputs per unit
(fan-in) and weights of variance `Var(w)`, a unit's output has variance
about `n · Var(w) · Var(input)` (half of it for ReLU, which zeroes half the
inputs). Over 10 layers that factor is raised to the 10th power: below 1 the
activations and the gradients **vanish**, above 1 they **explode**.

- **Xavier/Glorot** (2010): `Var(w) = 1 / fan_in` (or `2 / (fan_in +
  fan_out)`, a compromise between the forward and the backward pass), which
  keeps the variance at 1 for tanh and sigmoid, which are linear near 0.
- **Kaiming/He** (2015): `Var(w) = 2 / fan_in`, the factor 2 making up for the
  half of the inputs that ReLU zeroes.

`run()` builds a 10-layer ReLU network of 256 units and sends 256 images
through it once. A full run gives the spread (std) of each hidden layer's
output and the gradient norm of each layer's weights:

| init      | std of w    | act. std layer 1 → 10 | ‖dL/dW‖ in every layer |
|-----------|-------------|-----------------------|------------------------|
| too small | 0.01        | 0.16 → 8e-10          | about 1e-9             |
| Xavier    | √(1/fan_in) | 0.56 → 0.04           | 0.05 to 0.09           |
| Kaiming   | √(2/fan_in) | 0.79 → 1.3            | 4 to 9                 |
| too large | 0.2         | 3 → 8,000             | 3e4 to 9e4             |

The activations shrink or grow by the same factor at every layer (0.11 per
layer for std 0.01, 2.3 for std 0.2). The weight gradient of a layer is its
input times the gradient arriving from above (`dL/dW = aᵀ δ`): with a tiny
init both are tiny, so every layer's gradient is about 1e-9 and nothing
learns; with a large one everything is huge and the first step throws the
weights far away. Only Kaiming keeps the signal at the same size in every
layer of a ReLU network (Xavier loses a factor √2 at each ReLU: 0.56 → 0.04
over 10 layers). LeNet-5 in gradgraph uses Kaiming for ReLU and Xavier for
tanh and sigmoid (`gg.nn.init`). Exercise 16.1 asks you to write a Kaiming
initializer.

## 3. Learning-rate schedules

A learning rate large enough to make fast progress early is too large to
settle into a minimum later: the loss stalls at a noisy level. Decaying it
over time gets both:

- **step decay** (`gg.optim.StepLR(opt, step_size=3, gamma=0.3)`): multiply
  by γ every few epochs, `η_e = η_0 γ^⌊e / s⌋`;
- **exponential decay** (`gg.optim.ExponentialLR(opt, gamma=0.8)`): a little
  every epoch, `η_e = η_0 γ^e`.

`run()` trains a 784 → 128 → 10 network on 10,000 images for 12 epochs with
SGD (momentum 0.9): a constant 0.1 stays noisy (training loss 0.58,
validation accuracy 73.8%); a constant 0.01 is steady (0.20, 84.9%); starting
at 0.1 and decaying, step (0.28, 85.5%) and exponential (0.24, 85.5%) make
the fast start and end best on the validation images.

## 4. Local minima and saddle points

A neural network's loss is not a bowl: it has **local minima** (lower than
their neighbourhood, not the lowest) and **saddle points** (a minimum along
some directions, a maximum along others; the gradient is 0 there too). In
high dimensions saddle points are by far the commoner: being a minimum in
*every* one of a million directions is rare.

- `J(θ) = θ⁴ - 3θ² + θ` has a local minimum at θ = 1.13 (J = -1.07) and the
  global one at θ = -1.30 (J = -3.51). From θ = 2, gradient descent
  (η = 0.01) stops in the local one; with **momentum** (μ = 0.9) the
  velocity carries it over the hump into the global one.
- `f(x, y) = x² + y⁴/4 - y²/2` has a saddle at (0, 0) and minima at
  y = ±1. From (1, 0.0001) gradient descent slides into the saddle, where the
  gradient nearly vanishes, and needs 202 steps to find the way down to
  f < -0.24; momentum needs 54.

## Try it

- The graph: a 2 → 2 → 1 network whose weights all start at 0.5. Step
  through the backward pass: both hidden units get the same gradient.
- In the app's Train tab: `init` and `schedule`.
- Exercise 16.1: `kaiming_normal`.
"""
import numpy as np

import gradgraph as gg
from gradgraph import nn

EXERCISES = ["16.1"]
SUMMARY = ('initialization (zero-init symmetry and constant loss; too small, too large, Xavier, Kaiming: '
           'gradient norms through depth), learning-rate schedules (step, exponential decay), local minima and '
           'saddle points.')

INITS = {
    "zeros": lambda fan_in, fan_out: 0.0,
    "small": lambda fan_in, fan_out: 0.01,
    "xavier": lambda fan_in, fan_out: np.sqrt(1.0 / fan_in),
    "kaiming": lambda fan_in, fan_out: np.sqrt(2.0 / fan_in),
    "large": lambda fan_in, fan_out: 0.2,
}
SCHEDULES = {
    "constant 0.1": (0.1, None),
    "constant 0.01": (0.01, None),
    "step decay": (0.1, lambda opt: gg.optim.StepLR(opt, step_size=3, gamma=0.3)),
    "exponential decay": (0.1, lambda opt: gg.optim.ExponentialLR(opt, gamma=0.8)),
}


def images(quick=False, split="train", limit=None):
    """Flattened normalized Fashion-MNIST images (N, 784) and labels."""
    x, y, _ = gg.data.load_local("fashion-mnist", split, full=not quick)
    if limit:
        x, y = x[:limit], y[:limit]
    return gg.data.normalize_images(x).reshape(len(x), -1), y


def mlp(sizes, init="kaiming", rng=0):
    """Linear layers of ``sizes`` with ReLUs between; weights N(0, std²) with std from INITS
    (a number: that std), biases 0."""
    rng = np.random.default_rng(rng)
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = nn.Linear(fan_in, fan_out)
        std = INITS[init](fan_in, fan_out) if isinstance(init, str) else float(init)
        layer.weight.data = (std * rng.standard_normal((fan_in, fan_out))).astype(np.float32)
        layers.append(layer)
        if k < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def symmetry(quick=False, steps=100):
    """Train 784 -> 64 -> 10 from zeros, from all 0.01 and from Kaiming; loss after ``steps`` and the largest
    difference between two hidden units' incoming weights."""
    x, y = images(quick, limit=2000)
    out = {}
    for init in ("zeros", "constant 0.01", "kaiming"):
        model = mlp([784, 64, 10], "kaiming" if init == "kaiming" else "zeros")
        if init == "constant 0.01":
            for p in model.parameters():
                if p.ndim == 2:
                    p.data[...] = 0.01
        opt = gg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        rng = np.random.default_rng(0)
        done = 0
        while done < steps:
            for xb, yb in gg.data.batches(x, y, 64, rng=rng):
                opt.zero_grad()
                loss = gg.losses.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                done += 1
                if done == steps:
                    break
        w1 = model[0].weight.data
        with gg.no_grad():
            final = float(gg.losses.cross_entropy(model(x), y).data)
        out[init] = {"loss": final, "unit_difference": float(np.abs(w1 - w1[:, :1]).max())}
    return out


def depth(init, x, y, layers=10, width=256):
    """One forward and backward pass of a ``layers``-deep ReLU network: the std of each hidden layer's
    output and the gradient norm of each layer's weights."""
    model = mlp([x.shape[1]] + [width] * layers + [10], init)
    stds = []
    hooks = [layer.register_forward_hook(lambda m, i, o: stds.append(float(o.data.std())))
             for layer in model if isinstance(layer, nn.ReLU)]
    gg.losses.cross_entropy(model(x), y).backward()
    for hook in hooks:
        hook.remove()
    norms = [float(np.linalg.norm(layer.weight.grad)) for layer in model if isinstance(layer, nn.Linear)]
    return stds, norms[:layers]


def schedules(quick=False):
    """SGD with momentum and each schedule: {name: (lr per epoch, training loss per epoch, val accuracy)}."""
    x, y = images(quick, limit=2000 if quick else 10000)
    x_val, y_val = images(quick, "test", limit=500 if quick else 2000)
    epochs = 4 if quick else 12
    out = {}
    for name, (lr, make) in SCHEDULES.items():
        model = mlp([784, 128, 10], "kaiming", rng=1)
        opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        trainer = gg.train.fit(model, opt, (x, y), (x_val, y_val), epochs=epochs, batch_size=64,
                               scheduler=make(opt) if make else None)
        h = trainer.history
        out[name] = ([r.lr for r in h], [r.loss for r in h], h[-1].val_accuracy)
    return out


def J(theta):
    """A loss with a local and a global minimum."""
    return theta ** 4 - 3 * theta ** 2 + theta


def saddle(p):
    """f(x, y) = x² + y⁴/4 - y²/2: a saddle at (0, 0), minima at (0, ±1)."""
    return p[0] * p[0] + p[1] ** 4 * 0.25 - p[1] * p[1] * 0.5


def descend(loss, start, lr, momentum=0.0, steps=300, target=None):
    """Gradient descent with optional momentum; stops when loss < target. Returns the path."""
    theta = gg.Tensor(np.array(start, dtype=np.float64), name="theta")
    opt = gg.optim.SGD([theta], lr=lr, momentum=momentum)
    path = [theta.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        value = loss(theta)
        if target is not None and float(value.data) < target:
            break
        value.backward()
        opt.step()
        path.append(theta.data.copy())
    return np.array(path)


def build():
    """A 2 -> 2 -> 1 network whose weights all start at 0.5: both hidden units get the same gradient."""
    x = gg.Tensor([[1.0, 2.0]], name="x", requires_grad=False)
    w1 = gg.Tensor(np.full((2, 2), 0.5), name="W1")
    w2 = gg.Tensor(np.full((2, 1), 0.5), name="W2")
    h = (x @ w1).relu()
    h.name = "h"
    out = h @ w2
    out.name = "out"
    loss = gg.losses.mse(out, np.array([[3.0]]))
    loss.name = "loss"
    return loss


def trainer(quick=False, *, epochs=None, batch_size=64, lr=0.1, init="kaiming", schedule="step decay",
            hidden=128, seed=0, **options):
    """A 784 -> hidden -> 10 network with the chosen initialization and learning-rate schedule (SGD, momentum)."""
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    x, y = images(quick, limit=2000 if quick else 10000)
    model = mlp([784, int(hidden), 10], init, rng=seed)
    opt = gg.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    make = SCHEDULES[schedule][1]
    return gg.train.Trainer(model, opt, (x, y), images(quick, "test", limit=1000), epochs=epochs or (3 if quick else 12),
                            batch_size=batch_size, scheduler=make(opt) if make else None, seed=seed, **options)


def run(quick=False):
    print("1. Symmetry: 784 -> 64 -> 10, SGD for 100 steps")
    sym = symmetry(quick)
    for init, r in sym.items():
        print(f"  {init:<14} loss {r['loss']:.3f}   largest difference between two hidden units' weights "
              f"{r['unit_difference']:.3g}")
    print(f"  (ln 10 = {np.log(10):.3f}: the zero-initialized network never leaves the uniform guess)")

    print("\n2. A 10-layer ReLU network, 256 units wide, 256 images: one forward and backward pass")
    x, y = images(quick, limit=256)
    inits = ("small", "xavier", "kaiming", "large")
    measured = {init: depth(init, x, y) for init in inits}
    print(f"  {'':<10} " + " ".join(f"{init:>22}" for init in inits))
    print(f"  {'':<10} " + " ".join(f"{'act std':>10} {'|dL/dW|':>11}" for _ in inits))
    for layer in range(10):
        print(f"  layer {layer + 1:<3} " + " ".join(
            f"{measured[i][0][layer]:>10.2g} {measured[i][1][layer]:>11.2g}" for i in inits))

    print("\n3. Learning-rate schedules: SGD (momentum 0.9), 784 -> 128 -> 10")
    sched = schedules(quick)
    for name, (lrs, losses, val) in sched.items():
        print(f"  {name:<18} lr {lrs[0]:.3g} -> {lrs[-1]:.3g}: training loss {losses[0]:.3f} -> {losses[-1]:.3f},"
              f" validation accuracy {val:.1%}")

    print("\n4. Local minima and saddle points")
    plain = descend(J, 2.0, 0.01)
    heavy = descend(J, 2.0, 0.01, momentum=0.9)
    print(f"  J = t^4 - 3 t^2 + t from t = 2: gradient descent stops at t = {plain[-1]:.3f} (J = {J(plain[-1]):.2f},"
          f" a local minimum); with momentum 0.9 at t = {heavy[-1]:.3f} (J = {J(heavy[-1]):.2f}, the global one)")
    steps = {}
    for mu in (0.0, 0.9):
        path = descend(saddle, [1.0, 1e-4], 0.05, momentum=mu, steps=5000, target=-0.24)
        steps[mu] = len(path) - 1
    print(f"  f = x^2 + y^4/4 - y^2/2 from (1, 0.0001), past the saddle at (0, 0) to f < -0.24: "
          f"gradient descent {steps[0.0]} steps, momentum {steps[0.9]}")
    return {"symmetry": sym, "depth": measured, "schedules": {k: (v[1][-1], v[2]) for k, v in sched.items()},
            "local_minimum": (float(plain[-1]), float(heavy[-1])), "saddle_steps": steps}


def figures(quick=False):
    from matplotlib.figure import Figure

    figs = []
    x, y = images(quick, limit=256)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for init in ("small", "xavier", "kaiming", "large"):
        stds, norms = depth(init, x, y)
        ax1.semilogy(range(1, 11), stds, "o-", label=init)
        ax2.semilogy(range(1, 11), norms, "o-", label=init)
    ax1.set(xlabel="layer", ylabel="std of the layer's output", title="Activations through 10 ReLU layers")
    ax2.set(xlabel="layer", ylabel="‖dL/dW‖", title="Gradient norms per layer")
    ax1.legend()
    ax1.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    figs.append(fig)

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    for name, (lrs, losses, val) in schedules(quick).items():
        epochs = range(1, len(lrs) + 1)
        ax1.semilogy(epochs, lrs, "o-", label=name)
        ax2.plot(epochs, losses, "o-", label=f"{name} (val {val:.1%})")
    ax1.set(xlabel="epoch", ylabel="learning rate", title="Schedules")
    ax2.set(xlabel="epoch", ylabel="training loss", title="Training loss (SGD, momentum 0.9)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    figs.append(fig)

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    grid = np.linspace(-2, 2.1, 300)
    ax1.plot(grid, J(grid), color="0.6")
    for mu, label in ((0.0, "gradient descent"), (0.9, "momentum 0.9")):
        path = descend(J, 2.0, 0.01, momentum=mu)
        ax1.plot(path, J(path), ".-", ms=3, lw=0.7, label=label)
    ax1.set(xlabel="θ", ylabel="J(θ)", title="A local and a global minimum")
    ax1.legend()
    xs, ys = np.meshgrid(np.linspace(-1.2, 1.2, 200), np.linspace(-1.4, 1.4, 200))
    ax2.contour(xs, ys, xs ** 2 + ys ** 4 / 4 - ys ** 2 / 2, levels=20, colors="0.75", linewidths=0.6)
    for mu, label in ((0.0, "gradient descent"), (0.9, "momentum 0.9")):
        path = descend(saddle, [1.0, 1e-4], 0.05, momentum=mu, steps=5000, target=-0.24)
        ax2.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.7, label=f"{label}: {len(path) - 1} steps")
    ax2.plot([0], [0], "kx")
    ax2.set(xlabel="x", ylabel="y", title="Past a saddle point at (0, 0)")
    ax2.legend(fontsize=8)
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
