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


@needs_openblas
def test_matmul_runs_small_products_on_one_thread(monkeypatch):
    seen = []
    real = blas.limit_blas_threads

    def spy(n=1):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(blas, "limit_blas_threads", spy)
    before = counts()
    x = gg.Tensor(np.ones((64, 400), np.float32))
    w = gg.Tensor(np.ones((400, 120), np.float32))
    (x @ w).sum().backward()
    assert seen == [1, 1]  # forward, then backward
    assert counts() == before
    np.testing.assert_allclose(x.grad, np.full((64, 400), 120.0))

    seen.clear()
    big = gg.Tensor(np.ones((1024, 1024), np.float32))
    assert big.shape[0] ** 3 > blas.SMALL_PRODUCT
    (big @ big).sum()
    assert seen == []  # a big product keeps the whole pool
