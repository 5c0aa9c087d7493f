"""The feature networks sample-quality metrics are computed in: the zoo's own classifiers (``exported/classifier-*``,
loaded with their checksums verified) or, when its weights are on disk, Keras' InceptionV3."""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo import catalogue
from zoo.artifact.store import load_model, read_metadata
from zoo.errors import ArtifactError, EvaluationError
from zoo.models import Capability, GenerativeModel


INCEPTION_FILES = ("inception_v3_weights_tf_dim_ordering_tf_kernels.h5",  # with the ImageNet classifier
                   "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")  # pool features only


INCEPTION_SIZE = 299


class FeatureNetwork:
    """A network that turns images into features (and class probabilities, when it classifies).

    :meth:`embed` takes images in any value range and size and adapts them to the network's input:
    its value range, its channels, and its size (centre crop or pad for images that were padded to
    their size, ``resize="pad"``; bilinear resizing otherwise).
    """

    def __init__(self, name: str, function, image_shape, value_range, *, dataset: str = "", description: str = ""):
        self.name = name
        self.function = function  # float32 (N, *image_shape) -> (features, probabilities or None)
        self.image_shape = tuple(image_shape)
        self.value_range = tuple(value_range)
        self.dataset = dataset  # the dataset whose classes its probabilities are, or ""
        self.description = description

    def prepare(self, images, value_range=(0.0, 1.0), resize: str = "bilinear"):
        """Images (N, H, W, C) in ``value_range`` as this network's float32 input batch."""
        x = tf.convert_to_tensor(np.asarray(images, "float32"))
        if x.shape.rank == 3:
            x = x[..., None]
        if x.shape.rank != 4 or x.shape[-1] not in (1, 3):
            raise EvaluationError(f"images must be (N, H, W, 1 or 3) for the feature network, got {tuple(x.shape)}")
        low, high = value_range
        x = tf.clip_by_value((x - low) / (high - low), 0.0, 1.0)
        channels = self.image_shape[-1]
        if x.shape[-1] == 1 and channels == 3:
            x = tf.image.grayscale_to_rgb(x)
        elif x.shape[-1] == 3 and channels == 1:
            x = tf.image.rgb_to_grayscale(x)
        height, width = self.image_shape[:2]
        if tuple(x.shape[1:3]) != (height, width):
            x = (tf.image.resize_with_crop_or_pad(x, height, width) if resize == "pad"
                 else tf.image.resize(x, (height, width), method="bilinear"))
        low, high = self.value_range
        return x * (high - low) + low

    def embed(self, images, *, value_range=(0.0, 1.0), resize: str = "bilinear", batch_size: int = 250,
              progress=None) -> tuple[np.ndarray, np.ndarray | None]:
        """Features (N, D) and class probabilities (N, C) or None, ``batch_size`` images at a time."""
        features, probabilities = [], []
        total = len(images)
        for start in range(0, total, batch_size):
            f, p = self.function(self.prepare(images[start:start + batch_size], value_range, resize))
            features.append(np.asarray(f, "float32"))
            if p is not None:
                probabilities.append(np.asarray(p, "float32"))
            if progress:
                progress(min(start + batch_size, total), total)
        if not features:
            raise EvaluationError("no images to embed")
        return np.concatenate(features), (np.concatenate(probabilities) if probabilities else None)


def classifier_network(name_or_path, *, verify: bool = True) -> FeatureNetwork:
    """A zoo classifier artifact (family "classifier") as a feature network, checksums verified on load."""
    model = load_model(name_or_path, verify=verify)
    if not (isinstance(model, GenerativeModel) and model.can(Capability.CLASSIFY)):
        raise EvaluationError(f"{name_or_path} is a {getattr(model, 'family', type(model).__name__)} model, not a "
                              "classifier; feature networks are classifier artifacts (e.g. classifier-fashion-mnist)")
    meta = read_metadata(name_or_path)

    @tf.function(reduce_retracing=True)
    def function(x):
        features = model.body(x, training=False)
        return features, tf.nn.softmax(model.head(features))

    return FeatureNetwork(meta.get("name", str(name_or_path)), function, model.image_shape, model.value_range,
                          dataset=meta.get("dataset", {}).get("name", ""),
                          description=f"{meta.get('name')}: penultimate layer ({model.feature_dim} features) of "
                                      f"the zoo's {meta.get('dataset', {}).get('name')} classifier")


