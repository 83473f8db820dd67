"""The metrics entry point: requested metrics only, n recorded, sample-size warnings, consistency checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeppc.metrics.api import MemorizationReference, MetricOptions, parse_metrics, score_features, score_images
from deeppc.metrics.extractors import PixelExtractor
from deeppc.metrics.frechet import frechet_distance_features
from deeppc.metrics.memorization import pooled
from deeppc.metrics.stats_cache import FeatureStats
from deeppc.score.stage import _metric_values

IDENTITY = {"name": "test-features"}


def _stats(x: np.ndarray, identity: dict = IDENTITY) -> FeatureStats:
    return FeatureStats.from_features(x, identity, "hash")


def test_scores_only_what_is_asked_and_records_n(features):
    real, fake = _stats(features(120, 16, seed=1)), _stats(features(80, 16, seed=2, shift=0.6))
    result = score_features(fake, real, "fid,kid", seed=1, options=MetricOptions(kid_subsets=5, kid_subset_size=50))
    assert (result["n_real"], result["n_fake"], result["kid_subset_size"], result["kid_subsets"]) == (120, 80, 50, 5)
    assert "precision" not in result and "mem_fraction" not in result
    expected = frechet_distance_features(fake.features.astype(np.float64), real.features.astype(np.float64))
    assert result["fid"] == pytest.approx(expected, rel=1e-10)
    json.dumps(result)  # plain JSON types only


def test_kid_subsets_follow_the_seed(features):
    real, fake = _stats(features(60, 8, seed=3)), _stats(features(60, 8, seed=4, shift=0.6))
    options = MetricOptions(kid_subsets=3, kid_subset_size=20)
    a, b, c = (score_features(fake, real, ["kid"], seed=s, options=options)["kid"] for s in (7, 7, 8))
    assert a == b != c


def test_identical_statistics_score_perfectly(features):
    real = _stats(features(100, 8, seed=5))
    result = score_features(real, real, "fid,pr", seed=0)
    assert result["fid"] <= 1e-9 and (result["precision"], result["recall"]) == (1.0, 1.0)


def test_small_samples_are_flagged(features):
    real, fake = _stats(features(2000, 8, seed=6)), _stats(features(10, 8, seed=7))
    result = score_features(fake, real, "fid,kid,pr", seed=0)
    text = " ".join(result["warnings"])
    assert "only 10 generated images" in text and "10 images per score" in text
    assert "subset size" in text or "per-subset" in text
    big = score_features(_stats(features(2000, 8, seed=8)), real, "fid", seed=0)
    assert big["warnings"] == []
    small_fake, small_real = _stats(features(300, 512, seed=9)), _stats(features(300, 512, seed=10))
    rank_deficient = score_features(small_fake, small_real, "fid", seed=0)
    assert any("rank deficient" in w for w in rank_deficient["warnings"])


def test_statistics_from_different_extractors_are_refused(features):
    real = _stats(features(20, 8, seed=11))
    other = _stats(features(20, 8, seed=12), {"name": "test-features", "weights_sha256": "other"})
    with pytest.raises(ValueError, match="different extractors"):
        score_features(other, real, "fid", seed=0)


def test_memorization_through_score_images(gray_images, tmp_path):
    extractor = PixelExtractor(size=8)
    train_images, holdout_images = gray_images(40, size=16, seed=1), gray_images(60, size=16, seed=2)
    fake_images = np.concatenate([train_images[:10], gray_images(10, size=16, seed=3)])

    def stats(images):
        return FeatureStats.from_features(extractor.features(extractor.preprocess(images)), extractor.identity(), "h")

    reference = MemorizationReference(stats(train_images), stats(holdout_images), train_images, holdout_images)
    result = score_images(
        fake_images, reference.train, extractor, "memorization", seed=0, reference=reference,
        pairs_png=tmp_path / "pairs.png", options=MetricOptions(mem_pixel_size=8, mem_pairs=3),
    )  # fmt: skip
    # half the images are copies: all of them flagged, in both spaces, and the verdict says so
    assert result["mem_verdict"] == "copying" and result["mem_p"] < result["mem_level"] == 0.01
    assert result["mem_fraction"] >= 0.5 and result["mem_fraction_pixel"] >= 0.5 and result["mem_flagged"] >= 10
    assert (result["n_train"], result["n_holdout"], result["mem_n_calibration"]) == (40, 60, 30)
    assert (tmp_path / "pairs.png").is_file()
    assert any("30 calibration images" in w for w in result["warnings"])
    json.dumps(result)
    with pytest.raises(ValueError, match="MemorizationReference"):
        score_images(fake_images, reference.train, extractor, "memorization", seed=0)

    # the score stage keeps plain numbers per repeat; the verdict is the checkpoint's, pooled over repeats
    row = _metric_values({k: v for k, v in result.items() if k != "warnings"})  # the stage pops warnings first
    assert row and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values())
    assert {"mem_fraction", "mem_excess", "mem_p", "mem_fraction_pixel"} <= set(row)
    assert not {"mem_verdict", "mem_alpha", "mem_flagged", "mem_n_calibration"} & set(row)
    evidence = pooled([{k: v for k, v in result.items() if k.startswith("mem_")}] * 2)
    assert (evidence["verdict"], evidence["n"], evidence["flagged"]) == ("copying", 40, 2 * result["mem_flagged"])


def test_memorization_with_too_small_a_holdout_is_inconclusive(features):
    train, holdout = _stats(features(40, 8, seed=13)), _stats(features(12, 8, seed=14))
    reference = MemorizationReference(train, holdout)
    result = score_features(train, train, "memorization", seed=0, reference=reference)  # verbatim copies
    assert result["mem_verdict"] == "inconclusive" and "mem_p" not in result and "mem_fraction_pixel" not in result
    assert any("inconclusive" in w for w in result["warnings"])


def test_options_and_metric_names():
    assert MetricOptions.from_config({"kid_subsets": 7, "compute": ["fid"]}).kid_subsets == 7
    options = MetricOptions.from_config({"mem_alpha": 0.1, "mem_level": 0.05})
    assert (options.mem_alpha, options.mem_level) == (0.1, 0.05)
    assert parse_metrics("fid, kid,fid") == ("fid", "kid")
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metrics("fid,is")
