"""What the ``zoo`` command does, one function per use case, callable from Python too.

Each function takes plain values (paths, numbers), checks what the model's family declares it can do
(:class:`~zoo.models.Capability`), does the work, and returns a one-line summary for the user; any problem
the user can fix is a :class:`~zoo.errors.ZooError`. The argument parsing lives in :mod:`zoo.cli`.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo import catalogue, data, images, runtime
from zoo.artifact import card, index
from zoo.artifact.export import export_model
from zoo.artifact.figures import debias_table, key_metrics
from zoo.artifact.store import (METADATA, available, check_files, load_examples, load_model, read_metadata, resolve,
                                update_artifact, verify_checksums)
from zoo.artifact.variants import KINDS, build_variants
from zoo.config import Recipe, load_recipe
from zoo.errors import ArtifactError, DataError, EvaluationError, ZooError
from zoo.eval import debias, latents
from zoo.eval.disentanglement import LATENT_IMAGES, latent_statistics, supervised_statistics
from zoo.eval import ood as outliers
from zoo.eval.curve import run_recipe, training_curve
from zoo.eval.evaluate import evaluate
from zoo.eval.histogram import write_histogram
from zoo.eval.report import format_report
from zoo.eval import sampling
from zoo.eval.variants import default_samples, fid_scorer
from zoo.files import check_writable, write_atomic
from zoo.models import Capability, GenerativeModel
from zoo.models.vae import evaluate_likelihood
from zoo.progress import progress_line
from zoo.train import restore, train

MAX_GRID = 10_000  # images in one picture; beyond that, sample in Python or with `zoo eval`
SAMPLE_BATCH = 256  # images drawn at once for a grid, so memory does not grow with -n


@dataclass
class Opened:
    """An exported model, loaded with its checksums verified, its recipe and its folder."""

    model: GenerativeModel
    recipe: Recipe
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    def require(self, capability: Capability, what: str, hint: str = "") -> None:
        """A clear error unless the model's family declares ``capability``."""
        if not self.model.can(capability):
            raise ZooError(f"{self.name} is a {self.recipe.family}, which {what}" + (f"; {hint}" if hint else ""))

    def save(self, batch, output, *, ncols=None, scale: int = 2, pad: int = 2) -> Path:
        return images.save_png(images.grid(batch, self.recipe.data.value_range, ncols=ncols, pad=pad), output,
                               scale=scale)


def open_model(name_or_path, zoo_dir=None) -> Opened:
    folder = resolve(name_or_path, zoo_dir)
    return Opened(load_model(folder), load_recipe(folder / "recipe.toml"), folder)


def _positive(value, flag: str) -> int:
    if value is None or int(value) < 1:
        raise ZooError(f"{flag} must be a positive whole number, got {value}")
    return int(value)


def _picture_path(output) -> Path:
    path = check_writable(output)
    images.image_format(path)  # refuses a suffix other than .png / .jpg / .jpeg before any work
    return path


def _label(opened: Opened, label) -> int | None:
    if label is None:
        return None
    if not opened.model.can(Capability.CONDITIONAL):
        raise ZooError(f"{opened.name} is not conditional: drop --label")
    if not 0 <= label < opened.model.num_classes:
        raise ZooError(f"--label must be in [0, {opened.model.num_classes}), got {label}")
    return int(label)


# ---------------------------------------------------------------- training


def train_recipe(recipe_path, *, overrides=(), out=None, data_dir=None, resume=False, export=True,
                 domain_a=None, domain_b=None, strategy=None, cpu_devices=0) -> str:
    domains = []  # a folder replaces the recipe's choice of images for its domain (class subset, splits)
    for key, folder in (("domain_a", domain_a), ("domain_b", domain_b)):
        if folder:
            if not Path(folder).expanduser().is_dir():
                raise ZooError(f"--{key.replace('_', '-')} {folder} is not a folder of images")
            domains += [f"data.{key}.file={json.dumps(str(Path(folder).expanduser().resolve()))}",
                        f"data.{key}.classes=[]", f'data.{key}.split=""', f'data.{key}.eval_split=""']
    if cpu_devices:
        runtime.split_cpu(_positive(cpu_devices, "--cpu-devices"))
    strategies = [f"train.distribution={json.dumps(strategy)}"] if strategy else []
    recipe = load_recipe(recipe_path, overrides=[*overrides, *domains, *strategies])
    run_dir = Path(out or Path("runs") / recipe.name)
    result = train(recipe, run_dir, data_dir=data_dir, resume=resume, export=export)
    if not result.chief:
        return f"trained {recipe.name} as a worker of the cluster; the chief wrote the run folder {run_dir}"
    summary = f"trained {recipe.name}: {result.epochs} epochs in {result.train_seconds:.0f} s, run folder {run_dir}"
    return summary + (f"\nexported to {result.export_dir}" if result.export_dir else "")


def export_run(run_dir, *, out=None, data_dir=None) -> str:
    model, recipe, state = restore(run_dir)
    out = Path(out or Path(run_dir) / "export")
    export_model(model, recipe, out, data_dir=data_dir, run_state=state,
                 variant_fid=functools.partial(fid_scorer, data_dir=data_dir, progress=True))
    return f"exported {recipe.name} (epoch {state['epoch']}) to {out}"