def inception_weights() -> Path:
    """The InceptionV3 ImageNet weights on this machine: $ZOO_INCEPTION_WEIGHTS, else Keras' cache.

    Nothing is downloaded here: evaluation must not depend on the network.
    """
    explicit = os.environ.get("ZOO_INCEPTION_WEIGHTS", "").strip()
    cache = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"
    if explicit:
        if Path(explicit).expanduser().is_file():
            return Path(explicit).expanduser()
        raise EvaluationError(f"ZOO_INCEPTION_WEIGHTS is {explicit}, which is not a file; point it at "
                              f"{INCEPTION_FILES[0]} (or the _notop file)")
    for name in INCEPTION_FILES:
        if (cache / name).is_file():
            return cache / name
    raise EvaluationError(
        f"InceptionV3 weights are not on this machine (looked for {' or '.join(INCEPTION_FILES)} in {cache}); "
        "fetch them once with `python -c \"import keras; keras.applications.InceptionV3()\"` (needs internet) or "
        "set ZOO_INCEPTION_WEIGHTS to the .h5 file, or use the zoo's own features: --features "
        + "|".join(name for name, entry in catalogue.DATASETS.items() if entry.features))


def inception_network() -> FeatureNetwork:
    """Keras' InceptionV3 at 299x299: 2048 pool features, and ImageNet probabilities when the weights have the top."""
    path = inception_weights()
    with_top = "notop" not in path.name
    try:
        base = keras.applications.InceptionV3(weights=str(path), include_top=with_top,
                                              pooling=None if with_top else "avg")
    except Exception as exc:  # a truncated download, the wrong file
        raise EvaluationError(f"could not load InceptionV3 weights from {path} ({type(exc).__name__}: "
                              f"{str(exc)[:200]}); delete the file and fetch it again") from None
    if with_top:
        network = keras.Model(base.input, [base.get_layer("avg_pool").output, base.output])
    else:
        network = base

    @tf.function(reduce_retracing=True)
    def function(x):
        if with_top:
            return tuple(network(x, training=False))
        return network(x, training=False), None

    return FeatureNetwork("inception_v3", function, (INCEPTION_SIZE, INCEPTION_SIZE, 3), (-1.0, 1.0),
                          description=f"InceptionV3 pool features (2048), ImageNet weights from {path}")


def feature_network(which: str) -> FeatureNetwork:
    """``fashion_mnist`` or ``mnist`` (the zoo's shipped classifiers), ``inception``, or a classifier artifact's name or path."""
    if which == "inception":
        return inception_network()
    known = catalogue.dataset(which)
    if known and known.features:
        try:
            return classifier_network(known.features)
        except ArtifactError as exc:
            raise EvaluationError(f"the {which} feature network is unavailable: {exc}. Train it with "
                                  f"`zoo train recipes/{known.features.replace('-', '_')}.toml --out "
                                  f"runs/{known.features}` and copy its export to exported/{known.features}") from None
    return classifier_network(which)


def default_features(dataset: str) -> str:
    """The feature network for a recipe's dataset, or a clear error when the zoo has none for it."""
    known = catalogue.dataset(dataset)
    if known and known.features:
        return dataset
    with_features = [name for name, entry in catalogue.DATASETS.items() if entry.features]
    raise EvaluationError(f"the zoo has no feature network for dataset '{dataset}'; pass --features inception "
                          f"(InceptionV3, weights needed locally), or one of {', '.join(with_features)}, or a classifier "
                          "artifact trained on this dataset with the classifier family")
