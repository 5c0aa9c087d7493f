"""Noise schedules and the forward process of denoising diffusion, apart from any network (as diffusers keeps them).

:class:`NoiseSchedule` holds T betas, linear (Ho et al. 2020) or cosine (Nichol & Dhariwal 2021), and every
quantity derived from them, computed once in float64 numpy and kept as constants. Timesteps are 0-based:
``alphas_cumprod[t]`` is the product of ``1 - beta`` over steps ``0..t``. It also gives the forward process
``q(x_t | x_0) = N(sqrt(ab_t) x_0, (1 - ab_t) I)`` (:meth:`NoiseSchedule.q_sample`), the regression targets of
the two prediction types, ``epsilon`` and ``v`` (Salimans & Ho 2022), and the per-step tables the samplers run.
"""


from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from zoo.diffusion.reference import (PREDICTION_TYPES, VARIANCES, ddim_coefficients, ddim_timesteps, ddpm_coefficients,
                                     dpmpp_2m_coefficients, predicted_x0)

SCHEDULES = ("linear", "cosine")
COSINE_OFFSET = 0.008  # s in Nichol & Dhariwal (2021), eq. 17
MAX_BETA = 0.999  # their clipping of beta, which avoids a singularity at t = T


def linear_betas(num_timesteps: int) -> np.ndarray:
    """Ho et al.'s betas, 1e-4 to 0.02 at T = 1000; scaled by 1000 / T otherwise so the total noise stays alike."""
    scale = 1000.0 / num_timesteps
    return np.linspace(scale * 1e-4, scale * 0.02, num_timesteps, dtype=np.float64)


def cosine_alphas_cumprod(t, num_timesteps: int, s: float = COSINE_OFFSET) -> np.ndarray:
    """Nichol & Dhariwal's ``f(t) / f(0)`` with ``f(t) = cos(((t / T + s) / (1 + s)) * pi / 2)^2``, t in [0, T]."""
    f = lambda u: np.cos((np.asarray(u, np.float64) / num_timesteps + s) / (1.0 + s) * math.pi / 2) ** 2  # noqa: E731
    return f(t) / f(0.0)


def cosine_betas(num_timesteps: int, s: float = COSINE_OFFSET, max_beta: float = MAX_BETA) -> np.ndarray:
    """``beta_t = 1 - abar(t) / abar(t - 1)`` of the cosine schedule, clipped at ``max_beta``."""
    abar = cosine_alphas_cumprod(np.arange(num_timesteps + 1), num_timesteps, s)
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


def _constant(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, np.float64)
    array.setflags(write=False)
    return array


