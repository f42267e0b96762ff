"""Exercises: stubs for the student, reference solutions, and the checks.

Each exercise is one small file in ``lessons/exercises/`` holding a gate (or a
function) whose backward pass (or update) still raises
``NotImplementedError("Exercise N.M")``. The student replaces that line with
code; ``gradgraph exercise N.M`` then checks it:

1. targeted tests with known answers (the lecture's numbers where there are
   some), whose failure message names the gradient that is off, the worst
   element, and the expected and actual values, often with a hint about the
   usual mistake (inputs swapped, ``d_out`` forgotten, ``=`` instead of ``+=``);
2. ``gg.gradcheck`` against centred differences on random float64 inputs.

The reference solutions live in ``lessons/solutions/`` under the same file
names (``gradgraph exercise N.M --solutions`` checks them).

    from gradgraph import exercises
    exercises.status("1.1")           # "todo", "passed" or "failed"
    result = exercises.check("1.1")   # result.passed, result.message
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import itertools
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .gate import substitute_gates, unbroadcast
from .gradcheck import GradcheckError, gradcheck
from .course import lessons_dir
from .tensor import Tensor

__all__ = ["CheckResult", "Exercise", "ExerciseNotFoundError", "MineReport", "check", "cli_check", "cli_list",
           "find_exercise", "list_exercises", "mine", "status"]

_counter = itertools.count(1)


class ExerciseNotFoundError(LookupError):
    """No exercise has that id; the message lists the valid ones."""


class Fail(AssertionError):
    """A check failed; the message is the hint shown to the student."""


@dataclass(frozen=True)
class Exercise:
    id: str          # "1.1"
    title: str       # "The multiply gate's backward"
    lesson: int      # the lesson that teaches it
    filename: str    # "ex01_1_multiply.py", the same in exercises/ and solutions/
    target: str      # what to write: "Multiply.backward"
    replaces: str = ""  # the built-in gate it stands in for under mine(): "ops.Multiply"

    @property
    def stub(self) -> Path:
        """The file the student edits."""
        return lessons_dir() / "exercises" / self.filename

    @property
    def solution(self) -> Path:
        """The reference solution."""
        return lessons_dir() / "solutions" / self.filename

    @property
    def name(self) -> str:
        """The class or function the file defines (``Multiply``)."""
        return self.target.split(".")[0]


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: str      # "passed", "failed" or "todo"
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


# -- helpers for the checks -------------------------------------------------------

def _fmt(value) -> str:
    a = np.asarray(value, dtype=np.float64)
    if a.size == 1:
        return f"{a.item():.6g}"
    return np.array2string(a, precision=4, suppress_small=True, separator=", ").replace("\n", "")


def _grads(gate, n_inputs: int, returned, what: str) -> list:
    """The backward result as a list of arrays, or a Fail explaining what came back."""
    if returned is None:
        raise Fail(f"{gate}.backward returned None: it must return {what} (did you forget `return`?)")
    if n_inputs == 1 and not isinstance(returned, (tuple, list)):
        returned = (returned,)
    if not isinstance(returned, (tuple, list)):
        raise Fail(f"{gate}.backward must return a tuple {what}, got a {type(returned).__name__}")
    if len(returned) != n_inputs:
        raise Fail(f"{gate}.backward returned {len(returned)} value(s); it must return {what}")
    out = []
    for g in returned:
        if g is None:
            raise Fail(f"{gate}.backward returned None for a gradient; it must return {what}")
        out.append(np.asarray(g, dtype=np.float64))
    return out


def _compare(label: str, got, expected, context: str, hint: str = "", atol: float = 1e-6) -> None:
    """Fail naming the worst element when ``got`` differs from ``expected``."""
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        raise Fail(f"{label} has shape {got.shape} but should have shape {expected.shape} "
                   f"(a gradient has the shape of its input). {context}")
    error = np.abs(got - expected)
    bad = ~np.isfinite(got) | (error > atol + 1e-6 * np.abs(expected))
    if not bad.any():
        return
    worst = np.unravel_index(int(np.argmax(np.where(np.isfinite(got), error, np.inf))), got.shape)
    where = f" at element {tuple(int(i) for i in worst)}" if got.ndim else ""
    message = (f"{label} is wrong{where}: expected {_fmt(expected[worst])}, got {_fmt(got[worst])}. {context}")
    if got.ndim and got.size <= 12:
        message += f"\n  expected {label} = {_fmt(expected)}\n  your     {label} = {_fmt(got)}"
    raise Fail(message + (f"\n  Hint: {hint}" if hint else ""))


def _gradcheck(description: str, fn, inputs) -> None:
    """gg.gradcheck, turning its failure (and shape errors from the engine) into a Fail."""
    try:
        gradcheck(fn, inputs)
    except GradcheckError as error:
        named = re.search(r"input (\d+) \('(\w+)'\)", str(error))
        which = f"d_{named.group(2)} is wrong. " if named else ""
        raise Fail(f"{description}: {which}{error}") from None
    except ValueError as error:  # the autograd loop checks the number and shapes of gradients
        if "backward returned" in str(error):
            raise Fail(f"{description}: {error}") from None
        raise


def _rng(seed=0):
    return np.random.default_rng(seed)


def _named(*pairs):
    return [Tensor(np.array(value, dtype=np.float64), name=name) for name, value in pairs]


# -- the checks, one per exercise -------------------------------------------------------

def _check_multiply(Multiply) -> None:
    gate = Multiply()
    gate.forward(np.array(3.0), np.array(-4.0))
    d_x, d_y = _grads("Multiply", 2, gate.backward(np.array(2.0)), "(d_x, d_y)")
    context = "For x = 3, y = -4 and d_out = 2."
    if np.isclose(d_x, 6) and np.isclose(d_y, -8):
        raise Fail(f"{context} You returned d_x = 6, d_y = -8: the inputs are swapped. "
                   "The multiply gate switches: d_x = d_out * y, d_y = d_out * x.")
    if np.isclose(d_x, -4) and np.isclose(d_y, 3):
        raise Fail(f"{context} You returned the local gradients (-4, 3) without multiplying by d_out: "
                   "d_x = d_out * y = -8, d_y = d_out * x = 6.")
    _compare("d_x", d_x, -8.0, context, "d_x = d_out * y (upstream gradient times the other input).")
    _compare("d_y", d_y, 6.0, context, "d_y = d_out * x.")

    x, y, z = _named(("x", -2.0), ("y", 5.0), ("z", -4.0))
    f = Multiply()(x + y, z)
    f.backward()
    context = "In the lecture's graph f = (x + y) z at x = -2, y = 5, z = -4."
    _compare("df/dz", z.grad, 3.0, context)
    _compare("df/dx", x.grad, -4.0, context)

    rng = _rng(1)
    _gradcheck("With (3, 4) arrays", lambda a, b: Multiply()(a, b),
               _named(("x", rng.normal(size=(3, 4))), ("y", rng.normal(size=(3, 4)))))


def _check_add(Add) -> None:
    gate = Add()
    gate.forward(np.array(-2.0), np.array(5.0))
    d_x, d_y = _grads("Add", 2, gate.backward(np.array(-4.0)), "(d_x, d_y)")
    context = "For x = -2, y = 5 and d_out = -4."
    if np.isclose(d_x, 1) and np.isclose(d_y, 1):
        raise Fail(f"{context} You returned the local gradients (1, 1): multiply them by d_out. "
                   "The add gate passes d_out on unchanged: d_x = d_y = d_out.")
    _compare("d_x", d_x, -4.0, context, "the add gate distributes: d_x = d_out * 1.")
    _compare("d_y", d_y, -4.0, context, "d_y = d_out * 1.")

    x, y, z = _named(("x", -2.0), ("y", 5.0), ("z", -4.0))
    (Add()(x, y) * z).backward()
    context = "In the lecture's graph f = (x + y) z at x = -2, y = 5, z = -4."
    _compare("df/dx", x.grad, -4.0, context)
    _compare("df/dy", y.grad, -4.0, context)

    rng = _rng(2)
    _gradcheck("With (3, 4) arrays", lambda a, b: Add()(a, b),
               _named(("x", rng.normal(size=(3, 4))), ("y", rng.normal(size=(3, 4)))))


def _check_maximum(Maximum) -> None:
    for x, y, d_out, expected in ((2.0, -1.0, 2.0, (2.0, 0.0)), (-1.0, 2.0, 2.0, (0.0, 2.0))):
        gate = Maximum()
        gate.forward(np.array(x), np.array(y))
        d_x, d_y = _grads("Maximum", 2, gate.backward(np.array(d_out)), "(d_x, d_y)")
        context = f"For x = {x:g}, y = {y:g} and d_out = {d_out:g}."
        winner = "x" if x > y else "y"
        hint = f"the max gate routes: the winner ({winner}) gets all of d_out, the other input 0."
        _compare("d_x", d_x, expected[0], context, hint)
        _compare("d_y", d_y, expected[1], context, hint)

    gate = Maximum()
    gate.forward(np.array(1.0), np.array(1.0))
    d_x, d_y = _grads("Maximum", 2, gate.backward(np.array(3.0)), "(d_x, d_y)")
    context = "For a tie, x = y = 1, and d_out = 3."
    if np.isclose(d_x, 3) and np.isclose(d_y, 3):
        raise Fail(f"{context} Both inputs got 3: on a tie give d_out to x only (x_wins is True), "
                   "otherwise the gradient is counted twice.")
    _compare("d_x", d_x, 3.0, context, "on a tie the gradient goes to x (self.x_wins is True where x >= y).")
    _compare("d_y", d_y, 0.0, context, "on a tie y gets 0.")

    rng = _rng(3)
    _gradcheck("With (3, 4) arrays", lambda a, b: Maximum()(a, b),
               _named(("x", rng.normal(size=(3, 4))), ("y", rng.normal(size=(3, 4)))))


def _check_sigmoid(Sigmoid) -> None:
    gate = Sigmoid()
    sigma = float(gate.forward(np.array(1.0)))
    (d_x,) = _grads("Sigmoid", 1, gate.backward(np.array(1.0)), "(d_x,)")
    context = f"For x = 1 (σ = {sigma:.4f}) and d_out = 1."
    if np.isclose(d_x, sigma):
        raise Fail(f"{context} You returned σ = {sigma:.4f}; the local gradient is (1 - σ) σ = 0.1966.")
    if np.isclose(d_x, 1 - sigma):
        raise Fail(f"{context} You returned 1 - σ = {1 - sigma:.4f}; the local gradient is (1 - σ) σ = 0.1966.")
    _compare("d_x", d_x, (1 - sigma) * sigma, context, "d_x = d_out * (1 - σ) * σ, with σ = self.z.")

    gate = Sigmoid()
    gate.forward(np.array(1.0))
    (d_x,) = _grads("Sigmoid", 1, gate.backward(np.array(2.0)), "(d_x,)")
    _compare("d_x", d_x, 2 * (1 - sigma) * sigma, "For x = 1 and d_out = 2.",
             "multiply the local gradient by d_out.")

    rng = _rng(4)
    _gradcheck("With a (3, 4) array", lambda a: Sigmoid()(a), _named(("x", rng.normal(size=(3, 4)) * 2)))


_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
_LABELS = np.array([0, 1, 2])
_IMAGES = ("cat", "car", "frog")


def _loss_backward(cls, name, scores, labels, d_out=1.0):
    gate = cls(labels)
    gate.forward(np.array(scores, dtype=np.float64))
    (d_s,) = _grads(name, 1, gate.backward(np.array(d_out)), "(d_scores,)")
    return d_s


def _image_context(d_s, expected) -> str:
    """Name the image and class of the worst element for the three-image example."""
    d_s = np.asarray(d_s, dtype=np.float64)
    if d_s.shape != expected.shape:
        return ""
    i, j = np.unravel_index(int(np.argmax(np.abs(d_s - expected))), expected.shape)
    which = "the correct class" if j == _LABELS[i] else "a wrong class"
    return f" The worst is row {i} (the {_IMAGES[i]} image), column {j} ({_IMAGES[j]}, {which})."


def _check_hinge(MulticlassHinge) -> None:
    d_s = _loss_backward(MulticlassHinge, "MulticlassHinge", _SCORES[:1], _LABELS[:1])
    expected = np.array([[-1.0, 1.0, 0.0]])
    _compare("d_scores", d_s, expected,
             "For the cat image alone, scores [3.2, 5.1, -1.7], label 0 (margins: car 2.9 > 0, frog 0).",
             "violated margin j: +1; the correct class: minus the number of violated margins; others 0.")

    expected = np.array([[-1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.0, -2.0]]) / 3
    d_s = _loss_backward(MulticlassHinge, "MulticlassHinge", _SCORES, _LABELS)
    context = "For the three images of lesson 6 (N = 3, labels cat, car, frog)."
    _hint_mean_over_batch(d_s, expected, context)
    if np.allclose(np.asarray(d_s)[[0, 2], [0, 2]], 0) and not np.allclose(d_s, 0):
        raise Fail(f"{context} The correct class's score got no gradient. It appears with a minus sign in "
                   "every violated margin: dL/ds_y = -(number of violated margins) / N.")
    _compare("d_scores", d_s, expected, context + _image_context(d_s, expected))
    _check_d_out_and_random_scores(MulticlassHinge, "MulticlassHinge", expected, seed=5)


def _check_cross_entropy(SoftmaxCrossEntropy) -> None:
    e = np.exp(_SCORES[0])
    p = e / e.sum()
    d_s = _loss_backward(SoftmaxCrossEntropy, "SoftmaxCrossEntropy", _SCORES[:1], _LABELS[:1])
    context = "For the cat image alone, scores [3.2, 5.1, -1.7], label 0 (p = [0.130, 0.869, 0.001])."
    if np.allclose(d_s, p[None]):
        raise Fail(f"{context} You returned p: subtract 1 at the correct class (p - onehot(y)).")
    _compare("d_scores", d_s, (p - [1, 0, 0])[None], context, "dL/ds = p - onehot(y), divided by N.")

    E = np.exp(_SCORES - _SCORES.max(axis=1, keepdims=True))
    P = E / E.sum(axis=1, keepdims=True)
    expected = (P - np.eye(3)) / 3
    d_s = _loss_backward(SoftmaxCrossEntropy, "SoftmaxCrossEntropy", _SCORES, _LABELS)
    context = "For the three images of lesson 6 (N = 3)."
    _hint_mean_over_batch(d_s, expected, context)
    _compare("d_scores", d_s, expected, context + _image_context(d_s, expected))
    _check_d_out_and_random_scores(SoftmaxCrossEntropy, "SoftmaxCrossEntropy", expected, seed=6, scale=3.0)


def _hint_mean_over_batch(d_s, expected, context: str) -> None:
    """The commonest slip in a batch loss: forgetting to divide by N (here 3)."""
    if np.allclose(d_s, expected * 3):
        raise Fail(f"{context} Your gradient is 3 times too large: the loss is the mean over the "
                   "N examples, so divide by N (self.N).")


def _check_d_out_and_random_scores(Loss, name: str, expected, seed: int, scale: float = 1.0) -> None:
    """A batch loss's backward scales with d_out and passes gradcheck on random scores."""
    d_s = _loss_backward(Loss, name, _SCORES, _LABELS, d_out=2.0)
    _compare("d_scores", d_s, 2 * expected, "For the three images with d_out = 2.", "multiply by d_out.")
    rng = _rng(seed)
    labels = rng.integers(0, 4, size=5)
    _gradcheck("With random (5, 4) scores", lambda s: Loss(labels)(s),
               _named(("scores", rng.normal(size=(5, 4)) * scale)))