def variants(name, *, fid_n=None, kinds=None, data_dir=None, zoo_dir=None) -> str:
    """(Re)write the float16 and int8 variants of an artifact's ONNX files, measured beside float32: size, difference
    on the examples, latency, and (``fid_n`` images, 0 for none) FID. A table of them, one row per file."""
    if fid_n is not None and fid_n != 0 and fid_n < 4:
        raise ZooError(f"--fid-n must be 0 (no FID) or at least 4 images, got {fid_n}")
    chosen = [k for k in (kinds or ",".join(KINDS)).split(",") if k]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise ZooError(f"--kinds {kinds!r}: the variants are {', '.join(KINDS)} (comma-separated)")
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise ZooError(f"--data-dir {data_dir} is not a folder; pass the folder holding the dataset's .npz")
    folder = verify_checksums(resolve(name, zoo_dir))
    meta = read_metadata(folder)
    n = default_samples(meta) if fid_n is None else fid_n
    scorer = fid_scorer(n, data_dir=data_dir, progress=True) if n else None
    section = build_variants(folder, kinds=chosen, fid=scorer, log=_stderr)
    rows = [("file", "variant", "bytes", "max abs diff", "ms b1", "ms b64", "FID")]
    notes = []
    for onnx_file, entry in section["files"].items():
        scores = entry["fid"].get("scores", {})
        for kind in ("float32", *chosen):
            item = entry.get(kind, {})
            if "skipped" in item:
                notes.append(f"no {kind} variant of {onnx_file}: {item['skipped']}")
                continue
            rows.append((item["file"], kind, f"{item['bytes']:,}",
                         "-" if kind == "float32" else f"{item['max_abs_diff']:.2e}",
                         f"{item['latency_ms']['batch_1']:.3g}", f"{item['latency_ms']['batch_64']:.3g}",
                         f"{scores[kind]:.4g}" if kind in scores else "-"))
        fid = entry["fid"]
        if "scores" in fid:
            notes.append(f"FID of {onnx_file}: n = {fid['n']:,}, {fid['inputs']}")
        else:
            notes.append(f"no FID for {onnx_file}: " + next(iter(fid.values())))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(table + notes + [f"wrote the variants of {folder.name} and their figures into "
                                       f"{folder / METADATA} and its card"])


def _stderr(text: str) -> None:
    """Stage lines of a long command, on stderr like the progress lines."""
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- pictures


def sample(name, *, n=64, seed=0, label=None, sampler=None, steps=None, eta=None, guidance=None, output="samples.png",
           scale=2, zoo_dir=None) -> str:
    """A grid of ``n`` samples, drawn ``SAMPLE_BATCH`` at a time."""
    n, scale = _positive(n, "-n"), _positive(scale, "--scale")
    if n > MAX_GRID:
        raise ZooError(f"-n {n} is more than {MAX_GRID:,} images for one picture; draw them in batches with "
                       "zoo.load(NAME).sample(...) in Python, or measure them with `zoo eval --num-samples`")
    output = _picture_path(output)
    opened = open_model(name, zoo_dir)
    opened.require(Capability.SAMPLE, "does not sample new images (it has no prior to draw latents from)",
                   "use `zoo reconstruct` instead" if opened.model.can(Capability.RECONSTRUCT) else "")
    options = {}
    label = _label(opened, label)
    if label is not None:
        options["labels"] = label
    chosen = {key: value for key, value in (("sampler", sampler), ("steps", steps), ("eta", eta)) if value is not None}
    if chosen and not opened.model.can(Capability.SAMPLERS):
        flags = ", ".join(f"--{key}" for key in chosen)
        raise ZooError(f"{flags} choose a diffusion sampler, and {opened.name} is a {opened.recipe.family}: drop them")
    if steps is not None:
        _positive(steps, "--steps")
    if eta is not None and eta < 0:
        raise ZooError(f"--eta must be at least 0 (0 deterministic DDIM, 1 as noisy as DDPM), got {eta}")
    if guidance is not None:
        if not opened.model.can(Capability.GUIDANCE):
            raise ZooError(f"--guidance sets classifier-free guidance, and {opened.name} is not a guided diffusion model: "
                           "drop it")
        if not guidance >= 0 or guidance == float("inf"):
            raise ZooError(f"--guidance must be a finite scale >= 0 (0 unconditional, 1 conditional, > 1 guided), "
                           f"got {guidance}")
        chosen["guidance"] = guidance
    batches = [np.asarray(opened.model.sample(min(SAMPLE_BATCH, n - start), seed=seed + index, **options, **chosen))
               for index, start in enumerate(range(0, n, SAMPLE_BATCH))]
    opened.save(np.concatenate(batches), output, scale=scale)
    how = "".join(f", {key} {value}" for key, value in chosen.items())
    known = catalogue.dataset(opened.recipe.data.dataset)
    name = known.class_names[label] if known and label is not None and label < known.num_classes else str(label)
    named = f" ({name})" if name != str(label) else ""
    return f"wrote {output}: {n} samples, seed {seed}" + (f", label {label}{named}" if label is not None else "") + how


def reconstruct(name, *, input=None, n=16, label=None, output="reconstructions.png", scale=2, zoo_dir=None) -> str:
    n, scale = _positive(n, "-n"), _positive(scale, "--scale")
    output = _picture_path(output)
    opened = open_model(name, zoo_dir)
    opened.require(Capability.RECONSTRUCT, "does not reconstruct images")
    model, labels = opened.model, None
    conditional = model.can(Capability.CONDITIONAL)
    if input:
        batch = data.read_images(input, opened.recipe.data)
        if conditional:
            if label is None:
                raise ZooError(f"{opened.name} is conditional: pass --label for the images in {input}")
            labels = [_label(opened, label)] * len(batch)
    else:
        examples = load_examples(opened.folder)
        batch, labels = examples["images"], examples.get("labels") if conditional else None
    batch = batch[:n]
    labels = None if labels is None else np.asarray(labels[:n], "int32")
    rebuilt = model.reconstruct(batch, labels) if labels is not None else model.reconstruct(batch)
    opened.save(np.concatenate([batch, np.asarray(rebuilt)], axis=0), output, ncols=min(len(batch), 16), scale=scale)
    return f"wrote {output}: {len(batch)} inputs (first rows) and their reconstructions (last rows)"


