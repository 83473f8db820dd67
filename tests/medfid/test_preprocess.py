"""One preprocessing path: the same image gives the same features in training and in scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deeppc.metrics import extractors
from deeppc.metrics.extractors import extract_features
from deeppc.metrics.stats_cache import array_hash, compute_stats
from deeppc.medfid.model import MedFIDExtractor, Preprocessing, preprocess, save_checkpoint
from deeppc.medfid.train import PhaseSettings, Split, FinetuneSettings, augment, train


def test_preprocess_is_resize_then_unit_scale_then_three_channels():
    images = np.random.default_rng(0).integers(0, 256, (3, 75, 75), dtype=np.uint8)
    x = preprocess(images, Preprocessing(75))
    assert x.shape == (3, 3, 75, 75) and x.dtype == torch.float32
    expected = torch.from_numpy(images).float() / 127.5 - 1  # no resize at the network size
    assert torch.equal(x[:, 0], expected) and torch.equal(x[:, 1], x[:, 0]) and torch.equal(x[:, 2], x[:, 0])
    resized = preprocess(np.full((1, 64, 64), 255, np.uint8), Preprocessing(107))
    assert resized.shape == (1, 3, 107, 107) and torch.allclose(resized, torch.ones_like(resized))


def test_preprocessing_spec_round_trips_and_rejects_other_paths():
    spec = Preprocessing(128)
    assert Preprocessing.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="unsupported MedFID preprocessing"):
        Preprocessing.from_dict({**spec.to_dict(), "scale": "(x-mean)/std"})
    with pytest.raises(ValueError, match="at least 75"):
        Preprocessing(64)


def test_augmentation_off_is_the_identity_and_flip_mirrors():
    x = torch.randn(4, 3, 75, 75)
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(augment(x, gen, hflip=False, shift=0.0), x)
    flipped = augment(x, gen, hflip=True, shift=0.0)
    assert all(torch.equal(f, s) or torch.equal(f, s.flip(-1)) for f, s in zip(flipped, x))
    shifted = augment(x, gen, hflip=False, shift=0.1)
    assert shifted.shape == x.shape and not torch.equal(shifted, x)


def test_training_and_scoring_give_the_same_features(tmp_path, make_elbows):
    """Features of the in-memory trained network (eval, no augmentation) = the registry extractor's."""
    images = make_elbows(8, size=64)
    labels = np.array([0, 1] * 4)
    data = {"train": Split(images, labels), "val": Split(images[:4], labels[:4])}
    settings = FinetuneSettings(PhaseSettings(1), PhaseSettings(0), input_size=75, batch_size=4, seed=1)
    run = train(data, 2, settings, weights=None, device=torch.device("cpu"))
    spec = Preprocessing(75)
    meta = {
        "classes": ["a", "b"], "preprocessing": spec.to_dict(), "arch": {"hidden": 2048, "depth": 4, "dropout": 0.2},
        "backbone_init": run.backbone_init, "comparable_to_published": False,
    }  # fmt: skip
    save_checkpoint(tmp_path / "extractor.pt", run.net, meta)

    with torch.no_grad():
        training_time = run.net.eval().embed(preprocess(images, spec)).double().numpy()
    extractor = extractors.create("medfid", weights=tmp_path / "extractor.pt", device="cpu")
    assert isinstance(extractor, MedFIDExtractor) and extractor.frechet_key == "medfid"
    scoring_time = extract_features(extractor, images, batch_size=8)
    np.testing.assert_array_equal(scoring_time, training_time)
    # batching does not change them beyond float32 rounding
    np.testing.assert_allclose(extract_features(extractor, images, batch_size=3), training_time, rtol=1e-4, atol=1e-5)

    stats = compute_stats(images, extractor, array_hash(images))
    assert stats.feature_dim == 2048
    assert stats.extractor["comparable_to_published"] is False and stats.extractor["input"]["input_size"] == 75


def test_registry_needs_the_stage_checkpoint():
    assert "medfid" in extractors.available()
    with pytest.raises(ValueError, match="checkpoint written by the medfid stage"):
        extractors.create("medfid")
