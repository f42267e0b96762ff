"""BLAS thread control: small products on one thread, the setting always restored."""
import threading

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import blas

handles = blas._blas_libraries()
needs_openblas = pytest.mark.skipif(not handles, reason="numpy is not linked to a findable OpenBLAS")


def counts():
    return [get() for _, get in handles]


@needs_openblas
def test_nested_blocks_restore_once_the_last_closes():
    before = counts()
    with blas.limit_blas_threads(1):
        with blas.limit_blas_threads(1):
            assert counts() == [1] * len(handles)
        assert counts() == [1] * len(handles)
    assert counts() == before


@needs_openblas
def test_overlapping_blocks_in_two_threads_restore_the_setting():
    before = counts()
    inside, release = threading.Event(), threading.Event()

    def worker():
        with blas.limit_blas_threads(1):
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    with blas.limit_blas_threads(1):  # opens while the worker's block is open ...
        release.set()
        t.join(5)
    assert counts() == before  # ... and closes after it: the original count comes back


def test_matmul_leaves_blas_threads_alone():
    """The gate reads like the lecture: no thread tuning inside it."""
    import inspect

    from gradgraph.ops import shape

    assert "blas" not in inspect.getsource(shape.MatMul)


@needs_openblas
def test_training_runs_its_products_on_one_blas_thread():
    before = counts()
    seen = []

    def loss(logits, y):  # called inside the training loop
        seen.append(counts())
        return gg.losses.cross_entropy(logits, y)

    x = np.random.default_rng(0).normal(size=(8, 2)).astype(np.float32)
    y = np.arange(8) % 2
    model = gg.nn.Linear(2, 2)
    trainer = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.1), (x, y), loss=loss, batch_size=4)
    for _ in trainer.records():
        pass
    assert seen and all(c == [1] * len(handles) for c in seen)
    assert counts() == before
