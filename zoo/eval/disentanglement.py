"""How disentangled a VAE's code is, without labels: the total correlation of the aggregate posterior,
``KL(q(z) || prod_j q(z_j))`` (Chen et al. 2018, "Isolating Sources of Disentanglement in VAEs"), which is 0 when the
code's dimensions are independent over the data, beside the active units and each dimension's KL from N(0, I).

q(z) is the average of the N posteriors of the evaluated images, so ``log q(z)`` at a draw ``z_i ~ q(z | x_i)`` is a
log-mean-exp over all N (the estimator of Chen et al. with the whole set as the minibatch); the marginals likewise per
dimension. The estimate is biased low for small N; the report gives N.

Where the data has ground-truth factors of variation (dSprites), two supervised figures: the mutual information gap
(MIG, Chen et al. 2018) and the beta-VAE metric (Higgins et al. 2017, "beta-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework"). Both are pure functions of codes and factor classes (or an encode callable).
"""

from __future__ import annotations

import numpy as np

from zoo.models import Capability

LOG_2PI = float(np.log(2 * np.pi))
LATENT_IMAGES = 2000  # test images the figures use: the TC estimate needs N^2 D densities
MIG_BINS = 20  # Chen et al.'s discretization of each code dimension, as in disentanglement_lib


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


# ---------------------------------------------------------------- with ground-truth factors


def _factor_names(factors: np.ndarray, names) -> list[str]:
    return [str(n) for n in names] if names is not None else [f"factor_{k}" for k in range(factors.shape[1])]


def _check_factors(codes: np.ndarray, factors: np.ndarray) -> None:
    if codes.ndim != 2 or factors.ndim != 2 or len(codes) != len(factors) or not len(codes):
        raise ValueError(f"codes (N, D) and factors (N, F) with the same N > 0 expected, got {codes.shape} and "
                         f"{factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer classes, got dtype {factors.dtype}")


def discretize(codes, bins: int = MIG_BINS) -> np.ndarray:
    """Each column of ``codes`` (N, D) as the index of one of ``bins`` equal-width bins over the column's range."""
    codes = np.asarray(codes, "float64")
    out = np.zeros(codes.shape, "int64")
    for j in range(codes.shape[1]):
        edges = np.histogram_bin_edges(codes[:, j], bins)
        out[:, j] = np.digitize(codes[:, j], edges[1:-1])  # 0 .. bins - 1, the maximum in the last bin
    return out


def mutual_information(codes, factors, bins: int = MIG_BINS) -> np.ndarray:
    """(D, F): the mutual information in nats between each code dimension, discretized into ``bins``, and each factor
    (scikit-learn's ``mutual_info_score``, the plug-in estimate of the empirical joint distribution)."""
    from sklearn.metrics import mutual_info_score  # slow to import: only when measured

    discrete, factors = discretize(codes, bins), np.asarray(factors)
    return np.array([[mutual_info_score(factors[:, k], discrete[:, j]) for k in range(factors.shape[1])]
                     for j in range(discrete.shape[1])])


def mutual_information_gap(codes, factors, names=None, bins: int = MIG_BINS) -> dict:
    """MIG (Chen et al. 2018) of codes ``(N, D)`` (posterior means) against factor classes ``(N, F)``: for each factor,
    the gap between the largest and second-largest mutual information of a code dimension with it, divided by the
    factor's entropy, averaged over the factors. 1 when each factor is captured by one dimension alone, 0 when it is
    spread over several equally (or captured by none). Factors that take one value in the data (entropy 0) are left
    out. The plug-in MI is biased up by about (bins - 1)(values - 1) / 2N nats, so N should be in the thousands."""
    from sklearn.metrics import mutual_info_score

    codes, factors = np.asarray(codes, "float64"), np.asarray(factors)
    _check_factors(codes, factors)
    names = _factor_names(factors, names)
    info = mutual_information(codes, factors, bins)
    gaps, best = {}, {}
    for k, name in enumerate(names):
        entropy = mutual_info_score(factors[:, k], factors[:, k])
        if entropy <= 0:
            continue
        order = np.argsort(info[:, k])[::-1]
        second = info[order[1], k] if len(order) > 1 else 0.0
        gaps[name] = float((info[order[0], k] - second) / entropy)
        best[name] = int(order[0])
    if not gaps:
        raise ValueError("every factor takes a single value in these images: MIG needs factors that vary")
    return {"mig": float(np.mean(list(gaps.values()))), "per_factor": gaps, "best_dimension": best, "bins": int(bins),
            "num_images": int(len(codes))}


