"""Exponential moving average of the generator's weights (StyleGAN's G_ema), the exported generator.

After every iteration, G_ema <- beta * G_ema + (1 - beta) * G for every
parameter, with beta = 0.5 ** (batch / half_life): the average forgets half
its weight every ``ema_kimg`` thousand images. With ``ema_rampup`` the half-life
is at most ``ema_rampup`` times the images seen so far, so the random
initial weights are forgotten quickly early in training. Buffers (the
tracked mean w, the constant noise maps) are copied, not averaged.
"""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_size: int, images_seen: int, ema_kimg: float, ema_rampup: float | None) -> float:
    """Weight of the old average after a batch of `batch_size` images, `images_seen` before it."""
    half_life = ema_kimg * 1000
    if ema_rampup is not None:
        half_life = min(half_life, images_seen * ema_rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    ema_params, params = list(G_ema.parameters()), list(G.parameters())
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)  # one fused pass instead of a kernel per tensor
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
