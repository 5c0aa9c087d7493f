"""Figures against training time: the headline figures of evaluated exports of one run at several epochs."""

from __future__ import annotations

from zoo.artifact.store import read_metadata, resolve
from zoo.errors import EvaluationError

CURVE_SKIP = ("kid", "fid_floor", "kid_floor", "neg_elbo_nats")  # headline figures a training curve leaves out


def training_curve(stages) -> list[dict]:
    """One row per evaluated export of a run (at several epochs of it): epochs, training seconds and headline figures.

    Every stage must have been through ``zoo eval`` and share the recipe, apart from its epoch count.
    """
    rows, first = [], None
    for stage in stages:
        folder = resolve(stage)
        meta = read_metadata(folder)
        if not meta.get("metrics"):
            raise EvaluationError(f"{folder} has no evaluation yet: run `zoo eval {stage}` first")
        recipe = run_recipe(meta)
        if first is None:
            first = (folder, recipe, meta["evaluation"].get("num_samples"))
        elif recipe != first[1]:
            raise EvaluationError(f"{folder} was trained by another recipe than {first[0]} (beyond train.epochs): "
                                  "a training curve takes exports of one run")
        elif meta["evaluation"].get("num_samples") != first[2]:
            raise EvaluationError(f"{folder} was evaluated on {meta['evaluation'].get('num_samples')} images per set "
                                  f"and {first[0]} on {first[2]}: evaluate every stage with the same --num-samples")
        figures = {k: v for k, v in meta["metrics"].items() if not k.startswith(CURVE_SKIP)}
        rows.append({"epochs": meta["training"]["epochs"], "train_seconds": meta["training"]["train_seconds"],
                     "num_samples": meta["evaluation"].get("num_samples"), **figures})
    return sorted(rows, key=lambda row: row["epochs"])


def run_recipe(meta: dict) -> dict:
    """An artifact's recipe without ``train.epochs``: what exports of one run at several epochs share."""
    return {**meta["recipe"], "train": {k: v for k, v in meta["recipe"].get("train", {}).items() if k != "epochs"}}

