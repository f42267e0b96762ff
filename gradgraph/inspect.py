"""Looking inside a model: what the app, the lessons and the command line read from it.

Plain functions over a :class:`gradgraph.nn.Module` (numpy in, numpy out, no Qt),
so a model stays a model (parameters, children, state, hooks) and every front
end reads the same numbers::

    from gradgraph import inspect
    inspect.filters(model)                    # {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5)}
    inspect.feature_maps(model, image)        # {"conv1": (6, 28, 28), "relu1": ..., "fc3": (10,)}
    logits = inspect.predict(model, images)   # eval mode, no graph, in batches
    inspect.confusion_matrix(labels, inspect.predicted_classes(logits))
    inspect.decision_boundary(model, points)  # a grid of predicted classes over 2-d inputs
    inspect.saliency(model, image, label)     # |d score / d pixel|

Each function runs the model in eval mode (Dropout off), and puts the model
back in the mode it was in; all but :func:`saliency` record no graph. The
model's matrix products run on one BLAS thread, leaving the cores to the
convolution kernels (see :mod:`gradgraph.blas`).
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .blas import limit_blas_threads
from .nn import Conv2d, Linear, Module
from .tensor import Tensor, no_grad

__all__ = ["Boundary", "confusion_matrix", "conv_layers", "decision_boundary", "evaluating", "feature_maps",
           "filters", "frozen", "layer_outputs", "predict", "predicted_classes", "saliency"]


@contextlib.contextmanager
def evaluating(model):
    """Run the block with ``model`` in eval mode (and one BLAS thread); its previous mode comes back afterwards."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with limit_blas_threads(1):
            yield model
    finally:
        if hasattr(model, "train"):
            model.train(was_training)


@contextlib.contextmanager
def frozen(model):
    """Hold the weights fixed: no gradients are computed for them inside the block."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad = False
    try:
        yield model
    finally:
        for p in params:
            p.requires_grad = True


def conv_layers(model: Module) -> list:
    """(path, Conv2d) of every convolution layer, in the order they were assigned."""
    return [(path or "conv", m) for path, m in model.named_modules() if isinstance(m, Conv2d)]


def filters(model: Module) -> "OrderedDict[str, np.ndarray]":
    """Each convolution's filters, layer path -> array (F, C, kh, kw)."""
    return OrderedDict((path, m.weight.data) for path, m in conv_layers(model))


def _dtype(model) -> np.dtype:
    return getattr(model, "dtype", np.dtype(np.float32))


def predict(model, x, batch_size: int = 500) -> np.ndarray:
    """The model's outputs (logits) for the inputs ``x``, in batches, eval mode, no graph."""
    x = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=_dtype(model))
    outputs = []
    with evaluating(model), no_grad():
        for start in range(0, max(len(x), 1), batch_size):
            out = model(Tensor(x[start:start + batch_size], name="input", requires_grad=False))
            outputs.append(np.asarray(out.data if isinstance(out, Tensor) else out))
    return np.concatenate(outputs) if len(outputs) > 1 else outputs[0]


def predicted_classes(logits) -> np.ndarray:
    """Class indices: the argmax of each row, or ``score > 0`` for a single output column."""
    logits = np.asarray(logits)
    if logits.ndim == 1 or logits.shape[-1] == 1:
        return (logits.reshape(len(logits), -1)[:, 0] > 0).astype(int)
    return np.argmax(logits, axis=1)


def confusion_matrix(labels, predicted, num_classes: int | None = None) -> np.ndarray:
    """counts[i, j] = how many examples of true class i were predicted as class j."""
    labels = np.asarray(labels).reshape(-1).astype(int)
    predicted = np.asarray(predicted).reshape(-1).astype(int)
    if labels.shape != predicted.shape:
        raise ValueError(f"confusion_matrix: {labels.size} labels but {predicted.size} predictions")
    if num_classes is None:
        num_classes = int(max(labels.max(initial=0), predicted.max(initial=0)) + 1)
    counts = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(counts, (labels, predicted), 1)
    return counts


def layer_outputs(model: Module, x) -> list:
    """(path, module, output array) of every leaf layer for the batch ``x``, in the order they ran."""
    outputs, handles = [], []
    for path, module in model.named_modules():
        if path and not module._modules:
            def record(mod, inputs, out, path=path):
                outputs.append((path, mod, np.asarray(out.data if isinstance(out, Tensor) else out)))
            handles.append(module.register_forward_hook(record))
    data = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=_dtype(model))
    try:
        with evaluating(model), no_grad():
            model(Tensor(data, name="input", requires_grad=False))
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def _as_batch(model: Module, x: np.ndarray) -> np.ndarray:
    """A single sample with a batch axis of 1 added (an existing one of size 1 is kept)."""
    first = next((m for m in model.modules() if isinstance(m, (Conv2d, Linear))), None)
    if isinstance(first, Conv2d):
        while x.ndim < 4:
            x = x[None]
        return x
    if isinstance(first, Linear) and x.ndim == 2 and x.shape[0] == 1:
        return x
    return x[None]


def feature_maps(model: Module, x) -> "OrderedDict[str, np.ndarray]":
    """Every leaf layer's output for one input, in the order the layers ran.

    ``x`` is a single sample: for a convolutional model an image (H, W),
    (C, H, W) or (1, C, H, W). Returns ``{"conv1": (6, 28, 28) array,
    "relu1": ..., "fc3": (10,) logits}`` (the batch axis removed), keyed by
    the layers' paths.
    """
    data = np.asarray(x.data if isinstance(x, Tensor) else x, dtype=_dtype(model))
    return OrderedDict((path, np.array(out[0])) for path, _, out in layer_outputs(model, _as_batch(model, data)))


@dataclass
class Boundary:
    """The predicted class at each point of a ``resolution`` × ``resolution`` grid over 2-d inputs.

    ``classes[i, j]`` is the class at ``(xs[j], ys[i])``; ``lo`` and ``hi`` are the grid's corners.
    """

    classes: np.ndarray
    xs: np.ndarray
    ys: np.ndarray

    @property
    def lo(self) -> np.ndarray:
        return np.array([self.xs[0], self.ys[0]])

    @property
    def hi(self) -> np.ndarray:
        return np.array([self.xs[-1], self.ys[-1]])


def decision_boundary(model, points, resolution: int = 100, margin: float = 0.1) -> Boundary:
    """The model's predicted class over a grid covering ``points`` (N, 2) plus ``margin`` of their range."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"decision_boundary: needs 2-d points of shape (N, 2), got {points.shape}")
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * (hi - lo + 1e-9)
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    return Boundary(predicted_classes(predict(model, grid)).reshape(resolution, resolution), xs, ys)


def saliency(model, image, label: int, samples: int = 1, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """|d score_label / d image|, the input gradient's magnitude, shape (H, W) (channels averaged).

    With ``samples > 1`` and ``noise > 0`` the gradient is averaged over noisy
    copies of the image first (SmoothGrad), which makes the map less speckled.
    The weights are held fixed; only the image gets a gradient.
    """
    rng = np.random.default_rng(seed)
    image = np.asarray(image, dtype=_dtype(model))
    batch = np.repeat(_as_batch(model, image), samples, axis=0)
    if noise:
        batch = batch + rng.normal(0, noise, size=batch.shape).astype(batch.dtype)
    x = Tensor(batch, name="image")
    with evaluating(model), frozen(model):
        score = model(x)[:, int(label)].sum()  # the copies do not interact: one backward for all
        score.backward()
    grad = x.grad.mean(axis=0)
    return np.abs(grad).mean(axis=0) if grad.ndim == 3 else np.abs(grad)