class NoiseSchedule:
    """T betas and everything derived from them (float64, read-only), plus the forward process in TensorFlow."""

    def __init__(self, name: str = "linear", num_timesteps: int = 1000):
        if name not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {name!r}")
        if num_timesteps < 2:
            raise ValueError(f"a schedule needs at least 2 timesteps, got {num_timesteps}")
        self.name, self.num_timesteps = name, int(num_timesteps)
        betas = linear_betas(self.num_timesteps) if name == "linear" else cosine_betas(self.num_timesteps)
        alphas = 1.0 - betas
        ab = np.cumprod(alphas)
        ab_prev = np.append(1.0, ab[:-1])
        self.betas, self.alphas, self.alphas_cumprod, self.alphas_cumprod_prev = map(_constant, (betas, alphas, ab, ab_prev))
        self.sqrt_alphas_cumprod = _constant(np.sqrt(ab))
        self.sqrt_one_minus_alphas_cumprod = _constant(np.sqrt(1.0 - ab))

    # ------------------------------------------------------------ the forward process

    @staticmethod
    def _at(table: np.ndarray, t) -> tf.Tensor:
        """``table[t]`` as float32, shaped ``(N, 1, 1, 1)`` to broadcast over images."""
        return tf.reshape(tf.gather(tf.constant(table, tf.float32), t), (-1, 1, 1, 1))

    def q_sample(self, x0, t, noise) -> tf.Tensor:
        """A draw of ``x_t ~ q(x_t | x_0)``: ``sqrt(ab_t) x0 + sqrt(1 - ab_t) noise``."""
        return self._at(self.sqrt_alphas_cumprod, t) * x0 + self._at(self.sqrt_one_minus_alphas_cumprod, t) * noise

    def target(self, x0, noise, t, prediction_type: str) -> tf.Tensor:
        """What the network regresses: the noise (``epsilon``) or ``v = sqrt(ab) eps - sqrt(1 - ab) x0``."""
        if prediction_type == "epsilon":
            return noise
        if prediction_type == "v":
            return self._at(self.sqrt_alphas_cumprod, t) * noise - self._at(self.sqrt_one_minus_alphas_cumprod, t) * x0
        raise ValueError(f"prediction_type must be one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")

    def loss_weight(self, t, prediction_type: str, min_snr_gamma: float) -> tf.Tensor:
        """Per-timestep weights ``(N,)`` of the regression loss: min-SNR-gamma (Hang et al. 2023).

        With SNR(t) = ab / (1 - ab), the weight on the x0 error is min(SNR, gamma), which stops the
        nearly noiseless steps from dominating training; expressed on the network's own target that is
        min(SNR, gamma) / SNR for epsilon and min(SNR, gamma) / (SNR + 1) for v. 0 means uniform.
        """
        if not min_snr_gamma:
            return tf.ones(tf.shape(t), tf.float32)
        snr = tf.gather(tf.constant(self.alphas_cumprod / (1.0 - self.alphas_cumprod), tf.float32), t)
        clipped = tf.minimum(snr, float(min_snr_gamma))
        return clipped / snr if prediction_type == "epsilon" else clipped / (snr + 1.0)

    def predict_x0(self, prediction, x_t, t, prediction_type: str) -> tf.Tensor:
        return predicted_x0(prediction, x_t, self._at(self.sqrt_alphas_cumprod, t),
                            self._at(self.sqrt_one_minus_alphas_cumprod, t), prediction_type)

    def predict_eps(self, prediction, x_t, t, prediction_type: str) -> tf.Tensor:
        """The noise implied by a prediction: ``(x_t - sqrt(ab) x0) / sqrt(1 - ab)``."""
        x0 = self.predict_x0(prediction, x_t, t, prediction_type)
        return (x_t - self._at(self.sqrt_alphas_cumprod, t) * x0) / self._at(self.sqrt_one_minus_alphas_cumprod, t)

    # ------------------------------------------------------------ sampler tables

    def ddpm_table(self, variance: str = "fixed_small") -> dict[str, np.ndarray]:
        """Per-step tables of ancestral sampling over every t (see :func:`zoo.diffusion.reference.ddpm_coefficients`)."""
        return ddpm_coefficients(self.betas, self.alphas_cumprod, variance)

    def ddim_table(self, steps: int, eta: float = 0.0, spacing: str = "trailing") -> dict[str, np.ndarray]:
        """Per-step tables of DDIM over ``steps`` timesteps (see :mod:`zoo.diffusion.reference`)."""
        return ddim_coefficients(self.alphas_cumprod, ddim_timesteps(self.num_timesteps, steps, spacing), eta)

    def dpmpp_2m_table(self, steps: int, spacing: str = "trailing", order: int = 2,
                       lower_order_final: bool = True) -> dict[str, np.ndarray]:
        """Per-step tables of DPM-Solver++(2M) over DDIM's timesteps (see :mod:`zoo.diffusion.reference`)."""
        return dpmpp_2m_coefficients(self.alphas_cumprod, ddim_timesteps(self.num_timesteps, steps, spacing), order,
                                     lower_order_final)

    def to_json(self, prediction_type: str) -> dict:
        """What another runtime needs to implement a sampler (written as the artifact's ``schedule.json``)."""
        return {"num_timesteps": self.num_timesteps, "schedule": self.name, "prediction_type": prediction_type,
                "timestep_indexing": "0-based: alphas_cumprod[t] = prod(1 - betas[:t + 1])",
                "betas": self.betas.tolist(), "alphas_cumprod": self.alphas_cumprod.tolist()}
