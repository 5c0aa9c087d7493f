"""What every family shares: its declaration, input checks, and the description of its endpoints.

A family is a ``keras.Model`` subclass with its own ``train_step``. Besides Keras'
``get_config``/``from_config`` it declares:

* ``capabilities``: what it can do (:class:`Capability`), which the CLI, the model card and
  ``zoo eval`` (:meth:`GenerativeModel.evaluation`) read instead of probing for methods;
* ``config_class``: the dataclass that validates the recipe's ``[model]`` section;
* ``optimizer_roles``: ``("default",)`` or e.g. ``("generator", "discriminator")``;
* ``endpoints()``: the named functions an artifact serves (SavedModel signatures,
  ONNX files), with named, shaped inputs and outputs;
* ``preview(...)``: the image grid written after each epoch and by the CLI.
"""

from __future__ import annotations

import dataclasses
import enum
import weakref
from dataclasses import dataclass
from typing import Callable, ClassVar

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import InputShapeError, RecipeError


class Capability(enum.Enum):
    """What a family can do for its users; each one is a method with the contract given here."""

    SAMPLE = "sample"  # sample(n, seed=0[, labels=]) -> new images from the prior
    GENERATE = "generate"  # generate(latents or noise[, labels]) -> images, deterministic given the input
    RECONSTRUCT = "reconstruct"  # reconstruct(images[, labels]) -> images through the bottleneck
    ENCODE = "encode"  # encode(images[, labels]) -> latent codes (a posterior for the VAEs)
    DECODE = "decode"  # decode(latents[, labels]) -> images
    TRANSLATE = "translate"  # translate(images, "a2b" | "b2a") -> images of the other domain
    LIKELIHOOD = "likelihood"  # log_likelihood(images, k) -> IWAE lower bound of log p(x), nats
    INTERPOLATE = "interpolate"  # interpolate(image_a, image_b, steps[, labels]) through the latent space
    TRAVERSE = "traverse"  # traverse(image, dims, values[, labels]) -> a grid varying one latent per row
    CONDITIONAL = "conditional"  # sample/reconstruct take class labels (num_classes > 0)
    SAMPLERS = "samplers"  # sample() takes sampler=, steps=, eta= (diffusion models)
    GUIDANCE = "guidance"  # sample(labels=, guidance=) mixes conditional and unconditional predictions (CFG)
    CLASSIFY = "classify"  # predict_proba(images) -> (N, classes); features(images) for FID

    @property
    def method(self) -> str:
        """The method that provides the capability (the declaration is checked against it in the tests)."""
        return METHODS[self]


METHODS = {Capability.SAMPLE: "sample", Capability.GENERATE: "generate", Capability.RECONSTRUCT: "reconstruct",
           Capability.ENCODE: "encode", Capability.DECODE: "decode", Capability.TRANSLATE: "translate",
           Capability.LIKELIHOOD: "log_likelihood", Capability.INTERPOLATE: "interpolate",
           Capability.TRAVERSE: "traverse", Capability.CONDITIONAL: "num_classes", Capability.SAMPLERS: "sampler_settings",
           Capability.GUIDANCE: "check_guidance",
           Capability.CLASSIFY: "predict_proba"}
# How zoo eval measures a family, by the first of these capabilities it declares (see zoo.eval.evaluate).
EVALUATIONS = ((Capability.TRANSLATE, "translation"), (Capability.CLASSIFY, "classification"),
               (Capability.SAMPLE, "samples"), (Capability.RECONSTRUCT, "reconstruction"))

_COMPILED = weakref.WeakKeyDictionary()  # model -> {method name: tf.function}, off the model (see compiled)


