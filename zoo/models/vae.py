"""Variational autoencoders (Kingma & Welling 2014): the VAE, beta-VAE and conditional VAE.

q(z|x) is a diagonal Gaussian from the encoder, p(z) a standard normal, and p(x|z) a
Bernoulli, continuous Bernoulli or Normal likelihood from the decoder, all as
``tensorflow_probability.distributions``; training maximizes the evidence lower bound
(ELBO) with reparameterized samples. ``beta`` scales the KL term (Higgins et al. 2017);
a capacity C rising linearly to ``c_max`` turns it into beta * |KL - C| (Burgess et al.
2018). ``log_likelihood`` is the importance-weighted bound of Burda et al. (2016).

Training always regularizes toward N(0, I), but the aggregate posterior of a trained VAE fills only part
of that prior, so decoded prior draws land off the data. With ``prior = "class_gaussians"`` the model
fits, after each epoch, one full-covariance Gaussian per class to posterior draws of the training images
(an ex-post density estimate, Ghosh et al. 2020) and uses it to sample and to score: a CVAE draws from
its label's Gaussian, a VAE from their mixture weighted by class frequency.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.nets import blocks
from zoo.schema import spec
from zoo.errors import InputShapeError, RecipeError
from zoo.models.base import IMAGE_POSTPROCESS, Capability, Endpoint, GenerativeModel, TensorInfo, apply_gradients, replica_rows
from zoo.models.registry import register_family

tfd = tfp.distributions

MIN_SCALE = 1e-4  # floor on every predicted standard deviation
PRIORS = ("standard", "class_gaussians")
PRIOR_JITTER = 1e-5  # added to each fitted covariance's diagonal, so its Cholesky factor exists
ACTIVE_VARIANCE = 0.01  # a unit is active when Var_x(E_q[z_i]) exceeds this (Burda et al. 2016)


@dataclass(frozen=True)
class VAEConfig:
    family: str = spec("vae")
    architecture: str = spec("conv", choices=("conv", "dense"))
    latent_dim: int = spec(16, min=1)
    filters: tuple[int, ...] = spec((32, 64), min=1, help="conv widths; each stage halves the resolution")
    hidden_units: tuple[int, ...] = spec((512, 256), min=1, help="dense widths (architecture = \"dense\")")
    likelihood: str = spec("bernoulli", choices=("bernoulli", "continuous_bernoulli", "normal"),
                           help="p(x|z): Bernoulli for binary pixels, continuous Bernoulli or Normal for grey levels")
    binarize: bool = spec(False, help="dynamic binarization: each batch's pixels drawn as Bernoulli(intensity)")
    normal_scale: float = spec(0.0, min=0.0, help="fixed stddev of a Normal likelihood; 0 learns one per pixel")
    beta: float = spec(1.0, min=0.0, help="weight of the KL term (beta-VAE); 1 is the plain VAE")
    c_max: float = spec(0.0, min=0.0, help="capacity target in nats for beta * |KL - C| (0 = off)")
    c_steps: int = spec(0, min=0, help="training steps over which C rises linearly from 0 to c_max")
    prior: str = spec("standard", choices=PRIORS,
                      help="p(z) to sample and score with: N(0, I), or Gaussians per class fitted after each epoch")
    prior_classes: int = spec(10, min=1, help="classes of the data, for prior = \"class_gaussians\" (a CVAE: num_classes)")


@dataclass(frozen=True)
class CVAEConfig(VAEConfig):
    family: str = spec("cvae")
    num_classes: int = spec(10, min=2)
    label_embedding: int = spec(0, min=0, help="size of a learned label embedding (0 = one-hot labels)")
    label_maps: bool = spec(False, help="conv decoder: the label also beside every stage's input, as constant maps")


class ELBOTerms(NamedTuple):
    reconstruction: tf.Tensor  # -log p(x|z) per example, nats
    kl_per_dim: tf.Tensor  # KL(q(z|x) || p(z)) per example and latent dimension, nats
    posterior_mean: tf.Tensor  # E_q[z], for counting active units


class Posterior(NamedTuple):
    mean: tf.Tensor
    stddev: tf.Tensor
    distribution: tfd.Distribution


@register_family
class VAE(GenerativeModel):
    family = "vae"
    capabilities = frozenset({Capability.SAMPLE, Capability.ENCODE, Capability.DECODE, Capability.RECONSTRUCT, Capability.LIKELIHOOD, Capability.INTERPOLATE,
                              Capability.TRAVERSE})
    config_class = VAEConfig
    limitations = (
        "Samples and reconstructions are blurrier than real images: the decoder gives the mean of p(x|z), which "
        "averages the details the latent code does not fix; a larger beta trades more of them for a smoother, "
        "more factorized latent space.",
        "Likelihoods are bounds or estimates: the negative ELBO is an upper bound on -log p(x), the IWAE figure a "
        "tighter one; likelihoods under different pixel models (Bernoulli, continuous Bernoulli, Normal) are not "
        "comparable with each other.",
    )

    def __init__(self, image_shape=(28, 28, 1), latent_dim=16, architecture="conv", filters=(32, 64),
                 hidden_units=(512, 256), likelihood="bernoulli", binarize=False, normal_scale=0.0, beta=1.0,
                 c_max=0.0, c_steps=0, value_range=(0.0, 1.0), num_classes=0, label_embedding=0, label_maps=False,
                 prior="standard", prior_classes=10, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_dim = int(latent_dim)
        self.architecture = architecture
        self.filters, self.hidden_units = tuple(filters), tuple(hidden_units)
        self.likelihood_name, self.binarize = likelihood, bool(binarize)
        self.normal_scale, self.beta = float(normal_scale), float(beta)
        self.c_max, self.c_steps = float(c_max), int(c_steps)
        self.value_range = tuple(float(v) for v in value_range)
        self.conditional_classes, self.label_embedding = int(num_classes), int(label_embedding)
        self.label_maps = bool(label_maps)
        if prior not in PRIORS:
            raise RecipeError(f"prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        self.prior_name = prior
        self.prior_classes = self.conditional_classes or int(prior_classes)
        self.seed = int(seed)
        # The encoder outputs the posterior's location and (pre-softplus) scale: 2 * latent_dim numbers.
        self.encoder, self.decoder = blocks.encoder_decoder(
            architecture, self.image_shape, self.latent_dim, code_dim=2 * self.latent_dim, filters=self.filters,
            hidden_units=self.hidden_units, dtype=self.dtype_policy.name, num_classes=self.conditional_classes,
            label_embedding=self.label_embedding, label_maps=self.label_maps)
        if likelihood == "normal" and self.normal_scale == 0.0:
            self.pixel_scale = self.add_weight(shape=self.image_shape, initializer="zeros", name="pixel_scale",
                                               dtype="float32")
        if self.fits_prior:  # N(0, I) for each class until the first fit
            d, c = self.latent_dim, self.prior_classes
            self.prior_loc = self.add_weight(shape=(c, d), initializer="zeros", trainable=False, name="prior_loc",
                                             dtype="float32")
            self.prior_scale_tril = self.add_weight(shape=(c, d, d), trainable=False, name="prior_scale_tril",
                                                    initializer=lambda shape, dtype=None: tf.eye(d, batch_shape=(c,)),
                                                    dtype="float32")
            self.prior_weights = self.add_weight(shape=(c,), initializer=keras.initializers.Constant(1.0 / c),
                                                 trainable=False, name="prior_weights", dtype="float32")
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.active_units_tracker = keras.metrics.Mean(name="active_units")
        self.build((None,) + self.image_shape)

    # ------------------------------------------------------------ recipes and config

    @classmethod
    def check_recipe(cls, recipe) -> None:
        m, where = recipe.model, f"[model] of {recipe.source or 'the recipe'}"
        if m.likelihood in ("bernoulli", "continuous_bernoulli") and tuple(recipe.data.value_range) != (0.0, 1.0):
            raise RecipeError(f"likelihood = \"{m.likelihood}\" in {where} needs data.value_range = [0.0, 1.0]")
        if m.binarize and m.likelihood != "bernoulli":
            raise RecipeError(f"binarize = true in {where} goes with likelihood = \"bernoulli\"")
        if m.c_max > 0 and m.c_steps == 0:
            raise RecipeError(f"c_max in {where} needs c_steps > 0 (the steps over which capacity rises)")

    @classmethod
    def _model_kwargs(cls, recipe) -> dict:
        m, d = recipe.model, recipe.data
        return dict(image_shape=(*d.image_size, d.channels), latent_dim=m.latent_dim, architecture=m.architecture,
                    filters=m.filters, hidden_units=m.hidden_units, likelihood=m.likelihood, binarize=m.binarize,
                    normal_scale=m.normal_scale, beta=m.beta, c_max=m.c_max, c_steps=m.c_steps,
                    value_range=d.value_range, prior=m.prior, prior_classes=m.prior_classes, seed=recipe.train.seed,
                    name=recipe.name.replace("-", "_"))

    @classmethod
    def from_recipe(cls, recipe) -> "VAE":
        return cls(**cls._model_kwargs(recipe))

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), latent_dim=self.latent_dim, architecture=self.architecture,
                      filters=list(self.filters), hidden_units=list(self.hidden_units), likelihood=self.likelihood_name,
                      binarize=self.binarize, normal_scale=self.normal_scale, beta=self.beta, c_max=self.c_max,
                      c_steps=self.c_steps, value_range=list(self.value_range), seed=self.seed)
        if self.fits_prior:  # only when set, so configs saved before the option existed stay as they were
            config.update(prior=self.prior_name, prior_classes=self.prior_classes)
        if self.conditional_classes:
            config.update(num_classes=self.conditional_classes, label_embedding=self.label_embedding)
            if self.label_maps:  # only when set, so configs saved before the option existed stay as they were
                config.update(label_maps=True)
        return config

    def build(self, input_shape):
        self.built = True  # encoder and decoder are functional models, built at construction

    @property
    def num_classes(self) -> int:
        return self.conditional_classes

    # ------------------------------------------------------------ the three distributions

    def _net_inputs(self, x, labels):
        return [x, labels] if self.conditional_classes else x

    def posterior(self, images, labels=None, training=False) -> tfd.Distribution:
        """q(z|x): a diagonal Gaussian, its scale through softplus plus a floor (never exp of a raw output)."""
        out = tf.cast(self.encoder(self._net_inputs(images, labels), training=training), "float32")
        loc, raw_scale = tf.split(out, 2, axis=-1)
        return tfd.Independent(tfd.Normal(loc, tf.nn.softplus(raw_scale) + MIN_SCALE), reinterpreted_batch_ndims=1)

    def standard_prior(self) -> tfd.Distribution:
        """N(0, I): the prior the KL term of training pulls every posterior toward."""
        zeros = tf.zeros((self.latent_dim,), "float32")
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), reinterpreted_batch_ndims=1)

    @property
    def fits_prior(self) -> bool:
        return self.prior_name == "class_gaussians"

    def prior(self, labels=None) -> tfd.Distribution:
        """p(z) (p(z | label) in a CVAE) for sampling and likelihoods: N(0, I), or the fitted class Gaussians."""
        if not self.fits_prior:
            return self.standard_prior()
        if self.conditional_classes:
            return tfd.MultivariateNormalTriL(tf.gather(self.prior_loc, labels), tf.gather(self.prior_scale_tril, labels))
        return tfd.MixtureSameFamily(tfd.Categorical(probs=self.prior_weights),
                                     tfd.MultivariateNormalTriL(self.prior_loc, self.prior_scale_tril))

    def _prior_latent(self, noise, components):
        """z from N(0, I) ``noise``: itself under the standard prior, else loc + L noise of each row's class Gaussian."""
        if not self.fits_prior:
            return noise
        return tf.gather(self.prior_loc, components) + tf.linalg.matvec(tf.gather(self.prior_scale_tril, components), noise)

    def fit_prior(self, images, labels, seed: int = 0, batch_size: int = 500) -> None:
        """Moment-match one full-covariance Gaussian per class to one posterior draw z ~ q(z|x) per training image,
        weighting the classes by their frequency; a class without images keeps N(0, I) and weight 0."""
        labels = np.asarray(labels, "int64")
        if len(labels) != len(images) or labels.min() < 0 or labels.max() >= self.prior_classes:
            raise InputShapeError(f"fitting the prior needs one label in [0, {self.prior_classes}) per image; if the "
                                  "data has more classes, set model.prior_classes (a CVAE: model.num_classes) to their count")
        draws = []
        for start in range(0, len(images), batch_size):
            x = self.check_images(images[start:start + batch_size], self.image_shape)
            y = tf.constant(labels[start:start + batch_size], "int32") if self.conditional_classes else None
            mean, stddev = self.compiled_method("_posterior_moments")(x, y)
            noise = tf.random.stateless_normal(tf.shape(mean), seed=tf.constant([seed, start], "int32"))
            draws.append((mean + stddev * noise).numpy().astype("float64"))
        z = np.concatenate(draws)
        d, c = self.latent_dim, self.prior_classes
        loc, tril, counts = np.zeros((c, d)), np.tile(np.eye(d), (c, 1, 1)), np.bincount(labels, minlength=c)
        for k in np.flatnonzero(counts):
            points = z[labels == k]
            loc[k] = points.mean(axis=0)
            cov = np.cov(points, rowvar=False) if len(points) > 1 else np.zeros((d, d))
            tril[k] = np.linalg.cholesky(cov + PRIOR_JITTER * np.eye(d))
        self.prior_loc.assign(loc.astype("float32"))
        self.prior_scale_tril.assign(tril.astype("float32"))
        self.prior_weights.assign((counts / counts.sum()).astype("float32"))

    def likelihood(self, z, labels=None, training=False) -> tfd.Distribution:
        """p(x|z), independent over pixels; network outputs are cast to float32 before it is built."""
        out = tf.cast(self.decoder(self._net_inputs(z, labels), training=training), "float32")
        if self.likelihood_name == "bernoulli":
            pixel = tfd.Bernoulli(logits=out, dtype=tf.float32)
        elif self.likelihood_name == "continuous_bernoulli":
            pixel = tfd.ContinuousBernoulli(logits=out)
        else:
            loc = tf.sigmoid(out) if self.value_range == (0.0, 1.0) else tf.tanh(out)
            scale = self.normal_scale if self.normal_scale > 0 else tf.nn.softplus(self.pixel_scale) + 1e-3
            pixel = tfd.Normal(loc, scale)
        return tfd.Independent(pixel, reinterpreted_batch_ndims=3)

    def _pixels(self, z, labels=None):
        """The likelihood's mean: what a decoded image is."""
        return self.likelihood(z, labels).mean()

    def _posterior_moments(self, images, labels=None):
        q = self.posterior(images, labels)
        return q.mean(), q.stddev()

    # ------------------------------------------------------------ training

    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            return data[0], (data[1] if self.conditional_classes else None)
        return data, None

    def _targets(self, images, seed=None):
        """Dynamically binarized pixels (a fresh Bernoulli draw per batch), or the images as they are."""
        if not self.binarize:
            return tf.cast(images, "float32")
        if seed is None:
            seed = tf.cast(self.seed_generator.next(), "int32")
        n, shape = tf.shape(images)[0], tf.shape(images)[1:]
        noise = replica_rows(lambda m: tf.random.stateless_uniform(tf.concat([[m], shape], 0), seed=seed), n)
        return tf.cast(noise < tf.cast(images, "float32"), "float32")

    def capacity(self):
        """C at the current step: rises linearly from 0 to c_max over c_steps (0 when off)."""
        if self.c_max <= 0:
            return tf.constant(0.0)
        step = tf.cast(self.optimizer.iterations, "float32")
        return self.c_max * tf.minimum(1.0, step / float(self.c_steps))

    def elbo_terms(self, targets, labels=None, training=False, seed=None) -> ELBOTerms:
        """Per-example reconstruction term -log p(x|z) and KL(q(z|x) || p(z)) per latent dimension, in nats."""
        q = self.posterior(targets, labels, training=training)
        if seed is None:
            seed = tf.cast(self.seed_generator.next(), "int32")
        # Reparameterized (gradients flow through the mean and the scale), with this replica's rows of the global draw.
        eps = replica_rows(lambda m: tf.random.stateless_normal((m, self.latent_dim), seed=seed), tf.shape(targets)[0])
        z = q.mean() + q.stddev() * eps
        reconstruction = -self.likelihood(z, labels, training=training).log_prob(targets)
        kl_per_dim = tfd.kl_divergence(q.distribution, self.standard_prior().distribution)  # analytic, Normal vs Normal
        return ELBOTerms(reconstruction, kl_per_dim, q.mean())

    def _objective(self, reconstruction, kl):
        if self.c_max > 0:
            return reconstruction + self.beta * tf.abs(kl - self.capacity())
        return reconstruction + self.beta * kl

    def _track(self, objective, terms: ELBOTerms):
        self.loss_tracker.update_state(objective)
        self.reconstruction_tracker.update_state(terms.reconstruction)
        self.kl_tracker.update_state(tf.reduce_sum(terms.kl_per_dim, axis=-1))
        variance = tf.math.reduce_variance(terms.posterior_mean, axis=0)  # over the batch's examples
        self.active_units_tracker.update_state(tf.reduce_sum(tf.cast(variance > ACTIVE_VARIANCE, "float32")))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        images, labels = self._unpack(data)
        # Noise streams 0 (binarization) and 1 (z), keyed to the optimizer's saved step count.
        step = self.optimizer.iterations
        targets = self._targets(images, self.step_seed(0, step))
        with tf.GradientTape() as tape:
            terms = self.elbo_terms(targets, labels, training=True, seed=self.step_seed(1, step))
            objective = self._objective(terms.reconstruction, tf.reduce_sum(terms.kl_per_dim, axis=-1))
            loss = tf.nn.compute_average_loss(objective)  # over the global batch, for tf.distribute
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        apply_gradients(self.optimizer, gradients, self.trainable_variables)
        return self._track(objective, terms)

    def test_step(self, data):
        images, labels = self._unpack(data)
        terms = self.elbo_terms(self._targets(images), labels)
        return self._track(self._objective(terms.reconstruction, tf.reduce_sum(terms.kl_per_dim, axis=-1)), terms)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.active_units_tracker]

    # ------------------------------------------------------------ user API

    def _check_labels(self, labels, n):
        if not self.conditional_classes:
            return None
        if labels is None:
            raise InputShapeError(f"this conditional VAE needs labels: int class ids in [0, {self.conditional_classes})")
        labels = np.broadcast_to(np.asarray(labels, "int32"), (n,))
        if labels.min() < 0 or labels.max() >= self.conditional_classes:
            raise InputShapeError(f"labels must be in [0, {self.conditional_classes}), got {labels.min()}..{labels.max()}")
        return tf.constant(labels)

    def encode(self, images, labels=None) -> Posterior:
        """q(z|x) of images: its mean and stddev ``(N, latent_dim)``, and the distribution itself."""
        x = self.check_images(images, self.image_shape)
        mean, stddev = self.compiled_method("_posterior_moments")(x, self._check_labels(labels, x.shape[0]))
        # The same q(z|x) as posterior() builds, from the compiled moments.
        return Posterior(mean, stddev, tfd.Independent(tfd.Normal(mean, stddev), reinterpreted_batch_ndims=1))

    def decode(self, z, labels=None) -> tf.Tensor:
        """Images (the likelihood's mean, in the model's value range) from latent codes ``(N, latent_dim)``."""
        z = self.check_vectors(z, self.latent_dim)
        return self.compiled_method("_pixels")(z, self._check_labels(labels, z.shape[0]))

    def reconstruct(self, images, labels=None) -> tf.Tensor:
        """Decode of the posterior mean."""
        return self.decode(self.encode(images, labels).mean, labels)

    def sample(self, n: int, seed: int = 0, labels=None) -> tf.Tensor:
        """``n`` new images: z from the prior, decoded. A conditional VAE cycles through the classes unless given labels."""
        noise = self.standard_prior().sample(n, seed=tf.constant([seed, 0], "int32"))
        if self.conditional_classes and labels is None:
            labels = np.arange(n) % self.conditional_classes
        labels = self._check_labels(labels, n)
        return self.compiled_method("_generate")(noise, labels, self._components(n, seed, labels))

    def _components(self, n: int, seed: int, labels):
        """Which class Gaussian each of ``n`` draws comes from: the label in a CVAE, by class frequency in a VAE."""
        if not self.fits_prior or self.conditional_classes:
            return labels
        return tfd.Categorical(probs=self.prior_weights, dtype=tf.int32).sample(n, seed=tf.constant([seed, 1], "int32"))

    def _generate(self, noise, labels=None, components=None):
        return self._pixels(self._prior_latent(noise, components), labels)

    def interpolate(self, x_a, x_b, steps: int = 8, labels=None) -> tf.Tensor:
        """Images along the straight line between the posterior means of ``x_a`` and ``x_b`` (single images)."""
        z_a = self.encode(np.asarray(x_a)[None] if np.ndim(x_a) == 3 else x_a, labels).mean[:1]
        z_b = self.encode(np.asarray(x_b)[None] if np.ndim(x_b) == 3 else x_b, labels).mean[:1]
        t = tf.linspace(0.0, 1.0, steps)[:, None]
        return self.decode((1.0 - t) * z_a + t * z_b, labels)

    def traverse(self, image, dims, values, labels=None):
        """Latent traversal: for each dim in ``dims`` and value in ``values``, set that one latent of the image's
        posterior mean to the value and decode. Returns (images, codes), ``len(dims) * len(values)`` of each, row by dim."""
        z = self.encode(np.asarray(image)[None] if np.ndim(image) == 3 else image[:1], labels).mean.numpy()[0]
        codes = np.repeat(z[None], len(dims) * len(values), axis=0)
        for row, dim in enumerate(dims):
            if not 0 <= dim < self.latent_dim:
                raise InputShapeError(f"latent dimension {dim} is out of range [0, {self.latent_dim})")
            codes[row * len(values):(row + 1) * len(values), dim] = values
        return self.decode(codes, labels), codes

    def manifold(self, dims=(0, 1), size: int = 20, quantile: float = 0.05, label=None):
        """The decoded latent manifold (Kingma & Welling 2014, fig. 4): a ``size`` x ``size`` grid over latent dimensions
        ``dims``, each running over the prior's Gaussian quantiles ``quantile`` to ``1 - quantile`` (mean +- z * stddev
        of the prior, or of the mixture when one is fitted), the other dimensions at the prior's mean. Columns run along
        ``dims[0]``, rows down ``dims[1]`` from high to low, as a plot's axes do. Returns (images, codes)."""
        if len(dims) != 2 or len(set(dims)) != 2 or not all(0 <= d < self.latent_dim for d in dims):
            raise InputShapeError(f"the manifold needs two different latent dimensions in [0, {self.latent_dim}), got {list(dims)}")
        if not 0 < quantile < 0.5:
            raise InputShapeError(f"quantile must be in (0, 0.5), got {quantile}")
        labels = None if not self.conditional_classes else self._check_labels(np.full(size * size, label or 0), size * size)
        prior = self.prior(None if labels is None else labels[:1])
        mean = tf.reshape(prior.mean(), (-1,)).numpy()
        stddev = tf.reshape(prior.stddev(), (-1,)).numpy()
        z = tfd.Normal(0.0, 1.0).quantile(np.linspace(quantile, 1.0 - quantile, size).astype("float32")).numpy()
        codes = np.repeat(mean[None], size * size, axis=0).astype("float32")
        across, down = np.meshgrid(z, z[::-1])
        codes[:, dims[0]] = mean[dims[0]] + stddev[dims[0]] * across.reshape(-1)
        codes[:, dims[1]] = mean[dims[1]] + stddev[dims[1]] * down.reshape(-1)
        return self.decode(codes, labels), codes

    def active_units(self, images, labels=None) -> int:
        """Latent dimensions whose posterior mean varies across ``images`` (Var > 0.01, Burda et al. 2016)."""
        return int(np.sum(np.var(self.encode(images, labels).mean.numpy(), axis=0) > ACTIVE_VARIANCE))

    def kl_per_dimension(self, images, labels=None) -> np.ndarray:
        """Average KL of each latent dimension from N(0, I) over ``images``: near 0 for inactive (collapsed) units."""
        q = self.encode(images, labels).distribution
        return tf.reduce_mean(tfd.kl_divergence(q.distribution, self.standard_prior().distribution), axis=0).numpy()

    def _log_weights(self, images, labels, samples, seed):
        """log p(x, z_s) - log q(z_s|x) for ``samples`` draws z_s ~ q(z|x): shape (samples, batch)."""
        q = self.posterior(images, labels)
        z = q.sample(samples, seed=seed)
        batch = tf.shape(images)[0]
        flat_z = tf.reshape(z, (-1, self.latent_dim))
        flat_x = tf.tile(images, (samples, 1, 1, 1))
        flat_labels = None if labels is None else tf.tile(labels, (samples,))
        log_px = tf.reshape(self.likelihood(flat_z, flat_labels).log_prob(flat_x), (samples, batch))
        return log_px + self.prior(labels).log_prob(z) - q.log_prob(z)

    def log_likelihood(self, images, k: int = 1, labels=None, seed: int = 0, chunk: int = 100) -> tf.Tensor:
        """The importance-weighted bound on log p(x) with ``k`` samples, per example (k = 1 is the ELBO).

        Draws are made ``chunk`` at a time, so memory stays bounded for k = 1000 and beyond.
        """
        x = self.check_images(images, self.image_shape)
        labels = self._check_labels(labels, x.shape[0])
        log_weights = self.compiled_method("_log_weights")
        weights = [log_weights(x, labels, min(chunk, k - start), tf.constant([seed, start], "int32"))
                   for start in range(0, k, chunk)]
        return tf.reduce_logsumexp(tf.concat(weights, axis=0), axis=0) - math.log(k)

    def score(self, images, k: int = 100, labels=None, seed: int = 0) -> np.ndarray:
        """Per-example negative log-likelihood estimate in nats: high for inputs unlike the training data."""
        return -self.log_likelihood(images, k, labels, seed).numpy()

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        shape = (None,) + self.image_shape
        images_in = TensorInfo("images", shape, value_range=self.value_range,
                               description=f"images scaled to {list(self.value_range)}")
        images_out = TensorInfo("images", shape, value_range=self.value_range,
                                postprocess=IMAGE_POSTPROCESS[self.value_range],
                                description="the mean of p(x|z)")
        z = TensorInfo("z", (None, self.latent_dim), kind="latent", description="latent code")
        noise = TensorInfo("z", (None, self.latent_dim), kind="latent",
                           description="N(0, I) draws" + (", mapped by the class Gaussians of prior.json" if self.fits_prior else ""))
        component = (TensorInfo("component", (None,), dtype="int32", kind="label", value_range=(0, self.prior_classes - 1),
                                description="the prior's class Gaussian, drawn with the weights of prior.json"),
                     ) if self.fits_prior and not self.conditional_classes else ()
        mean = TensorInfo("mean", (None, self.latent_dim), kind="latent", description="mean of q(z|x)")
        stddev = TensorInfo("stddev", (None, self.latent_dim), kind="latent", description="stddev of q(z|x)")
        labels = (TensorInfo("labels", (None,), dtype="int32", kind="label",
                             description=f"class ids in [0, {self.conditional_classes})"),) if self.conditional_classes else ()

        def generate(z, labels=None):  # a CVAE's label also picks its class Gaussian
            return {"images": self._generate(z, labels, labels)}

        def generate_from_component(z, component):  # a VAE's class Gaussian, drawn by the caller
            return {"images": self._generate(z, None, component)}

        def decode(z, labels=None):
            return {"images": self._pixels(z, labels)}

        def encode(images, labels=None):
            q = self.posterior(images, labels)
            return {"mean": q.mean(), "stddev": q.stddev()}

        def reconstruct(images, labels=None):
            return {"images": self._pixels(self.posterior(images, labels).mean(), labels)}

        return [  # the first one is also the SavedModel's serving_default
            Endpoint("generate", generate_from_component if component else generate, (noise, *labels, *component), (images_out,),
                     description="N(0, I) draws -> new images" + (" (through the fitted prior)" if self.fits_prior else "")),
            Endpoint("encode", encode, (images_in, *labels), (mean, stddev), onnx="encoder",
                     description="images -> posterior mean and stddev"),
            Endpoint("decode", decode, (z, *labels), (images_out,), onnx="decoder", description="latent codes -> images"),
            Endpoint("reconstruct", reconstruct, (images_in, *labels), (images_out,),
                     description="images -> decoded posterior means"),
        ]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        images = np.asarray(images, "float32")
        inputs = {"images": images, "z": self.encode(images, labels).mean.numpy()}
        if self.conditional_classes:
            inputs["labels"] = np.asarray(labels, "int32")
        elif self.fits_prior:
            inputs["component"] = np.arange(len(images), dtype="int32") % self.prior_classes
        return inputs

    def artifact_files(self) -> dict[str, bytes]:
        """``prior.json`` for a fitted prior: what another runtime needs to draw z (loc + scale_tril @ noise)."""
        if not self.fits_prior:
            return {}
        prior = {"kind": self.prior_name, "latent_dim": self.latent_dim, "classes": self.prior_classes,
                 "conditional": bool(self.conditional_classes),
                 "draw": "pick class k (the label, or by weights), noise ~ N(0, I), z = loc[k] + scale_tril[k] @ noise",
                 "loc": self.prior_loc.numpy().tolist(), "scale_tril": self.prior_scale_tril.numpy().tolist(),
                 "weights": self.prior_weights.numpy().tolist()}
        return {"prior.json": json.dumps(prior).encode()}

    def preview(self, images, labels=None) -> np.ndarray:
        """Originals, their reconstructions, then samples from a fixed seed (8 per row)."""
        images = np.asarray(images, "float32")
        n = len(images)
        samples = self.sample(2 * n, seed=0, labels=None if not self.conditional_classes else np.arange(2 * n) % self.num_classes)
        return np.concatenate([images, self.reconstruct(images, labels).numpy(), samples.numpy()], axis=0)


