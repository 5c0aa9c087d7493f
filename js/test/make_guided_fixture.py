"""A tiny class-conditional diffusion artifact (family guided_ddpm) for the JavaScript and browser tests.

    .venv/bin/python js/test/make_guided_fixture.py OUT_DIR [--data-dir DIR]

trains a 10-class GuidedDDPM with a small U-Net for four steps on 128 Fashion-MNIST images (about half a minute on
two cores) and exports it with ONNX, schedule.json and examples.npz (no SavedModel, no variants) into
``OUT_DIR/run/export``, whose path is the last line printed. Untrained as it is, its label embedding has moved off
its zero start, so conditional and unconditional predictions differ and every guidance scale gives other images.
The data are ``--data-dir``, else ``$ZOO_TEST_DATA_DIR``, else ``../shared/data`` beside the repository, as for
the Python tests.
"""

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("ZOO_OFFLINE", "1")  # a missing dataset fails at once instead of downloading
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="an empty or new folder; the artifact goes to OUT/run/export")
    default_data = os.environ.get("ZOO_TEST_DATA_DIR") or str(ROOT.parent / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(default_data))
    args = parser.parse_args(argv)
    if not (args.data_dir / "fashion_mnist.npz").is_file():
        sys.exit(f"make_guided_fixture: no {args.data_dir}/fashion_mnist.npz; pass --data-dir or set ZOO_TEST_DATA_DIR")
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from conftest import tiny_guided_artifact_recipe  # the recipe of the Python tests' guided artifact
    from zoo.config import load_recipe
    from zoo.train import train

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tiny.toml").write_text(tiny_guided_artifact_recipe("tiny-guided-ddpm", formats=("keras", "onnx")))
    result = train(load_recipe(args.out / "tiny.toml"), args.out / "run", data_dir=args.data_dir, verbose=0)
    print(result.export_dir)


if __name__ == "__main__":
    main()
