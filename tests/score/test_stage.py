"""Score-job helpers: held-out patients for the memorisation split, training progress in score files."""

from __future__ import annotations

from pathlib import Path

import pytest

from deeppc.metrics.api import MetricOptions
from deeppc.score.stage import ScoreJob, _progress, holdout_groups
from deeppc.train.sampler import images_seen


def test_holdout_groups_follow_the_split_key(tmp_path):
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "sha256,output,patient_key,study_key\n"
        "aaa,LAT/holdout/img-1.png,p1,s1\n"
        "bbb,LAT/holdout/img-2.png,,s2\n"  # no patient: the study groups it
        "ccc,LAT/holdout/img-3.png,,\n"  # neither: the file alone
        "ddd,LAT/holdout/img-4.png,p1,s9\n"
    )
    images = [Path(f"img-{k}.png") for k in (1, 2, 3, 4)]
    assert holdout_groups(manifest, images).tolist() == ["p1", "s2", "ccc", "p1"]
    with pytest.raises(ValueError, match="no manifest row for held-out image.*img-9.png"):
        holdout_groups(manifest, [Path("img-9.png")])


def test_progress_counts_images_as_the_trainer_does(tmp_path):
    job = ScoreJob(experiment="a", iteration=800, checkpoint=tmp_path, real={}, holdout=None,
                   train_images=tmp_path, holdout_images=tmp_path, weights={}, repeats=1, n_images=None, seed=0,
                   options=MetricOptions(), batch_size_train=64, drop_last=False)
    progress = _progress(job, n_train=1000)
    # 16 batches an epoch (the last of 40 images): 800 iterations are exactly 50 epochs
    assert progress == {"batch_size": 64, "drop_last": False, "n_train": 1000, "images_seen": 50_000,
                        "kimg": 50.0, "epochs": 50.0}
    assert images_seen(801, 1000, 64, False) == 50_064 and images_seen(3200, 1000, 16, True) == 51_200
    assert _progress(ScoreJob(**{**job.__dict__, "batch_size_train": None}), 1000) is None


def test_a_checkpoint_scored_without_a_holdout_has_no_memorisation_verdict(tmp_path):
    """The paper preset holds nothing out: every repeat is scored without the memorisation check, and the
    score file says nothing about copying (it once pooled empty per-repeat results and failed)."""
    import json

    import numpy as np
    import torch

    from deeppc import files
    from deeppc.models import build_generator
    from deeppc.models.checkpoint import save_generator
    from deeppc.score.real import real_statistics
    from deeppc.score.stage import score_checkpoint

    torch.manual_seed(0)  # a random tiny generator: the job's bookkeeping is under test, not its quality
    save_generator(tmp_path / "g.pt", build_generator("mlp", 16, latent_dim=8, hidden=[8, 8]), family="vanilla",
                   arch="mlp", generator={"hidden": [8, 8]}, iteration=100, image_size=16, latent_dim=8,
                   experiment="tiny", config_sha256="0" * 64)  # fmt: skip
    rng = np.random.default_rng(0)
    for i in range(12):
        files.save_png(tmp_path / "real" / "train" / f"img-{i}.png", rng.integers(0, 256, (16, 16), dtype=np.uint8))
    real_statistics(tmp_path / "real" / "train", "pixels", None, tmp_path / "real.npz", batch_size=8)
    job = ScoreJob(experiment="tiny", iteration=100, checkpoint=tmp_path / "g.pt", real={"pixels": tmp_path / "real.npz"},
                   holdout=None, train_images=tmp_path / "real" / "train", holdout_images=tmp_path / "none",
                   weights={"pixels": None}, repeats=2, n_images=12, seed=1,
                   options=MetricOptions(kid_subsets=2, kid_subset_size=6, pr_k=3))  # fmt: skip
    record = score_checkpoint(job, tmp_path / "score.json", None)
    assert "memorization" not in record and len(record["repeats"]) == 2
    assert json.loads((tmp_path / "score.json").read_text())["repeats"][1]["fd_pixels"] > 0
