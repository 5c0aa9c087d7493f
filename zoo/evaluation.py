"""``zoo eval``: the metrics that apply to a model's family, measured against its dataset's test split.

What is measured, by what the model does:

* it samples (VAE, CVAE, the GANs): FID, KID, precision/recall and the classifier score of ``n`` samples
  against ``n`` test images; conditional models draw every class equally often, and the classifier's
  agreement with the requested label is reported. VAEs add the test negative ELBO and IWAE NLL
  (:func:`zoo.models.vae.evaluate_likelihood`).
* it translates between two domains (CycleGAN): the cycle-reconstruction L1 on the test images of both
  domains, and the metrics of each direction's translations against the target domain's test images.
* it reconstructs (autoencoder): reconstruction error and PSNR, and the metrics of the reconstructions
  against the originals.
* it classifies (the feature networks themselves): test accuracy.

Every sample-quality row sits beside the real-versus-real floor: ``n`` training images against the same
``n`` test images, through the same feature network. FID and KID are biased by the sample count, so the
floor and the count are always reported with a figure.

Hook for other samplers: a model may define ``evaluation_samplers()`` returning ``{row name: keyword
arguments of its sample()}``; each entry is scored as its own row (for a diffusion model: one per sampler
and step count, e.g. ``{"ddim_10": {"steps": 10}, ..., "ddpm_1000": {...}}``). Without it, one row
``samples`` calls ``sample(n, seed=...)`` as it is.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from zoo import data
from zoo import metrics as M
from zoo.errors import EvaluationError

SAMPLE_SEED_STRIDE = 10_000  # batch i of samples uses seed * stride + i
COLUMNS = (("fid", "FID"), ("kid", "KID"), ("precision", "precision"), ("recall", "recall"),
           ("classifier_score", "class. score"), ("label_accuracy", "label acc."))


class Evaluator:
    """One evaluation run: the options, the feature network, and helpers shared by the families."""

    def __init__(self, model, recipe, *, features: str | None = None, num_samples: int = 10_000, data_dir=None,
                 seed: int = 0, k: int = 1000, batch_size: int = 250, kid_subsets: int = 100, progress: bool = False):
        if num_samples < 4:
            raise EvaluationError(f"--num-samples must be at least 4 (KID and precision/recall need a few), got {num_samples}")
        if k < 1:
            raise EvaluationError(f"--k (importance samples) must be at least 1, got {k}")
        if batch_size < 1:
            raise EvaluationError(f"--batch-size must be at least 1, got {batch_size}")
        self.model, self.recipe = model, recipe
        self.features_name = features
        self.num_samples, self.data_dir, self.seed = int(num_samples), data_dir, int(seed)
        self.k, self.batch_size, self.kid_subsets, self.show_progress = int(k), int(batch_size), int(kid_subsets), progress
        self._network = None
        self.notes: list[str] = []

    # ------------------------------------------------------------ helpers

    def progress(self, label: str):
        return M.progress_line(f"zoo eval: {label}") if self.show_progress else None

    @property
    def network(self) -> M.FeatureNetwork:
        if self._network is None:
            self._network = M.feature_network(self.features_name or M.default_features(self.recipe.data.dataset))
        return self._network

    def embed(self, images, label: str, cfg=None):
        cfg = cfg or self.recipe.data
        return self.network.embed(images, value_range=cfg.value_range, resize=cfg.resize, batch_size=self.batch_size,
                                  progress=self.progress(f"features of {label}"))

    def real_images(self, cfg, split: str, n: int, seed: int):
        """``n`` images of ``split`` (all when it is smaller), a seeded random subset, preprocessed; (images, labels, description)."""
        source = data.load_split(cfg, split, self.data_dir)
        if not source.in_memory:
            images, labels = data.example_batch(cfg, n, data_dir=self.data_dir, split=split)
            return images, labels, source.description
        count = min(n, source.size)
        index = np.sort(np.random.default_rng(seed).choice(source.size, count, replace=False))
        images = np.concatenate([data.preprocess(source.images[index[i:i + 1000]], cfg).numpy()
                                 for i in range(0, count, 1000)])
        labels = None if source.labels is None else source.labels[index].astype("int32")
        return images, labels, source.description

    def count(self, *sizes) -> int:
        n = min(self.num_samples, *sizes)
        if n < self.num_samples:
            self.notes.append(f"{self.num_samples} samples asked for, {n} used: the smallest split has {min(sizes)} images")
        if n < 4:
            raise EvaluationError(f"only {n} images to compare; the metrics need at least 4 per set")
        return n

    def compare(self, name: str, against: str, real_features, real_probabilities, features, probabilities,
                labels=None) -> dict:
        """One table row: the metrics of ``features`` (generated, or a real stand-in) against the real ones."""
        kid, kid_std = M.kernel_distance(real_features, features, subsets=self.kid_subsets, seed=self.seed)
        precision, recall = M.precision_recall(real_features, features)
        row = {"name": name, "against": against, "count": int(len(features)),
               "fid": M.frechet_distance(real_features, features), "kid": kid, "kid_std": kid_std,
               "precision": precision, "recall": recall}
        if probabilities is not None:
            row["classifier_score"], row["classifier_score_std"] = M.classifier_score(probabilities)
            if labels is not None and self.network.dataset == self.recipe.data.dataset:
                row["label_accuracy"] = float(np.mean(np.argmax(probabilities, axis=1) == labels))
        return row

    def floor(self, name: str, cfg, n: int, test_features, test_probabilities, against: str) -> dict:
        """The real-versus-real row: ``n`` training images against the ``n`` test images."""
        train, _, description = self.real_images(cfg, cfg.split, n, self.seed + 1)
        features, probabilities = self.embed(train, f"{cfg.split} images, for the floor", cfg)
        row = self.compare(name, against, test_features, test_probabilities, features, probabilities)
        row["images"] = description
        return row

    # ------------------------------------------------------------ families

    def run(self) -> dict:
        model = self.model
        if getattr(model, "family", "") == "classifier":
            kind, result = "classification", self.classification()
            return self._report(kind, result)
        self.network  # load (and verify) the feature network before the long work, so a missing one fails at once
        if getattr(model, "two_domains", False) and callable(getattr(model, "translate", None)):
            kind, result = "translation", self.translation()
        elif callable(getattr(model, "sample", None)):
            kind, result = "samples", self.samples()
        elif callable(getattr(model, "reconstruct", None)):
            kind, result = "reconstruction", self.reconstruction()
        else:
            raise EvaluationError(f"zoo eval does not know how to evaluate a {type(model).__name__}: it neither "
                                  "samples, translates, reconstructs nor classifies")
        return self._report(kind, result)

    def _report(self, kind: str, result: dict) -> dict:
        model = self.model
        report = {"family": getattr(model, "family", ""), "kind": kind,
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seed": self.seed, **result}
        if self._network is not None:
            report["features"] = {"network": self.network.name, "description": self.network.description}
        report["notes"] = self.notes
        return report

    def classification(self) -> dict:
        cfg = self.recipe.data
        images, labels, description = self.real_images(cfg, cfg.eval_split, 10**9, self.seed)
        if labels is None:
            raise EvaluationError(f"{description} has no labels to score a classifier against")
        probabilities = []
        report = self.progress("classifying the test split")
        for start in range(0, len(images), self.batch_size):
            probabilities.append(self.model.predict_proba(images[start:start + self.batch_size]).numpy())
            if report:
                report(min(start + self.batch_size, len(images)), len(images))
        p = np.concatenate(probabilities)
        correct = np.argmax(p, axis=1) == labels
        loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(p)), labels], 1e-12))))
        per_class = {int(c): float(np.mean(correct[labels == c])) for c in np.unique(labels)}
        accuracy = float(np.mean(correct))
        return {"num_samples": int(len(images)), "reference": description,
                "classification": {"test_accuracy": accuracy, "test_loss": loss, "per_class_accuracy": per_class},
                "headline": {"test_accuracy": accuracy, "test_loss": loss}}

    def _settings(self) -> dict:
        hook = getattr(self.model, "evaluation_samplers", None)
        settings = hook() if callable(hook) else {"samples": {}}
        if not settings:
            raise EvaluationError(f"{type(self.model).__name__}.evaluation_samplers() returned no sampler settings")
        return settings

    def draw(self, n: int, options: dict, label: str):
        """``n`` samples in batches; a conditional model draws the classes in turn (equally often). (images, labels)."""
        classes = int(getattr(self.model, "num_classes", 0) or 0)
        labels = (np.arange(n) % classes).astype("int32") if classes else None
        report = self.progress(f"sampling ({label})")
        images = []
        for index, start in enumerate(range(0, n, self.batch_size)):
            size = min(self.batch_size, n - start)
            kwargs = dict(options)
            if labels is not None:
                kwargs["labels"] = labels[start:start + size]
            images.append(np.asarray(self.model.sample(size, seed=self.seed * SAMPLE_SEED_STRIDE + index, **kwargs),
                                     "float32"))
            if report:
                report(start + size, n)
        return np.concatenate(images), labels

    def samples(self) -> dict:
        cfg = self.recipe.data
        n = self.count(data.load_split(cfg, cfg.eval_split, self.data_dir).size,
                       data.load_split(cfg, cfg.split, self.data_dir).size)
        test, test_labels, description = self.real_images(cfg, cfg.eval_split, n, self.seed)
        test_features, test_probabilities = self.embed(test, f"{cfg.eval_split} images")
        rows, capped = [], {}
        for name, options in self._settings().items():
            options = dict(options)
            m = min(n, int(options.pop("max_samples", n)))  # a slow sampler's row may use fewer samples
            images, labels = self.draw(m, options, name)
            features, probabilities = self.embed(images, name)
            rows.append(self.compare(name, f"{cfg.eval_split} split", test_features[:m], test_probabilities[:m],
                                     features, probabilities, labels))
            if m < n:
                capped[name] = m
                self.notes.append(f"{name} uses {m} samples (a slow sampler); compare it with the floor at n = {m}")
        floor = self.floor(f"real floor ({cfg.split} vs {cfg.eval_split})", cfg, n, test_features, test_probabilities,
                           f"{cfg.eval_split} split")
        floors = {m: self.floor(f"real floor ({cfg.split} vs {cfg.eval_split}, n = {m})", cfg, m, test_features[:m],
                                test_probabilities[:m], f"{cfg.eval_split} split") for m in sorted(set(capped.values()))}
        out = {"num_samples": n, "reference": description, "rows": rows + [floor, *floors.values()]}
        headline = {}
        for row in rows:
            suffix = "" if len(rows) == 1 else f"_{row['name']}"
            headline[f"fid{suffix}"] = row["fid"]
            if len(rows) == 1:
                headline["fid_floor"] = floor["fid"]
            headline.update({f"{key}{suffix}": row[key] for key in ("kid", "precision", "recall", "classifier_score",
                                                                    "label_accuracy") if key in row})
        if len(rows) > 1:
            headline["fid_floor"] = floor["fid"]
        headline.update({f"fid_floor_{name}": floors[m]["fid"] for name, m in capped.items()})
        headline["kid_floor"] = floor["kid"]
        if callable(getattr(self.model, "log_likelihood", None)):
            out["likelihood"] = self.likelihood(test, test_labels)
            headline.update({key: out["likelihood"][key] for key in ("iwae_nll_nats", "neg_elbo_nats")})
        out["headline"] = headline
        return out

    def likelihood(self, images, labels) -> dict:
        from zoo.models.vae import evaluate_likelihood

        conditional = bool(getattr(self.model, "conditional_classes", 0))
        result = evaluate_likelihood(self.model, images, labels if conditional else None, k=self.k, batch_size=100,
                                     seed=self.seed, progress=self.progress(f"IWAE bound, k={self.k}"))
        return result

    def reconstruction(self) -> dict:
        cfg = self.recipe.data
        n = self.count(data.load_split(cfg, cfg.eval_split, self.data_dir).size,
                       data.load_split(cfg, cfg.split, self.data_dir).size)
        test, _, description = self.real_images(cfg, cfg.eval_split, n, self.seed)
        report = self.progress("reconstructing")
        rebuilt = []
        for start in range(0, n, self.batch_size):
            rebuilt.append(np.asarray(self.model.reconstruct(test[start:start + self.batch_size]), "float32"))
            if report:
                report(min(start + self.batch_size, n), n)
        rebuilt = np.concatenate(rebuilt)
        low, high = cfg.value_range
        mse = float(np.mean((rebuilt - test) ** 2))
        errors = {"mse": mse, "mae": float(np.mean(np.abs(rebuilt - test))),
                  "psnr_db": float(10 * math.log10((high - low) ** 2 / max(mse, 1e-12))),
                  "value_range": [low, high]}
        if (low, high) == (0.0, 1.0):
            clipped = np.clip(rebuilt, 1e-7, 1 - 1e-7)
            errors["bce_per_pixel"] = float(-np.mean(test * np.log(clipped) + (1 - test) * np.log(1 - clipped)))
        test_features, test_probabilities = self.embed(test, f"{cfg.eval_split} images")
        features, probabilities = self.embed(rebuilt, "reconstructions")
        row = self.compare("reconstructions", f"their {cfg.eval_split} originals", test_features, test_probabilities,
                           features, probabilities)
        floor = self.floor(f"real floor ({cfg.split} vs {cfg.eval_split})", cfg, n, test_features, test_probabilities,
                           f"{cfg.eval_split} split")
        headline = {"fid_reconstructions": row["fid"], "fid_floor": floor["fid"], "mse": mse, "psnr_db": errors["psnr_db"]}
        return {"num_samples": n, "reference": description, "reconstruction": errors, "rows": [row, floor],
                "headline": headline}

    def translation(self) -> dict:
        domains = data.domain_configs(self.recipe.data)
        if domains is None:
            raise EvaluationError("this translation model's recipe has no [data.domain_a] and [data.domain_b]")
        sizes = [data.load_split(c, split, self.data_dir).size for c in domains for split in (c.eval_split, c.split)]
        n = self.count(*sizes)
        tests = [self.real_images(c, c.eval_split, n, self.seed) for c in domains]
        embedded = [self.embed(images, f"domain {name} {c.eval_split} images", c)
                    for (images, _, _), name, c in zip(tests, "AB", domains)]
        rows, floors, cycle, headline = [], [], {}, {}
        for source, target, direction, reverse in ((0, 1, "a2b", "b2a"), (1, 0, "b2a", "a2b")):
            images = tests[source][0]
            report = self.progress(f"translating {direction} and back")
            translated, back = [], []
            for start in range(0, n, self.batch_size):
                out = np.asarray(self.model.translate(images[start:start + self.batch_size], direction), "float32")
                translated.append(out)
                back.append(np.asarray(self.model.translate(out, reverse), "float32"))
                if report:
                    report(min(start + self.batch_size, n), n)
            translated, back = np.concatenate(translated), np.concatenate(back)
            name = "AB"[source]
            cycle[f"cycle_l1_{name.lower()}"] = float(np.mean(np.abs(back - images)))
            features, probabilities = self.embed(translated, f"{direction} translations", domains[target])
            rows.append(self.compare(f"{direction}: translated {name}", f"domain {'AB'[target]} {domains[target].eval_split}",
                                     *embedded[target], features, probabilities))
            headline[f"fid_{direction}"] = rows[-1]["fid"]
        for index, c in enumerate(domains):
            name = "AB"[index]
            floors.append(self.floor(f"real floor {name} ({c.split} vs {c.eval_split})", c, n, *embedded[index],
                                     f"domain {name} {c.eval_split}"))
        headline["fid_floor_b"], headline["fid_floor_a"] = floors[1]["fid"], floors[0]["fid"]
        headline.update(cycle)
        cycle["value_range"] = list(self.recipe.data.value_range)
        return {"num_samples": n, "reference": "; ".join(t[2] for t in tests), "cycle": cycle,
                "rows": rows + floors, "headline": headline}


def evaluate(model, recipe, **options) -> dict:
    """The metrics that apply to ``model`` (trained by ``recipe``), as a JSON-ready report; see :class:`Evaluator`."""
    return Evaluator(model, recipe, **options).run()


def evaluate_artifact(name_or_path, *, write: bool = True, **options) -> tuple[dict, Path]:
    """Evaluate an exported model (checksums verified on load); with ``write``, save ``metrics.json`` into the
    artifact and its headline figures into ``metadata.json`` (whose sha256 list then includes metrics.json)."""
    from zoo.artifacts import load_model, resolve, update_artifact
    from zoo.config import load_recipe

    folder = resolve(name_or_path)
    model = load_model(folder)
    recipe = load_recipe(folder / "recipe.toml")
    report = {"model": recipe.name, **evaluate(model, recipe, **options)}  # the model's name, wherever its folder is
    if write:
        summary = {"file": "metrics.json", "created": report["created"], "num_samples": report["num_samples"]}
        if "features" in report:
            summary["features"] = report["features"]["network"]
        update_artifact(folder, {"metrics.json": json.dumps(report, indent=2) + "\n"},
                        {"metrics": report["headline"], "evaluation": summary})
        from zoo import model_card  # the card shows the new figures

        model_card.write(folder)
    return report, folder


CURVE_SKIP = ("kid", "fid_floor", "kid_floor", "neg_elbo_nats")  # headline figures a training curve leaves out


def training_curve(stages) -> list[dict]:
    """One row per evaluated export of a run (at several epochs of it): epochs, training seconds and headline figures.

    Every stage must have been through ``zoo eval`` and share the recipe, apart from its epoch count.
    """
    from zoo.artifacts import read_metadata, resolve

    rows, first = [], None
    for stage in stages:
        folder = resolve(stage)
        meta = read_metadata(folder)
        if not meta.get("metrics"):
            raise EvaluationError(f"{folder} has no evaluation yet: run `zoo eval {stage}` first")
        recipe = _run_recipe(meta)
        if first is None:
            first = (folder, recipe, meta["evaluation"].get("num_samples"))
        elif recipe != first[1]:
            raise EvaluationError(f"{folder} was trained by another recipe than {first[0]} (beyond train.epochs): "
                                  "a training curve takes exports of one run")
        elif meta["evaluation"].get("num_samples") != first[2]:
            raise EvaluationError(f"{folder} was evaluated on {meta['evaluation'].get('num_samples')} images per set "
                                  f"and {first[0]} on {first[2]}: evaluate every stage with the same --num-samples")
        figures = {k: v for k, v in meta["metrics"].items() if not k.startswith(CURVE_SKIP)}
        rows.append({"epochs": meta["training"]["epochs"], "train_seconds": meta["training"]["train_seconds"],
                     "num_samples": meta["evaluation"].get("num_samples"), **figures})
    return sorted(rows, key=lambda row: row["epochs"])


def _run_recipe(meta: dict) -> dict:
    """An artifact's recipe without ``train.epochs``: what exports of one run at several epochs share."""
    return {**meta["recipe"], "train": {k: v for k, v in meta["recipe"].get("train", {}).items() if k != "epochs"}}


