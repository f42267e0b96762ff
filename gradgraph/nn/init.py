"""Weight initialisation and the seed that makes it repeatable.

A layer's weights start random so that its units differ from each other; the
scale matters: too small and the signal (and the gradient) fades layer after
layer, too large and it explodes. Both schemes below keep the variance of the
activations roughly constant through the layers.

``kaiming_uniform``  (He et al. 2015), for ReLU:      U(-b, b), b = sqrt(6 / fan_in)
``xavier_uniform``   (Glorot & Bengio 2010), tanh/σ: U(-b, b), b = sqrt(6 / (fan_in + fan_out))

``fan_in`` is the number of inputs feeding one output unit (in_features, or
in_channels·kh·kw for a convolution), ``fan_out`` the number of outputs one
input feeds.

Every layer takes ``rng=`` (a seed or a ``np.random.Generator``); without it
the module-wide generator is used, which :func:`manual_seed` resets::

    gg.nn.manual_seed(0)
    model = gg.nn.LeNet5()      # the same weights every run
"""
from __future__ import annotations

import math

import numpy as np

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the generator used by layers created without ``rng=``; returns it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def get_rng(rng=None) -> np.random.Generator:
    """``rng`` as a Generator: a Generator as is, an int as a seed, None the shared one."""
    if rng is None:
        return _generator
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (in, out) for Linear's (in, out) matrix,
    (C·kh·kw, F·kh·kw) for a convolution's (F, C, kh, kw) filters."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"fans: expected a 2-d or 4-d weight shape, got {shape}")


def kaiming_uniform(shape, rng=None, dtype=np.float32, gain: float = math.sqrt(2.0)) -> np.ndarray:
    """U(-b, b) with b = gain·sqrt(3 / fan_in); gain √2 (ReLU) gives b = sqrt(6 / fan_in)."""
    fan_in, _ = fans(shape)
    bound = gain * math.sqrt(3.0 / fan_in)
    return get_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def xavier_uniform(shape, rng=None, dtype=np.float32, gain: float = 1.0) -> np.ndarray:
    """U(-b, b) with b = gain·sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return get_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape, std: float = 0.01, rng=None, dtype=np.float32) -> np.ndarray:
    """N(0, std²): the small-random-numbers init of the early lectures."""
    return (get_rng(rng).standard_normal(size=shape) * std).astype(dtype)


#: Name -> initialiser, for the layers' ``init=`` argument.
INITIALIZERS = {
    "kaiming": kaiming_uniform,
    "he": kaiming_uniform,
    "xavier": xavier_uniform,
    "glorot": xavier_uniform,
    "normal": normal,
}


def initializer(name: str):
    """The initialiser called ``name`` (kaiming/he, xavier/glorot, normal)."""
    try:
        return INITIALIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown init {name!r}; choose one of {', '.join(sorted(INITIALIZERS))}") from None
