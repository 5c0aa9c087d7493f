"""DCGAN (Radford et al. 2016): a transposed-convolution generator against a strided-convolution discriminator.

The discriminator outputs one logit and is trained with binary cross-entropy; the generator
with the non-saturating loss -log D(G(z)) (Goodfellow et al. 2014), which has strong gradients
early on when the discriminator easily rejects fakes. One-sided label smoothing (Salimans et
al. 2016) optionally lowers only the real targets, to ``1 - label_smoothing``.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from zoo.schema import spec
from zoo.models.adversarial import AdversarialModel, GANConfig
from zoo.models.registry import register_family


@dataclass(frozen=True)
class DCGANConfig(GANConfig):
    family: str = spec("dcgan")
    label_smoothing: float = spec(0.0, min=0.0, max=0.5,
                                  help="one-sided: real targets become 1 - label_smoothing (fakes stay 0)")


def _bce(targets: float, logits) -> tf.Tensor:
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), targets), logits=logits)


@register_family
class DCGAN(AdversarialModel):
    family = "dcgan"
    config_class = DCGANConfig

    def __init__(self, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.label_smoothing = float(label_smoothing)

    def discriminator_losses(self, real, fake, labels, seed, training=True) -> dict:
        real_logits = self.score(real, labels, training=training)
        fake_logits = self.score(fake, labels, training=training)
        per_example = _bce(1.0 - self.label_smoothing, real_logits) + _bce(0.0, fake_logits)
        return self._loss_terms(per_example, "d_loss")

    def generator_losses(self, z, labels, training=True) -> dict:
        return self._loss_terms(_bce(1.0, self.score(self.fake(z, labels, training=training), labels, training=training)),
                            "g_loss")
