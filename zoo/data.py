"""Datasets for training and evaluation: local .npz archives, folders of images, or tensorflow-datasets.

A ``[data]`` section (:class:`zoo.config.DataConfig`) is resolved to one split at a time
(:func:`load_split`), then turned into seeded, resumable ``tf.data`` pipelines of
preprocessed float32 images (:func:`train_stream`, :func:`eval_dataset`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import io
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo.config import DataConfig, DomainConfig
from zoo.errors import DataError

NPZ_SPLITS = {"train": ("x_train", "y_train"), "test": ("x_test", "y_test")}
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras.utils.image_dataset_from_directory reads
# tensorflow-datasets fetches prepared data and mirrors from Google Cloud Storage first.
NETWORK_CHECK = ("storage.googleapis.com", 443)
NETWORK_TIMEOUT = 3.0
SEED_STRIDE = 1_000_003
AUGMENT_SALT = 500_009  # keeps augmentation draws apart from the shuffles


# ---------------------------------------------------------------- where files are


def data_dirs(data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for local data, in order: ``data_dir`` (--data-dir), each entry of $ZOO_DATA_DIR, ~/.zoo/data.

    All of them are returned, existing or not, so that errors can report every place searched.
    """
    candidates = []
    if data_dir:
        candidates.append(Path(data_dir).expanduser())
    for entry in os.environ.get("ZOO_DATA_DIR", "").split(os.pathsep):
        if entry.strip():
            candidates.append(Path(entry.strip()).expanduser())
    candidates.append(Path.home() / ".zoo" / "data")
    out = []
    for path in candidates:
        if path not in out:
            out.append(path)
    return out


def _searched(dirs) -> str:
    return ", ".join(str(d) for d in dirs)


def _offline() -> bool:
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _network_available() -> bool:
    try:
        with socket.create_connection(NETWORK_CHECK, timeout=NETWORK_TIMEOUT):
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- one split


@dataclass
class Source:
    """One split, resolved: in-memory arrays (npz, folder) or a streamed tf.data pipeline (tfds)."""

    images: np.ndarray | None  # uint8 (N, H, W, C) for in-memory sources, else None
    labels: np.ndarray | None  # int32 (N,), or None when the source has no labels
    dataset: tf.data.Dataset | None  # streamed sources: (uint8 image HxWxC, int32 label); None for in-memory
    size: int  # number of examples, after the class filter and max_examples
    description: str  # e.g. "fashion_mnist.npz [train], 60000 images" (the name in the data dir, not a path)
    num_classes: int | None
    streamed_labels: bool = False  # whether a streamed source's labels are real (else they are all -1)

    @property
    def in_memory(self) -> bool:
        return self.images is not None

    @property
    def has_labels(self) -> bool:
        return self.labels is not None if self.in_memory else self.streamed_labels


def load_split(cfg: DataConfig, split: str, data_dir=None) -> Source:
    """Resolve ``split`` of the recipe's data: ``cfg.file``, else ``<cfg.dataset>.npz`` in the data dirs, else tfds.

    A folder of images has no splits: every split name gives all of its images.
    ``cfg.classes`` and ``cfg.max_examples`` are applied here (the first ``max_examples`` kept, in file order).
    """
    dirs = data_dirs(data_dir)
    if cfg.file:
        path = _find_file(cfg.file, dirs)
        if path.is_dir():
            images, labels, num_classes, _ = _load_folder(path, cfg.channels)
            where = f"{path.name} (folder, all images)"  # named inside the data dir: no machine path in artifacts
        else:
            images, labels, num_classes = _load_npz_split(path, split)
            where = f"{path.name} [{split}]"
        return _in_memory_source(images, labels, num_classes, where, cfg)
    for folder in dirs:
        path = folder / f"{cfg.dataset}.npz"
        if path.is_file():
            images, labels, num_classes = _load_npz_split(path, split)
            return _in_memory_source(images, labels, num_classes, f"{path.name} [{split}]", cfg)
    return _load_tfds(cfg, split, dirs)


def _find_file(name: str, dirs) -> Path:
    path = Path(name).expanduser()
    if path.exists():
        return path
    for folder in dirs:
        candidate = folder / path
        if candidate.exists():
            return candidate
    raise DataError(f"data file '{name}' not found as a path or in any data dir ({_searched(dirs)}); "
                    f"pass --data-dir DIR or set ZOO_DATA_DIR to the folder that holds it")


