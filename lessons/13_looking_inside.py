"""# 13. Looking inside a trained network

Backpropagation gives the gradient of the loss with respect to *everything*
in the graph, not only the weights. So far we used the weight gradients to
learn. Ask instead for the gradient with respect to the **input image**, or to
a hidden layer, and the same machinery explains what the trained network
looks at.

## Saliency: which pixels matter?

Take a trained network, an image `x` and the score `s_c(x)` of a class `c`
(the logit, before the softmax). The input gradient

    saliency = | ∂s_c / ∂x |

says, pixel by pixel, how much a small change would move the score. Bright
pixels are the ones the decision is most sensitive to. It costs one backward
pass with the weights held fixed. (In gradgraph the image is just a Tensor
that requires a gradient: `image.grad` after `score.backward()`.) The raw
gradient of a ReLU network is speckled with noise; averaging it over a few
copies of the image with a little noise added (**SmoothGrad**: 16 copies in
one batch, one backward pass) gives a clearer map.

## Class activation maps: where is the evidence?

The last convolutional layer still knows *where* things are: LeNet's `conv2`
gives 16 maps `A_k` of 10 × 10. A **class activation map** (CAM) weighs
each map by how much it matters for class `c` and adds them up:

    CAM_c = ReLU( Σ_k α_k^c A_k )

The original CAM needs a network ending in global average pooling and takes
`α_k^c` from the last layer's weights. For any network (LeNet included) we
can use the average gradient, `α_k^c = mean over positions of ∂s_c / ∂A_k`
(this is **Grad-CAM**; for a global-average-pooling network it gives the
same map up to a constant). Laid over the image it shows where the evidence
for the class lies. Mind where the 10 × 10 cells sit: conv2's cell `r` looks
at a 14-pixel window centred on pixel `2r + 4.5` (conv1 pads by 2, pool1
halves, conv2's 5 × 5 filter spans 5 pooled cells), so the ten cell centres
run from pixel 4.5 to 22.5. Stretching the map over all 28 pixels would shift
the evidence outwards by up to 4 pixels; `cam_to_image` places each cell over
its own centre and interpolates between them.

## Dreaming: what does the network want to see?

Now hold the weights fixed and **optimize the input**: start from a blank
image and do gradient *ascent* on the score of one class,

    x ← x + η ( ∂s_c / ∂x - λ x )

(the `λ x` term keeps the pixels from growing without bound; each step here
is also normalized by the gradient's mean size, and every few steps the image
is blurred slightly, which favours smooth patterns over pixel noise). "Weights fixed" is literal:
inside `with frozen(model):` the parameters do not require gradients, so the
backward pass computes only the gradient with respect to the image. The result is
an image the network finds very "trouser-like" or "sneaker-like". `run()`
prints the probability the network gives each dream: close to 100%, although
to us they look nothing like clothing. A network's confidence is not
understanding; the same effect makes *adversarial examples* possible (tiny,
deliberate changes to a real image that flip its class). **DeepDream**
does the same on a real photo, amplifying whatever a chosen layer already
sees: maximize `Σ A²` of that layer's activations.

These pictures are exploratory, not proofs: gradients are noisy and
networks often rely on strange cues. But a network that is right for the
wrong reason (looking at the background, say) often gives itself away here.

## Try it

- `figures()`: saliency maps, class activation maps, and one dream per class.
- Change the class in `dream()` or dream from a real image instead of a blank
  one.
"""
import sys
from pathlib import Path

import numpy as np

import gradgraph as gg
from gradgraph import nn
from gradgraph.blas import limit_blas_threads
from gradgraph.checkpoint import load_checkpoint

SUMMARY = "Saliency (input gradients), class activation maps, and dreaming by gradient ascent on the input."

CLASSES = gg.data.CLASSES["fashion-mnist"]


def load(split, limit):
    images, labels = gg.data.load_starter(split)
    return gg.data.normalize_images(images[:limit], dataset="fashion-mnist"), labels[:limit]


_trained = {}
CHECKPOINT = "lesson13-lenet5.npz"  # written by tools/make_lesson13_checkpoint.py with trained_model() below


