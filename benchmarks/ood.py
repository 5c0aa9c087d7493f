"""Outlier detection with every shipped model of Fashion-MNIST: Fashion-MNIST test (in) against MNIST test, uniform
noise, constant images and inverted Fashion-MNIST (out), every score its family can give.

    python benchmarks/ood.py -n 1000 --k 100 --data-dir ../shared/data --out benchmarks/results/ood.json

Runs ``zoo.ood`` (:mod:`zoo.eval.ood`) model by model, one at a time, with the same seeded sets; a background model
(``data.perturb_rate > 0``) is not benchmarked itself but gives the likelihood ratio of the models it serves.
Prints one JSON object (also written to ``--out``) and, on stderr, a Markdown table: AUROC / AUPRC / FPR at 95% TPR
per model, score and set, higher scores meaning out-of-distribution, with the best AUROC per set in bold.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import zoo
from zoo import runtime
from zoo.artifact.store import available, read_metadata, resolve
from zoo.config import load_recipe
from zoo.eval.ood import SETS, applicable
from zoo.files import write_atomic
from zoo.models import get_family

DATASET = "fashion_mnist"
OUT_SETS = ("mnist", "uniform", "constant", "inverted")


def models(names=None) -> list[str]:
    """The shipped models of Fashion-MNIST that have a score, background models left out (or ``names``)."""
    if names:
        return names
    found = []
    for name, folder in available().items():
        recipe = load_recipe(folder / "recipe.toml")
        if recipe.data.dataset == DATASET and recipe.data.perturb_rate == 0 and applicable(get_family(recipe.family)):
            found.append(name)
    return found


def markdown(results: list[dict], sets) -> str:
    best = {s: max(round(r["scores"][row]["detection"][s]["auroc"], 3) for r in results for row in r["scores"])
            for s in sets}
    lines = ["| model | score | " + " | ".join(sets) + " |", "|---|---|" + "---|" * len(sets)]
    for report in results:
        for row, entry in report["scores"].items():
            cells = []
            for s in sets:
                d = entry["detection"][s]
                auroc = f"{d['auroc']:.3f}"
                auroc = f"**{auroc}**" if round(d["auroc"], 3) == best[s] else auroc
                cells.append(f"{auroc} / {d['auprc']:.3f} / {d['fpr_at_95_tpr']:.3f}")
            lines.append(f"| `{report['model']}` | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="images per set (MNIST's test split here has 1,000)")
    parser.add_argument("--k", type=int, default=100, help="importance samples of the IWAE bound")
    parser.add_argument("--timesteps", type=int, default=10, help="noise levels of the denoising score")
    parser.add_argument("--typicality-batches", default="2,10,25")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="*", help="model names (default: every shipped Fashion-MNIST model with a score)")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", help="also write the JSON here")
    parser.add_argument("--histograms", metavar="DIR", help="write each model's histogram of scores, DIR/<model>.png")
    args = parser.parse_args()
    results, began = [], time.perf_counter()
    for name in models(args.models):
        print(f"scoring with {name}", file=sys.stderr, flush=True)
        histogram = str(Path(args.histograms) / f"{name}.png") if args.histograms else None
        report = zoo.ood(name, sets=list(OUT_SETS), n=args.n, k=args.k, typicality_sizes=args.typicality_batches,
                         timesteps=args.timesteps, seed=args.seed, data_dir=args.data_dir, histogram=histogram,
                         progress=True)
        report.pop("hardware", None)
        meta = read_metadata(resolve(name))  # which version of the model was measured
        report["artifact"] = {"epochs": meta.get("training", {}).get("epochs"),
                              "model_keras_sha256": meta.get("files", {}).get("model.keras")}
        results.append(report)
    result = {"benchmark": "ood", "date": datetime.date.today().isoformat(), "hardware": runtime.hardware(),
              "versions": runtime.versions(), "in": DATASET, "out": {s: SETS[s] for s in OUT_SETS},
              "settings": {"n": args.n, "k": args.k, "timesteps": args.timesteps,
                           "typicality_batches": args.typicality_batches, "seed": args.seed},
              "seconds": round(time.perf_counter() - began), "results": results}
    text = json.dumps(result, indent=2)
    if args.out:
        write_atomic(args.out, text + "\n")
    print(text)
    print("\n" + markdown(results, OUT_SETS), file=sys.stderr)


if __name__ == "__main__":
    main()
