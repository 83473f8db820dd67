"""MedFID fixtures: a phantom MURA + LERA tree, a small demo config, and one trained extractor per session.

Everything runs on CPU at the smallest input torchvision's InceptionV3 takes
(75 px) with a randomly initialised base, so the features mean nothing
comparable to published MedFID; the tests check the machinery and the
direction of the validation curves, not values.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

from deeppc.demo import phantom
from deeppc.data.geometry import square_thumbnail, to_uint8
from deeppc.files import save_png
from deeppc.demo.body_parts import write_demo_tree
from deeppc.seeding import rng

TINY = {
    "seed": 2023,
    "data": {"demo": {"patients": 4}, "image_size": 64},
    "weights": {
        "inception": {"path": "unused", "random_init": True},
        "imagenet_inception_v3": {"path": "unused", "random_init": True},
    },
    "medfid": {
        "demo": {"per_class": 24, "size": 80, "seed": 3},
        "classes": {p: [p] for p in ("elbow", "forearm", "hand", "humerus", "shoulder", "knee")},
        "sampling": {"train_per_class": 12, "val_per_class": 3, "test_per_class": 3},
        "input_size": 75,
        "batch_size": 12,
        "phase1": {"epochs": 2},
        "phase2": {"epochs": 1},
        "device": "cpu",
        "validation": {
            "max_images": 16,
            "fid": False,  # FID at 299 px is the slow part; test_stage runs it on a few images
            "levels": {
                "blur": [0, 3, 7, 15],
                "noise": [0, 0.2, 0.5, 1.0],
                "salt_pepper": [0, 0.1, 0.3, 0.6],
                "blocks": [0, 0.05, 0.2],
            },
        },
    },
}


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def tiny() -> dict:
    """A fresh copy of the tiny demo config (raw, as written in YAML)."""
    return copy.deepcopy(TINY)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MURA-v1.1/ and LERA/ trees of phantoms, 24 images per body part."""
    root = tmp_path_factory.mktemp("medfid-demo")
    demo = TINY["medfid"]["demo"]
    write_demo_tree(root, demo["per_class"], demo["size"], demo["seed"])
    return root


def elbow_images(n: int, size: int = 64, seed: int = 5) -> np.ndarray:
    """Lateral elbow phantoms as the data stage would store them (square uint8)."""
    return np.stack([
        to_uint8(square_thumbnail(phantom.draw("elbow", "LAT", rng(seed, "elbow", i), (80, 72)), size))
        for i in range(n)
    ])  # fmt: skip


@pytest.fixture
def make_elbows() -> Callable[..., np.ndarray]:
    return elbow_images


@pytest.fixture(scope="session")
def real_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("medfid-real")
    for i, image in enumerate(elbow_images(16)):
        save_png(folder / f"img-{i:03d}.png", image)
    return folder


@pytest.fixture(scope="session")
def stage_run(tmp_path_factory: pytest.TempPathFactory, demo_root: Path, real_folder: Path) -> dict:
    """`deeppc medfid train` then `deeppc medfid validate` on the demo, through the command line."""
    import deeppc.cli as cli

    work = tmp_path_factory.mktemp("medfid-stage")
    config = write_config(work / "config.yaml", TINY)
    train = ["medfid", "train", "--config", str(config), "--data", str(demo_root), "--out", str(work / "out")]
    train_code = cli.main(train)
    validate = [
        "medfid", "validate", "--config", str(config), "--extractor", str(work / "out" / "extractor.pt"),
        "--images", str(real_folder), "--out", str(work / "out" / "validation"),
    ]  # fmt: skip
    validate_code = cli.main(validate)
    return {"out": work / "out", "train_code": train_code, "validate_code": validate_code, "config": config}
