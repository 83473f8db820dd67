"""Image sets on disk: folders of 8-bit grayscale PNGs, as the data stage writes them.

The pixel contract used everywhere downstream: uint8 [0, 255] on disk,
float [-1, 1] inside models (x / 127.5 - 1), and back with rounding and
clipping. One function each way so real and generated images share them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from deeppc.validate import InputError, reading

IMAGE_SUFFIXES = (".png",)
# what PIL raises on a truncated, corrupt or non-image file (decoding happens lazily, in convert())
IMAGE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, struct.error, Image.DecompressionBombError)


def list_images(folder: str | Path) -> list[Path]:
    """PNG files directly in `folder`, sorted by name (deterministic order)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"image folder {folder} is a file, expected a folder of PNG images")
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def open_gray(path: str | Path) -> Image.Image:
    """The image at `path` as 8-bit grayscale, fully decoded; a file PIL cannot read is an InputError naming it."""
    with reading(path, "PNG image", IMAGE_ERRORS), Image.open(path) as im:
        return im.convert("L")


def load_uint8(paths: Sequence[str | Path], size: int | None = None) -> np.ndarray:
    """Load grayscale images as a uint8 array (N, H, W), resized to `size` if given (else all of one size)."""
    arrays = []
    for path in paths:
        im = open_gray(path)
        if size is not None and im.size != (size, size):
            im = im.resize((size, size), Image.Resampling.LANCZOS)
        arrays.append(np.asarray(im, dtype=np.uint8))
        if arrays[-1].shape != arrays[0].shape:
            raise InputError(
                f"images differ in size: {paths[0]} is {_wh(arrays[0])}, {path} is {_wh(arrays[-1])} "
                "(an image set has one size)"
            )
    if not arrays:
        return np.zeros((0, size or 0, size or 0), dtype=np.uint8)
    return np.stack(arrays)


def _wh(image: np.ndarray) -> str:
    return f"{image.shape[1]}x{image.shape[0]}"


def require_images(paths: Sequence[Path], folder: str | Path, minimum: int) -> None:
    """An InputError naming `folder` unless it has at least `minimum` PNG images."""
    if len(paths) < minimum:
        raise InputError(f"image folder {folder} has {len(paths)} PNG image(s); at least {minimum} are needed")


def load_folder(folder: str | Path, size: int | None = None, min_images: int = 0) -> np.ndarray:
    """The PNG images of `folder` (see load_uint8); fewer than `min_images` is an error naming the folder."""
    paths = list_images(folder)
    require_images(paths, folder, min_images)
    return load_uint8(paths, size)


def uint8_to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1.0


def unit_to_uint8(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped (out-of-range model outputs saturate)."""
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
