"""Architectures and GAN families by name, generator checkpoints, and sampling.

An *architecture* (``mlp``, ``dcgan``, ``stylegan2``) supplies a
generator and a discriminator factory. A *family* (``vanilla``, ``wgangp``,
``stylegan2``) says what its loss needs from the discriminator (a
probability or a raw critic score), its per-architecture discriminator
defaults and, if it is tied to some, the architectures it can train; its
loss phases live in ``deeppc.train.losses`` under the same name.
New entries are added with ``register_arch`` / ``register_family``; nothing
else in the package needs to change.

Generator checkpoints follow docs/contracts.md (format ``deeppc.generator/1``)
and are rebuilt by ``load_generator``; ``generate`` samples any generator with
a seed, in fixed-size batches so results never depend on how many images are
asked for, with truncation for generators that support it (StyleGAN2).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from deeppc.data.imageset import unit_to_uint8
from deeppc.models.dcgan import DCGANDiscriminator, DCGANGenerator
from deeppc.models.mlp import MLPDiscriminator, MLPGenerator
from deeppc.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator
from deeppc.validate import InputError, load_torch, reading

CHECKPOINT_FORMAT = "deeppc.generator/1"


@dataclass(frozen=True)
class Arch:
    """A network architecture: factories called as f(image_size, ...)."""

    name: str
    generator: Callable[..., nn.Module]
    discriminator: Callable[..., nn.Module]
    description: str = ""


@dataclass(frozen=True)
class Family:
    """The network-side needs of a GAN family's loss."""

    name: str
    d_output: str  # "sigmoid" (probability) or "linear" (critic score)
    discriminator_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by arch
    description: str = ""
    archs: tuple[str, ...] = ()  # the architectures its loss can train; () = any


_ARCHS: dict[str, Arch] = {}
_FAMILIES: dict[str, Family] = {}


def register_arch(arch: Arch) -> Arch:
    _ARCHS[arch.name] = arch
    return arch


def register_family(family: Family) -> Family:
    _FAMILIES[family.name] = family
    return family


def get_arch(name: str) -> Arch:
    try:
        return _ARCHS[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(sorted(_ARCHS))}") from None


def get_family(name: str) -> Family:
    try:
        return _FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown GAN family {name!r}; known: {', '.join(sorted(_FAMILIES))}") from None


def arch_names() -> list[str]:
    return sorted(_ARCHS)


def family_names() -> list[str]:
    return sorted(_FAMILIES)


def resolve_kwargs(factory: Callable[..., Any], kwargs: Mapping[str, Any], fixed: tuple[str, ...]) -> dict[str, Any]:
    """All keyword arguments of `factory` with defaults filled in (minus `fixed` ones).

    Checkpoints store the resolved set so a later change of a default cannot
    silently rebuild a different network.
    """
    params = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(params) | set(kwargs) & set(fixed))
    if unknown:
        allowed = sorted(set(params) - set(fixed) - {"self"})
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)} for {factory.__name__}; allowed: {', '.join(allowed)}"
        )
    resolved = {}
    for name, param in params.items():
        if name in fixed or name == "self":
            continue
        value = kwargs.get(name, param.default)
        if value is inspect.Parameter.empty:
            raise ValueError(f"{factory.__name__} needs a value for {name!r}")
        resolved[name] = list(value) if isinstance(value, tuple) else value
    return resolved


def generator_kwargs(arch: str, **kwargs: Any) -> dict[str, Any]:
    return resolve_kwargs(get_arch(arch).generator, kwargs, ("image_size", "latent_dim"))


def discriminator_kwargs(family: str, arch: str, **kwargs: Any) -> dict[str, Any]:
    fam = get_family(family)
    merged = {**fam.discriminator_defaults.get(arch, {}), **kwargs, "output": fam.d_output}
    if "output" in kwargs and kwargs["output"] != fam.d_output:
        raise ValueError(f"family {family!r} needs a discriminator with output={fam.d_output!r}")
    return resolve_kwargs(get_arch(arch).discriminator, merged, ("image_size",))


def build_generator(arch: str, image_size: int, latent_dim: int = 100, **kwargs: Any) -> nn.Module:
    """A freshly initialised generator (initialisation draws from torch's global RNG)."""
    return get_arch(arch).generator(image_size, latent_dim=latent_dim, **generator_kwargs(arch, **kwargs))


def build_discriminator(family: str, arch: str, image_size: int, **kwargs: Any) -> nn.Module:
    """A freshly initialised discriminator whose output suits `family`'s loss."""
    return get_arch(arch).discriminator(image_size, **discriminator_kwargs(family, arch, **kwargs))


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


register_arch(Arch("mlp", MLPGenerator, MLPDiscriminator, "fully-connected GAN of the study (PyTorch-GAN)"))
register_arch(Arch("dcgan", DCGANGenerator, DCGANDiscriminator, "convolutional DCGAN-style baseline"))
register_arch(Arch("stylegan2", StyleGAN2Generator, StyleGAN2Discriminator, "StyleGAN2, 1-channel, pure PyTorch"))
register_family(Family("vanilla", "sigmoid", {"dcgan": {"norm": "batch"}}, "BCE GAN, non-saturating G loss"))
register_family(Family("wgangp", "linear", {"dcgan": {"norm": "layer"}}, "Wasserstein GAN with gradient penalty"))
register_family(Family("stylegan2", "linear", {}, "StyleGAN2 logistic loss, lazy R1 and path length, ADA",
                       archs=("stylegan2",)))
