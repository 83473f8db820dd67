"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deeppc.models import CHECKPOINT_FORMAT, build_generator, generator_kwargs


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deeppc.generator/1 checkpoint of a tiny MLP generator (16 px, two hidden layers of 8)."""
    path = tmp_path_factory.mktemp("ckpt") / "g.pt"
    G = build_generator("mlp", 16, latent_dim=8, hidden=[8, 8])
    torch.save({"format": CHECKPOINT_FORMAT, "arch": "mlp", "image_size": 16, "latent_dim": 8,
                "model_kwargs": generator_kwargs("mlp", hidden=[8, 8]), "state_dict": G.state_dict()}, path)
    return path
