"""Fréchet distance: agreement with pytorch-fid, exact special cases, degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance as pytorch_fid_distance

from deeppc.metrics.frechet import (
    factor_from_covariance,
    factor_from_stats,
    frechet_distance,
    frechet_distance_factors,
    frechet_distance_features,
    mean_and_covariance,
)


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("n1,n2,d", [(400, 437, 64), (1200, 1000, 256)])
def test_matches_pytorch_fid_on_well_conditioned_statistics(features, n1, n2, d):
    x1, x2 = features(n1, d, seed=1), features(n2, d, seed=2, shift=0.6)
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    reference = pytorch_fid_distance(m1, c1, m2, c2)
    assert _relative(frechet_distance(m1, c1, m2, c2), reference) <= 1e-6
    assert _relative(frechet_distance_features(x1, x2), reference) <= 1e-6


def test_matches_pytorch_fid_on_rank_deficient_statistics(features):
    """n = 100 samples at d = 2048: both covariances have rank 99 (one pytorch-fid call, ~15 s)."""
    x1, x2 = features(100, 2048, seed=3), features(100, 2048, seed=4, shift=0.6)
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    reference = pytorch_fid_distance(m1, c1, m2, c2)
    from_features = frechet_distance_features(x1, x2)
    from_covariances = frechet_distance(m1, c1, m2, c2)  # eigen-factor path (Cholesky fails)
    assert _relative(from_features, reference) <= 1e-4
    assert _relative(from_covariances, from_features) <= 1e-9


def test_commuting_covariances_have_the_closed_form():
    """C1 = V diag(a) Vᵀ, C2 = V diag(b) Vᵀ: tr (C1C2)^½ = Σ √(a b), also with rank deficiency."""
    rng = np.random.default_rng(0)
    d = 50
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = rng.uniform(0.1, 2.0, d)
    b = rng.uniform(0.1, 2.0, d)
    a[:20] = 0.0  # rank 30
    b[10:25] = 0.0  # rank 35
    m1, m2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((m1 - m2) ** 2) + a.sum() + b.sum() - 2 * np.sqrt(a * b).sum()
    c1, c2 = (v * a) @ v.T, (v * b) @ v.T
    assert _relative(frechet_distance(m1, c1, m2, c2), expected) <= 1e-10


def test_tiny_negative_eigenvalues_count_as_zero():
    """A covariance with eigenvalues of −1e−15·λmax (rounding) gives the distance of the clipped matrix."""
    rng = np.random.default_rng(1)
    d = 40
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = rng.uniform(0.5, 1.5, d)
    a[:5] = -1e-15 * a.max()
    b = rng.uniform(0.5, 1.5, d)
    c1, c2 = (v * a) @ v.T, (v * b) @ v.T
    zero = np.zeros(d)
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(c1)  # so the eigen-factor path, with its threshold, is the one tested
    expected = np.clip(a, 0, None).sum() + b.sum() - 2 * np.sqrt(np.clip(a, 0, None) * b).sum()
    assert _relative(frechet_distance(zero, c1, zero, c2), expected) <= 1e-10


@pytest.mark.parametrize("n1,n2,d", [(30, 300, 64), (300, 30, 64), (40, 50, 64), (100, 120, 32)])
def test_feature_and_covariance_paths_agree_for_any_sizes(features, n1, n2, d):
    x1, x2 = features(n1, d, seed=5), features(n2, d, seed=6, shift=0.7)
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    via_features = frechet_distance_features(x1, x2)
    assert _relative(frechet_distance(m1, c1, m2, c2), via_features) <= 1e-9
    assert _relative(frechet_distance_features(x2, x1), via_features) <= 1e-12  # symmetric
    mixed = frechet_distance_factors(factor_from_stats(m1, c1, x1), factor_from_covariance(m2, c2))
    assert _relative(mixed, via_features) <= 1e-9


@pytest.mark.parametrize("n,d", [(80, 256), (600, 64)])
def test_identical_sets_give_zero(features, n, d):
    x = features(n, d, seed=7)
    m, c = mean_and_covariance(x)
    assert frechet_distance_features(x, x.copy()) <= 1e-9 * np.trace(c)
    assert frechet_distance(m, c, m, c) <= 1e-9 * np.trace(c)


def test_collapsed_generator_has_zero_covariance(features):
    """One image repeated: rank-0 covariance, distance = ‖Δμ‖² + tr C_real."""
    real = features(200, 128, seed=8)
    fake = np.repeat(features(1, 128, seed=9), 50, axis=0)
    m, c = mean_and_covariance(real)
    expected = np.sum((fake[0] - m) ** 2) + np.trace(c)
    assert _relative(frechet_distance_features(fake, real), expected) <= 1e-12
    assert _relative(frechet_distance(fake[0], np.zeros_like(c), m, c), expected) <= 1e-12


def test_bad_inputs_are_rejected(features):
    x = features(10, 8, seed=10)
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance_features(x[:1], x)
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance_features(np.where(x > 1, np.nan, x), x)
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance_features(x, features(10, 9, seed=11))
    with pytest.raises(ArithmeticError, match="negative"):
        frechet_distance(np.zeros(8), -np.eye(8), np.zeros(8), np.zeros((8, 8)))
