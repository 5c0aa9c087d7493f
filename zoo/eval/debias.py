"""How a binary classifier trained on biased data (:mod:`zoo.data.task`) does on each subgroup of the test split, how
runs over several seeds compare, and which training images DB-VAE's re-sampling favours.

The groups are the positive classes one by one, the rare class if it is a negative one, and the other negatives
together. Worst-group accuracy is the lowest of their accuracies: a classifier that ignores a rare subgroup can
score well overall and badly there. ``benchmarks/debias.py`` writes a comparison of a plain and a debiased
training (:func:`summarize` of each arm's runs); ``zoo debias-report NAME`` prints it (``debias_table`` of
:mod:`zoo.artifact.figures`) and,
with ``--into-card``, records it and the picture of :func:`favoured` in the artifact.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from zoo import catalogue, data
from zoo.artifact.figures import DEBIAS_FIGURES
from zoo.config import DataConfig
from zoo.errors import EvaluationError

NEGATIVES = "negatives"


def class_name(cfg: DataConfig, label: int) -> str:
    known = catalogue.dataset(cfg.dataset)
    return known.class_names[label] if known and label < known.num_classes else str(label)


def groups(cfg: DataConfig, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The test's groups as masks over the original ``labels``, by name: each positive class, the rare class when it is
    a negative one, and the remaining negatives (``"negatives"``)."""
    if not cfg.positive_classes:
        raise EvaluationError("subgroup accuracies need a binary task: data.positive_classes in the recipe")
    own = [*cfg.positive_classes, *([cfg.rare_class] if cfg.rare_class >= 0 and cfg.rare_class not in cfg.positive_classes
                                    else [])]
    masks = {class_name(cfg, c): labels == c for c in own}
    masks[NEGATIVES] = ~np.isin(labels, own)
    return {name: mask for name, mask in masks.items() if mask.any()}


def original_labels(cfg: DataConfig, split: str, data_dir=None) -> np.ndarray:
    """The class labels of ``split`` before the task made them 0/1, in the order :func:`zoo.data.labelled_images` gives
    every example in (all of a split: the same examples, the same order)."""
    return data.load_split(dataclasses.replace(cfg, positive_classes=()), split, data_dir).labels


def group_figures(correct: np.ndarray, labels: np.ndarray, cfg: DataConfig) -> dict:
    """Accuracy overall, per group, on the rare group and on the worst group, from per-example correctness and the
    original class labels."""
    correct = np.asarray(correct, bool)
    masks = groups(cfg, labels)
    accuracy = {name: float(np.mean(correct[mask])) for name, mask in masks.items()}
    worst = min(accuracy, key=accuracy.get)
    rare = class_name(cfg, cfg.rare_class) if cfg.rare_class >= 0 else None
    return {"overall_accuracy": float(np.mean(correct)), "group_accuracy": accuracy,
            "group_counts": {name: int(mask.sum()) for name, mask in masks.items()},
            "rare_group": rare, "rare_accuracy": accuracy.get(rare) if rare else None,
            "worst_group": worst, "worst_group_accuracy": accuracy[worst]}


def evaluate_groups(model, cfg: DataConfig, *, data_dir=None, batch_size: int = 500) -> dict:
    """:func:`group_figures` of ``model`` (``predict_proba``, threshold 0.5) on the whole eval split of ``cfg``."""
    images, labels, _ = data.labelled_images(cfg, cfg.eval_split, 10**9, data_dir=data_dir)
    p = np.concatenate([model.predict_proba(images[i:i + batch_size]).numpy() for i in range(0, len(images), batch_size)])
    return group_figures(np.argmax(p, axis=1) == labels, original_labels(cfg, cfg.eval_split, data_dir), cfg)


# ---------------------------------------------------------------- comparing runs


def summarize(runs: list[dict]) -> dict:
    """Mean and standard deviation (ddof 1; 0 for one run) over runs of each figure of ``DEBIAS_FIGURES``."""
    out = {}
    for key in DEBIAS_FIGURES:
        values = np.asarray([run[key] for run in runs if run.get(key) is not None], "float64")
        if len(values):
            out[key] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                        "n": int(len(values))}
    return out


def check_comparison(result, where: str) -> dict:
    """A benchmark result as ``benchmarks/debias.py`` writes it, or an :class:`EvaluationError` naming the problem."""
    if not isinstance(result, dict) or result.get("benchmark") != "debias" or not isinstance(result.get("arms"), dict):
        raise EvaluationError(f"{where} is not a result of benchmarks/debias.py (no \"benchmark\": \"debias\" with "
                              "\"arms\"); pass the file its --out wrote")
    missing = [key for key in ("recipe", "epochs", "seeds") if key not in result]
    if missing:
        raise EvaluationError(f"{where} lacks {', '.join(missing)}; rerun benchmarks/debias.py")
    for name, arm in result["arms"].items():
        if not isinstance(arm, dict) or "summary" not in arm or "runs" not in arm:
            raise EvaluationError(f"arm {name!r} of {where} has no runs and summary; rerun benchmarks/debias.py")
    return result


def text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [header] + rows)


# ---------------------------------------------------------------- what re-sampling favours


def favoured(model, images: np.ndarray, labels: np.ndarray, k: int):
    """The ``k`` training positives the re-sampling draws most often and the ``k`` it draws least often, by the
    model's ``sampling_probabilities``: (indices of the most favoured, most first; of the least, least first;
    the probabilities)."""
    p = model.sampling_probabilities(images, labels)
    positive = np.flatnonzero(np.asarray(labels) == 1)
    if len(positive) < 2 * k:
        raise EvaluationError(f"{len(positive)} training positives are too few to show the top and bottom {k}")
    order = positive[np.argsort(-p[positive], kind="stable")]
    return order[:k], order[::-1][:k], p
