"""A binary task carved out of a labelled dataset, with one subgroup made rare in training: biased data on purpose.

``data.positive_classes`` turns a dataset's labels into 1 (one of those classes) and 0 (any other), and
``data.rare_class`` with ``data.rare_keep`` keeps only that share of one class's examples in the training split,
a choice seeded by ``data.rare_seed``, while the other splits keep all of them. A classifier trained on such data
sees the subgroup rarely and is then tested on its full share: the setting of DB-VAE's benchmark (Amini et al. 2019
made dark-skinned faces rare; ``recipes/dbvae_fashion_mnist.toml`` makes coats rare among upper-body garments).
"""

from __future__ import annotations

import numpy as np

from zoo.config import DataConfig
from zoo.errors import DataError


def has_task(cfg: DataConfig) -> bool:
    """Whether the recipe relabels its data or makes a class rare."""
    return bool(cfg.positive_classes) or cfg.rare_class >= 0


def rare_subset(labels: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """Which examples a training split keeps: every one outside ``rare_class``, and ``round(rare_keep * n)`` of the
    ``n`` in it, chosen by ``rare_seed`` alone (the same examples for every run with that seed). A boolean mask."""
    keep = np.ones(len(labels), bool)
    if cfg.rare_class < 0 or cfg.rare_keep >= 1.0:
        return keep
    members = np.flatnonzero(labels == cfg.rare_class)
    kept = np.random.default_rng(cfg.rare_seed).choice(members, int(round(cfg.rare_keep * len(members))), replace=False)
    keep[members] = False
    keep[kept] = True
    return keep


def binary_labels(labels: np.ndarray, cfg: DataConfig) -> np.ndarray:
    """1 for the examples of ``positive_classes``, 0 for the rest (int32); the labels as they are without a task."""
    if not cfg.positive_classes:
        return labels
    return np.isin(labels, np.asarray(cfg.positive_classes, labels.dtype)).astype("int32")


def check_task(labels: np.ndarray | None, cfg: DataConfig, where: str) -> None:
    """A :class:`DataError` unless the data has the labels the task names, and negatives besides the positives."""
    if not has_task(cfg):
        return
    if labels is None:
        raise DataError(f"data.positive_classes and data.rare_class need labels, but {where} has none; remove them or "
                        "use labelled data (y_* arrays, or one sub-folder per class)")
    present = set(np.unique(labels).tolist())
    named = [*cfg.positive_classes, *([cfg.rare_class] if cfg.rare_class >= 0 else [])]
    missing = sorted({c for c in named if c not in present})
    if missing:
        raise DataError(f"class(es) {missing} from data.positive_classes / data.rare_class are not in {where} "
                        f"(labels present: {sorted(present)}); fix them")
    if cfg.positive_classes and present <= set(cfg.positive_classes):
        raise DataError(f"data.positive_classes {list(cfg.positive_classes)} cover every label of {where}, so there is "
                        "no negative example; leave at least one class out")


def describe_task(cfg: DataConfig, training: bool) -> str:
    """The task's part of a source's description, e.g. ``", classes [0, 2, 4, 6] positive, class 4 kept at 2%"``."""
    text = f", classes {list(cfg.positive_classes)} positive (1), the rest negative (0)" if cfg.positive_classes else ""
    if training and cfg.rare_class >= 0 and cfg.rare_keep < 1.0:
        text += f", class {cfg.rare_class} kept at {100 * cfg.rare_keep:g}% (seed {cfg.rare_seed})"
    return text
