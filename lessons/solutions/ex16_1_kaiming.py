"""Exercise 16.1: a Kaiming (He) initializer.

A ReLU layer with ``fan_in`` inputs per unit keeps the variance of its signal
when its weights have

    Var(w) = 2 / fan_in          (std = sqrt(2 / fan_in))

(the 2 makes up for the half of the inputs that ReLU sets to 0; lesson 16).
Return an array of ``shape`` drawn from N(0, 2 / fan_in) with the Generator
``rng`` (``rng.standard_normal(shape)`` or ``rng.normal(0, std, shape)``).

``fan_in`` is the number of inputs feeding one output unit:

- a Linear weight of shape (in_features, out_features): ``in_features``;
- a Conv2d weight of shape (F, C, kh, kw): ``C * kh * kw``.

Check it with ``gradgraph exercise 16.1``.
"""
import numpy as np


def kaiming_normal(shape, rng):
    """Weights of ``shape`` drawn from N(0, 2 / fan_in)."""
    fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
