"""CycleGAN (Zhu et al. 2017): unpaired image-to-image translation between two domains A and B.

Two ResNet generators, G: A -> B (``generator_a2b``) and F: B -> A (``generator_b2a``), and two
70x70 PatchGAN discriminators, D_A (real A vs F(b)) and D_B (real B vs G(a)), from
:mod:`zoo.nets.blocks`. Training data are unpaired batches ``(images_a, images_b)`` in [-1, 1].

As in the reference implementation (not only the paper's equations):

* least-squares GAN losses (Mao et al. 2017) on every patch score; each discriminator's loss is
  halved, ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``, to slow it relative to the generators;
* the generators minimize ``adversarial + cycle_weight * cycle + identity_weight * cycle_weight *
  identity``, with L1 cycle losses ``|F(G(a)) - a| + |G(F(b)) - b|`` and identity losses
  ``|G(b) - b| + |F(a) - a|`` (which keep colours when they need not change);
* one optimizer updates both generators, then another both discriminators, on the same step's fakes;
* the discriminators see fakes through an :class:`ImagePool` of the last ``pool_size`` generated
  images per direction (Shrivastava et al. 2017), whose state lives in variables so it works in a
  compiled ``train_step`` and is saved with the model;
* Adam 2e-4, beta_1 0.5, with a learning rate constant and then decaying linearly to zero over the
  last ``decay_epochs`` of the run's ``train.epochs`` (:class:`ConstantThenLinearDecay`, a serializable
  schedule: the paper's 100 + 100 epochs are ``epochs = 200``, ``decay_epochs = 100``);
* the reference's augmentation, resize up then random crop back and a random flip, is the data
  module's (``data.load_size``, ``data.random_flip``).

The pool's random draws are stateless, keyed to ``(seed, train_steps)``, so a resumed run draws as an
uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zoo.nets import blocks
from zoo.schema import spec
from zoo.errors import InputShapeError, RecipeError
from zoo.models.adversarial import VALUE_RANGE, AdversarialModel
from zoo.models.base import (IMAGE_POSTPROCESS, Capability, Endpoint, MultiOptimizerModel, TensorInfo, all_replicas,
                             apply_gradients, own_rows)
from zoo.models.registry import register_family

DIRECTIONS = ("a2b", "b2a")
SIZE_FACTOR = 4  # the generators' two stride-2 downsamplings


@dataclass(frozen=True)
class CycleGANConfig:
    """The ``[model]`` section of a CycleGAN recipe."""

    family: str = spec("cyclegan")
    filters: int = spec(64, min=1, help="generator base width f: c7s1-f, d2f, d4f, R4f blocks, u2f, uf")
    n_res_blocks: int = spec(6, min=0, help="residual blocks of each generator (paper: 6 up to 128px, 9 at 256px)")
    disc_filters: int = spec(64, min=1, help="PatchGAN width of its first convolution (doubling, at most 8x)")
    n_layers: int = spec(3, min=1, help="PatchGAN stride-2 convolutions; 3 gives 70x70 patches")
    cycle_weight: float = spec(10.0, min=0.0, help="lambda, the weight of the L1 cycle losses")
    identity_weight: float = spec(0.5, min=0.0, help="weight of the L1 identity losses, relative to cycle_weight")
    pool_size: int = spec(50, min=0, help="generated images kept per direction for the discriminators (0 = none)")
    decay_epochs: int = spec(100, min=0, help="last epochs of train.epochs over which the learning rate decays to zero")


# ---------------------------------------------------------------- the image pool


class ImagePool(keras.layers.Layer):
    """The last ``pool_size`` generated images of one direction (Shrivastava et al. 2017), in variables.

    :meth:`query` takes a batch of new fakes and returns the batch the discriminator sees, example by
    example: while the pool is not full, the new fake is stored and returned; once full, with
    probability 0.5 it replaces a uniformly chosen stored image, which is returned instead, and
    otherwise the new fake is returned and the pool is unchanged.
    """

    def __init__(self, pool_size: int = 50, image_shape=(32, 32, 1), **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.image_shape = int(pool_size), tuple(image_shape)
        self.images = self.add_weight(shape=(self.pool_size, *self.image_shape), dtype="float32",
                                      initializer="zeros", trainable=False, name="images",
                                      aggregation="only_first_replica")  # the same on every replica
        self.count = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="count",
                                     aggregation="only_first_replica")

    def query(self, fakes, seed) -> tf.Tensor:
        """The discriminator's batch for ``fakes`` (float32, same shape); updates the pool. ``seed``: int64 ``(2,)``.

        Under tf.distribute the pool is one for all replicas: each gathers the global batch of fakes, makes the same
        updates in the same order, and keeps its own rows, as one device would.
        """
        fakes = tf.cast(fakes, "float32")
        if self.pool_size == 0:
            return fakes
        local = tf.shape(fakes)[0]
        fakes = all_replicas(fakes)
        n = tf.shape(fakes)[0]
        coin_seed, slot_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        swaps = tf.random.stateless_uniform((n,), seed=coin_seed) < 0.5
        slots = tf.random.stateless_uniform((n,), seed=slot_seed, maxval=self.pool_size, dtype="int32")

        def one_example(i, pool, count, out):
            fake, full = fakes[i], count >= self.pool_size
            swap = full & swaps[i]
            slot = tf.where(full, slots[i], count)  # a random stored image, or the next free place
            out = out.write(i, tf.where(swap, pool[slot], fake))
            stored = tf.tensor_scatter_nd_update(pool, [[slot]], fake[None])
            pool = tf.where(swap | ~full, stored, pool)
            return i + 1, pool, tf.minimum(count + 1, self.pool_size), out

        _, pool, count, out = tf.while_loop(
            lambda i, *_: i < n, one_example,
            (tf.constant(0), self.images.value, self.count.value,
             tf.TensorArray("float32", size=n, element_shape=self.image_shape)))
        self.images.assign(pool)
        self.count.assign(count)
        return own_rows(tf.ensure_shape(out.stack(), (None, *self.image_shape)), local)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "image_shape": list(self.image_shape)}


# ---------------------------------------------------------------- the learning rate


@keras.saving.register_keras_serializable(package="zoo")
class ConstantThenLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate`` for ``epochs`` epochs, then linearly down to zero at the end of ``decay_epochs`` more.

    Steps are optimizer iterations, ``steps_per_epoch`` of them an epoch. With ``decay_epochs = 0`` the
    rate stays constant.
    """

    def __init__(self, learning_rate: float, steps_per_epoch: int, epochs: int, decay_epochs: int):
        self.learning_rate = float(learning_rate)
        self.steps_per_epoch, self.epochs, self.decay_epochs = int(steps_per_epoch), int(epochs), int(decay_epochs)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        decay_start = float(self.epochs * self.steps_per_epoch)
        decay_steps = float(max(self.decay_epochs * self.steps_per_epoch, 1))
        done = keras.ops.clip((step - decay_start) / decay_steps, 0.0, 1.0) if self.decay_epochs else 0.0
        return self.learning_rate * (1.0 - done)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps_per_epoch": self.steps_per_epoch, "epochs": self.epochs,
                "decay_epochs": self.decay_epochs}


