"""The later lessons (14-18) and their helpers: what each one computes, checked against known numbers."""
import subprocess
import sys

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import lessons
from gradgraph.data import mnist


@pytest.fixture(scope="module")
def lesson():
    cache = {}

    def get(key):
        if key not in cache:
            cache[key] = lessons.load(key)
        return cache[key]
    return get


def test_lessons_listing_names_the_course_topics():
    out = subprocess.run([sys.executable, "-m", "gradgraph", "lessons"], capture_output=True, text=True).stdout
    for topic in ("transfer learning", "overfitting", "regularization", "dropout", "weight decay", "early stopping",
                  "augmentation", "initialization", "Xavier", "Kaiming", "learning-rate schedules",
                  "logistic regression", "binary cross-entropy", "nearest neighbour", "templates", "im2col",
                  "AlexNet", "VGG", "GoogLeNet", "ResNet", "saddle points", "precision", "recall", "top-5"):
        assert topic in out, topic


def test_load_local_falls_back_to_the_starter_set(monkeypatch):
    def missing(*args, **kwargs):
        assert kwargs.get("download") is False, "load_local must never download"
        raise mnist.DatasetNotFoundError("no copy here")

    monkeypatch.setattr(mnist, "load_mnist", missing)
    x, y, name = gg.data.load_local("fashion-mnist", "test")
    assert name == "fashion-mnist-starter" and x.shape == (1000, 28, 28) and len(y) == 1000
    assert gg.data.load_local("fashion-mnist", "test", full=False)[2] == "fashion-mnist-starter"


def test_architecture_tables_match_the_published_counts(lesson):
    arch = lesson("architectures")
    totals = {name: arch.summarize(layers, shape)[1] for name, (shape, layers) in arch.ARCHITECTURES.items()}
    assert totals["LeNet-5"] == gg.nn.LeNet5().num_parameters() == 61_706
    assert totals["AlexNet"] == 62_378_344          # one-GPU AlexNet (torchvision's count without groups)
    assert totals["VGG-16"] == 138_357_544
    assert totals["ResNet-18"] == 11_689_512
    assert 6.9e6 < totals["GoogLeNet"] < 7.1e6
    rows, _, _ = arch.summarize(*reversed(arch.ARCHITECTURES["VGG-16"]))
    assert rows[-1][2] == (1000, 1, 1) and [r for r in rows if r[0] == "pool5"][0][2] == (512, 7, 7)


def test_residual_network_passes_the_gradient_where_the_plain_one_loses_it(lesson):
    arch = lesson("architectures")
    plain, residual = arch.gradient_flow("plain", steps=0), arch.gradient_flow("residual", steps=0)
    assert max(plain["norms"]) < 1e-6 < min(residual["norms"])


def test_kaiming_keeps_the_signal_and_small_init_loses_it(lesson):
    init = lesson("initialization")
    x, y = init.images(quick=True, limit=64)
    small, _ = init.depth("small", x, y, layers=6, width=64)
    kaiming, _ = init.depth("kaiming", x, y, layers=6, width=64)
    assert small[-1] < 1e-6 and 0.3 < kaiming[-1] < 3


def test_zero_initialization_never_leaves_the_uniform_guess(lesson):
    result = lesson("initialization").symmetry(quick=True, steps=20)
    assert result["zeros"]["loss"] == pytest.approx(np.log(10), abs=0.01)
    assert result["constant 0.01"]["unit_difference"] < 1e-6 < result["kaiming"]["unit_difference"]


def test_momentum_escapes_the_local_minimum(lesson):
    init = lesson("initialization")
    assert init.descend(init.J, 2.0, 0.01)[-1] == pytest.approx(1.131, abs=0.01)
    assert init.descend(init.J, 2.0, 0.01, momentum=0.9)[-1] == pytest.approx(-1.301, abs=0.01)


