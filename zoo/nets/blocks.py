"""Shared networks: convolutional and dense encoders and decoders, built once and reused by the families.

Each builder returns a functional ``keras.Model`` with named inputs and deterministic
layer names, so two builds of the same configuration have the same weight order
(the exporter relies on this to make a float32 copy of a mixed-precision model).
``dtype`` is a Keras dtype policy name passed to every layer; the last layer is kept
in float32 so that losses and exported outputs are float32 under mixed precision.
With ``num_classes > 0`` a network also takes int32 ``labels`` (conditional models): they
enter as one-hot vectors, or as a learned embedding of size ``label_embedding``.
BatchNorm is synchronized: under tf.distribute its batch statistics are those of the global
batch, so a network trains the same on one replica or many.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from zoo.nets.convolution import Conv2D
from zoo.nets.normalization import GroupNormalization


def _downsampled(image_shape, stages: int) -> tuple[int, int]:
    height, width = image_shape[0], image_shape[1]
    factor = 2**stages
    if height % factor or width % factor:
        raise ValueError(f"image size {height}x{width} must be divisible by {factor} for {stages} stride-2 stages; "
                         "change filters or pad the images (data.resize = \"pad\")")
    return height // factor, width // factor


def label_input(num_classes: int, label_embedding: int, *, name: str, dtype=None):
    """An int32 ``labels`` input and its features: one-hot, or a learned embedding."""
    labels = keras.Input((), dtype="int32", name="labels")
    if label_embedding > 0:
        features = layers.Embedding(num_classes, label_embedding, dtype=dtype, name=f"{name}_label_embedding")(labels)
    else:
        features = layers.CategoryEncoding(num_classes, output_mode="one_hot", dtype=dtype,
                                           name=f"{name}_label_onehot")(labels)
    return labels, features


def _with_labels(x, inputs, num_classes, label_embedding, name, dtype):
    """Concatenate label features to ``x`` when the network is conditional; return (x, inputs)."""
    if num_classes <= 0:
        return x, inputs
    labels, features = label_input(num_classes, label_embedding, name=name, dtype=dtype)
    x = layers.Concatenate(dtype=dtype, name=f"{name}_with_labels")([x, features])
    return x, [inputs, labels]


def conv_encoder(image_shape, filters, out_dim: int, *, name: str = "encoder", dtype=None,
                 num_classes: int = 0, label_embedding: int = 0) -> keras.Model:
    """Stride-2 3x3 convolutions (one per entry of ``filters``), then a dense layer to ``out_dim``."""
    _downsampled(image_shape, len(filters))
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for i, width in enumerate(filters):
        x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", dtype=dtype, name=f"{name}_conv{i}")(x)
    x = layers.Flatten(dtype=dtype, name=f"{name}_flatten")(x)
    x, inputs = _with_labels(x, images, num_classes, label_embedding, name, dtype)
    out = layers.Dense(out_dim, dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, out, name=name)


def conv_decoder(in_dim: int, image_shape, filters, *, name: str = "decoder", dtype=None,
                 input_name: str = "latent", num_classes: int = 0, label_embedding: int = 0,
                 label_maps: bool = False) -> keras.Model:
    """Mirror of :func:`conv_encoder`: dense to a small feature map, stride-2 transposed convolutions
    (``filters`` read from last to first), then a 3x3 convolution to the image's channels.

    Returns pre-activation outputs (logits); the family applies the output activation.
    ``Conv2DTranspose`` rather than ``UpSampling2D`` keeps XLA training possible. With ``label_maps`` a
    conditional decoder also sees its label features as constant maps beside every stage's input, not only
    beside the latent, so that every layer is told the class.
    """
    height, width = _downsampled(image_shape, len(filters))
    z = keras.Input((in_dim,), name=input_name)
    x, inputs, features = z, z, None
    if num_classes > 0:
        labels, features = label_input(num_classes, label_embedding, name=name, dtype=dtype)
        x, inputs = layers.Concatenate(dtype=dtype, name=f"{name}_with_labels")([z, features]), [z, labels]
    x = layers.Dense(height * width * filters[-1], activation="relu", dtype=dtype, name=f"{name}_dense")(x)
    x = layers.Reshape((height, width, filters[-1]), dtype=dtype, name=f"{name}_reshape")(x)
    if label_maps and features is not None:
        label_map = layers.Reshape((1, 1, features.shape[-1]), dtype=dtype, name=f"{name}_label_map")(features)
    for i, width_ in enumerate(reversed(filters)):
        if label_maps and features is not None:
            tiled = layers.UpSampling2D((x.shape[1], x.shape[2]), dtype=dtype, name=f"{name}_label_map{i}")(label_map)
            x = layers.Concatenate(dtype=dtype, name=f"{name}_deconv{i}_with_labels")([x, tiled])
        x = layers.Conv2DTranspose(width_, 3, strides=2, padding="same", activation="relu", dtype=dtype,
                                   name=f"{name}_deconv{i}")(x)
    out = Conv2D(image_shape[-1], 3, padding="same", dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, out, name=name)


def dense_encoder(image_shape, hidden_units, out_dim: int, *, name: str = "encoder", dtype=None,
                  num_classes: int = 0, label_embedding: int = 0) -> keras.Model:
    """Flatten, ReLU dense layers of ``hidden_units``, then a dense layer to ``out_dim``."""
    images = keras.Input(tuple(image_shape), name="images")
    x = layers.Flatten(dtype=dtype, name=f"{name}_flatten")(images)
    x, inputs = _with_labels(x, images, num_classes, label_embedding, name, dtype)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"{name}_dense{i}")(x)
    out = layers.Dense(out_dim, dtype="float32", name=f"{name}_out")(x)
    return keras.Model(inputs, out, name=name)


def dense_decoder(in_dim: int, image_shape, hidden_units, *, name: str = "decoder", dtype=None,
                  input_name: str = "latent", num_classes: int = 0, label_embedding: int = 0) -> keras.Model:
    """Mirror of :func:`dense_encoder`; returns pre-activation outputs shaped like the image."""
    z = keras.Input((in_dim,), name=input_name)
    x, inputs = _with_labels(z, z, num_classes, label_embedding, name, dtype)
    for i, units in enumerate(reversed(hidden_units)):
        x = layers.Dense(units, activation="relu", dtype=dtype, name=f"{name}_dense{i}")(x)
    x = layers.Dense(math.prod(image_shape), dtype="float32", name=f"{name}_out")(x)
    out = layers.Reshape(tuple(image_shape), dtype="float32", name=f"{name}_reshape")(x)
    return keras.Model(inputs, out, name=name)


def encoder_decoder(architecture: str, image_shape, latent_dim: int, *, filters, hidden_units, code_dim=None,
                    dtype=None, num_classes: int = 0, label_embedding: int = 0, label_maps: bool = False):
    """An encoder to ``code_dim`` outputs (default ``latent_dim``) and the mirror decoder from ``latent_dim``,
    convolutional (``filters``) or dense (``hidden_units``): the pair every autoencoding family uses."""
    options = {"dtype": dtype, "num_classes": num_classes, "label_embedding": label_embedding}
    if architecture == "conv":
        return (conv_encoder(image_shape, filters, code_dim or latent_dim, **options),
                conv_decoder(latent_dim, image_shape, filters, label_maps=label_maps, **options))
    if architecture == "dense":
        return (dense_encoder(image_shape, hidden_units, code_dim or latent_dim, **options),
                dense_decoder(latent_dim, image_shape, hidden_units, **options))
    raise ValueError(f"unknown architecture {architecture!r}: use \"conv\" or \"dense\"")


# ---------------------------------------------------------------- adversarial networks (GANs)
#
# DCGAN-style networks (Radford et al. 2016) shared by the GAN families: a generator from latent
# codes to images in [-1, 1], and a discriminator (or WGAN critic) from images to one score.


def gan_generator(latent_dim: int, image_shape, filters, *, name: str = "generator", dtype=None,
                  num_classes: int = 0, label_embedding: int = 0) -> keras.Model:
    """Latent ``z`` (and labels) -> dense -> ``(H / 2^k, W / 2^k, filters[0])`` -> stride-2 4x4 ``Conv2DTranspose``
    stages with BatchNorm and ReLU (widths ``filters[1:]``) -> a last stride-2 stage to the image's channels, ``tanh``.

    ``k = len(filters)`` doublings of resolution, so ``filters = (128, 64)`` makes 28x28 images from 7x7 maps.
    ``Conv2DTranspose`` rather than ``UpSampling2D``: XLA has no gradient of nearest-neighbour resizing.
    """
    height, width = _downsampled(image_shape, len(filters))
    z = keras.Input((latent_dim,), name="z")
    x, inputs = _with_labels(z, z, num_classes, label_embedding, name, dtype)
    x = layers.Dense(height * width * filters[0], use_bias=False, dtype=dtype, name=f"{name}_dense")(x)
    x = layers.BatchNormalization(synchronized=True, dtype=dtype, name=f"{name}_dense_bn")(x)
    x = layers.ReLU(dtype=dtype, name=f"{name}_dense_relu")(x)
    x = layers.Reshape((height, width, filters[0]), dtype=dtype, name=f"{name}_reshape")(x)
    for i, units in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(units, 4, strides=2, padding="same", use_bias=False, dtype=dtype,
                                   name=f"{name}_deconv{i}")(x)
        x = layers.BatchNormalization(synchronized=True, dtype=dtype, name=f"{name}_deconv{i}_bn")(x)
        x = layers.ReLU(dtype=dtype, name=f"{name}_deconv{i}_relu")(x)
    out = layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", activation="tanh", dtype="float32",
                                 name=f"{name}_out")(x)
    return keras.Model(inputs, out, name=name)


def gan_discriminator(image_shape, filters, *, norm: str = "batch", name: str = "discriminator", dtype=None,
                      num_classes: int = 0) -> keras.Model:
    """Images (and labels) -> stride-2 4x4 convolutions with LeakyReLU(0.2), no pooling -> one float32 score.

    ``norm`` follows every convolution but the first: ``"batch"`` (DCGAN), ``"layer"`` or ``"none"`` (a WGAN-GP
    critic, whose per-example gradient penalty BatchNorm would break). With ``num_classes`` it is a projection
    discriminator (Miyato & Koyama 2018): score = w.phi(x) + b + embed(y).phi(x).
    """
    _downsampled(image_shape, len(filters))
    images = keras.Input(tuple(image_shape), name="images")
    x = images
    for i, units in enumerate(filters):
        normalized = i > 0 and norm != "none"
        x = layers.Conv2D(units, 4, strides=2, padding="same", use_bias=not normalized, dtype=dtype,
                          name=f"{name}_conv{i}")(x)
        if normalized and norm == "batch":
            x = layers.BatchNormalization(synchronized=True, dtype=dtype, name=f"{name}_conv{i}_bn")(x)
        elif normalized:
            x = layers.LayerNormalization(axis=(1, 2, 3), dtype=dtype, name=f"{name}_conv{i}_ln")(x)
        x = layers.LeakyReLU(0.2, dtype=dtype, name=f"{name}_conv{i}_lrelu")(x)
    features = layers.Flatten(dtype=dtype, name=f"{name}_flatten")(x)
    score = layers.Dense(1, dtype="float32", name=f"{name}_out")(features)
    if num_classes <= 0:
        return keras.Model(images, score, name=name)
    labels, embedded = label_input(num_classes, features.shape[-1], name=f"{name}_projection", dtype=dtype)
    projection = layers.Dot(axes=1, dtype="float32", name=f"{name}_projection")([embedded, features])
    score = layers.Add(dtype="float32", name=f"{name}_score")([score, projection])
    return keras.Model([images, labels], score, name=name)


# ---------------------------------------------------------------- image-to-image networks (CycleGAN)
#
# The networks of CycleGAN (Zhu et al. 2017, appendix 7.2): a ResNet generator (Johnson et al. 2016)
# from images to images of the same size, and a PatchGAN discriminator (Isola et al. 2017) that
# scores overlapping patches. Both take any height and width (the generator: divisible by 4), and
# use instance normalization as ``GroupNormalization(groups=-1)`` (one group per channel), so no
# tensorflow-addons. As in the reference implementation, weights start from N(0, 0.02) and the
# normalization learns no scale or offset.


@keras.saving.register_keras_serializable(package="zoo")
class ReflectionPadding2D(layers.Layer):
    """Pad height and width by ``padding`` pixels on each side, mirroring the image (no border artefacts)."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return keras.ops.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")

    def compute_output_shape(self, input_shape):
        grow = lambda size: None if size is None else size + 2 * self.padding  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _reference_init():
    """The reference implementation's weights: N(0, 0.02)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def _normalized(x, *, name: str, dtype, activation: str = "relu"):
    """Instance normalization without learned scale and offset (as in the reference), then ``activation``
    ("relu", "leaky_relu" with slope 0.2, or "none")."""
    x = GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False, dtype=dtype, name=f"{name}_in")(x)
    if activation == "relu":
        return layers.ReLU(dtype=dtype, name=f"{name}_relu")(x)
    if activation == "leaky_relu":
        return layers.LeakyReLU(0.2, dtype=dtype, name=f"{name}_lrelu")(x)
    return x


def _c7s1(x, width: int, *, name: str, dtype, **conv_options):
    """The paper's c7s1-k: reflection padding 3, a 7x7 stride-1 convolution to ``width`` channels."""
    x = ReflectionPadding2D(3, dtype=dtype, name=f"{name}_pad")(x)
    return Conv2D(width, 7, padding="valid", kernel_initializer=_reference_init(), dtype=dtype, name=f"{name}_conv",
                  **conv_options)(x)


