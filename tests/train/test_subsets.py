"""train_fraction: a run trains on a nested share of the training patients (the transfer study's sizes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deeppc.data.split import nested_subset
from deeppc.train import TrainSettings
from deeppc.train.stage import training_images


def settings(fraction):
    return TrainSettings(experiment="s", family="wgangp", arch="mlp", lr=1e-4, betas=(0.5, 0.9), image_size=8,
                         train_fraction=fraction)


def test_a_fraction_keeps_whole_patients_from_the_manifest(tmp_path):
    rows = []
    folder = tmp_path / "LAT" / "train"
    folder.mkdir(parents=True)
    for i in range(30):
        name = f"img-{i:016x}.png"
        Image.fromarray(np.full((8, 8), i, dtype=np.uint8)).save(folder / name)
        rows.append({"output": f"LAT/train/{name}", "patient_key": f"P{i // 3}", "sha256": f"{i:064x}"})
    rows.append({"output": "", "patient_key": "", "sha256": "f" * 64})  # a refused file: no output
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    images, _ = training_images(settings(0.4), folder, tmp_path / "manifest.csv")
    patients = {int(v) // 3 for v in images[:, 0, 0]}
    assert len(images) == 12 and len(patients) == 4  # 4 whole patients of 10
    expected = nested_subset([f"P{i // 3}" for i in range(30)], 0.4, seed=2023)
    assert sorted(images[:, 0, 0].tolist()) == [i for i in range(30) if expected[i]]
    bigger, _ = training_images(settings(0.8), folder, tmp_path / "manifest.csv")
    assert set(images[:, 0, 0]) <= set(bigger[:, 0, 0])
    with pytest.raises(ValueError, match="needs the data stage's manifest"):
        training_images(settings(0.4), folder)
    pd.DataFrame(rows[5:]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match="no manifest row for training image"):
        training_images(settings(0.4), folder, tmp_path / "short.csv")
