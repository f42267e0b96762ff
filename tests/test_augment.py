"""Data augmentation: each transform's effect, the registry, and the Trainer's use of it."""
import numpy as np
import pytest

import gradgraph as gg
from gradgraph.data import augment as aug


def _images(n=4, h=6, w=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1.0, size=(n, 1, h, w)).astype(np.float32)
    return x


def test_shift_moves_each_image_by_whole_pixels_and_fills_with_background():
    x = _images(8)
    out = aug.RandomShift(2)(x, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    for k in range(len(x)):
        found = False
        for di in range(-2, 3):
            for dj in range(-2, 3):
                shifted = np.full_like(x[k], x[k].min())
                src = x[k][:, max(0, -di):6 - max(0, di), max(0, -dj):6 - max(0, dj)]
                shifted[:, max(0, di):6 + min(0, di), max(0, dj):6 + min(0, dj)] = src
                found |= np.array_equal(shifted, out[k])
        assert found, f"image {k} is not a shift of the input"
    assert not np.array_equal(out, x)  # eight images: some moved


def test_crop_to_a_smaller_size_and_its_range_check():
    x = _images(3, 8, 8)
    out = aug.RandomCrop(padding=0, size=5)(x, np.random.default_rng(0))
    assert out.shape == (3, 1, 5, 5)
    for k in range(3):  # each window is a 5x5 block of its image
        assert any(np.array_equal(out[k], x[k][:, i:i + 5, j:j + 5]) for i in range(4) for j in range(4))
    with pytest.raises(ValueError, match="does not fit"):
        aug.RandomCrop(padding=1, size=11)(x, np.random.default_rng(0))


def test_flip_mirrors_some_images_and_keeps_the_rest():
    x = _images(40)
    out = aug.RandomFlip(0.5)(x, np.random.default_rng(2))
    flipped = [np.array_equal(out[k], x[k, :, :, ::-1]) for k in range(40)]
    kept = [np.array_equal(out[k], x[k]) for k in range(40)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 5 < sum(flipped) < 35
    assert np.array_equal(aug.RandomFlip(1.0, vertical=True)(x, np.random.default_rng(0)), x[:, :, ::-1])


def test_rotation_by_zero_is_the_identity_and_90_degrees_turns_the_image():
    x = _images(2, 5, 5)
    assert np.allclose(aug.RandomRotation(0)(x, np.random.default_rng(0)), x, atol=1e-6)

    class Fixed:  # an rng whose uniform() always returns the upper end: +90 degrees
        def uniform(self, low, high, size):
            return np.full(size, high)

    turned = aug.RandomRotation(90)(x, Fixed())
    assert np.allclose(turned, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5) or \
        np.allclose(turned, np.rot90(x, k=-1, axes=(2, 3)), atol=1e-5)


def test_small_rotation_keeps_the_centre_and_changes_the_edges():
    x = np.zeros((1, 1, 9, 9), dtype=np.float32)
    x[0, 0, 4, :] = 1.0  # a horizontal bar through the centre
    out = aug.RandomRotation(30)(x, np.random.default_rng(3))
    assert out[0, 0, 4, 4] == pytest.approx(1.0, abs=1e-6)
    assert not np.allclose(out, x)


def test_noise_has_the_asked_spread():
    x = np.zeros((50, 1, 20, 20), dtype=np.float32)
    out = aug.GaussianNoise(0.3)(x, np.random.default_rng(0))
    assert out.std() == pytest.approx(0.3, rel=0.05) and out.dtype == np.float32


def test_transforms_leave_the_input_unchanged():
    x = _images(6)
    before = x.copy()
    for t in (aug.RandomShift(2), aug.RandomFlip(1.0), aug.RandomRotation(20), aug.GaussianNoise(0.1)):
        t(x, np.random.default_rng(0))
        assert np.array_equal(x, before), t


def test_make_augment_names_and_errors():
    assert aug.make_augment(None) is None and aug.make_augment("none") is None
    assert isinstance(aug.make_augment("flip"), aug.RandomFlip)
    both = aug.make_augment("shift+noise")
    assert isinstance(both, aug.Compose) and len(both.transforms) == 2
    f = lambda x, rng: x  # noqa: E731
    assert aug.make_augment(f) is f
    with pytest.raises(ValueError, match="unknown augmentation 'sideways'.*shift"):
        aug.make_augment("sideways")
    with pytest.raises(ValueError, match="RandomRotation: degrees"):
        aug.RandomRotation(400)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        aug.RandomFlip()(np.zeros((3, 3)), np.random.default_rng(0))


def test_trainer_augments_training_batches_only():
    seen = []

    def spy(x, rng):
        seen.append(x.copy())
        return x + 100.0

    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    y = np.arange(20) % 2
    model = gg.nn.Linear(4, 2, rng=0)
    trainer = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.0), (x, y), (x, y), epochs=1,
                               batch_size=10, augment=spy)
    records = list(trainer.records())
    assert len(seen) == 2  # two training batches; evaluation did not call it
    val_loss, _ = trainer.evaluate(x, y)
    assert records[-1].kind == "done" and np.isfinite(val_loss)
    # with lr 0 the model is unchanged, so the training loss (on x + 100) differs from the validation loss
    assert trainer.history[0].loss != pytest.approx(trainer.history[0].val_loss)
    with pytest.raises(ValueError, match="unknown augmentation"):
        gg.train.Trainer(model, gg.optim.SGD(model.parameters()), (x, y), augment="bogus")


def test_augmentation_keeps_the_batch_order():
    x = np.random.default_rng(0).normal(size=(30, 1, 4, 4)).astype(np.float32)
    y = np.arange(30) % 3

    def order(augment):
        labels = []
        model = gg.nn.Sequential(gg.nn.Flatten(), gg.nn.Linear(16, 3, rng=0))
        trainer = gg.train.Trainer(model, gg.optim.SGD(model.parameters(), lr=0.0), (x, y), epochs=2,
                                   batch_size=7, augment=augment, seed=4)
        original = trainer.loss_fn
        trainer.loss_fn = lambda logits, yb: (labels.append(yb.copy()), original(logits, yb))[1]
        list(trainer.records())
        return np.concatenate(labels)

    assert np.array_equal(order(None), order("standard"))
