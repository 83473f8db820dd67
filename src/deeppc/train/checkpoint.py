"""A training run's generator checkpoints (format in deeppc.models.checkpoint) and fixed-noise sample grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from torch import nn

from deeppc import files
from deeppc.models import checkpoint, generate
from deeppc.train.settings import TrainSettings, network_kwargs

GRID_PAD = 2  # pixels of black between grid cells


def save_generator(path: Path, G: nn.Module, settings: TrainSettings, iteration: int, config_sha256: str,
                   class_counts: list[int] | None = None, n_train_images: int | None = None) -> None:
    """A training run's generator checkpoint (the format lives in deeppc.models.checkpoint)."""
    checkpoint.save_generator(path, G, family=settings.family, arch=settings.arch,
                              generator=network_kwargs(settings, "G"), iteration=iteration,
                              image_size=settings.image_size, latent_dim=settings.latent_dim,
                              experiment=settings.experiment, config_sha256=config_sha256,
                              classes=list(settings.classes) if settings.classes else None,
                              class_counts=class_counts, n_train_images=n_train_images)


def grid(images: np.ndarray, pad: int = GRID_PAD) -> np.ndarray:
    """uint8 (N, H, W) -> one uint8 image, ceil(sqrt(N)) columns, black padding."""
    n, h, w = images.shape
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = image
    return out


def save_samples(path: Path, G: nn.Module, settings: TrainSettings) -> None:
    """Fixed-noise grid: same seed at every checkpoint, [-1, 1] -> uint8 by the pixel contract.

    A conditional generator shows its classes in turn.
    """
    images = generate(G, settings.sample_count, settings.seeds()["samples"], batch_size=settings.batch_size)
    files.save_png(path, grid(images))
