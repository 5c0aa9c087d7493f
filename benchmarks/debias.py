"""DB-VAE against the plain classifier on biased data: accuracy on the rare group, worst-group and overall accuracy.

    python benchmarks/debias.py --epochs 10 --seeds 0,1,2 --data-dir ../shared/data --out benchmarks/results/debias.json
    python benchmarks/debias.py --epochs 1 --seeds 0 --limit 600 --out /tmp/debias-smoke.json     # a smoke run

Trains ``recipes/dbvae_fashion_mnist.toml`` (or ``--recipe``) once per arm and seed, every arm for the same epochs:
``plain`` is the recipe with ``model.debias = false`` (the same network and losses on shuffled passes), ``dbvae`` the
recipe with ``model.debias = true``, and ``dbvae_product`` (not run by default) with the paper's product of the
dimensions' weights, ``model.debias_combine = "product"``. A seed sets ``train.seed`` (initial weights, batches,
noise); the biased training split is the recipe's (``data.rare_seed``), the same for every run. Each run trains in its
own folder under ``--work-dir`` without export, is restored from its last checkpoint and scored on the whole test
split (:mod:`zoo.eval.debias`): accuracy overall, on the rare group, and on the worst group (each positive class, the
other negatives). Prints the JSON (also written to ``--out``) on stdout and a table, mean ± standard deviation over
the seeds, on stderr. ``zoo debias-report NAME --from FILE --into-card`` records it in an artifact.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
from pathlib import Path

from zoo import runtime
from zoo.artifact.figures import debias_table
from zoo.config import load_recipe
from zoo.eval import debias
from zoo.files import write_atomic
from zoo.train import restore, train

ARMS = {"plain": ["model.debias=false"], "dbvae": ["model.debias=true"],
        "dbvae_product": ["model.debias=true", 'model.debias_combine="product"']}


def run(recipe_path: str, arm: str, seed: int, epochs: int | None, limit: int, overrides, folder: Path, data_dir) -> dict:
    """Train one arm with one seed, and its test figures."""
    extra = [*ARMS[arm], f"train.seed={seed}", *([f"train.epochs={epochs}"] if epochs else []),
             *([f"data.max_examples={limit}"] if limit else []), *overrides]
    recipe = load_recipe(recipe_path, overrides=extra)
    began = time.perf_counter()
    result = train(recipe, folder, data_dir=data_dir, export=False, verbose=0)
    model, _, _ = restore(folder)
    figures = debias.evaluate_groups(model, recipe.data, data_dir=data_dir)
    final = result.history[-1] if result.history else {}
    return {"seed": seed, "epochs": result.epochs, "train_seconds": round(result.train_seconds, 1),
            "wall_seconds": round(time.perf_counter() - began, 1),
            "resample_ess": final.get("resample_ess"), **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="recipes/dbvae_fashion_mnist.toml")
    parser.add_argument("--epochs", type=int, help="epochs of every run (default: the recipe's)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated train.seed values (default 0,1,2)")
    parser.add_argument("--arms", default="plain,dbvae", help=f"comma-separated, among {', '.join(ARMS)}")
    parser.add_argument("--limit", type=int, default=0, help="at most this many images a split (data.max_examples), "
                                                             "for a smoke run; 0 = all")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a recipe value in every arm (repeatable)")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--work-dir", help="where the run folders go (default: a temporary folder, removed after)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    arms = [a for a in args.arms.split(",") if a]
    unknown = [a for a in arms if a not in ARMS]
    if unknown or not arms or not seeds:
        parser.error(f"--arms takes {', '.join(ARMS)} and --seeds at least one seed; got {args.arms!r}, {args.seeds!r}")
    recipe = load_recipe(args.recipe, overrides=args.set)  # refuses a bad recipe or --set before any training
    if not recipe.data.positive_classes:
        parser.error(f"{args.recipe} has no binary task (data.positive_classes); use a DB-VAE recipe")
    with tempfile.TemporaryDirectory(prefix="debias-") as temporary:
        work = Path(args.work_dir or temporary)
        results = {arm: {"debias": ARMS[arm][0].endswith("true"), "overrides": ARMS[arm], "runs": []} for arm in arms}
        for seed in seeds:
            for arm in arms:  # the arms alternate, so a change of load on the machine touches both
                print(f"debias: {arm}, seed {seed}", file=sys.stderr, flush=True)
                results[arm]["runs"].append(run(args.recipe, arm, seed, args.epochs, args.limit, args.set,
                                                work / f"{arm}-seed{seed}", args.data_dir))
    for entry in results.values():
        entry["summary"] = debias.summarize(entry["runs"])
    first = next(iter(results.values()))["runs"][0]
    report = {"benchmark": "debias", "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "recipe": args.recipe, "epochs": first["epochs"], "seeds": seeds, "limit": args.limit, "overrides": args.set,
              "rare_group": first["rare_group"], "groups": first["group_counts"], "hardware": runtime.hardware(),
              "versions": runtime.versions(), "arms": results}
    text = json.dumps(report, indent=2)
    if args.out:
        write_atomic(args.out, text + "\n")
    print(text)
    print(debias.text_table(*debias_table(report)), file=sys.stderr)


if __name__ == "__main__":
    main()
