"""# 6. A linear classifier and its losses: SVM and softmax

## The linear classifier

An image is an array of numbers (a 32 × 32 × 3 CIFAR-10 image is 3072 numbers
from 0 to 255). Flatten it into a vector `x`; a **linear classifier** computes
one score per class,

    s = f(x, W) = W x + b

Each row of `W` is a *template* for one class: the score is high when the
image looks like the template. In the input space each class's region is
bounded by hyperplanes (`s_i = s_j` is a linear equation in `x`).

A **loss** turns the scores into one number that is small when the correct
class wins. Below are three images with scores for the classes
(cat, car, frog):

| image | cat score | car score | frog score |
|-------|-----------|-----------|------------|
| cat   | **3.2**   | 5.1       | -1.7       |
| car   | 1.3       | **4.9**   | 2.0        |
| frog  | 2.2       | 2.5       | **-3.1**   |

(bold: the correct class). The classifier is right only about the car.

## Multiclass SVM (hinge) loss

Every wrong class `j` should score at least 1 below the correct class `y_i`,
and each violation costs the amount it falls short:

    L_i = Σ_{j ≠ y_i} max(0, s_j - s_{y_i} + 1)

- cat image: `max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0 = 2.9`
- car image: `max(0, 1.3 - 4.9 + 1) + max(0, 2.0 - 4.9 + 1) = 0 + 0 = 0`
- frog image: `max(0, 2.2 - (-3.1) + 1) + max(0, 2.5 - (-3.1) + 1) = 6.3 + 6.6 = 12.9`

The data loss is the mean: `L = (2.9 + 0 + 12.9) / 3 = 15.8 / 3 = 5.27`.

**A slip on the slides.** A widely copied slide gives the frog image's loss
as 10.9 and the mean as 4.6. But `2.2 - (-3.1) + 1 = 2.2 + 3.1 + 1 = 6.3`,
not 5.3 as written; and since 10.9 - 5.3 = 5.6, the second term lost its +1
too (6.6 written as 5.6). With the margin dropped from both terms you get
5.3 + 5.6 = 10.9, and the mean (2.9 + 0 + 10.9) / 3 = 4.6. The correct
values are 12.9 and 5.27 (`run()` computes both versions).

**The slide's question: what if the sum also ran over `j = y_i`?** That
term is `max(0, s_{y_i} - s_{y_i} + 1) = max(0, 1) = 1` for every image, so
every loss grows by exactly 1 (the mean becomes 6.27), the gradient does not
change, and the best weights stay the same; but the smallest possible loss
would be 1 instead of 0, which is why the sum leaves `y_i` out. `run()`
computes it.

Its gradient: each violated margin pushes its wrong class's score down and
the correct class's score up, `dL_i/ds_j = 1` if margin `j` is violated,
`dL_i/ds_{y_i} = -(number of violated margins)`, all divided by N for the mean.

## Softmax and cross-entropy

Read the scores as unnormalized log-probabilities:

    P(k | x) = e^{s_k} / Σ_j e^{s_j}          L_i = -ln P(y_i | x_i)

(One slide writes the denominator `Σ_j e^{s_{y_j}}`: it is the sum over
*all* classes' scores, `Σ_j e^{s_j}`, which is what makes the probabilities
add up to 1.)

For the cat image:

| step                 | cat    | car    | frog    |
|----------------------|--------|--------|---------|
| scores `s`           | 3.2    | 5.1    | -1.7    |
| `e^s`                | 24.5   | 164.0  | 0.18    |
| normalize (÷ 188.7)  | 0.13   | 0.87   | 0.00    |

    L = -ln(0.13) = 2.04

**Another slip.** Some slides print 0.89 here. That is `-log10(0.13)`, the
logarithm to base 10. Cross-entropy uses the natural logarithm (so that its
gradient is the clean `p - y` below): the loss is 2.04.

Questions worth answering:

- The smallest possible loss is 0 (the correct class gets probability 1); the
  largest is unbounded (the correct class's probability goes to 0).
- **Sanity check at initialization.** With small random weights all scores
  are near 0, every class gets probability `1/C`, and the loss is `ln C`:
  2.30 for 10 classes. (The SVM loss starts at `C - 1`: every margin is 1.)
  If your first loss is far from that, something is broken before training
  has even started.

The gradient of softmax followed by cross-entropy is remarkably simple:

    dL_i/ds = P(· | x_i) - onehot(y_i)

For the cat image: `[0.13 - 1, 0.87, 0.00] = [-0.87, 0.87, 0.00]`: push the
cat score up, the car score down. `build()` composes the loss from exp, sum,
divide, index, log and negate gates, so you can watch this gradient appear.

## Other losses you will meet

- L2 / mean squared error `Σ_i ||f(x_i) - y_i||²` and L1 `Σ_i |f(x_i) - y_i|`,
  for regression. (A slide headed "L2 loss" shows `Σ ||f(x) - y||_1`: that
  is the L1 norm. L2 squares the differences, so large errors dominate; L1
  takes their absolute values and is less swayed by outliers.)
- Binary cross-entropy `J = -(y ln ŷ + (1 - y) ln(1 - ŷ))` for one sigmoid
  output. (One deck drops the minus sign; without it the "loss" is negative
  and minimizing it would make the predictions *worse*.)

## A linear classifier in action

`run()` trains `s = x W + b` with cross-entropy on two 2-D toy problems: on the
`linear` data it reaches high accuracy; on the XOR data (class 1 in quadrants
1 and 3, class 0 in 2 and 4) no straight line can do much better than
guessing. Lesson 8 fixes that with a hidden layer.

## Try it

- Step through `build()` in the app and compare the gradient at `scores`
  with `p - onehot(y)`.
- Exercises 6.1 and 6.2: the backward of the hinge loss and of softmax
  cross-entropy.
"""
import numpy as np

