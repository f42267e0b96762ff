"""The built-in gates."""
from .elementwise import (Abs, Add, Clamp, Divide, Exp, LeakyReLU, Log, Maximum, Multiply, Negate, Pow, Power,
                          ReLU, Sigmoid, Sqrt, Subtract, Tanh)
from .reduce import LogSoftmax, LogSumExp, Max, Mean, Min, Softmax, Sum, normalize_axes
from .shape import Concatenate, Index, MatMul, Reshape, Transpose

__all__ = [
    "Abs", "Add", "Clamp", "Concatenate", "Divide", "Exp", "Index", "LeakyReLU", "Log", "LogSoftmax", "LogSumExp",
    "MatMul", "Max", "Maximum", "Mean", "Min", "Multiply", "Negate", "Pow", "Power", "ReLU", "Reshape", "Sigmoid",
    "Softmax", "Sqrt", "Subtract", "Sum", "Tanh", "Transpose", "normalize_axes",
]