@dataclass(frozen=True)
class TensorInfo:
    """A named input or output of an endpoint, as other runtimes need to know it."""

    name: str
    shape: tuple  # None for a dynamic dimension (the batch)
    dtype: str = "float32"
    kind: str = "image"  # image | latent | label | timestep: how random parity inputs are drawn
    value_range: tuple[float, float] | None = None
    description: str = ""
    postprocess: str = ""

    def spec(self) -> tf.TensorSpec:
        return tf.TensorSpec(self.shape, tf.as_dtype(self.dtype), name=self.name)

    def random(self, batch: int, rng: np.random.Generator, num_classes: int = 0, size=()) -> np.ndarray:
        """Random inputs of this tensor's shape; ``size`` fills its dynamic non-batch dimensions (height, width)."""
        fill = iter(size)
        shape = (batch,) + tuple(next(fill) if d is None else d for d in self.shape[1:])
        if self.kind == "image":
            low, high = self.value_range or (0.0, 1.0)
            return rng.uniform(low, high, shape).astype(self.dtype)
        if self.kind == "label":  # class ids: in value_range when it is given, else in [0, num_classes)
            low, high = self.value_range or (0, num_classes - 1)
            return rng.integers(int(low), int(high) + 1, shape).astype(self.dtype)
        if self.kind == "timestep":  # integers over the whole value_range, both ends included
            low, high = self.value_range
            return rng.integers(int(low), int(high) + 1, shape).astype(self.dtype)
        return rng.standard_normal(shape).astype(self.dtype)

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["shape"] = [d for d in self.shape]
        out["value_range"] = list(self.value_range) if self.value_range else None
        return out


@dataclass(frozen=True)
class Endpoint:
    """A function an artifact serves: ``fn(**inputs) -> {output name: tensor}``.

    ``onnx`` names the ONNX file (without suffix) the endpoint is also exported as, or is empty.
    """

    name: str
    fn: Callable
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    onnx: str = ""
    description: str = ""
    parity_sizes: tuple[tuple[int, int], ...] = ()  # (height, width) pairs to check dynamic image sizes at


IMAGE_POSTPROCESS = {
    (0.0, 1.0): "pixels = round(clip(images, 0, 1) * 255) as uint8",
    (-1.0, 1.0): "pixels = round(clip((images + 1) / 2, 0, 1) * 255) as uint8",
}


