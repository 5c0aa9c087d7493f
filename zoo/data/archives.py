"""Tar archives of image folders, ``<split>/<class>/<image>`` (the local CIFAR-10 copy, or a user's own), decoded
once into a cache of uint8 arrays.

Decoding 60,000 small JPEG files takes most of a minute, so the first load writes the arrays in the keras.datasets
layout to ``<cache dir>/<archive stem>-<sha256 prefix>.npz`` and every later load reads that file. The cache is keyed
by the archive's content: a changed archive is decoded again, and the read-only folder that holds the archive is
never written to. Within a split the images are stored in one fixed shuffled order, as in the zoo's .npz archives,
so that the first ``max_examples`` of a split are a sample of every class.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path, PurePosixPath

import numpy as np

from zoo.errors import DataError
from zoo.files import atomic_path, sha256

TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras.utils.image_dataset_from_directory reads
LAYOUT_VERSION = 1  # part of the cache file's name: bump when the decoded layout changes
ORDER_SEED = 0  # the fixed shuffle of each split


def is_tar(path) -> bool:
    return Path(path).name.lower().endswith(TAR_SUFFIXES)


def cache_dir() -> Path:
    """Where decoded archives are kept: $ZOO_CACHE_DIR, else $XDG_CACHE_HOME/zoo, else ~/.cache/zoo."""
    if os.environ.get("ZOO_CACHE_DIR", "").strip():
        return Path(os.environ["ZOO_CACHE_DIR"].strip()).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "zoo"


def cache_path(archive: Path) -> Path:
    stem = archive.name
    for suffix in TAR_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return cache_dir() / f"{stem}-{sha256(archive)[:16]}-v{LAYOUT_VERSION}.npz"


def decoded(archive: Path) -> tuple[Path, bool]:
    """The cached arrays of ``archive`` (decoding it first if no cache exists): (path of the .npz, whether it was
    decoded now). The .npz holds ``x_<split>``, ``y_<split>`` for every split and ``class_names``."""
    target = cache_path(archive)
    if target.is_file():
        return target, False
    try:  # a cache that cannot be written is found out before the decoding, not after
        target.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(target.parent, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise DataError(f"cannot write the decoded {archive.name} to the cache {target.parent} ({exc.strerror}); "
                        f"set ZOO_CACHE_DIR to a writable folder") from None
    arrays = _decode(archive)
    try:
        with atomic_path(target, what="dataset cache") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
    except OSError as exc:
        raise DataError(f"cannot write the decoded {archive.name} to the cache {target.parent} ({exc.strerror}); "
                        f"set ZOO_CACHE_DIR to a writable folder") from None
    return target, True


def _decode(archive: Path) -> dict[str, np.ndarray]:
    """Every image of the archive as uint8 (N, H, W, C) per split, labels by sorted class folder name."""
    from PIL import Image

    found: dict[str, dict[str, list[tuple[str, np.ndarray]]]] = {}
    shape = None
    fix = "check it against its sha256, or replace it (a tar of <split>/<class>/<image> files)"
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                parts = PurePosixPath(member.name).parts
                parts = parts[1:] if parts and parts[0] == "." else parts
                if len(parts) != 3 or parts[2].startswith(".") or \
                        not parts[2].lower().endswith(IMAGE_SUFFIXES):
                    continue
                split, label, name = parts
                with Image.open(io.BytesIO(tar.extractfile(member).read())) as image:
                    pixels = np.asarray(image.convert(_mode(image)))
                if pixels.ndim == 2:
                    pixels = pixels[..., None]
                if shape is None:
                    shape = pixels.shape
                elif pixels.shape != shape:
                    raise DataError(f"{archive.name}: {member.name} is {pixels.shape[1]}x{pixels.shape[0]} with "
                                    f"{pixels.shape[2]} channels, the first image {shape[1]}x{shape[0]} with "
                                    f"{shape[2]}; an archive holds images of one size and mode")
                found.setdefault(split, {}).setdefault(label, []).append((name, pixels))
    except DataError:
        raise
    except Exception as exc:  # tarfile.ReadError, EOFError, zlib.error, PIL.UnidentifiedImageError, OSError ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{archive.name} is damaged or not an image archive ({reason}); {fix}") from None
    if not found:
        raise DataError(f"{archive.name} holds no images as <split>/<class>/<image>; {fix}")
    class_names = sorted({label for classes in found.values() for label in classes})
    arrays = {"class_names": np.asarray(class_names)}
    for split, classes in found.items():
        images, labels = [], []
        for index, label in enumerate(class_names):
            for _, pixels in sorted(classes.get(label, ()), key=lambda item: item[0]):
                images.append(pixels)
                labels.append(index)
        order = np.random.default_rng(ORDER_SEED).permutation(len(images))
        arrays[f"x_{split}"] = np.stack(images)[order]
        arrays[f"y_{split}"] = np.asarray(labels, dtype="uint8" if len(class_names) <= 256 else "int32")[order]
    return arrays


def _mode(image) -> str:
    """What a decoded image is kept as: grey stays grey, anything with transparency RGBA, the rest RGB."""
    if image.mode in ("L", "1"):
        return "L"
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        return "RGBA"
    return "RGB"