def _in_memory_source(images, labels, num_classes, where: str, cfg: DataConfig) -> Source:
    if images.ndim == 3:
        images = images[..., None]
    if cfg.classes:
        if labels is None:
            raise DataError(f"data.classes = {list(cfg.classes)} needs labels, but {where} has none; "
                            f"remove data.classes or use labelled data (y_* arrays, or one sub-folder per class)")
        present = set(np.unique(labels).tolist())
        missing = [c for c in cfg.classes if c not in present]
        if missing:
            raise DataError(f"class(es) {missing} from data.classes are not in {where} (labels present: "
                            f"{_ranges(sorted(present))}); fix data.classes")
        keep = np.isin(labels, np.asarray(cfg.classes, dtype=labels.dtype))
        images, labels = images[keep], labels[keep]
    if cfg.max_examples and len(images) > cfg.max_examples:
        images = images[: cfg.max_examples]
        labels = None if labels is None else labels[: cfg.max_examples]
    desc = f"{where}, {len(images)} images"
    if cfg.classes:
        desc += f" of classes {list(cfg.classes)}"
    return Source(images, labels, None, len(images), desc, num_classes)


def _ranges(values) -> str:
    if values and values == list(range(values[0], values[-1] + 1)) and len(values) > 2:
        return f"{values[0]}..{values[-1]}"
    return ", ".join(str(v) for v in values)


# ---------------------------------------------------------------- .npz archives


@functools.lru_cache(maxsize=4)
def _read_npz(path: str, mtime_ns: int, size: int) -> dict[str, np.ndarray]:
    """Every array of an .npz (cached by path, mtime and size; the arrays are read-only)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:  # BadZipFile, zlib/EOF errors on truncation, pickled objects, ...
        reason = str(exc) or type(exc).__name__
        raise DataError(f"{path} is not a readable .npz archive ({reason}); "
                        f"re-create it with numpy.savez (arrays x_train, y_train, x_test, y_test)") from None
    for array in arrays.values():
        array.flags.writeable = False
    return arrays


def _npz(path: Path) -> dict[str, np.ndarray]:
    stat = path.stat()
    return _read_npz(str(path), stat.st_mtime_ns, stat.st_size)


def _load_npz_split(path: Path, split: str):
    if split not in NPZ_SPLITS:
        close = difflib.get_close_matches(split, NPZ_SPLITS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise DataError(f"split '{split}'{hint} is not available in {path}: a .npz has the splits 'train' (x_train) "
                        f"and 'test' (x_test); set data.split / data.eval_split to one of them")
    arrays = _npz(path)
    x_key, y_key = NPZ_SPLITS[split]
    if x_key not in arrays:
        raise DataError(f"{path} has no '{x_key}' array (it holds: {', '.join(arrays) or 'nothing'}); "
                        f"a .npz needs the keras.datasets layout: x_train, y_train, x_test, y_test")
    images = _as_uint8(arrays[x_key], f"{path} [{x_key}]")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise DataError(f"{path} [{x_key}] has shape {images.shape}; expected images (N, H, W) or (N, H, W, C) "
                        f"with C = 1, 3 or 4")
    labels = None
    num_classes = None
    if y_key in arrays:
        raw = arrays[y_key]
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim != 1 or len(raw) != len(images) or not np.issubdtype(raw.dtype, np.integer):
            raise DataError(f"{path} [{y_key}] has shape {raw.shape} and dtype {raw.dtype}; expected integer "
                            f"labels of shape ({len(images)},) to match {x_key}")
        labels = raw.astype("int32")
        num_classes = int(labels.max()) + 1 if len(labels) else None
    return images, labels, num_classes


def _as_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """Pixels as uint8: integers in [0, 255] as they are; floats in [0, 1] scaled by 255, floats in [0, 255] rounded."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise DataError(f"{what} has dtype {array.dtype}; expected uint8 pixels (or numbers in [0, 255])")
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 0.0)
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite([low, high]).all():
        raise DataError(f"{what} holds NaN or infinite values; expected pixels in [0, 255]")
    if low < 0 or high > 255:
        raise DataError(f"{what} has values in [{low:g}, {high:g}]; expected pixels in [0, 255] (or floats in [0, 1])")
    if np.issubdtype(array.dtype, np.floating):
        if high <= 1.0:
            array = array * 255.0
        return np.round(array).astype("uint8")
    return array.astype("uint8")


