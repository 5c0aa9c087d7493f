"""Where images come from: local .npz archives (keras.datasets layout), folders of images, or tensorflow-datasets.

A ``[data]`` section (:class:`zoo.config.DataConfig`) is resolved one split at a time (:func:`load_split`) to
uint8 pixels in memory or a streamed ``tf.data`` source, searched for in the data dirs first, then by name in
tensorflow-datasets; :func:`load_factors` gives images with their ground-truth factors of variation (tfds datasets
such as dSprites). Nothing here preprocesses; :mod:`zoo.data.pipeline` does.
"""

from __future__ import annotations

import contextlib
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

from zoo import catalogue
from zoo.config import DataConfig
from zoo.data import archives
from zoo.data.archives import IMAGE_SUFFIXES
from zoo.data.task import binary_labels, check_task, describe_task, has_task, rare_subset
from zoo.errors import DataError

# tensorflow-datasets fetches prepared data and mirrors from Google Cloud Storage first.
NETWORK_CHECK = ("storage.googleapis.com", 443)
NETWORK_TIMEOUT = 3.0


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
    ``cfg.classes`` and ``cfg.max_examples`` are applied here (the first ``max_examples`` kept, in file order), and
    a binary task (:mod:`zoo.data.task`): ``rare_class`` thinned in the training split ``cfg.split`` (before
    ``max_examples``), then the labels made 0/1 by ``positive_classes``.
    """
    training = split == cfg.split
    dirs = data_dirs(data_dir)
    if cfg.file:
        path = _find_file(cfg.file, dirs)
        if path.is_dir():
            images, labels, num_classes, _ = load_folder(path, cfg.channels)
            where = f"{path.name} (folder, all images)"  # named inside the data dir: no machine path in artifacts
            return _in_memory_source(images, labels, num_classes, where, cfg, training)
        return _local_source(path, split, cfg, training)
    known = catalogue.dataset(cfg.dataset)
    local_name = known.local_name if known else f"{cfg.dataset}.npz"
    for folder in dirs:
        path = folder / local_name
        if path.is_file():
            return _local_source(path, split, cfg, training)
    if has_task(cfg):
        raise DataError(f"data.positive_classes and data.rare_class apply to data in memory: put {local_name} "
                        f"in one of: {_searched(dirs)}, or set data.file to a .npz or a folder")
    if known and not known.tfds:
        raise DataError(f"dataset '{cfg.dataset}' is not in tensorflow-datasets and {local_name} is in none of the "
                        f"data dirs ({_searched(dirs)}); pass --data-dir DIR (the folder that holds {local_name}) "
                        f"or set ZOO_DATA_DIR")
    return _load_tfds(cfg, split, dirs)


def _local_source(path: Path, split: str, cfg: DataConfig, training: bool) -> Source:
    """One split of a local file: an .npz (keras.datasets layout, or ``<design>_<split>`` arrays), or a tar of
    ``<split>/<class>/<image>`` folders, decoded once into the cache (:mod:`zoo.data.archives`)."""
    known = None if cfg.file else catalogue.dataset(cfg.dataset)
    if archives.is_tar(path):
        cached, _ = archives.decoded(path)
        folders = tuple(str(name) for name in read_npz(cached)["class_names"])
        if known and folders != known.class_names:  # labels are the sorted folder names' places: they must agree
            raise DataError(f"{path.name} has the class folders {', '.join(folders)}; dataset '{cfg.dataset}' has the "
                            f"classes {', '.join(known.class_names)} in this order: rename the folders, or set "
                            f"data.file to use the archive as your own data")
        images, labels, num_classes = _load_npz_split(cached, split, shown=path.name)
    else:
        images, labels, num_classes = _load_npz_split(path, split, design=cfg.design)
    if known and labels is not None:  # the catalogue's classes, whether or not this split has all of them
        num_classes = known.num_classes
    where = f"{path.name} [{f'{cfg.design} ' if cfg.design else ''}{split}]"
    return _in_memory_source(images, labels, num_classes, where, cfg, training)


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


def _in_memory_source(images, labels, num_classes, where: str, cfg: DataConfig, training: bool = False) -> Source:
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
    check_task(labels, cfg, where)
    if training and has_task(cfg):
        keep = rare_subset(labels, cfg)
        images, labels = images[keep], labels[keep]
    if cfg.max_examples and len(images) > cfg.max_examples:
        images = images[: cfg.max_examples]
        labels = None if labels is None else labels[: cfg.max_examples]
    desc = f"{where}, {len(images)} images"
    if cfg.classes:
        desc += f" of classes {list(cfg.classes)}"
    if has_task(cfg):
        labels, num_classes = binary_labels(labels, cfg), 2 if cfg.positive_classes else num_classes
        desc += describe_task(cfg, training)
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


def read_npz(path: Path) -> dict[str, np.ndarray]:
    stat = path.stat()
    return _read_npz(str(path), stat.st_mtime_ns, stat.st_size)


def _load_npz_split(path: Path, split: str, design: str = "", shown: str = ""):
    """(uint8 images, int32 labels or None, number of classes or None) of one split: ``x_<split>``, or
    ``<design>_<split>`` with a design, and ``y_<split>``. ``shown`` names the file in errors (default: its path)."""
    shown = shown or str(path)
    arrays = read_npz(path)
    x_key, y_key = (f"{design}_{split}" if design else f"x_{split}"), f"y_{split}"
    if x_key not in arrays:
        prefix = f"{design}_" if design else "x_"
        splits = [k[len(prefix):] for k in arrays if k.startswith(prefix)]
        if splits:
            close = difflib.get_close_matches(split, splits, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise DataError(f"split '{split}'{hint} is not available in {shown}: it has the splits "
                            f"{', '.join(repr(s) for s in splits)}; set data.split / data.eval_split to one of them")
        if design:
            designs = sorted({k.rsplit("_", 1)[0] for k, v in arrays.items()  # image arrays only
                              if "_" in k and v.ndim >= 3 and not k.startswith(("x_", "y_"))})
            raise DataError(f"{shown} has no '{x_key}' array: design '{design}' is not in it (designs: "
                            f"{', '.join(designs) or 'none'}); fix data.design")
        raise DataError(f"{shown} has no '{x_key}' array (it holds: {', '.join(arrays) or 'nothing'}); "
                        f"a .npz needs the keras.datasets layout: x_train, y_train, x_test, y_test")
    images = as_uint8(arrays[x_key], f"{shown} [{x_key}]")
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3, 4)):
        raise DataError(f"{shown} [{x_key}] has shape {images.shape}; expected images (N, H, W) or (N, H, W, C) "
                        f"with C = 1, 3 or 4")
    labels = None
    num_classes = None
    if y_key in arrays:
        raw = arrays[y_key]
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim != 1 or len(raw) != len(images) or not np.issubdtype(raw.dtype, np.integer):
            raise DataError(f"{shown} [{y_key}] has shape {raw.shape} and dtype {raw.dtype}; expected integer "
                            f"labels of shape ({len(images)},) to match {x_key}")
        labels = raw.astype("int32")
        num_classes = int(labels.max()) + 1 if len(labels) else None
        if "class_names" in arrays:  # a decoded archive knows its classes, present in this split or not
            num_classes = len(arrays["class_names"])
    return images, labels, num_classes


def as_uint8(array: np.ndarray, what: str) -> np.ndarray:
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


def load_folder(folder: Path, channels: int):
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
    builder = _tfds_builder(name, dirs, tfds)
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
    scale = _pixel_scale(name)
    if scale != 1:  # e.g. dSprites' 0/1 pixels, to the 0..255 that preprocessing divides by 255
        dataset = dataset.map(lambda x, y: (x * tf.constant(scale, x.dtype), y))

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


def _tfds_builder(name: str, dirs, tfds):
    """The tensorflow-datasets builder of ``name``, prepared: a copy in a data dir or in tfds' own dir, else downloaded.

    Without a prepared copy and with $ZOO_OFFLINE set or no network, fails at once (no tfds retries).
    """
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
    return builder


def _pixel_scale(name: str) -> int:
    """What tfds' pixels of ``name`` are multiplied by to span 0..255 (the catalogue's; 1 for data it does not know)."""
    known = catalogue.dataset(name)
    return known.pixel_scale if known else 1


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


# ---------------------------------------------------------------- ground-truth factors of variation

FACTOR_PREFIX = "label_"  # tfds names the factors of its disentanglement datasets label_<factor> (dsprites, shapes3d)


def load_factors(cfg: DataConfig, split: str, n: int, data_dir=None):
    """The first ``n`` images of ``split`` with their ground-truth factors of variation: (uint8 pixels (N, H, W, C)
    on 0..255, int32 factor classes (N, F), factor names, description).

    Only tensorflow-datasets sources have factors: every ClassLabel feature, in feature order, named without the
    ``label_`` prefix (dSprites: shape, scale, orientation, x_position, y_position). tfds stores a split in an order
    shuffled by key when it prepares it, so the first ``n`` examples are a sample of the whole split.
    ``cfg.classes`` and ``cfg.max_examples`` apply as in :func:`load_split`.
    """
    dirs = data_dirs(data_dir)
    local = [cfg.file] if cfg.file else [str(d / f"{cfg.dataset}.npz") for d in dirs if (d / f"{cfg.dataset}.npz").is_file()]
    if local:
        raise DataError(f"{local[0]} has no ground-truth factors of variation (only labels, if any): the supervised "
                        "disentanglement metrics need a tensorflow-datasets dataset with one ClassLabel feature per "
                        "factor, such as dsprites")
    import tensorflow_datasets as tfds  # slow to import: only for tfds sources

    name = cfg.dataset
    builder = _tfds_builder(name, dirs, tfds)
    info = builder.info
    try:
        info.splits[split].num_examples
    except Exception:
        raise DataError(f"split '{split}' is not in tensorflow-datasets '{name}' (splits: "
                        f"{', '.join(info.splits.keys())}); set data.split / data.eval_split") from None
    image_key, label_key = _tfds_keys(info, tfds)
    keys = [k for k, f in info.features.items() if isinstance(f, tfds.features.ClassLabel)]
    if image_key is None or not keys:
        raise DataError(f"tensorflow-datasets '{name}' has no {'image' if image_key is None else 'ClassLabel'} "
                        "feature, so no images with ground-truth factors")
    image_shape = info.features[image_key].shape
    if None in image_shape:
        raise DataError(f"tensorflow-datasets '{name}' has images of varying size {image_shape}; factors are read "
                        "from datasets of one image size")
    dataset = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False))
    if cfg.classes:
        wanted = tf.constant(cfg.classes, tf.int64)
        dataset = dataset.filter(lambda ex: tf.reduce_any(tf.equal(tf.cast(ex[label_key], tf.int64), wanted)))
    if cfg.max_examples:
        n = min(n, cfg.max_examples)
    scale = _pixel_scale(name)
    dataset = dataset.take(n).map(lambda ex: (ex[image_key] * tf.constant(scale, ex[image_key].dtype),
                                              tf.stack([tf.cast(ex[k], tf.int32) for k in keys])))
    images, factors = [], []
    for batch_images, batch_factors in dataset.batch(1024).as_numpy_iterator():
        images.append(batch_images)
        factors.append(batch_factors)
    if not images:
        raise DataError(f"tfds:{name} [{split}] holds no examples; choose another split")
    images, factors = as_uint8(np.concatenate(images), f"tfds:{name} [{split}]"), np.concatenate(factors)
    names = tuple(k[len(FACTOR_PREFIX):] if k.startswith(FACTOR_PREFIX) else k for k in keys)
    desc = f"tfds:{name} [{split}], {len(images)} images" + (f" of classes {list(cfg.classes)}" if cfg.classes else "")
    return images, factors, names, desc
