"""Denoising diffusion apart from any network: noise schedules, the compiled samplers, and the numpy reference sampler."""

from zoo.diffusion.reference import PREDICTION_TYPES, SPACINGS, ReferenceSampler
from zoo.diffusion.samplers import SAMPLERS, SamplerSettings, compile_sampler
from zoo.diffusion.schedules import SCHEDULES, VARIANCES, NoiseSchedule

__all__ = ["PREDICTION_TYPES", "SAMPLERS", "SCHEDULES", "SPACINGS", "VARIANCES", "NoiseSchedule", "ReferenceSampler",
           "SamplerSettings", "compile_sampler"]
