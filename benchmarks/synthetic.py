"""Helpers shared by the benchmark scripts (importable as `synthetic`: scripts run from this folder)."""

from __future__ import annotations

import numpy as np
import torch


def images(n: int, size: int) -> np.ndarray:
    """Smooth random grayscale images with noise (content does not change the cost)."""
    rng = np.random.default_rng(0)
    coarse = np.kron(rng.uniform(0, 255, (n, 8, 8)), np.ones((size // 8, size // 8)))
    return np.clip(coarse + rng.normal(0, 10, coarse.shape), 0, 255).astype(np.uint8)


def sync(device: torch.device) -> None:
    """Wait for queued CUDA work, so a timer stops when the work is done."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
