"""Issue 10: the defects found by trying gradgraph as a new user, and the tensor API students expect."""
import warnings

import numpy as np
import pytest

import gradgraph as gg


# -- defects ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shapes", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,)), ((3,), (4, 3, 2))])
def test_matmul_with_vectors_backpropagates_both_ways(shapes):
    rng = np.random.default_rng(0)
    a, b = (gg.Tensor(rng.normal(size=s)) for s in shapes)
    assert gg.gradcheck(lambda x, y: x @ y, [a, b])
    out = a @ b
    (out if out.ndim == 0 else out.sum()).backward()  # the 0-d case used to raise numpy's AxisError
    assert a.grad.shape == a.shape and b.grad.shape == b.shape


def test_vector_dot_vector_gradients():
    a, b = gg.Tensor([1.0, 2.0, 3.0]), gg.Tensor([4.0, 5.0, 6.0])
    (a @ b).backward()
    assert a.grad.tolist() == [4, 5, 6] and b.grad.tolist() == [1, 2, 3]


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "logsumexp", "var", "std"])
def test_reductions_refuse_an_axis_out_of_range(method):
    x = gg.Tensor(np.ones((2, 3)))
    for axis in (5, -3, (0, 2), [1, 7]):
        with pytest.raises(ValueError, match=r"axis -?\d is out of range for a tensor of shape \(2, 3\)"):
            getattr(x, method)(axis=axis)
    with pytest.raises(ValueError, match="twice"):
        x.sum(axis=(1, -1))


def test_reduction_errors_name_the_gate():
    with pytest.raises(ValueError, match="^Sum: axis 5"):
        gg.Tensor(np.ones((2, 3))).sum(axis=5)
    with pytest.raises(ValueError, match="^Max: axis 2"):
        gg.Tensor(np.ones((2, 3))).max(axis=2)


@pytest.mark.parametrize("method", ["sum", "mean", "max", "min", "logsumexp"])
def test_reducing_a_0d_tensor_along_0_or_minus_1_returns_the_value(method):
    for axis in (0, -1):
        x = gg.Tensor(3.0)
        out = getattr(x, method)(axis)
        assert out.shape == () and out.item() == pytest.approx(3.0)
        out.backward()
        assert x.grad == pytest.approx(1.0)
    with pytest.raises(ValueError, match="0-d"):
        gg.Tensor(3.0).sum(1)


def test_axis_accepts_int_tuple_and_list():
    data = np.arange(24.0).reshape(2, 3, 4)
    x = gg.Tensor(data)
    for axis in (1, (0, 2), [0, 2], [-1]):
        np.testing.assert_allclose(x.sum(axis=axis).data, data.sum(axis=tuple(np.atleast_1d(axis))))
        np.testing.assert_allclose(x.max(axis=axis).data, data.max(axis=tuple(np.atleast_1d(axis))))


class _WrongLog(gg.Gate):
    """ln x with the backward off by a factor 2."""

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, d_out):
        return (2 * d_out / self.x,)


def test_gradcheck_never_passes_on_a_nan_numerical_gradient():
    x = gg.Tensor(np.array([1e-7]), name="x")  # within eps of log's domain edge: f(x - eps) is NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(gg.GradcheckError) as info:
            gg.gradcheck(lambda t: _WrongLog()(t), [x])
    message = str(info.value)
    assert "'x'" in message and "element (0,)" in message
    assert "non-finite numerical gradient" in message and "lower eps" in message


def test_gradcheck_names_the_element_that_is_not_finite():
    class NanBackward(gg.Gate):
        def forward(self, x):
            return x * 1.0

        def backward(self, d_out):
            g = np.ones_like(d_out)
            g[1] = np.nan
            return (g,)

    with pytest.raises(gg.GradcheckError, match=r"non-finite analytic gradient at element \(1,\)"):
        gg.gradcheck(lambda t: NanBackward()(t), [gg.Tensor(np.ones(3))])


