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

import functools
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras

from zoo import data, runtime
from zoo.artifact.export import export_model
from zoo.config import Recipe, load_recipe
from zoo.errors import TrainingError
from zoo.eval.variants import fid_scorer
from zoo.models import get_family
from zoo.train import distributed
from zoo.train.callbacks import Checkpointer, FitPrior, PreviewGrid, Resample, StopOnNonFinite
from zoo.train.checkpoints import STATE, WEIGHTS, latest_checkpoint, remove_stale



@dataclass
class RunResult:
    run_dir: Path
    epochs: int
    history: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    export_dir: Path | None = None
    chief: bool = True  # False on the workers of a multi-worker run that write nothing


def build_model(recipe: Recipe, strategy=None, steps_per_epoch: int = 0):
    """The family's model for a recipe, compiled, with its optimizer state allocated.

    ``steps_per_epoch`` is what the data gives (see :func:`zoo.data.train_stream`), for epoch-based schedules.
    Without ``strategy`` the model lives on one device (as to export or evaluate a run, whatever it trained on).
    """
    strategy = strategy or runtime.make_strategy("default")
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


# ---------------------------------------------------------------- the run


PRIOR_FIT_IMAGES = 60_000  # at most this many training images to fit a latent density to


def prior_data(recipe: Recipe, data_dir=None):
    """The training images and class labels a model's latent density is fitted to (``model.fit_prior``)."""
    cfg = recipe.data
    images, labels, description = data.labelled_images(cfg, cfg.split, PRIOR_FIT_IMAGES, seed=recipe.train.seed,
                                                       data_dir=data_dir)
    if labels is None:
        raise TrainingError(f"model.prior = \"{recipe.model.prior}\" in {recipe.source or 'the recipe'} fits one "
                            f"Gaussian per class, but {description} has no labels; use prior = \"standard\" or data "
                            "with labels")
    return images, labels


# What a resumed run may change: how long it trains, how often it checkpoints, the learning rates. Anything else
# (the model, the data, the batch, the seed) would make the run something its checkpoints are not. The strategy may
# change: a run trains the same on one device or many (zoo.data.distribute, zoo.models.base.replica_rows).
RESUMABLE_CHANGES = (("train", "epochs"), ("train", "checkpoint_every"), ("train", "keep_checkpoints"),
                     ("train", "validation_steps"), ("train", "distribution"), ("train", "intra_op_threads"),
                     ("train", "inter_op_threads"), ("optimizer", "learning_rate"))


def _flatten(table: dict, prefix=()) -> dict:
    out = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def resume_changes(recipe: Recipe, checkpoint: Path) -> list[str]:
    """The changes of ``recipe`` from the one ``checkpoint`` was trained with, all of them safe to make mid-run
    (:data:`RESUMABLE_CHANGES`); a :class:`TrainingError` with the diff if any other value changed."""
    ours, theirs = _flatten(recipe.to_dict()), _flatten(load_recipe(checkpoint / "recipe.toml").to_dict())
    changed = sorted(key for key in set(ours) | set(theirs) if ours.get(key) != theirs.get(key))
    shown = [f"{'.'.join(key)} {theirs.get(key)!r} -> {ours.get(key)!r}" for key in changed]

    def safe(key):  # the [export] section says what the artifact holds, nothing of training
        return key[0] == "export" or any(key[0] == section and key[-1] == name for section, name in RESUMABLE_CHANGES)

    refused = [line for key, line in zip(changed, shown) if not safe(key)]
    if refused:
        raise TrainingError(f"cannot resume from {checkpoint}: the recipe changed beyond what a run can change "
                            f"mid-way ({'; '.join(refused[:4])}{'; ...' if len(refused) > 4 else ''}). Resume with "
                            "the recipe the run started with (only epochs, checkpointing, validation steps, the "
                            "strategy, thread pools, learning rates and the [export] section may change), or start a "
                            "new run with another --out")
    return shown


