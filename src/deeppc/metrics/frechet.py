"""Fréchet distance between Gaussians fitted to two feature sets, exact in float64.

    d² = ‖μ₁ − μ₂‖² + tr C₁ + tr C₂ − 2 tr (C₁C₂)^{1/2}

The trace term, without a d×d matrix square root
------------------------------------------------
For positive semi-definite C₁, C₂ the eigenvalues of C₁C₂ are real and ≥ 0
(they are those of the symmetric C₁^{1/2} C₂ C₁^{1/2}), and the "(C₁C₂)^{1/2}"
of the formula is the square root with those eigenvalues. Write each
covariance through a factor, C = FᵀF with F of shape r×d; since AB and BA have
the same non-zero eigenvalues, λ(C₁C₂) ≐ λ(M Mᵀ) = σ(M)² with M = F₁F₂ᵀ, so

    tr (C₁C₂)^{1/2} = Σᵢ σᵢ(F₁F₂ᵀ)      (the nuclear norm of an r₁×r₂ matrix).

What is computed
----------------
* Factors from samples X (n×d; `factor_from_features`, and `FeatureStats`,
  which keeps its features): with X̃ = (X − x̄)/√(n−1), C = X̃ᵀX̃ exactly.
  n ≤ d: F = X̃, and M = X̃₁X̃₂ᵀ is the centred cross-Gram matrix (n₁×n₂).
  n > d: F = R of the Householder QR X̃ = QR (LAPACK dgeqrf), so RᵀR = X̃ᵀX̃
  without forming XᵀX, which would square the condition number.
  tr C = ‖X̃‖²_F, from the samples.
* Factors from a stored covariance (`frechet_distance`, the pytorch-fid
  signature): F = Lᵀ of its Cholesky factorisation; when Cholesky fails (a
  rank-deficient covariance, n ≤ d), F = diag(√λ) Vᵀ over the eigenpairs with
  λ > τ = d·ε·λ_max, ε the machine epsilon of the stored dtype (2.2e-16 for
  float64). Eigenvalues below −τ are not rounding: a ValueError.
* Σσ(M) from LAPACK's SVD (gesdd, values only) of M itself: nothing is squared
  and nothing is thresholded. (Eigenvalues of MMᵀ, the former fast path, give
  each σᵢ an error of u·σ_max²/σᵢ, u = 1.1e-16 the float64 unit roundoff, and
  √u·σ_max once σᵢ < √u·σ_max; the cut-off that path needed also dropped
  genuine directions: the audit measured FID errors of +8e-4 to +1e-1 on
  n > d statistics.)

Error
-----
Centring, QR, Cholesky, the cross product and the SVD are backward stable in
the factors: the result is the exact trace term of factors F + ΔF with
‖ΔF‖_F ≲ c·u·‖F‖_F (c a modest polynomial in n and d). The nuclear norm is
Lipschitz in each factor (|Σσ(F₁F₂ᵀ) − Σσ((F₁ + Δ)F₂ᵀ)| ≤ ‖Δ‖_F‖F₂‖_F), so
the absolute error of d² is ≲ c·u·(tr C₁ + tr C₂ + ‖μ₁‖² + ‖μ₂‖²), and the
relative error about c·u·κ with κ = (tr C₁ + tr C₂)/d²: small distances
between large covariances are the hardest, for any formula.

Measured against an exact reference (Σσ of the centred cross-Gram by numpy's
float64 SVD, itself within 5e-14 of 50-digit arithmetic on small adversarial
cases; tests/metrics/test_frechet.py), relative to the distance: from samples
at most 9e-12 on power-law spectra λᵢ ∝ i^-α, α ∈ {1, 1.5, 2, 3},
n ∈ {500, 556, 2225, 5000}, d ∈ {256, 512} (κ up to 5e3), 6e-12 on
near-duplicate sets (κ = 4.5e4), ≤ 5e-13 on low rank plus noise and on
Student-t features; at d = 2048 (the audit's cases) 9e-14 (α = 1.5,
n = 2225), 1.5e-12 (α = 2, n = 2225), 1.4e-12 (α = 2, n = 5000), 7e-13 (low
rank plus noise, 3000 vs 2500), where the former code was off by +1.1e-3,
+8.7e-2, +2.1e-1 and +1.9e-5.

A stored covariance is XᵀX rounded, not the samples' covariance. From it the
distance is exact for the stored matrix (within 7e-14 of its 50-digit value,
3e-11 when one covariance is nearly singular). Against the samples the
rounding ΔC of the covariance enters to first order as
½ tr((C₁ # C₂⁻¹) ΔC₂) + (1 ↔ 2), # the matrix geometric mean: harmless when
the covariances are comparable (≤ 6e-12 on all the cases above), amplified
where one is nearly singular in directions where the other is not: rank 20
plus 1e-6 noise against isotropic features is off by 7e-11 at d = 256 and
1e-9 at d = 512 (from the samples: 4e-16). Hence `FeatureStats` factors its
samples, not its covariance.

The threshold τ of the eigen factor removes only rounding noise: a covariance
formed in float64 from n ≤ d samples has null-space eigenvalues of size
≲ 2e-16·λ_max (measured on the test cases; the largest negative one shows
it), far below τ (d·ε = 1.1e-13 at d = 512), while its genuine eigenvalues
there are ≥ 9e-12·λ_max; the tests check that exactly n − 1 directions are
kept. A genuine eigenvalue below τ cannot be told from rounding in the stored
matrix at all; dropping it changes the trace term by at most √(τ·λ_max(C₂)).
This is the accuracy limit of a rank-deficient stored covariance; from samples
there is no threshold.

A distance below 0 can only come from rounding when d² ≈ 0 (identical sets);
it is returned as 0 when its magnitude is under 1e-9 of tr C₁ + tr C₂, and
reported as an error otherwise (it would mean a bug, not a measurement).

Speed against pytorch-fid's `calculate_frechet_distance` (d×d `scipy.linalg.sqrtm`),
benchmarks/frechet.py, d = 2048, one BLAS thread on a loaded 2-core machine
(benchmarks/RESULTS.md): n = 100, 500, 5000 from the stored features 6151×,
459×, 2.8×; from mean and covariance 6.1×, 5.9×, 4.6×. An SVD costs about
twice the symmetric eigenproblem of MMᵀ it replaced (bidiagonalisation, 8d³/3
flops, against tridiagonalisation, 4d³/3), and the QR of n > d samples about
twice forming XᵀX; no exact alternative was found that is cheaper
(polar-decomposition iterations need more flops; a two-stage band reduction
through LAPACK's dgbbrd was slower here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg
from scipy.linalg import blas, lapack

_NEGATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GaussianFactor:
    """Mean, a factor F with C = FᵀF, and tr C of one feature set.

    `triangular` marks a square upper-triangular F (the R of a QR, or Lᵀ of a
    Cholesky factorisation): the cross product of two such factors is then a
    triangular multiply, half the work of a general one.
    """

    mean: np.ndarray
    factor: np.ndarray
    trace: float
    triangular: bool = False


def factor_from_features(features: np.ndarray) -> GaussianFactor:
    """Mean and covariance factor of an n×d feature matrix (n ≥ 2), straight from the samples.

    n ≤ d: the centred, scaled samples; n > d: the R of their thin QR.
    """
    x = _as_matrix(features)
    return _sample_factor(x.mean(axis=0), x)


def factor_from_covariance(mean: np.ndarray, cov: np.ndarray) -> GaussianFactor:
    """Factor a stored covariance: Cholesky when positive definite, else an eigen factor (see module doc)."""
    mean, cov, eps = _stored_statistics(mean, cov)
    trace = float(np.trace(cov))
    try:
        upper = linalg.cholesky(cov, lower=False, check_finite=False)
    except linalg.LinAlgError:
        return GaussianFactor(mean, _eigen_factor(cov, eps), trace)
    return GaussianFactor(mean, upper, trace, triangular=True)


def factor_from_stats(mean: np.ndarray, cov: np.ndarray, features: np.ndarray | None) -> GaussianFactor:
    """Factor for cached statistics: from the stored samples when present, else from the covariance.

    The samples are the data the covariance was rounded from, so the factor
    built from them (centred samples or their QR) is exact where a factor of
    the stored covariance inherits the rounding of XᵀX (see module doc).
    """
    if features is None:
        return factor_from_covariance(mean, cov)
    return _sample_factor(np.asarray(mean, dtype=np.float64).reshape(-1), _as_matrix(features))


def trace_sqrt_product(a: GaussianFactor, b: GaussianFactor) -> float:
    """tr (C_a C_b)^{1/2} = Σ σ(F_a F_bᵀ), the singular values of the unsquared cross factor."""
    if a.factor.shape[0] == 0 or b.factor.shape[0] == 0:
        return 0.0  # a zero covariance (e.g. one repeated image): the product is 0
    return float(_singular_values(_cross_product(a, b)).sum())


def frechet_distance_factors(a: GaussianFactor, b: GaussianFactor) -> float:
    """Fréchet distance between two factored Gaussians."""
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"feature dimensions differ: {a.mean.shape[0]} vs {b.mean.shape[0]}")
    diff = a.mean - b.mean
    value = float(diff @ diff) + a.trace + b.trace - 2.0 * trace_sqrt_product(a, b)
    return _non_negative(value, a.trace + b.trace)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance from means and covariances (the pytorch-fid call signature)."""
    return frechet_distance_factors(factor_from_covariance(mu1, sigma1), factor_from_covariance(mu2, sigma2))