def test_gatecheck_counts_a_nan_numerical_gradient_as_the_worst_error():
    from gradgraph.gatecheck import GateCase, worst_relative_error

    case = GateCase("wrong log", lambda t: _WrongLog()(t), lambda r, s: [np.full(s, 1e-7)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert worst_relative_error(case, np.random.default_rng(0), (2,)) == float("inf")


@pytest.mark.parametrize("base", [0.0, -2.0, 2.0, -0.5, 1.0, -1.0])
@pytest.mark.parametrize("exponent", [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 0.5, -1.5])
def test_number_to_a_tensor_power_agrees_with_numpy(base, exponent):
    with np.errstate(all="ignore"):
        expected = np.power(base, exponent)
    if not np.isfinite(expected):
        return  # numpy has no finite answer either (0 ** -1, (-2) ** 0.5)
    x = gg.Tensor(exponent)
    out = base ** x
    assert out.item() == pytest.approx(expected)
    with np.errstate(all="ignore"):
        out.backward()
    if base > 0:
        assert x.grad == pytest.approx(expected * np.log(base))
    elif base == 0:
        assert x.grad == 0  # 0^x is constant (0) for x > 0; torch's convention at x = 0
    else:
        assert np.isnan(x.grad)  # a negative base is only defined at integers: no derivative in x


def test_zero_to_the_zero_and_negative_base_examples_from_the_issue():
    assert (0.0 ** gg.Tensor(0.0)).item() == 1.0
    assert ((-2.0) ** gg.Tensor(-2.0)).item() == 0.25


def test_tensor_to_a_tensor_power():
    x, p = gg.Tensor(np.array([0.0, -2.0, 3.0])), gg.Tensor(np.array([0.0, 3.0, 0.5]))
    out = x ** p
    np.testing.assert_allclose(out.data, [1.0, -8.0, np.sqrt(3)])
    with np.errstate(all="ignore"):
        out.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 12.0, 0.5 / np.sqrt(3)])


def test_log_of_a_negative_number_has_a_nan_gradient():
    x = gg.Tensor(np.array([-1.0, 2.0]))
    with np.errstate(invalid="ignore"):
        out = x.log()
        out.sum().backward()
    assert np.isnan(out.data[0]) and np.isnan(x.grad[0])
    assert x.grad[1] == 0.5


def test_sqrt_of_a_negative_number_has_a_nan_gradient():
    x = gg.Tensor(np.array([-4.0, 4.0]))
    with np.errstate(invalid="ignore"):
        out = x.sqrt()
        out.sum().backward()
    assert np.isnan(out.data[0]) and np.isnan(x.grad[0]) and x.grad[1] == 0.25


@pytest.mark.parametrize("p, y, bad", [([0.5, 1.3], [0.0, 1.0], "probabilities"), ([0.5, -0.1], [0.0, 1.0], "probabilities"),
                                       ([0.5, 0.2], [0.0, 2.0], "targets"), ([np.nan, 0.2], [0.0, 1.0], "probabilities")])
def test_binary_cross_entropy_refuses_values_outside_0_1(p, y, bad):
    with pytest.raises(ValueError, match=rf"BinaryCrossEntropy: {bad} must be in \[0, 1\]; got .* at \(\d,\)"):
        gg.losses.binary_cross_entropy(gg.Tensor(p), y)


def test_cross_entropy_messages():
    with pytest.raises(ValueError, match="labels must be integer class indices 0..2, got strings"):
        gg.losses.cross_entropy(gg.Tensor(np.zeros((2, 3))), ["cat", "dog"])
    with pytest.raises(ValueError, match=r"scores must be \(N, C\) .* got shape \(2, 3, 4\)"):
        gg.losses.cross_entropy(gg.Tensor(np.zeros((2, 3, 4))), [0, 1])
    with pytest.raises(ValueError, match="the batch is empty"):
        gg.losses.cross_entropy(gg.Tensor(np.zeros((0, 3))), np.zeros(0, int))


# -- comparisons -----------------------------------------------------------------------------------

