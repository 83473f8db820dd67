"""Fréchet distance: exact against independent references, agreement with pytorch-fid, degenerate inputs.

References, independent of the code under test (which uses QR / Cholesky /
eigen factors and an SVD of the cross factor):

* `exact_fid`, float64, from the samples: ‖Δμ‖² + tr C₁ + tr C₂ − 2 Σσ(X̃₁X̃₂ᵀ)/√((n₁−1)(n₂−1)),
  with σ from numpy's SVD of the centred cross-Gram matrix. When n₁ > d the
  cross-Gram has rank ≤ d and the thin SVD X̃₁ = U S Vᵀ (U with orthonormal
  columns) gives the same singular values from the d×n₂ matrix S Vᵀ X̃₂ᵀ. No
  covariance is formed and nothing is squared.
* `mp_fid`, 50-digit mpmath: the covariances formed from the samples in 50
  digits (or taken as given, for a stored covariance), and
  tr (C₁C₂)^{1/2} = Σ √λ(C₁^{1/2} C₂ C₁^{1/2}) with C₁^{1/2} from mpmath's
  symmetric eigensolver. Used on small cases, which also check `exact_fid`.

Exact for a stored covariance: a float64 covariance is XᵀX rounded, so it is
not the samples' covariance. On small cases its own exact value is computed
from the stored numbers in 50 digits (`mp_fid` of the stored matrices), and the
distance from the covariance must match that. On the larger cases it is
compared with the exact value from the samples instead: that is a claim that
the rounding of the stored covariance does not matter there. It holds when the
two covariances are comparable (the distance's derivative in C₂ is
½ (C₁ # C₂⁻¹), of size O(1) when C₁ ≈ C₂; measured below 6e-12 on every large
case here), and fails where one covariance is nearly singular in directions
where the other is not: "low rank against isotropic" is off by 7e-11 from a
stored covariance at d = 256 and by 1e-9 at d = 512, which is why statistics
that keep their samples are factored from the samples, and why that case is
checked from the samples only (and from its stored covariance at d = 12, in
50 digits). A rank-deficient stored covariance (n ≤ d) is exactly PSD only
before rounding; its exact value is not defined (noise eigenvalues of either
sign), so it is compared with the samples, and the factor must keep exactly
the n − 1 genuine directions.

Sizes: d = 512 with n = 500 covers n ≤ d (the centred samples are the factor)
and n = 556 gives n/d = 1.09, the ratio of the audit's n = 2225 at d = 2048,
where the sample covariance is nearly singular (its smallest eigenvalues shrink
by the Marchenko-Pastur factor (1 − √(d/n))² ≈ 2e-3); n = 2225 and 5000 use
d = 256, enough for spectra spanning 256^-3 ≈ 6e-8 while keeping the QR and
the reference's SVDs well under a second.
"""

from __future__ import annotations

import functools

import mpmath
import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance as pytorch_fid_distance

from deeppc.metrics.frechet import (
    GaussianFactor,
    factor_from_covariance,
    factor_from_stats,
    frechet_distance,
    frechet_distance_factors,
    frechet_distance_features,
    mean_and_covariance,
)
from deeppc.metrics.stats_cache import FeatureStats

EXACT = 1e-9  # relative to the distance itself
DIGITS = 50


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------- references


def exact_fid(x1: np.ndarray, x2: np.ndarray) -> float:
    """Float64 reference from the samples: no covariance, SVD of the centred cross-Gram (module doc)."""
    x1, x2 = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    a, b = _centred(x1), _centred(x2)
    diff = x1.mean(axis=0) - x2.mean(axis=0)
    return float(diff @ diff + np.sum(a * a) + np.sum(b * b) - 2.0 * _cross_gram_nuclear_norm(a, b))


def _centred(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=0)) / np.sqrt(x.shape[0] - 1)