def _check_sgd(sgd_step) -> None:
    theta = Tensor(-2.0, name="theta")
    theta.grad = np.array(-36.0)
    sgd_step([theta], 0.01)
    context = "The lecture's step: theta = -2, gradient -36, learning rate 0.01."
    if np.isclose(theta.data, -2.36):
        raise Fail(f"{context} You got -2.36: you moved *with* the gradient. Step against it: "
                   "theta - lr * grad = -2 - 0.01 * (-36) = -1.64.")
    _compare("theta", theta.data, -1.64, context, "theta <- theta - lr * grad (update p.data).")
    _compare("theta.grad", theta.grad, -36.0, context + " The step must not change the gradient.")

    rng = _rng(7)
    W = Tensor(rng.normal(size=(2, 3)), name="W")
    b = Tensor(rng.normal(size=3), name="b")
    frozen = Tensor(np.ones(3), name="frozen")  # no gradient: must stay as it is
    W0, b0 = W.data.copy(), b.data.copy()
    W.grad, b.grad = rng.normal(size=(2, 3)), rng.normal(size=3)
    try:
        sgd_step([W, frozen, b], 0.1)
    except TypeError as error:
        if "NoneType" in str(error):
            raise Fail("A parameter without a gradient (grad is None) made sgd_step fail "
                       f"({error}). Skip such parameters.") from None
        raise
    context = "For a list of array parameters [W (2, 3), frozen (no gradient), b (3,)], learning rate 0.1."
    _compare("W", W.data, W0 - 0.1 * W.grad, context, "update every parameter in the list.")
    _compare("b", b.data, b0 - 0.1 * b.grad, context, "update every parameter in the list.")
    _compare("frozen", frozen.data, np.ones(3), context, "leave parameters whose grad is None unchanged.")


