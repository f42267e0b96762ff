"""The built-in gates."""
from .elementwise import (Abs, Add, Divide, Exp, LeakyReLU, Log, Maximum, Multiply, Negate, Power,
                          ReLU, Sigmoid, Subtract, Tanh)
from .reduce import LogSoftmax, Max, Mean, Softmax, Sum
from .shape import Index, MatMul, Reshape, Transpose

__all__ = [
    "Abs", "Add", "Divide", "Exp", "Index", "LeakyReLU", "Log", "LogSoftmax", "MatMul", "Max",
    "Maximum", "Mean", "Multiply", "Negate", "Power", "ReLU", "Reshape", "Sigmoid", "Softmax",
    "Subtract", "Sum", "Tanh", "Transpose",
]
