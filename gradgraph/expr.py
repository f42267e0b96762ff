"""Typed expressions as graphs: ``(x + y) * z`` with ``x=-2, y=5, z=-4``.

    from gradgraph import expr
    f = expr.build("(x + y) * z", "x=-2, y=5, z=-4")   # the output Tensor, named f
    f.backward()                                        # x.grad == -4

This is what ``gradgraph walk --expr`` and the app's expression box use. The
text is parsed with :mod:`ast` and every allowed node is turned into an engine
call (``x + y`` into ``Add``, ``sigmoid(x)`` into ``Sigmoid``); nothing is
ever ``eval``-ed, so a typed ``__import__('os')`` is refused, never run.

Allowed: numbers; names given a value; ``+ - * / **`` and unary ``-``/``+``;
calls of the engine's functions :data:`FUNCTIONS` (``max`` takes two or more
arguments). ``**`` needs a constant exponent of size at most
:data:`MAX_EXPONENT` (the power gate ``x^p`` has a fixed ``p``). Anything
else raises :class:`ExpressionError` with one line saying what is allowed.
"""
from __future__ import annotations

import ast
import math
import re

from .tensor import Tensor, maximum

__all__ = ["ExpressionError", "FUNCTIONS", "MAX_EXPONENT", "MAX_LENGTH", "build", "parse_values"]

#: Functions a typed expression may call, by name: each builds one gate (``max(a, b, c)``
#: builds two: max(max(a, b), c)).
FUNCTIONS = {"exp": Tensor.exp, "log": Tensor.log, "sigmoid": Tensor.sigmoid, "tanh": Tensor.tanh,
             "relu": Tensor.relu, "max": maximum}
MAX_EXPONENT = 16
MAX_LENGTH = 500  # characters of an expression: a graph to step through by hand stays small

_OPERATORS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__", ast.Div: "__truediv__"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALLOWED = "numbers, variables, + - * / **, and the functions " + ", ".join(FUNCTIONS)


class ExpressionError(ValueError):
    """The expression or its values cannot be used; the message says why in one line."""


def build(expression: str, values, name: str = "f") -> Tensor:
    """The output Tensor of ``expression`` with ``values`` (a dict or ``"x=-2, y=5"``).

    Each variable becomes one named leaf Tensor (used twice, it is the same
    node); the output is named ``name`` unless a variable already has that name.
    """
    values = parse_values(values) if isinstance(values, str) else dict(values)
    tree = _parse(expression)
    leaves = {}
    for variable in _variables(tree):
        if variable not in values:
            given = ", ".join(sorted(values)) or "none"
            raise ExpressionError(f"no value for {variable}: add {variable}=NUMBER to the values (given: {given})")
        leaves[variable] = Tensor(float(values[variable]), name=variable)
    out = _Builder(leaves).visit(tree.body)
    if not isinstance(out, Tensor) or out.is_leaf:
        raise ExpressionError(f"{expression.strip()!r} computes nothing: use at least one operator or function")
    if name not in leaves:
        out.name = name
    return out


def parse_values(text: str) -> dict:
    """``"x=-2, y=5, z=-4"`` (commas, semicolons or spaces between) as ``{"x": -2.0, ...}``."""
    values = {}
    for item in re.split(r"[,;\s]+(?=[A-Za-z_])", text.strip()):
        item = item.strip().rstrip(",;").strip()
        if not item:
            continue
        variable, sep, number = item.partition("=")
        variable = variable.strip()
        if not sep or not _NAME.match(variable):
            raise ExpressionError(f"cannot read {item!r} as a value: write NAME=NUMBER, e.g. x=-2, y=5")
        values[variable] = _number(number.strip(), variable)
    return values


