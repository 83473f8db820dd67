"""Architectures and GAN families by name.

An *architecture* (``mlp``, ``dcgan``, ``stylegan2``) supplies a
generator and a discriminator factory. A *family* (``vanilla``, ``wgangp``,
``stylegan2``) says what its loss needs from the discriminator (a
probability or a raw critic score), its per-architecture discriminator
defaults and, if it is tied to some, the architectures it can train; its
loss phases live in ``deeppc.train.losses`` under the same name.
New entries are added with ``register_arch`` / ``register_family``; nothing
else in the package needs to change.

Generator checkpoints (save, load, sample) are in ``deeppc.models.checkpoint``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from torch import nn

from deeppc.models.dcgan import DCGANDiscriminator, DCGANGenerator
from deeppc.models.mlp import MLPDiscriminator, MLPGenerator
from deeppc.models.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator

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


register_arch(Arch("mlp", MLPGenerator, MLPDiscriminator, "fully-connected GAN of the study (PyTorch-GAN)"))
register_arch(Arch("dcgan", DCGANGenerator, DCGANDiscriminator, "convolutional DCGAN-style baseline"))
register_arch(Arch("stylegan2", StyleGAN2Generator, StyleGAN2Discriminator, "StyleGAN2, 1-channel, pure PyTorch"))
register_family(Family("vanilla", "sigmoid", {"dcgan": {"norm": "batch"}}, "BCE GAN, non-saturating G loss"))
register_family(Family("wgangp", "linear", {"dcgan": {"norm": "layer"}}, "Wasserstein GAN with gradient penalty"))
register_family(Family("stylegan2", "linear", {}, "StyleGAN2 logistic loss, lazy R1 and path length, ADA",
                       archs=("stylegan2",)))
