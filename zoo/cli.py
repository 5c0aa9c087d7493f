"""The ``zoo`` command: argument parsing only; :mod:`zoo.app` does the work.

User errors (a bad path, recipe, input or file) print one line and exit 1; ``--debug`` shows the traceback
instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zoo import app
from zoo.errors import ZooError


def _train(args) -> str:
    return app.train_recipe(args.recipe, overrides=args.set, out=args.out, data_dir=args.data_dir, resume=args.resume,
                            export=not args.no_export, domain_a=args.domain_a, domain_b=args.domain_b,
                            strategy=args.strategy, cpu_devices=args.cpu_devices)


def _export(args) -> str:
    return app.export_run(args.run_dir, out=args.out, data_dir=args.data_dir)


def _variants(args) -> str:
    return app.variants(args.name, fid_n=args.fid_n, kinds=args.kinds, data_dir=args.data_dir, zoo_dir=args.zoo_dir)


def _reconstruct(args) -> str:
    return app.reconstruct(args.name, input=args.input, n=args.n, label=args.label, output=args.output,
                           scale=args.scale, zoo_dir=args.zoo_dir)


def _sample(args) -> str:
    return app.sample(args.name, n=args.n, seed=args.seed, label=args.label, sampler=args.sampler, steps=args.steps,
                      eta=args.eta, guidance=args.guidance, output=args.output, scale=args.scale, zoo_dir=args.zoo_dir)


def _translate(args) -> str:
    return app.translate(args.name, args.input, direction=args.direction, grid=args.grid, output=args.output,
                         scale=args.scale, zoo_dir=args.zoo_dir)


def _traverse(args) -> str:
    return app.traverse(args.name, dims=args.dims, value_range=args.range, steps=args.steps, index=args.index,
                        output=args.output, scale=args.scale, into_card=args.into_card, zoo_dir=args.zoo_dir)


def _sampling_curve(args) -> str:
    return app.sampling_curve(args.name, kind=args.kind, num_samples=args.num_samples, seed=args.seed,
                              data_dir=args.data_dir, output=args.output, into_card=args.into_card, zoo_dir=args.zoo_dir)


def _manifold(args) -> str:
    return app.manifold(args.name, dims=args.dims, size=args.size, label=args.label, quantile=args.quantile,
                        output=args.output, scale=args.scale, into_card=args.into_card, zoo_dir=args.zoo_dir)


def _clusters(args) -> str:
    return app.clusters(args.name, n=args.n, split=args.split, dims=args.dims, seed=args.seed, data_dir=args.data_dir,
                        output=args.output, into_card=args.into_card, zoo_dir=args.zoo_dir)


def _interpolate(args) -> str:
    return app.interpolate(args.name, steps=args.steps, pairs=args.pairs, output=args.output, scale=args.scale,
                           zoo_dir=args.zoo_dir)


def _disentanglement(args) -> str:
    return app.disentanglement(args.name, n=args.n, seed=args.seed, write=not args.no_write, data_dir=args.data_dir,
                               zoo_dir=args.zoo_dir)


def _debias_report(args) -> str:
    return app.debias_report(args.name, source=args.source, into_card=args.into_card, k=args.k, output=args.output,
                             data_dir=args.data_dir, zoo_dir=args.zoo_dir)


def _eval_likelihood(args) -> str:
    result, summary = app.likelihood(args.name, split=args.split, k=args.k, batch_size=args.batch_size,
                                     max_examples=args.max_examples, seed=args.seed, data_dir=args.data_dir,
                                     zoo_dir=args.zoo_dir)
    return json.dumps(result, indent=2) + "\n" + summary


def _ood(args) -> str:
    histogram = args.histogram or str(Path(args.output).with_suffix(".png"))
    return app.ood_command(args.name, scores=args.scores, sets=args.sets, n=args.n, k=args.k,
                           typicality_sizes=args.typicality_batches, timesteps=args.timesteps, seed=args.seed,
                           batch_size=args.batch_size, background=args.background, output=args.output,
                           histogram=histogram, data_dir=args.data_dir, zoo_dir=args.zoo_dir)


def _eval(args) -> str:
    return app.eval_command(args.name, write=not args.no_write, zoo_dir=args.zoo_dir, features=args.features,
                            num_samples=args.num_samples, data_dir=args.data_dir, seed=args.seed, k=args.k,
                            batch_size=args.batch_size, kid_subsets=args.kid_subsets,
                            samplers=[s for s in (args.samplers or "").split(",") if s])


def _curve(args) -> str:
    return app.record_training_curve(args.name, args.stages, zoo_dir=args.zoo_dir)


def _list(args) -> str:
    return app.list_models(markdown=args.markdown, zoo_dir=args.zoo_dir)


def _index(args) -> str:
    return app.write_index(args.root)


def _card(args) -> str:
    return app.write_card(args.name, show=args.print, zoo_dir=args.zoo_dir)


def _info(args):
    text, ok = app.info(args.name, files=args.files, verify=args.verify, zoo_dir=args.zoo_dir)
    return text, (0 if ok or not args.verify else 1)


NAME_HELP = "an exported model's name (see `zoo list`) or its folder"


def _model_command(sub, command: str, help: str, name_help: str = NAME_HELP):
    """A subcommand about one exported model: its NAME_OR_PATH and --zoo-dir."""
    parser = sub.add_parser(command, help=help)
    parser.add_argument("name", metavar="NAME_OR_PATH", help=name_help)
    _zoo_dir(parser)
    return parser


def _zoo_dir(parser) -> None:
    parser.add_argument("--zoo-dir", metavar="DIR",
                        help="look model names up in DIR first (then $ZOO_EXPORTED_DIR, ./exported and the source "
                             "checkout's exported/)")


def _picture_options(parser, default: str, what: str = "picture to write, .png or .jpg") -> None:
    parser.add_argument("-o", "--output", default=default, help=f"{what} (default {default})")
    parser.add_argument("--scale", type=int, default=2, help="upscale the grid by this factor (default 2)")


def _into_card_option(parser) -> None:
    parser.add_argument("--into-card", action="store_true",
                        help="also add the picture to the artifact (with its sha256) and show it on the model card")


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
    p.add_argument("--strategy", choices=("default", "mirrored", "multi_worker"),
                   help="tf.distribute strategy, overriding train.distribution: one device; every local GPU (or "
                        "logical CPU); the workers TF_CONFIG lists")
    p.add_argument("--cpu-devices", type=int, default=0, metavar="N",
                   help="split the CPU into N logical devices for --strategy mirrored on a machine without GPUs "
                        "(tries data parallelism; the devices share the same cores)")
    p.set_defaults(func=_train)

    p = sub.add_parser("export", help="export a run's last checkpoint as an artifact folder")
    p.add_argument("run_dir", help="the --out folder of a `zoo train` run")
    p.add_argument("--out", help="artifact folder (default RUN_DIR/export), e.g. exported/ae-fashion-mnist")
    p.add_argument("--data-dir", help="folder with local data files (for the example inputs)")
    p.set_defaults(func=_export)

    p = _model_command(sub, "variants", help="(re)write the float16 and int8 variants of an exported model's ONNX "
                                             "files, with their size, difference, latency and FID beside float32's")
    p.add_argument("--fid-n", type=int, metavar="N",
                   help="images per file for the FID (default 2000; 500 DDIM-50 samples for a diffusion model; 0 = no FID)")
    p.add_argument("--kinds", metavar="KINDS", help="which variants, comma-separated (default fp16,int8)")
    p.add_argument("--data-dir", help="folder with local data files (the test images the FID compares with)")
    p.set_defaults(func=_variants)

    p = _model_command(sub, "reconstruct", help="write a grid of inputs and their reconstructions")
    p.add_argument("--input", help="an image, a folder of images, or an .npz/.npy (default: the artifact's examples)")
    p.add_argument("-n", type=int, default=16, help="at most this many inputs (default 16)")
    p.add_argument("--label", type=int, help="the class of the --input images, for conditional models")
    _picture_options(p, "reconstructions.png")
    p.set_defaults(func=_reconstruct)

    p = _model_command(sub, "sample", help="write a grid of samples from a generative model")
    p.add_argument("-n", type=int, default=64, help="number of samples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, help="class to draw, for conditional models (default: all classes in turn)")
    p.add_argument("--sampler", choices=("ddim", "ddpm", "dpmpp_2m"),
                   help="diffusion models: the sampler (default: the recipe's); dpmpp_2m is DPM-Solver++(2M), "
                        "for few steps")
    p.add_argument("--steps", type=int, help="diffusion models: DDIM or dpmpp_2m steps (DDPM always takes all T)")
    p.add_argument("--eta", type=float, help="diffusion models: DDIM eta, 0 deterministic to 1 as noisy as DDPM")
    p.add_argument("--guidance", type=float, help="guided diffusion models: classifier-free guidance scale, 0 "
                                                  "unconditional, 1 conditional, > 1 guided (default: the recipe's)")
    _picture_options(p, "samples.png")
    p.set_defaults(func=_sample)

    p = _model_command(sub, "translate",
                       help="translate images to the other domain (CycleGAN): PNGs and a side-by-side grid")
    p.add_argument("input", help="an image, a folder of images, or an .npz/.npy")
    p.add_argument("--direction", choices=("a2b", "b2a"), default="a2b", help="a2b (default) or b2a")
    p.add_argument("--grid", type=int, default=16, help="pairs shown in grid.png (default 16)")
    _picture_options(p, "translations", what="folder to write: a PNG per image and grid.png")
    p.set_defaults(func=_translate)

    p = _model_command(sub, "traverse", help="latent traversal grid: vary one latent dimension per row (VAE families)")
    p.add_argument("--dims", default="0-7", help="latent dimensions, e.g. 0-7 or 0,3,5 (default 0-7)")
    p.add_argument("--range", type=float, default=3.0, help="values go from -RANGE to +RANGE (default 3)")
    p.add_argument("--steps", type=int, default=9, help="values per row (default 9)")
    p.add_argument("--index", type=int, default=0, help="which stored example to start from (default 0)")
    _picture_options(p, "traversal.png")
    _into_card_option(p)
    p.set_defaults(func=_traverse)

    p = _model_command(sub, "sampling-curve", help="diffusion models: FID against sampling steps for each sampler, "
                                                   "or FID, label accuracy, precision and recall against the guidance "
                                                   "scale (guided models)")
    p.add_argument("--kind", choices=("steps", "guidance"), help="default: guidance for a guided model, else steps")
    p.add_argument("--num-samples", type=int, default=2000, help="samples per row and test images (default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and of the test subset")
    p.add_argument("-o", "--output", help="the PNG (default sampling_steps.png or guidance.png)")
    p.add_argument("--data-dir", help="folder with local data files")
    _into_card_option(p)
    p.set_defaults(func=_sampling_curve)

    p = _model_command(sub, "manifold", help="decode a regular grid over two latent dimensions (VAE families)")
    p.add_argument("--dims", default="0,1", help="the two latent dimensions, across and down (default 0,1)")
    p.add_argument("--size", type=int, default=20, help="codes along each side (default 20)")
    p.add_argument("--quantile", type=float, default=0.05,
                   help="each side spans the prior's quantiles QUANTILE to 1 - QUANTILE (default 0.05)")
    p.add_argument("--label", type=int, help="the class of a conditional model (default 0)")
    _picture_options(p, "manifold.png")
    _into_card_option(p)
    p.set_defaults(func=_manifold)

    p = _model_command(sub, "clusters", help="plot a labelled set's latent means coloured by class (VAE families)")
    p.add_argument("-n", type=int, default=2000, help="images to encode (default 2000)")
    p.add_argument("--split", help="data split (default the recipe's evaluation split)")
    p.add_argument("--dims", help="two latent dimensions to plot (default: both of a 2-d latent, else PCA)")
    p.add_argument("--seed", type=int, default=0, help="which images (default 0)")
    p.add_argument("--data-dir", help="folder with local data files (else $ZOO_DATA_DIR, then tensorflow-datasets)")
    p.add_argument("-o", "--output", default="clusters.png", help="PNG to write (default clusters.png)")
    _into_card_option(p)
    p.set_defaults(func=_clusters)

    p = _model_command(sub, "debias-report", help="a binary classifier trained on biased data (DB-VAE): plain against "
                                                  "debiased training over seeds (benchmarks/debias.py) and the model's "
                                                  "accuracy per test subgroup (zoo eval), as a table")
    p.add_argument("--from", dest="source", metavar="JSON", help="the comparison benchmarks/debias.py --out wrote "
                                                                 "(default: the one recorded in the artifact)")
    p.add_argument("--into-card", action="store_true",
                   help="record the --from comparison and a grid of the training images the re-sampling favours most "
                        "and least (resampling.png) in the artifact and its model card")
    p.add_argument("-k", type=int, default=8, help="images in each row of the grid (default 8)")
    p.add_argument("-o", "--output", help="also write the grid to this PNG")
    p.add_argument("--data-dir", help="folder with local data files (the training images of the grid)")
    p.set_defaults(func=_debias_report)

    p = _model_command(sub, "interpolate", help="interpolate in latent space between pairs of stored examples")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--pairs", type=int, default=4)
    _picture_options(p, "interpolation.png")
    p.set_defaults(func=_interpolate)

    p = _model_command(sub, "eval-likelihood",
                       help="test-set negative ELBO and IWAE NLL in nats and bits/dim (VAE families)")
    p.add_argument("--split", default="test")
    p.add_argument("--k", type=int, default=1000, help="importance samples per example (default 1000)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--max-examples", type=int, default=0, help="score at most this many examples (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder with local data files")
    p.set_defaults(func=_eval_likelihood)

    p = _model_command(sub, "disentanglement", help="total correlation of the aggregate posterior, active units and "
                                                    "KL per latent dimension on test images (VAE families); MIG and "
                                                    "the beta-VAE metric too when the data has ground-truth factors "
                                                    "(dsprites)")
    p.add_argument("-n", type=int, default=2000, help="test images (default 2000; MIG and the beta-VAE metric use "
                                                      "as many)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="folder with local data files")
    p.add_argument("--no-write", action="store_true", help="print only; leave the artifact as it is")
    p.set_defaults(func=_disentanglement)

    p = _model_command(sub, "ood", help="outlier detection: score the test split and other sets (MNIST, noise, "
                                        "constant, inverted images) and print AUROC, AUPRC and FPR at 95%% TPR per score; "
                                        "writes a JSON report and a histogram of the scores")
    p.add_argument("--scores", metavar="NAMES", help="comma-separated, among nll, likelihood-ratio, complexity, "
                                                     "typicality, reconstruction, denoising (default: all the model's "
                                                     "family can give)")
    p.add_argument("--sets", metavar="NAMES", help="out-of-distribution sets, comma-separated, among mnist, "
                                                   "fashion_mnist, uniform, constant, inverted (default: all but the "
                                                   "model's own dataset)")
    p.add_argument("-n", type=int, default=1000, help="images per set, 10 to 10000 (default 1000; a dataset's test "
                                                      "split may hold fewer)")
    p.add_argument("--k", type=int, default=100, help="importance samples of the IWAE bound (default 100)")
    p.add_argument("--typicality-batches", default="2,10,25", metavar="M,...",
                   help="batch sizes of the typicality test (default 2,10,25)")
    p.add_argument("--timesteps", type=int, default=10, help="noise levels of the denoising score (default 10)")
    p.add_argument("--background", metavar="NAME",
                   help="the likelihood ratio's background model (default: a shipped model of the same data "
                        "trained with data.perturb_rate > 0)")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of the image subsets, the noise sets and the scores' draws")
    p.add_argument("-o", "--output", default="ood.json", help="the JSON report (default ood.json)")
    p.add_argument("--histogram", metavar="PNG", help="the histogram of the scores (default: the report's name, .png)")
    p.add_argument("--data-dir", help="folder with local data files (fashion_mnist.npz, mnist10k.npz)")
    p.set_defaults(func=_ood)

    p = _model_command(sub, "eval", help="sample-quality (FID, KID, precision/recall) and likelihood metrics vs the "
                                         "test split, beside the real-vs-real floor; writes metrics.json into the artifact")
    p.add_argument("--num-samples", type=int, default=10_000,
                   help="images per set: samples, test images and training images (default 10000, capped by the splits)")
    p.add_argument("--features", metavar="NETWORK",
                   help="a dataset's name (cifar10, fashion_mnist, mnist: the zoo's classifiers), inception "
                        "(InceptionV3, weights needed locally), or a classifier artifact; default: the one for the "
                        "model's dataset")
    p.add_argument("--k", type=int, default=1000, help="VAE families: importance samples of the IWAE bound (default 1000)")
    p.add_argument("--batch-size", type=int, default=250, help="images per batch when sampling and embedding")
    p.add_argument("--kid-subsets", type=int, default=100, help="random subsets KID is averaged over (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples and of the image subsets")
    p.add_argument("--samplers", metavar="ROWS", help="score only these sample rows, e.g. ddim_50 (diffusion models "
                                                      "have ddim_10, ddim_20, ddim_50, ddim_100, dpmpp_10, dpmpp_15, "
                                                      "dpmpp_20, ddpm_1000)")
    p.add_argument("--no-write", action="store_true", help="print the table only; leave the artifact as it is")
    p.add_argument("--data-dir", help="folder with local data files")
    p.set_defaults(func=_eval)

    p = _model_command(sub, "curve", help="record figures against training time from evaluated exports of one run "
                                          "at several epochs into an artifact's metadata and card",
                       name_help="the artifact whose card gets the curve")
    p.add_argument("stages", nargs="+", metavar="STAGE", help="exports of the same run after more and more epochs, "
                                                              "each evaluated by `zoo eval`")
    p.set_defaults(func=_curve)

    p = sub.add_parser("list", help="list the exported models")
    p.add_argument("--markdown", action="store_true", help="the README's model table, with thumbnails")
    _zoo_dir(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("index", help="write DIR/index.json, the list of exported models a web page or another "
                                     "runtime starts from")
    p.add_argument("root", nargs="?", default="exported", metavar="DIR", help="the folder of artifacts (default exported)")
    p.set_defaults(func=_index)

    p = _model_command(sub, "card", help="rewrite an exported model's README.md model card from its metadata and metrics")
    p.add_argument("--print", action="store_true", help="print the card instead of writing it")
    p.set_defaults(func=_card)

    p = _model_command(sub, "info", help="print an exported model's metadata")
    p.add_argument("--files", action="store_true", help="include every file's sha256 and whether it matches")
    p.add_argument("--verify", action="store_true", help="check every file and load model.keras; exit 1 if any fails")
    p.set_defaults(func=_info)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.func(args)
    except ZooError as exc:
        if args.debug:
            raise
        print(f"zoo: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    text, code = result if isinstance(result, tuple) else (result, 0)
    print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