def translate(name, input, *, direction="a2b", grid=16, output="translations", scale=2, zoo_dir=None) -> str:
    grid, scale = _positive(grid, "--grid"), _positive(scale, "--scale")
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ZooError(f"-o {out} is a file; translate writes a folder (a PNG per image and grid.png): name a folder")
    opened = open_model(name, zoo_dir)
    opened.require(Capability.TRANSLATE, "does not translate images between domains")
    batch, names = data.read_named_images(input, opened.recipe.data)
    translated = np.concatenate([np.asarray(opened.model.translate(batch[i:i + 32], direction))
                                 for i in range(0, len(batch), 32)])
    for file_name, image in zip(names, translated):
        opened.save(image[None], out / f"{file_name}.png", pad=0, scale=1)
    shown = np.stack([batch, translated], axis=1).reshape(-1, *batch.shape[1:])[: 2 * grid]
    opened.save(shown, out / "grid.png", ncols=2 * min(4, len(batch)), scale=scale)
    return (f"wrote {len(batch)} translated images ({direction}) to {out}, and {out / 'grid.png'}: "
            "each input beside its translation")


def _example(opened: Opened, index: int):
    examples = load_examples(opened.folder)
    if not 0 <= index < len(examples["images"]):
        raise ZooError(f"--index must be in [0, {len(examples['images'])}) (the examples stored with the model)")
    return examples["images"], examples.get("labels")


def parse_dims(text: str, latent_dim: int) -> list[int]:
    """``0-7`` or ``0,3,5`` as a list of latent dimensions, each in ``[0, latent_dim)``."""
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
    if bad or not dims:
        raise ZooError(f"--dims {bad or text!r} are outside the latent space [0, {latent_dim})")
    return dims


LATENT_HINT = "this command is for families with a probabilistic latent space (vae, cvae)"


def _into_card(opened: Opened, picture: Path, file: str, caption: str, into_card: bool, done: str) -> str:
    """With ``into_card``, also copy ``picture`` into the artifact as ``file`` (checksummed) and show it with
    ``caption`` on the model card."""
    if not into_card:
        return done
    figures = {**(read_metadata(opened.folder).get("figures") or {}), file: caption}
    update_artifact(opened.folder, {file: Path(picture).read_bytes()}, {"figures": figures})
    card.write(opened.folder)
    return f"{done}\nadded {file} to {opened.folder} and its model card"


def traverse(name, *, dims="0-7", value_range=3.0, steps=9, index=0, output="traversal.png", scale=2,
             into_card=False, zoo_dir=None) -> str:
    steps, scale = _positive(steps, "--steps"), _positive(scale, "--scale")
    if not value_range > 0:
        raise ZooError(f"--range must be above 0, got {value_range}")
    output = _picture_path(output)
    opened = open_model(name, zoo_dir)
    opened.require(Capability.TRAVERSE, "has no latent traversals", LATENT_HINT)
    examples, labels = _example(opened, index)
    dims = parse_dims(dims, opened.model.latent_dim)
    values = np.linspace(-value_range, value_range, steps).astype("float32")
    label = None if labels is None else labels[index:index + 1]
    grid, _ = opened.model.traverse(examples[index], dims, values, labels=label)
    opened.save(grid, output, ncols=len(values), scale=scale)
    summary = (f"one row per latent dimension {dims[0]}..{dims[-1]}, values {values[0]:g}..{values[-1]:g} in "
               f"{len(values)} steps, example {index}")
    return _into_card(opened, output, "traversal.png", f"Latent traversal (`zoo traverse`): {summary}.", into_card,
                      f"wrote {output}: {summary}")


def manifold(name, *, dims="0,1", size=20, label=None, quantile=0.05, output="manifold.png", scale=2,
             into_card=False, zoo_dir=None) -> str:
    """The decoded grid over two latent dimensions (the VAE families' :meth:`manifold`) as one picture."""
    size, scale = _positive(size, "--size"), _positive(scale, "--scale")
    if size > 100:
        raise ZooError(f"--size {size} would decode {size * size:,} images into one picture; use at most 100")
    output = _picture_path(output)
    opened = open_model(name, zoo_dir)
    opened.require(Capability.TRAVERSE, "has no probabilistic latent space to draw", LATENT_HINT)
    model = opened.model
    chosen = parse_dims(dims, model.latent_dim)
    if len(chosen) != 2 or chosen[0] == chosen[1]:
        raise ZooError(f"--dims takes two different latent dimensions, e.g. 0,1; got {dims!r}")
    if not 0 < quantile < 0.5:
        raise ZooError(f"--quantile must be in (0, 0.5), got {quantile}")
    if label is not None and not 0 <= label < model.num_classes:  # num_classes is 0 for an unconditional model
        raise ZooError(f"--label {label}: " + (f"{opened.recipe.name} takes labels in [0, {model.num_classes})"
                                               if model.num_classes else f"{opened.recipe.name} is not conditional"))
    grid, _ = model.manifold(chosen, size, quantile, label=label)
    opened.save(grid, output, ncols=size, scale=scale, pad=0)
    rest = "the other dimensions at the prior's mean" if model.latent_dim > 2 else "the whole latent space"
    summary = (f"{size} x {size} decoded codes over latent dimensions {chosen[0]} (across) and {chosen[1]} (down), "
               f"prior quantiles {quantile:g} to {1 - quantile:g}; {rest}")
    return _into_card(opened, output, "manifold.png", f"The decoded manifold (`zoo manifold`): {summary}.", into_card,
                      f"wrote {output}: {summary}")