# ---------------------------------------------------------------- folders of images


def _load_folder(folder: Path, channels: int):
    """All images under ``folder``, recursively: (uint8 pixels, labels or None, number of classes or None, file paths).

    Labels come from the sorted immediate sub-folders, if there are any.

    With sub-folders, images directly in ``folder`` are ignored (Keras' rule). Images of different sizes are
    resized (bilinear) to the size of the first one.
    """
    from keras.utils import image_dataset_from_directory
    from PIL import Image

    has_classes = any(p.is_dir() and not p.name.startswith(".") for p in folder.iterdir())
    kwargs = dict(labels="inferred" if has_classes else None, label_mode="int" if has_classes else None,
                  color_mode="grayscale" if channels == 1 else "rgb", batch_size=None, shuffle=False, verbose=False)

    def build(size):
        with contextlib.redirect_stdout(io.StringIO()):
            return image_dataset_from_directory(str(folder), image_size=size, **kwargs)

    try:
        probe = build((8, 8))  # only indexes the files; nothing is decoded yet
    except ValueError as exc:
        if "No images found" in str(exc):
            raise DataError(f"folder {folder} holds no images ({' '.join(IMAGE_SUFFIXES)}, searched recursively"
                            f"{' in its class sub-folders' if has_classes else ''}); add images or fix data.file") from None
        raise DataError(f"cannot read the images in folder {folder}: {exc}") from None
    first = probe.file_paths[0]
    try:
        with Image.open(first) as image:
            width, height = image.size
    except Exception as exc:
        raise DataError(f"{first} is not a readable image ({exc}); remove or replace it") from None
    dataset = build((height, width))
    images, labels = [], []
    try:
        for batch in dataset.batch(256):
            if has_classes:
                batch, batch_labels = batch
                labels.append(batch_labels.numpy())
            images.append(batch.numpy())
    except tf.errors.OpError as exc:
        raise DataError(f"an image under {folder} could not be decoded ({exc.message.splitlines()[0]}); "
                        f"remove or replace the corrupt file") from None
    pixels = np.round(np.clip(np.concatenate(images), 0, 255)).astype("uint8")
    paths = [Path(p) for p in dataset.file_paths]
    if not has_classes:
        return pixels, None, None, paths
    class_names = getattr(probe, "class_names", None)
    return pixels, np.concatenate(labels).astype("int32"), len(class_names) if class_names else None, paths


# ---------------------------------------------------------------- tensorflow-datasets


