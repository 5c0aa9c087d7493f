"""Group normalization (Wu & He 2018) computed the way a CPU runs it fast; the maths of Keras' layer.

Keras' ``GroupNormalization`` reshapes ``(N, H, W, C)`` maps into ``(N, H, W, G, C/G)`` and broadcasts its
statistics over that five-axis shape; on a CPU without XLA those broadcasts (and their gradients) are slow
kernels, and in the DDPM U-Net they took about a quarter of a train step. This layer reduces each channel over
height and width first, averages the channel means within each group (a small ``(N, C)`` tensor), and applies one
per-channel scale and shift, broadcast the way a bias is: forward and backward run 1.5-3x faster on
Fashion-MNIST-sized maps (``benchmarks/compare_keras_baseline.py`` times the U-Net it is part of). It is a
subclass with the same weights and config, so a network built with it loads Keras' weights and the reverse.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class GroupNormalization(keras.layers.GroupNormalization):
    """``keras.layers.GroupNormalization`` with a channel-first reduction for channels-last 4-D inputs.

    Other ranks and axes fall back to Keras' own computation. The variance is taken about the mean (two
    passes), as Keras does, so large activations keep their precision.
    """

    def call(self, inputs):
        if len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs)
        x = ops.cast(inputs, "float32")  # statistics in float32 under mixed precision too, as in Keras
        channels = inputs.shape[-1]
        size = channels // self.groups

        def group_mean(per_channel):
            """``(N, C)`` channel means -> their group's mean for every channel, shaped ``(N, 1, 1, C)``."""
            if size > 1:
                grouped = ops.mean(ops.reshape(per_channel, (-1, self.groups, size)), axis=-1, keepdims=True)
                per_channel = ops.broadcast_to(grouped, (ops.shape(per_channel)[0], self.groups, size))
            return ops.reshape(per_channel, (-1, 1, 1, channels))

        centred = x - group_mean(ops.mean(x, axis=(1, 2)))
        scale = ops.rsqrt(group_mean(ops.mean(ops.square(centred), axis=(1, 2))) + self.epsilon)
        if self.scale:
            scale = scale * ops.cast(self.gamma, "float32")
        outputs = centred * scale
        if self.center:
            outputs = outputs + ops.cast(self.beta, "float32")
        return ops.cast(outputs, self.compute_dtype)
