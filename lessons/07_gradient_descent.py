"""# 7. Gradient descent and the learning rate

Backpropagation tells us, for every weight, which way is uphill. **Gradient
descent** takes a small step the other way, and repeats:

    W ← W - η dJ/dW

1. estimate the error (forward pass, loss),
2. compute the gradient (backward pass),
3. update every weight, and go back to 1.

The step size `η` is the **learning rate**.

## One step, by hand

Take `θ = -2`, a learning rate of 0.01 and a gradient `dJ/dθ = -36`. (A loss
with exactly that slope at -2 is `J(θ) = θ⁴ + θ²`: `dJ/dθ = 4θ³ + 2θ =
-32 - 4 = -36`.) The gradient is negative, so downhill is to the right:

    θ ← -2 - 0.01 · (-36) = -2 + 0.36 = -1.64

## Too small, too large, just right

`run()` takes 50 steps on `J(θ) = θ⁴ + θ²` from `θ = -2` (minimum at 0):

| η     | what happens                                                     |
|-------|------------------------------------------------------------------|
| 0.001 | too small: after 50 steps θ is still at -1.15                    |
| 0.01  | steady but slow: θ = -0.25 after 50 steps                        |
| 0.05  | about right: the first step lands at -0.2, then θ creeps to 0    |
| 0.1   | overshoots to +1.6 on the first step, then settles quickly       |
| 0.2   | too large: 5.2, then -109, then a million: it diverges           |

A steep region (large gradient) turns a reasonable learning rate into a huge
step. A common recipe: start with a learning rate as large as still works,
and **decay** it during training (`gg.optim.StepLR` multiplies it by γ every
few epochs), so that late steps are small and precise.

Real loss landscapes have more than one valley: a global minimum, local
minima, and saddle points (flat in some directions, downhill in others), where
the gradient is small although we are far from done.

## Full batch, minibatch, stochastic

The loss is a mean over the training set, so its gradient is a mean too.

- **Batch** gradient descent uses all N samples for each step: exact, but one
  step per pass over the data.
- **Stochastic** gradient descent (SGD) uses one sample per step: N noisy
  steps per pass.
- **Minibatch** gradient descent uses a subset (32, 64, 128 samples): the
  usual compromise, and what "SGD" means in practice.

`run()` fits a line `y = w x + b` to 200 noisy points of `y = 3x - 1` for
the same number of epochs each way: batch makes 1 update per epoch and is
still far from the line; minibatches of 20 make 10 updates per epoch and get
close; single samples make 200 noisy ones.

## Momentum and Adam

On a long narrow valley, plain gradient descent zig-zags: the gradient points
mostly across the valley, not along it, and a learning rate small enough for
the steep walls crawls along the flat floor. `run()` uses

    f(x, y) = ½ (x² + 100 y²)      from (-4, 1)

Any learning rate above 2/100 = 0.02 makes the steep `y` direction blow up.

- **Momentum** keeps a running velocity, so consistent directions build up
  speed and oscillations cancel out (μ ≈ 0.9):

      v ← μ v + g            θ ← θ - η v

- **Adam** keeps two running means per parameter, of the gradient
  (momentum) and of its square, and divides the first by the square root of
  the second: every parameter gets its own step size. (A slide sums Adam up
  as "update lr based on momentum; decay lr over time". Adam does not decay
  the learning rate; a schedule does that, lesson 16. The bias corrections
  below only undo the zero start of the running means in the first steps.)

      m ← β1 m + (1 - β1) g        v ← β2 v + (1 - β2) g²
      m̂ = m / (1 - β1^t)           v̂ = v / (1 - β2^t)
      θ ← θ - η m̂ / (√v̂ + ε)

To reach `f < 10⁻⁴`: plain gradient descent with η = 0.019 (just below the
limit) takes 295 steps, momentum (η = 0.01, μ = 0.9) 109, Adam (η = 0.1) 110.

## In gradgraph

```python
opt = gg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)   # or gg.optim.Adam(...)
for xb, yb in gg.data.batches(x, y, 64):
    opt.zero_grad()                                  # gradients accumulate otherwise
    loss = gg.losses.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
```

## Try it

- `figures()`: the five learning rates on `J(θ)`, the loss curves of batch /
  minibatch / stochastic, and the three optimizers' paths through the valley.
- Exercises 7.1 (one SGD step) and 7.2 (momentum).
"""
import numpy as np

import gradgraph as gg

SUMMARY = "W <- W - lr dJ/dW: the -1.64 step, learning rates, batch vs minibatch vs SGD, momentum, Adam."
EXERCISES = ["7.1", "7.2"]

RATES = (0.001, 0.01, 0.05, 0.1, 0.2)


def J(theta):
    """The one-dimensional loss J(θ) = θ⁴ + θ²."""
    return theta ** 4 + theta ** 2


def build():
    """J(θ) = θ⁴ + θ² at θ = -2: backward gives the slope -36 used in the update."""
    theta = gg.Tensor(-2.0, name="theta")
    loss = J(theta)
    loss.name = "J"
    return loss


def descend(lr, steps=50, start=-2.0):
    """Gradient descent on J from ``start``; stops early once it has clearly diverged."""
    theta = gg.Tensor(start, name="theta")
    opt = gg.optim.SGD([theta], lr=lr)
    path = [start]
    for _ in range(steps):
        opt.zero_grad()
        J(theta).backward()
        opt.step()
        path.append(float(theta.data))
        if abs(path[-1]) > 1e6:
            break
    return path


def line_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1))
    y = 3 * x - 1 + 0.3 * rng.normal(size=(n, 1))
    return x, y


