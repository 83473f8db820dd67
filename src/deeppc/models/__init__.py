"""GAN networks by architecture and family (`registry`), generator checkpoints and sampling (`checkpoint`)."""

from deeppc.models.checkpoint import CHECKPOINT_FORMAT, generate, load_generator, save_generator, write_samples
from deeppc.models.registry import (
    Arch,
    Family,
    arch_names,
    build_discriminator,
    build_generator,
    discriminator_kwargs,
    family_names,
    generator_kwargs,
    get_arch,
    get_family,
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
    "save_generator",
    "write_samples",
]
