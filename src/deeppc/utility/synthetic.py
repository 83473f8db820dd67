"""Pools of generated images for the utility arms, one file per training run and class.

A pool is drawn once per GAN training run at its chosen checkpoint
(`deeppc.models.checkpoint.generate`, seeded) and stored as a compressed
`.npz` (`images` uint8 (N, H, W), plus the run, iteration, class and seed), so
every arm and classifier seed takes its own seeded subset of the same pool
without sampling the network again.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deeppc import files
from deeppc.validate import InputError, reading


def write_pool(checkpoint: str | Path, n: int, seed: int, label: str, out: str | Path, device: str = "cpu") -> Path:
    """Generate `n` images of `checkpoint` (seeded) and store them as the pool of class `label`."""
    from deeppc.models.checkpoint import generate, load_generator

    generator, meta = load_generator(checkpoint, device)
    images = generate(generator, n, seed)
    with files.atomic_open(out, "wb") as fh:
        np.savez_compressed(fh, images=images, label=label, seed=seed, checkpoint=str(checkpoint),
                            iteration=int(meta.get("iteration", -1)))  # fmt: skip
    return Path(out)


def read_pool(path: str | Path, size: int | None = None) -> tuple[str, np.ndarray]:
    """(class label, uint8 images) of a pool file, checked against the task's image side `size` when given."""
    path = Path(path)
    with reading(path, "synthetic image pool (.npz)", (ValueError, OSError, KeyError, EOFError)):
        with np.load(path, allow_pickle=False) as pool:
            images, label = pool["images"], str(pool["label"])
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(f"{path}: 'images' must be uint8 (N, H, W), got {images.dtype} {images.shape}")
    if size is not None and images.shape[1:] != (size, size):
        raise InputError(f"{path}: images are {images.shape[2]}x{images.shape[1]}, the task's are {size}x{size}")
    return label, images


def pools_by_class(paths: list[str | Path], size: int | None = None) -> dict[str, np.ndarray]:
    """Class -> images, joining the pools of one class (e.g. of several runs)."""
    found: dict[str, list[np.ndarray]] = {}
    for path in paths:
        label, images = read_pool(path, size)
        found.setdefault(label, []).append(images)
    return {label: np.concatenate(parts) for label, parts in found.items()}


def pool_size(data_dir: str | Path, labels_csv: str | Path | None, classes: list[str] | None, per_real: float) -> int:
    """`per_real` × the real training images: the largest arm's need, when all of it goes to one class."""
    from deeppc.utility.task import manifest_rows

    rows = manifest_rows(data_dir, labels_csv)
    n_train = int(((rows.split == "train") & rows.label.isin(classes or rows.label.unique())).sum())
    return max(1, math.ceil(per_real * n_train))
