"""The Tensor API and the autograd loop: what users of the Python API rely on."""
import numpy as np
import pytest

import gradgraph as gg


def test_lecture_example_x_plus_y_times_z():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    q = x + y
    f = q * z
    f.backward()
    assert q.item() == 3 and f.item() == -12
    assert (x.grad, y.grad, z.grad) == (-4, -4, 3)
    assert q.grad == -4  # intermediates keep the gradient of the latest pass


def test_multiclass_svm_lecture_numbers():
    # Rows are images (cat, car, frog); columns are class scores in the order cat, car, frog.
    scores = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    per_image = [gg.losses.hinge(gg.Tensor(s), [label]).item() for label, s in enumerate(scores[:, None])]
    assert per_image == pytest.approx([2.9, 0.0, 12.9])
    assert gg.losses.hinge(gg.Tensor(scores), [0, 1, 2]).item() == pytest.approx(15.8 / 3)
    assert round(gg.losses.hinge(gg.Tensor(scores), [0, 1, 2]).item(), 2) == 5.27


def test_softmax_cross_entropy_uses_the_natural_log():
    loss = gg.losses.cross_entropy(gg.Tensor([3.2, 5.1, -1.7]), 0).item()
    assert loss == pytest.approx(2.04, abs=0.005)
    p_cat = np.exp(3.2) / np.exp([3.2, 5.1, -1.7]).sum()
    assert -np.log10(p_cat) == pytest.approx(0.89, abs=0.01)  # the slide's base-10 number


def test_a_node_used_twice_accumulates():
    x = gg.Tensor(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0


def test_leaf_gradients_accumulate_across_backward_calls_until_reset():
    x = gg.Tensor(2.0)
    (x * 3).backward()
    (x * 3).backward()
    assert x.grad == 6.0
    x.zero_grad()
    assert x.grad is None
    (x * 3).backward()
    assert x.grad == 3.0


def test_numbers_on_either_side_and_augmented_assignment():
    a = gg.Tensor(2.0)
    out = (1 + a) * 3 - 4 / a + a ** 2 - (2 - a) + (-a)
    out.backward()
    # d/da of 3(1 + a) - 4/a + a^2 - 2 + a - a = 3 + 4/a^2 + 2a
    assert a.grad == pytest.approx(3 + 4 / 4 + 4)
    c = a
    c += 1
    assert c is not a and c.gate is not None and a.item() == 2.0


def test_broadcasting_sums_gradients_back_to_each_shape():
    x = gg.Tensor(np.ones((4, 3)))
    b = gg.Tensor(np.array([1.0, 2.0, 3.0]))
    s = gg.Tensor(2.0)
    ((x + b) * s).sum().backward()
    assert b.grad.shape == (3,) and np.allclose(b.grad, 8.0)
    assert s.grad.shape == () and s.grad == pytest.approx(((np.ones((4, 3)) + [1, 2, 3])).sum())


def test_non_scalar_backward_needs_a_gradient():
    x = gg.Tensor(np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 2.0, 3.0]))
    assert np.allclose(x.grad, [2, 4, 6])


def test_backward_of_a_100000_op_chain_is_iterative():
    x = gg.Tensor(1.0)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0


def test_dtypes_and_properties():
    t = gg.Tensor([1, 2, 3], name="t")
    assert t.dtype == np.float64 and t.shape == (3,) and t.name == "t"
    assert gg.Tensor(np.zeros(2, dtype=np.float32)).dtype == np.float32
    assert (gg.Tensor(np.zeros(2, dtype=np.float32)) * 2).dtype == np.float32
    assert gg.Tensor(5).item() == 5.0 and gg.Tensor(5).shape == ()


@pytest.mark.parametrize("big", [1000.0, -1000.0])
def test_stable_at_extreme_inputs(big):
    x = gg.Tensor(big)
    for fn in (lambda t: t.sigmoid(), lambda t: t.tanh()):
        x.zero_grad()
        out = fn(x)
        out.backward()
        assert np.isfinite(out.item()) and np.isfinite(x.grad)
    logits = gg.Tensor(np.array([[big, 0.0, -big], [0.0, big, 2.0]]))
    for fn in (lambda t: t.softmax().sum(), lambda t: t.log_softmax()[:, 1].sum(),
               lambda t: gg.losses.cross_entropy(t, [2, 1])):
        logits.zero_grad()
        out = fn(logits)
        out.backward()
        assert np.isfinite(out.item()) and np.all(np.isfinite(logits.grad))


def test_shape_errors_name_the_gate_and_both_shapes():
    with pytest.raises(ValueError, match=r"MatMul.*\(2, 3\).*\(2, 3\)"):
        gg.Tensor(np.ones((2, 3))) @ gg.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\)"):
        gg.Tensor(np.ones((2, 3))) + gg.Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"CrossEntropy.*\(2, 3\).*\(3,\)"):
        gg.losses.cross_entropy(gg.Tensor(np.ones((2, 3))), [0, 1, 2])
    with pytest.raises(ValueError, match=r"out of range.*3 classes"):
        gg.losses.cross_entropy(gg.Tensor(np.ones((2, 3))), [0, 3])
    with pytest.raises(ValueError, match=r"out of range"):
        gg.losses.hinge(gg.Tensor(np.ones((1, 3))), [-1])
    with pytest.raises(ValueError, match=r"mse.*\(3, 1\).*\(3,\)"):
        gg.losses.mse(gg.Tensor(np.ones((3, 1))), np.ones(3))