def clusters(name, *, n=2000, split=None, dims=None, seed=0, data_dir=None, output="clusters.png",
             into_card=False, zoo_dir=None) -> str:
    """The latent means of ``n`` labelled images of ``split`` (the recipe's evaluation split by default), coloured by
    label: as they are for a 2-d latent (or the two ``dims`` chosen), else projected on their first two principal axes."""
    n = _positive(n, "-n")
    output = check_writable(output)
    if output.suffix.lower() != ".png":
        raise ZooError(f"-o {output}: the plot is written as PNG; name a .png file")
    opened = open_model(name, zoo_dir)
    opened.require(Capability.TRAVERSE, "has no probabilistic latent space to draw", LATENT_HINT)
    model, recipe = opened.model, opened.recipe
    chosen = None if dims is None else parse_dims(dims, model.latent_dim)
    if chosen is not None and (len(chosen) != 2 or chosen[0] == chosen[1]):
        raise ZooError(f"--dims takes two different latent dimensions, e.g. 0,1; got {dims!r}")
    split = split or recipe.data.eval_split
    images_, labels, source = data.labelled_images(recipe.data, split, n, seed=seed, data_dir=data_dir)
    if labels is None:
        raise ZooError(f"{source} has no labels to colour the points by; use a labelled dataset")
    means = np.concatenate([model.encode(images_[i:i + 500], None if not model.num_classes else labels[i:i + 500]).mean
                            for i in range(0, len(images_), 500)])
    known = catalogue.dataset(recipe.data.dataset)
    count = int(labels.max()) + 1
    names = list(known.class_names) if known and known.num_classes >= count else [str(k) for k in range(count)]
    points, axes = latents.project_2d(means, chosen)
    latents.scatter_png(points, labels, names, output, axes=axes,
                        title=f"{recipe.name}: posterior means of {len(labels):,} {split} images")
    summary = f"{len(labels):,} {split} images of {source}, {axes[0]} against {axes[1]}"
    return _into_card(opened, output, "clusters.png",
                      f"Posterior means coloured by class (`zoo clusters`): {summary}.", into_card, f"wrote {output}: {summary}")


def debias_report(name, *, source=None, into_card=False, k=8, output=None, data_dir=None, zoo_dir=None) -> str:
    """The debiasing figures of a binary classifier trained on biased data (a DB-VAE, or its plain baseline): the
    comparison of plain and debiased training over several seeds that ``benchmarks/debias.py`` wrote (``source``, else
    the one recorded in the artifact's metadata.json as ``debias``), then the model's own accuracy per test subgroup
    from ``zoo eval`` (metrics.json). With ``into_card`` the comparison of ``source`` goes into metadata.json and the
    card, and so does, for a model that re-samples, the grid of the ``k`` training positives its re-sampling draws most
    and least often (``resampling.png``; also written to ``output`` when given)."""
    opened = open_model(name, zoo_dir)
    if not opened.recipe.data.positive_classes:
        raise ZooError(f"{opened.name} was not trained on a binary task with subgroups (data.positive_classes): "
                       "debias-report is for DB-VAE models and their plain baselines")
    k = _positive(k, "-k")
    if source is not None:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ZooError(f"--from {source} is not a file; pass the JSON that benchmarks/debias.py --out wrote")
        try:
            comparison = debias.check_comparison(json.loads(path.read_text()), f"--from {source}")
        except json.JSONDecodeError as exc:
            raise ZooError(f"--from {source} is not JSON ({exc}); pass the file benchmarks/debias.py --out wrote") from None
    else:
        comparison = read_metadata(opened.folder).get("debias")
    metrics = opened.folder / "metrics.json"
    own = json.loads(metrics.read_text()) if metrics.is_file() else {}
    lines = []
    if comparison:
        epochs = comparison["epochs"]
        lines += [f"{comparison['recipe']}: {epochs} epoch{'' if epochs == 1 else 's'} a run, seeds {comparison['seeds']}"
                  + (f", {comparison['limit']:,} images a split (smoke run)" if comparison.get("limit") else "")
                  + f"; test accuracy in %, mean ± std over the seeds ({comparison.get('created', '')})",
                  debias.text_table(*debias_table(comparison))]
    if own.get("groups"):
        c = own["classification"]
        lines += [f"{opened.name} (zoo eval, {own.get('created', '')}): accuracy {100 * c['test_accuracy']:.2f}%, worst "
                  f"group {c['worst_group']} {100 * c['worst_group_accuracy']:.2f}%; by group: "
                  + ", ".join(f"{group} {100 * value:.2f}%" for group, value in own["groups"].items())]
    if not lines and not into_card and output is None:
        raise ZooError(f"no debiasing figures for {opened.name} yet: run `python benchmarks/debias.py --out "
                       f"results.json --data-dir DIR`, then `zoo debias-report {name} --from results.json --into-card "
                       f"--data-dir DIR`; or `zoo eval {name}` for its own accuracy per subgroup")
    if into_card and comparison is not None and source is not None:
        update_artifact(opened.folder, {}, {"debias": comparison})
        card.write(opened.folder)
        lines.append(f"recorded the comparison in {opened.folder / METADATA} and its model card")
    if into_card or output is not None:
        lines.append(_resampling_figure(opened, k, output, into_card, data_dir))
    return "\n".join(lines)


def _resampling_figure(opened: Opened, k: int, output, into_card: bool, data_dir) -> str:
    """The grid of the training positives the model's re-sampling favours most (top row) and least (bottom row)."""
    if not opened.model.resamples(opened.recipe):
        return f"no resampling.png: {opened.name} trained on shuffled passes (model.debias = false)"
    cfg = opened.recipe.data
    x, labels, _ = data.labelled_images(cfg, cfg.split, 10**9, data_dir=data_dir)
    top, bottom, p = debias.favoured(opened.model, x, labels, k)
    classes = debias.original_labels(cfg, cfg.split, data_dir)

    def kinds(chosen):
        names, counts = np.unique([debias.class_name(cfg, c) for c in classes[chosen]], return_counts=True)
        return ", ".join(f"{n} {name}" for n, name in sorted(zip(counts, names), reverse=True))

    ratio = p * len(p)  # against a uniform draw, 1 / N
    summary = (f"top row {ratio[top].max():.3g}-{ratio[top].min():.3g}x a uniform draw ({kinds(top)}), bottom row "
               f"{ratio[bottom].min():.3g}-{ratio[bottom].max():.3g}x ({kinds(bottom)}), of {len(p):,} training images")
    picture = images.grid(np.concatenate([x[top], x[bottom]]), cfg.value_range, ncols=k)
    done = ""
    if output is not None:
        images.save_png(picture, _picture_path(output), scale=2)
        done = f"wrote {output}: {summary}"
    if not into_card:
        return done
    with tempfile.TemporaryDirectory() as folder:
        path = images.save_png(picture, Path(folder) / "resampling.png", scale=2)
        return _into_card(opened, path, "resampling.png", "The training positives the re-sampling draws most often "
                          "(top row, most first) and least often (bottom row, least first), by the weights of the "
                          f"trained model (`zoo debias-report`): {summary}.", True, done or summary)


