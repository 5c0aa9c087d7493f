"""DB-VAE (Amini et al. 2019): a binary classifier trained with a VAE whose latent space finds rare examples to re-sample.

Amini, Soleimany, Schwarting, Bhatia & Rus, "Uncovering and Mitigating Algorithmic Bias through Learned Latent
Structure" (AIES 2019). One encoder gives each image a classification logit and a diagonal Gaussian q(z|x) (its
scale through softplus plus a floor, as in :mod:`zoo.models.vae`, where the paper has a log-variance); a decoder
reconstructs the image from z ~ q(z|x). The classification loss (binary cross-entropy) counts for every example,
the VAE loss (the mean Bernoulli cross-entropy per pixel, plus ``kl_weight``, the paper's c, times KL(q(z|x) || N(0,
I))) only for positive ones, so the latent space learns the variety within the positive class (faces in the paper).

With ``debias``, each training epoch is drawn anew (the paper's algorithm 1): at its start the training positives
are encoded, a histogram of their posterior means is built per latent dimension (``debias_bins`` bins over its
range), and a positive is drawn with probability proportional to prod_d 1 / (Q_d(z_d) + alpha), Q_d the share of
positives in its bin of dimension d and alpha ``debias_alpha``: examples from sparse regions of the latent space,
which the classifier sees rarely, are drawn more often. Negatives keep a uniform draw and their share of the epoch.
The product multiplies the tails of every dimension, and with alpha = 0.001 it gave one example nearly the whole
epoch (an effective sample size of 1 of 18,120 positives, on a model trained one epoch on 6,000 images of
``recipes/dbvae_fashion_mnist.toml``); ``debias_combine = "max"`` takes instead, for each example, the largest of
its per-dimension probabilities, as the MIT 6.S191 course lab of the same authors does (2,543 of 18,120 there; the
lab adds alpha to the histogram's density rather than to the bin's share).
:func:`inverse_density_weights` is the formula; ``zoo.train.callbacks.Resample`` and :mod:`zoo.data.resampling`
draw the epochs. Without ``debias`` the same network trains on shuffled passes: the baseline it is compared with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.errors import RecipeError
from zoo.models.base import IMAGE_POSTPROCESS, Capability, Endpoint, GenerativeModel, TensorInfo, apply_gradients, replica_rows
from zoo.models.registry import register_family
from zoo.models.vae import MIN_SCALE, Posterior
from zoo.nets import blocks
from zoo.schema import spec

tfd = tfp.distributions

COMBINE = ("product", "max")


@dataclass(frozen=True)
class DBVAEConfig:
    family: str = spec("dbvae")
    latent_dim: int = spec(8, min=1, help="dimensions of z, each binned on its own to weigh the examples")
    filters: tuple[int, ...] = spec((32, 64), min=1, help="conv widths of the encoder and the decoder; each stage halves "
                                                          "the resolution")
    kl_weight: float = spec(0.0005, min=0.0, help="the paper's c: weight of KL(q(z|x) || N(0, I)) in nats beside the "
                                                  "reconstruction's mean cross-entropy per pixel")
    debias: bool = spec(True, help="draw each epoch's positives by the inverse density of their latent codes "
                                   "(algorithm 1); false trains on shuffled passes, the baseline")
    debias_alpha: float = spec(0.001, min=0.0, help="alpha, added to each bin's share before inverting: larger "
                                                    "flattens the weights toward a uniform draw")
    debias_bins: int = spec(10, min=2, help="histogram bins per latent dimension, over the range of its means")
    debias_combine: str = spec("product", choices=COMBINE, help="how the dimensions' inverse densities make one "
                                                                "weight: their product (the paper) or the largest of "
                                                                "them, each normalized (the authors' course lab)")


def inverse_density_weights(latent_means, bins: int, alpha: float, combine: str = "product") -> np.ndarray:
    """The paper's sampling weights: for latent means ``(N, D)``, ``w_i`` proportional to
    ``prod_d 1 / (Q_d(bin of z_id) + alpha)``, normalized to sum to 1 (float64 ``(N,)``).

    ``Q_d(b)`` is the share of the N examples whose mean on dimension d falls in bin b of ``bins`` equal bins over
    that dimension's range (the maximum in the last bin, as numpy.histogram counts). A dimension whose means are all
    equal puts everything in one bin and weighs every example alike. Computed in logarithms, so a product over many
    dimensions does not overflow. With ``combine = "max"``, ``w_i`` is proportional to ``max_d p_d(i)``, where
    ``p_d(i) = (1 / (Q_d(bin of z_id) + alpha)) / sum_j (1 / (Q_d(bin of z_jd) + alpha))``.
    """
    if combine not in COMBINE:
        raise ValueError(f"combine must be one of {', '.join(COMBINE)}, got {combine!r}")
    z = np.asarray(latent_means, "float64")
    if z.ndim != 2 or not len(z):
        raise ValueError(f"latent means must be (examples, dimensions), got shape {z.shape}")
    low, high = z.min(axis=0), z.max(axis=0)
    width = np.where(high > low, (high - low) / bins, 1.0)
    index = np.clip(np.floor((z - low) / width), 0, bins - 1).astype("int64")  # (N, D)
    log_weight, largest = np.zeros(len(z)), np.zeros(len(z))
    for d in range(z.shape[1]):
        share = np.bincount(index[:, d], minlength=bins) / len(z)
        inverse = 1.0 / (share[index[:, d]] + alpha)
        log_weight += np.log(inverse)
        largest = np.maximum(largest, inverse / inverse.sum())
    weight = np.exp(log_weight - log_weight.max()) if combine == "product" else largest
    return weight / weight.sum()


class DBVAETerms(NamedTuple):
    classification: tf.Tensor  # binary cross-entropy per example, nats
    reconstruction: tf.Tensor  # -log p(x|z) per example, nats per pixel
    kl: tf.Tensor  # KL(q(z|x) || N(0, I)) per example, nats
    positive: tf.Tensor  # 1.0 for the positive examples, whose VAE loss counts
    correct: tf.Tensor  # 1.0 where the logit's sign agrees with the label

    def objective(self, kl_weight: float) -> tf.Tensor:
        """The paper's loss per example: classification for all, the VAE loss for positives only."""
        return self.classification + self.positive * (self.reconstruction + kl_weight * self.kl)