def test_comparisons_are_elementwise_without_gradient():
    x = gg.Tensor(np.array([-1.0, 0.0, 2.0]))
    y = gg.Tensor(np.array([0.0, 0.0, 3.0]))
    cases = {"<": (x < y, [1, 0, 1]), "<=": (x <= y, [1, 1, 1]), ">": (x > 0, [0, 0, 1]),
             ">=": (x >= 0, [0, 1, 1]), "==": (x == y, [0, 1, 0]), "!=": (x != y, [1, 0, 1])}
    for op, (out, expected) in cases.items():
        assert isinstance(out, gg.Tensor), op
        assert out.data.dtype == bool and out.data.tolist() == [bool(e) for e in expected], op
        assert not out.requires_grad and out.gate is None
    assert (0 < x).data.tolist() == [False, False, True]  # a number on the left
    masked = x * (x > 0)
    masked.sum().backward()
    assert x.grad.tolist() == [0, 0, 1]


def test_tensors_stay_hashable_by_identity():
    a, b = gg.Tensor(1.0), gg.Tensor(1.0)
    assert bool(a == b)  # equal values ...
    assert len({a, b}) == 2 and {a: "a", b: "b"}[b] == "b"  # ... but two keys
    assert (a == None) is False and (a != "a") is True  # noqa: E711: not numbers: compared by identity
    with pytest.raises(ValueError, match="ambiguous"):
        bool(gg.Tensor(np.ones(3)) == 1)


# -- operations students expect --------------------------------------------------------------------

def test_cat_and_stack():
    a, b = gg.Tensor(np.ones((2, 3))), gg.Tensor(np.zeros((4, 3)))
    c = gg.cat([a, b], axis=0)
    assert c.shape == (6, 3)
    (c * np.arange(18.0).reshape(6, 3)).sum().backward()
    np.testing.assert_allclose(a.grad, np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(b.grad, np.arange(6.0, 18).reshape(4, 3))
    s = gg.stack([a, gg.Tensor(np.zeros((2, 3)))], axis=-1)
    assert s.shape == (2, 3, 2)
    with pytest.raises(ValueError, match="Concatenate: shapes"):
        gg.cat([a, gg.Tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match="one shape"):
        gg.stack([a, b])


def test_shape_methods_follow_torch():
    x = gg.Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.transpose(-1, 1).shape == (2, 4, 3)
    assert x.T.shape == (4, 3, 2)
    assert x.permute(2, 0, 1).shape == (4, 2, 3) and x.permute([1, 0, 2]).shape == (3, 2, 4)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    y = gg.Tensor(np.ones((1, 3, 1)))
    assert y.squeeze().shape == (3,) and y.squeeze(0).shape == (3, 1) and y.squeeze(1).shape == (1, 3, 1)
    assert y.squeeze((0, 2)).shape == (3,)
    with pytest.raises(TypeError, match="permute"):
        x.transpose((2, 1, 0))
    with pytest.raises(ValueError, match="unsqueeze: axis 5"):
        x.unsqueeze(5)
    with pytest.raises(ValueError, match="each of the 3 axes"):
        x.permute(0, 1)


def test_argmax_clamp_min_var_std_logsumexp():
    data = np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 2.0]])
    x = gg.Tensor(data)
    assert x.argmax().item() == 3 and x.argmax(1).data.tolist() == [1, 0]
    assert x.argmax(axis=0).data.dtype == np.int64 and not x.argmax(0).requires_grad
    assert x.argmax([1]).data.tolist() == [1, 0] and x.argmax(1, keepdims=True).shape == (2, 1)
    with pytest.raises(ValueError, match="one axis at a time"):
        x.argmax((0, 1))
    with pytest.raises(ValueError, match="argmax: axis 2 is out of range"):
        x.argmax(2)
    assert x.clamp(2, 5).data.tolist() == [[2, 5, 3], [5, 2, 2]]
    assert x.clamp(hi=2).data.max() == 2 and x.clamp(lo=6).data.min() == 6
    assert x.min(axis=1).data.tolist() == [1, 2]
    np.testing.assert_allclose(x.var(axis=1).data, data.var(axis=1))
    np.testing.assert_allclose(x.std().data, data.std())
    big = gg.Tensor(np.array([1000.0, 1000.0]))
    assert big.logsumexp().item() == pytest.approx(1000 + np.log(2))  # no overflow
    with pytest.raises(ValueError, match="Clamp: lo"):
        x.clamp(3, 1)
