"""The ``reconstruction`` evaluation (autoencoder): reconstruction error and PSNR on the test split, and the sample
metrics of the reconstructions against their originals."""

from __future__ import annotations

import math

import numpy as np

from zoo import data
from zoo.eval.evaluator import Evaluator


def evaluate_reconstruction(ev: Evaluator) -> dict:
    cfg = ev.recipe.data
    n = ev.count(data.load_split(cfg, cfg.eval_split, ev.data_dir).size,
                 data.load_split(cfg, cfg.split, ev.data_dir).size)
    test, _, description = ev.real_images(cfg, cfg.eval_split, n, ev.seed)
    report = ev.progress("reconstructing")
    rebuilt = []
    for start in range(0, n, ev.batch_size):
        rebuilt.append(np.asarray(ev.model.reconstruct(test[start:start + ev.batch_size]), "float32"))
        if report:
            report(min(start + ev.batch_size, n), n)
    rebuilt = np.concatenate(rebuilt)
    low, high = cfg.value_range
    mse = float(np.mean((rebuilt - test) ** 2))
    errors = {"mse": mse, "mae": float(np.mean(np.abs(rebuilt - test))),
              "psnr_db": float(10 * math.log10((high - low) ** 2 / max(mse, 1e-12))),
              "value_range": [low, high]}
    if (low, high) == (0.0, 1.0):
        clipped = np.clip(rebuilt, 1e-7, 1 - 1e-7)
        errors["bce_per_pixel"] = float(-np.mean(test * np.log(clipped) + (1 - test) * np.log(1 - clipped)))
    test_features, test_probabilities = ev.embed(test, f"{cfg.eval_split} images")
    features, probabilities = ev.embed(rebuilt, "reconstructions")
    row = ev.compare("reconstructions", f"their {cfg.eval_split} originals", test_features, test_probabilities,
                     features, probabilities)
    floor = ev.floor(f"real floor ({cfg.split} vs {cfg.eval_split})", cfg, n, test_features, test_probabilities,
                     f"{cfg.eval_split} split")
    headline = {"fid_reconstructions": row["fid"], "fid_floor": floor["fid"], "mse": mse, "psnr_db": errors["psnr_db"]}
    return {"num_samples": n, "reference": description, "reconstruction": errors, "rows": [row, floor],
            "headline": headline}
