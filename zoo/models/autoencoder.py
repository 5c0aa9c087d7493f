"""Autoencoder: an encoder to a ``latent_dim`` bottleneck and a decoder back to pixels.

The deterministic baseline of the zoo (Hinton & Salakhutdinov 2006): trained to
reconstruct its input, it encodes, decodes and reconstructs, but does not sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zoo.nets import blocks
from zoo.schema import spec
from zoo.errors import RecipeError
from zoo.models.base import IMAGE_POSTPROCESS, Capability, Endpoint, GenerativeModel, TensorInfo, apply_gradients
from zoo.models.registry import register_family


@dataclass(frozen=True)
class AutoencoderConfig:
    family: str = spec("autoencoder")
    architecture: str = spec("conv", choices=("conv", "dense"), help="convolutional or fully connected networks")
    latent_dim: int = spec(32, min=1, help="size of the bottleneck")
    filters: tuple[int, ...] = spec((32, 64), min=1, help="conv widths; each stage halves the resolution")
    hidden_units: tuple[int, ...] = spec((512, 256), min=1, help="dense widths (architecture = \"dense\")")
    reconstruction_loss: str = spec("bce", choices=("bce", "mse"),
                                    help="per-pixel binary cross-entropy (needs value_range [0, 1]) or squared error")


@register_family
class Autoencoder(GenerativeModel):
    family = "autoencoder"
    capabilities = frozenset({Capability.ENCODE, Capability.DECODE, Capability.RECONSTRUCT})
    config_class = AutoencoderConfig
    preview_file = "reconstructions.png"
    limitations = (
        'Deterministic: there is no prior over its codes, so decoding random codes does not give realistic images (a VAE samples; this model only encodes, decodes and reconstructs).',
        'Reconstructions are smoother than their inputs: a per-pixel loss averages over the fine details it cannot encode.',
    )

    def __init__(self, image_shape=(28, 28, 1), latent_dim=32, architecture="conv", filters=(32, 64),
                 hidden_units=(512, 256), reconstruction_loss="bce", value_range=(0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(image_shape)
        self.latent_dim = int(latent_dim)
        self.architecture = architecture
        self.filters = tuple(filters)
        self.hidden_units = tuple(hidden_units)
        self.reconstruction_loss = reconstruction_loss
        self.value_range = tuple(float(v) for v in value_range)
        self.encoder, self.decoder = blocks.encoder_decoder(architecture, self.image_shape, self.latent_dim,
                                                            filters=self.filters, hidden_units=self.hidden_units,
                                                            dtype=self.dtype_policy.name)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.build((None,) + self.image_shape)

    @classmethod
    def check_recipe(cls, recipe) -> None:
        if recipe.model.reconstruction_loss == "bce" and tuple(recipe.data.value_range) != (0.0, 1.0):
            raise RecipeError(f"reconstruction_loss = \"bce\" in [model] of {recipe.source or 'the recipe'} needs "
                              "data.value_range = [0.0, 1.0]; use reconstruction_loss = \"mse\" for [-1, 1]")

    @classmethod
    def from_recipe(cls, recipe) -> "Autoencoder":
        d = recipe.data  # no seed: an autoencoder draws no noise
        return cls(image_shape=(*d.image_size, d.channels), value_range=d.value_range, name=recipe.name.replace("-", "_"),
                   **{name: getattr(recipe.model, name) for name in cls.config_fields()})

    def get_config(self):
        config = super().get_config()
        config.update(image_shape=list(self.image_shape), latent_dim=self.latent_dim, architecture=self.architecture,
                      filters=list(self.filters), hidden_units=list(self.hidden_units),
                      reconstruction_loss=self.reconstruction_loss, value_range=list(self.value_range))
        return config

    def build(self, input_shape):
        # The encoder and decoder are functional models, built at construction.
        self.built = True

    # ------------------------------------------------------------ the model

    def _to_pixels(self, logits):
        return tf.sigmoid(logits) if self.value_range == (0.0, 1.0) else tf.tanh(logits)

    def call(self, images, training=False):
        return self._to_pixels(self.decoder(self.encoder(images, training=training), training=training))

    def per_example_loss(self, images, logits):
        """Reconstruction loss of each example, averaged over its pixels, in float32."""
        images = tf.cast(images, "float32")
        logits = tf.cast(logits, "float32")
        if self.reconstruction_loss == "bce":
            per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
        else:
            per_pixel = tf.square(self._to_pixels(logits) - images)
        return tf.reduce_mean(tf.reshape(per_pixel, (tf.shape(per_pixel)[0], -1)), axis=1)

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        with tf.GradientTape() as tape:
            logits = self.decoder(self.encoder(images, training=True), training=True)
            per_example = self.per_example_loss(images, logits)
            # Averaged over the global batch, so gradients add up correctly across replicas.
            loss = tf.nn.compute_average_loss(per_example)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        apply_gradients(self.optimizer, gradients, self.trainable_variables)
        self.loss_tracker.update_state(per_example)  # this replica's mean; fit averages the replicas
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        logits = self.decoder(self.encoder(images, training=False), training=False)
        self.loss_tracker.update_state(self.per_example_loss(images, logits))
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]

    # ------------------------------------------------------------ user API

    def encode(self, images) -> tf.Tensor:
        """Latent codes ``(N, latent_dim)`` of images ``(N, H, W, C)`` in the model's value range."""
        return self.compiled_method("_encode")(self.check_images(images, self.image_shape))

    def decode(self, latent) -> tf.Tensor:
        """Images in the model's value range from latent codes ``(N, latent_dim)``."""
        return self.compiled_method("_decode")(self.check_vectors(latent, self.latent_dim))

    def reconstruct(self, images) -> tf.Tensor:
        return self.decode(self.encode(images))

    def _encode(self, images):
        return self.encoder(images, training=False)

    def _decode(self, latent):
        return self._to_pixels(self.decoder(latent, training=False))

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        shape = (None,) + self.image_shape
        post = IMAGE_POSTPROCESS[self.value_range]
        images_in = TensorInfo("images", shape, value_range=self.value_range,
                               description=f"images scaled to {list(self.value_range)}")
        images_out = TensorInfo("images", shape, value_range=self.value_range, postprocess=post)
        latent = TensorInfo("latent", (None, self.latent_dim), kind="latent", description="bottleneck code")

        def encode(images):
            return {"latent": self._encode(images)}

        def decode(latent):
            return {"images": self._decode(latent)}

        def reconstruct(images):
            return {"images": self.call(images)}

        return [  # the first one is also the SavedModel's serving_default
            Endpoint("reconstruct", reconstruct, (images_in,), (images_out,), description="images -> reconstructions"),
            Endpoint("encode", encode, (images_in,), (latent,), onnx="encoder", description="images -> latent codes"),
            Endpoint("decode", decode, (latent,), (images_out,), onnx="decoder", description="latent codes -> images"),
        ]

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        return {"images": np.asarray(images, "float32"), "latent": self.encode(images).numpy()}

    def preview(self, images, labels=None) -> np.ndarray:
        """Originals in the first half, their reconstructions in the second."""
        images = np.asarray(images, "float32")
        return np.concatenate([images, self.reconstruct(images).numpy()], axis=0)