@register_family
class DBVAE(GenerativeModel):
    family = "dbvae"
    capabilities = frozenset({Capability.CLASSIFY, Capability.ENCODE, Capability.RECONSTRUCT})
    config_class = DBVAEConfig
    preview_file = "reconstructions.png"
    limitations = (
        "It answers one yes/no question (is this one of the positive classes?) and gives a probability for any "
        "input, however unlike its training data.",
        "Re-sampling up-weights what the latent space sets apart: a subgroup the encoder maps among common examples "
        "is not found. The paper's weight (debias_combine = \"product\") multiplies the latent dimensions' inverse "
        "densities, so an epoch can go to a few examples; the training history's resample_ess is the effective share "
        "of the training set drawn.",
        "The VAE loss counts for positives only: reconstructions of negatives are not trained and mean little.",
    )

    def __init__(self, image_shape=(28, 28, 1), latent_dim=8, filters=(32, 64), kl_weight=0.0005, debias=True,
                 debias_alpha=0.001, debias_bins=10, debias_combine="product", value_range=(0.0, 1.0), seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_dim, self.filters = int(latent_dim), tuple(filters)
        self.kl_weight, self.debias = float(kl_weight), bool(debias)
        self.debias_alpha, self.debias_bins = float(debias_alpha), int(debias_bins)
        if debias_combine not in COMBINE:
            raise RecipeError(f"debias_combine must be one of {', '.join(COMBINE)}, got {debias_combine!r}")
        self.debias_combine = debias_combine
        self.value_range = tuple(float(v) for v in value_range)
        self.seed = int(seed)
        # The encoder gives the posterior's location, its (pre-softplus) scale and the class logit: 2 * latent_dim + 1.
        self.encoder, self.decoder = blocks.encoder_decoder(
            "conv", self.image_shape, self.latent_dim, code_dim=2 * self.latent_dim + 1, filters=self.filters,
            hidden_units=(), dtype=self.dtype_policy.name)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.classification_tracker = keras.metrics.Mean(name="classification")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")  # over the positives only
        self.kl_tracker = keras.metrics.Mean(name="kl")  # over the positives only
        self.built = True  # encoder and decoder are functional models, built at construction

    # ------------------------------------------------------------ recipes and config

    @classmethod
    def check_recipe(cls, recipe) -> None:
        d, where = recipe.data, recipe.source or "the recipe"
        if not d.labels or not d.positive_classes:
            raise RecipeError(f"family \"dbvae\" in {where} is a binary classifier: set data.labels = true and "
                              "data.positive_classes to the labels of the positive class (e.g. [0, 2, 4, 6])")
        if tuple(d.value_range) != (0.0, 1.0):
            raise RecipeError(f"family \"dbvae\" in {where} scores reconstructions by the Bernoulli cross-entropy of "
                              "grey levels: set data.value_range = [0.0, 1.0]")

    @classmethod
    def from_recipe(cls, recipe) -> "DBVAE":
        m, d = recipe.model, recipe.data
        return cls(image_shape=(*d.image_size, d.channels), latent_dim=m.latent_dim, filters=m.filters,
                   kl_weight=m.kl_weight, debias=m.debias, debias_alpha=m.debias_alpha, debias_bins=m.debias_bins,
                   debias_combine=m.debias_combine, value_range=d.value_range, seed=recipe.train.seed,
                   name=recipe.name.replace("-", "_"))

    @classmethod
    def resamples(cls, recipe) -> bool:
        return recipe.model.debias

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), latent_dim=self.latent_dim, filters=list(self.filters),
                      kl_weight=self.kl_weight, debias=self.debias, debias_alpha=self.debias_alpha,
                      debias_bins=self.debias_bins, debias_combine=self.debias_combine,
                      value_range=list(self.value_range), seed=self.seed)
        return config

    # ------------------------------------------------------------ the networks

    def call(self, images, training=False):
        """The class logit, float32 ``(N,)``."""
        return self.posterior(images, training=training)[1]

    def posterior(self, images, training=False) -> tuple[tfd.Distribution, tf.Tensor]:
        """q(z|x), a diagonal Gaussian, and the class logit, from one pass of the encoder."""
        out = tf.cast(self.encoder(images, training=training), "float32")
        loc, raw_scale, logit = tf.split(out, [self.latent_dim, self.latent_dim, 1], axis=-1)
        q = tfd.Independent(tfd.Normal(loc, tf.nn.softplus(raw_scale) + MIN_SCALE), reinterpreted_batch_ndims=1)
        return q, logit[:, 0]

    def likelihood(self, z, training=False) -> tfd.Distribution:
        """p(x|z): a Bernoulli per pixel, scoring grey levels by their cross-entropy."""
        logits = tf.cast(self.decoder(z, training=training), "float32")
        return tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), reinterpreted_batch_ndims=3)

    def prior(self) -> tfd.Distribution:
        zeros = tf.zeros((self.latent_dim,), "float32")
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), reinterpreted_batch_ndims=1)

    # ------------------------------------------------------------ training

    def loss_terms(self, images, labels, training=False, seed=None) -> DBVAETerms:
        """Every term of the loss, per example. z is a reparameterized draw with ``seed``, or the posterior mean
        without one (validation, which is then deterministic)."""
        q, logit = self.posterior(images, training=training)
        y = tf.cast(labels, "float32")
        classification = -tfd.Bernoulli(logits=logit, dtype=tf.float32).log_prob(y)
        z = q.mean()
        if seed is not None:  # this replica's rows of the global batch's draw
            z += q.stddev() * replica_rows(lambda m: tf.random.stateless_normal((m, self.latent_dim), seed=seed),
                                           tf.shape(images)[0])
        pixels = math.prod(self.image_shape)
        reconstruction = -self.likelihood(z, training=training).log_prob(tf.cast(images, "float32")) / pixels
        kl = tfd.kl_divergence(q, self.prior())  # analytic, Normal against Normal
        correct = tf.cast(tf.equal(tf.cast(logit > 0.0, "float32"), y), "float32")
        return DBVAETerms(classification, reconstruction, kl, y, correct)

    def train_step(self, data):
        images, labels = data
        with tf.GradientTape() as tape:
            # z's noise keyed to the optimizer's saved step count, so a resumed run draws what an uninterrupted one would.
            terms = self.loss_terms(images, labels, training=True, seed=self.step_seed(0, self.optimizer.iterations))
            loss = tf.nn.compute_average_loss(terms.objective(self.kl_weight))  # over the global batch
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        apply_gradients(self.optimizer, gradients, self.trainable_variables)
        return self._track(terms)

    def test_step(self, data):
        images, labels = data
        return self._track(self.loss_terms(images, labels))

    def _track(self, terms: DBVAETerms) -> dict:
        self.loss_tracker.update_state(terms.objective(self.kl_weight))
        self.classification_tracker.update_state(terms.classification)
        self.accuracy_tracker.update_state(terms.correct)
        self.reconstruction_tracker.update_state(terms.reconstruction, sample_weight=terms.positive)
        self.kl_tracker.update_state(terms.kl, sample_weight=terms.positive)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.classification_tracker, self.accuracy_tracker, self.reconstruction_tracker,
                self.kl_tracker]

    # ------------------------------------------------------------ re-sampling

    def latent_means(self, images, batch_size: int = 500) -> np.ndarray:
        """Posterior means ``(N, latent_dim)`` of (preprocessed) images, ``batch_size`` at a time."""
        moments = self.compiled_method("_posterior_moments")
        return np.concatenate([moments(self.check_images(images[start:start + batch_size], self.image_shape))[0].numpy()
                               for start in range(0, len(images), batch_size)])

    def sampling_probabilities(self, images, labels) -> np.ndarray:
        """Each training example's probability of a draw: a positive's share of the positives' mass (their share
        of the data) by :func:`inverse_density_weights` of its latent mean, a negative's 1 / N as in a uniform draw."""
        labels = np.asarray(labels)
        positive = np.flatnonzero(labels == 1)
        p = np.full(len(labels), 1.0 / len(labels))
        if len(positive):
            means = np.concatenate([self.latent_means(images[positive[i:i + 5000]]) for i in range(0, len(positive), 5000)])
            weights = inverse_density_weights(means, self.debias_bins, self.debias_alpha, self.debias_combine)
            p[positive] = len(positive) / len(labels) * weights
        return p

    # ------------------------------------------------------------ user API

    def _posterior_moments(self, images):
        q, _ = self.posterior(images)
        return q.mean(), q.stddev()

    def _probability(self, images):
        return tf.sigmoid(self.posterior(images)[1])

    def _reconstruction(self, images):
        return self.likelihood(self.posterior(images)[0].mean()).mean()

    def predict_proba(self, images) -> tf.Tensor:
        """Probabilities ``(N, 2)`` of the negative (0) and the positive (1) class."""
        p = self.compiled_method("_probability")(self.check_images(images, self.image_shape))
        return tf.stack([1.0 - p, p], axis=-1)

    def features(self, images) -> tf.Tensor:
        """The posterior means ``(N, latent_dim)``: the code the re-sampling weighs examples by."""
        return self.encode(images).mean

    def encode(self, images) -> Posterior:
        """q(z|x) of images: its mean and stddev ``(N, latent_dim)``, and the distribution itself."""
        mean, stddev = self.compiled_method("_posterior_moments")(self.check_images(images, self.image_shape))
        return Posterior(mean, stddev, tfd.Independent(tfd.Normal(mean, stddev), reinterpreted_batch_ndims=1))

    def reconstruct(self, images) -> tf.Tensor:
        """Images decoded from their posterior means (meaningful for positives: the VAE learns only those)."""
        return self.compiled_method("_reconstruction")(self.check_images(images, self.image_shape))

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        shape = (None,) + self.image_shape
        images_in = TensorInfo("images", shape, value_range=self.value_range,
                               description=f"images scaled to {list(self.value_range)}")
        probability = TensorInfo("probability", (None,), kind="latent", description="P(positive class), the logit's sigmoid")
        mean = TensorInfo("mean", (None, self.latent_dim), kind="latent", description="mean of q(z|x)")
        stddev = TensorInfo("stddev", (None, self.latent_dim), kind="latent", description="stddev of q(z|x)")
        images_out = TensorInfo("images", shape, value_range=self.value_range, postprocess=IMAGE_POSTPROCESS[self.value_range],
                                description="the mean of p(x|z) at the posterior mean")

        def classify(images):
            return {"probability": self._probability(images)}

        def encode(images):
            mean_, stddev_ = self._posterior_moments(images)
            return {"mean": mean_, "stddev": stddev_}

        def reconstruct(images):
            return {"images": self._reconstruction(images)}

        return [  # the first one is also the SavedModel's serving_default
            Endpoint("classify", classify, (images_in,), (probability,), onnx="classifier",
                     description="images -> probability of the positive class"),
            Endpoint("encode", encode, (images_in,), (mean, stddev), onnx="encoder",
                     description="images -> posterior mean and stddev"),
            Endpoint("reconstruct", reconstruct, (images_in,), (images_out,), description="images -> decoded posterior means"),
        ]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        return {"images": np.asarray(images, "float32")}

    def preview(self, images, labels=None) -> np.ndarray:
        """The images (a row), then their reconstructions (the next row)."""
        images = np.asarray(images, "float32")
        return np.concatenate([images, self.reconstruct(images).numpy()], axis=0)
