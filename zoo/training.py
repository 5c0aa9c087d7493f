"""The training runner behind ``zoo train``: one recipe, one run folder, resumable at any point.

A run folder holds::

    recipe.toml                      the resolved recipe (the whole truth of the run)
    checkpoints/epoch-NNNN/          model.weights.h5 (weights and optimizer state), state.json, recipe.toml
    logs/                            TensorBoard
    history.csv                      one row per epoch
    samples/epoch-NNNN.png           the family's preview grid after each epoch
    export/                          the exported artifact, when training ends

Checkpoints are written to a temporary folder and renamed into place, so a run killed at
any moment (even ``kill -9``) leaves only whole checkpoints. Epoch ``e`` always sees the
same batches (the shuffle is seeded by the seed and ``e``), so ``--resume`` ends with the
same weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from zoo import data, images, runtime
from zoo.config import Recipe, load_recipe
from zoo.errors import TrainingError
from zoo.models import get_family

CHECKPOINTS = "checkpoints"
STATE = "state.json"
WEIGHTS = "model.weights.h5"


@dataclass
class RunResult:
    run_dir: Path
    epochs: int
    history: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    export_dir: Path | None = None


# ---------------------------------------------------------------- checkpoints


def checkpoints(run_dir) -> list[Path]:
    """Complete checkpoints of a run, oldest first (temporary folders are never listed)."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("epoch-") and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(run_dir) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def write_checkpoint(model, recipe: Recipe, run_dir, state: dict, keep: int) -> Path:
    folder = Path(run_dir) / CHECKPOINTS
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"epoch-{state['epoch']:04d}"
    tmp = folder / f".tmp-epoch-{state['epoch']:04d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save_weights(tmp / WEIGHTS)
    recipe.write(tmp / "recipe.toml")
    (tmp / STATE).write_text(json.dumps(state, indent=2))
    for path in tmp.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def build_model(recipe: Recipe, strategy=None, steps_per_epoch: int = 0):
    """The family's model for a recipe, compiled, with its optimizer state allocated.

    ``steps_per_epoch`` is what the data gives (see :func:`zoo.data.train_stream`), for epoch-based schedules.
    """
    strategy = strategy or runtime.make_strategy(recipe.train.distribution)
    with strategy.scope():
        model = get_family(recipe.family).from_recipe(recipe)
        model.compile_from_recipe(recipe, steps_per_epoch)  # compile allocates the optimizer state
    return model


def restore(run_dir, checkpoint: Path | None = None):
    """Rebuild a run's model from its recipe and load its latest (or the given) checkpoint."""
    run_dir = Path(run_dir)
    if not (run_dir / "recipe.toml").is_file():
        raise TrainingError(f"{run_dir} is not a run folder (no recipe.toml); pass the --out folder of a `zoo train` run")
    checkpoint = checkpoint or latest_checkpoint(run_dir)
    if checkpoint is None:
        raise TrainingError(f"run {run_dir} has no checkpoint yet; train at least one epoch first")
    recipe = load_recipe(checkpoint / "recipe.toml")
    runtime.configure(recipe.train)
    state = json.loads((checkpoint / STATE).read_text())
    model = build_model(recipe, steps_per_epoch=state.get("steps_per_epoch") or 0)
    model.load_weights(checkpoint / WEIGHTS)
    return model, recipe, state


# ---------------------------------------------------------------- callbacks


class StopOnNonFinite(keras.callbacks.Callback):
    """Abort at the first NaN or Inf loss, before the epoch's checkpoint can be written."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = run_dir
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not np.all(np.isfinite(np.asarray(value))):
                last = latest_checkpoint(self.run_dir)
                kept = f"the last good checkpoint is {last}" if last else "no checkpoint had been written yet"
                raise TrainingError(
                    f"{name} became {float(np.asarray(value))} at epoch {self.epoch + 1}, step {batch + 1}; "
                    f"{kept}. Lower the learning rate, set optimizer.clipnorm, or train in float32, "
                    "then run again (with --resume to continue from the checkpoint)")


class Checkpointer(keras.callbacks.Callback):
    """Write a checkpoint every ``every`` epochs and after the last one."""

    def __init__(self, recipe: Recipe, run_dir, state: dict):
        super().__init__()
        self.recipe, self.run_dir, self.state = recipe, Path(run_dir), state
        self.started = time.perf_counter()
        self.seconds_before = state.get("train_seconds", 0.0)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        self.state["epoch"] = done
        self.state["train_seconds"] = self.seconds_before + time.perf_counter() - self.started
        self.state.setdefault("history", []).append({k: float(v) for k, v in (logs or {}).items()})
        if done % self.recipe.train.checkpoint_every == 0 or done == self.recipe.train.epochs:
            write_checkpoint(self.model, self.recipe, self.run_dir, self.state, self.recipe.train.keep_checkpoints)


class PreviewGrid(keras.callbacks.Callback):
    """Save the family's preview of a fixed batch after each epoch, so epochs can be compared."""

    def __init__(self, run_dir, batch, labels, value_range):
        super().__init__()
        self.folder = Path(run_dir) / "samples"
        self.batch, self.labels, self.value_range = batch, labels, value_range

    def on_epoch_end(self, epoch, logs=None):
        shown = self.model.preview(self.batch, self.labels)
        images.save_png(images.grid(shown, self.value_range, ncols=self.model.preview_columns),
                        self.folder / f"epoch-{epoch + 1:04d}.png", scale=2)