def _residual_block(x, width: int, *, name: str, dtype):
    """The paper's R-k: two reflection-padded 3x3 convolutions with instance norm, added to the input."""
    y = x
    for j, activation in enumerate(("relu", "none")):
        y = ReflectionPadding2D(1, dtype=dtype, name=f"{name}_pad{j}")(y)
        y = layers.Conv2D(width, 3, padding="valid", use_bias=False, kernel_initializer=_reference_init(), dtype=dtype,
                          name=f"{name}_conv{j}")(y)
        y = _normalized(y, name=f"{name}_conv{j}", dtype=dtype, activation=activation)
    return layers.Add(dtype=dtype, name=f"{name}_add")([x, y])


def resnet_generator(channels: int, filters: int = 64, n_res_blocks: int = 9, *, name: str = "generator",
                     dtype=None) -> keras.Model:
    """Images ``(N, H, W, channels)`` in [-1, 1] -> images of the same shape, ``tanh``: the paper's
    c7s1-f, d2f, d4f, ``n_res_blocks`` x R4f, u2f, uf, c7s1-channels with ``f = filters`` (64 in the paper).

    Stride-2 3x3 convolutions down and 3x3 ``Conv2DTranspose`` up (``UpSampling2D`` has no XLA gradient),
    so H and W must be divisible by 4. Instance norm and ReLU follow every convolution but the last.
    """
    images = keras.Input((None, None, channels), name="images")
    x = _c7s1(images, filters, name=f"{name}_c7s1", dtype=dtype, use_bias=False)
    x = _normalized(x, name=f"{name}_c7s1", dtype=dtype)
    for i in range(2):
        x = layers.Conv2D(filters * 2 ** (i + 1), 3, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_reference_init(), dtype=dtype, name=f"{name}_down{i}")(x)
        x = _normalized(x, name=f"{name}_down{i}", dtype=dtype)
    for i in range(n_res_blocks):
        x = _residual_block(x, filters * 4, name=f"{name}_res{i}", dtype=dtype)
    for i in range(2):
        x = layers.Conv2DTranspose(filters * 2 ** (1 - i), 3, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_reference_init(), dtype=dtype, name=f"{name}_up{i}")(x)
        x = _normalized(x, name=f"{name}_up{i}", dtype=dtype)
    out = _c7s1(x, channels, name=f"{name}_out", dtype="float32", activation="tanh")
    return keras.Model(images, out, name=name)


