"""Speed of a DDPM recipe on this machine: seconds per training step, and seconds per sampled image.

    python benchmarks/ddpm_speed.py recipes/ddpm_fashion_mnist.toml --train-steps 20 --batch 16

Training steps run at the recipe's batch size and settings on random inputs (no data needed);
sampling runs the compiled graphs of :mod:`zoo.diffusion` (DDIM at 50 steps, eta 0, under XLA;
DDPM over all T steps) on ``--batch`` images after one warm-up call that traces and compiles.
Prints one JSON object and a table; the numbers are for this machine only.
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np
import tensorflow as tf

from zoo import runtime
from zoo.config import load_recipe
from zoo.train import build_model


def seconds_per_train_step(model, recipe, steps: int, warmup: int = 3) -> float:
    shape = (recipe.train.batch_size, *recipe.data.image_size, recipe.data.channels)
    batch = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
    for _ in range(warmup):
        model.train_on_batch(batch)
    began = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(batch)
    return (time.perf_counter() - began) / steps


def seconds_per_image(model, sampler: str, steps: int | None, batch: int) -> float:
    settings = model.sampler_settings(sampler, steps, 0.0)
    function = model.sampler_function(settings)
    noise = tf.random.stateless_normal((batch, *model.image_shape), seed=[0, 0])
    function(noise, tf.constant(0)).numpy()  # trace and compile
    began = time.perf_counter()
    function(noise, tf.constant(1)).numpy()
    return (time.perf_counter() - began) / batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16, help="images per sampling call")
    parser.add_argument("--skip-ddpm", action="store_true", help="skip the 1000-step DDPM figure (the slow one)")
    args = parser.parse_args()
    recipe = load_recipe(args.recipe)
    runtime.configure(recipe.train)
    model = build_model(recipe)
    params = int(sum(np.prod(v.shape) for v in model.network.weights))
    result = {"benchmark": "ddpm_speed", "recipe": recipe.name, "hardware": runtime.hardware(),
              "tensorflow": tf.__version__, "keras": keras.__version__, "parameters": params,
              "train": {"batch_size": recipe.train.batch_size, "jit_compile": recipe.train.jit_compile,
                        "seconds_per_step": round(seconds_per_train_step(model, recipe, args.train_steps), 4)},
              "sampling": {"batch": args.batch}}
    ddim_steps = 50
    result["sampling"]["ddim_50_seconds_per_image"] = round(seconds_per_image(model, "ddim", ddim_steps, args.batch), 4)
    if not args.skip_ddpm:
        result["sampling"][f"ddpm_{model.timesteps}_seconds_per_image"] = round(
            seconds_per_image(model, "ddpm", None, args.batch), 4)
    print(json.dumps(result, indent=2))
    train = result["train"]
    print(f"\n{'what':<34}{'seconds':>10}")
    print(f"{'train step, batch ' + str(train['batch_size']):<34}{train['seconds_per_step']:>10.4f}")
    for key, value in result["sampling"].items():
        if key != "batch":
            print(f"{key.replace('_seconds_per_image', '') + ' steps, per image':<34}{value:>10.4f}")
    steps_per_epoch = -(-60000 // recipe.train.batch_size)
    print(f"\n{recipe.name}: {params:,} parameters; an epoch of {steps_per_epoch} steps takes about "
          f"{steps_per_epoch * train['seconds_per_step'] / 60:.1f} min")


if __name__ == "__main__":
    main()
