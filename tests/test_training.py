"""The runner: run folders, checkpoints, exact resume after kill -9, and a clean stop on NaN."""

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from conftest import ROOT, run_zoo
from zoo.config import load_recipe
from zoo.errors import TrainingError
from zoo.models import Autoencoder
from zoo.train import checkpoints, latest_checkpoint, restore, train
from zoo.train.loop import resume_changes


def test_a_run_writes_recipe_checkpoints_logs_grids_and_export(tiny_recipe, data_dir, tmp_path):
    recipe = load_recipe(tiny_recipe)
    result = train(recipe, tmp_path / "run", data_dir=data_dir, verbose=0)
    run = tmp_path / "run"
    assert result.epochs == 3
    assert [c.name for c in checkpoints(run)] == ["epoch-0001", "epoch-0002", "epoch-0003"]
    for ckpt in checkpoints(run):
        assert {p.name for p in ckpt.iterdir()} == {"model.weights.h5", "state.json", "recipe.toml"}
    assert load_recipe(run / "recipe.toml").to_dict() == recipe.to_dict()
    assert sorted(p.name for p in (run / "samples").iterdir()) == [f"epoch-000{i}.png" for i in (1, 2, 3)]
    assert any((run / "logs").rglob("events.out.tfevents.*"))
    assert len((run / "history.csv").read_text().strip().splitlines()) == 1 + 3
    assert (run / "export" / "metadata.json").is_file()


def test_keep_only_the_last_checkpoints(tiny_recipe, data_dir, tmp_path):
    recipe = load_recipe(tiny_recipe, overrides=["train.keep_checkpoints=1", "train.epochs=2"])
    train(recipe, tmp_path / "run", data_dir=data_dir, export=False, verbose=0)
    assert [c.name for c in checkpoints(tmp_path / "run")] == ["epoch-0002"]


def _weights(checkpoint):
    out = {}
    with h5py.File(checkpoint / "model.weights.h5", "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def test_kill_9_then_resume_equals_the_uninterrupted_run(tiny_recipe, data_dir, tmp_path):
    settings = ["--set", "train.epochs=6", "--set", "train.steps_per_epoch=12", "--set", "data.max_examples=0"]
    straight = run_zoo("train", tiny_recipe, "--out", tmp_path / "straight", "--data-dir", data_dir, "--no-export", *settings)
    assert straight.returncode == 0, straight.stderr[-3000:]

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "zoo", "train", str(tiny_recipe), "--out", str(killed), "--data-dir", str(data_dir),
           "--no-export", *settings]
    process = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while latest_checkpoint(killed) is None and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    reached = latest_checkpoint(killed)
    assert reached is not None and int(reached.name.split("-")[1]) < 6, "the run must be killed part-way"

    resumed = run_zoo("train", tiny_recipe, "--out", killed, "--data-dir", data_dir, "--no-export", "--resume", *settings)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stderr

    a, b = _weights(latest_checkpoint(tmp_path / "straight")), _weights(latest_checkpoint(killed))
    assert latest_checkpoint(killed).name == "epoch-0006" and a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_recipe, data_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(load_recipe(tiny_recipe, overrides=["train.epochs=1"]), run, data_dir=data_dir, export=False, verbose=0)
    good = _weights(latest_checkpoint(run))

    original = Autoencoder.per_example_loss
    monkeypatch.setattr(Autoencoder, "per_example_loss", lambda self, x, y: original(self, x, y) * np.nan)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 2, step 1; the last good checkpoint is .*epoch-0001"):
        train(load_recipe(tiny_recipe), run, data_dir=data_dir, resume=True, export=False, verbose=0)
    assert latest_checkpoint(run).name == "epoch-0001"
    after = _weights(latest_checkpoint(run))
    for name in good:
        np.testing.assert_array_equal(good[name], after[name])
    monkeypatch.undo()
    model, _, state = restore(run)
    assert state["epoch"] == 1 and int(model.optimizer.iterations.numpy()) == 4


