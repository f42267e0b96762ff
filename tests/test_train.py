"""The training loop (records, control from another thread, NaN, divergence, early stopping,
resuming, run folders) and checkpoints (round trip, no pickle, atomic writes). The
`gradgraph train` command is tested in test_cli_train.py."""
import csv
import json
import threading
import time

import numpy as np
import pytest

import gradgraph as gg
from gradgraph import nn, optim
from gradgraph.checkpoint import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from gradgraph.runs import make_run_dir, run_name
from gradgraph.train import Record, Trainer, fit


def blobs(n=120, seed=0):
    """Three well separated 2-d clusters."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    y = rng.integers(0, 3, size=n)
    x = (centres[y] + rng.normal(scale=0.6, size=(n, 2))).astype(np.float32)
    return x, y


def mlp(seed=0):
    return nn.Sequential(nn.Linear(2, 16, rng=seed), nn.ReLU(), nn.Linear(16, 3, init="xavier", rng=seed + 1))


def test_records_stream_and_learning():
    x, y = blobs()
    model = mlp()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.05), (x[:100], y[:100]), (x[100:], y[100:]),
                      epochs=3, batch_size=16)
    records = list(trainer.records())
    kinds = [r.kind for r in records]
    assert kinds.count("step") == 3 * 7 and kinds.count("epoch") == 3 and kinds[-1] == "done"
    assert sum(r.final for r in records) == 1
    steps = [r for r in records if r.kind == "step"]
    assert [r.step for r in steps] == list(range(1, 22)) and all(r.steps_per_epoch == 7 for r in steps)
    assert set(steps[0].grad_norms) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert all(v >= 0 for v in steps[0].grad_norms.values())
    assert steps[-1].elapsed >= steps[0].elapsed > 0
    epochs = trainer.history
    assert [r.epoch for r in epochs] == [0, 1, 2] and epochs[-1].loss < epochs[0].loss
    assert epochs[-1].val_accuracy > 0.9 and epochs[-1].accuracy > 0.9
    assert isinstance(records[-1], Record) and records[-1].val_accuracy == epochs[-1].val_accuracy
    loss, acc = trainer.evaluate(x, y)
    assert loss < 0.5 and acc > 0.9
    with pytest.raises(RuntimeError, match="once"):
        next(trainer.records())


def test_log_every_and_fit_and_scheduler():
    x, y = blobs(64)
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    trainer = fit(model, opt, (x, y), epochs=3, batch_size=8, log_every=3,
                  scheduler=optim.StepLR(opt, step_size=1, gamma=0.5))
    assert [r.lr for r in trainer.history] == [0.1, 0.05, 0.025]
    assert trainer.last_record.kind == "done"
    stream = Trainer(mlp(), optim.SGD(mlp().parameters()), (x, y), epochs=1, batch_size=8, log_every=3).records()
    steps = [r.step for r in stream if r.kind == "step"]
    assert steps == [3, 6, 8]  # and the epoch's last step


def test_mse_loss_has_no_accuracy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32))
    model = nn.Linear(3, 1, rng=0)
    trainer = fit(model, optim.SGD(model.parameters(), lr=0.1), (x, y), (x, y), loss="mse", epochs=5, batch_size=8)
    assert trainer.history[-1].accuracy is None and trainer.history[-1].val_accuracy is None
    assert trainer.history[-1].val_loss < trainer.history[0].val_loss
    custom = fit(nn.Linear(3, 1, rng=0), optim.SGD(nn.Linear(3, 1).parameters()), (x, y),
                 loss=lambda out, t: gg.losses.l1(out, t), epochs=1)
    assert custom.loss_name == "<lambda>"
    with pytest.raises(ValueError, match="unknown loss"):
        Trainer(model, optim.SGD(model.parameters()), (x, y), loss="huber")


def test_pause_resume_and_stop_from_another_thread():
    x, y = blobs(64)
    model = mlp()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.01), (x, y), epochs=100000, batch_size=8)
    collected = []

    def consume():
        for r in trainer.records():
            collected.append(r)

    worker = threading.Thread(target=consume, daemon=True)
    began = time.perf_counter()
    worker.start()
    try:
        deadline = time.time() + 10
        while len(collected) < 5 and time.time() < deadline:
            time.sleep(0.005)
        trainer.pause()
        time.sleep(0.1)
        assert trainer.paused
        frozen = len(collected)
        time.sleep(0.3)
        assert len(collected) == frozen  # nothing happens while paused
        trainer.resume()
        while len(collected) < frozen + 5 and time.time() < deadline:
            time.sleep(0.005)
        assert len(collected) >= frozen + 5
        trainer.pause()
        time.sleep(0.05)
        trainer.stop()  # also ends a pause
    finally:
        trainer.stop()
        worker.join(5)
    wall = time.perf_counter() - began
    assert not worker.is_alive()
    assert collected[-1].kind == "stopped" and sum(r.final for r in collected) == 1
    assert collected[-1].elapsed < wall - 0.2  # the time spent paused is not counted


class Boom(nn.Module):
    """A layer that overflows float32."""

    def forward(self, x):
        return x * 1e30 * 1e30


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_stop_names_the_layer():
    x, y = blobs(32)
    model = nn.Sequential()
    model.fc1 = nn.Linear(2, 4, rng=0)
    model.boom = Boom()
    model.fc2 = nn.Linear(4, 3, rng=1)
    records = list(Trainer(model, optim.SGD(model.parameters()), (x, y), epochs=2, batch_size=8).records())
    assert [r.kind for r in records] == ["nan"]
    assert "'boom'" in records[0].message and "Boom" in records[0].message
    assert "epoch 1, step 1" in records[0].message

    model = mlp()
    model[2].weight.data[0, 0] = np.nan
    final = list(Trainer(model, optim.SGD(model.parameters()), (x, y), epochs=1).records())[-1]
    assert final.kind == "nan" and "'2.weight'" in final.message and "layer '2'" in final.message


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_exploding_learning_rate_stops_with_nan_record():
    x, y = blobs(64)
    x = x * 1000
    model = mlp()
    records = list(Trainer(model, optim.SGD(model.parameters(), lr=1e6), (x, y), epochs=50, batch_size=8,
                           divergence=None).records())
    assert records[-1].kind == "nan"
    assert "layer" in records[-1].message and "learning rate" in records[-1].message


def test_adam_divergence_is_reported_while_the_loss_is_still_finite():
    x, y = blobs(64)
    model = mlp()
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=50.0), (x * 10, y), epochs=20, batch_size=8)
    records = list(trainer.records())
    final = records[-1]
    assert final.kind == "diverged" and final.final and np.isfinite(final.loss)
    first = records[0].loss if records[0].kind == "step" else None
    assert first is not None and final.loss > 100 * first
    assert "diverged" in final.message and "times the first step's" in final.message
    assert "learning rate" in final.message
    # A sane learning rate on the same data finishes normally.
    model = mlp()
    assert fit(model, optim.Adam(model.parameters(), lr=0.01), (x * 10, y), epochs=3, batch_size=8
               ).last_record.kind == "done"


def test_trainer_continues_from_a_history_as_if_never_stopped():
    x, y = blobs(96)
    whole_model = mlp()
    whole_opt = optim.SGD(whole_model.parameters(), lr=0.1, momentum=0.9)
    whole = fit(whole_model, whole_opt, (x[:80], y[:80]), (x[80:], y[80:]), epochs=4, batch_size=16,
                scheduler=optim.ExponentialLR(whole_opt, 0.5))

    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first = fit(model, opt, (x[:80], y[:80]), (x[80:], y[80:]), epochs=2, batch_size=16,
                scheduler=optim.ExponentialLR(opt, 0.5))
    state, opt_state, history = model.state_dict(), opt.state_dict(), [r.to_dict() for r in first.history]
    scheduler_state = first.scheduler.state_dict()

    model = mlp(seed=5)
    model.load_state_dict(state)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.load_state_dict(opt_state)
    scheduler = optim.ExponentialLR(opt, 0.5)
    scheduler.load_state_dict(scheduler_state)
    second = Trainer(model, opt, (x[:80], y[:80]), (x[80:], y[80:]), epochs=4, batch_size=16,
                     scheduler=scheduler, history=history)
    records = list(second.records())
    assert [r.epoch for r in records if r.kind == "epoch"] == [2, 3]
    assert records[0].step == 2 * 5 + 1 and records[-1].kind == "done"
    assert [r.epoch for r in second.history] == [0, 1, 2, 3]
    assert [r.lr for r in second.history] == [r.lr for r in whole.history] == [0.1, 0.05, 0.025, 0.0125]
    np.testing.assert_allclose([r.loss for r in second.history], [r.loss for r in whole.history], rtol=1e-5)
    for name, value in whole_model.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[name], value, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="already has 2 epoch"):
        Trainer(model, opt, (x, y), epochs=2, history=history)


def test_early_stopping_restores_best_weights(tmp_path):
    x, y = blobs(96)
    model = mlp()
    # The validation labels are shifted: the better the model learns, the worse the validation loss.
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=0.05), (x, y), (x, (y + 1) % 3), epochs=20,
                      batch_size=16, patience=2, run_dir=tmp_path / "run")
    records = list(trainer.records())
    assert records[-1].kind == "early_stop"
    assert "restored the weights of epoch 1" in records[-1].message
    assert len(trainer.history) == 3 and trainer.best_epoch == 0
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, trainer.best_state[name])
    best = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))
    meta = load_checkpoint(tmp_path / "run" / "checkpoint.npz", best)
    assert meta["extra"]["epoch"] == 0
    np.testing.assert_array_equal(best[0].weight.data, model[0].weight.data)


def test_run_folder_contents(tmp_path):
    x, y = blobs(64)
    run = make_run_dir(tmp_path, "mlp", "blobs", lr=0.01, epochs=2, batch=16, opt="adam")
    assert run.name == "mlp_blobs_lr_0.01_epochs_2_batch_16_opt_adam"
    again = make_run_dir(tmp_path, "mlp", "blobs", lr=0.01, epochs=2, batch=16, opt="adam")
    assert again.name == run.name + "_2"
    assert run_name("lenet", "fashion-mnist", lr=1e-3, epochs=10, batch=64, opt="adam") == \
        "lenet_fashion-mnist_lr_0.001_epochs_10_batch_64_opt_adam"
    model = mlp()
    fit(model, optim.Adam(model.parameters()), (x[:48], y[:48]), (x[48:], y[48:]), epochs=2, batch_size=16,
        run_dir=run, config={"dataset": "blobs"})
    files = sorted(p.name for p in run.iterdir())
    assert files == ["checkpoint.npz", "checkpoint_last.npz", "config.json", "history.csv", "loss_curve.png"]
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "blobs" and config["optimizer"] == "Adam" and config["batch_size"] == 16
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2"] and rows[0]["val_accuracy"] != ""
    assert (run / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_folder_is_written_by_a_consumer_of_the_stream(tmp_path):
    from gradgraph.runs import RunFolder, read_run

    x, y = blobs(64)
    model = mlp()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), (x, y), epochs=2, batch_size=16)
    folder = RunFolder(tmp_path / "run", trainer, {"dataset": "blobs"})
    assert folder.files() == []
    for record in trainer.records():
        folder.write(record)
        if record.kind == "epoch":  # written before the next record is asked for
            assert read_run(tmp_path / "run" / "checkpoint_last.npz")["epoch"] == record.epoch
    assert [p.name for p, _ in folder.files()] == ["checkpoint.npz", "checkpoint_last.npz", "history.csv",
                                                  "loss_curve.png", "config.json"]
    run = read_run(tmp_path / "run" / "checkpoint_last.npz")
    assert run["run_dir"] == (tmp_path / "run").resolve() and run["config"] == {"dataset": "blobs"}
    assert [Record.from_dict(r) for r in run["history"]] == trainer.history


# -- checkpoints -----------------------------------------------------------------------------
def test_checkpoint_round_trip_with_optimizer(tmp_path):
    x, y = blobs(64)
    model = mlp()
    opt = optim.Adam(model.parameters(), lr=0.01)
    fit(model, opt, (x, y), epochs=1, batch_size=16)
    path = save_checkpoint(tmp_path / "ck.npz", model, opt, extra={"epoch": 3, "acc": np.float32(0.5)})
    model2 = mlp(seed=5)
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    meta = load_checkpoint(path, model2, opt2)
    assert meta["extra"] == {"epoch": 3, "acc": 0.5} and meta["model"] == "Sequential"
    assert opt2.lr == 0.01 and opt2.t == opt.t
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # Both continue identically.
    fit(model, opt, (x, y), epochs=1, batch_size=16, seed=1)
    fit(model2, opt2, (x, y), epochs=1, batch_size=16, seed=1)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    state, opt_state, meta = read_checkpoint(path)
    assert set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"} and "m.0" in opt_state
    with pytest.raises(CheckpointError, match="Adam optimizer, not SGD"):
        load_checkpoint(path, mlp(), optim.SGD(mlp().parameters()))


def test_checkpoint_refuses_object_arrays(tmp_path):
    model = mlp()
    path = tmp_path / "evil.npz"
    arrays = {f"model/{k}": v for k, v in model.state_dict().items()}
    arrays["model/0.weight"] = np.array([{"payload": 1}, None], dtype=object)
    arrays["__meta__"] = np.array(json.dumps({"format": "gradgraph-checkpoint", "version": 1}))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match="Python objects"):
        load_checkpoint(path, model)
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a gradgraph checkpoint"):
        load_checkpoint(tmp_path / "plain.npz", model)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError):
        read_checkpoint(tmp_path / "junk.npz")


def test_checkpoint_mismatch_errors(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", mlp())
    with pytest.raises(nn.StateDictError, match="missing keys"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3), nn.Linear(3, 3)))
    with pytest.raises(nn.StateDictError, match=r"0.weight.*\(2, 16\).*\(2, 8\)"):
        load_checkpoint(path, nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(16, 3)))
    with pytest.raises(CheckpointError, match="no optimizer state"):
        m = mlp()
        load_checkpoint(path, m, optim.SGD(m.parameters()))


def test_interrupted_checkpoint_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    model = mlp()
    save_checkpoint(path, model)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(np, "savez", broken_savez)
    model[0].weight.data += 1
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "new.npz", model)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


def test_limit_blas_threads_restores_the_setting():
    from gradgraph.blas import _blas_libraries
    from gradgraph.train import limit_blas_threads

    handles = _blas_libraries()
    before = [get() for _, get in handles]
    with limit_blas_threads(1):
        assert all(get() == 1 for _, get in handles)
        a = np.ones((50, 50), np.float32)
        assert (a @ a)[0, 0] == 50
    assert [get() for _, get in handles] == before
    with limit_blas_threads(None):
        assert [get() for _, get in handles] == before


def test_atomic_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from gradgraph.files import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~umask
    os.chmod(tmp_path / "a.txt", 0o600)
    atomic_write_text(tmp_path / "a.txt", "again")  # a replaced file keeps its mode
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o600
    assert (tmp_path / "a.txt").read_text() == "again"
