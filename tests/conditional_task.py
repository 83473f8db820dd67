"""A planted two-class image task and tiny class-conditional StyleGAN2 settings (CPU tests)."""

from __future__ import annotations

import numpy as np

from deeppc.train import TrainSettings

SIZE_GENERATOR = {"w_dim": 32, "mapping_layers": 2, "channel_base": 256, "channel_max": 32}
SIZE_DISCRIMINATOR = {"channel_base": 256, "channel_max": 32, "mapping_layers": 2}
PLANTED = 16  # image side of the planted task
CLASSES = ("left", "right")


def planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class 0 bright on the left half, class 1 on the right, under noise; alternating classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    xx = np.mgrid[0:PLANTED, 0:PLANTED][1]
    images = np.empty((n, PLANTED, PLANTED), dtype=np.uint8)
    for i, label in enumerate(labels):
        base = np.where((xx < PLANTED // 2) == (label == 0), 190.0, 60.0)
        images[i] = np.clip(base + 15 * rng.standard_normal((PLANTED, PLANTED)), 0, 255)
    return images, labels


def conditional(**overrides) -> TrainSettings:
    """Tiny conditional StyleGAN2 settings on the planted task (random initialisation)."""
    base = dict(experiment="cond", family="stylegan2", arch="stylegan2", lr=0.0025, betas=(0.0, 0.99),
                image_size=PLANTED, latent_dim=32, batch_size=4, iterations=12, checkpoint_every=6, sample_count=4,
                seed=11, generator=SIZE_GENERATOR, discriminator=SIZE_DISCRIMINATOR, drop_last=True, ema_kimg=0.01,
                ema_rampup=0.05, loss={"r1_gamma": 0.1}, classes=CLASSES)
    return TrainSettings(**{**base, **overrides})
