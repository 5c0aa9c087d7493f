"""Out-of-distribution detection: score inputs with a model and tell its own test images from other sets of images.

Every score is higher for inputs less like the training data, and applies to the families that declare the
capability it needs (:class:`~zoo.models.Capability`), each from its paper:

* ``nll`` (LIKELIHOOD): the negative log-likelihood, the IWAE bound with ``k`` samples, in bits per dimension
  (Nalisnick et al. 2019a, "Do deep generative models know what they don't know?", who found that it ranks MNIST
  as more likely than Fashion-MNIST under models of Fashion-MNIST);
* ``likelihood-ratio`` (LIKELIHOOD): the NLL minus the NLL of a background model of the same data trained on inputs
  whose pixels were replaced by uniform noise at a small rate, which keeps the population statistics and loses the
  semantics (Ren et al. 2019, "Likelihood ratios for out-of-distribution detection"); needs that background model;
* ``complexity`` (LIKELIHOOD): the NLL minus the bits per dimension of a lossless PNG compression of the 8-bit image,
  a stand-in for its Kolmogorov complexity (Serra et al. 2020, "Input complexity and out-of-distribution detection
  with likelihood-based generative models");
* ``typicality`` (LIKELIHOOD): per batch of M inputs, |mean NLL of the batch - mean NLL of training images|
  (Nalisnick et al. 2019b, "Detecting out-of-distribution inputs to deep generative models using typicality"); a
  score of batches, not of single images;
* ``reconstruction`` (RECONSTRUCT): the mean squared error of the model's reconstruction, per pixel in the model's
  value range (Sakurada & Yairi 2014, "Anomaly detection using autoencoders with nonlinear dimensionality
  reduction");
* ``denoising`` (SAMPLERS, the diffusion models): the mean squared error of the denoiser's one-step estimate of the
  image from ``x_t``, averaged over ``timesteps`` evenly spaced noise levels t, per pixel in [-1, 1] (after Graham
  et al. 2023, "Denoising diffusion models for out-of-distribution detection", who reconstruct from a range of noise
  levels).

A VAE's likelihood is a bound under its own pixel model: the Bernoulli likelihood of the grey-level Fashion-MNIST
models is a cross-entropy, not a density of 8-bit images, so its bits are not on the scale of the PNG's and the
complexity correction over-corrects incompressible images such as uniform noise (see the README's benchmark).

The sets (:data:`SETS`) are seeded: the model's own test split is the in-distribution set; ``mnist`` and
``fashion_mnist`` are those datasets' test splits; ``uniform`` is uniform noise over the 256 grey levels,
``constant`` one random grey level per image, ``inverted`` the in-distribution images with their grey levels
reversed. Every set is preprocessed as the model's recipe says.
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from PIL import Image

from zoo import data
from zoo.config import DataConfig
from zoo.errors import EvaluationError
from zoo.eval.detection import detection_metrics
from zoo.images import to_uint8
from zoo.models import Capability, get_family

LN2 = math.log(2.0)


@dataclass(frozen=True)
class Score:
    """An out-of-distribution score: its name, the capability it needs, its unit and its paper."""

    name: str
    needs: Capability
    unit: str
    paper: str
    what: str
    per_batch: bool = False  # a score of batches of inputs (typicality), not of single ones
    background: bool = False  # needs a background model (likelihood ratio)


SCORES = {score.name: score for score in (
    Score("nll", Capability.LIKELIHOOD, "bits/dim",
          "Nalisnick et al. 2019a, Do deep generative models know what they don't know? (ICLR 2019)",
          "negative log-likelihood, the IWAE bound with k importance samples"),
    Score("likelihood-ratio", Capability.LIKELIHOOD, "bits/dim",
          "Ren et al. 2019, Likelihood ratios for out-of-distribution detection (NeurIPS 2019)",
          "NLL minus the NLL of a background model trained on perturbed inputs", background=True),
    Score("complexity", Capability.LIKELIHOOD, "bits/dim",
          "Serra et al. 2020, Input complexity and out-of-distribution detection with likelihood-based generative "
          "models (ICLR 2020)", "NLL minus the bits of the 8-bit image's lossless PNG compression"),
    Score("typicality", Capability.LIKELIHOOD, "bits/dim",
          "Nalisnick et al. 2019b, Detecting out-of-distribution inputs to deep generative models using typicality "
          "(arXiv:1906.02994)", "|mean NLL of a batch of M inputs - mean NLL of training images|", per_batch=True),
    Score("reconstruction", Capability.RECONSTRUCT, "MSE/pixel",
          "Sakurada & Yairi 2014, Anomaly detection using autoencoders with nonlinear dimensionality reduction "
          "(MLSDA 2014)", "mean squared error of the reconstruction, in the model's value range"),
    Score("denoising", Capability.SAMPLERS, "MSE/pixel",
          "Graham et al. 2023, Denoising diffusion models for out-of-distribution detection (CVPR Workshops 2023)",
          "mean squared error of the one-step estimate of the image from x_t, averaged over evenly spaced t"),
)}
SETS = {
    "mnist": "MNIST test digits",
    "fashion_mnist": "Fashion-MNIST test images",
    "uniform": "uniform noise over the 256 grey levels",
    "constant": "constant images, one uniformly drawn grey level each",
    "inverted": "the in-distribution test images with their grey levels reversed (255 - x)",
}
LABELS = {"mnist": "MNIST test", "fashion_mnist": "Fashion-MNIST test", "uniform": "uniform noise",
          "constant": "constant images", "inverted": "inverted test images"}  # short names, for legends
DATASET_SETS = {"mnist": ("mnist.npz", "mnist10k.npz"), "fashion_mnist": ("fashion_mnist.npz",)}  # local files, in order
IN = "in"  # the in-distribution set's key
TRAIN = "train"  # training images: the typicality test's reference
TYPICALITY_SIZES = (2, 10, 25)


def applicable(model) -> list[str]:
    """The scores a model's family can give, from the capabilities it declares."""
    return [name for name, score in SCORES.items() if model.can(score.needs)]