def test_knn_distances_im2col_and_template_matching(lesson):
    base = lesson("baselines_templates")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    assert np.allclose(base.distances(a, b), ((a[:, None] - b[None]) ** 2).sum(-1))
    image, filters = rng.normal(size=(2, 5, 5)), rng.normal(size=(3, 2, 3, 3))
    cols = base.im2col(image, 3, stride=2, padding=1)
    with gg.no_grad():
        conv = gg.conv2d(gg.Tensor(image[None]), gg.Tensor(filters), stride=2, padding=1).data[0]
    assert np.allclose((filters.reshape(3, -1) @ cols).reshape(conv.shape), conv)
    x, y, x_test, y_test, _ = base.load(quick=True)
    canvas, bag, corner = base.scene(x_test, y_test)
    ncc = base.match(canvas, bag)
    assert np.unravel_index(int(np.argmax(ncc)), ncc.shape) == corner and ncc.max() == pytest.approx(1, abs=1e-3)


def test_metrics_precision_recall_top5(lesson):
    base = lesson("baselines_templates")
    scores = np.zeros((4, 10))
    scores[0, 0] = scores[1, 0] = scores[2, 1] = 1.0       # predictions 0, 0, 1 and (all tied) 0
    scores[3, 9] = -1.0
    m = base.metrics(scores, np.array([0, 1, 1, 9]))
    assert m["top1_error"] == 0.5
    assert m["precision"][0] == pytest.approx(1 / 3) and m["recall"][1] == pytest.approx(0.5)
    assert m["top5_error"] == 0.25                        # class 9 scored lowest: not in the top 5


def test_frozen_layers_do_not_change_in_transfer(lesson):
    transfer = lesson("transfer_learning")
    pretrained = gg.nn.LeNet5(num_classes=5, rng=3)
    model, groups = transfer.transferred(pretrained, "frozen")
    assert np.array_equal(model.conv1.weight.data, pretrained.conv1.weight.data)
    assert not model.conv2.weight.requires_grad and model.fc1.weight.requires_grad
    before = model.conv1.weight.data.copy()
    x = np.random.default_rng(0).normal(size=(16, 1, 28, 28)).astype(np.float32)
    transfer.train(model, groups, x, np.arange(16) % 5, steps=2)
    assert np.array_equal(model.conv1.weight.data, before)
    assert len(transfer.few_labels(x, np.arange(16) % 4, 8)[0]) == 8


def test_class_activation_map_sits_over_the_cells_receptive_fields(lesson):
    looking = lesson("looking_inside")
    cam = np.zeros((10, 10))
    cam[2, 2] = 1.0                                   # cell 2 is centred on pixel 2 * 2 + 4.5 = 8.5
    image = looking.cam_to_image(cam)
    assert image.shape == (28, 28)
    row = image[8]
    assert row[8] == row[9] == row.max() == pytest.approx(0.75 * 0.75)
    assert row[6] == 0 and row[11] == 0               # stretching 10 cells over 28 pixels would light 6 and 7
    cam = np.zeros((10, 10))
    cam[9, 9] = 1.0                                   # the last cell: pixel 22.5 and the border beyond it
    assert looking.cam_to_image(cam)[23:, 23:].min() == 1.0 and looking.cam_to_image(cam)[20, 20] == 0


def test_the_example_lesson_in_the_teachers_guide_works(tmp_path, monkeypatch):
    from pathlib import Path

    from gradgraph import export

    guide = (Path(__file__).resolve().parents[1] / "docs" / "writing_lessons.md").read_text()
    source = guide.split("## The protocol")[1].split("```python\n")[1].split("```")[0]
    (tmp_path / "21_my_topic.py").write_text(source)
    monkeypatch.setenv(lessons.LESSONS_ENV, str(tmp_path))
    (listed,) = lessons.list_lessons()
    assert listed.title.startswith("21. ") and listed.summary.startswith("one line") and listed.exercises == ("7.1",)
    module = lessons.load(21)
    assert module.run(quick=True) == {"f": -12.0}
    assert len(module.figures(quick=True)) == 1
    assert isinstance(module.trainer(quick=True), gg.train.Trainer)
    assert export.export_lesson(21, frames_dir=tmp_path / "frames")["frames"] == len(gg.Stepper(module.build()))
