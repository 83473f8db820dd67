"""The four image distortions of the MedFID validation (paper, appendix A.7), on pixel arrays.

Each takes float images in [0, 1] of shape (N, H, W), a strength and a numpy
Generator, and returns new float images in [0, 1]; strength 0 returns the
images unchanged. Nothing is re-rendered through a plotting library.

* blur: Gaussian blur with an odd kernel size k (0 or 1: none). The standard
  deviation follows OpenCV's rule for a size-only kernel,
  σ = 0.3·((k − 1)/2 − 1) + 0.8, with reflect-101 borders (OpenCV's default),
  so the levels mean what `cv2.GaussianBlur(img, (k, k), 0)` means.
* noise: additive Gaussian noise with mean m and standard deviation `sd`
  (0.1 in the paper), clipped to [0, 1].
* salt_pepper: a fraction p of the pixels set to white or black, half each.
* blocks: `count` black rectangles per image at random positions, each with
  an area drawn uniformly up to `max_area` (a fraction of the image) and an
  aspect ratio between 1:2 and 2:1.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage

NAMES = ("blur", "noise", "salt_pepper", "blocks")


def gaussian_kernel(size: int) -> np.ndarray:
    """Normalised 1-D Gaussian of odd `size`, σ by OpenCV's rule for σ ≤ 0."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"Gaussian blur kernel sizes are odd and positive (or 0 for none), got {size}")
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def blur(images: np.ndarray, size: float, gen: np.random.Generator) -> np.ndarray:
    size = int(size)
    if size <= 1:
        return images.copy()
    kernel = gaussian_kernel(size)
    out = ndimage.convolve1d(images, kernel, axis=1, mode="mirror")  # scipy "mirror" = reflect-101
    return np.clip(ndimage.convolve1d(out, kernel, axis=2, mode="mirror"), 0.0, 1.0)


def noise(images: np.ndarray, mean: float, gen: np.random.Generator, sd: float = 0.1) -> np.ndarray:
    if mean == 0 and sd == 0:
        return images.copy()
    return np.clip(images + gen.normal(mean, sd, images.shape), 0.0, 1.0)


def salt_pepper(images: np.ndarray, amount: float, gen: np.random.Generator) -> np.ndarray:
    if not 0 <= amount <= 1:
        raise ValueError(f"salt-and-pepper amount must be in [0, 1], got {amount}")
    out = images.copy()
    hit = gen.random(images.shape) < amount
    salt = gen.random(images.shape) < 0.5
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return out


def blocks(images: np.ndarray, max_area: float, gen: np.random.Generator, count: int = 5) -> np.ndarray:
    if not 0 <= max_area <= 1:
        raise ValueError(f"block max_area is a fraction of the image in [0, 1], got {max_area}")
    out = images.copy()
    if max_area == 0:
        return out
    n, h, w = images.shape
    for i in range(n):
        for _ in range(count):
            area = gen.uniform(0.0, max_area) * h * w
            aspect = np.exp(gen.uniform(np.log(0.5), np.log(2.0)))  # height / width
            bh = int(np.clip(round(np.sqrt(area * aspect)), 1, h))
            bw = int(np.clip(round(np.sqrt(area / aspect)), 1, w))
            top, left = int(gen.integers(0, h - bh + 1)), int(gen.integers(0, w - bw + 1))
            out[i, top : top + bh, left : left + bw] = 0.0
    return out


def distortion(name: str, noise_sd: float = 0.1, blocks_per_image: int = 5) -> Callable[..., np.ndarray]:
    """f(images, level, gen) for a distortion name, with the family's fixed settings bound."""
    table: dict[str, Callable[..., np.ndarray]] = {
        "blur": blur,
        "noise": lambda x, level, gen: noise(x, level, gen, noise_sd),
        "salt_pepper": salt_pepper,
        "blocks": lambda x, level, gen: blocks(x, level, gen, blocks_per_image),
    }
    if name not in table:
        raise ValueError(f"unknown distortion {name!r}; choose from {', '.join(NAMES)}")
    return table[name]


def apply_uint8(images: np.ndarray, name: str, level: float, gen: np.random.Generator, **settings) -> np.ndarray:
    """Distort uint8 images (N, H, W) and return uint8 (rounded), the pixel format extractors take."""
    out = distortion(name, **settings)(images.astype(np.float64) / 255.0, level, gen)
    return np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