def checkpoint_path():
    """The bundled trained LeNet-5: the repository's assets/, or <prefix>/share/gradgraph."""
    for folder in (Path(__file__).resolve().parents[1] / "assets", Path(sys.prefix) / "share" / "gradgraph"):
        if (folder / CHECKPOINT).is_file():
            return folder / CHECKPOINT
    return None


def trained_model(quick=False, use_checkpoint=True):
    """LeNet-5 trained on the starter set (quick: 320 images, 1 epoch; else 5000, 3 epochs).
    The full one is loaded from the bundled checkpoint when it is there (same weights)."""
    path = checkpoint_path() if use_checkpoint and not quick else None
    if path is not None and quick not in _trained:
        model = nn.LeNet5(rng=0)
        load_checkpoint(path, model)
        model.eval()
        _trained[quick] = model
    if quick not in _trained:
        x, y = load("train", 320 if quick else 5000)
        model = nn.LeNet5(rng=0)
        t = gg.train.Trainer(model, gg.optim.Adam(model.parameters(), lr=2e-3), (x, y),
                             epochs=1 if quick else 3, batch_size=32 if quick else 64, log_every=10 ** 6)
        for _ in t.records():
            pass
        model.eval()
        _trained[quick] = model
    return _trained[quick]


#: Hold the weights fixed: no gradients are computed for them inside the block.
frozen = gg.inspect.frozen


def forward_with_maps(model, image):
    """Run LeNet layer by layer on one image; return (logits, the conv2 activation maps after ReLU)."""
    x = image
    maps = None
    for name, layer in model.named_children():
        x = layer(x)
        if name == f"{model.activation}2":
            maps = x
    return x, maps


def input_tensor(image):
    return gg.Tensor(np.asarray(image, dtype=np.float32)[None], name="image")


def build():
    """The score of the true class for one test image, in the trained network; backward
    gives its saliency map."""
    x, y = load("test", 1)
    model = trained_model()
    image = input_tensor(x[0])
    score = model(image)[0, int(y[0])]
    score.name = f"score_{CLASSES[int(y[0])].split('/')[0]}"
    return score


def saliency(model, image, label, samples=16, noise=0.2, seed=0):
    """|d score_label / d image| averaged over ``samples`` noisy copies (SmoothGrad), shape (28, 28).
    ``samples=1, noise=0`` gives the plain input gradient. (See gradgraph/inspect.py: one backward
    through the frozen network, from the class score to the pixels.)"""
    return gg.inspect.saliency(model, image, label, samples=samples, noise=noise, seed=seed)


def class_activation_map(model, image, label):
    """Grad-CAM on conv2: ReLU(Σ_k α_k A_k) with α_k the mean gradient of the score over map k, upsampled to 28x28."""
    with frozen(model):
        logits, maps = forward_with_maps(model, input_tensor(image))
        logits[0, int(label)].backward()
    alpha = maps.grad[0].mean(axis=(1, 2))                          # (16,)
    cam = np.maximum(0, np.tensordot(alpha, maps.data[0], axes=1))  # (10, 10)
    return cam_to_image(cam)


def cam_to_image(cam):
    """Place conv2's 10x10 map on the 28x28 image where its cells look.

    conv2 cell r sees pool1 cells r..r+4, i.e. conv1 rows 2r..2r+9, whose 5x5 windows
    (padding 2) are centred on input rows 2r..2r+9: the cell's receptive field is centred on
    pixel 2r + 4.5. So the ten cell centres run from pixel 4.5 to 22.5, not over the whole
    image: interpolate bilinearly between them, keeping the edge cells' values outside.
    """
    u = np.clip((np.arange(28) - 4.5) / 2, 0, 9)   # each pixel's position in cell units
    lo = np.floor(u).astype(int)
    hi = np.minimum(lo + 1, 9)
    f = u - lo
    rows = (1 - f)[:, None] * cam[lo] + f[:, None] * cam[hi]           # (28, 10)
    return (1 - f)[None, :] * rows[:, lo] + f[None, :] * rows[:, hi]   # (28, 28)


BLUR = (np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 16)[None, None]


