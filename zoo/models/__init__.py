"""The model families. Importing this package registers every family with Keras and the recipes."""

from zoo.models.base import Endpoint, GenerativeModel, TensorInfo, build_optimizer, families, get_family, register_family
from zoo.models.autoencoder import Autoencoder, AutoencoderConfig

__all__ = ["Autoencoder", "AutoencoderConfig", "Endpoint", "GenerativeModel", "TensorInfo", "build_optimizer",
           "families", "get_family", "register_family"]