# ---------------------------------------------------------------- the sets


@dataclass
class ImageSet:
    """Images as the model sees them (float, its value range) and as 8-bit pixels, with where they came from."""

    name: str
    images: np.ndarray
    description: str

    def __len__(self) -> int:
        return len(self.images)


def _stream(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream)])


def _dataset_config(name: str, cfg: DataConfig, data_dir) -> DataConfig:
    """The model's ``[data]`` pointed at another dataset: a local file if one of :data:`DATASET_SETS` is in the data
    dirs, else the dataset by name (``<name>.npz`` or tensorflow-datasets)."""
    base = dataclasses.replace(cfg.without_augmentation(), dataset=name, file="", split="train", eval_split="test",
                               classes=(), max_examples=0, labels=False)
    for file_name in DATASET_SETS[name]:
        for folder in data.data_dirs(data_dir):
            if (folder / file_name).is_file():
                return dataclasses.replace(base, file=str(folder / file_name))
    return base


def image_sets(cfg: DataConfig, names, n: int, *, seed: int = 0, data_dir=None, train: bool = False) -> dict:
    """The in-distribution test images (key :data:`IN`), the named sets, and with ``train`` as many training images
    (key :data:`TRAIN`), each at most ``n`` images, seeded, preprocessed as ``cfg`` says: {key: :class:`ImageSet`}."""
    low, high = cfg.value_range
    shape = (*cfg.image_size, cfg.channels)
    inside, _, description = data.labelled_images(cfg, cfg.eval_split, n, seed=seed, data_dir=data_dir)
    sets = {IN: ImageSet(IN, inside, f"{description} (in-distribution), {len(inside)} drawn")}
    if train:
        images, _, description = data.labelled_images(cfg, cfg.split, n, seed=seed + 1, data_dir=data_dir)
        sets[TRAIN] = ImageSet(TRAIN, images, f"{description}, {len(images)} drawn")
    for stream, name in enumerate(names, start=2):
        if name in DATASET_SETS:
            images, _, description = data.labelled_images(_dataset_config(name, cfg, data_dir), "test", n,
                                                          seed=seed + stream, data_dir=data_dir)
            description = f"{description}, {len(images)} drawn"
        elif name == "uniform":
            pixels = _stream(seed, stream).integers(0, 256, (n, *shape))
            images, description = pixels, f"{n} images of uniform noise over the 256 grey levels"
        elif name == "constant":
            levels = _stream(seed, stream).integers(0, 256, (n, 1, 1, 1))
            images, description = np.broadcast_to(levels, (n, *shape)), f"{n} constant images, grey levels uniform in 0..255"
        elif name == "inverted":
            images, description = (high + low) - inside, f"the {len(inside)} in-distribution images, inverted"
        else:
            raise EvaluationError(f"unknown out-of-distribution set {name!r}; the sets are {', '.join(SETS)}")
        if name in ("uniform", "constant"):
            images = np.asarray(images, "float32") * ((high - low) / 255.0) + low
        sets[name] = ImageSet(name, np.asarray(images, "float32"), description)
    return sets


