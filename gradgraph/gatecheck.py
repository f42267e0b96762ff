"""The table of built-in gates and how to gradcheck each one.

``gradgraph check`` walks this table in float64 and prints, per gate, the
worst relative error between the analytic and the numerical gradient. The
test suite uses the same table with hypothesis-drawn shapes and values, so a
gate added here is checked everywhere.

Each case makes inputs away from the gate's kinks (ReLU at 0, max with a tie,
a hinge margin at exactly 0), where a centred difference straddles the kink
and disagrees with any one-sided derivative.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import losses, ops
from .gradcheck import compare_gradients, relative_error
from .ops.conv import avg_pool2d, conv2d, max_pool2d
from .tensor import Tensor
from .tensor import cat as gg_cat
from .tensor import stack as gg_stack


@dataclass(frozen=True)
class GateCase:
    """``fn(*tensors)`` applies the gate; ``make_inputs(rng, shape)`` draws float64 arrays.

    ``torch(torch, *tensors)``, when given, is the same computation in PyTorch:
    the tests compare values and gradients with it where torch is installed.
    """

    name: str
    fn: Callable
    make_inputs: Callable
    torch: Callable | None = None


def _normal(rng, shape):
    return rng.normal(size=shape)


def _away_from_zero(rng, shape, low=0.2, high=2.0):
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


def _distinct(rng, shape):
    """Values at least 0.1 apart, so a max has no tie."""
    n = int(np.prod(shape)) if shape else 1
    return (rng.permutation(n) * 0.3 + rng.uniform(-0.05, 0.05, size=n) - n * 0.15).reshape(shape)


def _clear_of(rng, shape, kinks, gap=0.05):
    """Normal values, none within ``gap`` of a kink (a clamp bound)."""
    x = rng.normal(size=shape)
    for k in kinks:
        x = x + (np.abs(x - k) < gap) * 2 * gap
    return x


def _spread(shape):
    """The drawn shape with at least 2 elements in the last axis (a spread has no zero variance)."""
    return tuple(shape[:-1]) + (max(shape[-1], 2),) if shape else (2,)


def _matrix(shape):
    """Read a drawn shape as (rows, cols)."""
    rows = shape[0] if len(shape) > 0 else 1
    cols = shape[-1] if len(shape) > 1 else 2
    return max(rows, 1), max(cols, 2)


def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


def _hinge_scores(rng, shape):
    """Scores whose margins s_j - s_y + 1 stay clear of 0 (the hinge's kink)."""
    n, c = _matrix(shape)
    while True:
        scores, labels = rng.normal(scale=2.0, size=(n, c)), _labels(rng, n, c)
        margins = scores - scores[np.arange(n), labels][:, None] + 1.0
        margins[np.arange(n), labels] = 5.0
        if np.all(np.abs(margins) > 0.05):
            return [scores, labels]


def _conv_inputs(rng, shape):
    n, c = (shape[0] if shape else 1), 2
    return [rng.normal(size=(min(n, 2), c, 5, 6)), rng.normal(size=(3, c, 3, 2)), rng.normal(size=(3,))]


def _pool_inputs(rng, shape):
    n = min(shape[0] if shape else 1, 2)
    return [_distinct(rng, (n, 2, 4, 6))]


def _conv_cases():
    """The convolution and pooling gates."""
    return [
        GateCase("Conv2d", lambda x, w, b: conv2d(x, w, b, stride=(1, 2), padding=1, dilation=(1, 1)), _conv_inputs,
                 lambda t, x, w, b: t.nn.functional.conv2d(x, w, b, stride=(1, 2), padding=1)),
        GateCase("Conv2d (dilated)", lambda x, w, b: conv2d(x, w, b, stride=1, padding=(2, 1), dilation=2), _conv_inputs,
                 lambda t, x, w, b: t.nn.functional.conv2d(x, w, b, padding=(2, 1), dilation=2)),
        GateCase("MaxPool2d", lambda x: max_pool2d(x, 2), _pool_inputs, lambda t, x: t.nn.functional.max_pool2d(x, 2)),
        GateCase("AvgPool2d", lambda x: avg_pool2d(x, 2, stride=1, padding=1), _pool_inputs,
                 lambda t, x: t.nn.functional.avg_pool2d(x, 2, stride=1, padding=1)),
    ]


def _pair(make):
    """Inputs for a binary gate: ``make(rng, shape)`` drawn twice."""
    return lambda r, s: [make(r, s), make(r, s)]


def _one(make):
    return lambda r, s: [make(r, s)]


CASES = [
    GateCase("Add", lambda a, b: a + b, lambda r, s: [_normal(r, s), _normal(r, s[-1:])], lambda t, a, b: a + b),
    GateCase("Subtract", lambda a, b: a - b, lambda r, s: [_normal(r, s[-1:]), _normal(r, s)], lambda t, a, b: a - b),
    GateCase("Multiply", lambda a, b: a * b, _pair(_normal), lambda t, a, b: a * b),
    GateCase("Divide", lambda a, b: a / b, lambda r, s: [_normal(r, s), _away_from_zero(r, s, 0.5)],
             lambda t, a, b: a / b),
    GateCase("Maximum", lambda a, b: ops.Maximum()(a, b),
             lambda r, s: (lambda a: [a, a + _away_from_zero(r, s, 0.1, 1.0)])(_normal(r, s)),
             lambda t, a, b: t.maximum(a, b)),
    GateCase("Power", lambda a: a ** 2.5, _one(_positive), lambda t, a: a ** 2.5),
    GateCase("Pow", lambda a, b: a ** b, lambda r, s: [_positive(r, s), _normal(r, s)], lambda t, a, b: a ** b),
    GateCase("Pow (number base)", lambda a: 2.0 ** a, _one(_normal), lambda t, a: 2.0 ** a),
    GateCase("Negate", lambda a: -a, _one(_normal), lambda t, a: -a),
    GateCase("Exp", lambda a: a.exp(), _one(_normal), lambda t, a: a.exp()),
    GateCase("Log", lambda a: a.log(), _one(_positive), lambda t, a: a.log()),
    GateCase("Sqrt", lambda a: a.sqrt(), _one(_positive), lambda t, a: a.sqrt()),
    GateCase("Abs", lambda a: a.abs(), _one(_away_from_zero), lambda t, a: a.abs()),
    GateCase("Clamp", lambda a: a.clamp(-0.5, 0.5), lambda r, s: [_clear_of(r, s, (-0.5, 0.5))],
             lambda t, a: a.clamp(-0.5, 0.5)),
    GateCase("ReLU", lambda a: a.relu(), _one(_away_from_zero), lambda t, a: a.relu()),
    GateCase("LeakyReLU", lambda a: a.leaky_relu(0.1), _one(_away_from_zero),
             lambda t, a: t.nn.functional.leaky_relu(a, 0.1)),
    GateCase("Sigmoid", lambda a: a.sigmoid(), lambda r, s: [_normal(r, s) * 3], lambda t, a: a.sigmoid()),
    GateCase("Tanh", lambda a: a.tanh(), _one(_normal), lambda t, a: a.tanh()),
    GateCase("Sum", lambda a: a.sum(), _one(_normal), lambda t, a: a.sum()),
    GateCase("Sum (axis)", lambda a: a.sum(axis=-1, keepdims=True), _one(_normal),
             lambda t, a: a.sum(-1, keepdim=True)),
    GateCase("Mean", lambda a: a.mean(axis=0), _one(_normal), lambda t, a: a.mean(0)),
    GateCase("Mean (axes list)", lambda a: a.mean(axis=list(range(a.ndim))[-2:]), _one(_normal),
             lambda t, a: a.mean(dim=list(range(a.ndim))[-2:])),
    GateCase("Max", lambda a: a.max(), _one(_distinct), lambda t, a: a.max()),
    GateCase("Max (axis)", lambda a: a.max(axis=-1), _one(_distinct), lambda t, a: a.max(dim=-1).values),
    GateCase("Min", lambda a: a.min(), _one(_distinct), lambda t, a: a.min()),
    GateCase("Min (axis)", lambda a: a.min(axis=0, keepdims=True), _one(_distinct),
             lambda t, a: a.min(dim=0, keepdim=True).values),
    GateCase("Var", lambda a: a.var(axis=-1), lambda r, s: [_normal(r, _spread(s))],
             lambda t, a: a.var(dim=-1, unbiased=False)),
    GateCase("Std", lambda a: a.std(), lambda r, s: [_normal(r, _spread(s))], lambda t, a: a.std(unbiased=False)),
    GateCase("LogSumExp", lambda a: a.logsumexp(axis=-1), lambda r, s: [_normal(r, s) * 3],
             lambda t, a: a.logsumexp(dim=-1)),
    GateCase("Softmax", lambda a: a.softmax(axis=-1), _one(_normal), lambda t, a: a.softmax(-1)),
    GateCase("LogSoftmax", lambda a: a.log_softmax(axis=-1), _one(_normal), lambda t, a: a.log_softmax(-1)),
    GateCase("MatMul", lambda a, b: a @ b,
             lambda r, s: (lambda n, k: [_normal(r, (n, k)), _normal(r, (k, 3))])(*_matrix(s)), lambda t, a, b: a @ b),
    GateCase("MatMul (matrix-vector)", lambda a, b: a @ b,
             lambda r, s: (lambda n, k: [_normal(r, (n, k)), _normal(r, (k,))])(*_matrix(s)), lambda t, a, b: a @ b),
    GateCase("MatMul (vector-matrix)", lambda a, b: a @ b,
             lambda r, s: (lambda n, k: [_normal(r, (n,)), _normal(r, (n, k))])(*_matrix(s)), lambda t, a, b: a @ b),
    GateCase("MatMul (vector-vector)", lambda a, b: a @ b, lambda r, s: [_normal(r, s[-1:]), _normal(r, s[-1:])],
             lambda t, a, b: a @ b),
    GateCase("MatMul (batched)", lambda a, b: a @ b,
             lambda r, s: (lambda n, k: [_normal(r, (2, n, k)), _normal(r, (1, k, 3))])(*_matrix(s)),
             lambda t, a, b: a @ b),
    GateCase("Reshape", lambda a: a.reshape(-1) * np.arange(a.size), _one(_normal),
             lambda t, a: a.reshape(-1) * t.arange(a.numel())),
    GateCase("Transpose", lambda a: a.T, _one(_normal), lambda t, a: a.permute(*reversed(range(a.ndim)))),
    GateCase("Transpose (two axes)", lambda a: a.transpose(0, -1), _one(_normal), lambda t, a: a.transpose(0, -1)),
    GateCase("Permute", lambda a: a.permute(*np.roll(np.arange(a.ndim), 1)), _one(_normal),
             lambda t, a: a.permute(*np.roll(np.arange(a.ndim), 1).tolist())),
    GateCase("Squeeze/Unsqueeze", lambda a: a.unsqueeze(1).squeeze(), _one(_normal),
             lambda t, a: a.unsqueeze(1).squeeze()),
    GateCase("Index", lambda a: a[..., ::2], _one(_normal), lambda t, a: a[..., ::2]),
    GateCase("Concatenate", lambda a, b: gg_cat([a, b], axis=-1), lambda r, s: [_normal(r, s), _normal(r, _spread(s))],
             lambda t, a, b: t.cat([a, b], dim=-1)),
    GateCase("Stack", lambda a, b: gg_stack([a, b], axis=1), _pair(_normal), lambda t, a, b: t.stack([a, b], dim=1)),
    GateCase("CrossEntropy", lambda s, y: losses.cross_entropy(s, y.data),
             lambda r, s: (lambda n, c: [_normal(r, (n, c)) * 2, _labels(r, n, c)])(*_matrix(s)),
             lambda t, s, y: t.nn.functional.cross_entropy(s, y.long())),
    GateCase("MulticlassHinge", lambda s, y: losses.hinge(s, y.data), _hinge_scores,
             lambda t, s, y: t.nn.functional.multi_margin_loss(s, y.long()) * s.shape[1]),
    GateCase("BinaryCrossEntropy", lambda p, y: losses.binary_cross_entropy(p, y.data),
             lambda r, s: [r.uniform(0.1, 0.9, size=s), r.integers(0, 2, size=s).astype(float)],
             lambda t, p, y: t.nn.functional.binary_cross_entropy(p, y)),
] + _conv_cases()

#: Inputs that are data, not differentiable arguments (labels, targets).
_CONSTANT_INPUTS = {"CrossEntropy": {1}, "MulticlassHinge": {1}, "BinaryCrossEntropy": {1}}


def make_tensors(case: GateCase, rng, shape) -> list:
    """The case's inputs as float64 Tensors (labels and targets need no gradient)."""
    arrays = case.make_inputs(rng, tuple(shape))
    constants = _CONSTANT_INPUTS.get(case.name, set())
    return [Tensor(np.asarray(a, dtype=np.float64), requires_grad=i not in constants) for i, a in enumerate(arrays)]


def worst_relative_error(case: GateCase, rng, shape, eps: float = 1e-6) -> float:
    """Worst |analytic - numerical| / max(|analytic|, |numerical|) over all input elements.

    Elements whose gradients are a thousand times smaller than the largest
    of that input are left out: there the centred difference's round-off
    (about 1e-10 in float64) dominates and the ratio says nothing about the
    gate.
    """
    worst = 0.0
    for pair in compare_gradients(case.fn, make_tensors(case, rng, shape), eps):
        if pair is None:
            continue
        a, n = pair
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
            return float("inf")  # a NaN or an infinity on either side is never a pass
        magnitude = np.maximum(np.abs(a), np.abs(n))
        meaningful = magnitude > max(1e-3 * magnitude.max(), 1e-8)
        if meaningful.any():
            worst = max(worst, float(relative_error(a[meaningful], n[meaningful]).max()))
    return worst


#: The lecture's rule of thumb for relative errors (float64, h ~ 1e-6).
PASS_BELOW = 1e-5


def main(args=None) -> int:
    """``gradgraph check``: gradcheck every built-in gate in float64 and print a table."""
    seed = getattr(args, "seed", 0) or 0
    shapes = [(3,), (2, 3), (2, 3, 4)]
    width = max(len(c.name) for c in CASES) + 2
    print(f"{'gate':<{width}}{'worst relative error':>22}  result")
    print("-" * (width + 30))
    failures = 0
    for case in CASES:
        rng = np.random.default_rng(seed)
        try:
            error = max(worst_relative_error(case, rng, shape) for shape in shapes)
            ok = error < PASS_BELOW
            shown = f"{error:.2e}"
        except Exception as exc:  # a broken gate is a failed row, not a crash
            ok, shown = False, f"{type(exc).__name__}: {exc}"[:40]
        failures += not ok
        print(f"{case.name:<{width}}{shown:>22}  {'pass' if ok else 'FAIL'}")
    print("-" * (width + 30))
    print(f"{len(CASES) - failures} passed, {failures} failed")
    sys.stdout.flush()
    return 1 if failures else 0
