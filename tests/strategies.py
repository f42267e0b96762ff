"""Hypothesis strategies shared by the tests (one place, as in minitorch)."""
from hypothesis import strategies as st

#: Small array shapes: 1 to 3 dimensions of 1 to 4 elements.
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)

#: Seeds for numpy generators: hypothesis picks the values through them.
seeds = st.integers(0, 2**32 - 1)

#: Finite floats of moderate size.
floats = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
