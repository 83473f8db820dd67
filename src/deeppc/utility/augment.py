"""Classical augmentation, the baseline synthetic data has to beat: flips, small rotations, intensity.

Drawn independently per image from a seeded generator (torchvision's v2
transforms draw one set of parameters per batch tensor and from the global
generator), so two runs with the same seed see the same augmented batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class ClassicalAugment:
    """Horizontal flip with probability `flip`, rotation uniform in ±`degrees`, gain and offset on [-1, 1] pixels."""

    flip: float = 0.5
    degrees: float = 10.0
    brightness: float = 0.1  # offset uniform in ±brightness (pixels in [-1, 1])
    contrast: float = 0.1  # gain uniform in 1 ± contrast

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Augment a float batch (N, 1, H, W) in [-1, 1]; returns a new tensor, clipped to [-1, 1]."""
        n = x.shape[0]
        u = torch.rand(n, 4, generator=gen).to(x.device)
        x = torch.where((u[:, 0] < self.flip).view(n, 1, 1, 1), x.flip(-1), x)
        x = _rotate(x, (2 * u[:, 1] - 1) * math.radians(self.degrees))
        gain = 1 + (2 * u[:, 2] - 1) * self.contrast
        offset = (2 * u[:, 3] - 1) * self.brightness
        return (x * gain.view(n, 1, 1, 1) + offset.view(n, 1, 1, 1)).clamp(-1, 1)


def _rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre; the corners filled with black (-1), as a detector's field edge."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    zero = torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1
