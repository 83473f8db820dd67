"""The config's `medfid:` section (schema: `properties.medfid`): derived sizes and weights lookup."""

from __future__ import annotations

from pathlib import Path

from deeppc.metrics import weights as weight_files


def image_size(config: dict) -> int:
    """Stored training-image size: medfid.image_size, else the GAN data's size."""
    return int(config["medfid"].get("image_size") or config["data"]["image_size"])


def imagenet_weights(config: dict) -> Path | None:
    """The ImageNet InceptionV3 weights file, or None when the config asks for a random base."""
    key = config["medfid"]["weights"]
    entry = (config.get("weights") or {}).get(key) or {}
    if entry.get("random_init"):
        return None
    return weight_files.resolve(config.get("weights") or {}, key)


def fid_weights(config: dict) -> Path | None:
    """The FID Inception weights for the validation sweep, or None for random ones (weights.inception)."""
    entry = (config.get("weights") or {}).get("inception") or {}
    if entry.get("random_init"):
        return None
    return weight_files.resolve(config.get("weights") or {}, "inception")
