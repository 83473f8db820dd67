"""Precision/recall: agreement with torch-fidelity on the same features; degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_prc import calculate_precision_recall_full

from deeppc.metrics import prdc
from deeppc.metrics.prdc import knn_radii_squared, precision_recall


@pytest.mark.parametrize("n_fake,n_real,shift", [(200, 300, 0.5), (300, 150, 0.65), (250, 250, 0.9)])
def test_matches_torch_fidelity(features, n_fake, n_real, shift):
    fake = features(n_fake, 64, seed=1, shift=shift).astype(np.float32)
    real = features(n_real, 64, seed=2).astype(np.float32)
    ref_precision, ref_recall = calculate_precision_recall_full(torch.from_numpy(fake), torch.from_numpy(real), 3)
    ours = precision_recall(fake, real, k=3)
    assert abs(ours.precision - ref_precision) <= 1e-4
    assert abs(ours.recall - ref_recall) <= 1e-4
    assert 0.0 < ours.precision < 1.0 or 0.0 < ours.recall < 1.0  # a case that discriminates


def test_blocked_computation_equals_one_block(features, monkeypatch):
    fake, real = features(90, 16, seed=3, shift=0.6), features(70, 16, seed=4)
    whole = precision_recall(fake, real)
    monkeypatch.setattr(prdc, "_BLOCK", 16)
    assert precision_recall(fake, real) == whole


def test_radius_is_kth_neighbour_excluding_self():
    x = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])
    assert np.sqrt(knn_radii_squared(x, 1)).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]
    assert np.sqrt(knn_radii_squared(x, 3)).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]


def test_identical_sets_are_fully_precise_and_recalled(features):
    x = features(100, 32, seed=5)
    result = precision_recall(x, x.copy())
    assert (result.precision, result.recall) == (1.0, 1.0)


def test_collapsed_generator_has_no_recall(features):
    real = features(100, 32, seed=6)
    inside = np.repeat(real[:1], 50, axis=0)  # the collapsed image is a real sample's exact copy
    result = precision_recall(inside, real)
    assert result.precision == 1.0
    assert result.recall <= 1 / 100 + 1e-12
    far = np.repeat(real[:1] + 100.0, 50, axis=0)
    assert precision_recall(far, real).precision == 0.0


def test_sets_of_different_sizes_and_too_few_samples(features):
    real = features(120, 16, seed=7)
    assert 0.0 <= precision_recall(features(10, 16, seed=8), real).recall <= 1.0
    with pytest.raises(ValueError, match="more than 3 generated"):
        precision_recall(real[:3], real)
    with pytest.raises(ValueError, match="same d"):
        precision_recall(real, real[:, :8])