def _cross_gram_nuclear_norm(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape[0] > a.shape[1]:
        _, s, vt = np.linalg.svd(a, full_matrices=False)  # a bᵀ = U (S Vᵀ bᵀ), U orthonormal columns
        a = s[:, None] * vt
    return float(np.linalg.svd(a @ b.T, compute_uv=False).sum())


def mp_fid(m1: mpmath.matrix, c1: mpmath.matrix, m2: mpmath.matrix, c2: mpmath.matrix) -> float:
    """Fréchet distance of (mean, covariance) pairs in DIGITS-digit arithmetic."""
    with mpmath.workdps(DIGITS):
        root = _mp_sqrt_psd(c1)
        cross = mpmath.eigsy(root * c2 * root, eigvals_only=True)
        trace_sqrt = mpmath.fsum(mpmath.sqrt(max(v, 0)) for v in cross)  # max: ±1e-50 zeros of a singular C
        diff = m1 - m2
        traces = mpmath.fsum(c1[i, i] + c2[i, i] for i in range(c1.rows))
        return float(mpmath.fsum(v**2 for v in diff) + traces - 2 * trace_sqrt)


def mp_stats(x: np.ndarray) -> tuple[mpmath.matrix, mpmath.matrix]:
    """Mean and unbiased covariance of float64 samples (exactly representable) in DIGITS digits."""
    with mpmath.workdps(DIGITS):
        n, d = x.shape
        samples = mpmath.matrix(np.asarray(x, dtype=np.float64).tolist())
        mean = mpmath.matrix([mpmath.fsum(samples[i, j] for i in range(n)) / n for j in range(d)])
        centred = samples - mpmath.ones(n, 1) * mean.T
        return mean, centred.T * centred / (n - 1)


def _mp_sqrt_psd(c: mpmath.matrix) -> mpmath.matrix:
    values, vectors = mpmath.eigsy(c)
    return vectors * mpmath.diag([mpmath.sqrt(max(v, 0)) for v in values]) * vectors.T


def _mp(a: np.ndarray) -> mpmath.matrix:
    return mpmath.matrix(np.asarray(a, dtype=np.float64).tolist())


# ---------------------------------------------------------------- feature sets


@functools.lru_cache(maxsize=None)
def _rotation(d: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(1000 + d).standard_normal((d, d)))
    return q


def power_law(n: int, d: int, alpha: float, seed: int, shift: float = 1.0) -> np.ndarray:
    """Samples with population covariance Q diag(i^-α) Qᵀ, i = 1..d, and mean `shift`·1."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    return (z * np.arange(1, d + 1.0) ** (-alpha / 2)) @ _rotation(d).T + shift


def geometric(n: int, d: int, decades: float, seed: int) -> np.ndarray:
    """Population eigenvalues spread evenly over `decades` orders of magnitude."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    return (z * 10.0 ** (-decades * np.arange(d) / (d - 1) / 2)) @ _rotation(d).T + 3.0


def low_rank_plus_noise(n: int, d: int, rank: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = np.random.default_rng(99).standard_normal((rank, d))
    return rng.standard_normal((n, rank)) @ basis + noise * rng.standard_normal((n, d)) + 1.0


def student_t(n: int, d: int, dof: float, seed: int) -> np.ndarray:
    """Heavy tails: with dof = 2.5 the population variance is finite but a few samples dominate."""
    mixing = np.random.default_rng(98).standard_normal((d, d)) / np.sqrt(d)
    return np.random.default_rng(seed).standard_t(dof, (n, d)) @ mixing


def near_duplicates(x: np.ndarray, replace: int, fresh: np.ndarray) -> np.ndarray:
    """A copy of x with its first `replace` samples swapped for fresh ones: a tiny distance, large traces."""
    y = x.copy()
    y[:replace] = fresh[:replace]
    return y


def assert_exact(x1: np.ndarray, x2: np.ndarray) -> None:
    """From the features and from stored (mean, covariance): both against `exact_fid` (module doc)."""
    reference = exact_fid(x1, x2)
    assert _relative(frechet_distance_features(x1, x2), reference) <= EXACT
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    assert _relative(frechet_distance(m1, c1, m2, c2), reference) <= EXACT
    for x, m, c in ((x1, m1, c1), (x2, m2, c2)):
        if x.shape[0] <= x.shape[1]:  # rank-deficient stored covariance: the threshold keeps the n − 1 directions
            assert factor_from_covariance(m, c).factor.shape[0] == x.shape[0] - 1


# ---------------------------------------------------------------- exactness


def _small_near_duplicates() -> tuple[np.ndarray, np.ndarray]:
    x = geometric(40, 12, 12, 1)
    return x, near_duplicates(x, 1, geometric(1, 12, 12, 5))


SMALL_CASES = {
    "geometric, 12 decades, n > d": lambda: (geometric(40, 12, 12, 1), geometric(33, 12, 12, 2)),
    "geometric, 12 decades, n <= d": lambda: (geometric(10, 24, 12, 1), geometric(14, 24, 12, 2)),
    "near duplicates": _small_near_duplicates,
    "low rank plus noise": lambda: (low_rank_plus_noise(40, 12, 3, 1e-4, 1), low_rank_plus_noise(33, 12, 3, 1e-4, 2)),
    "low rank against isotropic": lambda: (
        low_rank_plus_noise(40, 12, 3, 1e-6, 1), np.random.default_rng(3).standard_normal((33, 12))
    ),
    "student t": lambda: (student_t(40, 12, 2.5, 1), student_t(33, 12, 2.5, 2)),
}


@pytest.mark.parametrize("case", SMALL_CASES)
def test_exact_against_50_digit_arithmetic(case):
    """Small adversarial cases: the float64 reference, the feature path and the stored-covariance path."""
    x1, x2 = SMALL_CASES[case]()
    (mp_m1, mp_c1), (mp_m2, mp_c2) = mp_stats(x1), mp_stats(x2)
    from_samples = mp_fid(mp_m1, mp_c1, mp_m2, mp_c2)
    assert _relative(exact_fid(x1, x2), from_samples) <= 1e-11  # the reference used on the larger cases
    assert _relative(frechet_distance_features(x1, x2), from_samples) <= EXACT
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    if x1.shape[0] > x1.shape[1]:
        from_stored = mp_fid(_mp(m1), _mp(c1), _mp(m2), _mp(c2))  # the stored float64 matrices, exactly
        assert _relative(frechet_distance(m1, c1, m2, c2), from_stored) <= EXACT
    else:
        assert _relative(frechet_distance(m1, c1, m2, c2), from_samples) <= EXACT
        assert factor_from_covariance(m1, c1).factor.shape[0] == x1.shape[0] - 1


@pytest.mark.parametrize("alpha", [1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("n,d", [(500, 512), (556, 512), (2225, 256), (5000, 256)])
def test_power_law_spectra(alpha, n, d):
    """λᵢ ∝ i^-α; two independent sample sets, so the distance is sampling noise, small against the traces."""
    assert_exact(power_law(n, d, alpha, seed=1), power_law(n, d, alpha, seed=2))


def test_low_rank_plus_noise():
    """Rank 20 signal plus 1e-3 noise in d = 256, 3000 against 2500 samples (the audit's case)."""
    assert_exact(low_rank_plus_noise(3000, 256, 20, 1e-3, seed=1), low_rank_plus_noise(2500, 256, 20, 1e-3, seed=2))


@pytest.mark.parametrize("n,d,replace", [(3000, 256, 60), (400, 512, 8)])
def test_near_duplicate_sets(n, d, replace):
    """Two sets sharing 98 % of their samples: traces ~10⁴ times the distance."""
    x = power_law(n, d, 2.0, seed=3)
    assert_exact(x, near_duplicates(x, replace, power_law(replace, d, 2.0, seed=4)))


@pytest.mark.parametrize("n1,n2,d", [(3000, 2500, 256), (300, 400, 512)])
def test_heavy_tailed_features(n1, n2, d):
    assert_exact(student_t(n1, d, 2.5, seed=1), student_t(n2, d, 2.5, seed=2))


def test_low_rank_against_isotropic_from_samples():
    """One covariance nearly singular where the other is not: exact from the samples (QR, no XᵀX)."""
    x1, x2 = low_rank_plus_noise(3000, 256, 20, 1e-6, seed=1), np.random.default_rng(3).standard_normal((2500, 256))
    reference = exact_fid(x1, x2)
    assert _relative(frechet_distance_features(x1, x2), reference) <= EXACT
    a = FeatureStats.from_features(x1, {"name": "t"}, "a")
    b = FeatureStats.from_features(x2, {"name": "t"}, "b")
    assert _relative(frechet_distance_factors(a.factor(), b.factor()), exact_fid(a.features, b.features)) <= EXACT


@pytest.mark.parametrize("n,d,alpha", [(500, 512, 3.0), (2225, 256, 2.0)])
def test_feature_stats_round_trip(tmp_path, n, d, alpha):
    """Saved and reloaded statistics (float32 features) give the exact distance of those features."""
    for name, seed in (("a", 1), ("b", 2)):
        FeatureStats.from_features(power_law(n, d, alpha, seed), {"name": "t"}, name).save(tmp_path / f"{name}.npz")
    a, b = FeatureStats.load(tmp_path / "a.npz"), FeatureStats.load(tmp_path / "b.npz")
    reference = exact_fid(a.features, b.features)
    assert _relative(frechet_distance_factors(a.factor(), b.factor()), reference) <= EXACT
    assert _relative(frechet_distance(a.mean, a.cov, b.mean, b.cov), reference) <= EXACT


# ---------------------------------------------------------------- pytorch-fid and special cases


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
    assert _relative(from_features, exact_fid(x1, x2)) <= EXACT
    assert _relative(from_covariances, from_features) <= EXACT


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


def test_rounding_tolerance_follows_the_stored_precision(features):
    """A rank-deficient covariance stored as float32 has float32 noise in its null space: dropped as such,
    while the same numbers claimed as float64 are rejected (their noise is far beyond float64 rounding)."""
    x1, x2 = features(40, 128, seed=12), features(50, 128, seed=13, shift=0.7)
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    c1_32 = c1.astype(np.float32)
    assert factor_from_covariance(m1, c1_32).factor.shape[0] == 39  # the 39 genuine directions, no noise
    assert _relative(frechet_distance(m1, c1_32, m2, c2), exact_fid(x1, x2)) <= 1e-5  # float32 storage
    with pytest.raises(ValueError, match="not positive semi-definite"):
        factor_from_covariance(m1, c1_32.astype(np.float64))


@pytest.mark.parametrize("n1,n2,d", [(30, 300, 64), (300, 30, 64), (40, 50, 64), (100, 120, 32)])
def test_feature_and_covariance_paths_agree_for_any_sizes(features, n1, n2, d):
    x1, x2 = features(n1, d, seed=5), features(n2, d, seed=6, shift=0.7)
    (m1, c1), (m2, c2) = mean_and_covariance(x1), mean_and_covariance(x2)
    via_features = frechet_distance_features(x1, x2)
    assert _relative(via_features, exact_fid(x1, x2)) <= EXACT
    assert _relative(frechet_distance(m1, c1, m2, c2), via_features) <= EXACT
    assert _relative(frechet_distance_features(x2, x1), via_features) <= 1e-12  # symmetric
    mixed = frechet_distance_factors(factor_from_stats(m1, c1, x1), factor_from_covariance(m2, c2))
    assert _relative(mixed, via_features) <= EXACT


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
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(8), np.full((8, 8), np.nan), np.zeros(8), np.eye(8))
    with pytest.raises(ValueError, match="not positive semi-definite"):
        frechet_distance(np.zeros(8), -np.eye(8), np.zeros(8), np.zeros((8, 8)))
    inconsistent = GaussianFactor(np.zeros(8), np.eye(8), trace=0.0)  # tr C = 0 but C = I: not a covariance
    with pytest.raises(ArithmeticError, match="negative"):
        frechet_distance_factors(inconsistent, inconsistent)