def _load_tfds(cfg: DataConfig, split: str, dirs) -> Source:
    """tensorflow-datasets by name, streamed: a copy prepared in a data dir or in tfds' own dir, else downloaded.

    Without a prepared copy and with $ZOO_OFFLINE set or no network, fails at once (no tfds retries).
    """
    import tensorflow_datasets as tfds  # slow to import: only when no local file matched

    name = cfg.dataset
    why = "ZOO_OFFLINE is set" if _offline() else f"{NETWORK_CHECK[0]} is unreachable"
    missing = (f"dataset '{name}' not found locally and no network ({why}): put {name}.npz (keras.datasets layout: "
               f"x_train, y_train, x_test, y_test) in one of: {_searched(dirs)}, or pass --data-dir DIR")
    builder = None
    for folder in [d for d in dirs if d.is_dir()] + [None]:
        try:
            candidate = tfds.builder(name, data_dir=None if folder is None else str(folder))
        except tfds.core.registered.DatasetNotFoundError as exc:
            match = re.search(r"Did you mean: \S+ -> (\S+) \?", str(exc))
            hint = f" (did you mean '{match.group(1)}'?)" if match else ""
            raise DataError(f"dataset '{name}'{hint} is neither a local {name}.npz in {_searched(dirs)} nor a "
                            f"tensorflow-datasets name; fix data.dataset, or set data.file") from None
        except Exception as exc:
            raise DataError(f"dataset '{name}': tensorflow-datasets failed ({exc}); {missing}") from None
        if candidate.is_prepared():
            builder = candidate
            break
    if builder is None:
        if _offline() or not _network_available():
            raise DataError(missing)
        builder = tfds.builder(name)
        try:
            builder.download_and_prepare()
        except Exception as exc:
            raise DataError(f"downloading dataset '{name}' with tensorflow-datasets failed ({exc}); "
                            f"put {name}.npz (keras.datasets layout) in one of: {_searched(dirs)}") from None

    info = builder.info
    try:
        size = int(info.splits[split].num_examples)
    except Exception:
        raise DataError(f"split '{split}' is not in tensorflow-datasets '{name}' (splits: "
                        f"{', '.join(info.splits.keys())}); set data.split / data.eval_split") from None
    image_key, label_key = _tfds_keys(info, tfds)
    if image_key is None:
        raise DataError(f"tensorflow-datasets '{name}' has no image feature; choose an image dataset")
    num_classes = getattr(info.features[label_key], "num_classes", None) if label_key else None
    where = f"tfds:{name} [{split}]"
    read_config = tfds.ReadConfig(try_autocache=False)  # epochs often stop early (take): a partial cache is discarded
    dataset = builder.as_dataset(split=split, shuffle_files=False, read_config=read_config)
    if label_key:
        dataset = dataset.map(lambda ex: (ex[image_key], tf.cast(ex[label_key], tf.int32)))
    else:
        dataset = dataset.map(lambda ex: (ex[image_key], tf.constant(-1, tf.int32)))

    if cfg.classes:
        if not label_key:
            raise DataError(f"data.classes = {list(cfg.classes)} needs labels, but {where} has none; "
                            f"remove data.classes")
        counts = _tfds_label_counts(builder, split, image_key, label_key, tfds)
        missing_classes = [c for c in cfg.classes if counts.get(c, 0) == 0]
        if missing_classes:
            raise DataError(f"class(es) {missing_classes} from data.classes are not in {where} (labels present: "
                            f"{_ranges(sorted(counts))}); fix data.classes")
        size = sum(counts[c] for c in cfg.classes)
        wanted = tf.constant(cfg.classes, tf.int32)
        dataset = dataset.filter(lambda x, y: tf.reduce_any(tf.equal(y, wanted)))
    if cfg.max_examples and size > cfg.max_examples:
        dataset = dataset.take(cfg.max_examples)
        size = cfg.max_examples
    desc = f"{where}, {size} images" + (f" of classes {list(cfg.classes)}" if cfg.classes else "")
    return Source(None, None, dataset, size, desc, num_classes, streamed_labels=bool(label_key))


def _tfds_keys(info, tfds) -> tuple[str | None, str | None]:
    """The image and label features: the supervised keys, else the first Image and the first ClassLabel feature."""
    features = info.features
    if info.supervised_keys and len(info.supervised_keys) == 2:
        image_key, label_key = info.supervised_keys
        if isinstance(image_key, str) and isinstance(label_key, str) \
                and isinstance(features[image_key], tfds.features.Image):
            return image_key, label_key
    image_key = next((k for k, f in features.items() if isinstance(f, tfds.features.Image)), None)
    label_key = next((k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)), None)
    return image_key, label_key


def _tfds_label_counts(builder, split, image_key, label_key, tfds) -> dict[int, int]:
    """Examples per label in one tfds split, reading the labels only (images are not decoded)."""
    dataset = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False),
                                 decoders={image_key: tfds.decode.SkipDecoding()})
    labels = [b.numpy() for b in dataset.map(lambda ex: ex[label_key]).batch(4096)]
    values, counts = np.unique(np.concatenate(labels).astype("int64") if labels else np.zeros(0, "int64"),
                               return_counts=True)
    return dict(zip(values.tolist(), counts.tolist()))


# ---------------------------------------------------------------- preprocessing


