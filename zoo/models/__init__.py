"""The model families. Importing this package registers every family with Keras and the recipes.

``registry`` resolves names; ``base`` holds what every family shares (its declaration of capabilities,
input checks, endpoints, the weight average); then one module per family, each with its own ``train_step``.
"""

from zoo.models.base import Capability, Endpoint, GenerativeModel, TensorInfo, build_optimizer
from zoo.models.registry import families, get_family, register_family
from zoo.models.autoencoder import Autoencoder, AutoencoderConfig
from zoo.models.vae import VAE, ConditionalVAE, CVAEConfig, VAEConfig
from zoo.models.adversarial import AdversarialModel, GANConfig
from zoo.models.dcgan import DCGAN, DCGANConfig
from zoo.models.cgan import CGAN, CGANConfig
from zoo.models.wgan_gp import WGANGP, WGANGPConfig
from zoo.models.cyclegan import CycleGAN, CycleGANConfig
from zoo.models.ddpm import DDPM, DDPMConfig
from zoo.models.classifier import Classifier, ClassifierConfig
from zoo.models.dbvae import DBVAE, DBVAEConfig

__all__ = ["VAE", "Autoencoder", "AutoencoderConfig", "CVAEConfig", "Capability", "ConditionalVAE", "Endpoint",
           "VAEConfig", "GenerativeModel", "TensorInfo", "build_optimizer", "families", "get_family", "register_family",
           "AdversarialModel", "GANConfig", "DCGAN", "DCGANConfig", "CGAN", "CGANConfig", "WGANGP", "WGANGPConfig",
           "CycleGAN", "CycleGANConfig", "DDPM", "DDPMConfig", "Classifier", "ClassifierConfig",
           "DBVAE", "DBVAEConfig"]
