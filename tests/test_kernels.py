"""Tests for gradgraph.kernels: the reference loops are the specification, the numpy
and fast kernels must agree with them, the reference gradients must agree with
centred differences, and torch (when installed) is an independent oracle for all.

Also run this file once with NUMBA_DISABLE_JIT=1: the fast kernels must still work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from gradgraph import kernels
from gradgraph.kernels import _compile, compiler, fast, reference, vectorized

from strategies import conv_cases, conv_needs, pool_cases

BACKENDS = [reference, vectorized, fast]
BACKEND_IDS = ["reference", "numpy", "fast"]
HYPOTHESIS = settings(max_examples=40, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile (or load) the fast kernels once, outside any hypothesis deadline."""
    kernels.warmup(progress=lambda message: None)


def assert_close(actual, expected, dtype, scale=1.0):
    """float64: to rounding error; float32: to float32 rounding error of a sum."""
    assert actual.dtype == np.dtype(dtype), (actual.dtype, dtype)
    assert actual.shape == expected.shape
    tol = 1e-11 if np.dtype(dtype) == np.float64 else 2e-5
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * max(1.0, scale))


def conv_data(case):
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    x = rng.standard_normal(case["x_shape"]).astype(dtype)
    w = rng.standard_normal(case["w_shape"]).astype(dtype)
    b = rng.standard_normal(case["w_shape"][0]).astype(dtype) if case["bias"] else None
    return x, w, b


def pool_data(case):
    rng = np.random.default_rng(case["seed"])
    if case["ties"]:  # few distinct values: many tied maxima
        x = rng.integers(-2, 3, case["x_shape"]).astype(case["dtype"])
    else:
        x = rng.standard_normal(case["x_shape"]).astype(case["dtype"])
    return x


# ----------------------------------------------------------------------------
# numpy == reference, fast == reference
# ----------------------------------------------------------------------------

fast_backends = pytest.mark.parametrize("backend", [vectorized, fast], ids=["numpy", "fast"])


@fast_backends
@HYPOTHESIS
@given(case=conv_cases(), need=conv_needs)
def test_conv_backend_matches_reference(backend, case, need):
    x, w, b = conv_data(case)
    args = (case["stride"], case["padding"], case["dilation"])
    expected = reference.conv2d_forward(x, w, b, *args)
    out = backend.conv2d_forward(x, w, b, *args)
    scale = np.sqrt(np.prod(case["w_shape"][1:]))
    assert_close(out, expected, case["dtype"], scale)

    d_out = np.random.default_rng(case["seed"] + 1).standard_normal(out.shape).astype(x.dtype)
    need_dx, need_dw = need
    ref = reference.conv2d_backward(d_out, x, w, *args, need_dx=need_dx, need_dw=need_dw)
    got = backend.conv2d_backward(d_out, x, w, *args, need_dx=need_dx, need_dw=need_dw)
    batch_scale = np.sqrt(d_out.size / case["w_shape"][0])
    for name, g, r, s in zip(("d_x", "d_w", "d_b"), got, ref, (scale, batch_scale, batch_scale)):
        if name == "d_x" and not need_dx or name == "d_w" and not need_dw:
            assert g is None and r is None, name
        else:
            assert_close(g, r, case["dtype"], s)


@fast_backends
@HYPOTHESIS
@given(case=pool_cases())
def test_max_pool_backend_matches_reference(backend, case):
    x = pool_data(case)
    args = (case["kernel"], case["stride"], case["padding"])
    out_r, arg_r = reference.max_pool2d_forward(x, *args)
    out_f, arg_f = backend.max_pool2d_forward(x, *args)
    np.testing.assert_array_equal(out_f, out_r)  # a max is exact
    np.testing.assert_array_equal(arg_f, arg_r)  # same tie-breaking
    assert out_f.dtype == x.dtype and arg_f.dtype == kernels.ARGMAX_DTYPE
    d_out = np.random.default_rng(case["seed"]).standard_normal(out_r.shape).astype(x.dtype)
    assert_close(backend.max_pool2d_backward(d_out, arg_f, x.shape, *args),
                 reference.max_pool2d_backward(d_out, arg_r, x.shape, *args), x.dtype)