# ---------------------------------------------------------------- the run


def _check_resumable(recipe: Recipe, run_dir: Path) -> None:
    saved = load_recipe(run_dir / "recipe.toml")
    ours, theirs = recipe.to_dict(), saved.to_dict()
    ours["train"].pop("epochs"), theirs["train"].pop("epochs")
    diffs = [f"{section}.{key}: run has {theirs[section][key]!r}, now {ours[section].get(key)!r}"
             for section in theirs if isinstance(theirs[section], dict)
             for key in theirs[section] if ours.get(section, {}).get(key) != theirs[section][key]]
    if diffs:
        raise TrainingError(f"cannot resume {run_dir}: the recipe differs from the one it was started with "
                            f"({'; '.join(diffs[:4])}). Resume with the same recipe and --set options, "
                            "or start a new run with another --out")


def train(recipe: Recipe, run_dir, *, data_dir=None, resume: bool = False, export: bool = True,
          verbose: int | str = "auto") -> RunResult:
    """Train ``recipe`` in ``run_dir`` (resuming from its last checkpoint with ``resume``), then export."""
    run_dir = Path(run_dir)
    existing = latest_checkpoint(run_dir)
    if existing and not resume:
        raise TrainingError(f"run folder {run_dir} already has checkpoints (up to {existing.name}); "
                            "pass --resume to continue it, or choose a new --out")
    if resume and (run_dir / "recipe.toml").is_file():
        _check_resumable(recipe, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (run_dir / CHECKPOINTS).glob(".tmp-*"):  # left by a run killed while checkpointing
        shutil.rmtree(stale, ignore_errors=True)
    recipe.write(run_dir / "recipe.toml")

    policy = runtime.configure(recipe.train)
    state = {"epoch": 0, "train_seconds": 0.0, "precision": policy, "history": []}
    if resume and existing:
        state = json.loads((existing / STATE).read_text())
    start, t = state["epoch"], recipe.train
    stream, steps = data.train_stream(recipe.data, t.batch_size, seed=t.seed, start_epoch=start, epochs=t.epochs,
                                      steps_per_epoch=t.steps_per_epoch, data_dir=data_dir)
    model = build_model(recipe, runtime.make_strategy(t.distribution), steps_per_epoch=steps)
    if resume and existing:
        model.load_weights(existing / WEIGHTS)
        print(f"zoo: resuming {run_dir} from {existing.name}", file=sys.stderr)

    if start < t.epochs:
        validation = data.eval_dataset(recipe.data, t.batch_size, steps=t.validation_steps, data_dir=data_dir)
        preview_images, preview_labels = data.example_batch(recipe.data, 8, data_dir=data_dir)
        callbacks = [
            StopOnNonFinite(run_dir),
            Checkpointer(recipe, run_dir, state),
            PreviewGrid(run_dir, preview_images, preview_labels, recipe.data.value_range),
            keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
        ]
        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        state["steps_per_epoch"] = steps
        model.fit(stream, epochs=t.epochs, initial_epoch=start, steps_per_epoch=steps, validation_data=validation,
                  callbacks=callbacks, shuffle=False, verbose=verbose)

    result = RunResult(run_dir, state["epoch"], state.get("history", []), state.get("train_seconds", 0.0))
    if export:
        from zoo.export import export_model

        result.export_dir = export_model(model, recipe, run_dir / "export", data_dir=data_dir, run_state=state)
    return result
