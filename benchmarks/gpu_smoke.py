"""GPU smoke test: every family trains under MirroredStrategy in float32 and mixed_float16, exports, and passes parity.
The guided diffusion case is the colour flagship's recipe (CIFAR-10, 32x32 RGB).

    bash benchmarks/gpu_smoke.sh            # on a machine with GPUs: a few hundred steps per family, under 5 minutes
    bash benchmarks/gpu_smoke.sh --cpu      # dry run of the same code path: a few steps, 2 logical CPU devices

For each family (one shipped recipe each) it runs ``zoo.train`` twice, the way ``zoo train --strategy mirrored``
does: float32, then mixed_float16 with the recipe's XLA setting (XLA is switched off, with a notice, where it
cannot run), and exports the mixed run, whose ``model.keras``, SavedModel and ONNX must agree with the float32
copy within the recipe's tolerance. It prints one JSON line per family (steady-state img/s of each precision, the
speed-up, the export's parity) and a table at the end. The dry run proves the path, not the speed: this project's
machines have no GPU, and 16-bit arithmetic is emulated on their CPUs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# One shipped recipe per family, all on the local data (../shared/data or $ZOO_DATA_DIR).
RECIPES = {
    "autoencoder": "ae_fashion_mnist.toml", "vae": "vae_fashion_mnist.toml", "cvae": "cvae_mnist.toml",
    "dcgan": "dcgan_fashion_mnist.toml", "cgan": "cgan_mnist.toml", "wgan_gp": "wgan_gp_fashion_mnist.toml",
    "cyclegan": "cyclegan_sneaker2boot.toml", "ddpm": "ddpm_fashion_mnist.toml", "classifier": "classifier_mnist.toml",
    "guided_ddpm": "ddpm_cfg_cifar10.toml",  # the colour flagship: 32x32 RGB from the CIFAR-10 archive
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="dry run on 2 logical CPU devices, a few steps per family")
    parser.add_argument("--steps", type=int, default=0, help="training steps per run (default 200, or 3 with --cpu)")
    parser.add_argument("--families", default=",".join(RECIPES), help=f"comma-separated, from {', '.join(RECIPES)}")
    parser.add_argument("--data-dir", help="local data files (default $ZOO_DATA_DIR)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.families.split(",")) - set(RECIPES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(RECIPES)}")
    if args.steps < 0:
        parser.error("--steps must be positive")
    args.steps = args.steps or (3 if args.cpu else 200)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from zoo import runtime  # TensorFlow starts here, after the arguments are checked

    if args.cpu:
        runtime.split_cpu(2)
    elif not runtime.has_gpu():
        print("gpu_smoke: no GPU found; run with --cpu for the dry run", file=sys.stderr)
        return 2
    from zoo.config import load_recipe
    from zoo.train import train

    data_dir = args.data_dir  # else $ZOO_DATA_DIR (gpu_smoke.sh sets ../shared/data when it is unset)
    replicas = runtime.make_strategy("mirrored").num_replicas_in_sync
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as scratch:
        for family in args.families.split(","):
            base = load_recipe(ROOT / "recipes" / RECIPES[family])
            # Op determinism off for every run: it would keep XLA off, and once on it stays on in the process.
            sets = ["train.epochs=1", f"train.steps_per_epoch={args.steps}", "train.validation_steps=1",
                    "train.distribution='mirrored'", "train.deterministic=false", "export.num_examples=4"]
            if args.cpu:  # small batches: a dry run of the path, on cores that emulate 16-bit arithmetic
                parts = getattr(base.model, "n_critic", 1)
                sets.append(f"train.batch_size={2 * replicas * parts}")
            if family == "cyclegan":
                sets.append("model.decay_epochs=0")
            row = {"family": family, "recipe": RECIPES[family], "device": "CPU (dry run)" if args.cpu else "GPU",
                   "replicas": replicas, "steps": args.steps}
            for precision in ("float32", "mixed_float16"):
                plain = ["train.jit_compile=false"] if precision == "float32" else []  # the float32 figure: no XLA
                recipe = load_recipe(ROOT / "recipes" / RECIPES[family],
                                     overrides=[*sets, f"train.precision='{precision}'", *plain])
                result = train(recipe, Path(scratch) / f"{family}-{precision}", data_dir=data_dir,
                               export=precision != "float32", verbose=0)
                row["batch_size"] = recipe.train.batch_size
                row[f"{precision}_img_s"] = (result.history[-1] if result.history else {}).get("images_per_second")
                if result.export_dir:
                    meta = json.loads((result.export_dir / "metadata.json").read_text())
                    mirrored = runtime.make_strategy("mirrored")
                    row["xla"] = bool(recipe.train.jit_compile and runtime.xla_allowed(mirrored))
                    row["parity_max_abs_diff"] = meta["parity"]["max_abs_diff"]
                    row["parity_ok"] = meta["parity"]["max_abs_diff"] <= meta["parity"]["tolerance"]
                    row["trained_precision"] = meta["training"]["precision"]
                    config = json.loads((result.export_dir / "config.json").read_text())
                    row["model_keras_dtype"] = config["config"]["dtype"]
            fast, slow = row.get("mixed_float16_img_s"), row.get("float32_img_s")
            row["mixed_speedup"] = round(fast / slow, 2) if fast and slow else None
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\n{len(rows)} families in {time.perf_counter() - started:.0f} s on {replicas} replicas "
          f"({'logical CPU devices, dry run' if args.cpu else 'GPUs'})", file=sys.stderr)
    print(f"{'family':<12}{'batch':>6}{'f32 img/s':>11}{'f16 img/s':>11}{'speed-up':>9}  {'xla':<6}{'parity':>10}",
          file=sys.stderr)
    for r in rows:
        print(f"{r['family']:<12}{r['batch_size']:>6}{r['float32_img_s'] or 0:>11.1f}"
              f"{r['mixed_float16_img_s'] or 0:>11.1f}{r['mixed_speedup'] or 0:>9.2f}  {str(r.get('xla')):<6}"
              f"{r['parity_max_abs_diff']:>10.1e}", file=sys.stderr)
    return 0 if all(r.get("parity_ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
