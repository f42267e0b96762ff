"""# 4. Checking gradients: numerical vs analytic

There are two ways to get a derivative.

- **Numerical**: nudge the input and watch the output. The centred difference

      df/dx ≈ (f(x + h) - f(x - h)) / 2h

  is slow (two evaluations of `f` per input number), approximate, and very
  hard to get wrong.
- **Analytic**: derive the formula and code it as a backward pass. Fast and
  exact, and easy to get wrong (a dropped factor, a swapped input, a missing
  transpose).

In practice you write the analytic gradient and *check* it against the
numerical one on small inputs. `gg.gradcheck(fn, inputs)` does exactly that,
and names the input and the element where they disagree.

## How far apart may they be? The relative error

Compare with the **relative error** `|a - n| / max(|a|, |n|)` (the absolute
difference means nothing until you know whether the gradient is 1e-8 or 1e+8):

| relative error | verdict                                   |
|----------------|-------------------------------------------|
| > 1e-2         | the gradient is probably wrong            |
| 1e-4 .. 1e-2   | suspicious: look closer                   |
| 1e-7 .. 1e-4   | ok if the function has kinks, else check  |
| < 1e-7         | good                                      |

## Choosing h: truncation vs round-off

Two errors pull in opposite directions:

- **Truncation**: the centred difference is exact for polynomials up to
  degree 2 (constants, lines and parabolas: their third derivative is 0).
  For anything else its error shrinks like `h²` (from the Taylor series:
  `f''' h² / 6`).
- **Round-off**: a computer stores numbers with about 16 significant digits in
  float64 (machine epsilon ε = 2.2e-16) and about 7 in float32 (ε = 1.2e-7).
  `f(x + h) - f(x - h)` subtracts two nearly equal numbers, losing digits; the
  error grows like `ε / h`.

The sum is smallest near `h ≈ ε^(1/3)`: about 6e-6 in float64, about 5e-3 in
float32. `run()` sweeps `h` for the sigmoid neuron of lesson 3 (the gradient
with respect to `w0`, analytically -0.19661): in float64 the relative error
falls like `h²` (a hundred times smaller for every ten times smaller `h`) down
to around 1e-11 for `h` between 3e-5 and 1e-6, then climbs again as round-off
takes over. In float32 the same `h = 1e-6` gives a relative error of
0.24 (a correct gradient that looks wrong!), and from `h = 1e-7` on,
`x + h` rounds back to `x` and the numerical gradient is exactly 0.

So: **check gradients in float64 with h ≈ 1e-5 to 1e-6.** (gradgraph's
`gradcheck` warns when the inputs are float32.)

## Kinks

ReLU, max and absolute value have kinks, points where the slope jumps. If
`x` sits within `h` of a kink, the centred difference averages the two
slopes. For ReLU at `x = 5e-7` with `h = 1e-6`, the analytic gradient is 1 but
the numerical one is `(1.5e-6 - 0) / 2e-6 = 0.75`, a relative error of 0.25,
without any bug. Random inputs rarely land that close to a kink; when a check
with kinks fails by a little, move the inputs and check again.

## Catching a real bug

`run()` writes a sigmoid gate whose backward forgets the factor `(1 - σ)` and
returns `d_out σ`. `gradcheck` fails and says where:

    gradcheck failed for input 0 ('x') of shape (3, 4): worst at element ...

The relative error there is far above 1e-2: wrong, not a rounding question.

## Try it

- Look at the error-vs-h curve (`figures()`): the V shape, its bottom, and
  how much narrower the float32 valley is.
- Break a gate on purpose (swap `self.x` and `self.y` in a multiply gate) and
  read `gradcheck`'s message.
"""
import numpy as np

import gradgraph as gg

SUMMARY = "gradcheck: centred differences, choosing h (truncation vs round-off), float32 vs float64, kinks."

THRESHOLDS = ((1e-2, "wrong"), (1e-4, "suspicious"), (1e-7, "ok if kinks"), (0.0, "good"))


def verdict(rel):
    """The relative-error verdict from the table in the text."""
    for limit, word in THRESHOLDS:
        if rel > limit:
            return word
    return "good"


def neuron(w0, dtype=np.float64):
    """Lesson 3's neuron as a function of w0 alone (x0 = -1, w1 = -3, x1 = -2, w2 = -3)."""
    w0 = gg.Tensor(w0, name="w0", dtype=dtype)
    return (w0 * -1.0 + 6.0 - 3.0).sigmoid()


def build():
    """The neuron of lesson 3 as a function of w0 (the function whose gradient we check)."""
    return neuron(2.0)


def centred_difference(f, x, h, dtype):
    """(f(x + h) - f(x - h)) / 2h, with x and h in the given precision."""
    x, h = dtype(x), dtype(h)
    with gg.no_grad():
        up, down = f(x + h, dtype).data, f(x - h, dtype).data
    return float(up - down) / (2 * float(h))


