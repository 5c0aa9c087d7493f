"""The Keras callbacks of a run: stop at the first non-finite loss, checkpoint every epoch, save the preview grid, and
re-sample the epoch's training examples (DB-VAE)."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np

from zoo import data, images
from zoo.config import Recipe
from zoo.errors import TrainingError
from zoo.train.checkpoints import latest_checkpoint, write_checkpoint


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


class FitPrior(keras.callbacks.Callback):
    """After each epoch, fit the model's latent density to the training images (``model.fit_prior``), before the
    checkpoint and the preview, so that both hold it. Seeded by the epoch, so a resumed run fits what an uninterrupted
    one would."""

    def __init__(self, images, labels, seed: int):
        super().__init__()
        self.images, self.labels, self.seed = images, labels, seed

    def on_epoch_end(self, epoch, logs=None):
        self.model.fit_prior(self.images, self.labels, seed=self.seed * 1000 + epoch)


class Resample(keras.callbacks.Callback):
    """At the start of each epoch, the model's sampling probability of every training example
    (``model.sampling_probabilities``), and that epoch's ``count`` draws handed to the input pipeline
    (:class:`zoo.data.EpochOrders`). The draws depend on the probabilities and ``(seed, epoch)`` alone, and the
    probabilities on the weights the epoch starts from, so a resumed run draws what an uninterrupted one would.

    Adds ``resample_ess`` to the epoch's logs: the effective sample size 1 / sum p^2 of the probabilities as a share
    of the training set (1 for a uniform draw; small when a few examples take most of the epoch).
    """

    def __init__(self, images, labels, orders: data.EpochOrders, count: int, seed: int):
        super().__init__()
        self.images, self.labels, self.orders = images, labels, orders
        self.count, self.seed = int(count), int(seed)
        self.ess = 1.0

    def on_epoch_begin(self, epoch, logs=None):
        p = self.model.sampling_probabilities(self.images, self.labels)
        self.ess = float(1.0 / np.sum(np.square(p)) / len(p))
        self.orders.put(data.epoch_order(p, self.count, self.seed, epoch))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # before the checkpoint and the CSV log, which record it
            logs["resample_ess"] = self.ess


class Checkpointer(keras.callbacks.Callback):
    """Write a checkpoint every ``every`` epochs and after the last one."""

    def __init__(self, recipe: Recipe, run_dir, state: dict):
        super().__init__()
        self.recipe, self.run_dir, self.state = recipe, Path(run_dir), state
        self.started = time.perf_counter()
        self.seconds_before = state.get("train_seconds", 0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.steps, self.first_step_end, self.last_step_end = 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.last_step_end = time.perf_counter()
        if self.first_step_end is None:
            self.first_step_end = self.last_step_end

    def images_per_second(self) -> float | None:
        """The epoch's training throughput after its first step (which may trace and compile), validation aside."""
        if self.steps < 2 or self.last_step_end <= self.first_step_end:
            return None
        return (self.steps - 1) * self.recipe.train.batch_size / (self.last_step_end - self.first_step_end)

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        self.state["epoch"] = done
        self.state["train_seconds"] = self.seconds_before + time.perf_counter() - self.started
        row = {k: float(v) for k, v in (logs or {}).items()}
        rate = self.images_per_second()
        if rate is not None:
            row["images_per_second"] = round(rate, 1)
        self.state.setdefault("history", []).append(row)
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
