"""Numerical gradient checking with centred differences.

    df/dx ≈ (f(x + h) - f(x - h)) / 2h

Slow and approximate, but easy to get right: the way to test an analytic
backward. Use float64 and h around 1e-6; near a kink (ReLU at 0, max with a
tie) the two can disagree without a bug.
"""
from __future__ import annotations

import warnings

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """The analytic gradient disagrees with the numerical one."""


def relative_error(analytic, numerical) -> np.ndarray:
    """|a - n| / max(|a|, |n|), and 0 where both are 0."""
    a, n = np.asarray(analytic, dtype=np.float64), np.asarray(numerical, dtype=np.float64)
    scale = np.maximum(np.abs(a), np.abs(n))
    return np.divide(np.abs(a - n), scale, out=np.zeros_like(scale), where=scale > 0)


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Centred-difference gradient of the scalar function ``f`` at array ``x`` (changed in place, restored)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = f()
        flat[i] = old - eps
        f_minus = f()
        flat[i] = old
        flat_grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def _describe(t: Tensor, i: int) -> str:
    return f"input {i}" + (f" ({t.name!r})" if t.name else "")


def compare_gradients(fn, inputs, eps: float = 1e-6, seed: int = 0) -> list:
    """Analytic and numerical gradients of ``fn`` for every input.

    Returns one ``(analytic, numerical)`` pair of float64 arrays per input
    (``None`` for inputs that need no gradient). A non-scalar output is
    reduced to ``sum(r * out)`` with fixed random weights ``r`` in [0.5, 1.5],
    so every output element takes part.
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, size=out.shape)

    saved = [x.grad for x in inputs]
    for x in inputs:
        x.grad = None
    try:
        (out * weights).sum().backward()
        analytic = [None if x.grad is None else x.grad.astype(np.float64) for x in inputs]
    finally:
        for x, g in zip(inputs, saved):
            x.grad = g

    def scalar() -> float:
        with no_grad():
            return float(np.sum(fn(*inputs).data * weights))

    pairs = []
    for x, a in zip(inputs, analytic):
        if not x.requires_grad:
            pairs.append(None)
            continue
        numerical = numerical_gradient(scalar, x.data, eps)
        pairs.append((a if a is not None else np.zeros_like(numerical), numerical))
    return pairs


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check ``fn``'s analytic gradients against centred differences.

    ``fn`` maps the Tensors in ``inputs`` to a Tensor. A non-scalar output is
    reduced to the scalar ``sum(r * out)`` with fixed random weights ``r``, so
    every output element takes part. An element passes when
    ``|analytic - numerical| <= atol + rtol * |numerical|``.

    Returns True, or raises :class:`GradcheckError` naming the input, the worst
    element, both values and their relative error.
    """
    inputs = [x if isinstance(x, Tensor) else Tensor(x) for x in inputs]
    if any(x.dtype != np.float64 for x in inputs if x.requires_grad):
        warnings.warn("gradcheck: inputs are not float64; centred differences need double precision", stacklevel=2)
    for i, (x, pair) in enumerate(zip(inputs, compare_gradients(fn, inputs, eps, seed))):
        if pair is not None:
            _check_input(x, i, *pair, atol=atol, rtol=rtol)
    return True


def _check_input(x: Tensor, i: int, analytic, numerical, atol: float, rtol: float) -> None:
    """Raise GradcheckError for the first non-finite element, else for the worst one out of tolerance.

    A NaN or an infinity on either side is never a pass: a comparison with
    NaN is False, so without this check it would slip through as "close".
    """
    def where(index) -> str:
        return f"element {tuple(int(k) for k in index)}" if x.ndim else "the value"

    head = f"gradcheck failed for {_describe(x, i)} of shape {x.shape}"
    for values, side, advice in (
        (numerical, "numerical", "the input is within eps of an edge of the function's domain or a "
                                 "singularity: move the input away from the edge or lower eps"),
        (analytic, "analytic", "the backward returned NaN or an infinity"),
    ):
        bad = ~np.isfinite(values)
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad.reshape(-1))), x.shape)
            raise GradcheckError(
                f"{head}: non-finite {side} gradient at {where(first)}: analytic {analytic[first]:.8g}, "
                f"numerical {numerical[first]:.8g} ({advice})"
            )
    excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
    if np.any(excess > 0):
        worst = np.unravel_index(int(np.argmax(excess)), x.shape)
        rel = relative_error(analytic[worst], numerical[worst])
        raise GradcheckError(
            f"{head}: worst at {where(worst)}: analytic {analytic[worst]:.8g}, "
            f"numerical {numerical[worst]:.8g}, relative error {rel:.3g}"
        )
