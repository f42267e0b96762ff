"""Loss functions. Each returns a scalar Tensor: the mean over the batch.

``mse`` and ``l1`` are composed from primitive gates. The classification
losses are fused gates, because the lecture treats them as one step and
because fusing softmax with the log keeps them finite for huge logits.
"""
from __future__ import annotations

import numpy as np

from .gate import Gate
from .tensor import Tensor, as_tensor


def _same_shape(loss: str, a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{loss}: prediction has shape {a.shape} but target has shape {b.shape}")


def mse(pred, target) -> Tensor:
    """Mean squared error, mean_i (pred_i - target_i)²."""
    pred, target = as_tensor(pred), as_tensor(target, like=as_tensor(pred))
    _same_shape("mse", pred, target)
    return ((pred - target) ** 2).mean()


def l1(pred, target) -> Tensor:
    """Mean absolute error, mean_i |pred_i - target_i|."""
    pred, target = as_tensor(pred), as_tensor(target, like=as_tensor(pred))
    _same_shape("l1", pred, target)
    return (pred - target).abs().mean()


def _labels(gate: str, labels, scores: np.ndarray) -> np.ndarray:
    """Validate integer class labels against (N, C) scores."""
    if scores.ndim != 2:
        raise ValueError(f"{gate}: scores must be (N, C) for a batch or (C,) for one example, "
                         f"got shape {scores.shape}")
    labels = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == bool):
        raise ValueError(f"{gate}: labels must be integer class indices 0..{scores.shape[1] - 1}, "
                         f"got {'strings' if labels.dtype.kind in 'USO' else labels.dtype} such as {labels.reshape(-1)[:1].tolist()}")
    if labels.size and not np.all(np.equal(np.mod(labels, 1), 0)):
        raise ValueError(f"{gate}: labels must be integer class indices, got {labels.dtype} values")
    labels = labels.astype(np.int64)
    if labels.shape != (scores.shape[0],):
        raise ValueError(f"{gate}: scores of shape {scores.shape} need labels of shape ({scores.shape[0]},), "
                         f"got labels of shape {labels.shape}")
    if scores.shape[0] == 0:
        raise ValueError(f"{gate}: the batch is empty (scores of shape {scores.shape}); the mean over 0 examples "
                         f"is undefined")
    n_classes = scores.shape[1]
    bad = (labels < 0) | (labels >= n_classes)
    if bad.any():
        raise ValueError(
            f"{gate}: label {labels[bad][0]} is out of range for {n_classes} classes (valid: 0..{n_classes - 1})"
        )
    return labels


def _in_unit_interval(gate: str, what: str, values: np.ndarray) -> None:
    """A ValueError naming the first value outside [0, 1] (NaN included) and where it is."""
    bad = ~((values >= 0) & (values <= 1))
    if bad.any():
        index = np.unravel_index(int(np.argmax(bad.reshape(-1))), values.shape)
        where = f" at {tuple(int(i) for i in index)}" if values.ndim else ""
        hint = " (logits? apply sigmoid first)" if what == "probabilities" else ""
        raise ValueError(f"{gate}: {what} must be in [0, 1]; got {values[index]:.6g}{where}, "
                         f"{int(bad.sum())} value(s) outside{hint}")


class CrossEntropy(Gate):
    """L = -mean(log softmax(s)[y]);   dL/ds = (p - onehot(y)) / N   with p = softmax(s)

    In full: L = -(1/N) Σ_n log softmax(s_n)[y_n] over the N examples.

    The cross-entropy of softmax probabilities with integer labels, using the
    natural log (the slide's 0.89 for the cat example is log base 10; ln gives 2.04).
    """

    symbol, short, formula = "CE", "cross_entropy", "L = -mean(log softmax(s)[y])"
    local = ("dL/ds = (p - onehot(y)) / N",)

    def __init__(self, labels):
        self.labels = labels

    def forward(self, scores):
        self.squeeze = scores.ndim == 1
        s = scores[None, :] if self.squeeze else scores
        y = _labels(self.name, np.reshape(self.labels, -1) if self.squeeze else self.labels, s)
        shifted = s - s.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p, self.y = np.exp(log_p), y
        return np.asarray(-log_p[np.arange(len(y)), y].mean(), dtype=scores.dtype)

    def backward(self, d_out):
        d_s = self.p.copy()
        d_s[np.arange(len(self.y)), self.y] -= 1
        d_s *= d_out / len(self.y)
        return (d_s[0] if self.squeeze else d_s,)


