"""Formatting numbers and arrays for people: the ledger, DOT labels, the terminal.

A scalar is shown as a short number (``-4``, ``3``, ``0.7311``); a tensor as
its shape and three statistics, because a 64 x 120 gradient printed in full
tells a student nothing::

    >>> fmt_number(-4.0), fmt_number(0.7310585786)
    ('-4', '0.7311')
    >>> fmt_value(np.ones((2, 3)))
    '(2, 3) mean 1, |max| 1, norm 2.449'
"""
from __future__ import annotations

import math

import numpy as np

#: Significant digits of every number shown by the graph views.
DIGITS = 4


def fmt_number(value, digits: int = DIGITS) -> str:
    """A compact decimal: ``-4``, ``3``, ``0.7311``, ``1.5e-07``; ``-0`` prints as ``0``."""
    if value is None:
        return "?"
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    return format(v, f".{digits}g")


def is_scalar(value) -> bool:
    """True for Python numbers and for arrays holding exactly one element."""
    return value is not None and np.size(value) == 1


def as_float(value) -> float:
    """The single element of a one-element array as a Python float."""
    return float(np.asarray(value).reshape(-1)[0])


def stats(array) -> dict:
    """``mean``, ``absmax`` and ``norm`` (L2) of an array, computed in float64."""
    a = np.asarray(array, dtype=np.float64)
    if a.size == 0:
        return {"mean": 0.0, "absmax": 0.0, "norm": 0.0}
    with np.errstate(all="ignore"):
        mean, absmax = float(a.mean()), float(np.abs(a).max())
        if abs(mean) <= 1e-12 * absmax:
            mean = 0.0  # rounding noise of a mean that is zero (e.g. softmax gradients)
        return {"mean": mean, "absmax": absmax, "norm": float(np.sqrt(np.sum(a * a)))}


def fmt_shape(shape) -> str:
    """``(64, 120)``; a 1-d shape prints as ``(3,)`` like numpy."""
    return str(tuple(int(s) for s in shape))


def fmt_value(value, digits: int = DIGITS) -> str:
    """A number for a one-element value, else ``shape mean m, |max| a, norm n``."""
    if value is None:
        return "?"
    if is_scalar(value):
        return fmt_number(as_float(value), digits)
    s = stats(value)
    return (f"{fmt_shape(np.shape(value))} mean {fmt_number(s['mean'], digits)}, "
            f"|max| {fmt_number(s['absmax'], digits)}, norm {fmt_number(s['norm'], digits)}")


def fmt_short(value, digits: int = 3) -> str:
    """An even shorter label for drawings: the number, or ``(64, 120) |0.031|`` (the RMS)."""
    if value is None:
        return "?"
    if is_scalar(value):
        return fmt_number(as_float(value), digits)
    return f"{fmt_shape(np.shape(value))} rms {fmt_number(rms(value), digits)}"


def rms(array) -> float:
    """Root mean square, sqrt(mean(a²)) = ‖a‖ / sqrt(size): a size-independent magnitude."""
    a = np.asarray(array, dtype=np.float64)
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.sqrt(np.mean(a * a)))
