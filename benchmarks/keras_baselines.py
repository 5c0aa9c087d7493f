"""Plain Keras models to measure the zoo against, written the way keras.io's generative examples write them.

Each is a ``keras.Model`` subclass with its own ``train_step`` (default ``tf.function``, no XLA,
float32), ``keras.metrics.Mean`` trackers and the optimizers given to ``compile``; the maths of each
loss is the zoo family's, so both sides do the same work. The networks are copies of the zoo model's own
functional sub-models (:func:`keras_layers`), so the architecture is exactly the same
(``benchmarks/compare_keras_baseline.py`` also asserts equal parameter counts). Nothing here is used by the
zoo itself.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf


def keras_layers(network: keras.Model) -> keras.Model:
    """A copy of a zoo network, weights included, with Keras' own ``GroupNormalization`` and ``Conv2D`` wherever
    the zoo uses its faster subclasses of them (the same maths and weights): the layers a keras.io example uses."""

    def clone(layer):
        config = {**layer.get_config(), "trainable": True}  # frozen below, so that sub-layers built later freeze too
        for keras_layer in (keras.layers.GroupNormalization, keras.layers.Conv2D):
            if isinstance(layer, keras_layer):
                return keras_layer.from_config(config)
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(network, clone_function=clone)
    copy.set_weights(network.get_weights())
    copy.trainable = network.trainable  # an EMA copy stays frozen, sub-layers included
    return copy


def _mean_over_pixels(x):
    return tf.reduce_mean(tf.reshape(x, (tf.shape(x)[0], -1)), axis=1)


class Autoencoder(keras.Model):
    def __init__(self, encoder, decoder):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            logits = self.decoder(self.encoder(data, training=True), training=True)
            loss = tf.reduce_mean(_mean_over_pixels(tf.nn.sigmoid_cross_entropy_with_logits(labels=data, logits=logits)))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


class VAE(keras.Model):
    """keras.io's VAE: reparameterized z, Bernoulli reconstruction term and the analytic KL, in nats.

    ``binarize`` draws each batch's pixels as Bernoulli(intensity); ``conditional`` feeds labels to
    both networks (a CVAE).
    """

    def __init__(self, encoder, decoder, *, binarize=False, conditional=False):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.binarize, self.conditional = binarize, conditional
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        images, labels = data if self.conditional else (data, None)
        if self.binarize:
            images = tf.cast(tf.random.uniform(tf.shape(images)) < images, "float32")
        with_labels = (lambda x: [x, labels]) if self.conditional else (lambda x: x)
        with tf.GradientTape() as tape:
            z_mean, raw_scale = tf.split(self.encoder(with_labels(images), training=True), 2, axis=-1)
            z_std = tf.nn.softplus(raw_scale) + 1e-4
            z = z_mean + z_std * tf.random.normal(tf.shape(z_mean))
            logits = self.decoder(with_labels(z), training=True)
            reconstruction_loss = tf.reduce_mean(tf.reduce_sum(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits), axis=(1, 2, 3)))
            kl_loss = tf.reduce_mean(tf.reduce_sum(
                0.5 * (tf.square(z_mean) + tf.square(z_std) - 1.0) - tf.math.log(z_std), axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


class GAN(keras.Model):
    """keras.io's DCGAN and conditional GAN: one discriminator update, then one generator update.

    Non-saturating loss with one-sided label smoothing; the conditional one passes the real labels
    to both networks.
    """

    def __init__(self, discriminator, generator, latent_dim, *, label_smoothing=0.0, conditional=False):
        super().__init__()
        self.discriminator, self.generator = discriminator, generator
        self.latent_dim, self.label_smoothing, self.conditional = latent_dim, label_smoothing, conditional
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer):
        super().compile(jit_compile=False)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, data):
        real_images, labels = data if self.conditional else (data, None)
        with_labels = (lambda x: [x, labels]) if self.conditional else (lambda x: x)
        batch_size = tf.shape(real_images)[0]
        bce = tf.nn.sigmoid_cross_entropy_with_logits

        random_latent_vectors = tf.random.normal((batch_size, self.latent_dim))
        generated_images = self.generator(with_labels(random_latent_vectors), training=True)
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(with_labels(real_images), training=True)
            fake_logits = self.discriminator(with_labels(generated_images), training=True)
            d_loss = tf.reduce_mean(bce(labels=tf.fill(tf.shape(real_logits), 1.0 - self.label_smoothing), logits=real_logits)
                                    + bce(labels=tf.zeros_like(fake_logits), logits=fake_logits))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = tf.random.normal((batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            fake_logits = self.discriminator(with_labels(self.generator(with_labels(random_latent_vectors), training=True)),
                                             training=True)
            g_loss = tf.reduce_mean(bce(labels=tf.ones_like(fake_logits), logits=fake_logits))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


class WGANGP(GAN):
    """keras.io's WGAN-GP: ``d_steps`` critic updates with a gradient penalty, then one generator update.

    Each critic update takes its own slice of the batch, as the zoo's does (the paper's Algorithm 1).
    The two optimizers and the trackers are the GAN's.
    """

    def __init__(self, discriminator, generator, latent_dim, *, discriminator_extra_steps=5, gp_weight=10.0):
        super().__init__(discriminator, generator, latent_dim)
        self.d_steps, self.gp_weight = discriminator_extra_steps, gp_weight

    def gradient_penalty(self, batch_size, real_images, fake_images):
        alpha = tf.random.uniform([batch_size, 1, 1, 1], 0.0, 1.0)
        interpolated = real_images + alpha * (fake_images - real_images)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(interpolated)
            pred = self.discriminator(interpolated, training=True)
        grads = gp_tape.gradient(pred, [interpolated])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean((norm - 1.0) ** 2)

    def train_step(self, real_images):
        batch_size = tf.shape(real_images)[0] // self.d_steps
        for i in range(self.d_steps):
            real = real_images[i * batch_size:(i + 1) * batch_size]
            random_latent_vectors = tf.random.normal((batch_size, self.latent_dim))
            with tf.GradientTape() as tape:
                fake_images = self.generator(random_latent_vectors, training=True)
                fake_logits = self.discriminator(fake_images, training=True)
                real_logits = self.discriminator(real, training=True)
                d_cost = tf.reduce_mean(fake_logits) - tf.reduce_mean(real_logits)
                d_loss = d_cost + self.gp_weight * self.gradient_penalty(batch_size, real, fake_images)
            d_gradient = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_gradient, self.discriminator.trainable_variables))

        random_latent_vectors = tf.random.normal((batch_size, self.latent_dim))
        with tf.GradientTape() as tape:
            gen_img_logits = self.discriminator(self.generator(random_latent_vectors, training=True), training=True)
            g_loss = -tf.reduce_mean(gen_img_logits)
        gen_gradient = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(gen_gradient, self.generator.trainable_variables))
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


class CycleGAN(keras.Model):
    """keras.io's CycleGAN: one persistent tape over both generators and both discriminators (LSGAN,
    cycle and identity L1 losses); one optimizer for the generators and one for the discriminators."""

    def __init__(self, generator_g, generator_f, discriminator_x, discriminator_y, *, lambda_cycle=10.0,
                 lambda_identity=0.5):
        super().__init__()
        self.gen_G, self.gen_F, self.disc_X, self.disc_Y = generator_g, generator_f, discriminator_x, discriminator_y
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")

    def compile(self, gen_optimizer, disc_optimizer):
        super().compile(jit_compile=False)
        self.gen_optimizer, self.disc_optimizer = gen_optimizer, disc_optimizer

    @property
    def metrics(self):
        return [self.g_loss_tracker, self.d_loss_tracker]

    def train_step(self, batch_data):
        real_x, real_y = batch_data
        mse = lambda scores, target: tf.reduce_mean(tf.square(scores - target))  # noqa: E731
        l1 = lambda a, b: tf.reduce_mean(tf.abs(a - b))  # noqa: E731
        with tf.GradientTape(persistent=True) as tape:
            fake_y = self.gen_G(real_x, training=True)
            fake_x = self.gen_F(real_y, training=True)
            cycled_x = self.gen_F(fake_y, training=True)
            cycled_y = self.gen_G(fake_x, training=True)
            same_x = self.gen_F(real_x, training=True)
            same_y = self.gen_G(real_y, training=True)
            disc_fake_x = self.disc_X(fake_x, training=True)
            disc_fake_y = self.disc_Y(fake_y, training=True)
            cycle = l1(real_y, cycled_y) + l1(real_x, cycled_x)
            identity = l1(real_y, same_y) + l1(real_x, same_x)
            g_loss = (mse(disc_fake_y, 1.0) + mse(disc_fake_x, 1.0) + self.lambda_cycle * cycle
                      + self.lambda_identity * self.lambda_cycle * identity)
        generators = self.gen_G.trainable_variables + self.gen_F.trainable_variables
        self.gen_optimizer.apply_gradients(zip(tape.gradient(g_loss, generators), generators))
        with tf.GradientTape() as tape:
            d_loss = 0.0
            for disc, real, fake in ((self.disc_X, real_x, fake_x), (self.disc_Y, real_y, fake_y)):
                d_loss += 0.5 * (mse(disc(real, training=True), 1.0)
                                 + mse(disc(tf.stop_gradient(fake), training=True), 0.0))
        discriminators = self.disc_X.trainable_variables + self.disc_Y.trainable_variables
        self.disc_optimizer.apply_gradients(zip(tape.gradient(d_loss, discriminators), discriminators))
        self.g_loss_tracker.update_state(g_loss)
        self.d_loss_tracker.update_state(d_loss)
        return {"g_loss": self.g_loss_tracker.result(), "d_loss": self.d_loss_tracker.result()}


class DiffusionModel(keras.Model):
    """keras.io's DDPM: noise at a uniform timestep, the network regresses it (MSE), then an EMA of the weights.
    With ``num_classes`` the network also takes labels, each replaced by the null label ``num_classes`` with
    probability ``cond_drop`` (classifier-free guidance's training, Ho & Salimans 2022)."""

    def __init__(self, network, ema_network, alphas_cumprod, *, ema=0.999, num_classes=0, cond_drop=0.1):
        super().__init__()
        self.network, self.ema_network, self.ema = network, ema_network, ema
        self.num_classes, self.cond_drop = num_classes, cond_drop
        self.timesteps = len(alphas_cumprod)
        self.sqrt_alphas_cumprod = tf.constant(np.sqrt(alphas_cumprod), tf.float32)
        self.sqrt_one_minus_alphas_cumprod = tf.constant(np.sqrt(1.0 - alphas_cumprod), tf.float32)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, data):
        images, labels = data if self.num_classes else (data, None)
        batch_size = tf.shape(images)[0]
        t = tf.random.uniform((batch_size,), minval=0, maxval=self.timesteps, dtype=tf.int32)
        noise = tf.random.normal(tf.shape(images))
        at = lambda table: tf.reshape(tf.gather(table, t), (-1, 1, 1, 1))  # noqa: E731
        inputs = []
        if self.num_classes:
            dropped = tf.random.uniform((batch_size,)) < self.cond_drop
            inputs = [tf.where(dropped, self.num_classes, tf.cast(labels, tf.int32))]
        with tf.GradientTape() as tape:
            images_t = at(self.sqrt_alphas_cumprod) * images + at(self.sqrt_one_minus_alphas_cumprod) * noise
            pred_noise = self.network([images_t, t, *inputs], training=True)
            loss = tf.reduce_mean(tf.square(noise - pred_noise))
        gradients = tape.gradient(loss, self.network.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_weights))
        for weight, ema_weight in zip(self.network.weights, self.ema_network.weights):
            ema_weight.assign(self.ema * ema_weight + (1 - self.ema) * weight)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def predict_loop_sampler(network, alphas_cumprod, steps: int, noise: np.ndarray, *, ddpm_betas=None) -> np.ndarray:
    """The reverse process as keras.io's examples run it: one ``network.predict`` per step, the update in numpy.

    DDIM (eta 0, trailing timesteps) over ``steps`` steps; with ``ddpm_betas``, DDPM ancestral sampling
    over all T steps with the posterior variance. The predicted x0 is clipped to [-1, 1].
    """
    ab = np.asarray(alphas_cumprod, "float64")
    x, n, rng = noise.astype("float32"), len(noise), np.random.default_rng(0)
    if ddpm_betas is None:
        timesteps = np.round(np.arange(len(ab), 0, -len(ab) / steps)).astype(int) - 1
        for i, t in enumerate(timesteps):
            eps = network.predict([x, np.full((n,), t, "int32")], verbose=0)
            x0 = np.clip((x - np.sqrt(1 - ab[t]) * eps) / np.sqrt(ab[t]), -1, 1)
            ab_prev = ab[timesteps[i + 1]] if i + 1 < len(timesteps) else 1.0
            x = (np.sqrt(ab_prev) * x0 + np.sqrt(1 - ab_prev) * (x - np.sqrt(ab[t]) * x0) / np.sqrt(1 - ab[t])).astype("float32")
        return x
    betas = np.asarray(ddpm_betas, "float64")
    for t in range(len(ab) - 1, -1, -1):
        eps = network.predict([x, np.full((n,), t, "int32")], verbose=0)
        x0 = np.clip((x - np.sqrt(1 - ab[t]) * eps) / np.sqrt(ab[t]), -1, 1)
        ab_prev = ab[t - 1] if t > 0 else 1.0
        mean = (betas[t] * np.sqrt(ab_prev) / (1 - ab[t])) * x0 + ((1 - ab_prev) * np.sqrt(1 - betas[t]) / (1 - ab[t])) * x
        sigma = np.sqrt(betas[t] * (1 - ab_prev) / (1 - ab[t])) if t > 0 else 0.0
        x = (mean + sigma * rng.standard_normal(x.shape)).astype("float32")
    return x


class Stopwatch(keras.callbacks.Callback):
    """Seconds of one ``fit`` from its first step to its last (``on_train_begin`` to ``on_train_end``)."""

    def on_train_begin(self, logs=None):
        self.began = time.perf_counter()

    def on_train_end(self, logs=None):
        self.seconds = time.perf_counter() - self.began
