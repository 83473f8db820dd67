"""Generated image sets on disk: a checkpoint's samples as a folder of PNGs.

Used wherever generated images must exist as files (a visual Turing test,
a user's own downstream experiment); scoring draws its samples in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from deeppc import files
from deeppc.models import generate, load_generator


def write_samples(checkpoint: str | os.PathLike, n: int, seed: int, out: str | os.PathLike, *,
                  batch_size: int = 64, device: str | torch.device = "cpu") -> list[Path]:  # fmt: skip
    """Write `n` images of the generator in `checkpoint` to `out` as gen-00000.png ... (seeded)."""
    generator, _ = load_generator(checkpoint, device)
    images = generate(generator, n, seed, batch_size)
    names = [f"gen-{i:05d}.png" for i in range(n)]
    with files.atomic_folder(out) as build:  # all n images or none
        for name, image in zip(names, images):
            files.save_png(build / name, image, durable=False)
    return [Path(out) / name for name in names]
