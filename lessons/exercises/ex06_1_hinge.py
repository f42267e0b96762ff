"""Exercise 6.1: the backward pass of the multiclass SVM (hinge) loss.

For N examples with scores ``s`` of shape (N, C) and correct classes ``y``:

    L = (1/N) Σ_i Σ_{j ≠ y_i} max(0, s_ij - s_iy_i + 1)

``forward`` keeps ``self.margins`` (N, C): the terms max(0, s_ij - s_iy_i + 1),
with 0 in each row's correct-class column. The gradient with respect to the
scores, for row i:

    dL/ds_ij    = 1/N                                  where margin ij > 0 (j ≠ y_i)
    dL/ds_iy_i  = -(number of positive margins in row i) / N
    all others  = 0

and everything is multiplied by the upstream gradient ``d_out`` (a scalar,
usually 1). Return a 1-tuple ``(d_scores,)`` of shape (N, C).

Example (lesson 6): the cat image's scores [3.2, 5.1, -1.7] with label 0 have
one positive margin (car: 2.9), so with N = 1 the gradient is [-1, 1, 0].

Check it with ``gradgraph exercise 6.1``.
"""
import numpy as np

import gradgraph as gg


class MulticlassHinge(gg.Gate):
    """L = mean_i Σ_{j≠y_i} max(0, s_ij - s_iy_i + 1)"""

    symbol, formula = "SVM", "L = mean(sum_j!=y max(0, s_j - s_y + 1))"

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def forward(self, scores):
        N = scores.shape[0]
        rows = np.arange(N)
        correct = scores[rows, self.labels][:, None]       # (N, 1): each row's correct score
        margins = np.maximum(0.0, scores - correct + 1.0)   # (N, C)
        margins[rows, self.labels] = 0.0                    # the correct class does not count
        self.margins, self.N = margins, N
        return np.array(margins.sum() / N)

    def backward(self, d_out):
        # return (d_scores,)   (use self.margins, self.labels, self.N)
        raise NotImplementedError("Exercise 6.1")
