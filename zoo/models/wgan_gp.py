"""WGAN-GP (Gulrajani et al. 2017): a Wasserstein critic kept 1-Lipschitz by a gradient penalty.

The critic (no BatchNorm: the penalty is per example; LayerNorm or none) outputs an unbounded
score and minimizes E[f(fake)] - E[f(real)] + gp_weight * E[(||grad f(x_hat)|| - 1)^2] on
interpolates x_hat = real + alpha * (fake - real), alpha ~ U(0, 1) per example. The generator
minimizes -E[f(fake)] once per ``n_critic`` critic updates.

Each train step takes a batch of ``batch_size`` real images and splits it into ``n_critic``
slices, one per critic update (as in the paper's algorithm, every critic update sees fresh
real data and an epoch is one pass over the data); the generator update then uses a batch of
the slice's size. So ``batch_size = 320`` with ``n_critic = 5`` is the paper's m = 64.

The penalty is computed in float32, with its norm as sqrt(sum + 1e-12) (finite, with a
finite gradient, even where the critic's gradient vanishes). Under mixed_float16 the inner
gradient is taken of the loss-scaled critic output and unscaled after (tensorflow#48662), so
small gradients do not underflow in float16 before they are squared.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from zoo.schema import spec
from zoo.errors import RecipeError
from zoo.models.adversarial import AdversarialModel, GANConfig, loss_scale
from zoo.models.base import replica_rows
from zoo.models.registry import register_family

NORM_EPSILON = 1e-12


@dataclass(frozen=True)
class WGANGPConfig(GANConfig):
    family: str = spec("wgan_gp")
    n_critic: int = spec(5, min=1, help="critic updates per generator update; each gets batch_size / n_critic images")
    gp_weight: float = spec(10.0, min=0.0, help="lambda, the weight of the gradient penalty")
    critic_norm: str = spec("layer", choices=("layer", "none"), help="normalization in the critic (never BatchNorm)")


def gradient_penalty(critic, real, fake, alpha, labels=None, *, weight: float = 10.0, optimizer=None) -> tf.Tensor:
    """Per-example ``weight * (||grad_x critic(x_hat)|| - 1)^2`` at ``x_hat = real + alpha * (fake - real)``, float32 ``(N,)``.

    ``alpha`` is ``(N, 1, 1, 1)``. With ``optimizer`` (a LossScaleOptimizer under mixed_float16),
    the inner gradient is of the loss-scaled critic output, then unscaled.
    """
    real, fake = tf.cast(real, "float32"), tf.cast(fake, "float32")
    x_hat = real + tf.cast(alpha, "float32") * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = tf.cast(critic(x_hat if labels is None else [x_hat, labels], training=True), "float32")
        total = tf.reduce_sum(scores)  # examples are independent (no BatchNorm): d total / d x_i = grad f(x_i)
        if optimizer is not None:
            total = optimizer.scale_loss(total)
    gradients = tf.cast(tape.gradient(total, x_hat), "float32")
    if optimizer is not None:
        gradients = gradients / loss_scale(optimizer)
    squares = tf.reduce_sum(tf.square(tf.reshape(gradients, (tf.shape(gradients)[0], -1))), axis=1)
    norm = tf.sqrt(squares + NORM_EPSILON)
    return weight * tf.square(norm - 1.0)


@register_family
class WGANGP(AdversarialModel):
    family = "wgan_gp"
    config_class = WGANGPConfig
    # Gulrajani et al. (2017), Algorithm 1: Adam with learning rate 1e-4, beta_1 0, beta_2 0.9.
    optimizer_defaults = {role: {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9}
                          for role in ("generator", "discriminator")}
    tracked = ("d_loss", "gp", "wasserstein", "g_loss")

    def __init__(self, n_critic=5, gp_weight=10.0, critic_norm="layer", **kwargs):
        super().__init__(discriminator_norm=critic_norm, **kwargs)
        self.critic_norm = critic_norm
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)

    @classmethod
    def check_recipe(cls, recipe) -> None:
        super().check_recipe(recipe)
        if recipe.train.batch_size % recipe.model.n_critic:
            raise RecipeError(f"train.batch_size = {recipe.train.batch_size} is not divisible by n_critic = "
                              f"{recipe.model.n_critic} in {recipe.source or 'the recipe'}: each critic update takes "
                              "batch_size / n_critic real images")

    @property
    def batch_parts(self) -> int:
        return self.n_critic

    def critic_batches(self, real, labels) -> list:
        """``n_critic`` equal slices of the batch (a remainder is left out)."""
        if real.shape[0] is not None and real.shape[0] < self.n_critic:
            raise ValueError(f"a batch of {real.shape[0]} cannot be split into n_critic = {self.n_critic} critic batches")
        size = tf.shape(real)[0] // self.n_critic
        slices = [slice(i * size, (i + 1) * size) for i in range(self.n_critic)]
        return [(real[s], None if labels is None else labels[s]) for s in slices]

    def discriminator_losses(self, real, fake, labels, seed, training=True) -> dict:
        real_scores = self.score(real, labels, training=training)
        fake_scores = self.score(fake, labels, training=training)
        alpha = replica_rows(lambda m: tf.random.stateless_uniform((m, 1, 1, 1), seed=seed, dtype="float32"),
                             tf.shape(real)[0])
        penalty = gradient_penalty(self.discriminator, real, fake, alpha, labels, weight=self.gp_weight,
                                   optimizer=self.discriminator_optimizer if training else None)
        return self._loss_terms(fake_scores - real_scores + penalty, "d_loss", gp=tf.reduce_mean(penalty),
                            wasserstein=tf.reduce_mean(real_scores - fake_scores))

    def generator_losses(self, z, labels, training=True) -> dict:
        return self._loss_terms(-self.score(self.fake(z, labels, training=training), labels, training=training), "g_loss")
