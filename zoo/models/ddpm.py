"""Denoising diffusion probabilistic models (Ho et al. 2020) with DDIM (Song et al. 2021) and DPM-Solver++(2M) sampling.

Unconditional (:class:`DDPM`), or class-conditional with classifier-free guidance (:class:`GuidedDDPM`).

A U-Net (:mod:`zoo.nets.unet`) learns to undo the forward process of a :class:`~zoo.diffusion.schedules.NoiseSchedule`:
for x0 from the data, uniform t and Gaussian noise it regresses the noise (``epsilon``) or
``v`` with a mean squared error. An exponential moving average (EMA) of its weights is a second
copy of the network whose variables are non-trainable, so it is saved with the model; sampling,
validation and export use it. The schedule and the samplers live in :mod:`zoo.diffusion`, apart
from the network.

Training noise (t and epsilon) is stateless, keyed to the saved ``train_steps`` counter, so a
resumed run draws what an uninterrupted one would.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zoo.nets import unet
from zoo.schema import spec
from zoo.diffusion import PREDICTION_TYPES, SAMPLERS, SCHEDULES, SPACINGS, VARIANCES, NoiseSchedule, SamplerSettings, compile_sampler
from zoo.errors import InputShapeError, RecipeError
from zoo.models.base import (IMAGE_POSTPROCESS, Capability, Endpoint, GenerativeModel, TensorInfo, average_decay, copy_weights,
                             apply_gradients, update_average, replica_rows)
from zoo.models.registry import register_family

VALUE_RANGE = (-1.0, 1.0)  # the forward process mixes images with unit Gaussian noise
DDPM_EVAL_SAMPLES = 250  # zoo eval's DDPM row: T passes per image (about 18 min for 250 at T = 1000 on 2 cores)
EVAL_STEPS = {"ddim": (10, 20, 50, 100), "dpmpp_2m": (10, 15, 20)}  # zoo eval's rows: sample quality against steps
EVAL_ROW_PREFIX = {"ddim": "ddim", "dpmpp_2m": "dpmpp"}  # ddim_50, dpmpp_15, ...
EVAL_GUIDANCE = (0, 1, 2, 3, 4, 5)  # a guided model's rows: DDIM-50 at each guidance scale


@dataclass(frozen=True)
class DDPMConfig:
    """The ``[model]`` section of a DDPM recipe."""

    family: str = spec("ddpm")
    widths: tuple[int, ...] = spec((32, 64, 128), min=1, help="U-Net channels per resolution; each after the first halves it")
    num_res_blocks: int = spec(2, min=1, help="residual blocks per resolution (the decoder has one more)")
    attention_resolutions: tuple[int, ...] = spec((7,), min=1, help="feature-map heights with self-attention")
    norm_groups: int = spec(32, min=1, help="GroupNormalization groups (reduced to a divisor of each width)")
    schedule: str = spec("linear", choices=SCHEDULES, help="betas: linear 1e-4..0.02 (Ho et al.) or cosine (Nichol & Dhariwal)")
    timesteps: int = spec(1000, min=2, help="T, the length of the forward process")
    prediction_type: str = spec("epsilon", choices=PREDICTION_TYPES, help="what the network predicts: the noise or v")
    min_snr_gamma: float = spec(0.0, min=0.0, help="loss weight min(SNR, gamma) on the x0 error (Hang et al. 2023; "
                                                   "5 in the paper); 0 weighs every timestep's target error alike")
    ema_decay: float = spec(0.999, min=0.0, max=1.0, help="decay of the weights' moving average")
    ema_warmup: bool = spec(True, help="decay min(ema_decay, (1 + n) / (10 + n)) at step n, so early averages forget the init")
    sampler: str = spec("ddim", choices=SAMPLERS, help="default sampler of sample() and `zoo sample`")
    sample_steps: int = spec(50, min=1, help="default DDIM or DPM-Solver++ steps (DDPM always takes T)")
    eta: float = spec(0.0, min=0.0, help="default DDIM eta: 0 deterministic, 1 the DDPM posterior's noise "
                                         "(dpmpp_2m takes none)")
    timestep_spacing: str = spec("trailing", choices=SPACINGS, help="which timesteps DDIM visits")
    solver_spacing: str = spec("trailing", choices=SPACINGS, help="which timesteps DPM-Solver++(2M) visits; linspace "
                                                                  "ends the grid at t = 0")
    lower_order_final: bool = spec(True, help="DPM-Solver++(2M)'s step into t = 0 at first order (Lu et al.'s default); "
                                              "false keeps it second order, which some models sample better with")
    variance: str = spec("fixed_small", choices=VARIANCES, help="DDPM step variance: posterior (small) or beta (large)")
    clip_x0: bool = spec(True, help="clip the predicted x0 to [-1, 1] at every sampling step")
    generate_steps: int = spec(50, min=1, help="DDIM steps of the SavedModel `generate` signature (fixed in its graph)")


@dataclass(frozen=True)
class GuidedDDPMConfig(DDPMConfig):
    """The ``[model]`` section of a class-conditional DDPM with classifier-free guidance."""

    family: str = spec("guided_ddpm")
    num_classes: int = spec(10, min=2, help="classes of the data; label num_classes is the null (unconditional) label")
    cond_drop: float = spec(0.1, min=0.0, max=1.0, help="probability that a training label is replaced by the null "
                                                        "label, so one network also learns the unconditional model")
    guidance: float = spec(3.0, min=0.0, help="default guidance scale s: prediction = uncond + s (cond - uncond); "
                                              "0 unconditional, 1 conditional, > 1 guided (also fixed in `generate`)")


_SAMPLERS = weakref.WeakKeyDictionary()  # model -> {settings: tf.function}, kept off the model so exports do not trace them


@register_family
class DDPM(GenerativeModel):
    family = "ddpm"
    capabilities = frozenset({Capability.SAMPLE, Capability.GENERATE, Capability.SAMPLERS})
    config_class = DDPMConfig
    limitations = (
        'Sampling is iterative: every image costs one network pass per step (50 for the default DDIM sampler, any count for DDIM and DPM-Solver++(2M), T for DDPM); fewer steps are faster and worse, as its evaluation rows show.',
        'No likelihood is reported (the variational bound of the diffusion model is not computed here).',
    )

    def __init__(self, image_shape=(28, 28, 1), widths=(32, 64, 128), num_res_blocks=2, attention_resolutions=(7,),
                 norm_groups=32, schedule="linear", timesteps=1000, prediction_type="epsilon", min_snr_gamma=0.0,
                 ema_decay=0.999, ema_warmup=True, sampler="ddim", sample_steps=50, eta=0.0, timestep_spacing="trailing",
                 variance="fixed_small", clip_x0=True, generate_steps=50, seed=0, num_classes=0, solver_spacing="trailing",
                 lower_order_final=True, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(d) for d in image_shape)
        self.widths, self.attention_resolutions = tuple(widths), tuple(attention_resolutions)
        self.num_res_blocks, self.norm_groups = int(num_res_blocks), int(norm_groups)
        self.schedule, self.timesteps, self.prediction_type = schedule, int(timesteps), prediction_type
        self.min_snr_gamma = float(min_snr_gamma)
        self.ema_decay, self.ema_warmup = float(ema_decay), bool(ema_warmup)
        self.sampler, self.sample_steps, self.eta = sampler, int(sample_steps), float(eta)
        self.timestep_spacing, self.variance, self.clip_x0 = timestep_spacing, variance, bool(clip_x0)
        self.solver_spacing, self.lower_order_final = solver_spacing, bool(lower_order_final)
        self.generate_steps, self.seed = int(generate_steps), int(seed)
        self.conditional_classes = int(num_classes)  # 0 unconditional; else the null label's id
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")
        self.noise_schedule = NoiseSchedule(schedule, self.timesteps)
        # valid sampler settings, or an error now
        self.sampler_settings(), self.sampler_settings("ddim", self.generate_steps, 0.0), self.sampler_settings("dpmpp_2m")

        policy = self.dtype_policy.name
        options = dict(widths=self.widths, num_res_blocks=self.num_res_blocks,
                       attention_resolutions=self.attention_resolutions, norm_groups=self.norm_groups,
                       num_classes=self.conditional_classes, dtype=policy)
        self.network = unet.unet(self.image_shape, name="denoiser", **options)
        self.ema_network = unet.unet(self.image_shape, name="ema_denoiser", **options)
        self.ema_network.trainable = False
        copy_weights(self.ema_network, self.network)  # the average starts at the initial weights
        self.train_steps = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False,
                                           name="train_steps", aggregation="only_first_replica")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.built = True  # the networks are functional models, built above

    # ------------------------------------------------------------ recipes and config

    @classmethod
    def check_recipe(cls, recipe) -> None:
        m, d, where = recipe.model, recipe.data, f"[model] of {recipe.source or 'the recipe'}"
        if tuple(d.value_range) != VALUE_RANGE:
            raise RecipeError(f"family ddpm in {where} denoises images in [-1, 1]: set data.value_range = [-1.0, 1.0]")
        _, sizes = unet.unet_sizes(d.image_size, len(m.widths))
        unknown = sorted(set(m.attention_resolutions) - set(sizes))
        if unknown:
            raise RecipeError(f"attention_resolutions {unknown} in {where} are not feature-map heights of the U-Net; "
                              f"with widths {list(m.widths)} on {d.image_size[0]}x{d.image_size[1]} images they are {sizes}")
        for name in ("sample_steps", "generate_steps"):
            if getattr(m, name) > m.timesteps:
                raise RecipeError(f"{name} = {getattr(m, name)} in {where} exceeds timesteps = {m.timesteps}; "
                                  f"DDIM and DPM-Solver++ visit at most T steps")

    def get_config(self):
        return {**super().get_config(), **self.hyperparameters()}

    # ------------------------------------------------------------ training

    def call(self, inputs, training=False):
        """The raw (not averaged) network on ``[x_t, t]`` (``[x_t, t, label]`` for a guided model)."""
        return self.network(inputs, training=training)

    def network_inputs(self, x_t, t, labels=None) -> list:
        """What the U-Net takes: ``[x_t, t]``, and the labels when it is conditional."""
        return [x_t, t]

    def diffusion_loss(self, network, x0, seed, training=False, labels=None) -> tf.Tensor:
        """Per-example (weighted) MSE between ``network``'s prediction and the target, at uniform t with stateless noise."""
        x0 = tf.cast(x0, tf.float32)
        t_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        n, shape = tf.shape(x0)[0], tf.shape(x0)[1:]
        t = replica_rows(lambda m: tf.random.stateless_uniform((m,), seed=t_seed, maxval=self.timesteps, dtype=tf.int32), n)
        noise = replica_rows(lambda m: tf.random.stateless_normal(tf.concat([[m], shape], 0), seed=noise_seed), n)
        x_t = self.noise_schedule.q_sample(x0, t, noise)
        prediction = tf.cast(network(self.network_inputs(x_t, t, labels), training=training), tf.float32)
        error = tf.square(prediction - self.noise_schedule.target(x0, noise, t, self.prediction_type))
        weight = self.noise_schedule.loss_weight(t, self.prediction_type, self.min_snr_gamma)
        return weight * tf.reduce_mean(tf.reshape(error, (tf.shape(error)[0], -1)), axis=1)

    def ema_decay_at(self, step) -> tf.Tensor:
        """The decay used after update ``step`` (0-based): ``ema_decay``, capped by the warm-up."""
        return average_decay(self.ema_decay, step, self.ema_warmup)

    def update_ema(self, step) -> None:
        update_average(self.ema_network, self.network, self.ema_decay_at(step))

    def unpack(self, data):
        """(images, labels) of a batch; an unconditional model ignores labels the data may carry."""
        return (data[0] if isinstance(data, (tuple, list)) else data), None

    def training_labels(self, labels, seed):
        """The labels a training step conditions on (none here; a guided model drops some to the null label)."""
        return labels

    def train_step(self, data):
        x0, labels = self.unpack(data)
        step = self.train_steps.value
        labels = self.training_labels(labels, self.step_seed(1, step))
        with tf.GradientTape() as tape:
            per_example = self.diffusion_loss(self.network, x0, self.step_seed(0, step), training=True, labels=labels)
            loss = tf.nn.compute_average_loss(per_example)  # over the global batch, for tf.distribute
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.network.trainable_variables)
        apply_gradients(self.optimizer, gradients, self.network.trainable_variables)
        self.update_ema(step)
        self.train_steps.assign_add(1)
        self.loss_tracker.update_state(per_example)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        """The loss of the EMA network (the one that ships), with fixed noise per batch position."""
        x0, labels = self.unpack(data)
        self.loss_tracker.update_state(self.diffusion_loss(self.ema_network, x0, tf.constant([self.seed, -1], tf.int32),
                                                           labels=labels))
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]

    # ------------------------------------------------------------ sampling

    def sampler_settings(self, sampler=None, steps=None, eta=None) -> SamplerSettings:
        """Validated settings for a sampler; what is not given comes from the recipe (DDPM always takes all T, and
        the deterministic dpmpp_2m no eta: the recipe's DDIM eta does not apply to it)."""
        sampler = sampler or self.sampler
        if sampler == "ddpm":
            if steps not in (None, self.timesteps):
                raise InputShapeError(f"the ddpm sampler runs all T = {self.timesteps} steps, not {steps}; "
                                      "use sampler='ddim' for fewer")
            steps = self.timesteps
        steps = self.sample_steps if steps is None else int(steps)
        if not 1 <= steps <= self.timesteps:
            raise InputShapeError(f"steps must be in [1, {self.timesteps}] (the model's T), got {steps}")
        try:
            solver = sampler == "dpmpp_2m"
            return SamplerSettings(sampler, steps, (0.0 if solver else self.eta) if eta is None else float(eta),
                                   self.solver_spacing if solver else self.timestep_spacing, self.variance,
                                   self.clip_x0, self.lower_order_final)
        except ValueError as exc:
            raise InputShapeError(str(exc)) from None

    def denoise(self, x_t, t) -> tf.Tensor:
        """The EMA network's prediction (of the noise or v) for images ``x_t`` at int timesteps ``t``."""
        x_t = self.check_images(x_t, self.image_shape)
        t = tf.cast(tf.broadcast_to(tf.convert_to_tensor(t), tf.shape(x_t)[:1]), tf.int32)
        return self.compiled_method("_denoise")(x_t, t)

    def _denoise(self, x_t, t, *labels) -> tf.Tensor:
        return self.ema_network(self.network_inputs(x_t, t, *labels), training=False)

    def sampler_function(self, settings: SamplerSettings, jit_compile: bool | None = None, guided: bool = False):
        """The compiled reverse process ``(noise, seed[, labels[, guidance]]) -> images`` of the EMA network, cached
        per settings; ``guided`` mixes the conditional and unconditional predictions at every step.

        ``jit_compile=None``: XLA for noise-free samplers only (see :func:`zoo.diffusion.samplers.compile_sampler`).
        """
        functions = _SAMPLERS.setdefault(self, {})
        key = (settings, jit_compile, guided)
        if key not in functions:
            denoiser = self._guided_denoise if guided else self._denoise  # the first only on a GuidedDDPM
            functions[key] = compile_sampler(denoiser, self.noise_schedule, self.prediction_type, settings,
                                             jit_compile=jit_compile)
        return functions[key]

    def generate(self, noise, steps=None, sampler=None, eta=None, seed: int = 0) -> tf.Tensor:
        """Images in [-1, 1] from initial noise ``(N, H, W, C)``; ``seed`` keys the per-step noise of stochastic samplers."""
        noise = self.check_images(noise, self.image_shape)
        return self.sampler_function(self.sampler_settings(sampler, steps, eta))(noise, tf.constant(seed, tf.int32))

    def sample(self, n: int, steps=None, sampler=None, eta=None, seed: int = 0) -> tf.Tensor:
        """``n`` new images in [-1, 1]: DDIM (``steps``, ``eta``), DPM-Solver++(2M) (``sampler="dpmpp_2m"``,
        ``steps``) or DDPM from N(0, I) noise drawn with ``seed``.

        Defaults come from the recipe (``sampler``, ``sample_steps``, ``eta``).
        """
        if n < 1:
            raise InputShapeError(f"n must be a positive number of images, got {n}")
        noise = tf.random.stateless_normal((n, *self.image_shape), seed=tf.constant([seed, 0], tf.int32))
        return self.generate(noise, steps, sampler, eta, seed)

    def evaluation_samplers(self) -> dict[str, dict]:
        """``zoo eval``'s rows: sample quality against sampling steps, DDIM (eta 0) at 10, 20, 50 and 100 steps,
        DPM-Solver++(2M) at 10, 15 and 20, and DDPM over all T, the last on at most ``DDPM_EVAL_SAMPLES`` images
        (T network passes per image)."""
        rows = {f"{EVAL_ROW_PREFIX[sampler]}_{steps}": {"sampler": sampler, "steps": steps, "eta": 0.0}
                for sampler, counts in EVAL_STEPS.items() for steps in counts if steps <= self.timesteps}
        rows[f"ddpm_{self.timesteps}"] = {"sampler": "ddpm", "max_samples": DDPM_EVAL_SAMPLES}
        return rows

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        shape = (None,) + self.image_shape
        images = TensorInfo("images", shape, value_range=VALUE_RANGE, postprocess=IMAGE_POSTPROCESS[VALUE_RANGE],
                            description=f"{self.generate_steps}-step DDIM (eta 0) samples in [-1, 1]")
        noise = TensorInfo("noise", shape, kind="latent", description="initial noise x_T, N(0, I) draws")
        x_t, t, prediction = self._denoiser_tensors(shape)
        # No XLA in what is exported: TF Serving runs XLA:CPU only behind an experimental flag, and ONNX and
        # other runtimes have no use for it. (sample() and generate() in Python keep it: 1.8x faster here.)
        generate = self.sampler_function(self.sampler_settings("ddim", self.generate_steps, 0.0), jit_compile=False)

        return [  # the first one is also the SavedModel's serving_default
            Endpoint("generate", lambda noise: {"images": generate(noise, tf.constant(0, tf.int32))}, (noise,), (images,),
                     description=f"initial noise -> images, {self.generate_steps} DDIM steps in the graph"),
            Endpoint("denoise", lambda x_t, t: {"prediction": self._denoise(x_t, t)}, (x_t, t), (prediction,),
                     onnx="denoiser", description="the EMA denoiser: (x_t, t) -> prediction; see schedule.json"),
        ]

    def _denoiser_tensors(self, shape) -> tuple[TensorInfo, TensorInfo, TensorInfo]:
        """The denoiser's ``x_t`` and ``t`` inputs and its ``prediction``."""
        x_t = TensorInfo("x_t", shape, kind="latent",
                         description="noisy images sqrt(ab_t) x0 + sqrt(1 - ab_t) eps, x0 in [-1, 1] (see schedule.json)")
        t = TensorInfo("t", (None,), dtype="int32", kind="timestep", value_range=(0, self.timesteps - 1),
                       description=f"0-based timesteps in [0, {self.timesteps})")
        target = "the noise eps" if self.prediction_type == "epsilon" else "v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0"
        prediction = TensorInfo("prediction", shape, kind="latent", description=f"the EMA network's prediction of {target}")
        return x_t, t, prediction

    def artifact_files(self) -> dict[str, bytes]:
        """``schedule.json``: what another runtime needs to sample with ``denoiser.onnx``."""
        info = self.noise_schedule.to_json(self.prediction_type)
        info["sampler_defaults"] = {"sampler": self.sampler, "steps": self.sample_steps, "eta": self.eta,
                                    "timestep_spacing": self.timestep_spacing, "solver_spacing": self.solver_spacing,
                                    "lower_order_final": self.lower_order_final, "variance": self.variance,
                                    "clip_x0": self.clip_x0, "generate_steps": self.generate_steps}
        info["reference_sampler"] = "zoo/diffusion/reference.py (numpy + onnxruntime)"
        return {"schedule.json": json.dumps(info, indent=1).encode()}

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        """Real images noised at timesteps spread over [0, T), and initial noise for ``generate``."""
        x0 = np.asarray(images, "float32")
        n = len(x0)
        t = np.linspace(0, self.timesteps - 1, n).round().astype("int32")
        rng = np.random.default_rng(self.seed)
        eps = rng.standard_normal(x0.shape).astype("float32")
        x_t = self.noise_schedule.q_sample(x0, t, eps).numpy()
        return {"x_t": x_t, "t": t, "noise": rng.standard_normal(x0.shape).astype("float32")}

    def preview(self, images, labels=None) -> np.ndarray:
        """Two rows of samples from a fixed seed, with the recipe's default sampler."""
        return self.sample(2 * self.preview_columns, seed=0).numpy()