class MulticlassHinge(Gate):
    """L = mean(sum_j!=y max(0, s_j - s_y + 1));   dL/ds_j = [m_j > 0]/N, dL/ds_y = -count/N   (multiclass SVM)

    In full: L = (1/N) Σ_n Σ_{j≠y_n} max(0, m_j) with margins m_j = s_j - s_{y_n} + margin (1 by
    default); each positive margin sends 1/N to s_j and -1/N to s_y (``count`` of them in all).
    """

    symbol, short, formula = "SVM", "hinge", "L = mean(sum_j!=y max(0, s_j - s_y + 1))"
    local = ("dL/ds_j = [m_j > 0]/N, dL/ds_y = -count/N",)

    def __init__(self, labels, margin: float = 1.0):
        self.labels, self.margin = labels, float(margin)

    def forward(self, scores):
        self.squeeze = scores.ndim == 1
        s = scores[None, :] if self.squeeze else scores
        y = _labels(self.name, np.reshape(self.labels, -1) if self.squeeze else self.labels, s)
        rows = np.arange(len(y))
        margins = np.maximum(0, s - s[rows, y][:, None] + self.margin)
        margins[rows, y] = 0
        self.positive, self.y = margins > 0, y
        self.per_example = margins.sum(axis=1)
        return np.asarray(self.per_example.mean(), dtype=scores.dtype)

    def backward(self, d_out):
        d_s = self.positive.astype(np.result_type(d_out, np.float32))
        d_s[np.arange(len(self.y)), self.y] = -self.positive.sum(axis=1)
        d_s *= d_out / len(self.y)
        return (d_s[0] if self.squeeze else d_s,)


class BinaryCrossEntropy(Gate):
    """J = -mean(y log p + (1-y) log(1-p));   dJ/dp = (p - y) / (p(1-p)) / n

    In full: J = -(1/n) Σ (y log p + (1 - y) log(1 - p)) over the n elements.

    ``p`` is clipped to [ε, 1 - ε] inside the logs so that a confident wrong
    prediction gives a large finite loss instead of infinity.
    """

    symbol, short, formula = "BCE", "bce", "J = -mean(y log p + (1-y) log(1-p))"
    local = ("dJ/dp = (p - y) / (p(1-p)) / n",)

    def __init__(self, target):
        self.target = np.asarray(target.data if isinstance(target, Tensor) else target)

    def forward(self, p):
        if self.target.shape != p.shape:
            raise ValueError(f"{self.name}: probabilities have shape {p.shape} but targets have shape {self.target.shape}")
        if p.size == 0:
            raise ValueError(f"{self.name}: no probabilities (shape {p.shape}); the mean over 0 values is undefined")
        _in_unit_interval(self.name, "probabilities", p)
        _in_unit_interval(self.name, "targets", self.target)
        eps = np.finfo(p.dtype).eps
        self.p = np.clip(p, eps, 1 - eps)
        y = self.target
        return np.asarray(-np.mean(y * np.log(self.p) + (1 - y) * np.log(1 - self.p)), dtype=p.dtype)

    def backward(self, d_out):
        p, y = self.p, self.target
        return (d_out * (p - y) / (p * (1 - p)) / p.size,)


def cross_entropy(logits, labels) -> Tensor:
    """Softmax cross-entropy of (N, C) logits with integer labels (N,), mean over the batch.

    A single example may be given as (C,) logits and one label.
    """
    return CrossEntropy(labels)(logits)


def hinge(scores, labels, margin: float = 1.0) -> Tensor:
    """Multiclass SVM loss of (N, C) scores with integer labels (N,), mean over the batch."""
    return MulticlassHinge(labels, margin)(scores)


def binary_cross_entropy(prob, target) -> Tensor:
    """Binary cross-entropy of probabilities in (0, 1) against 0/1 targets, mean over elements."""
    return BinaryCrossEntropy(target)(prob)
