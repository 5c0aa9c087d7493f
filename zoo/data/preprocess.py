"""What every image goes through before a model sees it: channels, size and value range, and the training augmentation."""

from __future__ import annotations

import tensorflow as tf

from zoo.config import BACKGROUNDS, DataConfig
from zoo.errors import DataError


def preprocess(images, cfg: DataConfig) -> tf.Tensor:
    """A batch of pixels (uint8, or float in [0, 255]), (N, H, W) or (N, H, W, C), to what the model sees.

    Returns float32 ``(N, *cfg.image_size, cfg.channels)`` in ``cfg.value_range``: channels converted
    (grey <-> RGB; RGBA composited on ``cfg.background``), then resized with ``cfg.resize`` ("pad" centre-pads or
    centre-crops without scaling). Works eagerly and inside ``tf.data`` maps.
    """
    x = tf.convert_to_tensor(images)
    if x.shape.rank == 3:
        x = x[..., None]
    if x.shape.rank != 4:
        raise DataError(f"images must have shape (N, H, W) or (N, H, W, C), got {tuple(x.shape)}")
    x = tf.cast(x, tf.float32)
    channels = x.shape[-1]
    if channels == 4:
        alpha = x[..., 3:] / 255.0
        x = x[..., :3] * alpha + BACKGROUNDS[cfg.background] * (1.0 - alpha)
        channels = 3
    if channels not in (1, 3):
        raise DataError(f"images have {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)")
    if channels == 1 and cfg.channels == 3:
        x = tf.image.grayscale_to_rgb(x)
    elif channels == 3 and cfg.channels == 1:
        x = tf.image.rgb_to_grayscale(x)
    height, width = (int(s) for s in cfg.image_size)
    if tuple(x.shape[1:3]) != (height, width):
        if cfg.resize == "pad":
            x = tf.image.resize_with_crop_or_pad(x, height, width)
        else:
            x = tf.image.resize(x, (height, width), method=cfg.resize)
    low, high = cfg.value_range
    return x * ((high - low) / 255.0) + low


def augment(images, cfg: DataConfig, seed) -> tf.Tensor:
    """The training augmentation of a preprocessed batch, per image: CycleGAN's resize up to ``cfg.load_size``
    and random crop back to ``cfg.image_size`` (or a reflected padding of ``cfg.crop_padding`` and the crop), then a left-right flip with probability 0.5 (``cfg.random_flip``),
    then the pixel perturbation of :func:`perturb` (``cfg.perturb_rate``).

    ``seed`` is a stateless seed, shape (2,): the same seed gives the same crops and flips.
    """
    x = tf.convert_to_tensor(images)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    n = tf.shape(x)[0]
    if cfg.load_size:
        x = _random_crop(tf.image.resize(x, cfg.load_size), cfg.image_size, crop_seed)
    elif cfg.crop_padding:
        pad = cfg.crop_padding
        x = _random_crop(tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT"), cfg.image_size, crop_seed)
    if cfg.random_flip:
        flip = tf.random.stateless_uniform((n,), flip_seed) < 0.5
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    if cfg.perturb_rate:
        x = perturb(x, cfg, tf.random.experimental.stateless_fold_in(seed, 2))
    return x


def _random_crop(x, size, seed) -> tf.Tensor:
    """A ``size`` (height, width) window of each image at a seeded random place."""
    (height, width), n = size, tf.shape(x)[0]
    row_seed, col_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    top = tf.random.stateless_uniform((n, 1), row_seed, maxval=tf.shape(x)[1] - height + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform((n, 1), col_seed, maxval=tf.shape(x)[2] - width + 1, dtype=tf.int32)
    x = tf.gather(x, top + tf.range(height)[None], axis=1, batch_dims=1)
    return tf.gather(x, left + tf.range(width)[None], axis=2, batch_dims=1)


def perturb(images, cfg: DataConfig, seed) -> tf.Tensor:
    """Each pixel (all its channels) replaced, with probability ``cfg.perturb_rate``, by one of the 256 grey levels
    drawn uniformly, in ``cfg.value_range``: the input perturbation of Ren et al. (2019, "Likelihood ratios for
    out-of-distribution detection"), whose background model learns the population statistics but not the semantics.
    ``seed`` is a stateless seed, shape (2,)."""
    x = tf.convert_to_tensor(images)
    mask_seed, value_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.concat([tf.shape(x)[:3], [1]], 0)
    replace = tf.random.stateless_uniform(shape, mask_seed) < cfg.perturb_rate
    levels = tf.cast(tf.random.stateless_uniform(shape, value_seed, maxval=256, dtype=tf.int32), x.dtype)
    low, high = cfg.value_range
    return tf.where(replace, levels * ((high - low) / 255.0) + low, x)