def preprocess(images, cfg: DataConfig) -> tf.Tensor:
    """A batch of pixels (uint8, or float in [0, 255]), (N, H, W) or (N, H, W, C), to what the model sees.

    Returns float32 ``(N, *cfg.image_size, cfg.channels)`` in ``cfg.value_range``: channels converted
    (grey <-> RGB; an alpha channel is dropped), then resized with ``cfg.resize`` ("pad" centre-pads or
    centre-crops without scaling). Works eagerly and inside ``tf.data`` maps.
    """
    x = tf.convert_to_tensor(images)
    if x.shape.rank == 3:
        x = x[..., None]
    if x.shape.rank != 4:
        raise DataError(f"images must have shape (N, H, W) or (N, H, W, C), got {tuple(x.shape)}")
    x = tf.cast(x, tf.float32)
    channels = x.shape[-1]
    if channels == 4:
        x = x[..., :3]
        channels = 3
    if channels not in (1, 3):
        raise DataError(f"images have {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA)")
    if channels == 1 and cfg.channels == 3:
        x = tf.image.grayscale_to_rgb(x)
    elif channels == 3 and cfg.channels == 1:
        x = tf.image.rgb_to_grayscale(x)
    height, width = (int(s) for s in cfg.image_size)
    if tuple(x.shape[1:3]) != (height, width):
        if cfg.resize == "pad":
            x = tf.image.resize_with_crop_or_pad(x, height, width)
        else:
            x = tf.image.resize(x, (height, width), method=cfg.resize)
    low, high = cfg.value_range
    return x * ((high - low) / 255.0) + low


def _batch_fn(cfg: DataConfig, with_labels: bool):
    if with_labels:
        return lambda x, y: (preprocess(x, cfg), tf.cast(y, tf.int32))
    return lambda x: preprocess(x, cfg)


def _check_labels(source: Source, cfg: DataConfig) -> None:
    if cfg.labels and not source.has_labels:
        raise DataError(f"data.labels = true, but {source.description} has no labels; "
                        f"set data.labels = false or use labelled data")


# ---------------------------------------------------------------- pipelines


