"""Training throughput of a recipe's model: steps per second at its batch size, per precision and XLA setting.

    python benchmarks/train_throughput.py recipes/ae_fashion_mnist.toml --steps 50

Prints one JSON object (machine-readable) and a table. Uses random inputs of the recipe's
shape, so it needs no data; the numbers are for this machine only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import keras
import numpy as np

from zoo import runtime
from zoo.config import load_recipe
from zoo.models import get_family


def measure(recipe, precision: str, jit: bool, steps: int, warmup: int = 5) -> float:
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(recipe.train.seed)
    model = get_family(recipe.family).from_recipe(recipe)
    # steps_per_epoch only shapes epoch-based learning-rate schedules (CycleGAN's), not the speed.
    model.compile_from_recipe(recipe.replace(train=dataclasses.replace(recipe.train, jit_compile=jit)),
                              steps_per_epoch=1000)
    model.build_optimizer_state()  # every optimizer (GANs have two), as the runner does
    if model.jit_compile != jit:  # Keras drops XLA silently under op determinism: never report such a figure
        raise SystemExit(f"jit_compile={jit} was not applied (op determinism is on?); nothing measured")
    shape = (recipe.train.batch_size, *recipe.data.image_size, recipe.data.channels)
    low, high = recipe.data.value_range
    rng = np.random.default_rng(0)
    batch = rng.uniform(low, high, shape).astype("float32")
    # Conditional families train on (images, labels) batches, translation families on (domain A, domain B).
    labels = rng.integers(0, model.num_classes, shape[0]).astype("int32") if recipe.data.labels else None
    if model.two_domains:
        labels = rng.uniform(low, high, shape).astype("float32")
    for _ in range(warmup):
        model.train_on_batch(batch, labels)
    began = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(batch, labels)
    return steps / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--precisions", default="float32,mixed_bfloat16")
    args = parser.parse_args()
    rows = []
    for path in args.recipes:
        recipe = load_recipe(path)
        for precision in args.precisions.split(","):
            for jit in (False, True):
                rate = measure(recipe, precision, jit, args.steps)
                rows.append({"recipe": recipe.name, "batch_size": recipe.train.batch_size, "precision": precision,
                             "jit_compile": jit, "steps_per_second": round(rate, 2),
                             "examples_per_second": round(rate * recipe.train.batch_size, 1)})
    print(json.dumps({"benchmark": "train_throughput", "hardware": runtime.hardware(), "results": rows}, indent=2))
    print(f"\n{'recipe':<22}{'batch':>6}  {'precision':<16}{'xla':<6}{'steps/s':>9}{'examples/s':>12}")
    for r in rows:
        print(f"{r['recipe']:<22}{r['batch_size']:>6}  {r['precision']:<16}{str(r['jit_compile']):<6}"
              f"{r['steps_per_second']:>9.2f}{r['examples_per_second']:>12.1f}")


if __name__ == "__main__":
    main()
