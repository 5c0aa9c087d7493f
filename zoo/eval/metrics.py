"""Sample-quality metrics between sets of image features, and the feature networks that make them.

The metrics take two arrays of features, one row per image (real and generated), and work in float64:

* :func:`frechet_distance`: the Frechet distance between Gaussians fitted to the two sets, FID when the
  features are InceptionV3's (Heusel et al. 2017, "GANs trained by a two time-scale update rule converge
  to a local Nash equilibrium");
* :func:`kernel_distance`: the unbiased estimate of the squared MMD with the cubic polynomial kernel,
  KID when the features are InceptionV3's (Binkowski et al. 2018, "Demystifying MMD GANs");
* :func:`classifier_score`: the Inception Score's formula, exp E_x KL(p(y|x) || p(y)), on the feature
  network's class probabilities (Salimans et al. 2016, "Improved techniques for training GANs");
* :func:`precision_recall`: the k-nearest-neighbour manifold precision and recall of Kynkaanniemi et al.
  2019 ("Improved precision and recall metric for assessing generative models").

Pure numpy: the feature networks that make the features live in :mod:`zoo.eval.features`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.errors import EvaluationError

# ---------------------------------------------------------------- inputs


def _features(x, what: str) -> np.ndarray:
    """``x`` as a finite float64 matrix (N, D) with N >= 2, or a clear error."""
    array = np.asarray(x, dtype="float64")
    if array.ndim != 2:
        raise EvaluationError(f"{what} must be a 2-d array of features (one row per image), got shape {array.shape}")
    if len(array) < 2:
        raise EvaluationError(f"{what} has {len(array)} row(s); the metrics need at least 2 images per set")
    if not np.all(np.isfinite(array)):
        raise EvaluationError(f"{what} holds NaN or infinite values; check the images fed to the feature network")
    return array


def _pair(real, fake) -> tuple[np.ndarray, np.ndarray]:
    real, fake = _features(real, "the real features"), _features(fake, "the generated features")
    if real.shape[1] != fake.shape[1]:
        raise EvaluationError(f"the two feature sets have {real.shape[1]} and {fake.shape[1]} dimensions; "
                              "compute both with the same feature network")
    return real, fake


# ---------------------------------------------------------------- Frechet distance


@dataclass(frozen=True)
class GaussianStats:
    """The mean and covariance (float64) of a feature set, and how many rows they came from."""

    mean: np.ndarray
    covariance: np.ndarray
    count: int

    @classmethod
    def of(cls, features) -> "GaussianStats":
        x = _features(features, "features")
        return cls(x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), len(x))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (round-off negatives clipped to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma_1, sigma_2) -> float:
    """tr((sigma_1 sigma_2)^(1/2)) for covariance matrices, stably.

    sigma_1 sigma_2 is not symmetric, and a general matrix square root of it (scipy's sqrtm) can return
    complex round-off or fail on singular covariances. Its eigenvalues are those of the symmetric PSD
    matrix S sigma_2 S with S = sigma_1^(1/2), so the trace is the sum of their square roots: two
    symmetric eigendecompositions, real throughout, and defined for singular covariances too.
    """
    root = _psd_sqrt(np.asarray(sigma_1, "float64"))
    inner = root @ np.asarray(sigma_2, "float64") @ root
    return float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None))))


def frechet_distance(real, fake) -> float:
    """||mu_r - mu_g||^2 + tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between Gaussians fitted to two feature sets.

    Either argument may be a feature array (N, D) or :class:`GaussianStats`. Round-off below zero is
    returned as 0. Like FID, it is biased upwards at small sample counts: compare figures at equal counts.
    """
    a = real if isinstance(real, GaussianStats) else GaussianStats.of(_features(real, "the real features"))
    b = fake if isinstance(fake, GaussianStats) else GaussianStats.of(_features(fake, "the generated features"))
    if a.mean.shape != b.mean.shape:
        raise EvaluationError(f"the two feature sets have {a.mean.shape[0]} and {b.mean.shape[0]} dimensions; "
                              "compute both with the same feature network")
    difference = a.mean - b.mean
    value = (difference @ difference + np.trace(a.covariance) + np.trace(b.covariance)
             - 2.0 * trace_sqrt_product(a.covariance, b.covariance))
    return max(float(value), 0.0)


# ---------------------------------------------------------------- kernel distance (KID)


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1)^3 for every row pair of ``x`` and ``y``."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased estimate of MMD^2 (Gretton et al. 2012) between two equal-size samples: within-set
    kernel means without their diagonals, minus twice the cross-set mean."""
    m = len(x)
    k_xx, k_yy = polynomial_kernel(x, x), polynomial_kernel(y, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * polynomial_kernel(x, y).mean())


def kernel_distance(real, fake, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID: the unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets; (mean, std).

    Each of ``subsets`` estimates draws ``m = min(subset_size, n // 2)`` rows of each set without
    replacement (n the smaller set's size; at most half of it, so that the subsets differ). The std is
    the spread of those estimates, as Binkowski et al. report it. Values can be slightly negative when
    the two sets come from one distribution.
    """
    real, fake = _pair(real, fake)
    if subsets < 1:
        raise EvaluationError(f"subsets must be at least 1, got {subsets}")
    m = min(int(subset_size), min(len(real), len(fake)) // 2)
    if m < 2:
        raise EvaluationError(f"KID needs at least 4 images per set, got {len(real)} and {len(fake)}")
    rng = np.random.default_rng(seed)
    estimates = [_unbiased_mmd2(real[rng.choice(len(real), m, replace=False)],
                                fake[rng.choice(len(fake), m, replace=False)]) for _ in range(int(subsets))]
    return float(np.mean(estimates)), float(np.std(estimates))


# ---------------------------------------------------------------- classifier score (IS formula)


def classifier_score(probabilities, *, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities (N, C), per split of the rows; (mean, std).

    1 when every image gets the same prediction; C (the number of classes) when each image is
    classified with certainty and the classes are equally frequent.
    """
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 2 or p.shape[1] < 2:
        raise EvaluationError(f"probabilities must be (N, classes) with at least 2 classes, got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min() < 0 or np.max(np.abs(p.sum(axis=1) - 1.0)) > 1e-3:
        raise EvaluationError("probabilities must be finite, non-negative rows that sum to 1 (a softmax output)")
    splits = max(1, min(int(splits), len(p)))
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0)
        scores.append(float(np.exp(terms.sum(axis=1).mean())))
    return float(np.mean(scores)), float(np.std(scores))


# ---------------------------------------------------------------- precision and recall


MAX_BLOCK_ELEMENTS = 1 << 22  # distances held at once (32 MB of float64), whatever the set sizes


def _squared_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _distance_blocks(queries: np.ndarray, references: np.ndarray, block_rows: int):
    """Squared Euclidean distances from ``queries`` to ``references``, yielded ``block_rows`` queries at a time."""
    reference_norms = _squared_norms(references)
    for start in range(0, len(queries), block_rows):
        block = queries[start:start + block_rows]
        distances = _squared_norms(block)[:, None] + reference_norms[None, :] - 2.0 * block @ references.T
        yield start, np.maximum(distances, 0.0)


def _rows_per_block(columns: int, block_rows: int | None) -> int:
    return int(block_rows) if block_rows else max(1, MAX_BLOCK_ELEMENTS // max(columns, 1))


def knn_radii(features: np.ndarray, k: int, block_rows: int | None = None) -> np.ndarray:
    """Squared distance from each row to its k-th nearest other row (itself excluded)."""
    if not 1 <= k < len(features):
        raise EvaluationError(f"k = {k} nearest neighbours needs more than k images per set, got {len(features)}")
    radii = np.empty(len(features))
    for start, distances in _distance_blocks(features, features, _rows_per_block(len(features), block_rows)):
        # Each row's own distance (0) is its smallest; the k-th other neighbour is at sorted position k.
        radii[start:start + len(distances)] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _coverage(queries: np.ndarray, references: np.ndarray, radii: np.ndarray, block_rows: int | None) -> float:
    """The fraction of ``queries`` inside at least one reference's ball."""
    inside = 0
    for _, distances in _distance_blocks(queries, references, _rows_per_block(len(references), block_rows)):
        inside += int(np.count_nonzero(np.any(distances <= radii[None, :], axis=1)))
    return inside / len(queries)


def precision_recall(real, fake, *, k: int = 3, block_rows: int | None = None) -> tuple[float, float]:
    """Kynkaanniemi et al.'s precision and recall of generated features against real ones; (precision, recall).

    Each set's manifold is the union of balls around its points, each reaching the point's k-th nearest
    neighbour in the same set. Precision is the fraction of generated points inside the real manifold
    (fidelity), recall the fraction of real points inside the generated one (coverage). Distances are
    computed ``block_rows`` rows at a time (by default as many as keep a block near 32 MB).
    """
    real, fake = _pair(real, fake)
    real_radii, fake_radii = knn_radii(real, k, block_rows), knn_radii(fake, k, block_rows)
    return _coverage(fake, real, real_radii, block_rows), _coverage(real, fake, fake_radii, block_rows)
