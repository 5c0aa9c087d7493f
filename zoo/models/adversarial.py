"""What the GAN families share: a generator, a discriminator (or critic), two optimizers and the user API.

An :class:`AdversarialModel` is a ``keras.Model`` holding two functional networks from
:mod:`zoo.nets.blocks` and one optimizer for each, as the attributes ``generator_optimizer`` and
``discriminator_optimizer`` (the recipe's ``[optimizer.generator]`` and
``[optimizer.discriminator]``), compiled, loss-scaled under mixed_float16 and saved by
:class:`~zoo.models.base.MultiOptimizerModel`.

One ``train_step`` is: ``critic_batches`` discriminator updates (DCGAN one; WGAN-GP ``n_critic``,
each on its own slice of the batch), then one generator update. With ``ema_decay > 0`` an
exponential moving average of the generator's weights follows the updates and is the network
that generates (samples, previews, exports): averaging damps the oscillation of adversarial
training and lowers FID at no training cost (Yazici et al. 2019). The noise of a step (latent
codes, interpolation weights) is drawn statelessly from ``(seed, train_steps)``, and
``train_steps`` is a saved variable, so a run resumed from a checkpoint draws the same noise as
an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf

from zoo.nets import blocks
from zoo.schema import spec
from zoo.errors import InputShapeError, RecipeError
from zoo.models.base import (IMAGE_POSTPROCESS, Capability, Endpoint, MultiOptimizerModel, TensorInfo, average_decay,
                             apply_gradients, copy_weights, replica_rows, update_average)

VALUE_RANGE = (-1.0, 1.0)  # the generator ends in tanh
PREVIEW_SEED = 0  # the fixed latent batch of every preview grid, so epochs can be compared
SALT_EVAL = 1_000  # noise stream of test_step (train steps use salts 0 .. 2 * n_critic)


@dataclass(frozen=True)
class GANConfig:
    """The ``[model]`` fields every GAN family has."""

    family: str = spec("")
    latent_dim: int = spec(64, min=1, help="size of the latent code z ~ N(0, I)")
    generator_filters: tuple[int, ...] = spec((128, 64), min=1,
                                              help="generator widths, coarsest first; each stage doubles the "
                                                   "resolution, so image_size must be divisible by 2^len")
    discriminator_filters: tuple[int, ...] = spec((64, 128), min=1,
                                                  help="discriminator (critic) widths of its stride-2 convolutions")
    ema_decay: float = spec(0.0, min=0.0, max=0.99999,
                            help="decay of the moving average of the generator's weights that generates "
                                 "(0: the trained generator itself)")


def slerp(z_a, z_b, steps: int) -> np.ndarray:
    """``steps`` points from ``z_a`` to ``z_b`` along the great circle (White 2016), as float32 ``(steps, dim)``.

    Gaussian latents concentrate near a sphere, where a straight line would pass through
    atypically short codes. Nearly parallel vectors fall back to a straight line.
    """
    a, b = np.asarray(z_a, "float64").reshape(-1), np.asarray(z_b, "float64").reshape(-1)
    if a.shape != b.shape:
        raise InputShapeError(f"z_a and z_b must have the same shape, got {a.shape} and {b.shape}")
    t = np.linspace(0.0, 1.0, int(steps))[:, None]
    cosine = np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return ((1.0 - t) * a + t * b).astype("float32")
    return ((np.sin((1.0 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)).astype("float32")


def loss_scale(optimizer) -> tf.Tensor:
    """The factor ``optimizer.scale_loss`` multiplies by (a LossScaleOptimizer's dynamic scale, else 1)."""
    return tf.cast(optimizer.scale_loss(tf.constant(1.0, "float32")), "float32")


class AdversarialModel(MultiOptimizerModel):
    """Base class of the GAN families; subclasses define the two losses and register themselves."""

    # Radford et al. (2016): Adam with learning rate 2e-4 and beta_1 0.5, for both networks.
    capabilities = frozenset({Capability.SAMPLE, Capability.GENERATE})
    optimizer_defaults = {role: {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5}
                          for role in ("generator", "discriminator")}
    limitations = (
        'Adversarial training gives no likelihood and no encoder, and a generator may leave out parts of the data (mode dropping): read the recall beside its floor.',
        'Some samples are implausible items: a GAN has no way to reject its own failures.',
    )
    tracked: ClassVar[tuple[str, ...]] = ("d_loss", "g_loss")  # the metrics train_step reports

    def __init__(self, image_shape=(28, 28, 1), latent_dim=64, generator_filters=(128, 64),
                 discriminator_filters=(64, 128), num_classes=0, label_embedding=0, seed=0, discriminator_norm="batch",
                 ema_decay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_dim = int(latent_dim)
        self.generator_filters = tuple(generator_filters)
        self.discriminator_filters = tuple(discriminator_filters)
        self.conditional_classes, self.label_embedding = int(num_classes), int(label_embedding)
        self.seed = int(seed)
        self.discriminator_norm = discriminator_norm  # "batch" | "layer" | "none", after every conv but the first
        policy = self.dtype_policy.name
        self.generator = blocks.gan_generator(self.latent_dim, self.image_shape, self.generator_filters, dtype=policy,
                                              num_classes=self.conditional_classes,
                                              label_embedding=self.label_embedding)
        self.ema_decay = float(ema_decay)
        self.ema_generator = None  # the weight average, when ema_decay > 0
        if self.ema_decay > 0:
            self.ema_generator = blocks.gan_generator(self.latent_dim, self.image_shape, self.generator_filters,
                                                      dtype=policy, num_classes=self.conditional_classes,
                                                      label_embedding=self.label_embedding, name="ema_generator")
            self.ema_generator.trainable = False
            copy_weights(self.ema_generator, self.generator)
        self.discriminator = blocks.gan_discriminator(self.image_shape, self.discriminator_filters,
                                                      norm=self.discriminator_norm, dtype=policy,
                                                      num_classes=self.conditional_classes)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked}
        self.build((None, self.latent_dim))

    # ------------------------------------------------------------ recipes and config

    @classmethod
    def check_recipe(cls, recipe) -> None:
        m, d, where = recipe.model, recipe.data, f"[model] of {recipe.source or 'the recipe'}"
        if tuple(d.value_range) != VALUE_RANGE:
            raise RecipeError(f"family {m.family} in {where} generates images in [-1, 1] (tanh): set "
                              "data.value_range = [-1.0, 1.0]")
        for field_name in ("generator_filters", "discriminator_filters"):
            factor = 2 ** len(getattr(m, field_name))
            if d.image_size[0] % factor or d.image_size[1] % factor:
                raise RecipeError(f"data.image_size {list(d.image_size)} is not divisible by {factor}, as the "
                                  f"{len(getattr(m, field_name))} stride-2 stages of {field_name} in {where} need; "
                                  "change the number of stages or data.image_size")
        classes = getattr(m, "num_classes", 0)
        if classes:
            if not d.labels:
                raise RecipeError(f"family {m.family} in {where} is conditional: set data.labels = true")
            if d.classes and max(d.classes) >= classes:
                raise RecipeError(f"data.classes {list(d.classes)} has labels >= num_classes = {classes} in {where}; "
                                  "raise num_classes (labels keep their original numbers)")

    def get_config(self):
        return {**super().get_config(), **self.hyperparameters()}

    def build(self, input_shape):
        self.built = True  # the networks are functional models, built at construction

    @property
    def num_classes(self) -> int:
        return self.conditional_classes

    # ------------------------------------------------------------ two optimizers

    def role_variables(self, role: str) -> list:
        return (self.generator if role == "generator" else self.discriminator).trainable_variables

    # ------------------------------------------------------------ the networks

    def _net_inputs(self, x, labels):
        return [x, labels] if self.conditional_classes else x

    def call(self, inputs, training=False):
        return (self.generator if training else self.sampling_generator)(inputs, training=training)

    def score(self, images, labels=None, training=False) -> tf.Tensor:
        """The discriminator's (critic's) float32 output ``(N,)``."""
        return tf.cast(self.discriminator(self._net_inputs(images, labels), training=training)[:, 0], "float32")

    @property
    def sampling_generator(self) -> keras.Model:
        """The network that draws samples: the weight average if there is one, else the generator."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def fake(self, z, labels=None, training=False) -> tf.Tensor:
        """Images from the generator being trained (``training=True``) or from :attr:`sampling_generator`."""
        network = self.generator if training else self.sampling_generator
        return network(self._net_inputs(z, labels), training=training)

    # ------------------------------------------------------------ training

    def _seed(self, salt) -> tf.Tensor:
        """A stateless seed for noise stream ``salt`` of the current train step."""
        return self.step_seed(salt, self.train_steps.value)

    def _latents(self, n, salt) -> tf.Tensor:
        seed = self._seed(salt)
        return replica_rows(lambda m: tf.random.stateless_normal((m, self.latent_dim), seed=seed, dtype="float32"), n)

    def _unpack(self, data):
        images, labels = (data[0], data[1] if len(data) > 1 else None) if isinstance(data, (tuple, list)) else (data, None)
        if not self.conditional_classes:
            return images, None
        if labels is None:
            raise ValueError(f"{self.family} is conditional: train it on (images, labels) batches (data.labels = true)")
        return images, tf.cast(labels, "int32")

    def critic_batches(self, real, labels) -> list:
        """The (real, labels) batches of the discriminator updates of one step: the whole batch, once."""
        return [(real, labels)]

    def discriminator_losses(self, real, fake, labels, seed, training=True) -> dict:
        """``{"loss": global-batch average to minimize, **metrics}`` for the discriminator."""
        raise NotImplementedError

    def generator_losses(self, z, labels, training=True) -> dict:
        raise NotImplementedError

    @staticmethod
    def _loss_terms(per_example, name, **metrics) -> dict:
        """The loss to differentiate (averaged over the global batch, for tf.distribute) and metrics to track."""
        per_example = tf.cast(per_example, "float32")
        return {"loss": tf.nn.compute_average_loss(per_example), name: tf.reduce_mean(per_example), **metrics}

    def _gradients(self, optimizer, variables, losses_fn):
        with tf.GradientTape() as tape:
            losses = losses_fn()
            scaled_loss = optimizer.scale_loss(losses["loss"])  # a LossScaleOptimizer multiplies by its scale
        return losses, tape.gradient(scaled_loss, variables)

    def _update(self, optimizer, variables, losses_fn) -> dict:
        losses, gradients = self._gradients(optimizer, variables, losses_fn)
        apply_gradients(optimizer, gradients, variables)  # a LossScaleOptimizer unscales, and skips non-finite steps
        return losses

    def discriminator_gradients(self, real, fake, labels=None, seed=(0, 0)):
        """Losses and unscaled gradients of one discriminator update, without applying it (for tests and debugging)."""
        variables = self.discriminator.trainable_variables
        seed = tf.constant(seed, "int64")
        losses, gradients = self._gradients(self.discriminator_optimizer, variables,
                                            lambda: self.discriminator_losses(real, fake, labels, seed))
        scale = loss_scale(self.discriminator_optimizer)
        return losses, [g / tf.cast(scale, g.dtype) for g in gradients]

    def train_step(self, data):
        real, labels = self._unpack(data)
        for i, (batch, batch_labels) in enumerate(self.critic_batches(real, labels)):
            n = tf.shape(batch)[0]
            fake = tf.stop_gradient(self.fake(self._latents(n, 2 * i), batch_labels, training=True))
            self._track(self._update(self.discriminator_optimizer, self.discriminator.trainable_variables,
                                     lambda: self.discriminator_losses(batch, fake, batch_labels, self._seed(2 * i + 1))),
                        self.discriminator_optimizer)
        z = self._latents(n, 2 * i + 2)
        self._track(self._update(self.generator_optimizer, self.generator.trainable_variables,
                                 lambda: self.generator_losses(z, batch_labels)), self.generator_optimizer)
        if self.ema_generator is not None:
            update_average(self.ema_generator, self.generator, average_decay(self.ema_decay, self.train_steps.value))
        self.train_steps.assign_add(1)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        real, labels = self._unpack(data)
        n = tf.shape(real)[0]
        fake = self.fake(self._latents(n, SALT_EVAL), labels)
        self._track(self.discriminator_losses(real, fake, labels, self._seed(SALT_EVAL + 1), training=False))
        self._track(self.generator_losses(self._latents(n, SALT_EVAL + 2), labels, training=False))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _track(self, losses: dict, optimizer=None) -> None:
        """Add an update's metrics to the epoch's means.

        Under a LossScaleOptimizer, an update whose loss is non-finite was skipped (the scale was too
        high: with the gradient penalty the loss itself depends on a scaled gradient), and is not counted.
        """
        skippable = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        finite = tf.math.is_finite(losses["loss"])
        for name, value in losses.items():
            if name not in self.trackers:
                continue
            if skippable:
                self.trackers[name].update_state(tf.where(finite, value, 0.0), sample_weight=tf.cast(finite, "float32"))
            else:
                self.trackers[name].update_state(value)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ------------------------------------------------------------ user API

    def _labels(self, labels, n: int):
        """Labels as an int32 tensor ``(n,)`` (a scalar is repeated), checked against the classes; None if unconditional."""
        if not self.conditional_classes:
            if labels is not None:
                raise InputShapeError(f"{self.family} is unconditional: it takes no labels")
            return None
        if labels is None:
            raise InputShapeError(f"{self.family} is conditional: pass labels, class ids in [0, {self.conditional_classes})")
        values = np.asarray(labels)
        if values.size == 0 or not np.issubdtype(values.dtype, np.integer):
            raise InputShapeError(f"labels must be integer class ids, got {values.dtype} {values.shape}")
        if values.ndim > 1 or (values.ndim == 1 and len(values) not in (1, n)):
            raise InputShapeError(f"labels must be one class id or shape ({n},), got shape {values.shape}")
        if values.min() < 0 or values.max() >= self.conditional_classes:
            raise InputShapeError(f"labels must be in [0, {self.conditional_classes}), got {values.min()}..{values.max()}")
        return tf.constant(np.broadcast_to(values.reshape(-1), (n,)), "int32")

    def latents(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` latent codes z ~ N(0, I), float32 ``(n, latent_dim)``; the same for the same seed."""
        return np.random.default_rng(seed).standard_normal((int(n), self.latent_dim)).astype("float32")

    def generate(self, z, labels=None, *, seed: int | None = None) -> tf.Tensor:
        """Images in [-1, 1] from latent codes ``(N, latent_dim)``, or from ``z = n`` codes drawn with ``seed``.

        A conditional model needs ``labels``: one class id for all, or ``(N,)`` ids.
        """
        if isinstance(z, (int, np.integer)):
            z = self.latents(z, seed)
        z = self.check_vectors(z, self.latent_dim, what="z")
        return self.compiled_method("fake")(z, self._labels(labels, z.shape[0]))

    def sample(self, n: int, seed: int = 0, labels=None) -> tf.Tensor:
        """``n`` new images in [-1, 1]. A conditional model cycles through the classes unless given labels."""
        if self.conditional_classes and labels is None:
            labels = np.arange(n) % self.conditional_classes
        return self.generate(self.latents(n, seed), labels)

    def interpolate(self, z_a, z_b, steps: int = 8, labels=None) -> tf.Tensor:
        """Images along the spherical path from ``z_a`` to ``z_b`` (``steps`` of them, both ends included)."""
        return self.generate(slerp(z_a, z_b, steps), labels)

    def discriminate(self, images, labels=None) -> tf.Tensor:
        """The discriminator's logit (DCGAN) or the critic's score (WGAN-GP) of images in [-1, 1], ``(N,)``."""
        x = self.check_images(images, self.image_shape)
        return self.score(x, self._labels(labels, x.shape[0]))

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        z = TensorInfo("z", (None, self.latent_dim), kind="latent", description="latent codes; N(0, I) draws for new images")
        labels = (TensorInfo("labels", (None,), dtype="int32", kind="label",
                             description=f"class ids in [0, {self.conditional_classes})"),) if self.conditional_classes else ()
        images = TensorInfo("images", (None,) + self.image_shape, value_range=VALUE_RANGE,
                            postprocess=IMAGE_POSTPROCESS[VALUE_RANGE], description="generated images in [-1, 1]")

        def generate(z, labels=None):
            return {"images": self.fake(z, labels)}

        return [Endpoint("generate", generate, (z, *labels), (images,), onnx="generator",
                         description="latent codes" + (" and class ids" if labels else "") + " -> images")]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        n = len(images)
        inputs = {"z": self.latents(n, seed=PREVIEW_SEED)}
        if self.conditional_classes:
            inputs["labels"] = (np.arange(n) % self.conditional_classes if labels is None else labels).astype("int32")
        return inputs

    def preview(self, images=None, labels=None) -> np.ndarray:
        """Samples from a fixed latent batch (the same every epoch). Conditional: one row per class, one z per column."""
        classes = self.conditional_classes
        if classes and classes <= 12:
            z = np.tile(self.latents(classes, seed=PREVIEW_SEED), (classes, 1))
            return self.generate(z, np.repeat(np.arange(classes), classes)).numpy()
        z = self.latents(64, seed=PREVIEW_SEED)
        return self.generate(z, np.arange(64) % classes if classes else None).numpy()
