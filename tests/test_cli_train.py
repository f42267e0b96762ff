"""The command line tells the truth: `gradgraph train` (option ranges, resuming, NaN and
divergence, Ctrl-C, the files it names), `gradgraph run SCRIPT.py`, and the terminal
fallback when the display cannot be opened."""
import csv
import os
import random
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

import gradgraph as gg
from gradgraph.cli import build_parser, main
from gradgraph.cli_train import DEFAULTS, cli_train

REPO = Path(__file__).resolve().parent.parent


def _train(tmp_path, *options):
    return main(["train", "lenet", "--runs-dir", str(tmp_path / "runs"), *options])


def _run_dirs(tmp_path):
    return sorted((tmp_path / "runs").iterdir())


def _named_paths(text):
    """Every file under a runs folder that the output names."""
    return [Path(word) for word in text.split()
            if "/runs/" in word and Path(word).suffix in (".npz", ".csv", ".png", ".json")]


# -- option values ---------------------------------------------------------------------------
@pytest.mark.parametrize("option,value,valid", [
    ("--epochs", "0", ">= 1"), ("--batch-size", "0", ">= 1"), ("--lr", "-1", "> 0"), ("--lr", "0", "> 0"),
    ("--lr", "nan", "> 0"), ("--limit", "-5", ">= 1"), ("--val-fraction", "1.0", "[0, 1)"),
    ("--dropout", "1.0", "[0, 1)"), ("--momentum", "1.5", "[0, 1)"), ("--weight-decay", "-0.1", ">= 0"),
    ("--lr-decay", "0", "(0, 1]"), ("--lr-decay", "1.1", "(0, 1]"), ("--patience", "0", ">= 1"),
    ("--seed", "-1", ">= 0"), ("--epochs", "2.5", ">= 1"),
    ("--optimizer", "adamw", "'adam', 'sgd', 'rmsprop'"), ("--activation", "gelu", "'relu'"),
    ("--pool", "min", "'max', 'avg'"), ("--dataset", "cifar", "'fashion-mnist-starter'"),
])
def test_invalid_values_are_one_line_before_any_data_or_folder(tmp_path, capsys, monkeypatch, option, value,
                                                               valid):
    def no_loading(*args, **kwargs):
        raise AssertionError("data was loaded")
    monkeypatch.setattr(gg.data, "load_mnist", no_loading)
    with pytest.raises(SystemExit) as exit:
        _train(tmp_path, option, value)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"argument {option}:" in err and valid in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_unknown_option_and_model_are_one_line(tmp_path, capsys):
    for argv in (["train", "lenet", "--bogus", "3"], ["train", "resnet"], ["train"]):
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error:" in err


def test_help_shows_a_description_and_default_for_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    options = capsys.readouterr().out.split("\noptions:\n", 1)[1]
    blocks = {"-" + block.split()[0]: " ".join(block.split()) for block in options.split("\n  -") if block.strip()}
    for name in DEFAULTS:
        flag = "--" + name.replace("_", "-")
        assert flag in blocks and "default" in blocks[flag], f"{flag} has no default in --help"
        assert len(blocks[flag].split()) > 4, f"{flag} has no description"
    for name in gg.optim.OPTIMIZERS:  # the --lr help is the registry's defaults
        assert f"{name} {gg.optim.default_lr(name):g}" in blocks["--lr"]


