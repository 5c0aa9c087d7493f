"""The ``zoo`` command: train from recipes, export, and use exported models.

User errors (a bad path, recipe, input or file) print one line and exit 1;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_train(args) -> None:
    from zoo.config import load_recipe
    from zoo.training import train

    domains = []  # a folder replaces the recipe's choice of images for its domain (class subset, splits)
    for key, folder in (("domain_a", args.domain_a), ("domain_b", args.domain_b)):
        if folder:
            domains += [f"data.{key}.file={json.dumps(str(Path(folder).expanduser().resolve()))}",
                        f"data.{key}.classes=[]", f'data.{key}.split=""', f'data.{key}.eval_split=""']
    recipe = load_recipe(args.recipe, overrides=[*args.set, *domains])
    run_dir = Path(args.out or Path("runs") / recipe.name)
    result = train(recipe, run_dir, data_dir=args.data_dir, resume=args.resume, export=not args.no_export)
    print(f"trained {recipe.name}: {result.epochs} epochs in {result.train_seconds:.0f} s, run folder {run_dir}")
    if result.export_dir:
        print(f"exported to {result.export_dir}")


def _cmd_export(args) -> None:
    from zoo.export import export_model
    from zoo.training import restore

    model, recipe, state = restore(args.run_dir)
    out = Path(args.out or Path(args.run_dir) / "export")
    export_model(model, recipe, out, data_dir=args.data_dir, run_state=state)
    print(f"exported {recipe.name} (epoch {state['epoch']}) to {out}")


def _load(name):
    import zoo
    from zoo.artifacts import resolve
    from zoo.config import load_recipe

    folder = resolve(name)
    return zoo.load(folder), load_recipe(folder / "recipe.toml"), folder


def _cmd_reconstruct(args) -> None:
    import numpy as np

    from zoo import data, images
    from zoo.artifacts import load_examples
    from zoo.errors import ZooError

    model, recipe, folder = _load(args.name)
    if not hasattr(model, "reconstruct"):
        raise ZooError(f"{folder.name} ({recipe.family}) does not reconstruct images")
    labels = None
    if args.input:
        batch = data.read_images(args.input, recipe.data)
        if model.num_classes:
            if args.label is None:
                raise ZooError(f"{folder.name} is conditional: pass --label for the images in {args.input}")
            labels = [args.label] * len(batch)
    else:
        examples = load_examples(folder)
        batch, labels = examples["images"], examples.get("labels") if model.num_classes else None
    batch = batch[: args.n]
    labels = None if labels is None else np.asarray(labels[: args.n], "int32")
    rebuilt = model.reconstruct(batch, labels) if labels is not None else model.reconstruct(batch)
    shown = np.concatenate([batch, np.asarray(rebuilt)], axis=0)
    images.save_png(images.grid(shown, recipe.data.value_range, ncols=min(len(batch), 16)), args.output, scale=args.scale)
    print(f"wrote {args.output}: {len(batch)} inputs (first rows) and their reconstructions (last rows)")


def _cmd_sample(args) -> None:
    from zoo import images
    from zoo.errors import ZooError

    model, recipe, folder = _load(args.name)
    if not callable(getattr(model, "sample", None)):
        hint = " use `zoo reconstruct` instead" if hasattr(model, "reconstruct") else ""
        raise ZooError(f"{folder.name} is a {recipe.family}, which does not sample new images "
                       f"(it has no prior to draw latents from);{hint}")
    options = {}
    if args.label is not None:
        if model.num_classes <= 0:
            raise ZooError(f"{folder.name} is not conditional: drop --label")
        if not 0 <= args.label < model.num_classes:
            raise ZooError(f"--label must be in [0, {model.num_classes}), got {args.label}")
        options["labels"] = args.label
    # Sampler choices go to models whose sample() takes them (diffusion models).
    chosen = {name: value for name, value in (("sampler", args.sampler), ("steps", args.steps), ("eta", args.eta))
              if value is not None}
    accepted = inspect.signature(model.sample).parameters
    if any(name not in accepted for name in chosen):
        flags = ", ".join(f"--{name}" for name in chosen)
        raise ZooError(f"{flags} choose a diffusion sampler, and {folder.name} is a {recipe.family}: drop them")
    samples = model.sample(args.n, seed=args.seed, **options, **chosen)
    images.save_png(images.grid(samples, recipe.data.value_range), args.output, scale=args.scale)
    label = f", label {args.label}" if args.label is not None else ""
    how = "".join(f", {name} {value}" for name, value in chosen.items())
    print(f"wrote {args.output}: {args.n} samples, seed {args.seed}{label}{how}")


def _cmd_translate(args) -> None:
    import numpy as np

    from zoo import data, images
    from zoo.errors import ZooError

    model, recipe, folder = _load(args.name)
    if not callable(getattr(model, "translate", None)):
        raise ZooError(f"{folder.name} is a {recipe.family}, which does not translate images between domains")
    batch, names = data.read_named_images(args.input, recipe.data)
    out = Path(args.output)
    translated = np.concatenate([np.asarray(model.translate(batch[i:i + 32], args.direction))
                                 for i in range(0, len(batch), 32)])
    for name, image in zip(names, translated):
        images.save_png(images.grid(image[None], recipe.data.value_range, pad=0), out / f"{name}.png")
    shown = np.stack([batch, translated], axis=1).reshape(-1, *batch.shape[1:])[: 2 * args.grid]
    images.save_png(images.grid(shown, recipe.data.value_range, ncols=2 * min(4, len(batch))), out / "grid.png",
                    scale=args.scale)
    print(f"wrote {len(batch)} translated images ({args.direction}) to {out}, and {out / 'grid.png'}: "
          f"each input beside its translation")


def _need(model, method: str, folder, what: str):
    from zoo.errors import ZooError

    if not callable(getattr(model, method, None)):
        raise ZooError(f"{folder.name} is a {type(model).__name__}, which has no {what}; "
                       "this command is for families with a probabilistic latent space (vae, cvae)")


def _example(folder, index: int):
    from zoo.artifacts import load_examples
    from zoo.errors import ZooError

    examples = load_examples(folder)
    if not 0 <= index < len(examples["images"]):
        raise ZooError(f"--index must be in [0, {len(examples['images'])}) (the examples stored with the model)")
    labels = examples.get("labels")
    return examples["images"], labels


def _parse_dims(text: str, latent_dim: int) -> list[int]:
    from zoo.errors import ZooError

    dims = []
    try:
        for part in text.split(","):
            if "-" in part:
                low, high = part.split("-")
                dims.extend(range(int(low), int(high) + 1))
            else:
                dims.append(int(part))
    except ValueError:
        raise ZooError(f"--dims {text!r} must be dimensions like 0-7 or 0,3,5") from None
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad:
        raise ZooError(f"--dims {bad} are outside the latent space [0, {latent_dim})")
    return dims


def _cmd_traverse(args) -> None:
    import numpy as np

    from zoo import images

    model, recipe, folder = _load(args.name)
    _need(model, "traverse", folder, "latent traversals")
    examples, labels = _example(folder, args.index)
    dims = _parse_dims(args.dims, model.latent_dim)
    values = np.linspace(-args.range, args.range, args.steps).astype("float32")
    label = None if labels is None else labels[args.index:args.index + 1]
    grid, _ = model.traverse(examples[args.index], dims, values, labels=label)
    images.save_png(images.grid(grid, recipe.data.value_range, ncols=len(values)), args.output, scale=args.scale)
    print(f"wrote {args.output}: one row per latent dimension {dims[0]}..{dims[-1]}, "
          f"values {values[0]:g}..{values[-1]:g} in {len(values)} steps, example {args.index}")


def _cmd_interpolate(args) -> None:
    import numpy as np

    from zoo import images

    model, recipe, folder = _load(args.name)
    _need(model, "interpolate", folder, "latent interpolation")
    examples, labels = _example(folder, 0)
    rows = []
    for pair in range(min(args.pairs, len(examples) // 2)):
        a, b = 2 * pair, 2 * pair + 1
        label = None if labels is None else labels[a:a + 1]
        rows.append(model.interpolate(examples[a], examples[b], args.steps, labels=label).numpy())
    images.save_png(images.grid(np.concatenate(rows), recipe.data.value_range, ncols=args.steps), args.output,
                    scale=args.scale)
    print(f"wrote {args.output}: {len(rows)} pairs of examples, {args.steps} steps between each")


def _cmd_eval_likelihood(args) -> None:
    from zoo import data
    from zoo.models.vae import evaluate_likelihood

    model, recipe, folder = _load(args.name)
    _need(model, "log_likelihood", folder, "likelihood")
    source = data.load_split(recipe.data, args.split, args.data_dir)
    count = min(source.size, args.max_examples) if args.max_examples else source.size
    batch, labels = data.example_batch(recipe.data, count, data_dir=args.data_dir, split=args.split)

    def progress(done, total):
        print(f"\r{done}/{total} examples", end="", file=sys.stderr, flush=True)

    result = evaluate_likelihood(model, batch, labels if model.conditional_classes else None, k=args.k,
                                 batch_size=args.batch_size, seed=args.seed, progress=progress)
    print(file=sys.stderr)
    result.update(model=folder.name, split=args.split, data=source.description)
    print(json.dumps(result, indent=2))
    print(f"{folder.name} on {args.split} ({result['examples']} examples{', binarized' if result['binarized'] else ''}): "
          f"negative ELBO {result['neg_elbo_nats']:.2f} nats ({result['neg_elbo_bits_per_dim']:.4f} bits/dim), "
          f"IWAE NLL (k={args.k}) {result['iwae_nll_nats']:.2f} nats ({result['iwae_nll_bits_per_dim']:.4f} bits/dim)")


def _cmd_eval(args) -> None:
    from zoo.evaluation import evaluate_artifact, format_report

    report, folder = evaluate_artifact(args.name, write=not args.no_write, features=args.features,
                                       num_samples=args.num_samples, data_dir=args.data_dir, seed=args.seed, k=args.k,
                                       batch_size=args.batch_size, kid_subsets=args.kid_subsets, progress=True)
    print(format_report(report))
    if not args.no_write:
        print(f"wrote {folder / 'metrics.json'} and the headline figures into {folder / 'metadata.json'}")


def _cmd_curve(args) -> None:
    from zoo.evaluation import record_training_curve

    folder = record_training_curve(args.name, args.stages)
    print(f"wrote the training curve of {len(args.stages)} stages into {folder / 'metadata.json'} and its card")


def _cmd_list(args) -> None:
    from zoo.artifacts import available, read_metadata
    from zoo.model_card import key_metrics

    if args.markdown:
        from zoo.model_card import catalog

        print("\n".join(catalog(available())))
        return
    rows = []
    for name, folder in available().items():
        meta = read_metadata(folder)
        rows.append((name, meta.get("family", "?"), meta.get("dataset", {}).get("name", "?"),
                     f"{meta.get('parameters', {}).get('total', 0):,}", "; ".join(key_metrics(meta)[:2]) or "-"))
    if not rows:
        print("no exported models found (looked for folders with metadata.json under exported/)")
        return
    header = ("name", "family", "dataset", "parameters", "key metric")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _cmd_card(args) -> None:
    from zoo import model_card
    from zoo.artifacts import resolve

    if args.print:
        print(model_card.render(resolve(args.name)))
    else:
        print(f"wrote {model_card.write(args.name)}")


def _cmd_info(args) -> None:
    from zoo.artifacts import read_metadata

    meta = read_metadata(args.name)
    if not args.files:
        meta.pop("files", None)
    print(json.dumps(meta, indent=2))


def _picture_options(parser, default: str, what: str = "PNG to write") -> None:
    parser.add_argument("-o", "--output", default=default, help=f"{what} (default {default})")
    parser.add_argument("--scale", type=int, default=2, help="upscale the grid by this factor (default 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoo", description="genzoo: train, export and use deep generative models.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a recipe, checkpointing every epoch, then export")
    p.add_argument("recipe", help="recipe file, e.g. recipes/ae_fashion_mnist.toml")
    p.add_argument("--out", help="run folder (default runs/<recipe name>)")
    p.add_argument("--data-dir", help="folder with local data files (else $ZOO_DATA_DIR, then tensorflow-datasets)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a recipe value, e.g. --set train.epochs=1 (repeatable)")
    p.add_argument("--resume", action="store_true", help="continue the run folder from its last checkpoint")
    p.add_argument("--no-export", action="store_true", help="skip the export at the end")
    p.add_argument("--domain-a", metavar="DIR", help="two-domain recipes: domain A's folder of images (data.domain_a.file)")
    p.add_argument("--domain-b", metavar="DIR", help="two-domain recipes: domain B's folder of images (data.domain_b.file)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("export", help="export a run's last checkpoint as an artifact folder")
    p.add_argument("run_dir", help="the --out folder of a `zoo train` run")
    p.add_argument("--out", help="artifact folder (default RUN_DIR/export), e.g. exported/ae-fashion-mnist")
    p.add_argument("--data-dir", help="folder with local data files (for the example inputs)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("reconstruct", help="write a grid of inputs and their reconstructions")
    p.add_argument("name", metavar="NAME_OR_PATH", help="an exported model's name (see `zoo list`) or folder")
    p.add_argument("--input", help="an image, a folder of images, or an .npz/.npy (default: the artifact's examples)")
    p.add_argument("-n", type=int, default=16, help="at most this many inputs (default 16)")
    p.add_argument("--label", type=int, help="the class of the --input images, for conditional models")
    _picture_options(p, "reconstructions.png")
    p.set_defaults(func=_cmd_reconstruct)

    p = sub.add_parser("sample", help="write a grid of samples from a generative model")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="class to draw, for conditional models (default: all classes in turn)")
    p.add_argument("--sampler", choices=("ddim", "ddpm"), help="diffusion models: the sampler (default: the recipe's)")
    p.add_argument("--steps", type=int, help="diffusion models: DDIM steps (DDPM always takes all T)")
    p.add_argument("--eta", type=float, help="diffusion models: DDIM eta, 0 deterministic to 1 as noisy as DDPM")
    _picture_options(p, "samples.png")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("translate", help="translate images to the other domain (CycleGAN): PNGs and a side-by-side grid")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("input", help="an image, a folder of images, or an .npz/.npy")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b", help="a2b (default) or b2a")
    p.add_argument("--grid", type=int, default=16, help="pairs shown in grid.png (default 16)")
    _picture_options(p, "translations", what="folder to write: a PNG per image and grid.png")
    p.set_defaults(func=_cmd_translate)

    p = sub.add_parser("traverse", help="latent traversal grid: vary one latent dimension per row (VAE families)")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--dims", default="0-7", help="latent dimensions, e.g. 0-7 or 0,3,5 (default 0-7)")
    p.add_argument("--range", type=float, default=3.0, help="values go from -RANGE to +RANGE (default 3)")
    p.add_argument("--steps", type=int, default=9, help="values per row (default 9)")
    p.add_argument("--index", type=int, default=0, help="which stored example to start from (default 0)")
    _picture_options(p, "traversal.png")
    p.set_defaults(func=_cmd_traverse)

    p = sub.add_parser("interpolate", help="interpolate in latent space between pairs of stored examples")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--pairs", type=int, default=4)
    _picture_options(p, "interpolation.png")
    p.set_defaults(func=_cmd_interpolate)

    p = sub.add_parser("eval-likelihood", help="test-set negative ELBO and IWAE NLL in nats and bits/dim (VAE families)")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--split", default="test")
    p.add_argument("--k", type=int, default=1000, help="importance samples per example (default 1000)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--max-examples", type=int, default=0, help="score at most this many examples (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder with local data files")
    p.set_defaults(func=_cmd_eval_likelihood)

    p = sub.add_parser("eval", help="sample-quality (FID, KID, precision/recall) and likelihood metrics vs the test "
                                    "split, beside the real-vs-real floor; writes metrics.json into the artifact")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--num-samples", type=int, default=10_000,
                   help="images per set: samples, test images and training images (default 10000, capped by the splits)")
    p.add_argument("--features", metavar="NETWORK",
                   help="fashion_mnist or mnist (the zoo's classifiers), inception (InceptionV3, weights needed "
                        "locally), or a classifier artifact; default: the one for the model's dataset")
    p.add_argument("--k", type=int, default=1000, help="VAE families: importance samples of the IWAE bound (default 1000)")
    p.add_argument("--batch-size", type=int, default=250, help="images per batch when sampling and embedding")
    p.add_argument("--kid-subsets", type=int, default=100, help="random subsets KID is averaged over (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and of the image subsets")
    p.add_argument("--no-write", action="store_true", help="print the table only; leave the artifact as it is")
    p.add_argument("--data-dir", help="folder with local data files")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("curve", help="record figures against training time from evaluated exports of one run at "
                                     "several epochs into an artifact's metadata and card")
    p.add_argument("name", metavar="NAME_OR_PATH", help="the artifact whose card gets the curve")
    p.add_argument("stages", nargs="+", metavar="STAGE", help="exports of the same run after more and more epochs, "
                                                              "each evaluated by `zoo eval`")
    p.set_defaults(func=_cmd_curve)

    p = sub.add_parser("list", help="list the exported models")
    p.add_argument("--markdown", action="store_true", help="the README's model table, with thumbnails")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("card", help="rewrite an exported model's README.md model card from its metadata and metrics")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--print", action="store_true", help="print the card instead of writing it")
    p.set_defaults(func=_cmd_card)

    p = sub.add_parser("info", help="print an exported model's metadata")
    p.add_argument("name", metavar="NAME_OR_PATH")
    p.add_argument("--files", action="store_true", help="include the sha256 of every file")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from zoo.errors import ZooError

    try:
        args.func(args)
    except ZooError as exc:
        if args.debug:
            raise
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
