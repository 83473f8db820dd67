"""Image sets on disk: folders of 8-bit grayscale PNGs, as the data stage writes them.

The pixel contract used everywhere downstream: uint8 [0, 255] on disk,
float [-1, 1] inside models (x / 127.5 - 1), and back with rounding and
clipping. One function each way so real and generated images share them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png",)


def list_images(folder: str | Path) -> list[Path]:
    """PNG files directly in `folder`, sorted by name (deterministic order)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder not found: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def load_uint8(paths: Sequence[str | Path], size: int | None = None) -> np.ndarray:
    """Load grayscale images as a uint8 array (N, H, W), resized to `size` if given."""
    arrays = []
    for path in paths:
        with Image.open(path) as im:
            im = im.convert("L")
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.LANCZOS)
            arrays.append(np.asarray(im, dtype=np.uint8))
    if not arrays:
        return np.zeros((0, size or 0, size or 0), dtype=np.uint8)
    return np.stack(arrays)


def load_folder(folder: str | Path, size: int | None = None) -> np.ndarray:
    return load_uint8(list_images(folder), size)


def uint8_to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return images.astype(np.float32) / 127.5 - 1.0


def unit_to_uint8(images: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], rounded and clipped (out-of-range model outputs saturate)."""
    return np.clip(np.rint((np.asarray(images, dtype=np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
