"""GAN networks by architecture and family, generator checkpoints and sampling."""

from deeppc.models.registry import (
    CHECKPOINT_FORMAT,
    Arch,
    Family,
    arch_names,
    build_discriminator,
    build_generator,
    discriminator_kwargs,
    family_names,
    generate,
    generator_kwargs,
    get_arch,
    get_family,
    load_generator,
    register_arch,
    register_family,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "Arch",
    "Family",
    "arch_names",
    "build_discriminator",
    "build_generator",
    "discriminator_kwargs",
    "family_names",
    "generate",
    "generator_kwargs",
    "get_arch",
    "get_family",
    "load_generator",
    "register_arch",
    "register_family",
]