@fast_backends
@HYPOTHESIS
@given(case=pool_cases())
def test_avg_pool_backend_matches_reference(backend, case):
    x = pool_data(case)
    args = (case["kernel"], case["stride"], case["padding"])
    out = backend.avg_pool2d_forward(x, *args)
    assert_close(out, reference.avg_pool2d_forward(x, *args), x.dtype)
    d_out = np.random.default_rng(case["seed"]).standard_normal(out.shape).astype(x.dtype)
    assert_close(backend.avg_pool2d_backward(d_out, x.shape, *args),
                 reference.avg_pool2d_backward(d_out, x.shape, *args), x.dtype)


@fast_backends
def test_lenet_shapes_match_reference(backend):
    """The tuned stride-1 paths at a LeNet-like size (several chunks, odd F)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 6, 14, 14)).astype(np.float32)
    w = rng.standard_normal((7, 6, 5, 5)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    out = backend.conv2d_forward(x, w, b, 1, 0, 1)
    assert_close(out, reference.conv2d_forward(x, w, b, 1, 0, 1), np.float32, 12.0)
    d_out = rng.standard_normal(out.shape).astype(np.float32)
    for g, r, s in zip(backend.conv2d_backward(d_out, x, w), reference.conv2d_backward(d_out, x, w),
                       (12.0, 20.0, 20.0)):
        assert_close(g, r, np.float32, s)


@pytest.mark.parametrize("x_shape,w_shape,padding,dilation,batch_rows", [
    ((130, 3, 9, 8), (5, 3, 3, 3), (1, 0), (2, 1), True),  # three blocks of 64, odd F
    ((1, 2, 7, 7), (3, 2, 5, 5), 0, 1, True),               # one image
    ((3, 1, 28, 28), (6, 1, 5, 5), 2, 1, False),            # C1: the wide row's junk is small
])
def test_fast_forward_on_batch_rows_and_wide_rows(monkeypatch, x_shape, w_shape, padding,
                                                  dilation, batch_rows):
    """fast's stride-1 forward takes the path its docstring says, and both match the reference."""
    calls = []
    for name in ("_conv_fwd_s1", "_conv_fwd_s1_batch"):
        kernel = getattr(fast, name)
        monkeypatch.setattr(fast, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    rng = np.random.default_rng(9)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    out = fast.conv2d_forward(x, w, b, 1, padding, dilation)
    assert_close(out, reference.conv2d_forward(x, w, b, 1, padding, dilation), np.float64, 30.0)
    expected = ["_conv_fwd_s1_batch"] * -(-x_shape[0] // 64) if batch_rows else ["_conv_fwd_s1"]
    assert calls == expected


@pytest.mark.parametrize("x_shape,w_shape,padding,dilation,batch_rows", [
    ((130, 3, 9, 8), (5, 3, 3, 3), (1, 0), (2, 1), True),  # three blocks of 64, odd F
    ((1, 2, 7, 7), (3, 2, 5, 5), 0, 1, True),               # one image
    ((3, 1, 28, 28), (6, 1, 5, 5), 2, 1, False),            # C1, few images: short batch rows
    ((64, 1, 28, 28), (6, 1, 5, 5), 2, 1, True),            # C1 at batch 64: batch rows win
])
@pytest.mark.parametrize("need_dx,need_dw", [(True, True), (True, False), (False, True)])
def test_fast_backward_on_batch_rows_and_wide_rows(monkeypatch, x_shape, w_shape, padding, dilation,
                                                   batch_rows, need_dx, need_dw):
    """fast's stride-1 backward takes the path its docstring says, and both match the reference."""
    calls = []
    names = ("_conv_dw_s1", "_conv_dx_s1", "_conv_dw_s1_batch", "_conv_dx_s1_batch")
    for name in names:
        kernel = getattr(fast, name)
        monkeypatch.setattr(fast, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    rng = np.random.default_rng(9)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    d_out = rng.standard_normal(reference.conv2d_forward(x, w, None, 1, padding, dilation).shape)
    got = fast.conv2d_backward(d_out, x, w, 1, padding, dilation, need_dx=need_dx, need_dw=need_dw)
    ref = reference.conv2d_backward(d_out, x, w, 1, padding, dilation)
    for g, r, needed in zip(got, ref, (need_dx, need_dw, True)):
        if needed:
            assert_close(g, r, np.float64, 30.0)
        else:
            assert g is None
    suffix = "_batch" if batch_rows else ""
    wanted = [f"_conv_dw_s1{suffix}"] * need_dw + [f"_conv_dx_s1{suffix}"] * need_dx
    assert sorted(set(calls)) == sorted(wanted)
    assert len(calls) == (-(-x_shape[0] // 64) if batch_rows else 1) * len(wanted)

def test_non_contiguous_and_integer_inputs():
    rng = np.random.default_rng(1)
    x = np.asfortranarray(rng.standard_normal((2, 3, 6, 5)))
    w = rng.standard_normal((2, 3, 3, 3)).transpose(0, 1, 3, 2)
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    for backend in BACKENDS:
        assert_close(backend.conv2d_forward(x, w, None, 1, 1, 1),
                     reference.conv2d_forward(np.ascontiguousarray(x), np.ascontiguousarray(w),
                                              None, 1, 1, 1), np.float64)
        ints = np.arange(16).reshape(1, 1, 4, 4)
        out = backend.conv2d_forward(ints, np.ones((1, 1, 2, 2), np.int64))
        assert out.dtype == np.float64 and out[0, 0, 0, 0] == 0 + 1 + 4 + 5
        assert backend.avg_pool2d_forward(ints, 2).dtype == np.float64


# ----------------------------------------------------------------------------
# the lecture example and hand-checked values
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lecture_example(backend, dtype):
    # x = 0..8 in a 3x3 plane, padding 1, stride 2, kernel [[0, 1], [2, 3]]:
    #
    #   xpad = 0 0 0 0 0      output size floor((3 + 2 - 1 - 1) / 2) + 1 = 2
    #          0 0 1 2 0
    #          0 3 4 5 0      out[0,0] = 0*0 + 1*0 + 2*0 + 3*0 = 0
    #          0 6 7 8 0      out[0,1] = 0*0 + 1*0 + 2*1 + 3*2 = 8
    #          0 0 0 0 0      out[1,0] = 0*0 + 1*3 + 2*0 + 3*6 = 21
    #                         out[1,1] = 0*4 + 1*5 + 2*7 + 3*8 = 43
    x = np.arange(9, dtype=dtype).reshape(1, 1, 3, 3)
    w = np.array([[0, 1], [2, 3]], dtype=dtype).reshape(1, 1, 2, 2)
    assert kernels.conv_output_size(3, 2, stride=2, padding=1) == 2
    out = backend.conv2d_forward(x, w, None, stride=(2, 2), padding=(1, 1), dilation=(1, 1))
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.array([[[[0, 8], [21, 43]]]], dtype=dtype))
    # backward with d_out = 1: d_w[i, j] sums the four xpad values under tap (i, j);
    # d_b = 4; d_x[h, v] = the weight that touched x[h, v] (each one is used once).
    d_x, d_w, d_b = backend.conv2d_backward(np.ones_like(out), x, w, 2, 1, 1)
    #   d_w[0,0] = xpad[0,0] + xpad[0,2] + xpad[2,0] + xpad[2,2] = 0 + 0 + 0 + 4
    np.testing.assert_array_equal(d_w[0, 0], [[0 + 0 + 0 + 4, 0 + 0 + 3 + 5],
                                              [0 + 1 + 0 + 7, 0 + 2 + 6 + 8]])
    np.testing.assert_array_equal(d_b, [4])
    np.testing.assert_array_equal(d_x[0, 0], [[3, 2, 3], [1, 0, 1], [3, 2, 3]])


def test_max_pool_ties_and_nan():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0] = [[1, 1, 5, 7], [1, 0, 7, 7]]
    for backend in BACKENDS:
        out, arg = backend.max_pool2d_forward(x, 2, 2)
        np.testing.assert_array_equal(out[0, 0], [[1, 7]])
        np.testing.assert_array_equal(arg[0, 0], [[0, 3]])  # the first maximum wins
        d_x = backend.max_pool2d_backward(np.array([[[[10.0, 20.0]]]]), arg, x.shape, 2, 2)
        np.testing.assert_array_equal(d_x[0, 0], [[10, 0, 0, 20], [0, 0, 0, 0]])
        y = x.copy()
        y[0, 0, 1, 3] = np.nan
        out, arg = backend.max_pool2d_forward(y, 2, 2)
        assert out[0, 0, 0, 0] == 1 and np.isnan(out[0, 0, 0, 1]) and arg[0, 0, 0, 1] == 7


@pytest.mark.parametrize("backend", [vectorized, fast], ids=["numpy", "fast"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_stride_2_matches_reference_on_ties_nan_and_inf(backend, dtype):
    """The branch-free 2x2 kernel: the same maximum and the same (first) position as the
    reference, on odd sizes, many ties, NaNs (the first one wins) and infinities."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(2, 8)), int(rng.integers(2, 8)))
        x = rng.integers(-2, 3, shape).astype(dtype)
        for value, share in ((np.nan, 0.2 * (trial % 3 == 0)), (np.inf, 0.1 * (trial % 5 == 0)),
                             (-np.inf, 0.1 * (trial % 7 == 0))):
            x[rng.random(shape) < share] = value
        out_r, arg_r = reference.max_pool2d_forward(x, 2)
        out, arg = backend.max_pool2d_forward(x, 2)
        np.testing.assert_array_equal(out, out_r)  # NaN == NaN here
        np.testing.assert_array_equal(arg, arg_r)


def test_pool_padding_never_wins_and_counts_in_average():
    x = -np.ones((1, 1, 2, 2))
    for backend in BACKENDS:
        out, arg = backend.max_pool2d_forward(x, 2, 2, 1)  # each window: one real -1, rest pad
        np.testing.assert_array_equal(out[0, 0], [[-1, -1], [-1, -1]])
        np.testing.assert_array_equal(arg[0, 0], [[0, 1], [2, 3]])
        avg = backend.avg_pool2d_forward(x, 2, 2, 1)
        np.testing.assert_array_equal(avg[0, 0], [[-0.25, -0.25], [-0.25, -0.25]])


# ----------------------------------------------------------------------------
# reference gradients == centred differences (float64)
# ----------------------------------------------------------------------------


def numerical_gradient(f, array, eps=1e-6):
    """d f() / d array by centred differences; f reads ``array`` (perturbed in place)."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        plus = f()
        flat[k] = saved - eps
        minus = f()
        flat[k] = saved
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


CONV_GRAD_CASES = [  # x shape, w shape, stride, padding, dilation
    ((2, 2, 5, 4), (3, 2, 2, 3), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 5, 6), (2, 2, 3, 2), (2, 1), (1, 2), (1, 1)),
    ((2, 1, 6, 6), (2, 1, 2, 2), (1, 2), (1, 0), (2, 3)),
]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation", CONV_GRAD_CASES)
def test_reference_conv_gradient_is_numerical_gradient(x_shape, w_shape, stride, padding,
                                                       dilation):
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    args = (stride, padding, dilation)
    d_out = rng.standard_normal(reference.conv2d_forward(x, w, b, *args).shape)

    def loss():  # L = sum(out * d_out), so dL/d(out) = d_out
        return float(np.sum(reference.conv2d_forward(x, w, b, *args) * d_out))

    d_x, d_w, d_b = reference.conv2d_backward(d_out, x, w, *args)
    for analytic, array in ((d_x, x), (d_w, w), (d_b, b)):
        np.testing.assert_allclose(analytic, numerical_gradient(loss, array),
                                   rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kernel,stride,padding", [((2, 2), None, (0, 0)),
                                                   ((3, 2), (2, 1), (1, 1)),
                                                   ((3, 3), (1, 1), (1, 0))])
def test_reference_pool_gradients_are_numerical_gradients(kernel, stride, padding):
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1  # distinct: no ties
    args = (kernel, stride, padding)
    out, arg = reference.max_pool2d_forward(x, *args)
    d_out = rng.standard_normal(out.shape)

    def max_loss():
        return float(np.sum(reference.max_pool2d_forward(x, *args)[0] * d_out))

    def avg_loss():
        return float(np.sum(reference.avg_pool2d_forward(x, *args) * d_out))

    np.testing.assert_allclose(reference.max_pool2d_backward(d_out, arg, x.shape, *args),
                               numerical_gradient(max_loss, x, eps=1e-4), atol=1e-8)
    np.testing.assert_allclose(reference.avg_pool2d_backward(d_out, x.shape, *args),
                               numerical_gradient(avg_loss, x), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------------
# torch as an independent oracle (skipped without torch)
# ----------------------------------------------------------------------------

TORCH_CONV_CASES = CONV_GRAD_CASES + [
    ((3, 3, 9, 8), (4, 3, 3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 1, 12, 12), (6, 1, 5, 5), (1, 1), (0, 0), (1, 1)),
    ((2, 4, 7, 9), (5, 4, 3, 2), (3, 2), (2, 1), (2, 1)),
]


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation", TORCH_CONV_CASES)
def test_conv_matches_torch(backend, x_shape, w_shape, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation)
    d_out = rng.standard_normal(tuple(out_t.shape))
    grads_t = torch.autograd.grad(out_t, (xt, wt, bt), torch.from_numpy(d_out))

    args = (stride, padding, dilation)
    np.testing.assert_allclose(backend.conv2d_forward(x, w, b, *args),
                               out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(backend.conv2d_backward(d_out, x, w, *args), grads_t):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), ((3, 2), (2, 1), (1, 1)),
                                                   (3, 1, 1), ((2, 3), (1, 3), (0, 1))])
@pytest.mark.parametrize("ties", [False, True])
def test_pool_matches_torch(backend, kind, kernel, stride, padding, ties):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    shape = (2, 3, 7, 8)
    x = rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)
    xt = torch.from_numpy(x).requires_grad_(True)
    F = torch.nn.functional
    if kind == "max":
        out_t, idx_t = F.max_pool2d(xt, kernel, stride, padding, return_indices=True)
        out, arg = backend.max_pool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(arg, idx_t.numpy())  # same flat index, same tie rule
    else:
        out_t = F.avg_pool2d(xt, kernel, stride, padding)
        out = backend.avg_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    d_out = rng.standard_normal(out.shape)
    (d_x_t,) = torch.autograd.grad(out_t, (xt,), torch.from_numpy(d_out))
    if kind == "max":
        d_x = backend.max_pool2d_backward(d_out, arg, x.shape, kernel, stride, padding)
    else:
        d_x = backend.avg_pool2d_backward(d_out, x.shape, kernel, stride, padding)
    np.testing.assert_allclose(d_x, d_x_t.numpy(), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------
# clear errors
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_conv_errors_name_both_shapes(backend):
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"3 channels.*expects 1.*\(2, 3, 5, 5\).*\(4, 1, 3, 3\)"):
        backend.conv2d_forward(x, np.zeros((4, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"larger than the padded input 7x7.*"
                                         r"\(2, 3, 5, 5\).*\(4, 3, 8, 3\)"):
        backend.conv2d_forward(x, np.zeros((4, 3, 8, 3)), padding=1)
    with pytest.raises(ValueError, match=r"dilated to 5x5.*larger.*\(2, 3, 4, 4\).*\(1, 3, 3, 3\)"):
        backend.conv2d_forward(np.zeros((2, 3, 4, 4)), np.zeros((1, 3, 3, 3)), dilation=2)
    with pytest.raises(ValueError, match=r"stride must be positive.*\(2, 3, 5, 5\)"):
        backend.conv2d_forward(x, np.zeros((1, 3, 3, 3)), stride=(1, 0))
    with pytest.raises(ValueError, match=r"4-D.*got 3-D.*\(3, 5, 5\)"):
        backend.conv2d_forward(np.zeros((3, 5, 5)), np.zeros((1, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"bias b must have shape \(1,\)"):
        backend.conv2d_forward(x, np.zeros((1, 3, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"d_out has shape \(2, 1, 2, 2\).*\(2, 1, 3, 3\)"):
        backend.conv2d_backward(np.zeros((2, 1, 2, 2)), x, np.zeros((1, 3, 3, 3)))


@pytest.mark.parametrize("backend", BACKENDS, ids=BACKEND_IDS)
def test_pool_errors(backend):
    x = np.zeros((1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"larger than the padded input 4x4.*\(1, 2, 4, 4\)"):
        backend.max_pool2d_forward(x, 5)
    with pytest.raises(ValueError, match="half the kernel"):
        backend.avg_pool2d_forward(x, 2, 2, 2)
    with pytest.raises(ValueError, match="stride must be positive"):
        backend.max_pool2d_forward(x, 2, 0)
    with pytest.raises(ValueError, match="4-D"):
        backend.avg_pool2d_forward(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"d_out has shape"):
        backend.avg_pool2d_backward(np.zeros((1, 2, 3, 3)), x.shape, 2)


def test_conv_output_size():
    assert kernels.conv_output_size(32, 5) == 28
    assert kernels.conv_output_size(28, 2, stride=2) == 14
    assert kernels.conv_output_size(7, 3, stride=2, padding=1, dilation=2) == 3
    assert kernels.check_conv_shapes((64, 6, 14, 14), (16, 6, 5, 5)) == (10, 10)
    assert kernels.check_pool_shapes((64, 6, 28, 28), 2) == (14, 14)


# ----------------------------------------------------------------------------
# backend selection, warm-up, compile cache
# ----------------------------------------------------------------------------


def test_use_backend_switches_and_restores():
    assert kernels.get_backend() == "auto"
    x = np.ones((1, 1, 3, 3))
    w = np.ones((1, 1, 2, 2))
    with kernels.use_backend("reference") as switch:
        assert kernels.get_backend() == "reference" and switch.previous == "auto"
        np.testing.assert_array_equal(kernels.conv2d_forward(x, w), 4 * np.ones((1, 1, 2, 2)))
    assert kernels.get_backend() == "auto"
    np.testing.assert_array_equal(kernels.conv2d_forward(x, w), 4 * np.ones((1, 1, 2, 2)))
    switch = kernels.use_backend("numpy")
    try:
        assert kernels.get_backend() == "numpy"
    finally:
        switch.__exit__()
    assert kernels.get_backend() == "auto"
    with pytest.raises(ValueError, match="unknown kernel backend 'cuda'.*reference"):
        kernels.use_backend("cuda")


def test_backend_choice_belongs_to_its_thread():
    """The app trains on a worker thread: a choice made on another thread must not leak."""
    seen = {}
    chosen, go_on = threading.Event(), threading.Event()

    def worker():
        with kernels.use_backend("reference"):
            chosen.set()
            go_on.wait(10)
            seen["worker"] = kernels.get_backend()
        seen["worker after"] = kernels.get_backend()

    thread = threading.Thread(target=worker)
    thread.start()
    chosen.wait(10)
    seen["main"] = kernels.get_backend()  # while the worker is inside its block
    with kernels.use_backend("numpy"):
        go_on.set()
        thread.join(10)
        seen["main inside"] = kernels.get_backend()
    assert seen == {"main": "auto", "worker": "reference", "worker after": "auto",
                    "main inside": "numpy"}


@pytest.mark.parametrize("name", kernels.BACKENDS)
def test_dispatching_functions_cover_the_api(name):
    x = np.random.default_rng(0).standard_normal((2, 2, 6, 6))
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    with kernels.use_backend(name):
        out = kernels.conv2d_forward(x, w, None, 1, 1, 1)
        np.testing.assert_allclose(out, reference.conv2d_forward(x, w, None, 1, 1, 1), atol=1e-12)
        d_x, d_w, d_b = kernels.conv2d_backward(out, x, w, 1, 1, 1, need_dx=False)
        assert d_x is None and d_w.shape == w.shape and d_b.shape == (3,)
        m, arg = kernels.max_pool2d_forward(x, 2)
        assert kernels.max_pool2d_backward(m, arg, x.shape, 2).shape == x.shape
        a = kernels.avg_pool2d_forward(x, 2)
        assert kernels.avg_pool2d_backward(a, x.shape, 2).shape == x.shape


def test_auto_runs_numpy_until_the_kernel_is_ready(monkeypatch):
    """"auto": numpy while the Numba kernel is not ready (and it is asked for), Numba after."""
    calls, asked = [], []
    for module, label in ((vectorized, "numpy"), (fast, "fast")):
        real = module.avg_pool2d_forward
        monkeypatch.setattr(module, "avg_pool2d_forward",
                            lambda *a, real=real, label=label: calls.append(label) or real(*a))
    monkeypatch.setattr(compiler, "request", lambda task, build: asked.append(task))
    monkeypatch.setattr(kernels, "_JIT", True)
    task = ("avg_pool2d_forward", "any", "float32")
    x = np.ones((1, 1, 6, 6), np.float32)
    monkeypatch.setattr(compiler._compiler, "ready", set())
    assert kernels.avg_pool2d_forward(x, 3).dtype == np.float32
    assert calls == ["numpy"] and asked == [task]
    compiler._compiler.ready.add(task)
    kernels.avg_pool2d_forward(x, 3)
    assert calls == ["numpy", "fast"]
    with pytest.raises(ValueError, match="larger than the padded input"):
        kernels.avg_pool2d_forward(x, 7)  # a mistake is reported, and asks for nothing
    assert asked == [task]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"), reason="needs Numba")
@pytest.mark.parametrize("task", [("conv2d_forward", "stride 1", "float32"),
                                  ("conv2d_backward", "stride 1, d_x, d_w", "float32")])
def test_compile_task_covers_both_stride_1_paths(tmp_path, task):
    """The tiny run of a stride-1 conv compiles the wide-row and the batch-rows
    kernels, so a fresh cache holds every kernel that task lists."""
    code = ("from gradgraph.kernels import fast;"
            f"fast.compile_task({task!r});"
            f"print(fast.is_cached({task!r}))")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"]


def test_auto_never_compiles_without_jit():
    code = ("import numpy as np, gradgraph.kernels as k;"
            "k.conv2d_forward(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)));"
            "print(k.get_backend(), k.compile_status().total, 'numba' in __import__('sys').modules)")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    env.pop("GRADGRAPH_KERNELS", None)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["auto", "0", "False"]


def test_environment_variable_selects_backend():
    code = "import gradgraph.kernels as k; print(k.get_backend())"
    env = dict(os.environ, GRADGRAPH_KERNELS="reference", NUMBA_DISABLE_JIT="1")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=root,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "reference"


def test_warmup_reports_progress_only_when_compiling():
    messages = []
    compiled = kernels.warmup(progress=messages.append)
    assert kernels.is_warm()
    assert compiled is False and messages == []  # the module fixture already compiled
    from gradgraph.kernels import _compile
    assert len(_compile.KERNELS) > 10
    assert set(fast.all_tasks()) <= compiler._compiler.ready or not _compile.jit_enabled()


def test_warmup_raises_when_a_kernel_fails_to_compile(monkeypatch):
    """A benchmark or test that asked for Numba must not silently time numpy instead."""
    if not _compile.jit_enabled():
        pytest.skip("no compiling under NUMBA_DISABLE_JIT=1")
    worker = compiler._Compiler()
    monkeypatch.setattr(compiler, "_compiler", worker)
    bad = ("conv2d_forward", "stride 1", "float32")
    monkeypatch.setattr(kernels, "_build", fake_build(fail={bad}))
    monkeypatch.setattr(fast, "all_tasks", lambda dtypes: [bad])
    messages = []
    with pytest.raises(RuntimeError, match=r"failed to compile.*conv2d_forward \(float32, stride 1\): "
                                           r"RuntimeError: LLVM says no"):
        kernels.warmup(progress=messages.append, dtypes=("float32",))
    assert any("failed to compile" in m for m in messages)
    worker.stop()


# ----------------------------------------------------------------------------
# the background compiler and its progress events
# ----------------------------------------------------------------------------


def fake_build(seconds=0.0, fail=(), cached=()):
    """A stand-in for Numba: 'compiles' by sleeping; fails or is cached for some tasks."""
    def build(task):
        time.sleep(seconds)
        if task in fail:
            raise RuntimeError("LLVM says no")

    build.is_cached = lambda task: task in cached
    return build


def test_compiler_reports_every_step_and_counts():
    worker = compiler._Compiler()
    events = []
    unsubscribe = worker.subscribe(events.append)
    one, two = ("conv2d_forward", "stride 1", "float32"), ("max_pool2d_forward", "2x2", "float32")
    build = fake_build(0.05, cached={two})
    with worker.lock:  # all three asked before the thread starts on the first
        worker.request(one, build)
        worker.request(two, build)
        worker.request(one, build)  # asked twice, compiled once
    assert worker.wait(10)
    unsubscribe()
    assert [(e.kind, e.kernel, e.done, e.total) for e in events if e.kind != "queued"] == [
        ("started", "conv2d_forward (float32, stride 1)", 0, 2),
        ("finished", "conv2d_forward (float32, stride 1)", 1, 2),
        ("started", "max_pool2d_forward (float32, 2x2)", 1, 2),
        ("finished", "max_pool2d_forward (float32, 2x2)", 2, 2),
        ("idle", "", 2, 2)]
    assert [e.cached for e in events if e.kind == "started"] == [False, True]
    assert str(events[-2]).startswith("kernel max_pool2d_forward (float32, 2x2) ready in")
    status = worker.status()
    assert (status.done, status.total, status.left, status.busy) == (2, 2, 0, False)
    assert status.ready == ("conv2d_forward (float32, stride 1)", "max_pool2d_forward (float32, 2x2)")
    worker.stop()


def test_started_counts_the_kernels_asked_for_while_the_first_was_looked_up():
    """Looking a kernel up in the disk cache first imports Numba (a tenth of a second):
    kernels asked for meanwhile count in its "n of m"."""
    worker = compiler._Compiler()
    events = []
    unsubscribe = worker.subscribe(events.append)
    one, two = ("conv2d_forward", "stride 1", "float32"), ("max_pool2d_forward", "any", "float32")
    build = fake_build()
    looking_up = threading.Event()

    def slow_lookup(task):
        looking_up.set()
        time.sleep(0.2)
        return False

    build.is_cached = slow_lookup
    worker.request(one, build)
    assert looking_up.wait(5)
    worker.request(two, build)
    assert worker.wait(10)
    unsubscribe()
    started = [e for e in events if e.kind == "started"]
    assert [(e.kernel, e.done, e.total) for e in started] == [
        ("conv2d_forward (float32, stride 1)", 0, 2), ("max_pool2d_forward (float32, any)", 1, 2)]
    assert str(started[0]) == "compiling kernel conv2d_forward (float32, stride 1) (1 of 2)"
    worker.stop()


def test_compiler_status_while_busy_and_failures():
    worker = compiler._Compiler()
    bad = ("conv2d_backward", "strided, d_w", "float64")
    slow = ("avg_pool2d_forward", "any", "float64")
    build = fake_build(0.3, fail={bad})
    worker.request(bad, build)
    worker.request(slow, build)
    time.sleep(0.1)
    status = worker.status()
    assert status.busy and status.compiling == compiler.task_name(bad)
    assert status.pending == (compiler.task_name(slow),) and status.left == 2
    assert worker.wait(10)
    assert bad in worker.failed and bad not in worker.ready and slow in worker.ready
    assert worker.status().failed == (compiler.task_name(bad),)
    worker.stop()


def test_broken_listener_is_dropped_and_print_progress(capsys, monkeypatch):
    worker = compiler._Compiler()
    monkeypatch.setattr(compiler, "_compiler", worker)

    def broken(event):
        raise RuntimeError("listener bug")

    kernels.subscribe(broken)
    unsubscribe = kernels.print_progress()
    task = ("conv2d_forward", "strided", "float32")
    compiler.request(task, fake_build())
    assert kernels.wait(10) and compiler.is_ready(task)
    unsubscribe()
    assert worker.listeners == []
    err = capsys.readouterr().err
    assert "compiling kernel conv2d_forward (float32, strided) (1 of 1)" in err
    assert "all 1 compiled kernel(s) in use" in err
    worker.stop()


def test_kernel_decorator_survives_unwritable_cache(monkeypatch):
    from gradgraph.kernels import _compile
    real_njit = _compile.numba.njit

    def njit(*args, cache=False, **kwargs):
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return real_njit(*args, **kwargs)

    monkeypatch.setattr(_compile.numba, "njit", njit)
    monkeypatch.setattr(_compile, "KERNELS", [])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @_compile.kernel()
        def double(a):
            return 2 * a

    assert double(21) == 42
    assert any("NUMBA_CACHE_DIR" in str(w.message) for w in caught)
    assert _compile.KERNELS == [double]


def test_compiler_stop_finishes_the_current_kernel_only():
    """At exit: the kernel being compiled is finished (and cached), the queue is dropped."""
    worker = compiler._Compiler()
    events = []
    worker.subscribe(events.append)
    first, second = ("conv2d_forward", "stride 1", "float64"), ("conv2d_forward", "strided", "float64")
    build = fake_build(0.3)
    worker.request(first, build)
    worker.request(second, build)
    time.sleep(0.1)
    worker.stop()
    assert worker.ready == {first} and not worker.thread.is_alive()
    assert [e.kind for e in events if e.kind != "queued"] == ["started", "finished", "stopped"]
    assert str(events[-1]) == "1 of 2 kernels compiled and cached; the rest compile next time"
    worker.request(("max_pool2d_backward", "any", "float64"), build)  # too late: ignored
    assert worker.status().total == 2
