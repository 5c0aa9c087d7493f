"""Training throughput on 1 device against MirroredStrategy over 2 logical CPU devices, side by side in one run.

    python benchmarks/replicas.py recipes/dcgan_fashion_mnist.toml recipes/ddpm_fashion_mnist.toml --steps 30

Both sides run ``zoo.train`` on the recipe's real data and global batch, alternating (``--passes`` each, median of
the steady-state img/s after the first step). On one machine the logical devices share the same cores, so this
shows what replication costs (the all-reduce of gradients, synchronized BatchNorm), not a speed-up: that needs
devices with cores of their own (GPUs, or machines with ``--strategy multi_worker``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from zoo import runtime

runtime.split_cpu(2)  # before anything runs on TensorFlow

from zoo.config import load_recipe  # noqa: E402
from zoo.train import train  # noqa: E402


def rate(path: str, strategy: str, steps: int, scratch: Path, data_dir) -> float:
    recipe = load_recipe(path, overrides=["train.epochs=1", f"train.steps_per_epoch={steps}",
                                          "train.validation_steps=1", f"train.distribution={json.dumps(strategy)}",
                                          "train.jit_compile=false"])
    out = Path(tempfile.mkdtemp(dir=scratch))
    result = train(recipe, out, data_dir=data_dir, export=False, verbose=0)
    return result.history[-1]["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for path in args.recipes:
            runs = {"default": [], "mirrored": []}
            for _ in range(args.passes):
                for strategy in runs:
                    runs[strategy].append(rate(path, strategy, args.steps, Path(scratch), args.data_dir))
            one, two = (statistics.median(runs[s]) for s in ("default", "mirrored"))
            rows.append({"recipe": Path(path).name, "batch_size": load_recipe(path).train.batch_size,
                         "one_device_img_s": round(one, 1), "two_replicas_img_s": round(two, 1),
                         "ratio": round(two / one, 2), "passes": runs})
    print(json.dumps({"benchmark": "replicas", "hardware": runtime.hardware(), "steps": args.steps,
                      "results": rows}, indent=2))
    print(f"\n{'recipe':<30}{'batch':>6}{'1 device img/s':>16}{'2 replicas img/s':>18}{'ratio':>7}", file=sys.stderr)
    for r in rows:
        print(f"{r['recipe']:<30}{r['batch_size']:>6}{r['one_device_img_s']:>16.1f}{r['two_replicas_img_s']:>18.1f}"
              f"{r['ratio']:>7.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