def test_run_folder_mistakes_are_refused(tiny_recipe, data_dir, tmp_path):
    run = tmp_path / "run"
    train(load_recipe(tiny_recipe, overrides=["train.epochs=1"]), run, data_dir=data_dir, export=False, verbose=0)
    with pytest.raises(TrainingError, match="already has checkpoints.*--resume"):
        train(load_recipe(tiny_recipe), run, data_dir=data_dir, export=False, verbose=0)
    with pytest.raises(TrainingError, match=r"recipe changed beyond .*train.batch_size 32 -> 16"):
        train(load_recipe(tiny_recipe, overrides=["train.batch_size=16"]), run, data_dir=data_dir, resume=True,
              export=False, verbose=0)
    # speed settings may change mid-run
    faster = load_recipe(tiny_recipe, overrides=["train.epochs=1", "train.intra_op_threads=1"])
    assert resume_changes(faster, latest_checkpoint(run)) == ["train.intra_op_threads 0 -> 1"]


def test_mirrored_strategy_runs_the_same_train_step(tiny_recipe, data_dir, tmp_path):
    recipe = load_recipe(tiny_recipe, overrides=["train.epochs=1", "train.distribution='mirrored'"])
    result = train(recipe, tmp_path / "run", data_dir=data_dir, export=False, verbose=0)
    assert result.epochs == 1 and np.isfinite(result.history[-1]["loss"])


def test_a_non_deterministic_run_after_a_deterministic_one_in_one_process_is_refused(tiny_recipe, data_dir, tmp_path):
    """Op determinism is process-wide and TensorFlow's public API cannot switch it off again: an XLA run
    (deterministic = false) after a deterministic one in the same process says so instead of silently losing XLA."""
    train(load_recipe(tiny_recipe, overrides=["train.epochs=1"]), tmp_path / "a", data_dir=data_dir,
          export=False, verbose=0)
    recipe = load_recipe(tiny_recipe, overrides=["train.epochs=1", "train.jit_compile=true",
                                                 "train.deterministic=false"])
    with pytest.raises(TrainingError, match="new process"):
        train(recipe, tmp_path / "b", data_dir=data_dir, export=False, verbose=0)
    assert not (tmp_path / "b" / "checkpoints").exists()


@pytest.mark.isolated
def test_an_xla_run_trains_with_xla(tiny_recipe, data_dir, tmp_path):
    recipe = load_recipe(tiny_recipe, overrides=["train.epochs=1", "train.jit_compile=true",
                                                 "train.deterministic=false"])
    result = train(recipe, tmp_path / "b", data_dir=data_dir, export=False, verbose=0)
    assert result.epochs == 1 and np.isfinite(result.history[-1]["loss"])




def test_resume_takes_the_safe_changes_says_so_and_refuses_the_rest(tiny_recipe, data_dir, tmp_path, capsys):
    """The checkpoint's recipe is the truth of what was trained: a hand-edited run recipe.toml or another --set is
    compared with it; epochs, checkpointing, learning rates and the export settings may change mid-run, nothing else."""
    run = tmp_path / "run"
    train(load_recipe(tiny_recipe, overrides=["train.epochs=1"]), run, data_dir=data_dir, export=False, verbose=0)
    (run / "recipe.toml").write_text((run / "recipe.toml").read_text().replace("latent_dim = 8", "latent_dim = 4"))
    with pytest.raises(TrainingError, match=r"model.latent_dim 8 -> 4"):
        train(load_recipe(run / "recipe.toml"), run, data_dir=data_dir, resume=True, export=False, verbose=0)
    assert [p.name for p in checkpoints(run)] == ["epoch-0001"]  # nothing trained
    result = train(load_recipe(tiny_recipe, overrides=["train.epochs=2", "optimizer.learning_rate=1e-3",
                                                       "export.optimizer_state=false"]), run,
                   data_dir=data_dir, resume=True, export=False, verbose=0)
    assert result.epochs == 2
    said = capsys.readouterr().err
    assert ("recipe changes taken: export.optimizer_state True -> False, optimizer.learning_rate 0.002 -> 0.001, "
            "train.epochs 1 -> 2") in said, said
    assert "learning_rate = 0.001" in (run / "recipe.toml").read_text()  # the run's recipe now says what it trains