def record_training_curve(name_or_path, stages) -> Path:
    """Write :func:`training_curve` of ``stages`` into an artifact's metadata.json and card.

    The artifact must come from the same run (its recipe equal to the stages' apart from the epochs).
    """
    from zoo import model_card
    from zoo.artifacts import read_metadata, resolve, update_artifact

    curve = training_curve(stages)
    folder = resolve(name_or_path)
    if _run_recipe(read_metadata(folder)) != _run_recipe(read_metadata(resolve(stages[0]))):
        raise EvaluationError(f"{folder} was trained by another recipe than the stages (beyond train.epochs): "
                              "record a run's curve in the artifact that run made")
    folder = update_artifact(folder, {}, {"training_curve": curve})
    model_card.write(folder)
    return folder


def _number(value, digits: int = 4) -> str:
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else "-"


def report_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """The comparison rows of a report as (header, cells): one row per sample set, the floor last."""
    rows = report.get("rows", [])
    present = [(key, title) for key, title in COLUMNS if any(key in row for row in rows)]
    header = ["", "vs", "n"] + [title for _, title in present]
    table = []
    for row in rows:
        cells = [row["name"], row["against"], str(row["count"])]
        for key, _ in present:
            if key == "kid" and key in row:
                cells.append(f"{row['kid']:.4f} ± {row['kid_std']:.4f}")
            elif key == "classifier_score" and key in row:
                cells.append(f"{row[key]:.3f} ± {row['classifier_score_std']:.3f}")
            else:
                cells.append(_number(row.get(key)))
        table.append(cells)
    return header, table


def report_figures(report: dict) -> dict[str, dict[str, float]]:
    """The family's other figures (likelihood, reconstruction, cycle, classification), numbers only."""
    return {section: {k: v for k, v in report[section].items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            for section in ("likelihood", "reconstruction", "cycle", "classification") if section in report}


def format_report(report: dict) -> str:
    """The report as a plain-text table (one row per comparison) and the family's other figures."""
    per = "test images" if report.get("kind") == "classification" else "images per set"
    lines = [f"{report.get('model', '')} ({report['family']}): {report['num_samples']} {per}"
             + (f", features {report['features']['network']}" if "features" in report else "")]
    header, table = report_table(report)
    if table:
        widths = [max(len(r[i]) for r in table + [header]) for i in range(len(header))]
        for cells in [header] + table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    for section, values in report_figures(report).items():
        lines.append(f"{section}: " + ", ".join(f"{k} {_number(v, 6)}" for k, v in values.items()))
    lines.extend(f"note: {note}" for note in report.get("notes", []))
    return "\n".join(lines)