@register_family
class GuidedDDPM(DDPM):
    """A class-conditional DDPM with classifier-free guidance (Ho & Salimans 2022, "Classifier-free diffusion guidance").

    One U-Net learns both p(x | label) and p(x): a label embedding is added to the time embedding, and in training
    each label is replaced by the null label (id ``num_classes``) with probability ``cond_drop``. Sampling mixes
    the two predictions at every step, ``uncond + s (cond - uncond)``, both from one batched network call: the
    guidance scale ``s`` is 0 for the unconditional model, 1 for the conditional one, and above 1 trades
    diversity for samples that look more like their class (Ho & Salimans' ``w`` is ``s - 1``).
    """

    family = "guided_ddpm"
    capabilities = DDPM.capabilities | {Capability.CONDITIONAL, Capability.GUIDANCE}
    config_class = GuidedDDPMConfig
    limitations = DDPM.limitations + (
        "Guidance (a scale other than 0 or 1) costs two network passes per image and step.",
    )

    def __init__(self, *args, num_classes=10, cond_drop=0.1, guidance=3.0, **kwargs):
        super().__init__(*args, num_classes=num_classes, **kwargs)
        if not 0.0 <= float(cond_drop) <= 1.0:
            raise ValueError(f"cond_drop must be a probability in [0, 1], got {cond_drop}")
        self.cond_drop, self.guidance = float(cond_drop), self.check_guidance(guidance)

    @property
    def num_classes(self) -> int:
        return self.conditional_classes

    @property
    def null_label(self) -> int:
        """The label that stands for "no class": the unconditional model."""
        return self.conditional_classes

    @classmethod
    def check_recipe(cls, recipe) -> None:
        super().check_recipe(recipe)
        if not recipe.data.labels:
            raise RecipeError(f"family \"guided_ddpm\" in {recipe.source or 'the recipe'} trains on class labels: "
                              "set data.labels = true")

    # ------------------------------------------------------------ training

    def network_inputs(self, x_t, t, labels=None) -> list:
        if labels is None:
            labels = tf.fill(tf.shape(t), self.null_label)
        return [x_t, t, tf.cast(labels, tf.int32)]

    def unpack(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2:
            raise InputShapeError("a guided DDPM trains on (images, labels) batches: set data.labels = true")
        return data[0], data[1]

    def training_labels(self, labels, seed):
        """The batch's labels, each replaced by the null label with probability ``cond_drop`` (stateless, per step)."""
        labels = tf.cast(labels, tf.int32)
        drop = replica_rows(lambda m: tf.random.stateless_uniform((m,), seed=seed), tf.shape(labels)[0]) < self.cond_drop
        return tf.where(drop, tf.fill(tf.shape(labels), self.null_label), labels)

    # ------------------------------------------------------------ sampling

    @staticmethod
    def check_guidance(guidance) -> float:
        guidance = float(guidance)
        if not np.isfinite(guidance) or guidance < 0:
            raise InputShapeError(f"guidance must be a scale >= 0 (0 unconditional, 1 conditional, > 1 guided), got {guidance}")
        return guidance

    def check_labels(self, labels, n: int, allow_null: bool = False) -> tf.Tensor:
        """``labels`` broadcast to ``(n,)`` int32 and checked; ``None`` cycles through the classes."""
        if labels is None:
            labels = np.arange(n) % self.num_classes
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu" and not (labels.dtype.kind == "f" and np.all(labels == np.round(labels))):
            raise InputShapeError(f"labels must be int class ids in [0, {self.num_classes}), got dtype {labels.dtype}")
        try:
            labels = np.broadcast_to(labels.astype("int64"), (n,))
        except ValueError:
            raise InputShapeError(f"labels must be one id or {n} ids (one per image), got shape {labels.shape}") from None
        high = self.num_classes + 1 if allow_null else self.num_classes
        if labels.min() < 0 or labels.max() >= high:
            raise InputShapeError(f"labels must be in [0, {high}), got {labels.min()}..{labels.max()}"
                                  + (f" ({self.num_classes} is the null label)" if allow_null else ""))
        return tf.constant(labels, tf.int32)

    def denoise(self, x_t, t, labels=None) -> tf.Tensor:
        """The EMA network's prediction for ``x_t`` at timesteps ``t`` given ``labels`` (``None``: the null label)."""
        x_t = self.check_images(x_t, self.image_shape)
        n = int(x_t.shape[0])
        t = tf.cast(tf.broadcast_to(tf.convert_to_tensor(t), (n,)), tf.int32)
        labels = tf.fill((n,), self.null_label) if labels is None else self.check_labels(labels, n, allow_null=True)
        return self.compiled_method("_denoise")(x_t, t, labels)

    def _guided_denoise(self, x_t, t, labels, guidance) -> tf.Tensor:
        """``uncond + guidance (cond - uncond)``, the conditional and null-label predictions from one batched call."""
        n = tf.shape(x_t)[0]
        both = self._denoise(tf.concat([x_t, x_t], 0), tf.concat([t, t], 0),
                             tf.concat([labels, tf.fill([n], self.null_label)], 0))
        conditional, unconditional = tf.split(tf.cast(both, tf.float32), 2)
        return unconditional + tf.cast(guidance, tf.float32) * (conditional - unconditional)

    def generate(self, noise, labels=None, guidance=None, steps=None, sampler=None, eta=None, seed: int = 0) -> tf.Tensor:
        """Images in [-1, 1] from initial noise, of the class ``labels`` (the null label: unconditional) at guidance
        scale ``guidance`` (the recipe's by default). Scales 0 and 1 need one prediction per step, others two."""
        noise = self.check_images(noise, self.image_shape)
        labels = self.check_labels(labels, int(noise.shape[0]), allow_null=True)
        guidance = self.guidance if guidance is None else self.check_guidance(guidance)
        settings, seed = self.sampler_settings(sampler, steps, eta), tf.constant(seed, tf.int32)
        if guidance in (0.0, 1.0):  # one prediction: the unconditional one, or the conditional one
            labels = labels if guidance == 1.0 else tf.fill(tf.shape(labels), self.null_label)
            return self.sampler_function(settings)(noise, seed, labels)
        return self.sampler_function(settings, guided=True)(noise, seed, labels, tf.constant(guidance, tf.float32))

    def sample(self, n: int, steps=None, sampler=None, eta=None, seed: int = 0, labels=None, guidance=None) -> tf.Tensor:
        """``n`` new images in [-1, 1] of the class ``labels`` (cycling through the classes when not given) at guidance
        scale ``guidance``; the sampler options are :meth:`DDPM.sample`'s."""
        if n < 1:
            raise InputShapeError(f"n must be a positive number of images, got {n}")
        labels = self.check_labels(labels, n)
        noise = tf.random.stateless_normal((n, *self.image_shape), seed=tf.constant([seed, 0], tf.int32))
        return self.generate(noise, labels, guidance, steps, sampler, eta, seed)

    def evaluation_samplers(self) -> dict[str, dict]:
        """``zoo eval``'s rows: DDIM-50 (eta 0) at guidance scales 0 to 5 (the guidance curve: 0 is the unconditional
        model, whose label accuracy is chance), then the unconditional model's sampler rows at the recipe's scale
        (DDIM at 10 to 100 steps, DPM-Solver++(2M) at 10 to 20; no DDPM row, at two passes per step). ``ddim_50``
        is then the same sample set as the guidance row of the recipe's scale, and is drawn once."""
        rows = {f"guidance_{g:g}": {"sampler": "ddim", "steps": 50, "eta": 0.0, "guidance": float(g)}
                for g in EVAL_GUIDANCE}
        rows.update({name: {**options, "guidance": float(self.guidance)}
                     for name, options in super().evaluation_samplers().items() if not name.startswith("ddpm_")})
        return rows

    # ------------------------------------------------------------ artifacts

    def endpoints(self) -> list[Endpoint]:
        shape = (None,) + self.image_shape
        label = TensorInfo("label", (None,), dtype="int32", kind="label", value_range=(0, self.null_label),
                           description=f"class ids in [0, {self.num_classes}); {self.null_label} is the null label "
                                       "(unconditional)")
        images = TensorInfo("images", shape, value_range=VALUE_RANGE, postprocess=IMAGE_POSTPROCESS[VALUE_RANGE],
                            description=f"{self.generate_steps}-step DDIM (eta 0) samples in [-1, 1] at guidance "
                                        f"{self.guidance:g}")
        noise = TensorInfo("noise", shape, kind="latent", description="initial noise x_T, N(0, I) draws")
        x_t, t, prediction = self._denoiser_tensors(shape)
        generate = self.sampler_function(self.sampler_settings("ddim", self.generate_steps, 0.0), jit_compile=False,
                                         guided=True)
        guidance = tf.constant(self.guidance, tf.float32)
        return [
            Endpoint("generate", lambda noise, label: {"images": generate(noise, tf.constant(0, tf.int32), label, guidance)},
                     (noise, label), (images,),
                     description=f"initial noise and labels -> images, {self.generate_steps} DDIM steps at guidance "
                                 f"{self.guidance:g} in the graph"),
            Endpoint("denoise", lambda x_t, t, label: {"prediction": self._denoise(x_t, t, label)}, (x_t, t, label),
                     (prediction,), onnx="denoiser",
                     description="the EMA denoiser: (x_t, t, label) -> prediction; guidance mixes two calls, see "
                                 "schedule.json"),
        ]

    def artifact_files(self) -> dict[str, bytes]:
        files = super().artifact_files()
        info = json.loads(files["schedule.json"])
        info["guidance"] = {"num_classes": self.num_classes, "null_label": self.null_label, "scale": self.guidance,
                            "rule": "prediction = uncond + scale * (cond - uncond), cond with the class label and "
                                    "uncond with the null label, at every step"}
        return {"schedule.json": json.dumps(info, indent=1).encode()}

    def example_inputs(self, images, labels=None) -> dict[str, np.ndarray]:
        """The unconditional examples plus labels: the real ones, every fourth replaced by the null label."""
        out = super().example_inputs(images, labels)
        n = len(out["x_t"])
        label = np.arange(n) % self.num_classes if labels is None else np.asarray(labels)[:n]
        out["label"] = np.where(np.arange(n) % 4 == 3, self.null_label, label).astype("int32")
        return out

    def preview(self, images, labels=None) -> np.ndarray:
        """One row per class, ``preview_columns`` samples each, at the recipe's guidance and sampler."""
        labels = np.repeat(np.arange(self.num_classes), self.preview_columns)
        return self.sample(len(labels), labels=labels, seed=0).numpy()
