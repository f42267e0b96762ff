"""gradgraph.data: IDX files, the downloader (against a local HTTP server), the
bundled starter subset, toy datasets and minibatching. No network."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from gradgraph import data as gd
from gradgraph.data import download as dl
from gradgraph.data import mnist as mn

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Point every lookup folder at tmp_path: the real home/cache is never touched."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADGRAPH_DATA", raising=False)
    monkeypatch.delenv("GRADGRAPH_MIRRORS", raising=False)
    return tmp_path


def _small_split(seed=0, n=12):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def _digests(path: Path) -> dict[str, str]:
    raw = path.read_bytes()
    return {"sha256": hashlib.sha256(raw).hexdigest(), "md5": hashlib.md5(raw).hexdigest()}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server: /good/ has the MNIST test files, /empty/ 404s, /bad/ has wrong bytes."""
    root = tmp_path / "www"
    images, labels = _small_split()
    names = mn.FILES["test"]
    gd.write_idx(root / "good" / names[0], images)
    gd.write_idx(root / "good" / names[1], labels)
    (root / "empty").mkdir()
    gd.write_idx(root / "bad" / names[0], images[::-1])
    gd.write_idx(root / "bad" / names[1], labels[::-1])
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    info = {
        "base": base,
        "good": base + "good/",
        "empty": base + "empty/",
        "bad": base + "bad/",
        "root": root,
        "images": images,
        "labels": labels,
        "digests": {name: _digests(root / "good" / name) for name in names},
    }
    yield info
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def small_checksums(monkeypatch, server):
    """Make the published MNIST test-file digests those of the server's small files."""
    for name, digests in server["digests"].items():
        monkeypatch.setitem(dl.CHECKSUMS["mnist"], name, digests)
    return server


def _closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


# ----------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("suffix", [".gz", ""])
def test_idx_round_trip(tmp_path, suffix):
    images, labels = _small_split()
    floats = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)
    for name, array in [("img", images), ("lab", labels), ("flt", floats)]:
        path = gd.write_idx(tmp_path / f"{name}{suffix}", array)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")
        back = gd.read_idx(path)
        assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
        np.testing.assert_array_equal(back, array)
    img, lab = gd.read_idx_pair(tmp_path / f"img{suffix}", tmp_path / f"lab{suffix}")
    np.testing.assert_array_equal(img, images)
    np.testing.assert_array_equal(lab, labels)
    assert gd.read_idx(tmp_path / f"lab{suffix}").tobytes() == labels.tobytes()


def test_idx_headers_and_gzip_detected_by_content(tmp_path):
    images, labels = _small_split(n=3)
    plain = gd.write_idx(tmp_path / "labels.gz", labels, compress=False)  # misleading name
    zipped = gd.write_idx(tmp_path / "images.idx", images, compress=True)
    assert plain.read_bytes()[:8] == bytes.fromhex("00000801 00000003")
    assert gzip.decompress(zipped.read_bytes())[:16] == bytes.fromhex(
        "00000803 00000003 0000001c 0000001c"
    )
    np.testing.assert_array_equal(gd.read_labels(plain), labels)
    np.testing.assert_array_equal(gd.read_images(zipped), images)
    # same array, same bytes (no timestamp in the gzip header)
    again = gd.write_idx(tmp_path / "again.idx", images, compress=True)
    assert again.read_bytes() == zipped.read_bytes()


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "bogus.idx"
    path.write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(ValueError, match=r"bogus\.idx.*magic number 0x12345678"):
        gd.read_idx(path)
    images, labels = _small_split(n=2)
    gd.write_idx(tmp_path / "img.gz", images)
    with pytest.raises(ValueError, match=r"img\.gz.*labels"):
        gd.read_labels(tmp_path / "img.gz")


def test_idx_truncated(tmp_path):
    images, _ = _small_split(n=4)
    full = gd.write_idx(tmp_path / "full", images).read_bytes()
    cut = tmp_path / "cut-images"
    cut.write_bytes(full[:-100])
    with pytest.raises(ValueError, match=r"cut-images.*truncated"):
        gd.read_idx(cut)
    header_only = tmp_path / "header"
    header_only.write_bytes(full[:10])
    with pytest.raises(ValueError, match="truncated IDX header"):
        gd.read_idx(header_only)
    zipped = gd.write_idx(tmp_path / "z.gz", images).read_bytes()
    cut_gz = tmp_path / "cut.gz"
    cut_gz.write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz"):
        gd.read_idx(cut_gz)
    trailing = tmp_path / "trailing"
    trailing.write_bytes(full + b"xx")
    with pytest.raises(ValueError, match="trailing"):
        gd.read_idx(trailing)


