"""Shared fixtures for the train-stage tests: tiny image sets, configs and a hookable test family."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from deeppc.models import Family, register_family
from deeppc.train import PhaseContext, register_loss
from deeppc.train.losses import VanillaLoss
from toy_runs import blob_images, one_torch_thread  # noqa: F401 (autouse fixture)


@pytest.fixture
def images16() -> np.ndarray:
    return blob_images(40, 16)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for i, image in enumerate(blob_images(40, 16)):
        Image.fromarray(image).save(folder / f"img-{i:016x}.png")
    return folder


def write_config(path: Path, train: dict, experiments: dict, seed: int = 5) -> Path:
    study = {"seed": seed, "data": {"demo": {}}, "train": train, "experiments": experiments}
    path.write_text(yaml.safe_dump(study))
    return path



class HookedVanilla(VanillaLoss):
    """Vanilla loss that can poison its D loss or signal its own process at a given iteration."""

    family = "hooked"

    def __init__(self, G, D, reuse_fakes: bool = True, nan_at: int | None = None, sigterm_at: int | None = None):
        super().__init__(G, D, reuse_fakes)
        self.nan_at = nan_at
        self.sigterm_at = sigterm_at
        self.iteration = 0

    def phases(self, iteration: int, position: int) -> tuple[str, ...]:
        self.iteration = iteration
        return super().phases(iteration, position)

    def run(self, phase: str, ctx: PhaseContext) -> dict[str, torch.Tensor]:
        logged = super().run(phase, ctx)
        if phase == "D" and self.iteration == self.nan_at:
            logged["d_loss"] = logged["d_loss"] * float("nan")
        if phase == "D" and self.iteration == self.sigterm_at:
            os.kill(os.getpid(), signal.SIGTERM)  # as a scheduler at walltime would
        return logged


register_family(Family("hooked", "sigmoid", {}, "test family"))
register_loss(HookedVanilla)