# ---------------------------------------------------------------- per-image scores


def _batches(n: int, batch_size: int):
    return range(0, n, batch_size)


def nll_bits(model, images, *, k: int = 100, seed: int = 0, batch_size: int = 100, progress=None) -> np.ndarray:
    """-log p(x) of each image in bits per dimension: the IWAE bound with ``k`` samples (an upper bound on the NLL).

    A binary-likelihood model scores one fixed, seeded binarization of the images (as ``zoo eval-likelihood`` does);
    a conditional model scores p(x) = mean over its classes of p(x | class), each bounded alike.
    """
    images = np.asarray(images, "float32")
    if getattr(model, "binarize", False):
        images = (np.random.default_rng(seed).random(images.shape) < images).astype("float32")
    classes = model.num_classes if model.can(Capability.CONDITIONAL) else 0
    out = []
    for start in _batches(len(images), batch_size):
        x = images[start:start + batch_size]
        if classes:
            per_class = [model.log_likelihood(x, k, labels=np.full(len(x), c, "int32"), seed=seed + start).numpy()
                         for c in range(classes)]
            log_px = tf.reduce_logsumexp(np.stack(per_class), axis=0).numpy() - math.log(classes)
        else:
            log_px = model.log_likelihood(x, k, seed=seed + start).numpy()
        out.append(-log_px)
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    return np.concatenate(out) / (math.prod(images.shape[1:]) * LN2)


def compression_bits(pixels) -> np.ndarray:
    """Bits per dimension of each 8-bit image (N, H, W[, C]) losslessly compressed as PNG (Pillow, level 9, optimize)."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8:
        raise EvaluationError(f"compression_bits takes uint8 pixels, got {pixels.dtype}; use zoo.images.to_uint8")
    if pixels.ndim == 4 and pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    out = np.empty(len(pixels))
    for index, image in enumerate(pixels):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", optimize=True, compress_level=9)
        out[index] = 8.0 * len(buffer.getvalue())
    return out / math.prod(pixels.shape[1:])


def reconstruction_error(model, images, *, batch_size: int = 100, progress=None) -> np.ndarray:
    """Per-image mean squared error of ``model.reconstruct``; a conditional model's is the smallest over its classes."""
    images = np.asarray(images, "float32")
    classes = model.num_classes if model.can(Capability.CONDITIONAL) else 0
    out = []
    for start in _batches(len(images), batch_size):
        x = images[start:start + batch_size]
        if classes:
            errors = [np.mean((np.asarray(model.reconstruct(x, np.full(len(x), c, "int32"))) - x) ** 2, axis=(1, 2, 3))
                      for c in range(classes)]
            out.append(np.min(errors, axis=0))
        else:
            out.append(np.mean((np.asarray(model.reconstruct(x)) - x) ** 2, axis=(1, 2, 3)))
        if progress:
            progress(min(start + batch_size, len(images)), len(images))
    return np.concatenate(out)


def denoising_timesteps(num_timesteps: int, count: int) -> list[int]:
    """``count`` timesteps evenly spaced over [0, T), the middle of each of ``count`` equal intervals."""
    if not 1 <= count <= num_timesteps:
        raise EvaluationError(f"the denoising score takes 1 to {num_timesteps} timesteps (the model's T), got {count}")
    return [min(num_timesteps - 1, int((j + 0.5) * num_timesteps / count)) for j in range(count)]


