"""Conditional GAN (Mirza & Osindero 2014): generator and discriminator both see the class label.

The generator gets the label as a one-hot vector (or a learned embedding) next to z; the
discriminator is a projection discriminator (Miyato & Koyama 2018), which adds the inner product
of a learned class embedding with its features to its logit. Training is DCGAN's (the
non-saturating loss), with the real batch's labels also conditioning the fakes.
``generate(z, labels)``; ``zoo sample NAME --label 3``.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.schema import spec
from zoo.models.base import Capability
from zoo.models.registry import register_family
from zoo.models.dcgan import DCGAN, DCGANConfig


@dataclass(frozen=True)
class CGANConfig(DCGANConfig):
    family: str = spec("cgan")
    num_classes: int = spec(10, min=2, help="class ids are 0 .. num_classes - 1 (data.classes keep their numbers)")
    label_embedding: int = spec(0, min=0, help="generator: size of a learned label embedding (0 = one-hot labels)")


@register_family
class CGAN(DCGAN):
    family = "cgan"
    capabilities = DCGAN.capabilities | {Capability.CONDITIONAL}
    config_class = CGANConfig
    preview_columns = 10  # the preview has one row per class
    limitations = DCGAN.limitations + (
        "Labels must be class ids in [0, num_classes); how often samples show the asked-for class is the label "
        "accuracy of its evaluation, not 100%.",
    )

    def __init__(self, num_classes=10, **kwargs):
        super().__init__(num_classes=num_classes, **kwargs)
