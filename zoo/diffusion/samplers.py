"""The reverse-process samplers of denoising diffusion, compiled as one graph.

A sampler takes a *denoiser*, any callable ``denoiser(x_t, t) -> prediction`` with ``t`` an int32 ``(N,)``
vector, and a :class:`~zoo.diffusion.schedules.NoiseSchedule`. DDPM ancestral sampling runs all T steps with
the posterior variance (``fixed_small``) or beta (``fixed_large``); DDIM (Song et al. 2021) takes ``eta``, any
step count and ``linspace`` or ``trailing`` spacing; DPM-Solver++(2M) (``dpmpp_2m``, deterministic) visits the
same timesteps as DDIM and reaches a given quality in fewer steps. All reduce to per-step float64 tables for
``x_prev = c_x0 * x0 + c_xt * x_t + sigma * z`` (plus ``c_prev * x0_prev``, the previous step's predicted x0, for
the multistep solver); :func:`compile_sampler` runs them as one ``tf.while_loop`` inside a ``tf.function``
(optionally XLA-compiled), never a Python loop. The tables and the prediction-to-x0 conversion live in
:mod:`zoo.diffusion.reference`, the numpy-only sampler other runtimes follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from zoo.diffusion.reference import SAMPLERS, SPACINGS, predicted_x0
from zoo.diffusion.schedules import VARIANCES, NoiseSchedule


@dataclass(frozen=True)
class SamplerSettings:
    """How to run the reverse process; validated on construction."""

    sampler: str = "ddim"
    steps: int = 50  # DDIM and DPM-Solver++ steps; DDPM always runs all T
    eta: float = 0.0
    spacing: str = "trailing"
    variance: str = "fixed_small"
    clip_x0: bool = True
    lower_order_final: bool = True  # dpmpp_2m: its step into t = 0 is first order

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if self.spacing not in SPACINGS:
            raise ValueError(f"timestep spacing must be one of {', '.join(SPACINGS)}, got {self.spacing!r}")
        if self.variance not in VARIANCES:
            raise ValueError(f"variance must be one of {', '.join(VARIANCES)}, got {self.variance!r}")
        if self.eta < 0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")
        if self.sampler == "dpmpp_2m" and self.eta != 0:
            raise ValueError(f"eta = {self.eta} means nothing to dpmpp_2m, a deterministic ODE solver: leave it at 0 "
                             "(or use ddim for a stochastic sampler)")

    def table(self, schedule: NoiseSchedule) -> dict[str, np.ndarray]:
        if self.sampler == "ddpm":
            return schedule.ddpm_table(self.variance)
        if self.sampler == "dpmpp_2m":
            return schedule.dpmpp_2m_table(self.steps, self.spacing, lower_order_final=self.lower_order_final)
        return schedule.ddim_table(self.steps, self.eta, self.spacing)


def compile_sampler(denoiser, schedule: NoiseSchedule, prediction_type: str, settings: SamplerSettings,
                    jit_compile: bool | None = None):
    """A ``tf.function(noise, seed, *context) -> images``: the reverse process from ``noise`` ``(N, H, W, C)`` as a
    graph, calling ``denoiser(x_t, t, *context)`` at every step (``context``: e.g. class labels and a guidance scale).

    The per-step noise is ``stateless_normal`` keyed to ``(seed, step)``, so a sample is a function
    of the initial noise and ``seed``; with no stochastic step (DDIM with eta = 0, DPM-Solver++) ``seed`` is unused.
    ``jit_compile=None`` compiles with XLA exactly when no step draws noise: XLA runs the loop about
    1.8x faster on a CPU, but its stateless normals differ from TensorFlow's, so a stochastic sampler
    under XLA would give other samples for the same seed than the SavedModel and the eager path.
    """
    table = settings.table(schedule)
    steps = len(table["timesteps"])
    constants = {k: tf.constant(v, tf.int32 if k == "timesteps" else tf.float32) for k, v in table.items()}
    stochastic = bool(np.any(table["sigma"] > 0))
    multistep = "c_prev" in table  # DPM-Solver++(2M) also weighs the previous step's x0, carried through the loop
    if jit_compile is None:
        jit_compile = not stochastic

    def reverse_process(noise, seed, *context):
        x = tf.cast(noise, tf.float32)
        n = tf.shape(x)[0]

        def step(i, x, *x0_prev):  # x0_prev: (the previous step's x0,) for the multistep solver, else ()
            t = tf.fill([n], constants["timesteps"][i])
            prediction = tf.cast(denoiser(x, t, *context), tf.float32)
            x0 = predicted_x0(prediction, x, constants["sqrt_ab"][i], constants["sqrt_one_minus_ab"][i],
                              prediction_type)
            if settings.clip_x0:
                x0 = tf.clip_by_value(x0, -1.0, 1.0)
            x_prev = constants["c_x0"][i] * x0 + constants["c_xt"][i] * x
            if multistep:
                x_prev += constants["c_prev"][i] * x0_prev[0]
            if stochastic:
                z = tf.random.stateless_normal(tf.shape(x), seed=tf.stack([tf.cast(seed, tf.int32), i + 1]))
                x_prev += constants["sigma"][i] * z
            return (i + 1, tf.ensure_shape(x_prev, x.shape)) + ((tf.ensure_shape(x0, x.shape),) if multistep else ())

        start = (tf.constant(0), x) + ((tf.zeros_like(x),) if multistep else ())  # DDIM and DDPM carry no x0
        x = tf.while_loop(lambda i, *_: i < steps, step, start, maximum_iterations=steps)[1]
        return x

    return tf.function(reverse_process, jit_compile=jit_compile, reduce_retracing=True)
