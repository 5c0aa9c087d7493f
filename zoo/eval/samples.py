"""The ``samples`` evaluation (VAE, CVAE, the GANs, DDPM): FID, KID, precision/recall and the classifier score of
``n`` samples against ``n`` test images, per sampler setting the family lists (``evaluation_samplers``).

Conditional models draw every class equally often, and the classifier's agreement with the requested label is
reported. Models with a likelihood add the test negative ELBO and IWAE NLL
(:func:`zoo.models.vae.evaluate_likelihood`) and the figures of their latent code
(:func:`zoo.eval.disentanglement.latent_statistics`).
"""

from __future__ import annotations

import json

from zoo import data
from zoo.eval.disentanglement import LATENT_IMAGES, latent_statistics
from zoo.eval.evaluator import Evaluator
from zoo.models import Capability
from zoo.models.vae import evaluate_likelihood


def evaluate_samples(ev: Evaluator) -> dict:
    cfg = ev.recipe.data
    n = ev.count(data.load_split(cfg, cfg.eval_split, ev.data_dir).size,
                 data.load_split(cfg, cfg.split, ev.data_dir).size)
    test, test_labels, description = ev.real_images(cfg, cfg.eval_split, n, ev.seed)
    test_features, test_probabilities = ev.embed(test, f"{cfg.eval_split} images")
    rows, capped, drawn = [], {}, {}
    for name, options in ev.settings().items():
        options = dict(options)
        m = min(n, int(options.pop("max_samples", n)))  # a slow sampler's row may use fewer samples
        key = (m, json.dumps(options, sort_keys=True))
        if key in drawn:  # two rows with the same settings (a guided model's ddim_50 and its guidance row): one draw
            ev.notes.append(f"{name} is the same sample set as {drawn[key][0]} (the same settings)")
        else:
            images, labels = ev.draw(m, options, name)
            drawn[key] = (name, *ev.embed(images, name), labels)
        features, probabilities, labels = drawn[key][1:]
        rows.append(ev.compare(name, f"{cfg.eval_split} split", test_features[:m], test_probabilities[:m],
                               features, probabilities, labels))
        if m < n:
            capped[name] = m
            ev.notes.append(f"{name} uses {m} samples (a slow sampler); compare it with the floor at n = {m}")
    floor = ev.floor(f"real floor ({cfg.split} vs {cfg.eval_split})", cfg, n, test_features, test_probabilities,
                     f"{cfg.eval_split} split")
    floors = {m: ev.floor(f"real floor ({cfg.split} vs {cfg.eval_split}, n = {m})", cfg, m, test_features[:m],
                          test_probabilities[:m], f"{cfg.eval_split} split") for m in sorted(set(capped.values()))}
    out = {"num_samples": n, "reference": description, "rows": rows + [floor, *floors.values()]}
    headline = {}
    for row in rows:
        suffix = "" if len(rows) == 1 else f"_{row['name']}"
        headline[f"fid{suffix}"] = row["fid"]
        if len(rows) == 1:
            headline["fid_floor"] = floor["fid"]
        headline.update({f"{key}{suffix}": row[key] for key in ("kid", "precision", "recall", "classifier_score",
                                                                "label_accuracy") if key in row})
    if len(rows) > 1:
        headline["fid_floor"] = floor["fid"]
    headline.update({f"fid_floor_{name}": floors[m]["fid"] for name, m in capped.items()})
    headline["kid_floor"] = floor["kid"]
    if ev.model.can(Capability.LIKELIHOOD):
        out["likelihood"] = likelihood(ev, test, test_labels)
        headline.update({key: out["likelihood"][key] for key in ("iwae_nll_nats", "neg_elbo_nats")})
        out["latent"] = latent_statistics(ev.model, test[:LATENT_IMAGES], None if test_labels is None
                                          else test_labels[:LATENT_IMAGES], seed=ev.seed)
        headline["total_correlation_nats"] = out["latent"]["total_correlation_nats"]
    out["headline"] = headline
    return out


def likelihood(ev: Evaluator, images, labels) -> dict:
    """The test split's negative ELBO and IWAE NLL (``k`` importance samples), given the labels when conditional."""
    conditional = ev.model.can(Capability.CONDITIONAL)
    return evaluate_likelihood(ev.model, images, labels if conditional else None, k=ev.k, batch_size=100,
                               seed=ev.seed, progress=ev.progress(f"IWAE bound, k={ev.k}"))