def interpolate(name, *, steps=10, pairs=4, output="interpolation.png", scale=2, zoo_dir=None) -> str:
    steps, pairs, scale = _positive(steps, "--steps"), _positive(pairs, "--pairs"), _positive(scale, "--scale")
    output = _picture_path(output)
    opened = open_model(name, zoo_dir)
    opened.require(Capability.INTERPOLATE, "has no latent interpolation", LATENT_HINT)
    examples, labels = _example(opened, 0)
    rows = []
    for pair in range(min(pairs, len(examples) // 2)):
        a, b = 2 * pair, 2 * pair + 1
        label = None if labels is None else labels[a:a + 1]
        rows.append(np.asarray(opened.model.interpolate(examples[a], examples[b], steps, labels=label)))
    opened.save(np.concatenate(rows), output, ncols=steps, scale=scale)
    return f"wrote {output}: {len(rows)} pairs of examples, {steps} steps between each"


# ---------------------------------------------------------------- measuring


def disentanglement(name, *, n=LATENT_IMAGES, seed=0, write=True, data_dir=None, zoo_dir=None) -> str:
    """The latent code's figures (total correlation, active units, KL per dimension) on ``n`` test images, and MIG and
    the beta-VAE metric when the data has ground-truth factors (:func:`_factor_metrics`); with ``write``, into the
    artifact's metrics.json and headline as `zoo eval` writes them, and the cards that compare them."""
    n = _positive(n, "-n")
    if n > 10_000:
        raise ZooError(f"-n {n}: the total correlation estimate costs n^2 densities; use at most 10000")
    opened = open_model(name, zoo_dir)
    opened.require(Capability.LIKELIHOOD, "has no posterior to measure", LATENT_HINT)
    cfg = opened.recipe.data
    images_, labels, source = data.labelled_images(cfg, cfg.eval_split, n, seed=seed, data_dir=data_dir)
    stats = latent_statistics(opened.model, images_, labels, seed=seed)
    text = (f"{opened.recipe.name}: total correlation {stats['total_correlation_nats']:.4f} nats, active units "
            f"{stats['active_units']} of {stats['latent_dim']}, on {stats['num_images']:,} images of {source}")
    supervised, line = _factor_metrics(opened, n, seed, data_dir)
    text += f"\n{line}"
    if supervised:
        stats.update(mig=supervised["mig"]["mig"], beta_vae_metric=supervised["beta_vae"]["accuracy"],
                     supervised=supervised)
    if not write:
        return text
    metrics_path = opened.folder / "metrics.json"
    if not metrics_path.is_file():
        raise ZooError(f"{opened.recipe.name} has no metrics.json yet: run `zoo eval {opened.recipe.name}` (which "
                       "measures this too), or pass --no-write")
    report = json.loads(metrics_path.read_text())
    report["latent"] = stats
    figures = {key: stats[key] for key in ("total_correlation_nats", "mig", "beta_vae_metric") if key in stats}
    report.setdefault("headline", {}).update(figures)
    metrics = {**(read_metadata(opened.folder).get("metrics") or {}), **figures}
    update_artifact(opened.folder, {"metrics.json": json.dumps(report, indent=2) + "\n"}, {"metrics": metrics})
    rewritten = [folder.name for folder in _cards_comparing(opened.folder)]
    return f"{text}\nwrote {metrics_path}; rewrote the cards of {', '.join(rewritten)}"


def _factor_metrics(opened: Opened, n: int, seed: int, data_dir) -> tuple[dict | None, str]:
    """MIG and the beta-VAE metric on the first ``n`` images of the evaluation split, when the catalogue lists
    ground-truth factors for the recipe's dataset and the data is there: (the figures, or None; one line saying what
    was measured or why not)."""
    cfg = opened.recipe.data
    known = catalogue.dataset(cfg.dataset)
    skipped = "MIG and the beta-VAE metric skipped: "
    if cfg.file or not (known and known.factors):
        with_factors = ", ".join(name for name, entry in catalogue.DATASETS.items() if entry.factors)
        return None, (f"{skipped}{cfg.file or cfg.dataset} has no ground-truth factors of variation (they apply to "
                      f"data with factors: {with_factors})")
    if opened.model.can(Capability.CONDITIONAL):
        return None, f"{skipped}a conditional model's code is read with a label, which these metrics do not give"
    try:
        images_, factors, names, source = data.factor_images(cfg, cfg.eval_split, n, data_dir=data_dir)
    except DataError as exc:
        return None, f"{skipped}the {known.title} factors are not available ({exc})"
    supervised = {"data": source, **supervised_statistics(opened.model, images_, factors, names, seed=seed)}
    mig, beta = supervised["mig"], supervised["beta_vae"]
    return supervised, (f"MIG {mig['mig']:.3f} ({mig['bins']} bins), beta-VAE metric {beta['accuracy']:.3f} "
                        f"(chance {beta['chance']:.2f}), on {source}; factors {', '.join(names)}")


def _cards_comparing(folder: Path) -> list[Path]:
    """Rewrite the cards beside ``folder`` that compare latent codes on its dataset (they list each other)."""
    dataset = read_metadata(folder)["dataset"]["name"]
    done = []
    for path in sorted(folder.parent.glob(f"*/{METADATA}")):
        meta = json.loads(path.read_text())
        if meta.get("dataset", {}).get("name") == dataset and "total_correlation_nats" in (meta.get("metrics") or {}):
            card.write(path.parent)
            done.append(path.parent)
    return done


def likelihood(name, *, split="test", k=1000, batch_size=100, max_examples=0, seed=0, data_dir=None,
               zoo_dir=None) -> tuple[dict, str]:
    """The split's negative ELBO and IWAE NLL: (the JSON report, a one-line summary)."""
    k, batch_size = _positive(k, "--k"), _positive(batch_size, "--batch-size")
    if max_examples < 0:
        raise ZooError(f"--max-examples must be 0 (all) or more, got {max_examples}")
    opened = open_model(name, zoo_dir)
    opened.require(Capability.LIKELIHOOD, "has no likelihood", LATENT_HINT)
    source = data.load_split(opened.recipe.data, split, data_dir)
    count = min(source.size, max_examples) if max_examples else source.size
    batch, labels = data.example_batch(opened.recipe.data, count, data_dir=data_dir, split=split)
    conditional = opened.model.can(Capability.CONDITIONAL)
    result = evaluate_likelihood(opened.model, batch, labels if conditional else None, k=k, batch_size=batch_size,
                                 seed=seed, progress=progress_line("examples"))
    result.update(model=opened.name, split=split, data=source.description)
    summary = (f"{opened.name} on {split} ({result['examples']} examples{', binarized' if result['binarized'] else ''}): "
               f"negative ELBO {result['neg_elbo_nats']:.2f} nats ({result['neg_elbo_bits_per_dim']:.4f} bits/dim), "
               f"IWAE NLL (k={k}) {result['iwae_nll_nats']:.2f} nats ({result['iwae_nll_bits_per_dim']:.4f} bits/dim)")
    return result, summary


def evaluate_artifact(name_or_path, *, write: bool = True, zoo_dir=None, **options) -> tuple[dict, Path]:
    """Evaluate an exported model (checksums verified on load); with ``write``, save ``metrics.json`` into the
    artifact, its headline figures into ``metadata.json`` (whose sha256 list then includes metrics.json), and
    rewrite its card."""
    opened = open_model(name_or_path, zoo_dir)
    report = {"model": opened.recipe.name, **evaluate(opened.model, opened.recipe, **options)}
    if write:
        summary = {"file": "metrics.json", "created": report["created"], "num_samples": report["num_samples"]}
        if "features" in report:
            summary["features"] = report["features"]["network"]
        update_artifact(opened.folder, {"metrics.json": json.dumps(report, indent=2) + "\n"},
                        {"metrics": report["headline"], "evaluation": summary})
        card.write(opened.folder)
    return report, opened.folder


def eval_command(name, *, write=True, zoo_dir=None, **options) -> str:
    report, folder = evaluate_artifact(name, write=write, zoo_dir=zoo_dir, progress=True, **options)
    text = format_report(report)
    return text + (f"\nwrote {folder / 'metrics.json'} and the headline figures into {folder / METADATA}" if write else "")


CURVE_FILES = {"steps": "sampling_steps.png", "guidance": "guidance.png"}


def sampling_curve(name, *, kind=None, num_samples=2000, seed=0, data_dir=None, output=None, into_card=False,
                   zoo_dir=None) -> str:
    """A diffusion model's sample quality against sampling steps for each sampler (``steps``), or against the
    guidance scale (``guidance``, a guided model's default): ``zoo eval``'s rows of that kind on ``num_samples``
    images, drawn as a PNG; with ``into_card`` also recorded in metadata.json and the model card. Rows that the
    artifact's metrics.json already holds on the same samples (``zoo eval --num-samples N --seed S``) are reused."""
    opened = open_model(name, zoo_dir)
    opened.require(Capability.SAMPLERS, "is not a diffusion model, whose samples depend on a sampler",
                   "zoo eval measures its samples")
    kind = kind or ("guidance" if opened.model.can(Capability.GUIDANCE) else "steps")
    if kind not in CURVE_FILES:
        raise ZooError(f"--kind must be one of {', '.join(CURVE_FILES)}, got {kind!r}")
    if kind == "guidance" and not opened.model.can(Capability.GUIDANCE):
        raise ZooError(f"{opened.name} is not a guided model: use --kind steps")
    num_samples = _positive(num_samples, "--num-samples")
    output = _picture_path(output or CURVE_FILES[kind])
    rows = [row for row in opened.model.evaluation_samplers()
            if (sampling.GUIDANCE_ROW if kind == "guidance" else sampling.STEP_ROW).match(row)]
    metrics = opened.folder / "metrics.json"
    report = sampling.reusable_report(json.loads(metrics.read_text()) if metrics.is_file() else None, rows,
                                      num_samples=num_samples, seed=seed)
    reused = report is not None
    report = report or {"model": opened.recipe.name, **evaluate(opened.model, opened.recipe, num_samples=num_samples,
                                                               seed=seed, data_dir=data_dir, samplers=rows,
                                                               progress=True)}
    title = (f"{opened.name}: " + ("DDIM-50 samples against the guidance scale" if kind == "guidance"
                                   else "sample quality against sampling steps")
             + f"\n(n = {report['num_samples']:,})")  # its own line: the steps figure is 6 inches wide
    sampling.write_figure(kind, report["rows"], output, title=title)
    points = sampling.curve_rows(kind, report["rows"])
    text = (f"the rows of {metrics.name} (zoo eval, {report['created']}), not drawn again\n" if reused else "") \
        + format_report(report) + f"\nwrote {output}"
    if not into_card:
        return text
    curves = {**(read_metadata(opened.folder).get("sampling_curves") or {}),
              kind: {"num_samples": report["num_samples"], "created": report["created"], "seed": seed,
                     "figure": CURVE_FILES[kind], "rows": points}}
    update_artifact(opened.folder, {}, {"sampling_curves": curves})
    caption = ("FID, label accuracy (the zoo classifier's agreement with the asked class), precision and recall of "
               "DDIM-50 samples against the guidance scale" if kind == "guidance"
               else "FID against the number of sampling steps, for each sampler")
    return _into_card(opened, output, CURVE_FILES[kind], f"{caption} (`zoo sampling-curve`, n = "
                      f"{report['num_samples']:,} samples and test images).", True, text)


def record_training_curve(name_or_path, stages, zoo_dir=None) -> str:
    """Write :func:`~zoo.eval.curve.training_curve` of ``stages`` into an artifact's metadata.json and card.

    The artifact must come from the same run (its recipe equal to the stages' apart from the epochs).
    """
    curve = training_curve(stages)
    folder = resolve(name_or_path, zoo_dir)
    if run_recipe(read_metadata(folder)) != run_recipe(read_metadata(resolve(stages[0]))):
        raise EvaluationError(f"{folder} was trained by another recipe than the stages (beyond train.epochs): "
                              "record a run's curve in the artifact that run made")
    update_artifact(folder, {}, {"training_curve": curve})
    card.write(folder)
    return f"wrote the training curve of {len(stages)} stages into {folder / METADATA} and its card"


# ---------------------------------------------------------------- outlier detection


OOD_MAX_N = 10_000  # images per set


def _names(value, known, flag: str, what: str) -> list[str] | None:
    """A comma-separated string or a list of names, each one of ``known``; None when not given."""
    if value is None:
        return None
    chosen = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    for item in chosen:
        if item not in known:
            close = difflib.get_close_matches(item, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ZooError(f"{flag}: unknown {what} {item!r}{hint}; the {what}s are {', '.join(known)}")
    if not chosen:
        raise ZooError(f"{flag} names no {what}; the {what}s are {', '.join(known)} (comma-separated)")
    return list(dict.fromkeys(chosen))


def _background(opened: Opened, background, zoo_dir) -> Opened | None:
    """The likelihood ratio's background model: ``background``, else the best shipped one for the model (or None)."""
    if background is None:
        recipes = {name: load_recipe(folder / "recipe.toml") for name, folder in available(zoo_dir).items()
                   if (folder / "recipe.toml").is_file()}
        names = outliers.background_candidates(opened.recipe, recipes)
        if not names:
            return None
        background = names[0]
    chosen = open_model(background, zoo_dir)
    chosen.require(Capability.LIKELIHOOD, "has no likelihood to be a background model with")
    if not outliers.same_inputs(chosen.recipe.data, opened.recipe.data):
        raise ZooError(f"--background {chosen.name} sees images unlike {opened.name} (size, channels or value range); "
                       "a background model must take the same inputs")
    if chosen.recipe.data.perturb_rate == 0:
        _stderr(f"note: {chosen.name} was not trained on perturbed inputs (data.perturb_rate = 0)")
    return chosen


def ood(name, *, scores=None, sets=None, n=1000, k=100, typicality_sizes=outliers.TYPICALITY_SIZES, timesteps=10,
        seed=0, batch_size=100, background=None, output=None, histogram=None, data_dir=None, zoo_dir=None,
        progress=False) -> dict:
    """Outlier detection with an exported model: score its test split and other sets of images (``mnist``,
    ``fashion_mnist``, ``uniform``, ``constant``, ``inverted``; default all but its own dataset) with each score its
    family can give (``nll``, ``likelihood-ratio``, ``complexity``, ``typicality``, ``reconstruction``, ``denoising``;
    default all of them), and measure AUROC, AUPRC and FPR at 95% TPR of each set against the test split.

    Returns the report (see :mod:`zoo.eval.ood`); writes it as JSON to ``output`` and a histogram of the scores to
    ``histogram`` (a .png) when they are given.
    """
    n, k, timesteps = _positive(n, "-n"), _positive(k, "--k"), _positive(timesteps, "--timesteps")
    batch_size, seed = _positive(batch_size, "--batch-size"), int(seed)
    if not 10 <= n <= OOD_MAX_N:
        raise ZooError(f"-n must be between 10 and {OOD_MAX_N:,} images per set, got {n}")
    sizes = sorted({_positive(m, "--typicality-batch") for m in
                    (typicality_sizes.split(",") if isinstance(typicality_sizes, str) else typicality_sizes)
                    if str(m).strip()})
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise ZooError(f"--data-dir {data_dir} is not a folder; pass the folder that holds the datasets' .npz files")
    output = check_writable(output, "-o") if output else None
    if output and output.suffix.lower() != ".json":
        raise ZooError(f"-o {output}: the report is JSON; name a .json file")
    histogram = check_writable(histogram, "--histogram") if histogram else None
    if histogram and histogram.suffix.lower() != ".png":
        raise ZooError(f"--histogram {histogram}: name a .png file")
    chosen_scores = _names(scores, outliers.SCORES, "--scores", "score")
    chosen_sets = _names(sets, outliers.SETS, "--sets", "set")
    opened = open_model(name, zoo_dir)
    own = opened.recipe.data.dataset
    fits = outliers.applicable(opened.model)
    if not fits:
        raise ZooError(f"{opened.name} is a {opened.recipe.family}, which has none of the out-of-distribution scores "
                       "(they need a likelihood, reconstructions or a diffusion model)")
    for score in chosen_scores or ():
        if score not in fits:
            needs = outliers.SCORES[score].needs.value
            raise ZooError(f"{opened.name} is a {opened.recipe.family}, which does not declare `{needs}`: the score "
                           f"{score!r} does not apply; its scores are {', '.join(fits)}")
    if chosen_sets and own in chosen_sets:
        raise ZooError(f"--sets: {own} is {opened.name}'s own dataset (its test split is the in-distribution set); "
                       f"choose among {', '.join(s for s in outliers.SETS if s != own)}")
    chosen_sets = chosen_sets or [s for s in outliers.SETS if s != own]
    notes = []
    chosen = None
    wanted = chosen_scores or fits
    if "likelihood-ratio" in wanted:
        chosen = _background(opened, background, zoo_dir)
        if chosen is None:
            message = (f"the likelihood ratio needs a background model of {own} trained on perturbed inputs "
                       "(data.perturb_rate > 0), and none is shipped; train one with `zoo train` (Fashion-MNIST's "
                       "is recipes/vae_background_fashion_mnist.toml; copy it for other data) or pass --background NAME")
            if chosen_scores:
                raise ZooError(message)
            notes.append(f"no likelihood-ratio: {message}")
            wanted = [s for s in wanted if s != "likelihood-ratio"]
    elif background is not None:
        raise ZooError("--background is for the likelihood-ratio score; add it to --scores or drop --background")
    if "typicality" in wanted:
        too_big = [m for m in sizes if n // m < 2]
        if not sizes or too_big:
            raise ZooError(f"--typicality-batches {','.join(map(str, sizes))}: each batch size M needs at least 2 "
                           f"batches of the -n {n} images (M <= {n // 2})")
    if "denoising" in wanted and timesteps > opened.model.timesteps:
        raise ZooError(f"--timesteps must be at most {opened.name}'s T = {opened.model.timesteps}, got {timesteps}")
    result = outliers.evaluate_ood(opened.model, opened.recipe.data, scores=wanted, sets=chosen_sets, n=n, k=k,
                                   typicality_sizes=sizes, timesteps=timesteps, seed=seed, batch_size=batch_size,
                                   background=chosen.model if chosen else None, data_dir=data_dir,
                                   progress=(lambda label: progress_line(f"zoo ood: {label}")) if progress else None)
    report = {"model": opened.name, "family": opened.recipe.family,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "background": chosen.name if chosen else None, **result.report, "notes": notes,
              "hardware": runtime.hardware()}
    if histogram:
        known = catalogue.dataset(own)
        names = {outliers.IN: f"in: {known.title if known else own} test ({opened.name})",
                 **{key: f"out: {outliers.LABELS[key]}" for key in chosen_sets}}
        panels = {f"{row} [{report['scores'][row]['unit']}]": by_set for row, by_set in result.values.items()}
        write_histogram(panels, names, histogram)
        report["histogram"] = str(histogram)
    if output:
        write_atomic(output, json.dumps(report, indent=2) + "\n")
        report["report"] = str(output)
    return report


def format_ood(report: dict) -> str:
    """The detection table of an :func:`ood` report: one row per score, AUROC / AUPRC / FPR95 per set."""
    sets = list(next(iter(report["scores"].values()))["detection"]) if report["scores"] else []
    header = ["score", "unit", *[f"{s} AUROC/AUPRC/FPR95" for s in sets]]
    rows = [header]
    for row, entry in report["scores"].items():
        cells = [f"{d['auroc']:.3f} {d['auprc']:.3f} {d['fpr_at_95_tpr']:.3f}" for d in entry["detection"].values()]
        rows.append([row, entry["unit"], *cells])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    s = report["settings"]
    likelihood = any(outliers.SCORES[entry["score"]].needs is Capability.LIKELIHOOD for entry in report["scores"].values())
    lines.append(f"{report['model']}: n = {s['n']} per set (in: {report['sets']['in']['description']})"
                 + (f", k = {s['k']}" if likelihood else "") + f", seed {s['seed']}; higher scores flag "
                 "out-of-distribution inputs"
                 + (f"; background model {report['background']}" if report.get("background") else ""))
    lines += report.get("notes", [])
    written = [report[key] for key in ("report", "histogram") if key in report]
    if written:
        lines.append("wrote " + " and ".join(written))
    return "\n".join(lines)


def ood_command(name, **options) -> str:
    return format_ood(ood(name, progress=True, **options))


# ---------------------------------------------------------------- the catalogue


def list_models(markdown: bool = False, zoo_dir=None) -> str:
    found = available(zoo_dir)
    if markdown:
        return "\n".join(card.catalog(found))
    rows = []
    for name, folder in found.items():
        meta = read_metadata(folder)
        rows.append((name, meta.get("family", "?"), meta.get("dataset", {}).get("name", "?"),
                     f"{meta.get('parameters', {}).get('total', 0):,}", "; ".join(key_metrics(meta)[:2]) or "-"))
    if not rows:
        return "no exported models found (looked for folders with metadata.json under exported/)"
    header = ("name", "family", "dataset", "parameters", "key metric")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header] + rows)


def write_index(root="exported") -> str:
    """Write ``root/index.json`` (see :mod:`zoo.artifact.index`)."""
    root = Path(root)
    if not root.is_dir():
        raise ArtifactError(f"{root} is not a folder; pass the folder that holds the exported models, e.g. exported")
    if not any(root.glob(f"*/{METADATA}")):
        raise ArtifactError(f"{root} holds no exported model (no */{METADATA}); export one with zoo train or zoo export")
    path, updated = index.write_index(root)
    models = len(json.loads(path.read_text())["models"])
    note = f"; added capabilities and labels to the metadata of {', '.join(updated)}" if updated else ""
    return f"wrote {path}: {models} models{note}"


def write_card(name, *, show: bool = False, zoo_dir=None) -> str:
    folder = resolve(name, zoo_dir)
    return card.render(folder) if show else f"wrote {card.write(folder)}"


def info(name, *, files: bool = False, verify: bool = False, zoo_dir=None) -> tuple[str, bool]:
    """An artifact's metadata as JSON, with each file's check when ``files`` or ``verify``: (text, all files ok).

    ``verify`` also loads ``model.keras``, which catches damage a checksum cannot (a file re-exported by hand).
    """
    folder = resolve(name, zoo_dir)
    meta = read_metadata(folder)
    if not (files or verify):
        meta.pop("files", None)
        return json.dumps(meta, indent=2), True
    checks = check_files(folder)
    listed = meta.pop("files", {})
    meta["files"] = {relative: {"sha256": listed.get(relative), "check": status} for relative, status in checks.items()}
    ok = all(status in ("ok", "unlisted") for status in checks.values())
    if verify and ok and "model.keras" in checks:
        try:
            load_model(folder, verify=False)
            meta["files"]["model.keras"]["check"] = "ok, loads"
        except ArtifactError as exc:
            meta["files"]["model.keras"]["check"] = f"does not load: {exc}"
            ok = False
    bad = {relative: status for relative, status in checks.items() if status not in ("ok", "unlisted")}
    if ok:
        verdict = f"{folder.name}: all {len(listed)} listed files match their sha256"
    elif bad:
        verdict = f"{folder.name}: {len(bad)} file(s) fail the check: " + ", ".join(f"{f} {s}" for f, s in bad.items())
    else:
        verdict = f"{folder.name}: model.keras does not load"
    return json.dumps(meta, indent=2) + "\n" + verdict, ok