import gradgraph as gg
from gradgraph.graph.walk import walkthrough

SUMMARY = "SVM loss on three images (2.9, 0, 12.9, mean 5.27), cross-entropy 2.04, the ln(C) check."
EXERCISES = ["6.1", "6.2"]

CLASSES = ("cat", "car", "frog")
SCORES = np.array([[3.2, 5.1, -1.7],    # the cat image
                   [1.3, 4.9, 2.0],     # the car image
                   [2.2, 2.5, -3.1]])   # the frog image
LABELS = np.array([0, 1, 2])


def build():
    """Softmax cross-entropy of the cat image, one primitive gate at a time."""
    s = gg.Tensor(SCORES[0], name="scores")
    e = s.exp()
    e.name = "exp"
    total = e.sum()
    total.name = "sum"
    p = e / total
    p.name = "p"
    p_cat = p[0]
    p_cat.name = "p_cat"
    loss = -p_cat.log()
    loss.name = "L"
    return loss


def svm_terms(scores, label, margin=1.0):
    """The hinge terms max(0, s_j - s_y + margin) for each wrong class j."""
    return [max(0.0, scores[j] - scores[label] + margin) for j in range(len(scores)) if j != label]


def train_linear(X, y, steps, lr=0.5, seed=0):
    """Full-batch gradient descent on s = x W + b with cross-entropy; returns the accuracy."""
    rng = np.random.default_rng(seed)
    W = gg.Tensor(rng.normal(0, 0.01, size=(2, 2)), name="W")
    b = gg.Tensor(np.zeros(2), name="b")
    for _ in range(steps):
        loss = gg.losses.cross_entropy(gg.Tensor(X, requires_grad=False) @ W + b, y)
        W.zero_grad()
        b.zero_grad()
        loss.backward()
        W.data -= lr * W.grad
        b.data -= lr * b.grad
    with gg.no_grad():
        scores = (gg.Tensor(X) @ W + b).data
    return float(np.mean(scores.argmax(axis=1) == y)), float(loss.data)


