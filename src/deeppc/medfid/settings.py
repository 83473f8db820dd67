"""The config's `medfid:` section (schema: `properties.medfid`): derived sizes and weights lookup."""

from __future__ import annotations

from pathlib import Path

from deeppc.metrics import weights as weight_files


def image_size(config: dict) -> int:
    """Stored training-image size: medfid.image_size, else the GAN data's size."""
    return int(config["medfid"].get("image_size") or config["data"]["image_size"])


def imagenet_weights(config: dict) -> Path | None:
    """The ImageNet InceptionV3 weights file, or None when the config asks for a random base."""
    return _configured(config, config["medfid"]["weights"])


def fid_weights(config: dict) -> Path | None:
    """The FID Inception weights for the validation sweep, or None for random ones (weights.inception)."""
    return _configured(config, "inception")


def _configured(config: dict, key: str) -> Path | None:
    """weights.<key>'s file (checked), or None where that entry says random_init."""
    weights = config.get("weights") or {}
    if (weights.get(key) or {}).get("random_init"):
        return None
    return weight_files.resolve(weights, key)
