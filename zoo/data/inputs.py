"""Images a user hands to the CLI (``zoo reconstruct --input``, ``zoo translate``): files, folders and arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.config import DataConfig
from zoo.data.preprocess import preprocess
from zoo.data.sources import IMAGE_SUFFIXES, as_uint8, load_folder, read_npz
from zoo.errors import DataError

NPY_MAGIC = b"\x93NUMPY"  # the first bytes of every .npy file


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
        pixels, _, _, paths = load_folder(path, cfg.channels)
        names = [p.relative_to(path).with_suffix("").as_posix() for p in paths]
        return preprocess(pixels, cfg).numpy(), names
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = read_npz(path)
        key = next((k for k in ("x_test", "x_train") if k in arrays), None)
        if key is None:
            if len(arrays) != 1:
                raise DataError(f"{path} holds {', '.join(arrays) or 'no arrays'}; expected x_test, x_train or a "
                                f"single array of images")
            key = next(iter(arrays))
        batch = _array_to_batch(arrays[key], f"{path} [{key}]", cfg)
        return batch, [f"{path.stem}-{key}-{i:04d}" for i in range(len(batch))]
    if suffix == ".npy":
        with open(path, "rb") as fh:
            magic = fh.read(len(NPY_MAGIC))
        if magic != NPY_MAGIC:
            raise DataError(f"{path} is not a .npy file (it does not start with NumPy's header); save images with "
                            "numpy.save, or pass an image, a folder of images or a .npz")
        try:
            array = np.load(path, allow_pickle=False)
        except ValueError as exc:
            if "pickled" in str(exc):
                raise DataError(f"{path} holds Python objects, not an array of pixels; save a numeric array with "
                                "numpy.save") from None
            raise DataError(f"{path} is not a readable .npy file ({exc}); save images with numpy.save") from None
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
    pixels = as_uint8(np.asarray(array), what)
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] in (1, 3, 4) and pixels.shape[-1] < pixels.shape[1]):
        pixels = pixels[None]
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[-1] not in (1, 3, 4)):
        raise DataError(f"{what} has shape {pixels.shape}; expected images (N, H, W) or (N, H, W, C) with C = 1, 3 or 4")
    if len(pixels) == 0:
        raise DataError(f"{what} holds no images")
    return preprocess(pixels, cfg).numpy()
