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


def test_a_conditional_checkpoint_is_scored_per_class_against_that_class(tmp_path):
    """per_class: each class's samples against that class's real images (a short CPU run on a planted task);
    pairing a class's samples with the other class's images instead gives far larger distances."""
    import numpy as np

    from deeppc import files
    from deeppc.metrics import extractors
    from deeppc.metrics.api import score_images
    from deeppc.metrics.stats_cache import FeatureStats
    from deeppc.models import generate, load_generator
    from deeppc.score.real import real_statistics
    from deeppc.score.stage import score_checkpoint
    from deeppc.train.loop import run
    from conditional_task import CLASSES, conditional, planted

    images, labels = planted(48, seed=0)
    run(conditional(batch_size=8, iterations=120, checkpoint_every=120, seed=3,
                    loss={"r1_gamma": 0.1, "ada": "adaptive"}), images, tmp_path / "run", "cpu", labels)  # fmt: skip
    real, real_labels = planted(60, seed=1)
    stats = {}
    for k, name in enumerate(CLASSES):
        for i, image in enumerate(real[real_labels == k][: 20 + 10 * k]):  # 20 left, 30 right: unequal classes
            files.save_png(tmp_path / "real" / name / f"img-{i}.png", image)
        stats[name] = real_statistics(tmp_path / "real" / name, "pixels", None, tmp_path / f"{name}.npz", batch_size=8)
    for i, image in enumerate(real):
        files.save_png(tmp_path / "real" / "all" / f"img-{i}.png", image)
    real_statistics(tmp_path / "real" / "all", "pixels", None, tmp_path / "all.npz", batch_size=8)
    ckpt = tmp_path / "run" / "ckpt" / "120.pt"
    job = ScoreJob(experiment="cond", iteration=120, checkpoint=ckpt, real={"pixels": tmp_path / "all.npz"},
                   holdout=None, train_images=tmp_path / "real" / "all", holdout_images=tmp_path / "none",
                   weights={"pixels": None}, repeats=1, n_images=40, seed=1, options=MetricOptions(pr_k=3),
                   class_real=(tmp_path / "left.npz", tmp_path / "right.npz"), batch_size_train=8,
                   drop_last=True)  # fmt: skip
    record = score_checkpoint(job, tmp_path / "score.json", None)
    per_class = record["per_class"]
    # epochs count the 48 images the run trained on (its checkpoint says), not the 60 it is scored against
    assert record["n_real"] == 60 and record["progress"]["n_train"] == 48
    assert record["progress"]["epochs"] == pytest.approx(120 * 8 / 48)
    assert list(per_class) == list(CLASSES) and [v["n_real"] for v in per_class.values()] == [20, 30]
    G, meta = load_generator(ckpt)
    net = extractors.create("pixels", None, "cpu")
    for k, name in enumerate(CLASSES):
        again = generate(G, per_class[name]["n_fake"], per_class[name]["seed"], batch_size=64, label=k)
        matched = score_images(again, FeatureStats.load(tmp_path / f"{name}.npz"), net, ["fid"], seed=0)
        assert matched["fd_pixels"] == pytest.approx(per_class[name]["fd_pixels"], rel=1e-9)  # reproducible
        other = FeatureStats.load(tmp_path / f"{CLASSES[1 - k]}.npz")
        assert score_images(again, other, net, ["fid"], seed=0)["fd_pixels"] > 3 * matched["fd_pixels"]
    swapped = ScoreJob(**{**job.__dict__, "class_real": job.class_real[:1]})
    with pytest.raises(ValueError, match="per-class statistics for 1 classes"):
        score_checkpoint(swapped, tmp_path / "bad.json", None)


def test_unlabelled_samples_of_a_conditional_generator_mix_classes_as_trained():
    import torch

    from deeppc.models.checkpoint import sample_classes

    assert sample_classes(0, 6, 3).tolist() == [0, 1, 2, 0, 1, 2]
    classes = sample_classes(0, 4000, 3, [300, 100, 0])
    counts = torch.bincount(classes, minlength=3).tolist()
    assert abs(counts[0] - 3000) <= 2 and abs(counts[1] - 1000) <= 2 and counts[2] == 0
    # any window of consecutive images keeps the proportions (image i's class depends on i alone)
    window = sample_classes(1234, 400, 3, [300, 100, 0])
    assert torch.equal(window, classes[1234:1634]) and abs(int((window == 1).sum()) - 100) <= 3
    with pytest.raises(ValueError, match="class_weights"):
        sample_classes(0, 4, 2, [0, 0])