def test_a_users_own_gate_records_a_node_and_shape_errors_name_it():
    class MultiplyGate(gg.Gate):
        def forward(self, x, y):
            self.x, self.y = x, y
            return x * y

        def backward(self, d_out):
            return d_out * self.y, d_out * self.x

    a, b = gg.Tensor(3.0), gg.Tensor(-2.0)
    out = MultiplyGate()(a, b)
    assert out.gate.name == "MultiplyGate" and out.parents == (a, b)
    out.backward()
    assert (a.grad, b.grad) == (-2.0, 3.0)

    class BadGate(gg.Gate):
        def forward(self, x):
            return x.sum()

        def backward(self, d_out):
            return (np.ones(7),)

    with pytest.raises(ValueError, match=r"BadGate.*\(7,\).*\(2, 2\)"):
        BadGate()(gg.Tensor(np.ones((2, 2)))).backward()


def test_no_grad_records_nothing():
    x = gg.Tensor(2.0)
    with gg.no_grad():
        y = x * 3
    assert y.gate is None and not y.requires_grad
    assert (x * 3).gate is not None


def test_max_routes_and_maximum_ties_go_to_the_first_input():
    x = gg.Tensor(np.array([1.0, 5.0, 3.0]))
    x.max().backward()
    assert np.array_equal(x.grad, [0, 1, 0])
    a, b = gg.Tensor(2.0), gg.Tensor(2.0)
    gg.maximum(a, b).backward()
    assert (a.grad, b.grad) == (1.0, 0.0)


def test_methods_exist_and_compose():
    x = gg.Tensor(np.arange(6.0).reshape(2, 3) / 10)
    out = (x.exp().log() + x.relu() + x.leaky_relu(0.2) + x.sigmoid() + x.tanh()).T.reshape(3, 2)
    out = out.mean(axis=0).sum() + x.max(axis=1).sum() + x.softmax().sum() + x.log_softmax(axis=0).sum()
    out = out + x.T.sum() + gg.losses.mse(x, np.zeros((2, 3))) + gg.losses.l1(x, np.ones((2, 3)))
    out.backward()
    assert x.grad.shape == (2, 3) and np.all(np.isfinite(x.grad))


def test_binary_cross_entropy_value_and_finite_when_confidently_wrong():
    loss = gg.losses.binary_cross_entropy(gg.Tensor([0.9, 0.2]), [1.0, 0.0])
    assert loss.item() == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2)
    p = gg.Tensor([1.0])
    wrong = gg.losses.binary_cross_entropy(p, [0.0])
    wrong.backward()
    assert np.isfinite(wrong.item()) and np.isfinite(p.grad).all()


def test_a_gate_without_backward_cannot_be_made():
    class HalfGate(gg.Gate):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="backward"):
        HalfGate()


# -- backprop: the one chain-rule loop ----------------------------------------------------

def test_backprop_yields_each_gate_with_its_complete_gradient_in_reverse_order():
    x, y, z = gg.Tensor(-2.0, name="x"), gg.Tensor(5.0, name="y"), gg.Tensor(-4.0, name="z")
    q = x + y
    f = q * z
    steps = list(gg.backprop(f, np.array(1.0)))
    order = [s.node for s in steps]                   # reverse of the order x, y, q, z, f
    assert [id(n) for n in order] == [id(f), id(z), id(q), id(y), id(x)]
    by_node = {id(s.node): s for s in steps}
    assert by_node[id(f)].d_out == 1.0 and by_node[id(f)].d_inputs == (-4.0, 3.0)  # df/dq = z, df/dz = q
    assert by_node[id(q)].d_out == -4.0 and by_node[id(q)].d_inputs == (-4.0, -4.0)
    assert by_node[id(z)].d_out == 3.0 and by_node[id(z)].d_inputs == ()          # a leaf: complete
    assert x.grad is None                             # it only yields: nothing is written


def test_backprop_sums_the_uses_of_a_value_before_yielding_it():
    x = gg.Tensor(3.0, name="x")
    a, b = x * 2.0, x * 5.0
    f = a + b
    grads = {}
    walk = gg.backprop(f, np.array(1.0), grads=grads)
    first = next(walk)
    assert first.node is f and id(x) not in grads            # nothing has reached x yet
    rest = list(walk)
    (leaf,) = [s for s in rest if s.node is x]
    assert leaf.d_out == 7.0 and grads[id(x)] == 7.0          # 2 + 5: both uses, summed


def test_needs_grad_is_decided_when_the_node_is_recorded():
    x = gg.Tensor(2.0)
    c = gg.Tensor(3.0, requires_grad=False)
    out = x * c
    assert out.gate.needs_grad == (True, False)               # before any backward
    assert gg.backprop(out, np.array(1.0)).__next__().d_inputs == (3.0, None)


def test_a_gate_object_called_twice_records_a_copy():
    mul = gg.ops.Multiply()
    x, y, z = gg.Tensor(2.0), gg.Tensor(3.0), gg.Tensor(4.0)
    a = mul(x, y)
    f = mul(a, z)
    assert a.gate is mul and f.gate is not mul and type(f.gate) is type(mul)
    f.backward()
    assert (x.grad, y.grad, z.grad) == (12.0, 8.0, 6.0)
