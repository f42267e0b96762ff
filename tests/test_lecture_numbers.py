"""The lecture's worked numbers, computed by the engine and by the lessons that teach them.

If one of these fails, the lesson text (which quotes these numbers) is wrong too.
"""
import math

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import lessons


@pytest.fixture(scope="module")
def results():
    cache = {}

    def get(number):
        if number not in cache:
            cache[number] = lessons.load(number).run(quick=True)
        return cache[number]

    return get


def test_chain_rule_engine():
    x, y, z = gg.Tensor(-2.0), gg.Tensor(5.0), gg.Tensor(-4.0)
    q = x + y
    f = q * z
    f.backward()
    assert (float(q.data), float(f.data)) == (3.0, -12.0)
    assert (float(x.grad), float(y.grad), float(z.grad)) == (-4.0, -4.0, 3.0)


def test_chain_rule_lesson(results, capsys):
    r = results(1)
    assert (r["q"], r["f"]) == (3.0, -12.0)
    assert (r["df_dx"], r["df_dy"], r["df_dz"]) == (-4.0, -4.0, 3.0)
    assert r["nudged"]["x"] == pytest.approx(-4.0) and r["nudged"]["z"] == pytest.approx(3.0)


def test_patterns_lesson(results, capsys):
    r = results(2)
    assert r["f"] == -20.0
    assert (r["df_dx"], r["df_dy"], r["df_dz"], r["df_dw"]) == (-8.0, 6.0, 2.0, 0.0)
    assert (r["h"], r["dh_dx"], r["accumulated"]) == (-9.0, -3.0, -6.0)


def test_sigmoid_neuron(results, capsys):
    r = results(3)
    assert r["f"] == pytest.approx(0.7311, abs=1e-4)
    assert r["local"] == pytest.approx(0.1966, abs=1e-4)
    g = r["grads"]
    assert (round(g["w0"], 3), round(g["x0"], 3), round(g["w1"], 3), round(g["x1"], 3), round(g["w2"], 3)) == \
        (-0.197, 0.393, -0.393, -0.590, 0.197)
    assert r["same"]


def test_gradient_check_numbers(results, capsys):
    r = results(4)
    assert r["float32_error_at_1e-6"] == pytest.approx(0.24, abs=0.005)
    assert r["float32_gradient_at_1e-7"] == 0.0
    assert r["kink_numerical"] == pytest.approx(0.75) and r["kink_error"] == pytest.approx(0.25)
    assert r["best_error_float64"] < 1e-10
    assert "input 0 ('x')" in r["bug_message"]


SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])


def test_svm_loss_engine():
    gate = gg.losses.MulticlassHinge(LABELS)
    total = gate(gg.Tensor(SCORES))
    assert np.allclose(gate.per_example, [2.9, 0.0, 12.9])
    assert float(total.data) == pytest.approx(15.8 / 3) and round(float(total.data), 2) == 5.27


def test_svm_loss_lesson_and_the_slide_slip(results, capsys):
    r = results(6)
    assert np.allclose(r["svm_per_image"], [2.9, 0.0, 12.9]) and round(r["svm"], 2) == 5.27
    # the slide: the +1 margin dropped in the frog row -> 10.9 and a mean of 4.6
    assert r["slide_frog"] == pytest.approx(10.9) and round(r["slide_mean"], 1) == 4.6


def test_cross_entropy(results, capsys):
    loss = gg.losses.cross_entropy(SCORES[:1], LABELS[:1])
    assert round(float(loss.data), 2) == 2.04
    r = results(6)
    assert np.round(r["exp"], 2).tolist() == [24.53, 164.02, 0.18]
    assert np.round(r["p"], 2).tolist() == [0.13, 0.87, 0.0]
    assert round(r["ce"], 2) == 2.04 and round(r["ce_engine"], 2) == 2.04
    assert round(r["ce_log10"], 2) == 0.89          # the slide's number is log base 10
    assert round(-math.log10(0.13), 2) == 0.89
    assert r["init_ce"] == pytest.approx(math.log(10), abs=0.01)
    assert r["init_svm"] == pytest.approx(9.0, abs=0.05)


def test_gradient_descent_update(results, capsys):
    theta = gg.Tensor(-2.0)
    theta.grad = np.array(-36.0)
    gg.optim.SGD([theta], lr=0.01).step()
    assert float(theta.data) == pytest.approx(-1.64)
    r = results(7)
    assert r["gradient"] == -36.0 and r["update"] == pytest.approx(-1.64)
    finals = r["finals"]
    assert round(finals[0.001], 2) == -1.15 and round(finals[0.01], 2) == -0.25
    assert abs(finals[0.2]) > 1e6           # diverges
    assert r["valley_steps"] == {"gradient descent (lr 0.019)": 295, "momentum (lr 0.01, mu 0.9)": 109,
                                 "Adam (lr 0.1)": 110}


def test_conv_output_size_example(results, capsys):
    out = gg.conv2d(np.arange(9.0).reshape(1, 1, 3, 3), np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2),
                    stride=2, padding=1)
    assert out.shape == (1, 1, 2, 2)
    assert out.data[0, 0].tolist() == [[0.0, 8.0], [21.0, 43.0]]
    assert (3 + 2 * 1 - 1 * (2 - 1) - 1) // 2 + 1 == 2
    r = results(9)
    assert r["output_size"] == 2 and r["example"] == [[0.0, 8.0], [21.0, 43.0]]
    assert r["conv_1d"] == [-1.0, -4.0, 3.0, 1.0, 0.0, 2.0, -2.0]
    assert r["corr_1d"] == [1.0, 4.0, -3.0, -1.0, 0.0, -2.0, 2.0]
    assert r["valid_1d"] == [4.0, -3.0, -1.0, 0.0, -2.0]
    assert r["kernel_sums"]["Sobel x (not sharpening!)"] == 0.0 and r["kernel_sums"]["sharpen"] == 1.0
    assert r["kernel_sums"]["wider Gaussian blur"] == pytest.approx(1.0)


def test_lenet_parameter_count():
    model = gg.nn.LeNet5()
    counts = {name: p.size for name, p in model.named_parameters()}
    per_layer = {layer: counts[f"{layer}.weight"] + counts[f"{layer}.bias"]
                 for layer in ("conv1", "conv2", "fc1", "fc2", "fc3")}
    assert per_layer == {"conv1": 156, "conv2": 2416, "fc1": 48120, "fc2": 10164, "fc3": 850}
    assert model.num_parameters() == 61706       # "about 60k parameters"