def denoising_error(model, images, *, timesteps: int = 10, seed: int = 0, batch_size: int = 100,
                    progress=None) -> tuple[np.ndarray, np.ndarray]:
    """A diffusion model's per-image denoising error: for each of ``timesteps`` noise levels t, x_t from the image and
    seeded noise (the same for the i-th image of every set), the denoiser's one-step estimate of the image, and its
    mean squared error per pixel. Returns (the mean over t per image, the (N, timesteps) errors)."""
    images = np.asarray(images, "float32")
    schedule, steps = model.noise_schedule, denoising_timesteps(model.timesteps, timesteps)
    errors = np.empty((len(images), len(steps)))
    total = len(steps) * len(images)
    for j, t in enumerate(steps):
        noise = tf.random.stateless_normal(images.shape, seed=tf.constant([seed, j], "int32"))
        for start in _batches(len(images), batch_size):
            x0 = tf.constant(images[start:start + batch_size])
            t_batch = tf.fill((x0.shape[0],), tf.constant(t, "int32"))
            x_t = schedule.q_sample(x0, t_batch, noise[start:start + batch_size])
            estimate = schedule.predict_x0(model.denoise(x_t, t_batch), x_t, t_batch, model.prediction_type)
            errors[start:start + batch_size, j] = tf.reduce_mean(tf.square(estimate - x0), axis=[1, 2, 3]).numpy()
            if progress:
                progress(j * len(images) + min(start + batch_size, len(images)), total)
    return errors.mean(axis=1), errors


def typicality(nll, reference: float, batch_size: int, *, seed: int = 0) -> np.ndarray:
    """The typicality statistic of each of ``len(nll) // batch_size`` batches (a seeded partition of the inputs):
    |mean NLL of the batch - ``reference``|, the mean NLL of training images."""
    nll = np.asarray(nll, "float64")
    count = len(nll) // batch_size
    if batch_size < 1 or count < 2:
        raise EvaluationError(f"a typicality batch size of {batch_size} leaves {max(count, 0)} batch(es) of {len(nll)} "
                              "inputs; the test needs at least 2 per set: lower M or raise -n")
    order = np.random.default_rng(seed).permutation(len(nll))[:count * batch_size]
    return np.abs(nll[order].reshape(count, batch_size).mean(axis=1) - reference)


# ---------------------------------------------------------------- the evaluation


@dataclass
class OODResult:
    """The report (JSON-ready) and every set's scores, {row: {set key: scores}}, for the histogram."""

    report: dict
    values: dict


def _summary(values: np.ndarray) -> dict:
    return {"count": int(len(values)), "mean": float(np.mean(values)), "std": float(np.std(values)),
            "median": float(np.median(values)), "min": float(np.min(values)), "max": float(np.max(values))}


