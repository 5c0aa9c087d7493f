"""Seeded, resumable ``tf.data`` pipelines of preprocessed images for training, validation and example batches.

Epoch ``e`` is shuffled by ``(seed, e)`` alone and augmentation is keyed to a batch's place in the run, so a run
resumed at any epoch sees the batches an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from zoo.config import DataConfig, DomainConfig
from zoo.data.preprocess import augment, preprocess
from zoo.data.resampling import EpochOrders
from zoo.data.sources import Source, load_factors, load_split
from zoo.errors import DataError

SEED_STRIDE = 1_000_003
AUGMENT_SALT = 500_009  # keeps augmentation draws apart from the shuffles


def _batch_fn(cfg: DataConfig, with_labels: bool):
    if with_labels:
        return lambda x, y: (preprocess(x, cfg), tf.cast(y, tf.int32))
    return lambda x: preprocess(x, cfg)


def _check_labels(source: Source, cfg: DataConfig) -> None:
    if cfg.labels and not source.has_labels:
        raise DataError(f"data.labels = true, but {source.description} has no labels; "
                        f"set data.labels = false or use labelled data")


def domain_configs(cfg: DataConfig) -> tuple[DataConfig, DataConfig] | None:
    """A two-domain recipe's ``[data]`` as one single-domain config per domain (A, B); None for one domain.

    A domain's empty fields come from ``[data]``; everything else (size, range, augmentation) is shared.
    """
    if not cfg.two_domains:
        return None

    def one(domain):
        return dataclasses.replace(cfg, file=domain.file or cfg.file, classes=domain.classes or cfg.classes,
                                   split=domain.split or cfg.split, eval_split=domain.eval_split or cfg.eval_split,
                                   design=domain.design or cfg.design,
                                   domain_a=DomainConfig(), domain_b=DomainConfig())

    return one(cfg.domain_a), one(cfg.domain_b)


def describe(cfg: DataConfig, split: str, data_dir=None) -> str:
    """What ``split`` of the recipe's data resolves to, e.g. for an artifact's metadata."""
    domains = domain_configs(cfg)
    if domains is None:
        return load_split(cfg, split, data_dir).description
    eval_side = split == cfg.eval_split
    return "; ".join(f"domain {name}: " + load_split(d, d.eval_split if eval_side else d.split, data_dir).description
                     for name, d in zip("AB", domains))


def train_stream(cfg: DataConfig, batch_size: int, *, seed: int, start_epoch: int, epochs: int,
                 steps_per_epoch: int = 0, data_dir=None, orders: EpochOrders | None = None) -> tuple[tf.data.Dataset, int]:
    """One finite dataset for epochs ``start_epoch..epochs-1``, exactly ``steps`` batches each; returns (dataset, steps).

    Epoch ``e`` is shuffled with a seed made from ``(seed, e)`` alone, and augmentation is keyed to the batch's
    place in the run, so a run resumed at epoch ``e`` sees the same batches as an uninterrupted one. ``steps``
    counts full batches, capped by ``steps_per_epoch`` when > 0. Elements are float32 images, or
    ``(images, int32 labels)`` when ``cfg.labels``, or ``(images_a, images_b)`` for a two-domain recipe: an epoch
    then passes once over the larger domain while the smaller one is cycled (unpaired batches, as in CycleGAN).
    With ``orders`` each epoch is instead the ``steps * batch_size`` indices put there at the epoch's start
    (:mod:`zoo.data.resampling`; one domain, data in memory).
    """
    domains = domain_configs(cfg)
    configs = domains or (cfg,)
    sources = [load_split(c, c.split, data_dir) for c in configs]
    for source, c in zip(sources, configs):
        _check_labels(source, c)
        if source.size < batch_size:
            raise DataError(f"{source.description} has fewer examples than one batch of {batch_size}; "
                            f"lower train.batch_size or use more data")
    steps = max(source.size for source in sources) // batch_size
    if steps_per_epoch > 0:
        steps = min(steps, steps_per_epoch)
    if orders is not None and (domains is not None or not sources[0].in_memory):
        raise DataError(f"re-sampling each epoch needs one set of images in memory (an .npz or a folder), not "
                        f"{'two domains' if domains is not None else sources[0].description}")
    streams = [_augmented(_epochs(source, c, batch_size, seed + stream * SEED_STRIDE, start_epoch, epochs, steps, orders),
                          c, seed + stream * SEED_STRIDE, first_batch=int(start_epoch) * steps)
               for stream, (source, c) in enumerate(zip(sources, configs))]
    dataset = streams[0] if domains is None else tf.data.Dataset.zip(tuple(streams))
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def distribute(dataset: tf.data.Dataset, strategy: tf.distribute.Strategy, parts: int = 1):
    """The global batches of ``dataset`` spread over ``strategy``'s replicas: replica ``r`` of ``R`` gets rows
    ``r * b .. (r + 1) * b`` of each batch (``b = B / R``), so that a step sees the examples one device would.

    Every worker's input pipeline reads the same seeded global batches and keeps its own replicas' rows; nothing
    depends on the number of workers, and ``--resume`` stays exact. A batch made of ``parts`` consecutive slices
    that ``train_step`` uses one by one (WGAN-GP's critic updates) has each slice split across the replicas, so
    every update still sees its slice's examples. With one replica the dataset is returned as it is.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return dataset

    def rows(x, pipeline, local):
        batch = x.shape[0]
        if batch is None or batch % (replicas * parts):
            raise DataError(f"train.batch_size = {batch} must be divisible by the {replicas} replicas"
                            + (f" times the {parts} parts of a step" if parts > 1 else "")
                            + f"; use a multiple of {replicas * parts}")
        per = batch // (replicas * parts)
        x = tf.reshape(x, [parts, replicas, per, *x.shape[1:]])  # slice, replica, row
        x = tf.reshape(tf.transpose(x, [1, 0, *range(2, x.shape.rank)]), [replicas, parts * per, *x.shape[3:]])
        return x[pipeline * local:(pipeline + 1) * local]  # this pipeline's replicas, one batch each

    def for_pipeline(context: tf.distribute.InputContext):
        local = replicas // context.num_input_pipelines
        split = dataset.map(lambda *batch: tf.nest.map_structure(
            lambda x: rows(x, context.input_pipeline_id, local), batch if len(batch) > 1 else batch[0]))
        return split.unbatch().prefetch(tf.data.AUTOTUNE)  # consecutive batches go to consecutive local replicas

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return strategy.distribute_datasets_from_function(for_pipeline, options)


def _epochs(source: Source, cfg: DataConfig, batch_size: int, seed: int, start_epoch: int, epochs: int,
            steps: int, orders: EpochOrders | None = None) -> tf.data.Dataset:
    """``steps`` preprocessed batches per epoch, each epoch shuffled by ``(seed, epoch)`` (or in the order ``orders``
    hands over at its start); cycles a small source."""
    with_labels = bool(cfg.labels)
    per_example = False
    if source.in_memory:
        images = tf.constant(source.images)
        labels = tf.constant(source.labels) if with_labels else None
        size = source.size
        repeats = -(-steps * batch_size // size)  # > 1 only for the smaller of two domains

        def epoch(e):
            if orders is not None:  # waits for the epoch's draws (zoo.train.callbacks.Resample)
                return tf.data.Dataset.from_tensor_slices(orders.take()).batch(batch_size, drop_remainder=True).take(steps)
            # A stateless permutation keyed by (seed, epoch): independent of any global RNG state.
            key = tf.stack([tf.constant(int(seed), tf.int64), e])
            order = tf.random.experimental.stateless_shuffle(tf.range(size, dtype=tf.int64), seed=key)
            order = tf.tile(order, [repeats])
            return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True).take(steps)

        def gather(index):
            return (tf.gather(images, index), tf.gather(labels, index)) if with_labels else tf.gather(images, index)

        dataset = tf.data.Dataset.range(int(start_epoch), int(epochs)).flat_map(epoch)
        dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        base = source.dataset if with_labels else source.dataset.map(lambda x, y: x)
        buffer = min(cfg.shuffle_buffer, source.size)
        base, per_example = _maybe_preprocess_per_example(base, cfg, with_labels)
        # One shuffled pass per epoch with a Python-int seed: tf.data cannot take a symbolic seed
        # when the global seed is 0 (its get_seed compares the seed pair with (0, 0)).
        passes = [base.shuffle(buffer, seed=int(seed) * SEED_STRIDE + e, reshuffle_each_iteration=False).repeat()
                  .batch(batch_size, drop_remainder=True).take(steps) for e in range(int(start_epoch), int(epochs))]
        dataset = passes[0] if passes else base.batch(batch_size, drop_remainder=True).take(0)
        for more in passes[1:]:
            dataset = dataset.concatenate(more)
    if not per_example:
        dataset = dataset.map(_batch_fn(cfg, with_labels), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset


def _augmented(dataset: tf.data.Dataset, cfg: DataConfig, seed: int, first_batch: int) -> tf.data.Dataset:
    """``dataset`` with :func:`augment` applied, each batch keyed to its index in the whole run."""
    if not cfg.augmented:
        return dataset
    salt = tf.constant(int(seed) + AUGMENT_SALT, tf.int64)

    def one(index, batch):
        key = tf.stack([salt, index])
        if cfg.labels:
            return augment(batch[0], cfg, key), batch[1]
        return augment(batch, cfg, key)

    return dataset.enumerate(start=first_batch).map(one, num_parallel_calls=tf.data.AUTOTUNE)


def _maybe_preprocess_per_example(dataset, cfg, with_labels):
    """Streamed images of varying size cannot be batched raw: preprocess those one by one instead."""
    image_spec = dataset.element_spec[0] if with_labels else dataset.element_spec
    if image_spec.shape.is_fully_defined():
        return dataset, False

    def one(x, *rest):
        x = preprocess(x[None], cfg)[0]
        return (x, tf.cast(rest[0], tf.int32)) if rest else x

    return dataset.map(one, num_parallel_calls=tf.data.AUTOTUNE), True


def eval_dataset(cfg: DataConfig, batch_size: int, *, steps: int = 0, data_dir=None) -> tf.data.Dataset:
    """``cfg.eval_split`` in order, batched with the last partial batch kept, at most ``steps`` batches when > 0.

    A two-domain recipe gives ``(images_a, images_b)`` batches until the smaller domain's eval split ends.
    """
    domains = domain_configs(cfg)
    if domains is not None:
        return tf.data.Dataset.zip(tuple(eval_dataset(d, batch_size, steps=steps, data_dir=data_dir) for d in domains))
    source = load_split(cfg, cfg.eval_split, data_dir)
    _check_labels(source, cfg)
    with_labels = bool(cfg.labels)
    if source.in_memory:
        items = (source.images, source.labels) if with_labels else source.images
        dataset = tf.data.Dataset.from_tensor_slices(items).batch(batch_size)
        per_example = False
    else:
        base = source.dataset if with_labels else source.dataset.map(lambda x, y: x)
        base, per_example = _maybe_preprocess_per_example(base, cfg, with_labels)
        dataset = base.batch(batch_size)
    if steps > 0:
        dataset = dataset.take(steps)
    if not per_example:
        dataset = dataset.map(_batch_fn(cfg, with_labels), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def example_batch(cfg: DataConfig, n: int, *, data_dir=None, split: str | None = None):
    """The first ``n`` examples of the eval split (or ``split``), preprocessed: (float32 images, int32 labels or None).

    Deterministic; returns fewer than ``n`` when the split is smaller. For a two-domain recipe: the first
    ``ceil(n / 2)`` images of domain A and the first ``n // 2`` of domain B, alternating A, B, A, ..., labelled
    with their domain (0 = A, 1 = B).
    """
    domains = domain_configs(cfg)
    if domains is not None:
        images_a, images_b = (example_batch(d, count, data_dir=data_dir, split=split)[0] if count else None
                              for d, count in zip(domains, ((n + 1) // 2, n // 2)))
        if images_b is None:
            return images_a, np.zeros(len(images_a), "int32")
        order = [(0, i) for i in range(len(images_a))] + [(1, i) for i in range(len(images_b))]
        order.sort(key=lambda item: (item[1], item[0]))  # A, B, A, B, ...: any prefix holds both domains
        return (np.stack([(images_a, images_b)[d][i] for d, i in order]), np.asarray([d for d, _ in order], "int32"))
    source = load_split(cfg, split or cfg.eval_split, data_dir)
    if source.in_memory:
        images, labels = source.images[:n], None if source.labels is None else source.labels[:n]
    else:
        images, labels = [], []
        for image, label in source.dataset.take(n):
            images.append(preprocess(image[None], cfg)[0].numpy())
            labels.append(int(label))
        if not images:
            raise DataError(f"{source.description} is empty; choose another split")
        images = np.stack(images).astype("float32")
        labels = np.asarray(labels, "int32") if source.has_labels else None
        return images, labels
    if len(images) == 0:
        raise DataError(f"{source.description} is empty; choose another split")
    return preprocess(images, cfg).numpy(), labels


def labelled_images(cfg: DataConfig, split: str, n: int, *, seed: int = 0, data_dir=None):
    """``n`` images of ``split`` (all when it is smaller), a seeded random subset in file order, preprocessed:
    (float32 images, int32 labels or None, the source's description). A streamed source gives its first ``n``."""
    source = load_split(cfg, split, data_dir)
    if not source.in_memory:
        images, labels = example_batch(cfg, n, data_dir=data_dir, split=split)
        return images, labels, source.description
    count = min(n, source.size)
    index = np.sort(np.random.default_rng(seed).choice(source.size, count, replace=False))
    images = np.concatenate([preprocess(source.images[index[i:i + 1000]], cfg).numpy() for i in range(0, count, 1000)])
    labels = None if source.labels is None else source.labels[index].astype("int32")
    return images, labels, source.description


def factor_images(cfg: DataConfig, split: str, n: int, *, data_dir=None):
    """The first ``n`` images of ``split``, preprocessed, with their ground-truth factors of variation: (float32 images,
    int32 factor classes (N, F), factor names, the source's description). A clear :class:`DataError` for data without
    factors (see :func:`zoo.data.sources.load_factors`)."""
    pixels, factors, names, description = load_factors(cfg, split, n, data_dir)
    images = np.concatenate([preprocess(pixels[i:i + 1000], cfg).numpy() for i in range(0, len(pixels), 1000)])
    return images, factors, names, description
