"""Kernel Inception Distance: unbiased MMD² with a polynomial kernel, averaged over subsets.

    k(x, y) = (γ xᵀy + c)^p,  γ = 1/d, c = 1, p = 3 by default (Bińkowski et al. 2018)

    MMD²_u = Σ_{i≠j} k(xᵢ,xⱼ)/(m(m−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(n(n−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ)/(mn)

This is torch-fidelity's "unbiased" estimator (its `mmd2` with K_XY summed
including the diagonal), generalised to subsets of different sizes. The
reported KID is the mean over `subsets` random subsets of `subset_size` drawn
without replacement from each set, and `kid_std` their population standard
deviation (numpy's default, as torch-fidelity reports it).

Speed: for sets of up to `_FULL_KERNEL_LIMIT` samples the three kernel
matrices are computed once, in float64, and every subset's kernel sums are
read out of them as quadratic forms: with s the 0/1 indicator of a subset,
Σ_{i,j∈s} K_ij = sᵀKs, so all subsets together are one product K·S with the
n×subsets indicator matrix S. torch-fidelity recomputes three m×m×d float32
kernels per subset instead (100 subsets of 1000 at d = 2048: 1.2·10¹² flops).
Measured at n = 2618, d = 2048, 100 subsets of 1000, 2 threads: 1.4 s here
against 7.6 s for torch-fidelity's `kid_features_to_metric`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

_FULL_KERNEL_LIMIT = 5_000  # three float64 n×n matrices: 600 MB at the limit


@dataclass(frozen=True)
class KIDResult:
    mean: float
    std: float
    subsets: int
    subset_size: int


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    """(γ x yᵀ + c)^p with γ = 1/d when not given."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray) -> float:
    """Unbiased MMD² from kernel matrices (diagonals of K_XX and K_YY excluded)."""
    m, n = k_xy.shape
    if m < 2 or n < 2:
        raise ValueError("the unbiased MMD² needs at least 2 samples per set")
    xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(xx + yy - 2.0 * k_xy.sum() / (m * n))


def subset_indices(
    n_x: int, n_y: int, subsets: int, subset_size: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Index pairs for each subset, drawn without replacement within a subset."""
    return [
        (rng.choice(n_x, subset_size, replace=False), rng.choice(n_y, subset_size, replace=False))
        for _ in range(subsets)
    ]


def kid(
    x: np.ndarray,
    y: np.ndarray,
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    rng: np.random.Generator | None = None,
    indices: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
) -> KIDResult:
    """KID between feature sets x (n_x×d) and y (n_y×d).

    `subset_size` is reduced to min(n_x, n_y) when the sets are smaller (the
    caller records the size used). Either `rng` draws the subsets or
    `indices` gives them explicitly (to reproduce another tool's draws).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature matrices must be (n, d) with the same d, got {x.shape} and {y.shape}")
    if indices is None:
        size = min(subset_size, len(x), len(y))
        if rng is None:
            raise ValueError("give either rng or indices for the KID subsets")
        indices = subset_indices(len(x), len(y), subsets, size, rng)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return polynomial_kernel(a, b, degree, gamma, coef0)

    if max(len(x), len(y)) > _FULL_KERNEL_LIMIT:
        # too large for n×n matrices: kernels per subset, as torch-fidelity computes them
        values = np.array([mmd2_unbiased(kernel(x[i], x[i]), kernel(x[i], y[j]), kernel(y[j], y[j]))
                           for i, j in indices])  # fmt: skip
    else:
        values = _subset_mmds(kernel(x, x), kernel(x, y), kernel(y, y), indices)
    return KIDResult(float(values.mean()), float(values.std()), len(values), len(indices[0][0]))


def _subset_mmds(
    k_xx: np.ndarray, k_xy: np.ndarray, k_yy: np.ndarray, indices: Sequence[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Unbiased MMD² of every subset from full kernel matrices, as quadratic forms in indicator vectors."""
    s_x = _indicators(len(k_xx), [ix for ix, _ in indices])
    s_y = _indicators(len(k_yy), [iy for _, iy in indices])
    m = s_x.sum(axis=0)
    n = s_y.sum(axis=0)
    if (m < 2).any() or (n < 2).any():
        raise ValueError("the unbiased MMD² needs at least 2 samples per set")
    xx = np.einsum("is,is->s", s_x, k_xx @ s_x) - np.diagonal(k_xx) @ s_x
    yy = np.einsum("is,is->s", s_y, k_yy @ s_y) - np.diagonal(k_yy) @ s_y
    xy = np.einsum("is,is->s", s_x, k_xy @ s_y)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2.0 * xy / (m * n)


def _indicators(n: int, subsets: Sequence[np.ndarray]) -> np.ndarray:
    """n × len(subsets) matrix counting how often each sample is in each subset."""
    out = np.zeros((n, len(subsets)))
    for column, index in enumerate(subsets):
        np.add.at(out[:, column], np.asarray(index), 1.0)
    return out