def patch_discriminator(channels: int, filters: int = 64, n_layers: int = 3, *, name: str = "discriminator",
                        dtype=None) -> keras.Model:
    """Images -> a one-channel map of float32 patch scores (logits; LSGAN compares them with 0 and 1).

    ``n_layers`` stride-2 4x4 convolutions (widths ``filters * 2^i``, at most ``8 * filters``), a stride-1 4x4
    convolution, then a stride-1 4x4 convolution to one channel; LeakyReLU(0.2) throughout and instance norm on
    all but the first. With ``n_layers = 3`` each score sees a 70x70 patch (the paper's 70x70 PatchGAN).
    """
    images = keras.Input((None, None, channels), name="images")
    x = images
    for i in range(n_layers + 1):
        first, strides = i == 0, 2 if i < n_layers else 1
        x = layers.Conv2D(filters * min(2**i, 8), 4, strides=strides, padding="same", use_bias=first,
                          kernel_initializer=_reference_init(), dtype=dtype, name=f"{name}_conv{i}")(x)
        if first:
            x = layers.LeakyReLU(0.2, dtype=dtype, name=f"{name}_conv{i}_lrelu")(x)
        else:
            x = _normalized(x, name=f"{name}_conv{i}", dtype=dtype, activation="leaky_relu")
    out = Conv2D(1, 4, padding="same", kernel_initializer=_reference_init(), dtype="float32", name=f"{name}_out")(x)
    return keras.Model(images, out, name=name)
