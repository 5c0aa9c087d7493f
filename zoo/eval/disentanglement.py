"""How disentangled a VAE's code is, without labels: the total correlation of the aggregate posterior,
``KL(q(z) || prod_j q(z_j))`` (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs"), which is 0 when the
code's dimensions are independent over the data, beside the active units and each dimension's KL from N(0, I).

q(z) is the average of the N posteriors of the evaluated images, so ``log q(z)`` at a draw ``z_i ~ q(z | x_i)`` is a
log-mean-exp over all N (the estimator of Chen et al. with the whole set as the minibatch); the marginals likewise per
dimension. The estimate is biased low for small N; the report gives N.
"""

from __future__ import annotations

import numpy as np

from zoo.models import Capability

LOG_2PI = float(np.log(2 * np.pi))
LATENT_IMAGES = 2000  # test images the figures use: the TC estimate needs N^2 D densities


def _log_mean_exp(values: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(values, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.mean(np.exp(values - top), axis=axis))


def total_correlation(mean, stddev, z, block: int = 256) -> float:
    """TC in nats of the aggregate posterior of N diagonal Gaussians ``(mean, stddev)`` ``(N, D)``, at draws ``z``
    ``(N, D)`` (one per posterior): ``mean_i [log q(z_i) - sum_j log q(z_ij)]``."""
    mean, stddev, z = (np.asarray(a, "float64") for a in (mean, stddev, z))
    joint, marginals = [], []
    for start in range(0, len(z), block):
        zi = z[start:start + block, None, :]  # (b, 1, D) against every posterior (1, N, D)
        log_density = -0.5 * (((zi - mean[None]) / stddev[None]) ** 2 + LOG_2PI) - np.log(stddev[None])  # (b, N, D)
        joint.append(_log_mean_exp(log_density.sum(-1), axis=1))
        marginals.append(_log_mean_exp(log_density, axis=1).sum(-1))
    return float(np.mean(np.concatenate(joint) - np.concatenate(marginals)))


def latent_statistics(model, images, labels=None, seed: int = 0) -> dict:
    """The label-free disentanglement figures of a model with a probabilistic latent space, on ``images``."""
    conditional = model.can(Capability.CONDITIONAL)
    posterior = model.encode(images, labels if conditional else None)
    mean, stddev = np.asarray(posterior.mean), np.asarray(posterior.stddev)
    z = mean + stddev * np.random.default_rng(seed).standard_normal(mean.shape)
    kl = model.kl_per_dimension(images, labels if conditional else None)
    return {"num_images": int(len(images)), "latent_dim": int(mean.shape[1]),
            "total_correlation_nats": total_correlation(mean, stddev, z),
            "active_units": model.active_units(images, labels if conditional else None),
            "kl_per_dimension_nats": [round(float(v), 4) for v in kl]}