def test_idx_count_mismatch(tmp_path):
    images, labels = _small_split(n=5)
    gd.write_idx(tmp_path / "i.gz", images)
    gd.write_idx(tmp_path / "l.gz", labels[:4])
    with pytest.raises(ValueError, match=r"i\.gz holds 5 images but .*l\.gz holds 4 labels"):
        gd.read_idx_pair(tmp_path / "i.gz", tmp_path / "l.gz")


# ----------------------------------------------------------------------------- downloader

def test_download_success_with_checksum_and_progress(isolated, small_checksums):
    srv = small_checksums
    calls = []
    images, labels = gd.load_mnist(
        "mnist", "test", mirrors=[srv["good"]], progress=lambda *a: calls.append(a)
    )
    np.testing.assert_array_equal(images, srv["images"])
    np.testing.assert_array_equal(labels, srv["labels"])
    assert images.dtype == np.uint8 and images.shape == (12, 28, 28)
    assert labels.dtype == np.int64 and labels.shape == (12,)
    folder = isolated / "cache" / "gradgraph" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(mn.FILES["test"])  # no temp files
    for name in mn.FILES["test"]:
        size = (folder / name).stat().st_size
        mine = [c for c in calls if c[0] == name]
        assert mine[0][1] == 0 and mine[-1] == (name, size, size)
    # second load is local: no server needed any more
    again, _ = gd.load_mnist("mnist", "test", download=False)
    np.testing.assert_array_equal(again, images)


def test_default_progress_bar_writes_to_stderr(isolated, small_checksums, capsys):
    gd.load_mnist("mnist", "test", mirrors=small_checksums["good"])
    err = capsys.readouterr().err
    assert "t10k-images-idx3-ubyte.gz" in err and "t10k-labels-idx1-ubyte.gz" in err


def test_checksum_mismatch_leaves_no_file(isolated, small_checksums):
    srv = small_checksums
    name = mn.FILES["test"][0]
    dest = isolated / "dl" / name
    with pytest.raises(gd.ChecksumError, match="sha256 mismatch"):
        gd.download_file(srv["bad"] + name, dest, srv["digests"][name], progress=False)
    assert list(dest.parent.iterdir()) == []
    with pytest.raises(gd.ChecksumError):
        gd.load_mnist("mnist", "test", mirrors=[srv["bad"]], progress=False)
    folder = isolated / "cache" / "gradgraph" / "mnist"
    assert list(folder.iterdir()) == []
    # md5-only digests are checked as well
    with pytest.raises(gd.ChecksumError, match="md5 mismatch"):
        gd.download_file(srv["bad"] + name, dest, {"md5": srv["digests"][name]["md5"]},
                         progress=False)
    assert not dest.exists()


def test_first_mirror_404_then_second_mirror(isolated, small_checksums):
    srv = small_checksums
    name = mn.FILES["test"][1]
    dest = isolated / "dl" / name
    out = gd.download_file([srv["empty"] + name, srv["good"] + name], dest,
                           srv["digests"][name], progress=False)
    assert out == dest and gd.file_digest(dest) == srv["digests"][name]["sha256"]
    gd.verify_file(dest, srv["digests"][name])
    # a bad mirror then a good one also succeeds
    images, _ = gd.load_mnist("mnist", "test", mirrors=[srv["empty"], srv["bad"], srv["good"]],
                              progress=False)
    np.testing.assert_array_equal(images, srv["images"])


def test_mirrors_from_environment(isolated, small_checksums, monkeypatch):
    srv = small_checksums
    monkeypatch.setenv("GRADGRAPH_MIRRORS", f"{srv['empty']} {srv['good'].rstrip('/')}")
    assert dl.resolve_mirrors("mnist") == [srv["empty"], srv["good"]]
    images, _ = gd.load_mnist("mnist", "test", progress=False)
    np.testing.assert_array_equal(images, srv["images"])


def test_offline_without_local_copy(isolated):
    with pytest.raises(gd.DatasetNotFoundError) as info:
        gd.load_mnist("mnist", "test", mirrors=[_closed_port_url()], progress=False)
    err = info.value
    assert isinstance(err, FileNotFoundError)
    message = str(err)
    cache = isolated / "cache" / "gradgraph" / "mnist"
    assert str(cache) in message
    assert "t10k-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert "127.0.0.1" in message  # the failed mirror is reported
    assert err.searched == [cache] and err.files == list(mn.FILES["test"])
    assert not cache.exists() or list(cache.iterdir()) == []


def test_download_disabled(isolated, tmp_path):
    # download=False never touches the network and names the folders searched
    with pytest.raises(gd.DatasetNotFoundError, match="download=False") as info:
        gd.load_mnist("mnist", "train", data_dir=tmp_path / "mine", download=False)
    assert str(tmp_path / "mine") in str(info.value)
    assert "train-images-idx3-ubyte.gz" in str(info.value)


