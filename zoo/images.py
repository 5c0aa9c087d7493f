"""Turning model outputs into pixels, image grids, and PNG or JPEG files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from zoo.errors import ZooError
from zoo.files import atomic_path

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}  # by file suffix


def to_uint8(images, value_range=(0.0, 1.0)) -> np.ndarray:
    """Model outputs in ``value_range`` to uint8 pixels, clipped (the post-processing in metadata.json)."""
    low, high = value_range
    x = (np.asarray(images, dtype="float32") - low) / (high - low)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype("uint8")


def grid(images, value_range=(0.0, 1.0), ncols: int | None = None, pad: int = 2) -> np.ndarray:
    """Lay out ``(N, H, W, C)`` images as one uint8 ``(rows*H, cols*W, C)`` picture."""
    pixels = to_uint8(images, value_range)
    if pixels.ndim == 3:
        pixels = pixels[..., None]
    n, height, width, channels = pixels.shape
    ncols = ncols or max(1, math.ceil(math.sqrt(n)))
    nrows = math.ceil(n / ncols)
    out = np.zeros((nrows * (height + pad) + pad, ncols * (width + pad) + pad, channels), "uint8")
    for i, image in enumerate(pixels):
        r, c = divmod(i, ncols)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        out[top:top + height, left:left + width] = image
    return out


def image_format(path) -> str:
    """The PIL format a picture is written in, from the file's suffix; a clear error for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ZooError(f"cannot write a picture to {path}: name a .png, .jpg or .jpeg file (the suffix picks the format)")
    return FORMATS[suffix]


def save_png(picture: np.ndarray, path, scale: int = 1) -> Path:
    """Write a uint8 picture (upscaled by ``scale`` with nearest neighbours) atomically, as PNG, or as JPEG for a
    .jpg/.jpeg name (quality 95)."""
    path = Path(path)
    fmt = image_format(path)
    image = Image.fromarray(picture[..., 0] if picture.shape[-1] == 1 else picture)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path
