"""The fully-connected GAN the study trained (its base code: PyTorch-GAN's gan.py and wgan_gp.py).

Generator: z (latent_dim) -> 128 -> 256 -> 512 -> 1024 -> H*W, each hidden block
Linear + LeakyReLU(0.2) with batch norm after all but the first, tanh output.
Discriminator: H*W -> 512 -> 256 -> 1 with LeakyReLU(0.2); a sigmoid on the
output for the Vanilla GAN, a linear critic for WGAN-GP.

Quirks of the original kept on purpose, each a keyword argument whose
default is the original's value:

- ``nn.BatchNorm1d(out_feat, 0.8)`` in the original passes 0.8 as the second
  positional argument, which is ``eps`` (not momentum): the normaliser divides
  by sqrt(var + 0.8), a strong damping of small activations. ``bn_eps=0.8``.
- The study never put the generator in eval mode: every image it saved or
  scored came from a train-mode forward pass, i.e. batch-norm *batch*
  statistics of a 64-sample batch. ``eval_batch_stats=True`` keeps that
  behaviour for sampling (running statistics are still tracked and saved).
- Default PyTorch initialisation (no custom weight init in either script).

Layer indices inside ``self.model`` match the original ``nn.Sequential``, so a
state dict of the original 1-channel scripts loads unchanged.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class SamplingBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d that can keep normalising with batch statistics in eval mode.

    In eval mode with ``eval_batch_stats`` it uses the batch's own mean and
    variance, as the original scripts effectively did when sampling, without
    touching the running statistics. The state dict is nn.BatchNorm1d's.
    """

    def __init__(self, num_features: int, eps: float, momentum: float, eval_batch_stats: bool) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.eval_batch_stats = eval_batch_stats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or not self.eval_batch_stats:
            return super().forward(x)
        return F.batch_norm(x, None, None, self.weight, self.bias, True, 0.0, self.eps)


class MLPGenerator(nn.Module):
    """Fully-connected generator: latent vector -> (N, 1, H, W) image in [-1, 1]."""

    def __init__(
        self,
        image_size: int,
        latent_dim: int = 100,
        hidden: Sequence[int] = (128, 256, 512, 1024),
        bn_eps: float = 0.8,
        bn_momentum: float = 0.1,
        negative_slope: float = 0.2,
        eval_batch_stats: bool = True,
    ) -> None:
        super().__init__()
        self.image_size = int(image_size)
        self.latent_dim = int(latent_dim)
        layers: list[nn.Module] = []
        width_in = self.latent_dim
        for index, width in enumerate(hidden):
            layers.append(nn.Linear(width_in, width))
            if index > 0:  # the original's first block has normalize=False
                layers.append(SamplingBatchNorm1d(width, bn_eps, bn_momentum, eval_batch_stats))
            layers.append(nn.LeakyReLU(negative_slope, inplace=True))
            width_in = width
        layers += [nn.Linear(width_in, self.image_size**2), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z).view(z.shape[0], 1, self.image_size, self.image_size)


class MLPDiscriminator(nn.Module):
    """Fully-connected discriminator (``output="sigmoid"``) or critic (``output="linear"``)."""

    def __init__(
        self,
        image_size: int,
        hidden: Sequence[int] = (512, 256),
        negative_slope: float = 0.2,
        output: str = "sigmoid",
    ) -> None:
        super().__init__()
        if output not in ("sigmoid", "linear"):
            raise ValueError(f"discriminator output must be 'sigmoid' or 'linear', not {output!r}")
        self.image_size = int(image_size)
        layers: list[nn.Module] = []
        width_in = self.image_size**2
        for width in hidden:
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(negative_slope, inplace=True)]
            width_in = width
        layers.append(nn.Linear(width_in, 1))
        if output == "sigmoid":
            layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.reshape(x.shape[0], -1))