def _check_momentum(Momentum) -> None:
    grads = [np.array([1.0, -1.0]), np.array([1.0, -1.0]), np.array([-2.0, 0.5])]
    lr, mu = 0.1, 0.9
    theta = Tensor(np.array([1.0, -2.0]), name="theta")
    frozen = Tensor(np.array([5.0]), name="frozen")
    opt = Momentum([theta, frozen], lr=lr, momentum=mu)
    v = np.zeros(2)
    expected = theta.data.copy()
    plain = theta.data.copy()
    for step, g in enumerate(grads, start=1):
        theta.grad, frozen.grad = g.copy(), None
        try:
            opt.step()
        except TypeError as error:
            if "NoneType" in str(error):
                raise Fail("A parameter without a gradient (grad is None) made step() fail "
                           f"({error}). Skip such parameters.") from None
            raise
        v = mu * v + g
        expected = expected - lr * v
        plain = plain - lr * g
        context = (f"After step {step} (lr {lr}, momentum {mu}, theta starting at [1, -2], "
                   f"gradients {', '.join(_fmt(x) for x in grads[:step])}).")
        got = np.asarray(theta.data, dtype=np.float64)
        if step == 1:
            hint = "the velocity starts at 0, so the first step is plain gradient descent: v = g, theta -= lr * v."
        elif np.allclose(got, plain):
            hint = ("this is plain gradient descent: the velocity must carry over between steps "
                    "(store it in self.velocity[i]: v = momentum * v + grad).")
        else:
            hint = "v = momentum * v + grad, then theta -= lr * v."
        _compare("theta", got, expected, context, hint)
        _compare("frozen", frozen.data, [5.0], context, "skip parameters whose grad is None.")