def frechet_distance_features(x1: np.ndarray, x2: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature matrices (n_i × d)."""
    return frechet_distance_factors(factor_from_features(x1), factor_from_features(x2))


def mean_and_covariance(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 mean and unbiased (n − 1) covariance of an n×d feature matrix."""
    x = _as_matrix(features)
    mean = x.mean(axis=0)
    centred = x - mean
    return mean, (centred.T @ centred) / (x.shape[0] - 1)


def _sample_factor(mean: np.ndarray, x: np.ndarray) -> GaussianFactor:
    """Centred samples X̃/√(n−1) when n ≤ d, else the R of their QR; tr C = ‖X̃‖²_F/(n−1) from the samples."""
    n, d = x.shape
    # built transposed, so the n×d result is column-major: LAPACK's QR then works on it in place
    centred = ((x.T - x.mean(axis=0)[:, None]) / np.sqrt(n - 1)).T
    trace = float(np.einsum("ij,ij->", centred, centred))
    if n <= d:
        return GaussianFactor(mean, centred, trace)
    return GaussianFactor(mean, _qr_r(centred), trace, triangular=True)


def _stored_statistics(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Checked float64 mean and symmetrised covariance, and the machine epsilon of the covariance as stored."""
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    stored = np.asarray(cov)
    d = mean.shape[0]
    if stored.shape != (d, d):
        raise ValueError(f"covariance of shape {stored.shape} does not match a mean of length {d}")
    cov = stored.astype(np.float64)
    if not (np.isfinite(cov).all() and np.isfinite(mean).all()):
        raise ValueError("mean or covariance contains NaN or infinite values")
    # rounding can make a stored covariance very slightly asymmetric
    return mean, (cov + cov.T) / 2, _machine_epsilon(stored)


def _qr_r(a: np.ndarray) -> np.ndarray:
    """R (d×d, upper) of the Householder QR of a column-major n×d matrix (n ≥ d), overwriting it."""
    # the wrapper's default workspace (3d) forces LAPACK's unblocked QR, ~4× slower: ask for the optimal one
    lwork, _ = lapack.dgeqrf_lwork(*a.shape)
    qr, _, _, info = lapack.dgeqrf(a, lwork=int(lwork), overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"QR factorisation failed (LAPACK dgeqrf info={info})")
    return np.triu(qr[: a.shape[1]])


def _eigen_factor(cov: np.ndarray, eps: float) -> np.ndarray:
    """F = diag(√λ) Vᵀ over the eigenvalues above the rounding tolerance d·ε·λ_max (see module doc)."""
    values, vectors = np.linalg.eigh(cov)
    tolerance = cov.shape[0] * eps * max(float(values[-1]), 0.0)
    if values[0] < -tolerance:
        raise ValueError(
            f"covariance is not positive semi-definite: eigenvalue {values[0]:.6g} is beyond the rounding "
            f"tolerance {tolerance:.3g} (d·ε·λ_max); is it a covariance, and was it computed in its stored precision?"
        )
    keep = values > tolerance
    return np.sqrt(values[keep])[:, None] * vectors[:, keep].T


def _cross_product(a: GaussianFactor, b: GaussianFactor) -> np.ndarray:
    """F_a F_bᵀ; a triangular multiply when both factors are square upper-triangular."""
    if a.triangular and b.triangular:
        return blas.dtrmm(1.0, a.factor, np.array(b.factor.T, order="F"), side=0, lower=0, overwrite_b=1)
    return a.factor @ b.factor.T


def _singular_values(m: np.ndarray) -> np.ndarray:
    """All singular values of m, from LAPACK's SVD (no squaring, so small ones keep full accuracy)."""
    try:
        return linalg.svd(m, compute_uv=False, check_finite=False, lapack_driver="gesdd")
    except linalg.LinAlgError:  # gesdd's rare convergence failure: the QR-iteration driver
        return linalg.svd(m, compute_uv=False, check_finite=False, lapack_driver="gesvd")


def _machine_epsilon(stored: np.ndarray) -> float:
    """Machine epsilon of the precision the covariance was stored in (float64 unless it came as float32/16)."""
    if np.issubdtype(stored.dtype, np.floating):
        return float(np.finfo(stored.dtype).eps)
    return float(np.finfo(np.float64).eps)


def _as_matrix(features: np.ndarray) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-d array (n, d), got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise ValueError("features contain NaN or infinite values")
    return x


def _non_negative(value: float, scale: float) -> float:
    if value >= 0:
        return value
    if -value <= _NEGATIVE_TOLERANCE * max(scale, np.finfo(np.float64).eps):
        return 0.0
    raise ArithmeticError(f"Fréchet distance came out negative ({value:.6g}); inputs are not valid covariances")
