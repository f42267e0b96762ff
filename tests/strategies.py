"""Hypothesis strategies shared by the tests (one place, as in minitorch)."""
import numpy as np
from hypothesis import strategies as st

#: Small array shapes: 1 to 3 dimensions of 1 to 4 elements.
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)

#: Seeds for numpy generators: hypothesis picks the values through them.
seeds = st.integers(0, 2**32 - 1)


# -- convolution and pooling: the gates (test_conv_gates) and kernels (test_kernels) -------

@st.composite
def conv_cases(draw, dtypes=(np.float32, np.float64)):
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
                dtype=draw(st.sampled_from(dtypes)),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**32 - 1)))


@st.composite
def pool_cases(draw):
    """A small valid pooling: shape, kernel (often 2x2), stride, padding, dtype, ties or not, seed."""
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
