"""A run's checkpoints: ``checkpoints/epoch-NNNN/`` folders of weights (with optimizer state), the run's state and
its recipe, each written to a unique temporary folder and renamed into place, so a run killed at any moment (even
``kill -9``) leaves only whole checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from zoo.config import Recipe
from zoo.files import is_temporary, replace_folder, temporary_folder

CHECKPOINTS = "checkpoints"
STATE = "state.json"
WEIGHTS = "model.weights.h5"


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
    """Checkpoint ``epoch-NNNN`` of ``state['epoch']``; only the ``keep`` most recent checkpoints stay."""
    final = Path(run_dir) / CHECKPOINTS / f"epoch-{state['epoch']:04d}"
    tmp = temporary_folder(final)
    try:
        model.save_weights(tmp / WEIGHTS)
        recipe.write(tmp / "recipe.toml")
        (tmp / STATE).write_text(json.dumps(state, indent=2))
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_stale(run_dir) -> None:
    """Delete the temporary folders a run killed while checkpointing left behind."""
    folder = Path(run_dir) / CHECKPOINTS
    for stale in folder.iterdir() if folder.is_dir() else ():
        if is_temporary(stale):
            shutil.rmtree(stale, ignore_errors=True)
