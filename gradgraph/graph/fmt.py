"""Formatting numbers and arrays for people: the ledger, DOT labels, the terminal.

A scalar is shown as a short number (``-4``, ``3``, ``0.7311``); a tensor as
its shape and three statistics, because a 64 x 120 gradient printed in full
tells a student nothing::

    >>> fmt_number(-4.0), fmt_number(0.7310585786)
    ('-4', '0.7311')
    >>> fmt_value(np.ones((2, 3)))
    '(2, 3) mean 1, |max| 1, norm 2.449'

A *small* tensor (at most ``SMALL`` rows and columns, leading axes of size 1
dropped) can be checked by hand, so it is also printed in full, its columns
aligned; :func:`side_by_side` writes a formula with its operands::

    >>> for row in side_by_side([("A", np.eye(2)), "·", ("x", [[2.0], [-1.0]])]):
    ...     print(row)
      A       x
    [1  0] · [ 2]
    [0  1]   [-1]
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


#: A tensor with at most this many rows and columns (per shown slice) is printed in full.
SMALL = 8


def squeezed(value) -> np.ndarray:
    """The array without its leading axes of size 1 (a batch of one, a single channel)."""
    a = np.asarray(value)
    while a.ndim > 2 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2 and a.shape[0] == 1 and np.ndim(value) > 2:
        a = a[0]
    return a


def is_small(value, limit: int = SMALL) -> bool:
    """True for a tensor of more than one element that fits a ``limit`` x ``limit`` matrix."""
    if value is None or np.size(value) <= 1:
        return False
    a = squeezed(value)
    return a.ndim <= 2 and all(side <= limit for side in a.shape)


def matrix_lines(value, digits: int = DIGITS) -> list:
    """A vector or matrix as text rows, ``[ 1  -2.5]``, each column right-aligned."""
    a = squeezed(value)
    rows = np.atleast_2d(a) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    cells = [[fmt_number(v, digits) for v in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))] if cells and cells[0] else []
    return ["[" + "  ".join(cell.rjust(w) for cell, w in zip(row, widths)) + "]" for row in cells]


def matrix_cell_at(value, line: int, char: int, digits: int = DIGITS):
    """Which entry ``(row, column)`` of :func:`matrix_lines` is printed at text line ``line``,
    character ``char`` (for a view that lets one click an entry; the gap before an entry
    counts as the entry); None outside the brackets."""
    a = squeezed(value)
    lines = matrix_lines(a, digits)
    if not 0 <= line < len(lines):
        return None
    rows = np.atleast_2d(a) if a.ndim < 2 else a.reshape(-1, a.shape[-1])
    widths = [max(len(fmt_number(v, digits)) for v in rows[:, k]) for k in range(rows.shape[1])]
    if char < 0:
        return None
    end = 1
    for column, width in enumerate(widths):
        end += width
        if char < end:
            return (column,) if a.ndim < 2 else (line, column)
        end += 2
    return None


def fmt_matrix(value, digits: int = DIGITS) -> str:
    """:func:`matrix_lines` joined into one string, one row per line."""
    return "\n".join(matrix_lines(value, digits))


def side_by_side(terms, digits: int = DIGITS) -> list:
    """A formula written with its operands: ``terms`` alternates ``(label, value)`` blocks
    and operator strings (``"·"``, ``"⊙"``, ``"="``). Each block is a number or a matrix
    with its label above it; blocks are centred vertically, operators sit on the middle
    row. Returns the text rows."""
    blocks = []
    for term in terms:
        if isinstance(term, str):
            blocks.append((None, [term]))
        else:
            label, value = term
            body = [fmt_number(as_float(value), digits)] if is_scalar(value) else matrix_lines(value, digits)
            blocks.append((label, body))
    height = max(len(body) for _, body in blocks)
    middle = (height - 1) // 2
    columns = []
    for label, body in blocks:
        if label is None:  # an operator
            column = [""] * height
            column[middle] = f" {body[0]} "
            columns.append(("", column))
            continue
        top = middle - (len(body) - 1) // 2
        column = [""] * top + body + [""] * (height - top - len(body))
        columns.append((label, column))
    widths = [max([len(label)] + [len(row) for row in column]) for label, column in columns]
    lines = ["".join(label.center(w) for (label, _), w in zip(columns, widths)).rstrip()]
    for r in range(height):
        lines.append("".join(column[r].center(w) if label == "" else column[r].ljust(w)
                             for (label, column), w in zip(columns, widths)).rstrip())
    return lines
