"""The ``classification`` evaluation (the zoo's classifiers, which are also its feature networks, and DB-VAE): test
accuracy, loss and per-class accuracy; for a binary task (``data.positive_classes``), the accuracy of each subgroup
of the test split, of the rare one and of the worst one (:mod:`zoo.eval.debias`)."""

from __future__ import annotations

import numpy as np

from zoo.eval.debias import group_figures, original_labels
from zoo.eval.evaluator import Evaluator
from zoo.errors import EvaluationError


def evaluate_classification(ev: Evaluator) -> dict:
    cfg = ev.recipe.data
    images, labels, description = ev.real_images(cfg, cfg.eval_split, 10**9, ev.seed)
    if labels is None:
        raise EvaluationError(f"{description} has no labels to score a classifier against")
    probabilities = []
    report = ev.progress("classifying the test split")
    for start in range(0, len(images), ev.batch_size):
        probabilities.append(ev.model.predict_proba(images[start:start + ev.batch_size]).numpy())
        if report:
            report(min(start + ev.batch_size, len(images)), len(images))
    p = np.concatenate(probabilities)
    correct = np.argmax(p, axis=1) == labels
    loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(p)), labels], 1e-12))))
    per_class = {int(c): float(np.mean(correct[labels == c])) for c in np.unique(labels)}
    accuracy = float(np.mean(correct))
    report = {"num_samples": int(len(images)), "reference": description,
              "classification": {"test_accuracy": accuracy, "test_loss": loss, "per_class_accuracy": per_class},
              "headline": {"test_accuracy": accuracy, "test_loss": loss}}
    if cfg.positive_classes:  # every test image, so the original labels line up with them
        figures = group_figures(correct, original_labels(cfg, cfg.eval_split, ev.data_dir), cfg)
        report["groups"] = figures["group_accuracy"]
        report["classification"].update({key: figures[key] for key in ("rare_group", "rare_accuracy", "worst_group",
                                                                      "worst_group_accuracy", "group_counts")})
        report["headline"].update(worst_group_accuracy=figures["worst_group_accuracy"],
                                  **({"rare_group_accuracy": figures["rare_accuracy"]} if figures["rare_group"] else {}))
    return report