def domain_configs(cfg: DataConfig) -> tuple[DataConfig, DataConfig] | None:
    """A two-domain recipe's ``[data]`` as one single-domain config per domain (A, B); None for one domain.

    A domain's empty fields come from ``[data]``; everything else (size, range, augmentation) is shared.
    """
    if not cfg.two_domains:
        return None

    def one(domain):
        return dataclasses.replace(cfg, file=domain.file or cfg.file, classes=domain.classes or cfg.classes,
                                   split=domain.split or cfg.split, eval_split=domain.eval_split or cfg.eval_split,
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
                 steps_per_epoch: int = 0, data_dir=None) -> tuple[tf.data.Dataset, int]:
    """One finite dataset for epochs ``start_epoch..epochs-1``, exactly ``steps`` batches each; returns (dataset, steps).

    Epoch ``e`` is shuffled with a seed made from ``(seed, e)`` alone, and augmentation is keyed to the batch's
    place in the run, so a run resumed at epoch ``e`` sees the same batches as an uninterrupted one. ``steps``
    counts full batches, capped by ``steps_per_epoch`` when > 0. Elements are float32 images, or
    ``(images, int32 labels)`` when ``cfg.labels``, or ``(images_a, images_b)`` for a two-domain recipe: an epoch
    then passes once over the larger domain while the smaller one is cycled (unpaired batches, as in CycleGAN).
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
    streams = [_augmented(_epochs(source, c, batch_size, seed + stream * SEED_STRIDE, start_epoch, epochs, steps),
                          c, seed + stream * SEED_STRIDE, first_batch=int(start_epoch) * steps)
               for stream, (source, c) in enumerate(zip(sources, configs))]
    dataset = streams[0] if domains is None else tf.data.Dataset.zip(tuple(streams))
    return dataset.prefetch(tf.data.AUTOTUNE), steps


def _epochs(source: Source, cfg: DataConfig, batch_size: int, seed: int, start_epoch: int, epochs: int,
            steps: int) -> tf.data.Dataset:
    """``steps`` preprocessed batches per epoch, each epoch shuffled by ``(seed, epoch)``; cycles a small source."""
    with_labels = bool(cfg.labels)
    per_example = False
    if source.in_memory:
        images = tf.constant(source.images)
        labels = tf.constant(source.labels) if with_labels else None
        size = source.size
        repeats = -(-steps * batch_size // size)  # > 1 only for the smaller of two domains

        def epoch(e):
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


def augment(images, cfg: DataConfig, seed) -> tf.Tensor:
    """The training augmentation of a preprocessed batch, per image: CycleGAN's resize up to ``cfg.load_size``
    and random crop back to ``cfg.image_size``, then a left-right flip with probability 0.5 (``cfg.random_flip``).

    ``seed`` is a stateless seed, shape (2,): the same seed gives the same crops and flips.
    """
    x = tf.convert_to_tensor(images)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    n = tf.shape(x)[0]
    if cfg.load_size:
        (height, width), (load_height, load_width) = cfg.image_size, cfg.load_size
        x = tf.image.resize(x, (load_height, load_width))
        row_seed, col_seed = tf.unstack(tf.random.experimental.stateless_split(crop_seed, 2))
        top = tf.random.stateless_uniform((n, 1), row_seed, maxval=load_height - height + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform((n, 1), col_seed, maxval=load_width - width + 1, dtype=tf.int32)
        x = tf.gather(x, top + tf.range(height)[None], axis=1, batch_dims=1)
        x = tf.gather(x, left + tf.range(width)[None], axis=2, batch_dims=1)
    if cfg.random_flip:
        flip = tf.random.stateless_uniform((n,), flip_seed) < 0.5
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
    return x


def _augmented(dataset: tf.data.Dataset, cfg: DataConfig, seed: int, first_batch: int) -> tf.data.Dataset:
    """``dataset`` with :func:`augment` applied, each batch keyed to its index in the whole run."""
    if not (cfg.load_size or cfg.random_flip):
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


# ---------------------------------------------------------------- images for the CLI


def read_images(path, cfg: DataConfig) -> np.ndarray:
    """Images for ``zoo reconstruct --input`` and ``zoo translate``, preprocessed to float32 (N, H, W, C).

    ``path`` is a .npz (x_test, else x_train, else its only array), a .npy, one image file
    (png/jpg/jpeg/bmp/gif), or a folder of images (searched recursively).
    """
    return read_named_images(path, cfg)[0]


def read_named_images(path, cfg: DataConfig) -> tuple[np.ndarray, list[str]]:
    """:func:`read_images` and a name per image: its file's path below the folder (without suffix), its
    file's stem, or ``<array>-NNNN`` for the images of an array."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"input {path} does not exist; pass an image, a folder of images, a .npy or a .npz")
    if path.is_dir():
        pixels, _, _, paths = _load_folder(path, cfg.channels)
        names = [p.relative_to(path).with_suffix("").as_posix() for p in paths]
        return preprocess(pixels, cfg).numpy(), names
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = _npz(path)
        key = next((k for k in ("x_test", "x_train") if k in arrays), None)
        if key is None:
            if len(arrays) != 1:
                raise DataError(f"{path} holds {', '.join(arrays) or 'no arrays'}; expected x_test, x_train or a "
                                f"single array of images")
            key = next(iter(arrays))
        batch = _array_to_batch(arrays[key], f"{path} [{key}]", cfg)
        return batch, [f"{path.stem}-{key}-{i:04d}" for i in range(len(batch))]
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise DataError(f"{path} is not a readable .npy file ({exc}); save images with numpy.save") from None
        batch = _array_to_batch(array, str(path), cfg)
        return batch, [f"{path.stem}-{i:04d}" for i in range(len(batch))]
    if suffix in IMAGE_SUFFIXES:
        from PIL import Image

        try:
            with Image.open(path) as image:
                image.load()
                pixels = np.asarray(image.convert("L" if cfg.channels == 1 else "RGB"))
        except Exception as exc:
            raise DataError(f"{path} is not a readable image ({exc}); pass a valid png, jpg, bmp or gif") from None
        return preprocess(pixels[None], cfg).numpy(), [path.stem]
    raise DataError(f"input {path} has an unsupported type '{suffix}'; pass an image "
                    f"({', '.join(IMAGE_SUFFIXES)}), a folder of images, a .npy or a .npz")


def _array_to_batch(array: np.ndarray, what: str, cfg: DataConfig) -> np.ndarray:
    """An array of pixels as a batch: (H, W) and (H, W, C) are one image, (N, H, W) and (N, H, W, C) several."""
    pixels = _as_uint8(np.asarray(array), what)
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] in (1, 3, 4) and pixels.shape[-1] < pixels.shape[1]):
        pixels = pixels[None]
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[-1] not in (1, 3, 4)):
        raise DataError(f"{what} has shape {pixels.shape}; expected images (N, H, W) or (N, H, W, C) with C = 1, 3 or 4")
    if len(pixels) == 0:
        raise DataError(f"{what} holds no images")
    return preprocess(pixels, cfg).numpy()