def sweep(n_points=23):
    """Relative error of the centred difference vs h, in float64 and float32."""
    out = neuron(2.0)
    out.backward()
    w0 = [n for n in gg.topological_order(out) if n.name == "w0"][0]
    analytic = float(w0.grad)
    hs = np.logspace(-1, -12, n_points)
    errors = {}
    for dtype in (np.float64, np.float32):
        errors[np.dtype(dtype).name] = np.array(
            [gg.relative_error(analytic, centred_difference(neuron, 2.0, h, dtype)) for h in hs])
    return analytic, hs, errors


class SigmoidWithBug(gg.Gate):
    """σ(x), with a wrong backward: it forgets the factor (1 - σ)."""

    symbol, formula, local = "σ?", "z = 1 / (1 + e^-x)", ("dz/dx = z  (wrong!)",)

    def forward(self, x):
        self.z = 1 / (1 + np.exp(-x))
        return self.z

    def backward(self, d_out):
        return (d_out * self.z,)


def run(quick=False):
    analytic, hs, errors = sweep(12 if quick else 23)
    print(f"analytic d sigma / d w0 = {analytic:.5f}\n")
    print("        h   rel. error float64       rel. error float32")
    for h, e64, e32 in zip(hs, errors["float64"], errors["float32"]):
        print(f"  {h:8.0e}   {e64:9.1e} {verdict(e64):<12}   {e32:9.1e} {verdict(e32):<12}")
    best = int(np.argmin(errors["float64"]))
    best32 = int(np.argmin(errors["float32"]))
    print(f"\nbest h in float64: {hs[best]:.0e} (relative error {errors['float64'][best]:.1e});"
          f" in float32: {hs[best32]:.0e} (relative error {errors['float32'][best32]:.1e})")
    at_1e6 = gg.relative_error(analytic, centred_difference(neuron, 2.0, 1e-6, np.float32))
    at_1e7 = centred_difference(neuron, 2.0, 1e-7, np.float32)
    print(f"float32 with h = 1e-6: relative error {float(at_1e6):.2f};"
          f" with h = 1e-7 the numerical gradient is {at_1e7:g}")

    print("\nA kink: ReLU at x = 5e-7, h = 1e-6")
    x = gg.Tensor(5e-7, name="x")
    r = x.relu()
    r.backward()
    kink = centred_difference(lambda v, dtype: gg.Tensor(v, dtype=dtype).relu(), 5e-7, 1e-6, np.float64)
    kink_error = float(gg.relative_error(float(x.grad), kink))
    print(f"  analytic {float(x.grad):g}, numerical {kink:g}, relative error {kink_error:.2f}"
          " (no bug: the difference straddles the kink)")

    print("\ngradcheck on the real sigmoid gate and on one with a bug")
    rng = np.random.default_rng(0)
    x = gg.Tensor(rng.normal(size=(3, 4)), name="x")
    ok = gg.gradcheck(lambda t: t.sigmoid(), [x])
    print("  Sigmoid:        passes" if ok else "  Sigmoid: fails")
    try:
        gg.gradcheck(lambda t: SigmoidWithBug()(t), [x])
        caught = None
    except gg.GradcheckError as error:
        caught = str(error)
    print(f"  SigmoidWithBug: {caught}")

    return {"analytic": analytic, "best_h_float64": float(hs[best]),
            "best_error_float64": float(errors["float64"][best]),
            "best_h_float32": float(hs[best32]), "float32_error_at_1e-6": float(at_1e6),
            "float32_gradient_at_1e-7": at_1e7, "kink_numerical": kink, "kink_error": kink_error,
            "sigmoid_passes": ok, "bug_message": caught}


def figures(quick=False):
    """Relative error of the centred difference against h, float64 and float32."""
    from matplotlib.figure import Figure

    analytic, hs, errors = sweep(12 if quick else 45)
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    floor = 1e-14  # log axes cannot show an error of exactly 0
    for name, style in (("float64", "o-"), ("float32", "s-")):
        ax.loglog(hs, np.maximum(errors[name], floor), style, ms=3, label=name)
    ax.axhspan(1e-2, 10, color="tab:red", alpha=0.08, label="wrong (> 1e-2)")
    ax.axhspan(1e-4, 1e-2, color="tab:orange", alpha=0.08, label="suspicious")
    ax.axhspan(floor, 1e-7, color="tab:green", alpha=0.08, label="good (< 1e-7)")
    ax.set_xlabel("h")
    ax.set_ylabel("relative error")
    ax.set_ylim(floor, 10)
    ax.invert_xaxis()
    ax.set_title("Centred difference: truncation (left) vs round-off (right)")
    ax.legend(fontsize=8, loc="lower left")
    return [fig]


if __name__ == "__main__":
    gg.lessons.main(run)
