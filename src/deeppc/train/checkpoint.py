"""Generator-only checkpoints (format ``deeppc.generator/1`` of docs/contracts.md) and sample grids."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from deeppc import files
from deeppc.models import CHECKPOINT_FORMAT, generate, generator_kwargs
from deeppc.train.settings import TrainSettings

GRID_PAD = 2  # pixels of black between grid cells


def generator_payload(G: nn.Module, settings: TrainSettings, iteration: int, config_sha256: str) -> dict:
    """The checkpoint dict of the contract, weights on the CPU in standard layout."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in G.state_dict().items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "family": settings.family,
        "arch": settings.arch,
        "model_kwargs": generator_kwargs(settings.arch, **settings.generator),
        "state_dict": state,
        "iteration": iteration,
        "image_size": settings.image_size,
        "latent_dim": settings.latent_dim,
        "experiment": settings.experiment,
        "config_sha256": config_sha256,
    }


def save_generator(path: Path, G: nn.Module, settings: TrainSettings, iteration: int, config_sha256: str) -> None:
    with files.atomic_open(path, "wb") as fh:
        torch.save(generator_payload(G, settings, iteration, config_sha256), fh)


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
    """Fixed-noise grid: same seed at every checkpoint, [-1, 1] -> uint8 by the pixel contract."""
    images = generate(G, settings.sample_count, settings.seeds()["samples"], batch_size=settings.batch_size)
    files.save_png(path, grid(images))