class GenerativeModel(keras.Model):
    """Base class of the families. Subclasses set the class attributes below."""

    family: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    config_class: ClassVar[type] = type(None)
    optimizer_roles: ClassVar[tuple[str, ...]] = ("default",)
    two_domains: ClassVar[bool] = False  # trains on unpaired batches of two domains ([data.domain_a/b])
    optimizer_defaults: ClassVar[dict] = {}  # per role, what a recipe's optimizer table starts from
    preview_file: ClassVar[str] = "samples.png"  # the grid an artifact ships
    preview_columns: ClassVar[int] = 8  # columns of the preview grid
    limitations: ClassVar[tuple[str, ...]] = ()  # what the family cannot do, for the model card

    @classmethod
    def can(cls, capability: Capability) -> bool:
        """Whether the family declares ``capability``."""
        return capability in cls.capabilities

    @classmethod
    def evaluation(cls) -> str:
        """How ``zoo eval`` measures the family, from what it declares it can do: a translator by its
        translations, a classifier by its accuracy, a sampler by its samples, an autoencoder by its
        reconstructions ("" for a family that does none of these)."""
        return next((kind for capability, kind in EVALUATIONS if cls.can(capability)), "")

    def evaluation_samplers(self) -> dict[str, dict]:
        """The sample sets ``zoo eval`` scores, {row name: keyword arguments of ``sample``}: one row by default;
        a diffusion model has one per sampler and step count (``max_samples`` caps a slow one's count)."""
        return {"samples": {}}

    # ------------------------------------------------------------ recipes

    @classmethod
    def check_recipe(cls, recipe) -> None:
        """Cross-section checks (e.g. a loss that needs a value range); raise RecipeError."""

    @classmethod
    def from_recipe(cls, recipe) -> "GenerativeModel":
        """The model a recipe describes: its ``[model]`` hyperparameters, the data's image shape, the run's seed.

        Families whose ``__init__`` takes other arguments override this (and :meth:`hyperparameters`).
        """
        d = recipe.data
        return cls(image_shape=(*d.image_size, d.channels), seed=recipe.train.seed, name=recipe.name.replace("-", "_"),
                   **{name: getattr(recipe.model, name) for name in cls.config_fields()})

    def hyperparameters(self) -> dict:
        """What :meth:`from_recipe` passed, as JSON-ready values: the part of ``get_config`` a family adds."""
        fields = {name: getattr(self, name) for name in self.config_fields()}
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}
        return {**fields, "image_shape": list(self.image_shape), "seed": self.seed}

    @classmethod
    def config_fields(cls) -> list[str]:
        """The hyperparameters of ``config_class`` (all fields but ``family``)."""
        return [f.name for f in dataclasses.fields(cls.config_class) if f.name != "family"]

    def compile_from_recipe(self, recipe, steps_per_epoch: int = 0) -> None:
        """Compile with the recipe's optimizer(s) and XLA setting.

        ``steps_per_epoch`` (known once the data is) is for families whose learning rate follows epochs.
        """
        self.compile(optimizer=build_optimizer(recipe.optimizer["default"], self.learning_rate(recipe, "default", steps_per_epoch)),
                     jit_compile=recipe.train.jit_compile)

    def learning_rate(self, recipe, role: str, steps_per_epoch: int):
        """The ``role`` optimizer's learning rate: the recipe's number, or a schedule a family builds from it."""
        return recipe.optimizer[role].learning_rate

    def compile(self, optimizer="rmsprop", *args, **kwargs):
        """Keras' ``compile``, then the optimizer's state is allocated at once: ``fit`` then traces its
        train function once, where building the state inside the first step costs a second trace."""
        super().compile(optimizer, *args, **kwargs)
        if self.optimizer is not None and self.trainable_variables:
            self.build_optimizer_state()

    def compile_from_config(self, config):
        # Keras skips this for a model whose compile() is overridden; ours keeps Keras' arguments.
        if config:
            self.compile(**keras.saving.deserialize_keras_object(config))

    def role_optimizers(self) -> dict:
        """The compiled optimizers by role (``{"default": ...}`` for a family with one), as compile was given them."""
        return {"default": self.optimizer}

    def compile_like(self, other: "GenerativeModel") -> None:
        """Compile with copies of ``other``'s optimizers holding its optimizer state, unwrapped from any loss
        scaling: how a model trained under a mixed policy ships as a float32 model that can go on training."""
        copies = {}
        for role, optimizer in other.role_optimizers().items():
            if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = optimizer.inner_optimizer
            copies[role] = (optimizer, type(optimizer).from_config(optimizer.get_config()))
        self._compile_roles({role: copy for role, (_, copy) in copies.items()}, jit_compile=other.jit_compile)
        for original, copy in copies.values():
            for target, value in zip(copy.variables, original.variables):
                target.assign(tf.cast(value, target.dtype))

    def _compile_roles(self, optimizers: dict, jit_compile) -> None:
        self.compile(optimizer=optimizers["default"], jit_compile=jit_compile)

    def build_optimizer_state(self) -> None:
        """Allocate every optimizer's variables, so a checkpoint's optimizer state can be loaded into them.

        Families with several optimizers (GANs) override this to build each on its own variables.
        """
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        """The functions an artifact serves; the first is also the SavedModel's ``serving_default``."""
        raise NotImplementedError

    def example_inputs(self, images: np.ndarray, labels: np.ndarray | None) -> dict[str, np.ndarray]:
        """Inputs for ``examples.npz``, keyed by input name, derived from real eval images."""
        raise NotImplementedError

    def preview(self, images: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """A batch of images (in the model's value range) to lay out as the epoch's grid."""
        raise NotImplementedError

    def artifact_files(self) -> dict[str, bytes]:
        """Family-specific files an artifact also holds, by file name (e.g. a diffusion model's ``schedule.json``)."""
        return {}

    @property
    def num_classes(self) -> int:
        """Classes a conditional model takes as labels; 0 for an unconditional one."""
        return 0

    @property
    def fits_prior(self) -> bool:
        """Whether the model fits a density to its training images' latent codes after each epoch (``fit_prior``)."""
        return False

    def fit_prior(self, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        """Fit the latent density to the (preprocessed) training images and their class labels."""
        raise NotImplementedError

    @classmethod
    def resamples(cls, recipe) -> bool:
        """Whether the recipe's training epochs are drawn with the probabilities :meth:`sampling_probabilities`
        gives at each epoch's start, instead of one shuffled pass over the data (DB-VAE's debiasing)."""
        return False

    def sampling_probabilities(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """The probability of each (preprocessed) training example to be drawn in the coming epoch, summing to 1."""
        raise NotImplementedError

    def step_seed(self, stream: int, step) -> tf.Tensor:
        """A stateless seed for noise ``stream`` of training step ``step``, the same on every replica.

        Training noise keyed to a step count that checkpoints save (not to a stateful generator,
        whose state they do not) makes a resumed run draw exactly what an uninterrupted one would.
        Under tf.distribute every replica draws the global batch's noise and keeps its own rows
        (:func:`replica_rows`), so a run's noise does not depend on how many replicas share the batch.
        """
        stream_key = tf.constant((self.seed * 8 + stream) % 2**31, "int32")
        return tf.stack([stream_key, tf.cast(step, "int32") * 64])

    # How many consecutive equal parts a global batch is made of, each of which train_step uses on its own (WGAN-GP's
    # critic slices): under tf.distribute each part is split across the replicas (zoo.data.distribute), so that every
    # update sees the same examples on one device or many.
    @property
    def batch_parts(self) -> int:
        return 1

    def compiled_method(self, method: str):
        """``self.<method>`` as a ``tf.function``, for the eager user API (``generate``, ``encode``, ...).

        A graph call costs a fraction of an eager one at small batches (8 ms against 1.3 ms for a GAN
        generator at batch 1). Traced once per input signature (``reduce_retracing``: one trace covers every
        batch size after the second), and cached off the model, holding it weakly, so that SavedModel export
        does not trace it and the model can be freed.
        """
        functions = _COMPILED.setdefault(self, {})
        if method not in functions:
            model = weakref.ref(self)
            functions[method] = tf.function(lambda *args: getattr(model(), method)(*args), reduce_retracing=True,
                                            autograph=False)
        return functions[method]

    # ------------------------------------------------------------ inputs

    def check_images(self, images, image_shape) -> tf.Tensor:
        """Images as float32 ``(N, *image_shape)``; a grey batch may omit its channel axis."""
        x = tf.convert_to_tensor(images)
        if not x.dtype.is_floating:
            raise InputShapeError(f"images must be floats in the model's value range, got dtype {x.dtype.name}; "
                                  "scale uint8 pixels first (see metadata.json inputs)")
        if x.shape.rank == 3 and image_shape[-1] == 1:
            x = x[..., None]
        if x.shape.rank != 4 or tuple(x.shape[1:]) != tuple(image_shape):
            raise InputShapeError(f"images must have shape (batch, {', '.join(map(str, image_shape))}), got {tuple(x.shape)}; "
                                  f"resize or pad them to {image_shape[0]}x{image_shape[1]} with {image_shape[2]} channel(s)")
        return tf.cast(x, "float32")

    def check_vectors(self, z, dim: int, what: str = "latent") -> tf.Tensor:
        z = tf.convert_to_tensor(z)
        if z.shape.rank == 1 and z.shape[0] == dim:
            z = z[None]
        if z.shape.rank != 2 or z.shape[1] != dim:
            raise InputShapeError(f"{what} must have shape (batch, {dim}), got {tuple(z.shape)}")
        return tf.cast(z, "float32")


class MultiOptimizerModel(GenerativeModel):
    """A family trained with one optimizer per role, held as ``<role>_optimizer`` attributes.

    Keras compiles a single optimizer and wraps only that one in a ``LossScaleOptimizer`` under
    mixed_float16. This class compiles one per role (the recipe's ``[optimizer.<role>]``), wraps each
    itself, builds each on its role's variables (:meth:`role_variables`), and round-trips them through
    ``get_compile_config``/``compile_from_config`` so that ``.keras`` files keep their state. A saved
    ``train_steps`` counter keys each step's noise (:meth:`GenerativeModel.step_seed`).
    """

    optimizer_roles: ClassVar[tuple[str, ...]] = ("generator", "discriminator")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        for role in self.optimizer_roles:
            setattr(self, f"{role}_optimizer", None)
        self.train_steps = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False,
                                           name="train_steps", aggregation="only_first_replica")

    def role_variables(self, role: str) -> list:
        """The trainable variables the ``role`` optimizer updates."""
        raise NotImplementedError

    def compile(self, *optimizers, jit_compile="auto", run_eagerly=False, steps_per_execution=1, **named):
        """Compile with one optimizer per role, given in role order or as ``<role>_optimizer=``; builds their state."""
        chosen = dict(zip(self.optimizer_roles, optimizers))
        for role in self.optimizer_roles:
            chosen.setdefault(role, named.pop(f"{role}_optimizer", "adam"))
        if named:
            raise TypeError(f"unknown compile arguments {sorted(named)}; optimizers are "
                            f"{', '.join(r + '_optimizer' for r in self.optimizer_roles)}")
        chosen = {role: keras.optimizers.get(optimizer) for role, optimizer in chosen.items()}
        if len({id(o) for o in chosen.values()}) < len(chosen):
            raise ValueError(f"the roles {', '.join(self.optimizer_roles)} need one optimizer instance each, not a shared one")
        super().compile(optimizer=None, jit_compile=jit_compile, run_eagerly=run_eagerly,
                        steps_per_execution=steps_per_execution, auto_scale_loss=False)
        for role, optimizer in chosen.items():
            if self.dtype_policy.name == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=f"{role}_loss_scale_optimizer")
            setattr(self, f"{role}_optimizer", optimizer)
        self.build_optimizer_state()

    def compile_from_recipe(self, recipe, steps_per_epoch: int = 0) -> None:
        self.compile(**{f"{role}_optimizer": build_optimizer(recipe.optimizer[role], self.learning_rate(recipe, role, steps_per_epoch))
                        for role in self.optimizer_roles}, jit_compile=recipe.train.jit_compile)

    def role_optimizers(self) -> dict:
        return {role: getattr(self, f"{role}_optimizer") for role in self.optimizer_roles}

    def _compile_roles(self, optimizers: dict, jit_compile) -> None:
        self.compile(**{f"{role}_optimizer": optimizer for role, optimizer in optimizers.items()}, jit_compile=jit_compile)

    def build_optimizer_state(self) -> None:
        for role in self.optimizer_roles:
            optimizer = getattr(self, f"{role}_optimizer")
            if optimizer is not None and not optimizer.built:
                optimizer.build(self.role_variables(role))

    def get_compile_config(self):
        if not self.compiled or getattr(self, f"{self.optimizer_roles[0]}_optimizer") is None:
            return {}
        optimizers = {f"{role}_optimizer": keras.optimizers.serialize(getattr(self, f"{role}_optimizer"))
                      for role in self.optimizer_roles}
        return {**optimizers, "jit_compile": self.jit_compile, "run_eagerly": self.run_eagerly,
                "steps_per_execution": self.steps_per_execution}

    def compile_from_config(self, config):
        if config:
            self.compile(**{key: keras.optimizers.deserialize(value) if key.endswith("_optimizer") else value
                            for key, value in config.items()})


def _replica():
    """(this replica's index, the number of replicas in sync): (0, 1) outside tf.distribute."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1
    return context.replica_id_in_sync_group, context.num_replicas_in_sync


def own_rows(values, n) -> tf.Tensor:
    """This replica's ``n`` rows of a global batch: replica ``r`` holds rows ``r * n .. (r + 1) * n``."""
    replica, replicas = _replica()
    if replicas == 1:
        return values
    start = tf.cast(replica, "int32") * tf.cast(n, "int32")
    return values[start:start + n]


def replica_rows(draw, n) -> tf.Tensor:
    """This replica's ``n`` rows of ``draw(n * replicas)``, a random draw over the global batch.

    Every replica makes the same draw from the same seed and keeps the rows of its own examples, so each
    example gets the noise it would get on one device: a run trains the same on one replica or many, up to
    the order of float sums.
    """
    return own_rows(draw(n * _replica()[1]), n)


def all_replicas(values) -> tf.Tensor:
    """The global batch of per-replica ``values`` (``(n, ...)`` each), in replica order, on every replica."""
    if _replica()[1] == 1:
        return values
    return tf.distribute.get_replica_context().all_gather(values, axis=0)


def apply_gradients(optimizer, gradients, variables) -> None:
    """``optimizer.apply``, with a loss-scale overflow on any replica seen by every replica.

    Keras's LossScaleOptimizer decides to skip a step from the first replica's gradients before they are
    summed, so an overflow on another replica would reach the weights as inf; marking every replica's
    gradients non-finite when any is makes all of them skip the step together, as one device would.
    """
    if _replica()[1] > 1 and isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g in gradients if g is not None])
        overflows = tf.distribute.get_replica_context().all_reduce("sum", 1.0 - tf.cast(finite, "float32"))
        poison = tf.where(overflows > 0.0, float("nan"), 1.0)
        gradients = [g if g is None else g * tf.cast(poison, g.dtype) for g in gradients]
    optimizer.apply(gradients, variables)


