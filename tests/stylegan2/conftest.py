"""Shared helpers for the StyleGAN2 tests: tiny 32 px networks and a toy image set."""

from __future__ import annotations

import numpy as np

from deeppc.train import TrainSettings
from toy_runs import blob_images as _blobs
from toy_runs import one_torch_thread  # noqa: F401 (autouse fixture)

SIZE = 32
# narrow networks keep CPU tests fast; the structure (blocks, skips, mbstd, mapping) is the full one
GENERATOR = {"w_dim": 32, "mapping_layers": 2, "channel_base": 512, "channel_max": 32}
DISCRIMINATOR = {"channel_base": 512, "channel_max": 32}


def blob_images(n: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    return _blobs(n, size, seed, bar=True)


def tiny(**overrides) -> TrainSettings:
    base = dict(experiment="sg", family="stylegan2", arch="stylegan2", lr=0.0025, betas=(0.0, 0.99), image_size=SIZE,
                latent_dim=32, batch_size=4, iterations=12, checkpoint_every=6, sample_count=4, seed=11,
                generator=GENERATOR, discriminator=DISCRIMINATOR, drop_last=True, ema_kimg=0.01, ema_rampup=0.05,
                loss={"r1_gamma": 0.1})
    return TrainSettings(**{**base, **overrides})