# ---------------------------------------------------------------- losses


def per_example_mean(x) -> tf.Tensor:
    """Float32 ``(N,)``: the mean of each example's values (pixels, patch scores)."""
    x = tf.cast(x, "float32")
    return tf.reduce_mean(tf.reshape(x, (tf.shape(x)[0], -1)), axis=1)


def lsgan_loss(scores, target: float) -> tf.Tensor:
    """Least-squares GAN loss of patch scores against ``target`` (1 real, 0 fake), per example."""
    return per_example_mean(tf.square(tf.cast(scores, "float32") - target))


def l1_loss(x, y) -> tf.Tensor:
    return per_example_mean(tf.abs(tf.cast(x, "float32") - tf.cast(y, "float32")))


def cycle_loss(real_a, real_b, fake_a, fake_b, generator_a2b, generator_b2a, training=False) -> tf.Tensor:
    """``|F(G(a)) - a| + |G(F(b)) - b|`` per example, from the fakes ``fake_b = G(a)`` and ``fake_a = F(b)``."""
    return (l1_loss(generator_b2a(fake_b, training=training), real_a)
            + l1_loss(generator_a2b(fake_a, training=training), real_b))


# ---------------------------------------------------------------- the family


@register_family
class CycleGAN(MultiOptimizerModel):
    family = "cyclegan"
    capabilities = frozenset({Capability.TRANSLATE})
    config_class = CycleGANConfig
    optimizer_defaults = AdversarialModel.optimizer_defaults  # Adam 2e-4, beta_1 0.5, as in the paper
    preview_file = "translations.png"
    preview_columns = 6
    limitations = (
        'It translates between the two domains it was trained on; images from neither domain give unpredictable results.',
        "It keeps the layout of its input (a translated sneaker keeps the sneaker's outline and size), and unpaired training has no ground truth: the FID against the target domain and the cycle L1 are its only figures.",
        'Some details are hidden in the translation to make the cycle back easy (Chu et al. 2017), so a round trip can look better than the one-way translation it passes through.',
    )
    two_domains = True
    tracked = ("d_loss", "g_loss", "adversarial", "cycle", "identity")

    def __init__(self, image_shape=(32, 32, 1), filters=64, n_res_blocks=6, disc_filters=64, n_layers=3,
                 cycle_weight=10.0, identity_weight=0.5, pool_size=50, decay_epochs=100, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)  # the training size (the pools'); translation takes any size
        blocks._downsampled(self.image_shape, 2)
        self.filters, self.n_res_blocks = int(filters), int(n_res_blocks)
        self.disc_filters, self.n_layers = int(disc_filters), int(n_layers)
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        self.pool_size, self.decay_epochs, self.seed = int(pool_size), int(decay_epochs), int(seed)
        channels, policy = self.image_shape[-1], self.dtype_policy.name
        self.generator_a2b = blocks.resnet_generator(channels, self.filters, self.n_res_blocks, name="generator_a2b",
                                                     dtype=policy)
        self.generator_b2a = blocks.resnet_generator(channels, self.filters, self.n_res_blocks, name="generator_b2a",
                                                     dtype=policy)
        self.discriminator_a = blocks.patch_discriminator(channels, self.disc_filters, self.n_layers,
                                                          name="discriminator_a", dtype=policy)
        self.discriminator_b = blocks.patch_discriminator(channels, self.disc_filters, self.n_layers,
                                                          name="discriminator_b", dtype=policy)
        self.pool_a = ImagePool(self.pool_size, self.image_shape, name="pool_a")  # fakes of A, for D_A
        self.pool_b = ImagePool(self.pool_size, self.image_shape, name="pool_b")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.tracked}
        self.built = True  # the networks are functional models, built above

    # ------------------------------------------------------------ recipes and config

    @classmethod
    def check_recipe(cls, recipe) -> None:
        d, where = recipe.data, f"[model] of {recipe.source or 'the recipe'}"
        if tuple(d.value_range) != VALUE_RANGE:
            raise RecipeError(f"family cyclegan in {where} translates images in [-1, 1] (tanh): set "
                              "data.value_range = [-1.0, 1.0]")
        if d.labels:
            raise RecipeError(f"family cyclegan in {where} trains on unlabelled images: set data.labels = false")
        if recipe.model.decay_epochs > recipe.train.epochs:
            raise RecipeError(f"model.decay_epochs = {recipe.model.decay_epochs} in {where} is more than train.epochs = "
                              f"{recipe.train.epochs}: the learning rate decays over the last decay_epochs of the run; "
                              "lower decay_epochs (0 keeps it constant) or raise train.epochs")
        if d.image_size[0] % SIZE_FACTOR or d.image_size[1] % SIZE_FACTOR:
            raise RecipeError(f"data.image_size {list(d.image_size)} is not divisible by {SIZE_FACTOR}, as the "
                              f"generators' two stride-2 downsamplings in {where} need; change data.image_size")

    def get_config(self):
        return {**super().get_config(), **self.hyperparameters()}

    # ------------------------------------------------------------ two optimizers

    def learning_rate(self, recipe, role: str, steps_per_epoch: int):
        """Constant for the first ``train.epochs - decay_epochs`` epochs, then linear to zero at the end of the run."""
        rate = recipe.optimizer[role].learning_rate
        if self.decay_epochs == 0:
            return rate
        steps = steps_per_epoch or recipe.train.steps_per_epoch
        if steps <= 0:
            raise RecipeError("cyclegan's learning-rate decay needs the steps per epoch: build the model through "
                              "zoo.train (which knows the data), or set train.steps_per_epoch")
        return ConstantThenLinearDecay(rate, steps, recipe.train.epochs - self.decay_epochs, self.decay_epochs)

    def role_variables(self, role: str) -> list:
        """One optimizer updates both generators, the other both discriminators (as in the reference)."""
        networks = {"generator": (self.generator_a2b, self.generator_b2a),
                    "discriminator": (self.discriminator_a, self.discriminator_b)}[role]
        return [v for network in networks for v in network.trainable_variables]

    # ------------------------------------------------------------ the networks

    def call(self, inputs, training=False):
        return self.generator_a2b(inputs, training=training)

    def _generator(self, direction: str):
        if direction not in DIRECTIONS:
            raise InputShapeError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        return self.generator_a2b if direction == "a2b" else self.generator_b2a

    # ------------------------------------------------------------ training

    def _seed(self, salt: int) -> tf.Tensor:
        """A stateless seed for draw ``salt`` of the current train step."""
        return self.step_seed(salt, self.train_steps.value)

    @staticmethod
    def _domains(data):
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("cyclegan trains on pairs of batches (images_a, images_b), one from each domain")
        return tf.cast(data[0], "float32"), tf.cast(data[1], "float32")

    def generator_losses(self, real_a, real_b, fake_a, fake_b, same_a=None, same_b=None, training=True) -> dict:
        """``{"loss": global-batch average to minimize, **metrics}`` of both generators, from this step's fakes
        and, if already made, the identity mappings ``same_a = F(a)`` and ``same_b = G(b)``."""
        adversarial = (lsgan_loss(self.discriminator_b(fake_b, training=training), 1.0)
                       + lsgan_loss(self.discriminator_a(fake_a, training=training), 1.0))
        cycle = cycle_loss(real_a, real_b, fake_a, fake_b, self.generator_a2b, self.generator_b2a, training=training)
        total = adversarial + self.cycle_weight * cycle
        identity = tf.zeros_like(cycle)
        if self.identity_weight > 0:
            if same_a is None:
                same_a, same_b = self.generator_b2a(real_a, training=training), self.generator_a2b(real_b, training=training)
            identity = l1_loss(same_b, real_b) + l1_loss(same_a, real_a)
            total += self.identity_weight * self.cycle_weight * identity
        return {"loss": tf.nn.compute_average_loss(total), "g_loss": tf.reduce_mean(total),
                "adversarial": tf.reduce_mean(adversarial), "cycle": tf.reduce_mean(cycle),
                "identity": tf.reduce_mean(identity)}

    def discriminator_losses(self, real_a, real_b, fake_a, fake_b, training=True) -> dict:
        """Both discriminators' halved LSGAN losses, summed (their variables are disjoint)."""
        total = tf.zeros_like(per_example_mean(real_a))
        for discriminator, real, fake in ((self.discriminator_a, real_a, fake_a), (self.discriminator_b, real_b, fake_b)):
            total += 0.5 * (lsgan_loss(discriminator(real, training=training), 1.0)
                            + lsgan_loss(discriminator(fake, training=training), 0.0))
        return {"loss": tf.nn.compute_average_loss(total), "d_loss": tf.reduce_mean(total)}

    def _update(self, role: str, losses_fn) -> dict:
        optimizer, variables = getattr(self, f"{role}_optimizer"), self.role_variables(role)
        with tf.GradientTape() as tape:
            losses = losses_fn()
            scaled_loss = optimizer.scale_loss(losses["loss"])  # a LossScaleOptimizer multiplies by its scale
        apply_gradients(optimizer, tape.gradient(scaled_loss, variables), variables)  # ... and unscales here
        return losses

    def train_step(self, data):
        real_a, real_b = self._domains(data)
        fakes = {}

        def generator_losses():  # the fakes are made under the tape: the generators learn through them
            if self.identity_weight <= 0:
                fakes["a"], fakes["b"] = self.generator_b2a(real_b, training=True), self.generator_a2b(real_a, training=True)
                return self.generator_losses(real_a, real_b, fakes["a"], fakes["b"])
            # Each generator translates and maps its own domain in one call: fewer, larger ops, and the same
            # results (instance norm is per image). About 1.05x a step on a 2-core CPU.
            fakes["a"], same_a = self._both(self.generator_b2a, real_b, real_a)
            fakes["b"], same_b = self._both(self.generator_a2b, real_a, real_b)
            return self.generator_losses(real_a, real_b, fakes["a"], fakes["b"], same_a, same_b)

        self._track(self._update("generator", generator_losses))
        # The discriminators see this step's fakes through the pools (a stored older fake half the time).
        pooled_a = self.pool_a.query(tf.stop_gradient(fakes["a"]), self._seed(0))
        pooled_b = self.pool_b.query(tf.stop_gradient(fakes["b"]), self._seed(1))
        self._track(self._update("discriminator",
                                 lambda: self.discriminator_losses(real_a, real_b, pooled_a, pooled_b)))
        self.train_steps.assign_add(1)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    @staticmethod
    def _both(generator, first, second):
        """``generator`` on ``first`` and ``second`` in one batch, split back."""
        out = generator(tf.concat([first, second], axis=0), training=True)
        return tf.split(out, [tf.shape(first)[0], tf.shape(second)[0]])

    def test_step(self, data):
        real_a, real_b = self._domains(data)
        fake_a, fake_b = self.generator_b2a(real_b), self.generator_a2b(real_a)
        self._track(self.generator_losses(real_a, real_b, fake_a, fake_b, training=False))
        self._track(self.discriminator_losses(real_a, real_b, fake_a, fake_b, training=False))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _track(self, losses: dict) -> None:
        for name, value in losses.items():
            if name in self.trackers:
                self.trackers[name].update_state(value)

    @property
    def metrics(self):
        return list(self.trackers.values())

    # ------------------------------------------------------------ user API

    def translate(self, images, direction: str = "a2b") -> tf.Tensor:
        """Images in [-1, 1] translated A -> B (``"a2b"``) or B -> A (``"b2a"``), float32 of the same shape.

        ``images`` are float ``(N, H, W, C)`` with H and W divisible by 4 (a grey batch may omit C).
        """
        self._generator(direction)  # an unknown direction is refused here
        x = tf.convert_to_tensor(images)
        channels = self.image_shape[-1]
        if not x.dtype.is_floating:
            raise InputShapeError(f"images must be floats in [-1, 1], got dtype {x.dtype.name}; "
                                  "scale uint8 pixels p to p / 127.5 - 1 first")
        if x.shape.rank == 3 and channels == 1:
            x = x[..., None]
        if x.shape.rank != 4 or x.shape[-1] != channels:
            raise InputShapeError(f"images must have shape (batch, height, width, {channels}), got {tuple(x.shape)}")
        if x.shape[1] % SIZE_FACTOR or x.shape[2] % SIZE_FACTOR:
            raise InputShapeError(f"image height and width must be divisible by {SIZE_FACTOR} (the generator "
                                  f"downsamples twice), got {x.shape[1]}x{x.shape[2]}; pad or resize them")
        if x.shape[0] == 0:
            return tf.zeros(x.shape, "float32")
        return self.compiled_method(f"_translate_{direction}")(tf.cast(x, "float32"))

    def _translate_a2b(self, images):
        return self.generator_a2b(images, training=False)

    def _translate_b2a(self, images):
        return self.generator_b2a(images, training=False)

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        channels, (height, width) = self.image_shape[-1], self.image_shape[:2]
        # Height and width are dynamic: parity at the training size and at a larger, non-square one.
        sizes = ((height, width), (height + 4 * SIZE_FACTOR, width + 2 * SIZE_FACTOR))
        functions = {"a2b": lambda images_a: {"images_b": self.generator_a2b(images_a)},
                     "b2a": lambda images_b: {"images_a": self.generator_b2a(images_b)}}
        found = []
        for direction, fn in functions.items():
            source, target = direction[0], direction[-1]
            inputs = TensorInfo(f"images_{source}", (None, None, None, channels), value_range=VALUE_RANGE,
                                description=f"domain {source.upper()} images in [-1, 1], height and width divisible by 4")
            outputs = TensorInfo(f"images_{target}", (None, None, None, channels), value_range=VALUE_RANGE,
                                 postprocess=IMAGE_POSTPROCESS[VALUE_RANGE],
                                 description=f"the images translated to domain {target.upper()}, in [-1, 1]")
            found.append(Endpoint(direction, fn, (inputs,), (outputs,), onnx=f"generator_{direction}",
                                  parity_sizes=sizes, description=f"domain {source.upper()} -> domain {target.upper()}"))
        return found

    @staticmethod
    def _split_domains(images, labels) -> tuple[np.ndarray, np.ndarray]:
        """Domain A and domain B images of an example batch (labels 0 and 1); without labels, all are both."""
        images = np.asarray(images, "float32")
        if labels is None:
            return images, images
        labels = np.asarray(labels)
        return images[labels == 0], images[labels == 1]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        images_a, images_b = self._split_domains(images, labels)
        return {"images_a": images_a, "images_b": images_b}

    def preview(self, images, labels=None) -> np.ndarray:
        """One row per pair: a, G(a), F(G(a)), then b, F(b), G(F(b)) (``preview_columns`` = 6)."""
        images_a, images_b = self._split_domains(images, labels)
        count = min(len(images_a), len(images_b))
        real_a, real_b = images_a[:count], images_b[:count]
        fake_b, fake_a = self.translate(real_a, "a2b"), self.translate(real_b, "b2a")
        columns = [real_a, fake_b, self.translate(fake_b, "b2a"), real_b, fake_a, self.translate(fake_a, "a2b")]
        columns = [np.asarray(c, "float32") for c in columns]
        return np.stack(columns, axis=1).reshape(-1, *real_a.shape[1:])