def run(quick=False):
    print("Multiclass SVM loss, margin 1")
    per_image = []
    for name, scores, label in zip(CLASSES, SCORES, LABELS):
        terms = svm_terms(scores, label)
        per_image.append(sum(terms))
        print(f"  {name} image {scores}: " + " + ".join(f"{t:.1f}" for t in terms) + f" = {sum(terms):.1f}")
    svm = gg.losses.hinge(SCORES, LABELS)
    print(f"  mean = ({' + '.join(f'{v:.1f}' for v in per_image)}) / 3 = {float(svm.data):.2f}"
          "   (gg.losses.hinge agrees)")

    slide_terms = svm_terms(SCORES[2], 2, margin=0.0)
    slide_frog = sum(slide_terms)
    slide_mean = (per_image[0] + per_image[1] + slide_frog) / 3
    print(f"\n  the slide's frog image, the +1 dropped: {slide_terms[0]:.1f} + {slide_terms[1]:.1f}"
          f" = {slide_frog:.1f}; mean {slide_mean:.1f}.  Correct: {per_image[2]:.1f} and {float(svm.data):.2f}")

    with_correct = [sum(svm_terms(scores, label)) + max(0.0, scores[label] - scores[label] + 1)
                    for scores, label in zip(SCORES, LABELS)]
    print(f"  if the sum included j = y_i: {' + '.join(f'{v:.1f}' for v in with_correct)}, mean"
          f" {np.mean(with_correct):.2f} (each loss +1, the gradient unchanged)")

    print("\nSoftmax cross-entropy of the cat image")
    e = np.exp(SCORES[0])
    p = e / e.sum()
    ce = -np.log(p[0])
    print(f"  exp(s) = {np.round(e, 2)},  sum = {e.sum():.1f}")
    print(f"  p      = {np.round(p, 2)}")
    print(f"  L = -ln({p[0]:.2f}) = {ce:.2f}    (-log10({p[0]:.2f}) = {-np.log10(p[0]):.2f}: the slide's 0.89)")
    fused = gg.losses.cross_entropy(SCORES[:1], LABELS[:1])
    print(f"  gg.losses.cross_entropy: {float(fused.data):.4f}")

    loss = build()
    walkthrough(loss)
    scores = [n for n in gg.topological_order(loss) if n.name == "scores"][0]
    print(f"  dL/ds = {np.round(scores.grad, 3)} = p - onehot(cat) = {np.round(p - [1, 0, 0], 3)}")

    print("\nSanity check at initialization: 10 classes, small random weights")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50 if quick else 500, 3072))
    y = rng.integers(0, 10, size=len(X))
    W = rng.normal(0, 1e-4, size=(3072, 10))
    init_ce = float(gg.losses.cross_entropy(X @ W, y).data)
    init_svm = float(gg.losses.hinge(X @ W, y).data)
    print(f"  cross-entropy {init_ce:.3f}  (ln 10 = {np.log(10):.3f});  SVM {init_svm:.3f}  (C - 1 = 9)")

    print("\nA linear classifier trained with gradient descent (cross-entropy)")
    steps = 30 if quick else 300
    results = {}
    for name, make in (("linear", gg.data.toy.linear), ("xor", gg.data.toy.xor)):
        Xd, yd = make(n=200, seed=0)
        accuracy, final = train_linear(Xd, yd, steps)
        results[name] = accuracy
        print(f"  {name:<6} data: accuracy {accuracy:.0%} after {steps} steps (loss {final:.3f})")

    return {"svm_per_image": per_image, "svm": float(svm.data), "slide_frog": slide_frog,
            "slide_mean": slide_mean, "exp": e.tolist(), "p": p.tolist(), "ce": float(ce),
            "ce_log10": float(-np.log10(p[0])), "ce_engine": float(fused.data), "d_scores": scores.grad.tolist(),
            "init_ce": init_ce, "init_svm": init_svm, "accuracy": results}


if __name__ == "__main__":
    gg.lessons.main(run)