def train(recipe: Recipe, run_dir, *, data_dir=None, resume: bool = False, export: bool = True,
          verbose: int | str = "auto") -> RunResult:
    """Train ``recipe`` in ``run_dir`` (resuming from its last checkpoint with ``resume``), then export.

    Under ``multi_worker`` every worker runs this with its own ``TF_CONFIG``; only the chief writes to ``run_dir``
    (which the others read to resume, so on several machines it is a shared volume).
    """
    run_dir = Path(run_dir)
    existing = latest_checkpoint(run_dir)
    if existing and not resume:
        raise TrainingError(f"run folder {run_dir} already has checkpoints (up to {existing.name}); "
                            "pass --resume to continue it, or choose a new --out")
    changes = resume_changes(recipe, existing) if resume and existing else []
    t = recipe.train
    runtime.set_threads(t)  # first of all: TensorFlow fixes its thread pools when it starts
    strategy = runtime.make_strategy(t.distribution)  # next: a multi-worker strategy must start before any op runs
    chief = runtime.is_chief(strategy)
    if strategy.num_replicas_in_sync > 1:
        print(f"zoo: training on {strategy.num_replicas_in_sync} replicas ({t.distribution}"
              + ("" if chief else "; not the chief, so writing nothing") + ")", file=sys.stderr)
    policy = runtime.configure(t)
    if chief:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale(run_dir)
        recipe.write(run_dir / "recipe.toml")

    state = {"epoch": 0, "train_seconds": 0.0, "precision": policy, "history": []}
    if resume and existing:
        state = json.loads((existing / STATE).read_text())
    start = state["epoch"]
    if t.distribution == "multi_worker":
        distributed.check_same_start(strategy, start)
    orders = data.EpochOrders() if get_family(recipe.family).resamples(recipe) else None  # filled by Resample
    stream, steps = data.train_stream(recipe.data, t.batch_size, seed=t.seed, start_epoch=start, epochs=t.epochs,
                                      steps_per_epoch=t.steps_per_epoch, data_dir=data_dir, orders=orders)
    model = build_model(recipe, strategy, steps_per_epoch=steps)
    if model.jit_compile and not runtime.xla_allowed(strategy):
        print(f"zoo: XLA is off: it fails under {t.distribution} on CPU devices (keras-team/keras#19005); "
              "training without it", file=sys.stderr)
        model.jit_compile = False
    if resume and existing:
        model.load_weights(existing / WEIGHTS)
        if chief:
            print(f"zoo: resuming {run_dir} from {existing.name}"
                  + (f"; recipe changes taken: {', '.join(changes)}" if changes else ""), file=sys.stderr)

    if start < t.epochs:
        validation = data.eval_dataset(recipe.data, t.batch_size, steps=t.validation_steps, data_dir=data_dir)
        callbacks = [StopOnNonFinite(run_dir)]
        if orders is not None:  # every training example, in the order of the pipeline's indices
            images, labels, _ = data.labelled_images(recipe.data, recipe.data.split, 10**9, data_dir=data_dir)
            callbacks.append(Resample(images, labels, orders, steps * t.batch_size, seed=t.seed))
        if model.fits_prior:  # before the checkpoint and the preview, which then hold the fitted prior
            callbacks.append(FitPrior(*prior_data(recipe, data_dir), seed=t.seed))
        if chief:  # the other workers write nowhere
            preview_images, preview_labels = data.example_batch(recipe.data, 8, data_dir=data_dir)
            callbacks += [
                Checkpointer(recipe, run_dir, state),
                PreviewGrid(run_dir, preview_images, preview_labels, recipe.data.value_range),
                keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
                keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
            ]
        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        state["steps_per_epoch"] = steps
        if t.distribution == "multi_worker":
            distributed.fit(model, strategy, stream, epochs=t.epochs, initial_epoch=start, steps_per_epoch=steps,
                            validation_data=validation, callbacks=callbacks, verbose=verbose if chief else 0,
                            batch_parts=model.batch_parts)
        else:
            model.fit(data.distribute(stream, strategy, model.batch_parts), epochs=t.epochs, initial_epoch=start,
                      steps_per_epoch=steps, validation_data=validation, callbacks=callbacks, shuffle=False,
                      verbose=verbose)

    result = RunResult(run_dir, state["epoch"], state.get("history", []), state.get("train_seconds", 0.0), chief=chief)
    if export and chief:
        result.export_dir = export_model(model, recipe, run_dir / "export", data_dir=data_dir, run_state=state,
                                         variant_fid=functools.partial(fid_scorer, data_dir=data_dir))
    return result