def evaluate_ood(model, cfg: DataConfig, *, scores, sets, n: int = 1000, k: int = 100,
                 typicality_sizes=TYPICALITY_SIZES, timesteps: int = 10, seed: int = 0, batch_size: int = 100,
                 background=None, data_dir=None, progress=None) -> OODResult:
    """Score the model's test images and each of ``sets`` with each of ``scores``, and measure how well each score
    separates each set from the test images (:func:`~zoo.eval.detection.detection_metrics`).

    ``background`` is the background model of the likelihood ratio (same inputs as ``model``). ``progress`` is a
    function of a label that returns a progress callback, or None.
    """
    unknown = [name for name in scores if name not in SCORES]
    if unknown:
        raise EvaluationError(f"unknown score(s) {', '.join(unknown)}; the scores are {', '.join(SCORES)}")
    refused = [name for name in scores if not model.can(SCORES[name].needs)]
    if refused:
        raise EvaluationError(f"{', '.join(refused)} need(s) what the model's family does not declare; its scores are "
                              f"{', '.join(applicable(model)) or 'none'}")
    if any(SCORES[name].background for name in scores) and background is None:
        raise EvaluationError("the likelihood ratio needs a background model")
    likelihood = [name for name in scores if SCORES[name].needs is Capability.LIKELIHOOD]
    began = time.perf_counter()
    image_set = image_sets(cfg, sets, n, seed=seed, data_dir=data_dir, train="typicality" in scores)
    keys = [IN, *sets]

    def bar(label):
        return progress(label) if progress else None

    nll, background_nll, bits = {}, {}, {}
    for key, images in image_set.items():
        if likelihood and (key in keys or key == TRAIN):
            nll[key] = nll_bits(model, images.images, k=k, seed=seed, batch_size=batch_size, progress=bar(f"NLL of {key}"))
        if "likelihood-ratio" in scores and key in keys:
            background_nll[key] = nll_bits(background, images.images, k=k, seed=seed, batch_size=batch_size,
                                           progress=bar(f"background NLL of {key}"))
        if "complexity" in scores and key in keys:
            bits[key] = compression_bits(to_uint8(images.images, cfg.value_range))
    values, rows, extra = {}, {}, {}
    for name in scores:
        if name == "nll":
            values[name] = {key: nll[key] for key in keys}
        elif name == "likelihood-ratio":
            values[name] = {key: nll[key] - background_nll[key] for key in keys}
        elif name == "complexity":
            values[name] = {key: nll[key] - bits[key] for key in keys}
            extra["png_bits_per_dim"] = {key: _summary(bits[key]) for key in keys}
        elif name == "reconstruction":
            values[name] = {key: reconstruction_error(model, image_set[key].images, batch_size=batch_size,
                                                      progress=bar(f"reconstructions of {key}")) for key in keys}
        elif name == "denoising":
            values[name], per_t = {}, {}
            for key in keys:
                values[name][key], errors = denoising_error(model, image_set[key].images, timesteps=timesteps, seed=seed,
                                                            batch_size=batch_size, progress=bar(f"denoising {key}"))
                per_t[key] = errors.mean(axis=0).tolist()
            extra["denoising_per_timestep"] = {"timesteps": denoising_timesteps(model.timesteps, timesteps), **per_t}
        elif name == "typicality":
            reference = float(np.mean(nll[TRAIN]))
            extra["typicality_reference_nll"] = reference
            for size in typicality_sizes:
                values[f"typicality (M={size})"] = {key: typicality(nll[key], reference, size, seed=seed) for key in keys}
    for row, by_set in values.items():
        score = SCORES[row.split(" ")[0]]
        rows[row] = {"score": score.name, "unit": score.unit, "what": score.what, "paper": score.paper,
                     "sets": {key: _summary(by_set[key]) for key in keys},
                     "detection": {key: detection_metrics(by_set[IN], by_set[key]) for key in sets}}
    report = {"settings": {"n": int(n), "k": int(k), "seed": int(seed), "batch_size": int(batch_size),
                           "typicality_sizes": [int(m) for m in typicality_sizes], "timesteps": int(timesteps),
                           "higher_score": "more out-of-distribution", "positive_class": "out-of-distribution"},
              "sets": {key: {"description": image_set[key].description, "count": len(image_set[key])}
                       for key in image_set},
              "scores": rows, **extra, "seconds": round(time.perf_counter() - began, 1)}
    return OODResult(report, values)


def same_inputs(a: DataConfig, b: DataConfig) -> bool:
    """Whether two models see their images alike (size, channels, value range, resizing)."""
    return (tuple(a.image_size), a.channels, tuple(a.value_range), a.resize) == \
        (tuple(b.image_size), b.channels, tuple(b.value_range), b.resize)


def background_candidates(recipe, recipes: dict) -> list[str]:
    """The names among ``recipes`` {name: Recipe} that can be ``recipe``'s background model for the likelihood ratio:
    a family with a likelihood, trained on perturbed images (``data.perturb_rate > 0``) of the same dataset, seeing
    images as ``recipe``'s model does. The closest model first (most equal ``[model]`` values), then by name."""
    ours = dataclasses.asdict(recipe.model)
    found = []
    for name, other in recipes.items():
        if (other.data.perturb_rate > 0 and other.data.dataset == recipe.data.dataset and other.name != recipe.name
                and get_family(other.family).can(Capability.LIKELIHOOD) and same_inputs(other.data, recipe.data)):
            theirs = dataclasses.asdict(other.model)
            found.append((-sum(theirs.get(key) == value for key, value in ours.items()), name))
    return [name for _, name in sorted(found)]
