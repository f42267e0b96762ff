"""Hypothesis strategies shared by the tests (one place, as in minitorch)."""
import numpy as np
from hypothesis import strategies as st

#: Small array shapes: 1 to 3 dimensions of 1 to 4 elements.
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)

#: Seeds for numpy generators: hypothesis picks the values through them.
seeds = st.integers(0, 2**32 - 1)


# -- convolution and pooling: gates (test_conv_gates) and kernels (test_kernels) ----------

@st.composite
def conv_configs(draw):
    """A small convolution whose output has at least one pixel."""
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    sizes = []
    for k, p, d in ((kh, padding[0], dilation[0]), (kw, padding[1], dilation[1])):
        reach = d * (k - 1) + 1
        sizes.append(max(reach - 2 * p, 1) + draw(st.integers(0, 4)))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    return dict(x=(n, c, *sizes), w=(f, c, kh, kw), stride=stride, padding=padding, dilation=dilation,
                bias=bias, seed=seed)


@st.composite
def pool_configs(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    h = max(kh - 2 * padding[0], 1) + draw(st.integers(0, 4))
    w = max(kw - 2 * padding[1], 1) + draw(st.integers(0, 4))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    return dict(shape=shape, kernel=(kh, kw), stride=stride, padding=padding, seed=draw(st.integers(0, 2**32 - 1)))


@st.composite
def conv_cases(draw):
    """A small valid conv: shapes, stride, padding, dilation, dtype, data seed."""
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    # smallest input the dilated kernel fits in, plus a little
    H = max(1, dilation[0] * (KH - 1) + 1 - 2 * padding[0]) + draw(st.integers(0, 5))
    W = max(1, dilation[1] * (KW - 1) + 1 - 2 * padding[1]) + draw(st.integers(0, 5))
    return dict(x_shape=(N, C, H, W), w_shape=(F, C, KH, KW), stride=stride,
                padding=padding, dilation=dilation,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@st.composite
def pool_cases(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.sampled_from([1, 2, 2, 3])))
    if draw(st.booleans()):
        kernel = (2, 2)  # the specialised fast kernel
    stride = draw(st.sampled_from([None, (1, 1), (2, 2), (1, 2), (3, 2)]))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    H = max(1, kernel[0] - 2 * padding[0]) + draw(st.integers(0, 6))
    W = max(1, kernel[1] - 2 * padding[1]) + draw(st.integers(0, 6))
    return dict(x_shape=(N, C, H, W), kernel=kernel, stride=stride, padding=padding,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))

#: Which gradients a convolution's backward is asked for: (dx, dw).
conv_needs = st.sampled_from([(True, True), (True, False), (False, True)])

#: The two pooling gates.
pool_kinds = st.sampled_from(["max", "avg"])