def _check_max_pool(MaxPool2d) -> None:
    x = np.array([[1.0, 3.0, 2.0, 0.0],
                  [4.0, 2.0, 1.0, 5.0],
                  [0.0, 1.0, 7.0, 2.0],
                  [6.0, 2.0, 3.0, 1.0]])[None, None]
    gate = MaxPool2d(2, 2)
    gate.forward(x.copy())
    (d_x,) = _grads("MaxPool2d", 1, gate.backward(np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]), "(d_x,)")
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1, 0], expected[0, 0, 1, 3], expected[0, 0, 3, 0], expected[0, 0, 2, 2] = 1, 2, 3, 4
    _compare("d_x", d_x, expected,
             "For the 4x4 input [[1,3,2,0],[4,2,1,5],[0,1,7,2],[6,2,3,1]], 2x2 windows, stride 2, "
             "d_out = [[1,2],[3,4]].",
             "each window's maximum (4, 5, 6, 7) gets that window's d_out; every other element 0.")

    x = np.array([[1.0, 2.0, 0.0, 1.0],
                  [0.0, 9.0, 3.0, 0.0],
                  [2.0, 1.0, 0.0, 2.0],
                  [1.0, 0.0, 1.0, 3.0]])[None, None]
    gate = MaxPool2d(3, 1)
    gate.forward(x.copy())
    (d_x,) = _grads("MaxPool2d", 1, gate.backward(np.array([[1.0, 2.0], [3.0, 4.0]])[None, None]), "(d_x,)")
    expected = np.zeros((1, 1, 4, 4))
    expected[0, 0, 1, 1] = 10.0
    got = np.asarray(d_x, dtype=np.float64)
    hint = "the 9 is the maximum of all four windows, so it gets 1 + 2 + 3 + 4 = 10."
    if got.shape == expected.shape and np.isclose(got[0, 0, 1, 1], 4.0):
        hint = ("you kept only the last window's gradient: with overlapping windows use += to add them up "
                "(" + hint + ")")
    _compare("d_x", got, expected,
             "For overlapping 3x3 windows (stride 1) on a 4x4 input whose 9 lies in all four windows, "
             "d_out = [[1,2],[3,4]].", hint)

    rng = _rng(8)
    for k, s in ((2, 2), (3, 2)):
        _gradcheck(f"With kernel {k}, stride {s} on a random (2, 3, 6, 6) input", lambda t: MaxPool2d(k, s)(t),
                   _named(("x", rng.normal(size=(2, 3, 6, 6)))))