def dream(model, label, steps=60, lr=0.5, decay=0.05, blur_every=4, start=None, seed=0):
    """Gradient ascent on the input, weights fixed: x <- x + lr (d score/dx - decay x),
    with the step normalized and a slight blur every ``blur_every`` steps."""
    rng = np.random.default_rng(seed)
    x = np.zeros((1, 1, 28, 28), np.float32) if start is None else np.array(start, np.float32).reshape(1, 1, 28, 28)
    x = x + rng.normal(0, 0.01, size=x.shape).astype(np.float32)
    scores = []
    with frozen(model), limit_blas_threads(1):  # leave both cores to the conv kernels (gradgraph/blas.py)
        for step in range(steps):
            t = gg.Tensor(x, name="image")
            score = model(t)[0, int(label)]
            score.backward()
            grad = t.grad / (np.abs(t.grad).mean() + 1e-8)  # normalized step size
            x = x + lr * (grad - decay * x)
            if blur_every and step % blur_every == blur_every - 1:
                with gg.no_grad():
                    x = gg.conv2d(x, BLUR, padding=1).data
            scores.append(float(score.data))
    return x[0, 0], scores


def run(quick=False):
    model = trained_model(quick)
    x, y = load("test", 100 if quick else 1000)
    with gg.no_grad():
        accuracy = float(np.mean(model(x).data.argmax(axis=1) == y))
    print(f"A LeNet-5 trained {'briefly' if quick else 'for 3 epochs'}: test accuracy {accuracy:.1%}"
          f" on {len(x)} images")

    print("\nSaliency: |d score / d pixel| for the first test images")
    centre = np.zeros((28, 28), bool)
    centre[4:24, 4:24] = True
    shares = []
    for k in range(3):
        s = saliency(model, x[k], y[k])
        share = float(s[centre].sum() / s.sum())
        shares.append(share)
        print(f"  image {k} ({CLASSES[y[k]]}): largest at pixel {tuple(int(i) for i in np.unravel_index(int(s.argmax()), s.shape))},"
              f" {share:.0%} of the saliency in the central 20x20 pixels")

    print("\nClass activation maps (Grad-CAM on conv2)")
    cams = []
    for k in range(3):
        cam = class_activation_map(model, x[k], y[k])
        cams.append(cam)
        print(f"  image {k} ({CLASSES[y[k]]}): CAM peak at {tuple(int(i) for i in np.unravel_index(int(cam.argmax()), cam.shape))},"
              f" value {cam.max():.3f}")

    print("\nDreaming: gradient ascent on a blank image")
    steps = 10 if quick else 60
    dreams = {}
    for label in ((1, 7) if quick else range(10)):
        image, scores = dream(model, label, steps=steps)
        with gg.no_grad():
            p = model(image[None, None]).softmax().data[0]
        dreams[label] = (scores[0], scores[-1], float(p[label]))
        print(f"  {CLASSES[label]:<12} score {scores[0]:7.2f} -> {scores[-1]:7.2f} after {steps} steps;"
              f" the network's probability for it: {p[label]:.1%}")

    return {"accuracy": accuracy, "saliency_centre_share": shares, "cam_peaks": [float(c.max()) for c in cams],
            "dreams": dreams}


def figures(quick=False):
    from matplotlib.figure import Figure

    model = trained_model(quick)
    x, y = load("test", 8)
    figs = []
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(3, 6)
    for col in range(6):
        image = x[col, 0]
        axes[0, col].imshow(image, cmap="gray")
        axes[0, col].set_title(CLASSES[y[col]], fontsize=8)
        axes[1, col].imshow(saliency(model, x[col], y[col]), cmap="hot")
        axes[2, col].imshow(image, cmap="gray")
        axes[2, col].imshow(class_activation_map(model, x[col], y[col]), cmap="jet", alpha=0.45)
    for row, name in enumerate(("image", "saliency", "CAM")):
        axes[row, 0].set_ylabel(name)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("What the network looks at: saliency |d score/d pixel| and Grad-CAM")
    figs.append(fig)

    labels = (1, 7, 8) if quick else range(10)
    fig = Figure(figsize=(max(7, 1.6 * len(labels)), 2.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(labels)))
    for ax, label in zip(axes, labels):
        image, _ = dream(model, label, steps=10 if quick else 80)
        ax.imshow(image, cmap="gray")
        ax.set_title(CLASSES[label], fontsize=8)
        ax.set_axis_off()
    fig.suptitle("Dreams: blank images optimized for each class score (weights fixed)")
    figs.append(fig)
    return figs


if __name__ == "__main__":
    gg.lessons.main(run)
