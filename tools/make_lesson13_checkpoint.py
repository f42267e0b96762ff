"""Write ``assets/lesson13-lenet5.npz``: the LeNet-5 that lesson 13 looks inside.

    python tools/make_lesson13_checkpoint.py

Trained by the lesson's own ``trained_model()`` (Adam, lr 2e-3, 3 epochs of batch 64
on the 5,000 starter training images, seed 0) and saved with
:func:`gradgraph.checkpoint.save_checkpoint` (numbers only, no pickle). The app opens
lesson 13's graph on this trained network, so its saliency is not noise.
"""
from pathlib import Path

import numpy as np

import gradgraph as gg
from gradgraph import lessons
from gradgraph.checkpoint import save_checkpoint

OUT = Path(__file__).resolve().parents[1] / "assets" / "lesson13-lenet5.npz"


def main():
    lesson = lessons.load(lessons.find_lesson("13"))
    model = lesson.trained_model(quick=False, use_checkpoint=False)
    x, y = lesson.load("test", 1000)
    with gg.no_grad():
        accuracy = float(np.mean(model(x).data.argmax(axis=1) == y))
    save_checkpoint(OUT, model, extra={"lesson": 13, "data": "fashion-mnist-starter train (5,000 images)",
                                       "epochs": 3, "batch_size": 64, "optimizer": "Adam", "lr": 2e-3,
                                       "test_accuracy": accuracy})
    print(f"wrote {OUT} (test accuracy {accuracy:.1%} on 1,000 starter test images)")


if __name__ == "__main__":
    main()