def _check_conv2d(Conv2d) -> None:
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    b = np.array([0.5])
    gate = Conv2d(stride=1, padding=0)
    gate.forward(x.copy(), w.copy(), b.copy())
    d_x, d_w, d_b = _grads("Conv2d", 3, gate.backward(np.ones((1, 1, 2, 2))), "(d_x, d_w, d_b)")
    context = ("For x = 0..8 as a 3x3 image, the 2x2 filter [[0, 1], [2, 3]], stride 1, no padding, "
               "and d_out = all ones (2x2).")
    _compare("d_b", d_b, [4.0], context, "d_b[f] is the sum of d_out over n, i, j for filter f.")
    _compare("d_w", d_w, np.array([[8.0, 12.0], [20.0, 24.0]]).reshape(1, 1, 2, 2), context,
             "d_w[f] += d_out[n, f, i, j] * (the window of x_pad under the filter at (i, j)).")
    _compare("d_x", d_x, np.array([[0.0, 1, 1], [2, 6, 4], [2, 5, 3]]).reshape(1, 1, 3, 3), context,
             "every window adds d_out[n, f, i, j] * w[f] onto the input positions it covers.")

    rng = _rng(9)
    for stride, padding in ((1, 0), (1, 1), (2, 1)):
        inputs = _named(("x", rng.normal(size=(2, 2, 5, 5))), ("w", rng.normal(size=(3, 2, 3, 3))),
                        ("b", rng.normal(size=3)))
        hint = ""
        if padding:
            hint += " Remember to cut the padding off: d_x = d_x_pad[:, :, P:P+H, P:P+W]."
        if stride > 1:
            hint += " With stride s, output (i, j) reads the window starting at (i*s, j*s)."
        try:
            _gradcheck(f"With stride {stride}, padding {padding}, x (2, 2, 5, 5), w (3, 2, 3, 3)",
                       lambda a, c, d: Conv2d(stride=stride, padding=padding)(a, c, d), inputs)
        except Fail as error:
            raise Fail(str(error) + (f"\n  Hint:{hint}" if hint else "")) from None


def _check_kaiming(kaiming_normal) -> None:
    for shape, fan_in, what in (((1000, 400), 1000, "a Linear weight (1000, 400)"),
                                ((64, 32, 3, 3), 288, "a Conv2d weight (64, 32, 3, 3), fan_in = 32*3*3")):
        w = np.asarray(kaiming_normal(shape, np.random.default_rng(0)), dtype=np.float64)
        context = f"For {what}."
        if w.shape != shape:
            raise Fail(f"{context} The weights have shape {w.shape}, they should have shape {shape}.")
        want, std = np.sqrt(2.0 / fan_in), float(w.std())
        if np.isclose(std, 2.0 / fan_in, rtol=0.05):
            raise Fail(f"{context} The std is {std:.4g} = 2/fan_in: that is the variance; "
                       "the std is its square root, sqrt(2/fan_in).")
        if np.isclose(std, np.sqrt(1.0 / fan_in), rtol=0.05):
            raise Fail(f"{context} The std is {std:.4g} = sqrt(1/fan_in) (Xavier): "
                       "Kaiming has the factor 2 for ReLU, sqrt(2/fan_in).")
        if len(shape) == 4 and np.isclose(std, np.sqrt(2.0 / shape[0]), rtol=0.05):
            raise Fail(f"{context} The std is {std:.4g} = sqrt(2/{shape[0]}): for a convolution "
                       "fan_in is C * kh * kw (the inputs of one output unit), not F.")
        if not np.isclose(std, want, rtol=0.05):
            raise Fail(f"{context} The std of the weights is {std:.4g}; Kaiming's is sqrt(2/{fan_in}) = {want:.4g}.")
        if abs(float(w.mean())) > 4 * want / np.sqrt(w.size):
            raise Fail(f"{context} The weights have mean {float(w.mean()):.4g}; they should be centred on 0.")
    a = np.asarray(kaiming_normal((50, 20), np.random.default_rng(1)))
    b = np.asarray(kaiming_normal((50, 20), np.random.default_rng(1)))
    c = np.asarray(kaiming_normal((50, 20), np.random.default_rng(2)))
    if not np.array_equal(a, b) or np.array_equal(a, c):
        raise Fail("Draw the numbers from the rng you are given (the same seed must give the same weights, "
                   "another seed other weights).")


def _has_loop(function) -> bool:
    import ast
    import inspect
    import textwrap

    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False
    return any(isinstance(node, (ast.For, ast.While, ast.comprehension)) for node in ast.walk(tree))


