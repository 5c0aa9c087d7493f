"""``zoo eval``: the metrics that apply to a model, measured against its dataset's test split.

What the family declares it can do says how it is measured (:meth:`zoo.models.GenerativeModel.evaluation`), and
this module runs that evaluation with the shared helpers of :class:`Evaluator`:

* ``samples`` (VAE, CVAE, the GANs, DDPM): :mod:`zoo.eval.samples`;
* ``translation`` (CycleGAN): :mod:`zoo.eval.translation`;
* ``reconstruction`` (autoencoder): :mod:`zoo.eval.reconstruction`;
* ``classification`` (the feature networks themselves): :mod:`zoo.eval.classification`.

Every sample-quality row sits beside the real-versus-real floor: ``n`` training images against the same
``n`` test images, through the same feature network. FID and KID are biased by the sample count, so the
floor and the count are always reported with a figure.
"""

from __future__ import annotations

import time

from zoo.errors import EvaluationError
from zoo.eval.classification import evaluate_classification
from zoo.eval.evaluator import Evaluator
from zoo.eval.reconstruction import evaluate_reconstruction
from zoo.eval.samples import evaluate_samples
from zoo.eval.translation import evaluate_translation


EVALUATIONS = {"samples": evaluate_samples, "reconstruction": evaluate_reconstruction,
               "translation": evaluate_translation, "classification": evaluate_classification}


def evaluate(model, recipe, **options) -> dict:
    """The metrics that apply to ``model`` (trained by ``recipe``), as a JSON-ready report; options go to :class:`Evaluator`."""
    kind = model.evaluation()
    if kind not in EVALUATIONS:
        raise EvaluationError(f"zoo eval does not know how to evaluate a {type(model).__name__}: its family declares "
                              "none of the capabilities translate, classify, sample or reconstruct")
    ev = Evaluator(model, recipe, **options)
    if kind != "classification":
        ev.network  # load (and verify) the feature network before the long work, so a missing one fails at once
    result = EVALUATIONS[kind](ev)
    report = {"family": model.family, "kind": kind, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "seed": ev.seed, **result}
    if ev.has_network:
        report["features"] = {"network": ev.network.name, "description": ev.network.description}
    report["notes"] = ev.notes
    return report
