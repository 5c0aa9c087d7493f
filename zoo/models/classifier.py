"""A small convolutional image classifier: the feature network behind ``zoo eval``.

Sample-quality metrics compare images through a network's features. Published figures use
InceptionV3, which was trained on ImageNet photographs, not on 28x28 grey clothes or digits; genzoo
trains its own small classifier per dataset instead, with a recipe like any model. Its
penultimate layer (``features``) feeds the Frechet distance, KID and precision/recall, and its
softmax (``probabilities``) the classifier score.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from zoo.schema import spec
from zoo.errors import RecipeError
from zoo.models.base import Capability, Endpoint, GenerativeModel, TensorInfo, apply_gradients, replica_rows
from zoo.models.registry import register_family


@dataclass(frozen=True)
class ClassifierConfig:
    family: str = spec("classifier")
    num_classes: int = spec(10, min=2, help="the labels are 0 .. num_classes - 1")
    filters: tuple[int, ...] = spec((32, 64, 64), min=1,
                                    help="one stage per width: 3x3 convolutions, batch norm, ReLU; a 2x2 max pool "
                                         "between stages, global average pooling after the last")
    convs_per_stage: int = spec(1, min=1, help="3x3 convolutions in each stage")
    feature_dim: int = spec(128, min=1, help="width of the penultimate (feature) layer")
    dropout: float = spec(0.3, min=0.0, max=0.9, help="dropout rate on the features while training")
    schedule: str = spec("cosine", choices=("constant", "cosine"),
                         help="learning rate: the optimizer's number throughout, or cosine decay from it to 0 over the run")


def feature_body(image_shape, filters, convs_per_stage: int, feature_dim: int, *, dtype=None,
                 name: str = "features") -> keras.Model:
    """Images -> ``feature_dim`` ReLU features: conv stages, global average pooling, one dense layer."""
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for stage, width in enumerate(filters):
        if stage:
            x = layers.MaxPooling2D(2, dtype=dtype, name=f"{name}_pool{stage}")(x)
        for i in range(convs_per_stage):
            x = layers.Conv2D(width, 3, padding="same", use_bias=False, dtype=dtype, name=f"{name}_conv{stage}_{i}")(x)
            # Momentum 0.9 (not 0.99): the moving statistics catch up within an epoch of a small dataset.
            x = layers.BatchNormalization(momentum=0.9, synchronized=True, dtype=dtype, name=f"{name}_norm{stage}_{i}")(x)
            x = layers.ReLU(dtype=dtype, name=f"{name}_relu{stage}_{i}")(x)
    x = layers.GlobalAveragePooling2D(dtype=dtype, name=f"{name}_gap")(x)
    out = layers.Dense(feature_dim, activation="relu", dtype="float32", name=f"{name}_out")(x)
    return keras.Model(images, out, name=name)


@register_family
class Classifier(GenerativeModel):
    """Softmax classifier trained with cross-entropy; ``features`` is its penultimate layer.

    It does not take labels as inputs, so ``num_classes`` (the base class's "conditional on
    labels") stays 0; the number of classes it predicts is ``output_classes``.
    """

    family = "classifier"
    capabilities = frozenset({Capability.CLASSIFY})
    config_class = ClassifierConfig
    preview_file = "examples.png"
    limitations = (
        "It is a feature network for the zoo's metrics: FIDs from its features are not comparable with Inception-based FIDs in papers.",
        'It knows only the classes of its dataset and gives one of them for any input, however unlike them it is.',
    )

    def __init__(self, image_shape=(28, 28, 1), num_classes=10, filters=(32, 64, 64), convs_per_stage=1,
                 feature_dim=128, dropout=0.3, value_range=(0.0, 1.0), seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.output_classes = int(num_classes)
        self.filters, self.convs_per_stage = tuple(filters), int(convs_per_stage)
        self.feature_dim, self.dropout = int(feature_dim), float(dropout)
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = int(seed)
        self.body = feature_body(self.image_shape, self.filters, self.convs_per_stage, self.feature_dim,
                                 dtype=self.dtype_policy.name)
        self.head = layers.Dense(self.output_classes, dtype="float32", name="logits")
        self.head.build((None, self.feature_dim))
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.built = True  # body and head are built above

    @classmethod
    def check_recipe(cls, recipe) -> None:
        if not recipe.data.labels:
            raise RecipeError(f"family \"classifier\" in {recipe.source or 'the recipe'} learns from labels: "
                              "set data.labels = true")

    @classmethod
    def from_recipe(cls, recipe) -> "Classifier":
        m, d = recipe.model, recipe.data
        return cls(image_shape=(*d.image_size, d.channels), num_classes=m.num_classes, filters=m.filters,
                   convs_per_stage=m.convs_per_stage, feature_dim=m.feature_dim, dropout=m.dropout,
                   value_range=d.value_range, seed=recipe.train.seed, name=recipe.name.replace("-", "_"))

    def learning_rate(self, recipe, role: str, steps_per_epoch: int):
        """The recipe's rate; with ``schedule = "cosine"`` decaying to 0 by the last step of the run."""
        rate = recipe.optimizer[role].learning_rate
        if recipe.model.schedule != "cosine":
            return rate
        steps = steps_per_epoch or recipe.train.steps_per_epoch
        if steps <= 0:
            raise RecipeError("the classifier's cosine schedule needs the steps per epoch: build the model through "
                              "zoo.train (which knows the data), or set train.steps_per_epoch")
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps * recipe.train.epochs)

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), num_classes=self.output_classes, filters=list(self.filters),
                      convs_per_stage=self.convs_per_stage, feature_dim=self.feature_dim, dropout=self.dropout,
                      value_range=list(self.value_range), seed=self.seed)
        return config

    # ------------------------------------------------------------ the model

    def call(self, images, training=False):
        """Class logits, float32 ``(N, output_classes)``."""
        return self.head(self.body(images, training=training))

    def _step(self, data, training: bool, seed=None):
        images, labels = data
        features = self.body(images, training=training)
        if training and self.dropout > 0:
            uniform = replica_rows(lambda m: tf.random.stateless_uniform((m, features.shape[-1]), seed=seed),
                                   tf.shape(features)[0])
            features = tf.where(uniform >= self.dropout, features / (1.0 - self.dropout), 0.0)  # inverted dropout
        logits = self.head(features)
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, "int32"), logits=logits)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), tf.cast(labels, "int32")), "float32")
        return per_example, correct

    def train_step(self, data):
        with tf.GradientTape() as tape:
            # Dropout noise keyed to the saved step count, so a resumed run draws what an uninterrupted one would.
            per_example, correct = self._step(data, True, self.step_seed(0, self.optimizer.iterations))
            loss = tf.nn.compute_average_loss(per_example)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        apply_gradients(self.optimizer, gradients, self.trainable_variables)
        self.loss_tracker.update_state(per_example)
        self.accuracy_tracker.update_state(correct)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        per_example, correct = self._step(data, False)
        self.loss_tracker.update_state(per_example)
        self.accuracy_tracker.update_state(correct)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    # ------------------------------------------------------------ user API

    def features(self, images) -> tf.Tensor:
        """Penultimate-layer features ``(N, feature_dim)`` of images in the model's value range."""
        return self.body(self.check_images(images, self.image_shape), training=False)

    def predict_proba(self, images) -> tf.Tensor:
        """Class probabilities ``(N, output_classes)`` (softmax of the logits)."""
        return tf.nn.softmax(self.call(self.check_images(images, self.image_shape)))

    def classify(self, images) -> tuple[tf.Tensor, tf.Tensor]:
        """Features and class probabilities in one pass: ``(features, probabilities)``."""
        features = self.body(self.check_images(images, self.image_shape), training=False)
        return features, tf.nn.softmax(self.head(features))

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        images = TensorInfo("images", (None,) + self.image_shape, value_range=self.value_range,
                            description=f"images scaled to {list(self.value_range)}")
        probabilities = TensorInfo("probabilities", (None, self.output_classes), kind="latent",
                                   description="softmax class probabilities")
        features = TensorInfo("features", (None, self.feature_dim), kind="latent",
                              description="penultimate-layer features (what zoo eval compares)")

        def classify(images):
            out = self.body(images, training=False)
            return {"probabilities": tf.nn.softmax(self.head(out)), "features": out}

        return [Endpoint("classify", classify, (images,), (probabilities, features), onnx="classifier",
                         description="images -> class probabilities and features")]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        return {"images": np.asarray(images, "float32")}

    def preview(self, images, labels=None) -> np.ndarray:
        """The batch ordered by predicted class (ties keep their order), to eyeball what each class collects."""
        images = np.asarray(images, "float32")
        predicted = np.argmax(self.predict_proba(images).numpy(), axis=-1)
        return images[np.argsort(predicted, kind="stable")]