def fit_line(batch_size, epochs, lr=0.1, seed=0):
    """Fit y = w x + b with minibatches of ``batch_size``; returns (full-data loss per epoch, updates)."""
    x, y = line_data()
    w, b = gg.Tensor(np.zeros((1, 1)), name="w"), gg.Tensor(np.zeros(1), name="b")
    opt = gg.optim.SGD([w, b], lr=lr)
    rng = np.random.default_rng(seed)
    losses, updates = [], 0
    for _ in range(epochs):
        for xb, yb in gg.data.batches(x, y, batch_size, rng=rng):
            opt.zero_grad()
            gg.losses.mse(gg.Tensor(xb, requires_grad=False) @ w + b, yb).backward()
            opt.step()
            updates += 1
        with gg.no_grad():
            losses.append(float(gg.losses.mse(gg.Tensor(x) @ w + b, y).data))
    return losses, updates, float(w.data[0, 0]), float(b.data[0])


def valley(p):
    """f(x, y) = ½ (x² + 100 y²): a long narrow valley."""
    return p[0] * p[0] * 0.5 + p[1] * p[1] * 50.0


OPTIMIZERS = {
    "gradient descent (lr 0.019)": lambda ps: gg.optim.SGD(ps, lr=0.019),
    "momentum (lr 0.01, mu 0.9)": lambda ps: gg.optim.SGD(ps, lr=0.01, momentum=0.9),
    "Adam (lr 0.1)": lambda ps: gg.optim.Adam(ps, lr=0.1),
}


def race(make, max_steps=1000, target=1e-4):
    """Steps until valley(p) < target from (-4, 1); returns (steps, path)."""
    p = gg.Tensor([-4.0, 1.0], name="p")
    opt = make([p])
    path = [p.data.copy()]
    for step in range(1, max_steps + 1):
        opt.zero_grad()
        valley(p).backward()
        opt.step()
        path.append(p.data.copy())
        with gg.no_grad():
            if float(valley(p).data) < target:
                return step, np.array(path)
    return max_steps, np.array(path)


def run(quick=False):
    print("One step by hand: J(theta) = theta^4 + theta^2 at theta = -2, learning rate 0.01")
    loss = build()
    loss.backward()
    theta = [n for n in gg.topological_order(loss) if n.name == "theta"][0]
    grad = float(theta.grad)
    new = -2.0 - 0.01 * grad
    print(f"  dJ/dtheta = 4 theta^3 + 2 theta = {grad:g};  theta <- -2 - 0.01 * ({grad:g}) = {new:g}")

    print("\nFifty steps with different learning rates")
    finals = {}
    for lr in RATES:
        path = descend(lr)
        finals[lr] = path[-1]
        head = ", ".join(f"{v:.3g}" for v in path[1:4])
        end = "diverged" if abs(path[-1]) > 1e6 else f"theta = {path[-1]:.3g} after 50 steps"
        print(f"  lr {lr:<6g} first steps {head:<26} {end}")

    print("\nFitting a line to 200 points: batch vs minibatch vs stochastic")
    epochs = 3 if quick else 10
    fits = {}
    for name, size in (("batch (200)", 200), ("minibatch (20)", 20), ("stochastic (1)", 1)):
        losses, updates, w, b = fit_line(size, epochs)
        fits[name] = losses
        print(f"  {name:<15} {updates:5d} updates in {epochs} epochs: loss {losses[-1]:.3f}, w = {w:.2f}, b = {b:.2f}")

    print("\nA long narrow valley f = (x^2 + 100 y^2) / 2 from (-4, 1): steps to f < 1e-4")
    steps = {}
    for name, make in OPTIMIZERS.items():
        steps[name], _ = race(make)
        print(f"  {name:<28} {steps[name]:4d} steps")

    return {"gradient": grad, "update": new, "finals": finals, "fits": {k: v[-1] for k, v in fits.items()},
            "valley_steps": steps}


def figures(quick=False):
    from matplotlib.figure import Figure

    figs = []
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    grid = np.linspace(-2.3, 2.3, 200)
    ax.plot(grid, grid ** 4 + grid ** 2, color="0.6", lw=1)
    for lr in RATES:
        path = np.array([p for p in descend(lr, steps=50 if not quick else 10) if abs(p) < 2.3])
        ax.plot(path, path ** 4 + path ** 2, "o-", ms=3, lw=0.8, label=f"lr {lr:g}")
    ax.set_xlabel("θ")
    ax.set_ylabel("J(θ) = θ⁴ + θ²")
    ax.set_title("Gradient descent from θ = -2 (lr 0.2 leaves the plot)")
    ax.legend(fontsize=8)
    figs.append(fig)

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    epochs = 3 if quick else 10
    for name, size in (("batch (200)", 200), ("minibatch (20)", 20), ("stochastic (1)", 1)):
        losses, _, _, _ = fit_line(size, epochs)
        ax.plot(range(1, epochs + 1), losses, "o-", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error (all 200 points)")
    ax.set_title("Same number of epochs, different batch sizes")
    ax.legend()
    figs.append(fig)

    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    xs, ys = np.meshgrid(np.linspace(-4.5, 1, 200), np.linspace(-1.3, 1.3, 200))
    ax.contour(xs, ys, 0.5 * (xs ** 2 + 100 * ys ** 2), levels=np.logspace(-2, 2.2, 12), colors="0.75",
               linewidths=0.7)
    for name, make in OPTIMIZERS.items():
        n, path = race(make, max_steps=100 if quick else 1000)
        ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=0.8, label=f"{name}: {n} steps")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("f = (x² + 100 y²) / 2: paths to f < 1e-4")
    ax.legend(fontsize=8)
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