@register_family
class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder both see the class label (Sohn et al. 2015). Its prior is N(0, I), or with
    ``prior = "class_gaussians"`` p(z | label), the label's Gaussian fitted after each epoch."""

    family = "cvae"
    capabilities = VAE.capabilities | {Capability.CONDITIONAL}
    config_class = CVAEConfig
    limitations = VAE.limitations + (
        "Every image it encodes, decodes or scores needs its class label; log p(x | label) is not log p(x).",
    )

    @classmethod
    def check_recipe(cls, recipe) -> None:
        super().check_recipe(recipe)
        if not recipe.data.labels:
            raise RecipeError(f"family \"cvae\" in {recipe.source or 'the recipe'} needs data.labels = true")

    @classmethod
    def from_recipe(cls, recipe) -> "ConditionalVAE":
        return cls(**cls._model_kwargs(recipe), num_classes=recipe.model.num_classes,
                   label_embedding=recipe.model.label_embedding, label_maps=recipe.model.label_maps)

    def __init__(self, *args, num_classes=10, **kwargs):
        super().__init__(*args, num_classes=num_classes, **kwargs)


def evaluate_likelihood(model: VAE, images, labels=None, *, k: int = 1000, batch_size: int = 100, seed: int = 0,
                        progress=None) -> dict:
    """Test-set negative ELBO and IWAE negative log-likelihood, in nats per example and bits per dimension.

    Binary-likelihood models are scored on one fixed stochastic binarization of ``images`` (seeded),
    as in the published binarized-MNIST results.
    """
    images = np.asarray(images, "float32")
    if model.binarize:
        images = (np.random.default_rng(seed).random(images.shape) < images).astype("float32")
    elbo, iwae = [], []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        y = None if labels is None else labels[start:start + batch_size]
        elbo.append(model.log_likelihood(x, 1, y, seed=seed + start).numpy())
        iwae.append(model.log_likelihood(x, k, y, seed=seed + start + 1).numpy())
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    dims = math.prod(model.image_shape)
    neg_elbo, nll = -float(np.mean(np.concatenate(elbo))), -float(np.mean(np.concatenate(iwae)))
    return {"examples": len(images), "k": k, "neg_elbo_nats": neg_elbo, "iwae_nll_nats": nll,
            "neg_elbo_bits_per_dim": neg_elbo / (dims * math.log(2)), "iwae_nll_bits_per_dim": nll / (dims * math.log(2)),
            "binarized": bool(model.binarize)}
