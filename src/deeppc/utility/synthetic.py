"""Pools of generated images for the utility arms, one file per training run and class.

A pool is drawn once per GAN training run at its chosen checkpoint
(`deeppc.models.checkpoint.generate`, seeded) and stored as a compressed
`.npz` (`images` uint8 (N, H, W), `labels` their class names, plus the
run's checkpoint, iteration and seed; a class-conditional run's pool holds
every class it was trained on), so
every arm and classifier seed takes its own seeded subset of the same pool
without sampling the network again.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from deeppc import files
from deeppc.seeding import derive_seed
from deeppc.validate import InputError, reading


def write_pool(checkpoint: str | Path, n: int, seed: int, classes: list[str], out: str | Path,
               device: str = "cpu") -> Path:
    """Generate `n` images per class of `classes` from `checkpoint` (seeded) and store them as one pool.

    An unconditional generator (a GAN per class, or the view task) gives its
    one class; a class-conditional one (``classes`` in its checkpoint) is
    asked for each class in turn, with a seed per class.
    """
    from deeppc.models.checkpoint import class_index, generate, load_generator

    generator, meta = load_generator(checkpoint, device)
    if meta.get("classes"):
        parts = [generate(generator, n, derive_seed(seed, "class", name) % 2**31, label=class_index(meta, name))
                 for name in classes]  # fmt: skip
    elif len(classes) == 1:
        parts = [generate(generator, n, seed)]
    else:
        raise InputError(f"{checkpoint}: an unconditional generator gives one class, not {classes}")
    labels = np.repeat(np.array(classes, dtype=str), n)
    with files.atomic_open(out, "wb") as fh:
        np.savez_compressed(fh, images=np.concatenate(parts), labels=labels, seed=seed, checkpoint=str(checkpoint),
                            iteration=int(meta.get("iteration", -1)))  # fmt: skip
    return Path(out)


def read_pool(path: str | Path, size: int | None = None) -> dict[str, np.ndarray]:
    """Class label -> uint8 images of a pool file, checked against the task's image side `size` when given."""
    path = Path(path)
    with reading(path, "synthetic image pool (.npz)", (ValueError, OSError, KeyError, EOFError)):
        with np.load(path, allow_pickle=False) as pool:
            images, labels = pool["images"], pool["labels"]
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(f"{path}: 'images' must be uint8 (N, H, W), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),):
        raise InputError(f"{path}: 'labels' must name the class of each of the {len(images)} images")
    if size is not None and images.shape[1:] != (size, size):
        raise InputError(f"{path}: images are {images.shape[2]}x{images.shape[1]}, the task's are {size}x{size}")
    return {str(label): images[labels == label] for label in dict.fromkeys(labels.tolist())}


def pools_by_class(paths: list[str | Path], size: int | None = None) -> dict[str, np.ndarray]:
    """Class -> images, joining the pools of one class (e.g. of several runs)."""
    found: dict[str, list[np.ndarray]] = {}
    for path in paths:
        for label, images in read_pool(path, size).items():
            found.setdefault(label, []).append(images)
    return {label: np.concatenate(parts) for label, parts in found.items()}


def pool_size(data_dir: str | Path, labels_csv: str | Path | None, classes: list[str] | None, per_real: float) -> int:
    """`per_real` × the real training images: the largest arm's need, when all of it goes to one class."""
    from deeppc.utility.task import manifest_rows

    rows = manifest_rows(data_dir, labels_csv)
    n_train = int(((rows.split == "train") & rows.label.isin(classes or rows.label.unique())).sum())
    return max(1, math.ceil(per_real * n_train))