def _number(text: str, variable: str) -> float:
    """A plain (signed) number; anything else is refused without being run."""
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError):
        node = None
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if not (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
        raise ExpressionError(f"the value of {variable} must be a number, e.g. {variable}=-2.5 (got {text!r})")
    try:
        value = sign * float(node.value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ExpressionError(f"the value of {variable} is too large: use a finite number (got {text!r})")
    return value


def _parse(expression: str) -> ast.Expression:
    text = expression.strip()
    if not text:
        raise ExpressionError("the expression is empty: type one, e.g. (x + y) * z")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression has {len(text)} characters: at most {MAX_LENGTH} are allowed")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise ExpressionError(f"cannot read {text!r}: {error.msg} at column {error.offset or 0}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"cannot read {text[:40]!r}…: too deeply nested") from None


def _variables(tree: ast.Expression) -> list:
    """The variable names in order of first use (function names excluded)."""
    calls = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    seen = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in calls and node.id not in seen:
            if node.id in FUNCTIONS:
                raise ExpressionError(f"{node.id} is a function: call it, e.g. {node.id}(x)")
            seen.append(node.id)
    return seen


class _Builder(ast.NodeVisitor):
    """Turn the allowed nodes into engine calls; refuse every other kind of node."""

    def __init__(self, leaves: dict):
        self.leaves = leaves

    def generic_visit(self, node):
        kind = {ast.Attribute: "attribute access (a.b)", ast.Lambda: "lambda", ast.Subscript: "indexing (a[i])",
                ast.Compare: "comparisons", ast.BoolOp: "and/or", ast.IfExp: "if/else",
                ast.NamedExpr: ":=", ast.Starred: "*args"}.get(type(node), type(node).__name__)
        raise ExpressionError(f"{kind} is not allowed in an expression: use {_ALLOWED}")

    def visit_Constant(self, node):
        if type(node.value) not in (int, float):
            raise ExpressionError(f"{node.value!r} is not a number: use {_ALLOWED}")
        try:
            value = float(node.value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise ExpressionError(f"the number {str(node.value)[:20]}… is too large: use a finite number")
        return value

    def visit_Name(self, node):
        return self.leaves[node.id]

    def visit_UnaryOp(self, node):
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        return self.generic_visit(node)

    def visit_BinOp(self, node):
        if isinstance(node.op, ast.Pow):
            return self._power(node)
        method = _OPERATORS.get(type(node.op))
        if method is None:
            raise ExpressionError(f"the operator {type(node.op).__name__} is not allowed: use + - * / **")
        left, right = self.visit(node.left), self.visit(node.right)
        if not isinstance(left, Tensor) and not isinstance(right, Tensor):
            return _number_op(method, left, right)
        if not isinstance(left, Tensor):  # 2 * x: the tensor's reflected operator
            return getattr(right, method.replace("__", "__r", 1))(left)
        return getattr(left, method)(right)

    def _power(self, node):
        exponent = self.visit(node.right)
        if isinstance(exponent, Tensor):
            raise ExpressionError("the exponent must be a number, e.g. x ** 2 (the power gate x^p has a fixed p)")
        if abs(exponent) > MAX_EXPONENT:
            raise ExpressionError(f"the exponent {exponent:g} is too large: use one between "
                                  f"-{MAX_EXPONENT} and {MAX_EXPONENT}")
        base = self.visit(node.left)
        if not isinstance(base, Tensor):
            return _number_op("__pow__", base, exponent)
        return base ** exponent

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            return self.generic_visit(node.func)  # (lambda: ...)(), x.exp(): refused by kind
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function {name}: the allowed functions are {', '.join(FUNCTIONS)}")
        if node.keywords:
            raise ExpressionError(f"{name}() takes no keyword arguments")
        args = [self._tensor(self.visit(arg)) for arg in node.args]
        if name == "max":
            if len(args) < 2:
                raise ExpressionError("max takes two or more arguments, e.g. max(x, y)")
            out = args[0]
            for arg in args[1:]:
                out = FUNCTIONS["max"](out, arg)
            return out
        if len(args) != 1:
            raise ExpressionError(f"{name} takes one argument, e.g. {name}(x)")
        return FUNCTIONS[name](args[0])

    def visit_Expression(self, node):
        return self.visit(node.body)

    @staticmethod
    def _tensor(value):
        return value if isinstance(value, Tensor) else Tensor(value, requires_grad=False)


def _number_op(method: str, left: float, right: float) -> float:
    """Arithmetic on two constants (``2 * 3`` in ``2 * 3 * x``), refusing non-finite results."""
    try:
        value = float(getattr(left, method)(right))
    except (ZeroDivisionError, OverflowError) as error:
        raise ExpressionError(f"the constants in the expression give {error}") from None
    except TypeError:  # float() of a complex number: (-8) ** 0.5
        raise ExpressionError("the constants in the expression give a complex number") from None
    if not math.isfinite(value):
        raise ExpressionError("the constants in the expression give a number too large to use")
    return value
