"""Differentiable augmentation of everything the discriminator sees (DiffAugment-style).

Zhao et al. (2020): augmenting only real images teaches the generator the
augmentations ("leaky augmentation", paper section 2.3.3). Applying the same
random, differentiable transforms to real *and* generated images at the input
of D, in both the D and the G updates, leaves the generator's own outputs
(samples, checkpoints) unaugmented while D gets more varied data.

Ops, applied in the order listed in the config, each with per-sample random
parameters drawn from the run's noise stream (so resume stays exact):
  brightness  x + u, u ~ U(-0.5, 0.5)
  contrast    (x - mean) * s + mean, s ~ U(0.5, 1.5), mean over the image
  translation shift by up to 1/8 of the size in x and y, uncovered area black
  cutout      a square of half the size, at a random centre, set to black
Black is -1 in the model range: the background of a radiograph (DiffAugment
fills with 0, which would be mid-grey here).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from deeppc.train.device import to_device
from deeppc.train.distributed import SINGLE, Shard

BLACK = -1.0


def _uniform(x: torch.Tensor, gen: torch.Generator, shard: Shard) -> torch.Tensor:
    return to_device(shard.draw(lambda s: torch.rand(s, generator=gen), x.shape[0], 1, 1, 1), x.device).to(x.dtype)


def _integers(low: int, high: int, n: int, gen: torch.Generator, shard: Shard, device: torch.device) -> torch.Tensor:
    return to_device(shard.draw(lambda s: torch.randint(low, high, s, generator=gen), n, 1), device)


def brightness(x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE) -> torch.Tensor:
    return x + (_uniform(x, gen, shard) - 0.5)


def contrast(x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, gen, shard) + 0.5) + mean


def translation(x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE, ratio: float = 0.125) -> torch.Tensor:
    n, c, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    shift_y = _integers(-sy, sy + 1, n, gen, shard, x.device)
    shift_x = _integers(-sx, sx + 1, n, gen, shard, x.device)
    padded = F.pad(x, (sx, sx, sy, sy), value=BLACK)
    rows = torch.arange(h, device=x.device)[None, :] + sy - shift_y  # (n, h): source row per output row
    cols = torch.arange(w, device=x.device)[None, :] + sx - shift_x
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]


def cutout(x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _integers(0, h, n, gen, shard, x.device)
    cx = _integers(0, w, n, gen, shard, x.device)
    ys = torch.arange(h, device=x.device)[None, :] - (cy - ch // 2)
    xs = torch.arange(w, device=x.device)[None, :] - (cx - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, None, :, None] & ((xs >= 0) & (xs < cw))[:, None, None, :]
    return torch.where(inside, torch.full_like(x, BLACK), x)


_OPS: dict[str, Callable[[torch.Tensor, torch.Generator, Shard], torch.Tensor]] = {
    "brightness": brightness,
    "contrast": contrast,
    "translation": translation,
    "cutout": cutout,
}
AUGMENTS = ("translation", "cutout", "brightness", "contrast")  # the names a config may list, in policy order
assert set(_OPS) == set(AUGMENTS)


class DiffAugment:
    """Callable applying the configured ops; identity when the policy is empty."""

    def __init__(self, policy: Sequence[str]) -> None:
        unknown = sorted(set(policy) - set(_OPS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {', '.join(unknown)}; choose from {', '.join(AUGMENTS)}")
        self.policy = tuple(policy)

    def __bool__(self) -> bool:
        return bool(self.policy)

    def __call__(self, x: torch.Tensor, gen: torch.Generator, shard: Shard = SINGLE) -> torch.Tensor:
        for name in self.policy:
            x = _OPS[name](x, gen, shard)
        return x
