"""Feature extractors behind one interface, found by name in a registry.

An extractor owns its whole input path: `preprocess` turns 8-bit grayscale
images (N, H, W) into its network input (its own resize, scaling, and the
repeat to 3 channels when the network wants RGB), and `features` runs the
network. Real and generated images go through exactly the same two calls.
`identity()` describes everything that changes the features (weights hash,
input size, resize method, layer); it is hashed into the real-statistics cache
key, so changing any of it recomputes the cached statistics.

Other stages add extractors by registering a factory, e.g. the medfid stage's
module `deeppc.medfid.model` calls `register("medfid", factory)` at import.
Names listed in `_PROVIDERS` are imported on first use, so the registry never
imports a later stage unless that extractor is asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    import torch


class Extractor(ABC):
    """A feature network with its own preprocessing."""

    name: str
    feature_dim: int

    @property
    def frechet_key(self) -> str:
        """Key of this extractor's Fréchet distance in score files; subclasses set e.g. "fid", "medfid"."""
        return f"fd_{self.name}"

    @abstractmethod
    def preprocess(self, images: np.ndarray) -> "torch.Tensor":
        """uint8 (N, H, W) grayscale images -> network input on the extractor's device."""

    @abstractmethod
    def features(self, batch: "torch.Tensor") -> np.ndarray:
        """Network input -> float64 features (N, feature_dim)."""

    @abstractmethod
    def identity(self) -> dict:
        """JSON-serialisable description of everything that determines the features."""

    def identity_hash(self) -> str:
        return identity_hash(self.identity())


@contextlib.contextmanager
def full_float32(device: torch.device) -> Iterator[None]:
    """No TF32 on CUDA while features are computed, so GPU and CPU features agree to float32 rounding
    (TF32 would move Inception features by ~1e-3)."""
    if device.type != "cuda":
        yield
        return
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def identity_hash(identity: dict) -> str:
    """sha256 of the canonical JSON of an extractor identity."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_images(images: np.ndarray) -> np.ndarray:
    """Validate the pixel contract at the extractor boundary: uint8 grayscale (N, H, W)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"extractors take uint8 grayscale images (N, H, W), got {images.dtype} {images.shape}")
    return images


def extract_features(
    extractor: Extractor, images: np.ndarray, batch_size: int = 32, progress: bool = False
) -> np.ndarray:
    """Features of all images, batch by batch (float64, (N, feature_dim))."""
    images = check_images(images)
    out = np.empty((len(images), extractor.feature_dim), dtype=np.float64)
    starts = range(0, len(images), batch_size)
    for start in tqdm(starts, desc=f"features ({extractor.name})", unit="batch", disable=not progress):
        batch = images[start : start + batch_size]
        out[start : start + len(batch)] = extractor.features(extractor.preprocess(batch))
    return out


ExtractorFactory = Callable[..., Extractor]
"""factory(weights: Path | None, device: str) -> Extractor"""

_REGISTRY: dict[str, ExtractorFactory] = {}
_BUILT_IN = "inception-2015-12-05"


def register(name: str, factory: ExtractorFactory, *, replace: bool = False) -> None:
    """Make `create(name, ...)` build extractors with `factory`."""
    if name in _REGISTRY and not replace:
        raise ValueError(f"feature extractor '{name}' is already registered")
    _REGISTRY[name] = factory


def available() -> list[str]:
    """Registered names and the built-in Inception."""
    return sorted(set(_REGISTRY) | {_BUILT_IN})


def create(name: str, weights: str | Path | None = None, device: str = "cpu") -> Extractor:
    """Build the extractor registered as `name`."""
    if name == _BUILT_IN and name not in _REGISTRY:
        from deeppc.metrics import inception  # noqa: F401  registers itself (imported here: it imports this module)
    if name not in _REGISTRY:
        hint = " (import deeppc.medfid to register the medfid stage's extractor)" if name == "medfid" else ""
        raise ValueError(f"unknown feature extractor '{name}'; available: {', '.join(available())}{hint}")
    return _REGISTRY[name](weights=Path(weights) if weights is not None else None, device=device)


class PixelExtractor(Extractor):
    """Area-downsampled pixels as features: a weight-free baseline, and cheap for tests and demos."""

    def __init__(self, size: int = 16, device: str = "cpu") -> None:
        self.name = "pixels"
        self.size = size
        self.feature_dim = size * size
        self.device = device

    def preprocess(self, images: np.ndarray) -> "torch.Tensor":
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(check_images(images)).to(self.device, torch.float32)
        x = (x / 127.5 - 1.0).unsqueeze(1)  # the [-1, 1] model scale of the pixel contract
        return F.adaptive_avg_pool2d(x, (self.size, self.size))

    def features(self, batch: "torch.Tensor") -> np.ndarray:
        return batch.flatten(1).double().cpu().numpy()

    def identity(self) -> dict:
        return {"name": self.name, "size": self.size, "resize": "adaptive_avg_pool2d", "scale": "x/127.5-1"}


def _pixels(weights: Path | None = None, device: str = "cpu") -> PixelExtractor:
    if weights is not None:
        raise ValueError("the 'pixels' extractor has no weights")
    return PixelExtractor(device=device)


register("pixels", _pixels)
