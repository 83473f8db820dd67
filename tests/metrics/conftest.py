"""Shared fixtures for the metrics tests: synthetic features, PNG folders, random Inception weights.

No test here touches the network. The Inception weights used by the tests are
randomly initialised (deeppc.metrics.inception.random_weights) and saved to a
temporary file: they exercise exactly the code path of the real weights file,
but the features they produce mean nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from deeppc.files import save_png


def inception_like(n: int, d: int, seed: int, shift: float = 0.5) -> np.ndarray:
    """Non-negative features with a decaying spectrum and a common offset, like pool3 activations."""
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(12345).standard_normal((d, d)) / np.sqrt(d)
    z = rng.standard_normal((n, d)) / (1.0 + np.arange(d)) ** 0.25
    return np.abs(z @ mixing + shift)


@pytest.fixture
def features() -> Callable[..., np.ndarray]:
    return inception_like


@pytest.fixture
def write_folder() -> Callable[[Path, np.ndarray], Path]:
    def write(folder: Path, images: np.ndarray) -> Path:
        for i, image in enumerate(images):
            save_png(folder / f"img-{i:04d}.png", image)
        return folder

    return write


@pytest.fixture
def gray_images() -> Callable[..., np.ndarray]:
    """Smooth random grayscale images (N, size, size) uint8: blobs, so resizing has something to do."""

    def make(n: int, size: int = 32, seed: int = 0, brightness: float = 0.0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        coarse = rng.uniform(0, 255, (n, 4, 4))
        images = np.kron(coarse, np.ones((size // 4, size // 4)))
        images = images + rng.normal(0, 12, images.shape) + brightness
        return np.clip(images, 0, 255).astype(np.uint8)

    return make


@pytest.fixture(scope="session")
def random_inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Randomly initialised Inception weights (NOT the real FID weights) in a temporary file."""
    from deeppc.metrics.inception import save_random_weights

    return save_random_weights(tmp_path_factory.mktemp("weights") / "random-inception.pth", seed=1)
