"""KID: agreement with torch-fidelity on the same features and subsets; degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.metric_kid import kid_features_to_metric

from deeppc.metrics import kid as kid_module
from deeppc.metrics.kid import kid, mmd2_unbiased, polynomial_kernel


def _torch_fidelity_subsets(n_x: int, n_y: int, subsets: int, size: int, seed: int) -> list:
    """The subsets torch-fidelity draws: RandomState(seed), x then y, per subset."""
    state = np.random.RandomState(seed)
    return [(state.choice(n_x, size, replace=False), state.choice(n_y, size, replace=False)) for _ in range(subsets)]


def _torch_fidelity_kid(x: np.ndarray, y: np.ndarray, subsets: int, size: int, seed: int) -> dict:
    return kid_features_to_metric(
        torch.from_numpy(x), torch.from_numpy(y),
        kid_subsets=subsets, kid_subset_size=size, rng_seed=seed, verbose=False,
    )  # fmt: skip


@pytest.mark.parametrize("n_x,n_y,subsets,size", [(150, 120, 10, 50), (90, 90, 1, 90), (300, 200, 5, 200)])
def test_matches_torch_fidelity(features, n_x, n_y, subsets, size):
    x = features(n_x, 256, seed=1).astype(np.float32)
    y = features(n_y, 256, seed=2, shift=0.55).astype(np.float32)
    reference = _torch_fidelity_kid(x, y, subsets, size, seed=2020)
    ours = kid(x, y, indices=_torch_fidelity_subsets(n_x, n_y, subsets, size, 2020))
    assert abs(ours.mean - reference["kernel_inception_distance_mean"]) <= 1e-4
    assert abs(ours.std - reference["kernel_inception_distance_std"]) <= 1e-4
    assert abs(ours.mean - reference["kernel_inception_distance_mean"]) <= 1e-4 * abs(ours.mean)


def test_full_kernel_and_per_subset_paths_agree(features, monkeypatch):
    x, y = features(120, 64, seed=3), features(100, 64, seed=4, shift=0.6)
    indices = kid_module.subset_indices(120, 100, 4, 60, np.random.default_rng(0))
    full = kid(x, y, indices=indices)
    monkeypatch.setattr(kid_module, "_FULL_KERNEL_LIMIT", 0)
    assert kid(x, y, indices=indices).mean == pytest.approx(full.mean, rel=1e-9)


def test_repeated_indices_count_like_repeated_rows(features):
    """Indicator counts give the same sums as materialising a subset with a repeated sample."""
    x, y = features(20, 8, seed=15), features(25, 8, seed=16, shift=0.6)
    ix, iy = np.array([0, 3, 3, 7, 9]), np.array([1, 2, 5, 5, 5, 8])
    k = polynomial_kernel
    direct = mmd2_unbiased(k(x[ix], x[ix]), k(x[ix], y[iy]), k(y[iy], y[iy]))
    assert kid(x, y, indices=[(ix, iy)]).mean == pytest.approx(direct, rel=1e-12)


def test_unbiased_mmd_for_sets_of_different_sizes():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(11, 3)) + 0.3
    k = lambda a, b: polynomial_kernel(a, b)  # noqa: E731
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    by_loops = (
        sum(kxx[i, j] for i in range(7) for j in range(7) if i != j) / (7 * 6)
        + sum(kyy[i, j] for i in range(11) for j in range(11) if i != j) / (11 * 10)
        - 2 * kxy.mean()
    )
    assert mmd2_unbiased(kxx, kxy, kyy) == pytest.approx(by_loops, rel=1e-12)


def test_subset_size_shrinks_to_the_smaller_set(features):
    x, y = features(30, 32, seed=6), features(200, 32, seed=7)
    result = kid(x, y, subsets=5, subset_size=1000, rng=np.random.default_rng(0))
    assert (result.subset_size, result.subsets) == (30, 5)


def test_same_distribution_near_zero_and_shift_detected(features):
    a, b = features(400, 64, seed=8), features(400, 64, seed=9)
    shifted = features(400, 64, seed=10, shift=0.9)
    same = kid(a, b, subsets=20, subset_size=200, rng=np.random.default_rng(1))
    different = kid(a, shifted, subsets=20, subset_size=200, rng=np.random.default_rng(1))
    assert abs(same.mean) < 3 * same.std + 1e-3 * different.mean
    assert different.mean > 50 * abs(same.mean)


def test_identical_sets_give_zero_up_to_the_unbiased_diagonal_term(features):
    """With K_XY's diagonal kept (as torch-fidelity does), MMD²(X, X) = −2(mean diag − mean off-diag)/m."""
    x = features(100, 32, seed=11)
    value = kid(x, x.copy(), subsets=1, subset_size=100, rng=np.random.default_rng(0)).mean
    k = polynomial_kernel(x, x)
    off_diagonal = (k.sum() - np.trace(k)) / (100 * 99)
    assert value == pytest.approx(-2 * (np.trace(k) / 100 - off_diagonal) / 100, rel=1e-9)
    assert abs(value) <= 0.05 * np.trace(k) / 100  # ≈ 0 on the kernel's scale


def test_collapsed_generator_is_finite_and_large(features):
    real = features(100, 32, seed=12)
    fake = np.repeat(features(1, 32, seed=13), 100, axis=0)
    value = kid(fake, real, subsets=3, subset_size=50, rng=np.random.default_rng(0))
    assert np.isfinite(value.mean) and value.mean > 0


def test_needs_subsets_source_and_two_samples(features):
    x = features(10, 8, seed=14)
    with pytest.raises(ValueError, match="rng or indices"):
        kid(x, x)
    with pytest.raises(ValueError, match="at least 2"):
        kid(x[:1], x, subsets=1, rng=np.random.default_rng(0))