def average_decay(decay: float, step, warmup: bool = True) -> tf.Tensor:
    """The decay of a weight average after update ``step`` (0-based): ``decay``, or with ``warmup``
    ``min(decay, (1 + n) / (10 + n))``, so the first averages forget the initial weights quickly."""
    if not warmup:
        return tf.constant(decay, tf.float32)
    n = tf.cast(step, tf.float32)
    return tf.minimum(tf.constant(decay, tf.float32), (1.0 + n) / (10.0 + n))


def copy_weights(average: keras.Model, network: keras.Model) -> None:
    """Start a weight average at ``network``'s weights (both networks built alike)."""
    for target, weight in zip(average.weights, network.weights):
        target.assign(weight)


def update_average(average: keras.Model, network: keras.Model, decay) -> None:
    """One exponential-moving-average step of every weight (and BatchNorm statistic) of ``network``.

    ``avg -= (1 - decay) * (avg - w)`` is one in-place update per variable, with no new variable.
    """
    rate = 1.0 - tf.cast(decay, tf.float32)
    for target, weight in zip(average.weights, network.weights):
        target.assign_sub(tf.cast(rate, target.dtype) * (target - tf.cast(weight, target.dtype)))


def build_optimizer(cfg, learning_rate=None) -> keras.optimizers.Optimizer:
    """A Keras optimizer from an :class:`~zoo.config.OptimizerConfig`; ``learning_rate`` may replace its number by a schedule."""
    common = {"learning_rate": cfg.learning_rate if learning_rate is None else learning_rate}
    if cfg.clipnorm > 0:
        common["clipnorm"] = cfg.clipnorm
    if cfg.name == "adam":
        return keras.optimizers.Adam(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon, **common)
    if cfg.name == "adamw":
        return keras.optimizers.AdamW(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon,
                                      weight_decay=cfg.weight_decay, **common)
    if cfg.name == "sgd":
        return keras.optimizers.SGD(momentum=cfg.momentum, **common)
    if cfg.name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=cfg.momentum, epsilon=cfg.epsilon, **common)
    raise RecipeError(f"unknown optimizer {cfg.name!r}")


def config_field(cls, name: str):
    """The default of a config dataclass field (so model __init__ defaults stay in one place)."""
    return next(f.default for f in dataclasses.fields(cls) if f.name == name)
