"""Exercise 17.1: all pairwise distances, without loops.

k-nearest neighbours needs the distance of every test image to every
training image. With loops that is M · N Python iterations; as matrix
operations it is one product. For rows ``a`` of A (M, D) and ``b`` of
B (N, D):

    ‖a - b‖² = ‖a‖² + ‖b‖² - 2 a · b

so the (M, N) matrix of squared distances is

    (row sums of A²) as a column  +  (row sums of B²) as a row  -  2 A Bᵀ

using broadcasting for the sum. Write it without ``for`` or ``while``.

Check it with ``gradgraph exercise 17.1``.
"""
import numpy as np


def squared_distances(A, B):
    """D[i, j] = ‖A[i] - B[j]‖² for A (M, D) and B (N, D): an (M, N) array, no loops."""
    raise NotImplementedError("Exercise 17.1")
