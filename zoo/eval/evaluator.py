"""What every evaluation shares: the options, the feature network, real images, and one comparison row."""

from __future__ import annotations

import numpy as np

from zoo import data
from zoo.eval import metrics as M
from zoo.eval.features import FeatureNetwork, default_features, feature_network
from zoo.errors import EvaluationError
from zoo.models import Capability
from zoo.progress import progress_line

SAMPLE_SEED_STRIDE = 10_000  # batch i of samples uses seed * stride + i


class Evaluator:
    """One evaluation run: the model, its recipe, the options, the feature network, and helpers."""

    def __init__(self, model, recipe, *, features: str | None = None, num_samples: int = 10_000, data_dir=None,
                 seed: int = 0, k: int = 1000, batch_size: int = 250, kid_subsets: int = 100, progress: bool = False,
                 samplers=()):
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
        self.samplers = tuple(samplers or ())
        self._network = None
        self.notes: list[str] = []

    def progress(self, label: str):
        return progress_line(f"zoo eval: {label}") if self.show_progress else None

    @property
    def has_network(self) -> bool:
        """Whether the feature network was loaded (a classification needs none)."""
        return self._network is not None

    @property
    def network(self) -> FeatureNetwork:
        if self._network is None:
            self._network = feature_network(self.features_name or default_features(self.recipe.data.dataset))
        return self._network

    def embed(self, images, label: str, cfg=None):
        cfg = cfg or self.recipe.data
        return self.network.embed(images, value_range=cfg.value_range, resize=cfg.resize, batch_size=self.batch_size,
                                  progress=self.progress(f"features of {label}"))

    def real_images(self, cfg, split: str, n: int, seed: int):
        """``n`` images of ``split`` (all when it is smaller), a seeded random subset, preprocessed; (images, labels, description)."""
        return data.labelled_images(cfg, split, n, seed=seed, data_dir=self.data_dir)

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

    def settings(self) -> dict:
        """The sample sets to score: the family's ``evaluation_samplers``, or the ones ``samplers`` names."""
        settings = self.model.evaluation_samplers()
        if not settings:
            raise EvaluationError(f"{type(self.model).__name__}.evaluation_samplers() returned no sampler settings")
        unknown = [name for name in self.samplers if name not in settings]
        if unknown:
            raise EvaluationError(f"--samplers {', '.join(unknown)}: {self.model.family} has the rows "
                                  f"{', '.join(settings)}")
        return {name: settings[name] for name in self.samplers} if self.samplers else settings

    def draw(self, n: int, options: dict, label: str):
        """``n`` samples in batches; a conditional model draws the classes in turn (equally often). (images, labels)."""
        classes = int(self.model.num_classes) if self.model.can(Capability.CONDITIONAL) else 0
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
