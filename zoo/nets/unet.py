"""The denoising U-Net of DDPM (Ho et al. 2020, appendix B), a shared building block.

Inputs ``x_t`` (images) and ``t`` (int32 timesteps), and with ``num_classes`` > 0 a ``label`` (int32 class
ids, ``num_classes`` being the null class of classifier-free guidance); output a tensor shaped like ``x_t``
(the predicted noise or v). The timestep enters as a sinusoidal embedding (Vaswani et al. 2017)
through a two-layer MLP, plus a learned embedding of the label, and is added inside every residual block; residual blocks use
group normalization (:mod:`zoo.nets.normalization`) and swish; self-attention follows the residual blocks at the chosen
resolutions. Each entry of ``widths`` is one resolution: ``num_res_blocks`` residual blocks, then
a stride-2 convolution down (but after the last); the decoder mirrors it with skip connections
and nearest-neighbour upsampling. Images whose size is not divisible by ``2^(len(widths) - 1)``
are zero-padded on the way in and cropped on the way out, so 28x28 works at any depth.

Every layer is standard Keras or registered here, so the model saves in ``.keras`` and converts
with tf2onnx.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from zoo.nets.convolution import Conv2D
from zoo.nets.normalization import GroupNormalization


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalEmbedding(layers.Layer):
    """Integer timesteps ``(N,)`` -> ``(N, dim)``: ``sin`` and ``cos`` of ``t`` at geometric frequencies 1 .. 1/max_period."""

    def __init__(self, dim: int, max_period: float = 10_000.0, **kwargs):
        super().__init__(**kwargs)
        if dim % 2:
            raise ValueError(f"the timestep embedding needs an even size, got {dim}")
        self.dim, self.max_period = int(dim), float(max_period)

    def call(self, t):
        half = self.dim // 2
        frequencies = ops.exp(-math.log(self.max_period) * ops.arange(half, dtype="float32") / half)
        angles = ops.cast(ops.reshape(t, (-1, 1)), "float32") * frequencies[None, :]
        return ops.cast(ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="zoo")
class NearestUpsampling2D(layers.Layer):
    """Double height and width by repeating pixels; unlike ``UpSampling2D`` it has an XLA gradient."""

    def call(self, x):
        return ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)

    def compute_output_shape(self, input_shape):
        grow = lambda size: None if size is None else 2 * size  # noqa: E731
        return (input_shape[0], grow(input_shape[1]), grow(input_shape[2]), input_shape[3])


def unet_sizes(image_shape, levels: int) -> tuple[tuple[int, int], list[int]]:
    """The padding ``(rows, columns)`` added to reach a multiple of ``2^(levels - 1)``, and the feature-map height of each level."""
    factor = 2 ** (levels - 1)
    pad = ((-image_shape[0]) % factor, (-image_shape[1]) % factor)
    height = image_shape[0] + pad[0]
    return pad, [height // 2**i for i in range(levels)]


def _groups(channels: int, norm_groups: int) -> int:
    return math.gcd(channels, norm_groups)


def _residual_block(x, temb, width: int, *, norm_groups: int, name: str, dtype):
    """GN, swish, 3x3 conv; plus a projection of the time embedding; GN, swish, 3x3 conv; plus the input."""
    h = GroupNormalization(_groups(x.shape[-1], norm_groups), dtype=dtype, name=f"{name}_norm0")(x)
    h = layers.Activation("swish", dtype=dtype, name=f"{name}_swish0")(h)
    h = layers.Conv2D(width, 3, padding="same", dtype=dtype, name=f"{name}_conv0")(h)
    shift = layers.Dense(width, dtype=dtype, name=f"{name}_time")(layers.Activation("swish", dtype=dtype, name=f"{name}_time_swish")(temb))
    h = layers.Add(dtype=dtype, name=f"{name}_add_time")([h, layers.Reshape((1, 1, width), dtype=dtype, name=f"{name}_time_map")(shift)])
    h = GroupNormalization(_groups(width, norm_groups), dtype=dtype, name=f"{name}_norm1")(h)
    h = layers.Activation("swish", dtype=dtype, name=f"{name}_swish1")(h)
    h = layers.Conv2D(width, 3, padding="same", dtype=dtype, name=f"{name}_conv1")(h)
    if x.shape[-1] != width:
        x = layers.Conv2D(width, 1, dtype=dtype, name=f"{name}_skip")(x)
    return layers.Add(dtype=dtype, name=f"{name}_add")([x, h])


def _attention_block(x, *, norm_groups: int, name: str, dtype):
    """Single-head self-attention over all positions of the map, added to the input."""
    height, width, channels = x.shape[1:]
    h = GroupNormalization(_groups(channels, norm_groups), dtype=dtype, name=f"{name}_norm")(x)
    tokens = layers.Reshape((height * width, channels), dtype=dtype, name=f"{name}_tokens")(h)
    attended = layers.MultiHeadAttention(1, channels, dtype=dtype, name=f"{name}_mha")(tokens, tokens)
    h = layers.Reshape((height, width, channels), dtype=dtype, name=f"{name}_map")(attended)
    return layers.Add(dtype=dtype, name=f"{name}_add")([x, h])


def unet(image_shape, widths=(32, 64, 128), num_res_blocks: int = 2, attention_resolutions=(7,),
         norm_groups: int = 32, num_classes: int = 0, *, name: str = "denoiser", dtype=None) -> keras.Model:
    """The U-Net ``[x_t, t] -> prediction`` (float32, shaped like ``x_t``), ``[x_t, t, label]`` with classes.

    ``attention_resolutions`` are feature-map heights (of the padded input) that get self-attention;
    ``norm_groups`` is the GroupNormalization group count, reduced to a divisor of each width;
    ``num_classes`` > 0 adds an embedding of ``num_classes + 1`` labels to the time embedding, the last one the
    null label that stands for "no class" (Ho & Salimans 2022).
    """
    widths = tuple(int(w) for w in widths)
    pad, sizes = unet_sizes(image_shape, len(widths))
    unknown = sorted(set(attention_resolutions) - set(sizes))
    if unknown:
        raise ValueError(f"attention_resolutions {unknown} are not feature-map sizes of this U-Net; "
                         f"with widths {list(widths)} on {image_shape[0]}x{image_shape[1]} they are {sizes}")
    x_t = keras.Input(tuple(image_shape), name="x_t")
    t = keras.Input((), dtype="int32", name="t")

    temb_dim = 4 * widths[0]
    temb = SinusoidalEmbedding(widths[0], dtype=dtype, name=f"{name}_time_embedding")(t)
    temb = layers.Dense(temb_dim, activation="swish", dtype=dtype, name=f"{name}_time_mlp0")(temb)
    temb = layers.Dense(temb_dim, dtype=dtype, name=f"{name}_time_mlp1")(temb)
    inputs = [x_t, t]
    if num_classes:
        label = keras.Input((), dtype="int32", name="label")
        inputs.append(label)
        embedded = layers.Embedding(num_classes + 1, temb_dim, dtype=dtype, name=f"{name}_label_embedding")(label)
        temb = layers.Add(dtype=dtype, name=f"{name}_add_label")([temb, embedded])

    x = x_t
    if any(pad):
        x = layers.ZeroPadding2D(((pad[0] // 2, pad[0] - pad[0] // 2), (pad[1] // 2, pad[1] - pad[1] // 2)),
                                 dtype=dtype, name=f"{name}_pad")(x)
    x = layers.Conv2D(widths[0], 3, padding="same", dtype=dtype, name=f"{name}_conv_in")(x)
    skips = [x]
    options = {"norm_groups": norm_groups, "dtype": dtype}
    for level, width in enumerate(widths):
        for block in range(num_res_blocks):
            x = _residual_block(x, temb, width, name=f"{name}_down{level}_res{block}", **options)
            if sizes[level] in attention_resolutions:
                x = _attention_block(x, name=f"{name}_down{level}_attn{block}", **options)
            skips.append(x)
        if level < len(widths) - 1:
            x = layers.Conv2D(width, 3, strides=2, padding="same", dtype=dtype, name=f"{name}_down{level}_downsample")(x)
            skips.append(x)

    x = _residual_block(x, temb, widths[-1], name=f"{name}_mid_res0", **options)
    x = _attention_block(x, name=f"{name}_mid_attn", **options)
    x = _residual_block(x, temb, widths[-1], name=f"{name}_mid_res1", **options)

    for level in reversed(range(len(widths))):
        for block in range(num_res_blocks + 1):
            x = layers.Concatenate(dtype=dtype, name=f"{name}_up{level}_skip{block}")([x, skips.pop()])
            x = _residual_block(x, temb, widths[level], name=f"{name}_up{level}_res{block}", **options)
            if sizes[level] in attention_resolutions:
                x = _attention_block(x, name=f"{name}_up{level}_attn{block}", **options)
        if level > 0:
            x = NearestUpsampling2D(dtype=dtype, name=f"{name}_up{level}_upsample")(x)
            x = layers.Conv2D(widths[level], 3, padding="same", dtype=dtype, name=f"{name}_up{level}_upsample_conv")(x)

    x = GroupNormalization(_groups(widths[0], norm_groups), dtype=dtype, name=f"{name}_norm_out")(x)
    x = layers.Activation("swish", dtype=dtype, name=f"{name}_swish_out")(x)
    # Zero-initialized, as in Ho et al.'s code: the untrained network predicts 0 and the loss starts at E[target^2].
    x = Conv2D(image_shape[-1], 3, padding="same", kernel_initializer="zeros", dtype="float32",
               name=f"{name}_conv_out")(x)
    if any(pad):
        x = layers.Cropping2D(((pad[0] // 2, pad[0] - pad[0] // 2), (pad[1] // 2, pad[1] - pad[1] // 2)),
                              dtype="float32", name=f"{name}_crop")(x)
    return keras.Model(inputs, x, name=name)
