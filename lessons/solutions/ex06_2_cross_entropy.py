"""Exercise 6.2: the backward pass of softmax followed by cross-entropy.

For N examples with scores ``s`` of shape (N, C) and correct classes ``y``:

    p_ik = e^{s_ik} / Σ_j e^{s_ij}            L = -(1/N) Σ_i ln p_iy_i

``forward`` keeps the probabilities in ``self.p`` (N, C). The gradient with
respect to the scores is the famously simple

    dL/ds = (p - onehot(y)) / N

times the upstream gradient ``d_out`` (a scalar, usually 1): subtract 1 at
each row's correct class. Return a 1-tuple ``(d_scores,)`` of shape (N, C).

Example (lesson 6): the cat image, scores [3.2, 5.1, -1.7], label 0:
p = [0.130, 0.869, 0.001], so the gradient is [-0.870, 0.869, 0.001].

Check it with ``gradgraph exercise 6.2``.
"""
import numpy as np

import gradgraph as gg


class SoftmaxCrossEntropy(gg.Gate):
    """L = -mean_i ln softmax(s_i)[y_i]"""

    symbol, formula = "CE", "L = -mean(log softmax(s)[y])"

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def forward(self, scores):
        shifted = scores - scores.max(axis=1, keepdims=True)   # same softmax, no overflow
        e = np.exp(shifted)
        self.p = e / e.sum(axis=1, keepdims=True)
        self.N = scores.shape[0]
        return np.array(-np.log(self.p[np.arange(self.N), self.labels]).mean())

    def backward(self, d_out):
        d_scores = self.p.copy()
        d_scores[np.arange(self.N), self.labels] -= 1.0
        return (d_scores * d_out / self.N,)
