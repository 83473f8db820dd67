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
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from deeppc import files
from deeppc.data.imageset import unit_to_uint8
from deeppc.models.registry import generator_kwargs, get_arch
from deeppc.validate import InputError, load_torch, reading

CHECKPOINT_FORMAT = "deeppc.generator/1"


def generator_payload(G: nn.Module, *, family: str, arch: str, generator: Mapping[str, Any], iteration: int,
                      image_size: int, latent_dim: int, experiment: str, config_sha256: str) -> dict:
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
             truncation_psi: float | None = None) -> np.ndarray:
    """`n` images from `generator` as uint8 (n, H, W), reproducible from `seed`.

    Latents are drawn on the CPU from a generator seeded with `seed`, one full
    batch of `batch_size` at a time (surplus samples of the last batch are
    dropped), so image i depends only on (weights, seed, batch_size) even for
    networks that normalise with batch statistics, and CPU and GPU see the same
    latents. The module's train/eval mode is restored afterwards.
    ``truncation_psi`` < 1 pulls the latents towards the average (generators
    with ``supports_truncation`` only); None leaves the generator's default.
    """
    if n < 0 or batch_size < 1:
        raise ValueError("generate needs n >= 0 and batch_size >= 1")
    supports = getattr(generator, "supports_truncation", False)
    if truncation_psi not in (None, 1) and not supports:
        raise ValueError(f"{type(generator).__name__} does not support truncation (truncation_psi must be 1)")
    kwargs = {"truncation_psi": float(truncation_psi)} if truncation_psi is not None and supports else {}
    device = next(generator.parameters()).device
    size = generator.image_size
    rng = torch.Generator().manual_seed(int(seed))
    out = np.empty((n, size, size), dtype=np.uint8)
    was_training = generator.training
    generator.eval()
    try:
        for start in range(0, math.ceil(n / batch_size) * batch_size, batch_size):
            z = torch.randn(batch_size, generator.latent_dim, generator=rng)
            images = generator(z.to(device), **kwargs).float()[: n - start, 0]
            out[start : start + images.shape[0]] = unit_to_uint8(images.cpu().numpy())
    finally:
        generator.train(was_training)
    return out


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