def _encode_all(encode, images, batch: int) -> np.ndarray:
    return np.concatenate([np.asarray(encode(images[i:i + batch]), "float64") for i in range(0, len(images), batch)])


def beta_vae_metric(encode, images, factors, names=None, *, train_points: int = 10_000, eval_points: int = 5_000,
                    pairs: int = 64, batch: int = 500, seed: int = 0) -> dict:
    """The beta-VAE metric (Higgins et al. 2017): held-out accuracy of a linear classifier that tells, from
    ``mean_l |z1_l - z2_l|`` over ``pairs`` pairs of images sharing the value of one factor (the others random), which
    factor the pairs share. Near 1 when each factor lives in its own code dimensions (the shared one's differences
    vanish), near chance (1 / the number of factors) when the code ignores the factors.

    ``encode`` maps a batch of images to posterior means ``(B, D)``; ``images`` are encoded once (``batch`` at a time)
    and the pairs drawn among them by indexing ``factors`` ``(N, F)``: the first image of a pair uniformly, the second
    uniformly among the other images with the same value of the chosen factor. The chosen factor is uniform over the
    factors that vary in the data. The classifier is scikit-learn's LogisticRegression on standardized differences,
    fitted on ``train_points`` points and scored on ``eval_points`` others (as disentanglement_lib, 10,000 and 5,000).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    factors = np.asarray(factors)
    codes = _encode_all(encode, images, batch)
    _check_factors(codes, factors)
    names = _factor_names(factors, names)
    rng = np.random.default_rng(seed)
    groups = []  # per factor: (images sorted by its value, each image's rank there, its group's start and size)
    for k in range(factors.shape[1]):
        order = np.argsort(factors[:, k], kind="stable")
        _, inverse, counts = np.unique(factors[order, k], return_inverse=True, return_counts=True)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.empty(len(order), "int64")
        rank[order] = np.arange(len(order))
        start, size = np.empty(len(order), "int64"), np.empty(len(order), "int64")
        start[order], size[order] = starts[inverse], counts[inverse]
        groups.append((order, rank, start, size))
    varying = [k for k in range(factors.shape[1]) if len(np.unique(factors[:, k])) > 1]
    if len(varying) < 2:
        raise ValueError("the beta-VAE metric tells factors apart: it needs at least two factors that vary in the data")
    total = train_points + eval_points
    chosen = rng.choice(varying, size=total)
    points = np.empty((total, codes.shape[1]))
    for k in varying:
        rows = np.flatnonzero(chosen == k)
        order, rank, start, size = groups[k]
        eligible = np.flatnonzero(size > 1)  # a first image needs another with its value
        if not len(eligible):
            raise ValueError(f"no two images share a value of factor {names[k]}: the beta-VAE metric needs more images")
        first = eligible[rng.integers(len(eligible), size=(len(rows), pairs))]
        offset = 1 + rng.integers(size[first] - 1)  # any other member of the group, uniformly
        second = order[start[first] + (rank[first] - start[first] + offset) % size[first]]
        points[rows] = np.abs(codes[first] - codes[second]).mean(axis=1)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    classifier.fit(points[:train_points], chosen[:train_points])
    return {"accuracy": float(classifier.score(points[train_points:], chosen[train_points:])),
            "train_accuracy": float(classifier.score(points[:train_points], chosen[:train_points])),
            "chance": 1.0 / len(varying), "factors": [names[k] for k in varying], "train_points": int(train_points),
            "eval_points": int(eval_points), "pairs": int(pairs), "num_images": int(len(codes))}


def supervised_statistics(model, images, factors, names, seed: int = 0) -> dict:
    """MIG and the beta-VAE metric of a model's posterior means on ``images`` with ground-truth ``factors``
    (an unconditional model: its code is read without a label). The images are encoded once, for both."""
    codes = _encode_all(lambda x: np.asarray(model.encode(x).mean), images, 500)
    return {"mig": mutual_information_gap(codes, factors, names),
            "beta_vae": beta_vae_metric(lambda already_encoded: already_encoded, codes, factors, names, seed=seed)}
