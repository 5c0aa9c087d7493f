"""The ``classification`` evaluation (the zoo's classifiers, which are also its feature networks): test accuracy,
loss and per-class accuracy."""

from __future__ import annotations

import numpy as np

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
    return {"num_samples": int(len(images)), "reference": description,
            "classification": {"test_accuracy": accuracy, "test_loss": loss, "per_class_accuracy": per_class},
            "headline": {"test_accuracy": accuracy, "test_loss": loss}}