def test_stopped_server(isolated, tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.server_close()  # never served: connection refused
    with pytest.raises(gd.DatasetNotFoundError, match="Searched these folders"):
        gd.load_mnist("mnist", "test", mirrors=[url], progress=False)


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    """Announces a megabyte, then sends a kilobyte every 50 ms: a download that can be killed midway."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 20))
        self.end_headers()
        try:
            for _ in range(1024):
                self.wfile.write(b"x" * 1024)
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:  # the client was killed
            pass

    def log_message(self, *args):
        pass


def test_download_killed_midway_leaves_no_part_file_after_the_next_start(isolated, small_checksums):
    slow = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    threading.Thread(target=slow.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    name = mn.FILES["test"][0]
    dest = isolated / "dl" / name
    script = ("import sys; from gradgraph.data import download_file; "
              "download_file(sys.argv[1], sys.argv[2], progress=False)")
    child = subprocess.Popen([sys.executable, "-c", script, f"http://127.0.0.1:{slow.server_address[1]}/x",
                              str(dest)])
    try:
        deadline = time.monotonic() + 60
        while not [p for p in dest.parent.glob("*.part") if p.stat().st_size > 0]:
            assert time.monotonic() < deadline and child.poll() is None, "the download never started"
            time.sleep(0.02)
    finally:
        child.kill()  # SIGKILL: no cleanup handler can run
        child.wait()
        slow.shutdown()
        slow.server_close()
    assert [p.name for p in dest.parent.glob("*.part")], "the killed download should have left its .part file"
    gd.download_file(small_checksums["good"] + name, dest, small_checksums["digests"][name], progress=False)
    assert sorted(p.name for p in dest.parent.iterdir()) == [name]


def test_local_lookup_order(isolated, monkeypatch):
    images, labels = _small_split(n=7)
    mine = isolated / "mine"
    gd.write_idx(mine / "t10k-images-idx3-ubyte", images)  # un-gzipped names work too
    gd.write_idx(mine / "t10k-labels-idx1-ubyte", labels)
    got, _ = gd.load_mnist("mnist", "test", data_dir=mine, download=False)
    np.testing.assert_array_equal(got, images)
    shared = isolated / "shared"
    for name, array in zip(mn.FILES["test"], (images[:3], labels[:3])):
        gd.write_idx(shared / "mnist" / name, array)
    monkeypatch.setenv("GRADGRAPH_DATA", str(shared))
    assert len(gd.load_mnist("mnist", "test", download=False)[0]) == 3
    assert len(gd.load_mnist("mnist", "test", data_dir=mine, download=False)[0]) == 7
    dirs = gd.search_dirs("fashion-mnist", mine)
    assert dirs[:4] == [mine, mine / "fashion-mnist", shared / "fashion-mnist",
                        isolated / "cache" / "gradgraph" / "fashion-mnist"]
    assert dirs[-1] == DEBIAN_FASHION
    with pytest.raises(ValueError, match="unknown dataset"):
        gd.load_mnist("cifar10")
    with pytest.raises(ValueError, match="split"):
        gd.load_mnist("mnist", "validation")


# ----------------------------------------------------------------------------- datasets

def test_classes():
    assert gd.CLASSES["mnist"] == [str(d) for d in range(10)]
    assert gd.CLASSES["fashion-mnist"][0] == "T-shirt/top"
    assert gd.CLASSES["fashion-mnist"][9] == "Ankle boot"
    assert len(gd.CLASSES["fashion-mnist"]) == 10


@pytest.mark.parametrize("split,per_class", [("train", 500), ("test", 100)])
def test_load_starter(split, per_class):
    images, labels = gd.load_starter(split)
    assert images.shape == (10 * per_class, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10 * per_class,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), [per_class] * 10)
    assert images.max() > 200 and images.min() == 0
    assert len(labels) > 20 and not np.all(np.diff(labels[:20]) == 0)  # shuffled
    again, _ = gd.load_mnist("fashion-mnist-starter", split)
    np.testing.assert_array_equal(again, images)


def test_starter_asset_budget():
    folder = Path(__file__).resolve().parents[1] / "assets" / "fashion-mnist-starter"
    files = [p for p in folder.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 3_000_000
    assert "Copyright (c) 2017 Zalando SE" in (folder / "LICENSE").read_text()
    assert "Zalando" in (folder / "README.md").read_text()


@pytest.mark.skipif(not (DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_debian_fashion_mnist(isolated):
    for split, n in [("train", 60000), ("test", 10000)]:
        images, labels = gd.load_mnist("fashion-mnist", split, download=False)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        assert labels.shape == (n,)
        np.testing.assert_array_equal(np.bincount(labels), [n // 10] * 10)


# ----------------------------------------------------------------------------- toy data

@pytest.mark.parametrize("make,k", [
    (gd.toy.xor, 2), (gd.toy.ring, 2), (gd.toy.three_modes, 2), (gd.toy.linear, 2),
    (functools.partial(gd.toy.spiral, classes=3), 3),
    (functools.partial(gd.toy.spiral, classes=5), 5),
])
@pytest.mark.parametrize("n", [200, 101])
def test_toy_shapes_and_balance(make, k, n):
    X, y = make(n, seed=3)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    counts = np.bincount(y, minlength=k)
    assert len(counts) == k and counts.max() - counts.min() <= 1
    X2, y2 = make(n, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(make(n, seed=4)[0], X)


def test_toy_label_rules():
    X, y = gd.xor(400, noise=0.0, seed=1)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(np.int64))
    X, y = gd.ring(400, seed=1)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_array_equal(y, ((r >= 1) & (r <= 2)).astype(np.int64))
    assert np.abs(X).max() <= 3.0
    X, y = gd.linear(400, seed=1)
    side = X[:, 1] - 0.5 * X[:, 0] - 0.1 > 0
    np.testing.assert_array_equal(y, side.astype(np.int64))
    X, y = gd.three_modes(300, seed=1)
    ones = X[y == 1]
    angles = np.degrees(np.arctan2(ones[:, 1], ones[:, 0])) % 360
    for centre in (90, 210, 330):
        assert np.sum(np.abs((angles - centre + 180) % 360 - 180) < 40) > 30


# ----------------------------------------------------------------------------- loader

def test_batches_cover_every_sample_once():
    x = np.arange(103)[:, None] * np.ones((1, 3))
    y = np.arange(103)
    seen = []
    sizes = []
    for xb, yb in gd.batches(x, y, 10, rng=0):
        np.testing.assert_array_equal(xb[:, 0], yb)
        seen.extend(yb.tolist())
        sizes.append(len(yb))
    assert sorted(seen) == list(range(103)) and seen != list(range(103))
    assert sizes == [10] * 10 + [3]
    ordered = np.concatenate([yb for _, yb in gd.batches(x, y, 10, shuffle=False)])
    np.testing.assert_array_equal(ordered, y)
    assert sum(len(yb) for _, yb in gd.batches(x, y, 10, drop_last=True)) == 100
    loader = gd.DataLoader(x, y, batch_size=16, seed=1)
    assert len(loader) == 7
    epoch1 = np.concatenate([yb for _, yb in loader])
    epoch2 = np.concatenate([yb for _, yb in loader])
    assert sorted(epoch1) == sorted(epoch2) == list(range(103))
    assert not np.array_equal(epoch1, epoch2)
    with pytest.raises(ValueError):
        next(gd.batches(x, y[:5], 4))


def test_train_val_split():
    x = np.arange(50).reshape(50, 1)
    y = np.arange(50)
    (xt, yt), (xv, yv) = gd.train_val_split(x, y, val_fraction=0.2, seed=0)
    assert len(yt) == 40 and len(yv) == 10
    assert sorted(np.concatenate([yt, yv]).tolist()) == list(range(50))
    np.testing.assert_array_equal(xt[:, 0], yt)
    (_, yt2), _ = gd.train_val_split(x, y, val_fraction=0.2, seed=0)
    np.testing.assert_array_equal(yt, yt2)
    with pytest.raises(ValueError):
        gd.train_val_split(x, y, val_fraction=1.5)


def test_normalize_images():
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    images[:, 0, 0] = 255
    out = gd.normalize_images(images)
    assert out.shape == (4, 1, 28, 28) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0, 1, 1], -gd.FASHION_MNIST_MEAN / gd.FASHION_MNIST_STD,
                               rtol=1e-6)
    np.testing.assert_allclose(out[0, 0, 0, 0], (1 - gd.FASHION_MNIST_MEAN) / gd.FASHION_MNIST_STD,
                               rtol=1e-6)
    mn_out = gd.normalize_images(images, dataset="mnist")
    np.testing.assert_allclose(mn_out[0, 0, 1, 1], -gd.MNIST_MEAN / gd.MNIST_STD, rtol=1e-6)
    assert gd.normalize_images(images.reshape(4, 784)).shape == (4, 1, 28, 28)
    assert gd.normalize_images(images[:, None]).shape == (4, 1, 28, 28)
    # the constants standardize the starter subset to roughly zero mean, unit std
    starter = gd.normalize_images(gd.load_starter("train")[0])
    assert abs(float(starter.mean())) < 0.05 and abs(float(starter.std()) - 1) < 0.05
