"""A convolutional (DCGAN-style) baseline, selectable per experiment with ``arch: dcgan``.

The study's fully-connected networks are weak image models; this is the usual
stronger baseline (Radford et al. 2016) at one channel and any power-of-two
size from 16 px. The generator projects z to a 4x4 map and doubles the
resolution with stride-2 transposed convolutions (batch norm + ReLU) up to
the image size, tanh output. The discriminator mirrors it with stride-2
convolutions and LeakyReLU(0.2).

Channel width at resolution r is ``min(max_channels, channels * image_size // (2 r))``,
which is the classic 64-px DCGAN (512-256-128-64) and saturates at
``max_channels`` for larger images. Normalisation in the discriminator is
per family: batch norm for the Vanilla GAN; the WGAN-GP critic must not mix
samples (the gradient penalty is per sample), so it uses layer norm
(GroupNorm with one group) as Gulrajani et al. recommend.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("batch", "layer", "instance", "none")


def _check_size(image_size: int) -> int:
    size = int(image_size)
    if size < 16 or size & (size - 1):
        raise ValueError(f"dcgan needs a power-of-two image size >= 16, not {image_size}")
    return size


def _width(image_size: int, resolution: int, channels: int, max_channels: int) -> int:
    return min(max_channels, channels * image_size // (2 * resolution))


def _norm(kind: str, width: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(width)
    if kind == "layer":
        return nn.GroupNorm(1, width)
    if kind == "instance":
        return nn.InstanceNorm2d(width, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")


def _dcgan_init(module: nn.Module) -> None:
    # DCGAN's N(0, 0.02) weights; norm scales N(1, 0.02), shifts 0
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGANGenerator(nn.Module):
    """latent (N, latent_dim) -> image (N, 1, H, W) in [-1, 1]."""

    def __init__(
        self,
        image_size: int,
        latent_dim: int = 100,
        channels: int = 64,
        max_channels: int = 512,
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.image_size = _check_size(image_size)
        self.latent_dim = int(latent_dim)
        width = _width(self.image_size, 4, channels, max_channels)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(self.latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width, eps=bn_eps),
            nn.ReLU(inplace=True),
        ]
        for step in range(int(math.log2(self.image_size)) - 3):
            resolution = 8 << step
            out = _width(self.image_size, resolution, channels, max_channels)
            layers += [
                nn.ConvTranspose2d(width, out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(out, eps=bn_eps),
                nn.ReLU(inplace=True),
            ]
            width = out
        layers += [nn.ConvTranspose2d(width, 1, 4, 2, 1, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self.apply(_dcgan_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z.view(z.shape[0], self.latent_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """image (N, 1, H, W) -> (N, 1): probability (``output="sigmoid"``) or critic score."""

    def __init__(
        self,
        image_size: int,
        channels: int = 64,
        max_channels: int = 512,
        norm: str = "batch",
        output: str = "sigmoid",
    ) -> None:
        super().__init__()
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"discriminator output must be 'sigmoid' or 'linear', not {output!r}")
        self.image_size = _check_size(image_size)
        resolution = self.image_size // 2
        width = _width(self.image_size, resolution, channels, max_channels)
        # no normalisation on the input layer (DCGAN)
        layers: list[nn.Module] = [nn.Conv2d(1, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        while resolution > 4:
            resolution //= 2
            out = _width(self.image_size, resolution, channels, max_channels)
            layers += [nn.Conv2d(width, out, 4, 2, 1, bias=False), _norm(norm, out), nn.LeakyReLU(0.2, inplace=True)]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, 1, 0, bias=False))
        self.model = nn.Sequential(*layers)
        self.output = output
        self.apply(_dcgan_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = self.model(x).reshape(x.shape[0], 1)
        return torch.sigmoid(score) if self.output == "sigmoid" else score