# -- training, resuming ------------------------------------------------------------------------
def test_train_then_resume_in_the_same_folder_continues_the_run(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--limit", "320", "--batch-size", "32") == 0
    out, err = capsys.readouterr()
    assert "epoch 1/1" in out and "val acc" in out and "test accuracy" in out
    assert "epoch 1/1 [" in err and "loss" in err
    run, = _run_dirs(tmp_path)
    assert run.name == "lenet_fashion-mnist-starter_lr_0.001_epochs_1_batch_32_opt_adam"
    assert all(p.exists() for p in _named_paths(out)) and len(_named_paths(out)) == 5

    assert main(["train", "lenet", "--epochs", "3", "--resume", str(run / "checkpoint_last.npz")]) == 0
    out, err = capsys.readouterr()
    assert _run_dirs(tmp_path) == [run]  # the same folder, no new one
    assert "epoch 2/3" in out and "epoch 3/3" in out and "epoch 1/3" not in out
    rows = list(csv.DictReader((run / "history.csv").open()))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [int(r["step"]) for r in rows] == [9, 18, 27]  # batch size 32 kept: 288 images, 9 steps
    assert [float(r["lr"]) for r in rows] == pytest.approx([1e-3, 9e-4, 8.1e-4])  # the schedule continues

    # the same as three epochs in one go
    assert _train(tmp_path / "again", "--epochs", "3", "--limit", "320", "--batch-size", "32") == 0
    capsys.readouterr()
    straight = list(csv.DictReader(next((tmp_path / "again" / "runs").iterdir()).joinpath("history.csv").open()))
    assert [r["loss"] for r in straight] == [r["loss"] for r in rows]


def test_resume_refuses_changed_settings_and_finished_runs(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--limit", "200", "--val-fraction", "0") == 0
    run, = _run_dirs(tmp_path)
    capsys.readouterr()
    assert main(["train", "lenet", "--resume", str(run), "--batch-size", "16", "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 64" in err and len(err.strip().splitlines()) == 1
    assert main(["train", "lenet", "--resume", str(run)]) == 2
    assert "finished 1 of its 1 epoch" in capsys.readouterr().err
    assert main(["train", "lenet", "--resume", str(tmp_path / "nothing.npz")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert _train(tmp_path, "--optimizer", "adam", "--momentum", "0.5") == 2
    assert "--momentum applies to --optimizer sgd only" in capsys.readouterr().err


def test_plain_namespace_takes_the_defaults(tmp_path, capsys):
    args = types.SimpleNamespace(epochs=1, limit=200, batch_size=50, val_fraction=0.0, runs_dir=str(tmp_path),
                                 optimizer="sgd", activation="tanh", pool="avg")
    assert cli_train(args) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_divergence_under_adam_is_an_error_and_only_existing_files_are_named(tmp_path, capsys):
    code = _train(tmp_path, "--epochs", "3", "--limit", "640", "--lr", "5", "--lr-decay", "1")
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "diverged" in out and "learning rate" in out and "test accuracy" not in out
    named = _named_paths(out)
    run, = _run_dirs(tmp_path)
    assert named and all(p.exists() for p in named)
    assert sorted(p.name for p in named) == sorted(p.name for p in run.iterdir())


def test_nan_stop_is_an_error_naming_only_existing_files(tmp_path, capsys):
    code = _train(tmp_path, "--epochs", "2", "--limit", "300", "--optimizer", "sgd", "--lr", "1e4",
                  "--lr-decay", "1")
    out, err = capsys.readouterr()
    assert code == 1 and ("not finite" in out or "loss is nan" in out or "diverged" in out), out
    named = _named_paths(out)
    assert all(p.exists() for p in named) and "checkpoint.npz" not in out
    assert [p.name for p in named] == ["config.json"]


def test_an_error_while_writing_names_only_existing_files(tmp_path, capsys, monkeypatch):
    import gradgraph.runs

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(gradgraph.runs, "save_checkpoint", disk_full)
    assert _train(tmp_path, "--epochs", "2", "--limit", "200") == 1
    out, err = capsys.readouterr()
    assert "No space left on device" in err and "Traceback" not in err
    named = _named_paths(err)
    assert [p.name for p in named] == ["config.json"] and named[0].exists()

    (tmp_path / "a_file").write_text("")
    assert main(["train", "lenet", "--runs-dir", str(tmp_path / "a_file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


# -- Ctrl-C -------------------------------------------------------------------------------------
def _ctrl_c_as_in_a_terminal():
    """(in the child, before exec) Ctrl-C at its default, as a command typed in a terminal has it:
    the test run may itself ignore SIGINT (started in the background, `cmd &`), and a child would
    inherit that and never see the Ctrl-C these tests send."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_always_ends_cleanly_with_exit_130(tmp_path):
    """Ctrl-C pressed at random moments of training, sometimes twice: never a traceback."""
    rng = random.Random(0)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    for attempt in range(6):
        child = subprocess.Popen(
            [sys.executable, "-m", "gradgraph", "train", "lenet", "--epochs", "30", "--limit", "3000",
             "--runs-dir", str(tmp_path / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
            preexec_fn=_ctrl_c_as_in_a_terminal)
        first = child.stderr.readline()  # "loading ...": the command is running
        time.sleep(rng.uniform(0.0, 3.0))
        for _ in range(rng.choice([1, 1, 2, 3])):
            child.send_signal(signal.SIGINT)
            time.sleep(rng.uniform(0.0, 0.1))
        out, err = child.communicate(timeout=120)
        err = first + err
        assert child.returncode == 130, f"attempt {attempt}: exit {child.returncode}\n{err[-3000:]}"
        assert "Traceback" not in err and "Error" not in err, err[-3000:]
        assert err.strip().splitlines()[-1].startswith("interrupted"), err[-500:]
        assert all(p.exists() for p in _named_paths(out + err))


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") != "0", reason="nothing compiles without the JIT")
def test_ctrl_c_to_the_process_group_while_a_kernel_compiles_in_a_child(tmp_path):
    """The terminal sends Ctrl-C to every process of the group, the compile child too:
    the command still ends with "interrupted" and 130, and no process is left over."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    child = subprocess.Popen(
        [sys.executable, "-m", "gradgraph", "train", "lenet", "--epochs", "30", "--limit", "3000",
         "--runs-dir", str(tmp_path / "runs")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)  # its own process group, as in a terminal
    seen = []
    for line in child.stderr:  # an empty cache: a kernel is soon compiling in the child process
        seen.append(line)
        if "compiling kernel" in line:
            break
    time.sleep(0.5)
    os.killpg(child.pid, signal.SIGINT)
    out, err = child.communicate(timeout=60)
    err = "".join(seen) + err
    assert child.returncode == 130, err[-3000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted"), err[-3000:]
    with pytest.raises(ProcessLookupError):  # the compile process is gone too
        os.killpg(child.pid, 0)


def _importing_numpy(pid) -> bool:
    """Whether the process has got as far as loading numpy (gradgraph imports it first thing)."""
    return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc to see the import start")
def test_ctrl_c_while_the_command_is_still_importing(tmp_path):
    for delay in (0.0, 0.05, 0.15):
        child = subprocess.Popen(
            [sys.executable, "-m", "gradgraph", "train", "lenet", "--epochs", "30", "--limit", "3000",
             "--runs-dir", str(tmp_path / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            preexec_fn=_ctrl_c_as_in_a_terminal)
        deadline = time.monotonic() + 30
        while not _importing_numpy(child.pid):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
        assert child.returncode == 130, f"delay {delay}: exit {child.returncode}\n{err[-3000:]}"
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("interrupted"), err[-3000:]


# -- gradgraph run, the display ---------------------------------------------------------------------
def test_run_a_script_of_your_own(tmp_path, capsys):
    script = tmp_path / "mine.py"
    script.write_text("import gradgraph as gg\nx = gg.Tensor(3.0)\nf = x * x\nf.backward()\n"
                      "print('grad', float(x.grad))\n")
    assert main(["run", str(script)]) == 0
    assert "grad 6.0" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["run", "no_such_lesson"]) == 2
    assert "gradgraph run my_script.py" in capsys.readouterr().err


def test_a_display_that_cannot_be_opened_falls_back_to_the_terminal(tmp_path):
    pytest.importorskip("PySide6")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":99"  # no X server there
    done = subprocess.run([sys.executable, "-m", "gradgraph"], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "DISPLAY=:99 cannot be opened" in done.stderr and "in the terminal instead" in done.stderr
    assert "forward" in done.stdout
