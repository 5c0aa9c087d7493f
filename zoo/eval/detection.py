"""How well a score tells out-of-distribution inputs from in-distribution ones, from the two sets of scores.

A score is higher for inputs that look less like the training data, and the out-of-distribution inputs are the
positive class (the detector's alarms), as in Hendrycks & Gimpel (2017, "A baseline for detecting misclassified and
out-of-distribution examples in neural networks"):

* ``auroc``: the area under the ROC curve, the probability that a random out-of-distribution input scores above a
  random in-distribution one (ties count one half); 0.5 is chance, 1 perfect, 0 perfectly reversed;
* ``auprc``: the area under the precision-recall curve (average precision) with out-of-distribution positive; chance
  is the fraction of positives;
* ``fpr_at_95_tpr``: the fraction of in-distribution inputs flagged at the lowest threshold that flags 95% of the
  out-of-distribution ones.

The curves come from scikit-learn, imported on first use (it takes seconds, and ``import zoo`` reaches this
module); this module checks the inputs and names what is wrong.
"""

from __future__ import annotations

import numpy as np

from zoo.errors import EvaluationError

TPR = 0.95


def _scores(values, what: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 1 or len(array) == 0:
        raise EvaluationError(f"{what} must be a non-empty 1-d array of scores, one per input; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise EvaluationError(f"{what} holds {int(np.sum(~np.isfinite(array)))} NaN or infinite score(s); "
                              "check the inputs and the model that scored them")
    return array


def labelled(in_scores, out_scores) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores): 0 for each in-distribution score, 1 for each out-of-distribution one."""
    inside = _scores(in_scores, "the in-distribution scores")
    outside = _scores(out_scores, "the out-of-distribution scores")
    return np.r_[np.zeros(len(inside)), np.ones(len(outside))], np.r_[inside, outside]


def fpr_at_tpr(in_scores, out_scores, tpr: float = TPR) -> float:
    """The false positive rate at the lowest threshold whose true positive rate reaches ``tpr``."""
    if not 0.0 < tpr <= 1.0:
        raise EvaluationError(f"the true positive rate must be in (0, 1], got {tpr}")
    from sklearn.metrics import roc_curve

    labels, scores = labelled(in_scores, out_scores)
    false_positive, true_positive, _ = roc_curve(labels, scores, drop_intermediate=False)
    return float(false_positive[np.searchsorted(true_positive, tpr - 1e-12, side="left")])


def detection_metrics(in_scores, out_scores) -> dict:
    """AUROC, AUPRC and FPR at 95% TPR of out-of-distribution ``out_scores`` against ``in_scores``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels, scores = labelled(in_scores, out_scores)
    return {"auroc": float(roc_auc_score(labels, scores)), "auprc": float(average_precision_score(labels, scores)),
            "fpr_at_95_tpr": fpr_at_tpr(in_scores, out_scores), "n_in": int(np.sum(labels == 0)),
            "n_out": int(np.sum(labels == 1))}
