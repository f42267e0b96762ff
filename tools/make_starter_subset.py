#!/usr/bin/env python3
"""Build the bundled Fashion-MNIST starter subset in assets/fashion-mnist-starter/.

Reads the full Fashion-MNIST (by default Debian's dataset-fashion-mnist files in
/usr/share/datasets/fashion-mnist/), draws a class-balanced random subset of
each split with a fixed seed, and writes it as gzipped IDX files under the
standard names, plus README.md (attribution, how it was made, checksums) and
LICENSE (the dataset's MIT licence). The output is byte-for-byte reproducible.

    python tools/make_starter_subset.py [--source DIR] [--out DIR]
        [--train-per-class 500] [--test-per-class 100] [--seed 2017]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradgraph.data.idx import open_temp, read_idx_pair, write_idx  # noqa: E402
from gradgraph.data.mnist import CLASSES, FILES  # noqa: E402

MAX_BYTES = 3_000_000

LICENSE = """The MIT License (MIT)

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def balanced_subset(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``per_class`` random samples of each class, in shuffled order."""
    picks = []
    for c in range(10):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise SystemExit(f"class {c} has only {len(members)} samples, need {per_class}")
        picks.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    chosen = np.concatenate(picks)
    return chosen[rng.permutation(len(chosen))]


def write_text(path: Path, text: str) -> None:
    handle, tmp = open_temp(path)
    with handle:
        handle.write(text.encode("utf-8"))
    os.replace(tmp, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "fashion-mnist-starter")
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2017)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, sources, outputs = [], [], []
    for split, per_class in (("train", args.train_per_class), ("test", args.test_per_class)):
        images_name, labels_name = FILES[split]
        src_images, src_labels = args.source / images_name, args.source / labels_name
        images, labels = read_idx_pair(src_images, src_labels)
        idx = balanced_subset(labels, per_class, rng)
        write_idx(args.out / images_name, images[idx])
        write_idx(args.out / labels_name, labels[idx])
        rows.append((split, len(images), len(idx), per_class))
        sources += [src_images, src_labels]
        outputs += [args.out / images_name, args.out / labels_name]
        print(f"{split}: {len(idx)} of {len(images)} images ({per_class} per class)")

    write_text(args.out / "LICENSE", LICENSE)
    n_train, n_test = rows[0][2], rows[1][2]
    table = "\n".join(
        f"| {split} | {n_full:,} | {n_sub:,} | {per} |" for split, n_full, n_sub, per in rows
    )
    classes = ", ".join(f"{i} {name}" for i, name in enumerate(CLASSES["fashion-mnist"]))
    out_sums = "\n".join(
        f"| {p.name} | {p.stat().st_size:,} | `{sha256(p)}` |" for p in outputs
    )
    src_sums = "\n".join(f"| {p.name} | `{sha256(p)}` |" for p in sources)
    readme = f"""# Fashion-MNIST starter subset

A small, class-balanced subset of **Fashion-MNIST** bundled with gradgraph so the
lessons run offline: `gradgraph.data.load_starter("train")` (or `"test"`), also
reachable as `gradgraph.data.load_mnist("fashion-mnist-starter", split)`.

| split | full dataset | this subset | per class |
|---|---|---|---|
{table}

Images are 28x28 uint8 grayscale; labels are 0-9: {classes}.
The files are the standard gzipped IDX files under the standard names, so any
MNIST reader loads them.

## Attribution and licence

Fashion-MNIST is by Zalando Research: Han Xiao, Kashif Rasul and Roland Vollgraf,
*Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
Algorithms*, arXiv:1708.07747, 2017. <https://github.com/zalandoresearch/fashion-mnist>

It is released under the MIT licence, Copyright (c) 2017 Zalando SE; the full text
is in [LICENSE](LICENSE) next to this file and must travel with these files.
This subset only selects images; it does not alter them.

## How it was made

`python tools/make_starter_subset.py` (seed {args.seed}) read the full dataset from
Debian's `dataset-fashion-mnist` package (`{args.source}/`), drew
{args.train_per_class} training and {args.test_per_class} test images per class
uniformly at random without replacement (numpy `default_rng({args.seed})`), shuffled
each split, and wrote them with `gradgraph.data.write_idx` (gzip level 9, no
timestamp, so rerunning the script reproduces these bytes). {n_train:,} + {n_test:,}
images keep the folder under 3 MB.

Source files (Debian ships its own compression of the upstream files, so these
digests differ from the upstream .gz digests):

| file | sha256 |
|---|---|
{src_sums}

Generated files:

| file | bytes | sha256 |
|---|---|---|
{out_sums}
"""
    write_text(args.out / "README.md", readme)
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {args.out} ({total:,} bytes)")
    if total > MAX_BYTES:
        print(f"error: {total:,} bytes exceeds the {MAX_BYTES:,}-byte budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
