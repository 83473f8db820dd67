"""Memorization: planted copies are found, novel samples are not, the pairs grid is written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deeppc.metrics.memorization import (
    calibrated_space,
    memorization,
    nearest_neighbours,
    pixel_vectors,
    save_pairs_grid,
)


def _split(features, n_train=200, n_holdout=150, n_fresh=80, seed=0):
    pool = features(n_train + n_holdout + n_fresh, 16, seed=seed)
    return pool[:n_train], pool[n_train : n_train + n_holdout], pool[n_train + n_holdout :]


def test_nearest_neighbours_match_brute_force(features):
    queries, refs = features(30, 8, seed=1), features(40, 8, seed=2)
    brute = np.linalg.norm(queries[:, None, :] - refs[None, :, :], axis=2)
    distance, index = nearest_neighbours(queries, refs)
    np.testing.assert_array_equal(index, brute.argmin(axis=1))
    np.testing.assert_allclose(distance, brute.min(axis=1), rtol=1e-9)


def test_planted_copies_are_counted_and_located(features):
    train, holdout, fresh = _split(features)
    copied = np.arange(0, 40, 2)
    generated = np.concatenate([train[copied], fresh])  # 20 copies, 80 novel samples
    result = calibrated_space(generated, train, holdout, quantile=0.05)
    assert 0.2 <= result.fraction <= 0.2 + 0.8 * 0.15
    np.testing.assert_array_equal(result.nn_index[:20], copied)
    assert np.all(result.nn_distance[:20] < 1e-6)


def test_novel_samples_land_near_the_quantile(features):
    train, holdout, fresh = _split(features, n_fresh=400)
    result = calibrated_space(fresh, train, holdout, quantile=0.1)
    assert result.fraction <= 0.25  # expected ≈ 0.1 when generated images are as novel as holdout ones


def test_pixel_vectors_measure_rms_on_the_model_scale():
    black, white = np.zeros((1, 32, 32), np.uint8), np.full((1, 32, 32), 255, np.uint8)
    v = pixel_vectors(np.concatenate([black, white]), size=8)
    assert v.shape == (2, 64)
    assert np.linalg.norm(v[0] - v[1]) == pytest.approx(2.0)
    half = np.full((1, 32, 32), 0, np.uint8)
    half[:, :, 16:] = 255  # area averaging keeps the mean exactly at any size
    assert pixel_vectors(half, size=1)[0, 0] == pytest.approx(0.0)


def test_feature_and_pixel_spaces_with_grid(features, gray_images, tmp_path):
    train_images, holdout_images = gray_images(40, seed=1), gray_images(30, seed=2)
    generated_images = np.concatenate([train_images[:5], gray_images(15, seed=3)])
    train, holdout = features(40, 16, seed=4), features(30, 16, seed=5)
    generated = np.concatenate([train[:5], features(15, 16, seed=6)])
    result = memorization(
        generated, train, holdout, quantile=0.05,
        generated_images=generated_images, train_images=train_images, holdout_images=holdout_images,
        pixel_size=16,
    )  # fmt: skip
    summary = result.summary()
    assert summary["mem_fraction"] >= 5 / 20 and summary["mem_fraction_pixel"] >= 5 / 20
    assert {"mem_threshold_feature", "mem_feature_nn_median", "mem_pixel_nn_median", "mem_quantile"} <= set(summary)
    pairs = result.closest_pairs(4)
    assert {p["generated"] for p in pairs} <= set(range(5)) and pairs[0]["pixel_distance"] == 0.0

    path = tmp_path / "pairs" / "closest.png"
    save_pairs_grid(path, result, generated_images, train_images, n_pairs=4)
    with Image.open(path) as im:
        # four (generated | feature NN | pixel NN) groups side by side in one row
        assert im.mode == "L" and im.size == (4 * (3 * 128 + 2 * 4) + 3 * 16, 128 + 4)
    assert [p.name for p in path.parent.iterdir()] == ["closest.png"]  # no temporary file left


def test_inputs_are_validated(features):
    train, holdout, fresh = _split(features, n_train=20, n_holdout=10, n_fresh=5)
    with pytest.raises(ValueError, match="quantile"):
        calibrated_space(fresh, train, holdout, quantile=1.0)
    with pytest.raises(ValueError, match="pixel-space memorization needs"):
        memorization(fresh, train, holdout, generated_images=np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        pixel_vectors(np.zeros((2, 8, 8)), size=4)