def _check_distances(squared_distances) -> None:
    A = np.array([[0.0, 0.0], [1.0, 2.0]])
    B = np.array([[3.0, 4.0], [1.0, 0.0], [1.0, 2.0]])
    expected = np.array([[25.0, 1.0, 5.0], [8.0, 4.0, 0.0]])
    got = np.asarray(squared_distances(A, B), dtype=np.float64)
    context = "For A = [[0, 0], [1, 2]] and B = [[3, 4], [1, 0], [1, 2]] (D[0, 0] = 3^2 + 4^2 = 25)."
    if got.shape == expected.shape and np.allclose(got, np.sqrt(expected)):
        raise Fail(f"{context} You returned the distances; the exercise asks for their squares (no sqrt).")
    if got.shape == expected.T.shape:
        raise Fail(f"{context} The result has shape {got.shape}; it should be (M, N) = {expected.shape}: "
                   "one row per row of A.")
    _compare("D", got, expected, context, "D = (A*A).sum(1)[:, None] + (B*B).sum(1)[None, :] - 2 A @ B.T")
    rng = _rng(10)
    A, B = rng.normal(size=(7, 5)), rng.normal(size=(9, 5))
    brute = ((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=2)
    _compare("D", squared_distances(A, B), brute, "For random A (7, 5) and B (9, 5).", atol=1e-9)
    if _has_loop(squared_distances):
        raise Fail("The distances are right, but the function has a loop (for, while or a comprehension): "
                   "write it with matrix operations and broadcasting only.")


def _check_im2col(im2col) -> None:
    x = np.arange(12.0).reshape(1, 3, 4)
    cols = np.asarray(im2col(x, 2), dtype=np.float64)
    windows = [[0, 1, 4, 5], [1, 2, 5, 6], [2, 3, 6, 7], [4, 5, 8, 9], [5, 6, 9, 10], [6, 7, 10, 11]]
    expected = np.array(windows, dtype=np.float64).T
    context = "For x = 0..11 as one 3x4 channel and k = 2 (six windows, the first [[0, 1], [4, 5]])."
    if cols.shape == expected.T.shape and np.allclose(cols, expected.T):
        raise Fail(f"{context} You returned one window per row: each window is a column, "
                   f"cols has shape (C*k*k, H_out*W_out) = {expected.shape}.")
    _compare("cols", cols, expected, context, "column i*W_out + j is x[:, i:i+k, j:j+k].reshape(-1).")

    rng = _rng(11)
    image, filters = rng.normal(size=(2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    for stride, padding in ((1, 0), (1, 1), (2, 1)):
        h_out = (5 + 2 * padding - 3) // stride + 1
        cols = np.asarray(im2col(image, 3, stride=stride, padding=padding), dtype=np.float64)
        context = f"For a (2, 5, 5) image, k = 3, stride {stride}, padding {padding}."
        if cols.shape != (18, h_out * h_out):
            raise Fail(f"{context} cols has shape {cols.shape}; it should be (C*k*k, H_out*W_out) = "
                       f"(18, {h_out * h_out}) with H_out = (5 + 2*{padding} - 3) // {stride} + 1 = {h_out}.")
        from .tensor import no_grad
        from .ops.conv import conv2d

        with no_grad():
            reference = conv2d(Tensor(image[None]), Tensor(filters), stride=stride, padding=padding).data[0]
        _compare("w_row @ cols", (filters.reshape(3, -1) @ cols).reshape(3, h_out, h_out), reference,
                 context + " The filters as rows times your columns should equal gg.conv2d.",
                 "pad first (np.pad with zeros), then window (i, j) starts at (i*stride, j*stride) of the padded image.")


EXERCISES = (
    (Exercise("1.1", "The multiply gate's backward", 1, "ex01_1_multiply.py", "Multiply.backward",
              "ops.Multiply"), _check_multiply),
    (Exercise("1.2", "The add gate's backward", 1, "ex01_2_add.py", "Add.backward", "ops.Add"), _check_add),
    (Exercise("2.1", "The max gate's backward", 2, "ex02_1_max.py", "Maximum.backward", "ops.Maximum"),
     _check_maximum),
    (Exercise("3.1", "The sigmoid gate's backward", 3, "ex03_1_sigmoid.py", "Sigmoid.backward", "ops.Sigmoid"),
     _check_sigmoid),
    (Exercise("6.1", "The SVM (hinge) loss backward", 6, "ex06_1_hinge.py", "MulticlassHinge.backward",
              "losses.MulticlassHinge"), _check_hinge),
    (Exercise("6.2", "Softmax cross-entropy backward", 6, "ex06_2_cross_entropy.py",
              "SoftmaxCrossEntropy.backward", "losses.CrossEntropy"), _check_cross_entropy),
    (Exercise("7.1", "One SGD step", 7, "ex07_1_sgd.py", "sgd_step"), _check_sgd),
    (Exercise("7.2", "SGD with momentum", 7, "ex07_2_momentum.py", "Momentum.step"), _check_momentum),
    (Exercise("10.1", "Max-pooling backward (loops)", 10, "ex10_1_max_pool.py", "MaxPool2d.backward",
              "ops.conv.MaxPool2d"), _check_max_pool),
    (Exercise("11.1", "Convolution backward (loops)", 11, "ex11_1_conv2d.py", "Conv2d.backward",
              "ops.conv.Conv2d"), _check_conv2d),
    (Exercise("16.1", "A Kaiming initializer", 16, "ex16_1_kaiming.py", "kaiming_normal"), _check_kaiming),
    (Exercise("17.1", "Pairwise distances without loops (kNN)", 17, "ex17_1_distances.py", "squared_distances"),
     _check_distances),
    (Exercise("17.2", "im2col: convolution as a matrix product", 17, "ex17_2_im2col.py", "im2col"), _check_im2col),
)
_CHECKS = {exercise.id: checker for exercise, checker in EXERCISES}


# -- the API -------------------------------------------------------------------------

def list_exercises() -> list[Exercise]:
    """Every exercise, in course order."""
    return [exercise for exercise, _ in EXERCISES]


def find_exercise(key) -> Exercise:
    """The exercise with id ``key`` ("1.1"); an Exercise is returned as it is."""
    if isinstance(key, Exercise):
        return key
    text = str(key).strip()
    for exercise in list_exercises():
        if exercise.id == text:
            return exercise
    valid = "\n".join(f"  {e.id:<5} {e.title}" for e in list_exercises())
    raise ExerciseNotFoundError(f"no exercise {key!r}. The exercises are:\n{valid}")


def _shown(path: Path) -> str:
    """A path as the student would type it: relative to the current folder when that is shorter."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return relative if not relative.startswith("..") else str(path)


def _load(path: Path):
    name = f"gradgraph_exercise_{path.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _where(error: BaseException, path: Path) -> str:
    """The line of the student's file where ``error`` happened, if it happened there."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).resolve() == path.resolve()]
    if not frames:
        return ""
    frame = frames[-1]
    return f" (in {_shown(path)}, line {frame.lineno}: {(frame.line or '').strip()})"


def check(key, solutions: bool = False) -> CheckResult:
    """Run the checks of one exercise on the student's file (or the reference solution)."""
    exercise = find_exercise(key)
    path = exercise.solution if solutions else exercise.stub
    label = f"Exercise {exercise.id}"
    todo = CheckResult(exercise.id, "todo", (
        f"{label} is not done yet: open {_shown(path)} and replace the "
        f"raise NotImplementedError in {exercise.target} with your code, then run "
        f"`gradgraph exercise {exercise.id}` again."))
    if not path.is_file():
        return CheckResult(exercise.id, "failed", f"{label}: the file {_shown(path)} is missing.")
    try:
        module = _load(path)
    except SyntaxError as error:
        return CheckResult(exercise.id, "failed",
                           f"{label}: {_shown(path)} has a syntax error on line {error.lineno}: {error.msg}")
    except NotImplementedError:
        return todo
    except Exception as error:  # noqa: BLE001 - anything the student's file raises is reported, not thrown
        return CheckResult(exercise.id, "failed",
                           f"{label}: importing {_shown(path)} raised {type(error).__name__}: {error}"
                           f"{_where(error, path)}")
    target = getattr(module, exercise.name, None)
    if target is None:
        return CheckResult(exercise.id, "failed",
                           f"{label}: {_shown(path)} no longer defines {exercise.name}; keep its name.")
    try:
        _CHECKS[exercise.id](target)
    except NotImplementedError:
        return todo
    except Fail as failure:
        return CheckResult(exercise.id, "failed", f"{label} is not right yet. {failure}")
    except Exception as error:  # noqa: BLE001
        return CheckResult(exercise.id, "failed",
                           f"{label}: your code raised {type(error).__name__}: {error}{_where(error, path)}")
    return CheckResult(exercise.id, "passed", f"{label} passed: {exercise.target} gives the right answers in every check.")


def status(key, solutions: bool = False) -> str:
    """"todo", "passed" or "failed"."""
    return check(key, solutions).status


# -- the student's gates in the lessons ------------------------------------------------

@dataclass
class MineReport:
    """What :func:`mine` did: whose gates the graph was built with, and why.

    ``checks``: exercise id -> the CheckResult of the student's gate in play (a
    failed check is used all the same: that is how a wrong backward shows up in
    a lesson). ``kept``: exercise id -> why the built-in gate is used instead
    (not done yet, the file does not load, a constructor argument the student's
    class does not take). ``built`` and ``fallbacks``: how many gates were built
    from the student's class, and how many built-in ones in its place.
    ``classes``: exercise id -> the student's class in play (see :meth:`exercise_of`).
    """

    checks: dict = field(default_factory=dict)
    kept: dict = field(default_factory=dict)
    built: dict = field(default_factory=dict)
    fallbacks: dict = field(default_factory=dict)
    classes: dict = field(default_factory=dict)

    def exercise_of(self, gate):
        """The :class:`Exercise` whose student class ``gate`` is an instance of (the gate is
        the student's own), or None for a built-in gate."""
        for id_, cls in self.classes.items():
            if isinstance(gate, cls):
                return find_exercise(id_)
        return None

    def lines(self) -> list:
        """One line per exercise whose gate the graph built, as the student's or as the built-in."""
        out = []
        for id_, count in self.built.items():
            state = {"passed": "passes its check", "failed": "FAILS its check"}[self.checks[id_].status]
            out.append(f"your {find_exercise(id_).name} (exercise {id_}, {state}) is used: {count} gate(s)")
        for id_, count in self.fallbacks.items():
            out.append(f"the built-in {find_exercise(id_).name} is used ({count} gate(s)): {self.kept[id_]}")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines()) or "this graph uses no gate that has an exercise"


def _builtin_gate(exercise: Exercise):
    """The built-in gate class an exercise stands in for (``"ops.Multiply"`` -> ops.Multiply)."""
    module, _, name = f"gradgraph.{exercise.replaces}".rpartition(".")
    return getattr(importlib.import_module(module), name)


def _factory(exercise: Exercise, student, builtin, report: MineReport):
    """Build the student's gate from the arguments the built-in gate got (defaults left out,
    so ``Conv2d(1, 0, 1)`` becomes ``Conv2d(stride=1, padding=0)``); None keeps the built-in."""
    defaults = {name: p.default for name, p in inspect.signature(builtin).parameters.items()}

    def fall_back(reason):
        report.kept.setdefault(exercise.id, reason)
        report.fallbacks[exercise.id] = report.fallbacks.get(exercise.id, 0) + 1

    def build(*args, **kwargs):
        if student is None:
            return fall_back(report.kept[exercise.id])
        given = inspect.signature(builtin).bind(*args, **kwargs).arguments
        given = {k: _plain(v) for k, v in given.items()
                 if not _is_default(_plain(v), defaults.get(k, inspect.Parameter.empty))}
        taken = inspect.signature(student).parameters
        missing = sorted(k for k in given if k not in taken)
        if missing:
            return fall_back(f"your {exercise.name} takes no argument {', '.join(missing)}, which the lesson passes")
        report.built[exercise.id] = report.built.get(exercise.id, 0) + 1
        return student(**given)

    return build


def _is_default(value, default) -> bool:
    if value is default:
        return True
    simple = (int, float, str, type(None))
    return isinstance(value, simple) and isinstance(default, simple) and value == default


def _plain(value):
    """A pair of equal numbers as one number (the built-in gates store ``stride=1`` as ``(1, 1)``)."""
    if isinstance(value, tuple) and len(value) == 2 and value[0] == value[1]:
        return value[0]
    return value


def _broadcasting(student):
    """The student's two-input elementwise gate, also where a lesson broadcasts (``x @ W + b``).

    The exercises give the gate inputs of one shape. Where a lesson's inputs
    differ in shape, this adapter hands the student's code the broadcast
    inputs and sums each gradient back to its input's shape, as the built-in
    gates do with :func:`gradgraph.unbroadcast`.
    """
    class Broadcasting(student):
        def forward(self, x, y):
            self.shapes = (np.shape(x), np.shape(y))
            return super().forward(*np.broadcast_arrays(x, y))

        def backward(self, d_out):
            grads = super().backward(d_out)
            if not isinstance(grads, (tuple, list)) or len(grads) != 2:
                return grads  # the engine names what is wrong with it
            return tuple(g if g is None else unbroadcast(g, shape, student.__name__)
                         for g, shape in zip(grads, self.shapes))

    return _named_like(Broadcasting, student)


def _optional_bias(student):
    """The student's Conv2d, also where a lesson convolves without a bias (``gg.conv2d(x, w)``):
    it gets a zero bias, and the d_b it returns is left out."""
    class OptionalBias(student):
        def forward(self, x, w, b=None):
            self.without_bias = b is None
            return super().forward(x, w, np.zeros(w.shape[0], dtype=w.dtype) if b is None else b)

        def backward(self, d_out):
            grads = super().backward(d_out)
            if self.without_bias and isinstance(grads, (tuple, list)) and len(grads) == 3:
                return tuple(grads[:2])
            return grads

    return _named_like(OptionalBias, student)


def _named_like(adapter, student):
    """The adapter shows up in graphs and tracebacks under the student's class name."""
    adapter.__name__ = adapter.__qualname__ = student.__name__
    adapter.__module__, adapter.__doc__ = student.__module__, student.__doc__
    return adapter


#: What the lessons ask of a built-in gate beyond its exercise, by the gate it stands in for.
_ADAPTERS = {"ops.Add": _broadcasting, "ops.Multiply": _broadcasting, "ops.Maximum": _broadcasting,
             "ops.conv.Conv2d": _optional_bias}


def _student_gate(exercise: Exercise, solutions: bool, report: MineReport):
    """The student's class for ``exercise``, or None with the reason in ``report.kept``."""
    result = check(exercise, solutions)
    if result.status == "todo":
        report.kept[exercise.id] = f"exercise {exercise.id} is not done yet"
        return None
    path = exercise.solution if solutions else exercise.stub
    try:
        student = getattr(_load(path), exercise.name)
    except Exception as error:  # noqa: BLE001 - the student's file: reported, not thrown
        report.kept[exercise.id] = f"{_shown(path)} does not load ({type(error).__name__}: {error})"
        return None
    report.checks[exercise.id] = result
    adapt = _ADAPTERS.get(exercise.replaces)
    student = adapt(student) if adapt else student
    report.classes[exercise.id] = student
    return student


@contextlib.contextmanager
def mine(solutions: bool = False):
    """Inside the block, graphs are built with the student's exercise gates.

        with exercises.mine() as report:
            f = lesson.build()          # x * y builds the student's Multiply
        print(report)                    # whose gates were used, and why not

    Every exercise that stands in for a built-in gate (``replaces``) is loaded
    from the student's file; one that is not done yet (its backward still
    raises NotImplementedError) or does not load keeps the built-in gate, and
    the report says so. ``solutions``: use the reference solutions instead.
    """
    report = MineReport()
    factories = {}
    for exercise in list_exercises():
        if exercise.replaces:
            student = _student_gate(exercise, solutions, report)
            factories[_builtin_gate(exercise)] = _factory(exercise, student, _builtin_gate(exercise), report)
    with substitute_gates(factories):
        yield report


# -- the command line ------------------------------------------------------------------

def cli_list(args=None) -> int:
    """``gradgraph exercises``: a table of the exercises with their status."""
    solutions = bool(getattr(args, "solutions", False))
    rows = []
    for exercise in list_exercises():
        rows.append((exercise.id, check(exercise, solutions).status, exercise.title,
                     _shown(exercise.solution if solutions else exercise.stub)))
    width = max(len(r[2]) for r in rows)
    print(f"{'id':<5} {'status':<7} {'exercise':<{width}}  file")
    for id_, state, title, path in rows:
        print(f"{id_:<5} {state:<7} {title:<{width}}  {path}")
    done = sum(r[1] == "passed" for r in rows)
    print(f"\n{done} of {len(rows)} passed. Check one with `gradgraph exercise ID`, e.g. `gradgraph exercise 1.1`.")
    return 0


def cli_check(args) -> int:
    """``gradgraph exercise ID [--solutions]``: 0 when it passes, 1 otherwise (2 for an unknown id)."""
    try:
        result = check(args.id, solutions=bool(getattr(args, "solutions", False)))
    except ExerciseNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    print(result.message)
    return 0 if result.passed else 1
