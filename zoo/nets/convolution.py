"""A convolution to one channel computed the way a CPU runs it fast; the maths of Keras' ``Conv2D``.

The last layer of an image decoder or denoiser maps many channels to one (a grey image, a patch score).
oneDNN's convolution kernels vectorize over output channels, so such a layer runs at a fraction of their
speed, and its gradients too. Summing a depthwise convolution over the input channels is the same sum in
another order: forward and backward run 1.3-1.8x faster on the zoo's output layers (the DDPM U-Net's
64 -> 1 and CycleGAN's 7x7 16 -> 1), which makes a CycleGAN train step about 1.1x and a conv VAE's 1.15x as
fast (a DDPM step, dominated by its wide layers, is unchanged). It is a subclass with the same weights and
config, so a network built with it loads Keras' weights and the reverse.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class Conv2D(keras.layers.Conv2D):
    """``keras.layers.Conv2D``; with ``filters = 1`` a depthwise convolution summed over the input channels.

    Its kernel ``(kh, kw, in, 1)`` is already a depthwise kernel with a channel multiplier of 1. Other
    layers (more filters, groups, dilation, channels-first, unequal strides) use Keras' own computation.
    """

    def convolution_op(self, inputs, kernel):
        if (self.filters != 1 or self.groups != 1 or self.data_format != "channels_last"
                or tuple(self.dilation_rate) != (1, 1) or self.strides[0] != self.strides[1]):
            return super().convolution_op(inputs, kernel)
        per_channel = ops.depthwise_conv(inputs, kernel, strides=self.strides[0], padding=self.padding)
        return ops.sum(per_channel, axis=-1, keepdims=True)
