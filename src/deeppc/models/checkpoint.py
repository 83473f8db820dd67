"""Generator checkpoints, one format (``deeppc.generator/1`` of docs/contracts.md): save, load, sample.

``save_generator`` writes the weights with everything needed to rebuild the
network; ``load_generator`` rebuilds it, naming the file when it is not such a
checkpoint; ``generate`` samples any generator with a seed, in fixed-size
batches so results never depend on how many images are asked for, with
truncation for generators that support it (StyleGAN2); ``write_samples``
puts a checkpoint's samples on disk as PNGs (a visual Turing test, a user's
own downstream experiment; scoring draws its samples in memory).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from deeppc import files
from deeppc.data.imageset import unit_to_uint8
from deeppc.models.registry import generator_kwargs, get_arch
from deeppc.models.stylegan2 import one_hot
from deeppc.validate import InputError, load_torch, reading

CHECKPOINT_FORMAT = "deeppc.generator/1"


def generator_payload(G: nn.Module, *, family: str, arch: str, generator: Mapping[str, Any], iteration: int,
                      image_size: int, latent_dim: int, experiment: str, config_sha256: str,
                      classes: list[str] | None = None, class_counts: list[int] | None = None,
                      n_train_images: int | None = None) -> dict:
    """The checkpoint dict of the contract, weights on the CPU in standard layout."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in G.state_dict().items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "family": family,
        "arch": arch,
        "model_kwargs": generator_kwargs(arch, **generator),
        "state_dict": state,
        "iteration": iteration,
        "image_size": image_size,
        "latent_dim": latent_dim,
        "experiment": experiment,
        "config_sha256": config_sha256,
        "classes": classes,  # a class-conditional generator's class names, index order; None: unconditional
        "class_counts": class_counts,  # its training images per class: the class mix of unlabelled sampling
        "n_train_images": n_train_images,  # what the run trained on (its epochs), e.g. a train_fraction subset
    }


def save_generator(path: Path, G: nn.Module, **meta: Any) -> None:
    """Write `G` atomically as a checkpoint; `meta` are `generator_payload`'s keyword arguments."""
    with files.atomic_open(path, "wb") as fh:
        torch.save(generator_payload(G, **meta), fh)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a generator from a ``deeppc.generator/1`` checkpoint, in eval mode.

    Returns (module, meta) where meta is the checkpoint dict without its weights.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"generator checkpoint not found: {path}")
    expected = f"a generator checkpoint ({CHECKPOINT_FORMAT}, runs/NAME/ckpt/ITERATION.pt)"
    ckpt = load_torch(path, expected)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        hint = " (a weights file or state dict?)" if isinstance(ckpt, dict) and found is None else ""
        raise InputError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint (format: {found!r}){hint}")
    missing = [key for key in ("arch", "image_size", "latent_dim", "model_kwargs", "state_dict") if key not in ckpt]
    if missing:
        raise InputError(f"{path}: incomplete {CHECKPOINT_FORMAT} checkpoint (missing {', '.join(missing)})")
    arch = get_arch(ckpt["arch"])
    # a damaged or hand-edited file: its settings or weights do not fit the architecture it names
    with reading(path, expected, (TypeError, ValueError, KeyError, RuntimeError)):
        module = arch.generator(ckpt["image_size"], latent_dim=ckpt["latent_dim"], **ckpt["model_kwargs"])
        module.load_state_dict(ckpt["state_dict"])
    module.eval().to(device)
    return module, {k: v for k, v in ckpt.items() if k != "state_dict"}


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int, batch_size: int = 64,
             truncation_psi: float | None = None, label: int | None = None,
             class_weights: Sequence[float] | None = None) -> np.ndarray:
    """`n` images from `generator` as uint8 (n, H, W), reproducible from `seed`.

    Latents are drawn on the CPU from a generator seeded with `seed`, one full
    batch of `batch_size` at a time (surplus samples of the last batch are
    dropped), so image i depends only on (weights, seed, batch_size) even for
    networks that normalise with batch statistics, and CPU and GPU see the same
    latents. The module's train/eval mode is restored afterwards.
    ``truncation_psi`` < 1 pulls the latents towards the average (generators
    with ``supports_truncation`` only); None leaves the generator's default.
    A class-conditional generator (``c_dim`` > 0) draws class index `label`,
    or, when it is None, a mix of classes (``sample_classes``: in turn, or
    in the proportions `class_weights`); the latents are the same either way.
    """
    if n < 0 or batch_size < 1:
        raise ValueError("generate needs n >= 0 and batch_size >= 1")
    supports = getattr(generator, "supports_truncation", False)
    if truncation_psi not in (None, 1) and not supports:
        raise ValueError(f"{type(generator).__name__} does not support truncation (truncation_psi must be 1)")
    kwargs = {"truncation_psi": float(truncation_psi)} if truncation_psi is not None and supports else {}
    c_dim = _check_label(generator, label)
    device = next(generator.parameters()).device
    size = generator.image_size
    rng = torch.Generator().manual_seed(int(seed))
    out = np.empty((n, size, size), dtype=np.uint8)
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, math.ceil(n / batch_size) * batch_size, batch_size):
            z = torch.randn(batch_size, generator.latent_dim, generator=rng)
            if c_dim:
                classes = sample_classes(start, batch_size, c_dim, class_weights) if label is None else torch.full(
                    (batch_size,), label)
                kwargs["c"] = one_hot(classes, c_dim).to(device)
            images = generator(z.to(device), **kwargs).float()[: n - start, 0]
            out[start : start + images.shape[0]] = unit_to_uint8(images.cpu().numpy())
    finally:
        generator.train(was_training)
    return out


GOLDEN = (math.sqrt(5) - 1) / 2


def sample_classes(start: int, n: int, c_dim: int, weights: Sequence[float] | None = None) -> torch.Tensor:
    """Classes of images start..start+n-1 of a conditional generator's unlabelled samples.

    Without weights, the classes in turn (image i is class i mod c_dim). With
    weights (e.g. the training images per class), image i's class is where
    frac((i + 1/2) * golden ratio) falls in the cumulative proportions: a
    low-discrepancy sequence, so any n consecutive images match the
    proportions to within a few images, and image i's class depends on i alone.
    """
    index = torch.arange(start, start + n, dtype=torch.float64)
    if weights is None:
        return (index % c_dim).long()
    w = torch.tensor([float(x) for x in weights], dtype=torch.float64)
    if w.shape != (c_dim,) or bool((w < 0).any()) or not float(w.sum()) > 0:
        raise ValueError(f"class_weights must be {c_dim} numbers >= 0, not all 0")
    edges = torch.cumsum(w / w.sum(), 0)[:-1]
    return torch.bucketize(torch.frac((index + 0.5) * GOLDEN), edges, right=True)


def _check_label(generator: nn.Module, label: int | None) -> int:
    """The generator's class count (0: unconditional) after checking `label` against it."""
    c_dim = int(getattr(generator, "c_dim", 0))
    if label is not None and not (c_dim and 0 <= label < c_dim):
        raise ValueError(f"class index {label} for a generator with {c_dim} classes"
                         + ("" if c_dim else " (unconditional: generate without a class)"))
    return c_dim


def class_index(meta: Mapping[str, Any], name: str) -> int:
    """Index of class `name` in a conditional checkpoint's `classes` (meta from load_generator)."""
    classes = meta.get("classes") or []
    if name not in classes:
        raise InputError(f"generator of {meta.get('experiment', '?')} has no class {name!r} (classes: {classes})")
    return classes.index(name)


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
