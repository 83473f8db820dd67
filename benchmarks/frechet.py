"""Fréchet distance: deeppc against pytorch-fid's `calculate_frechet_distance` on the same statistics.

Both start from what a cached statistics file holds: pytorch-fid from the
stored mean and covariance (forming the covariance is not timed for it);
deeppc from `FeatureStats.factor()`, which factors the stored features (the
centred samples when n ≤ d, their QR when n > d; the QR is timed). Also timed:
deeppc from mean and covariance only (the pytorch-fid call signature:
Cholesky, or an eigen factor when rank-deficient). Features are synthetic,
non-negative with a decaying spectrum like Inception pool3 activations.

Accuracy is measured against an exact reference computed from the same
features, independent of both: Σσ of the centred cross-Gram X̃₁X̃₂ᵀ/√((n₁−1)(n₂−1))
by numpy's SVD in float64 (via the thin SVD of X̃₁ when n > d), so no
covariance is formed and nothing is squared (tests/metrics/test_frechet.py
checks that reference against 50-digit arithmetic). Errors are relative to the
distance itself.

    python benchmarks/frechet.py            # d = 2048, n = 100, 500, 5000 (several minutes)
    python benchmarks/frechet.py --quick    # d = 512, n = 100, 1000: a smoke run

BLAS threads are fixed with --threads (default 2) before numpy is imported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (default 2)")
    p.add_argument("--dim", type=int, help="feature dimension (default 2048, quick 512)")
    p.add_argument("--sizes", type=int, nargs="+", help="samples per set (default 100 500 5000, quick 100 1000)")
    p.add_argument("--reps", type=int, help="repetitions, best time kept (default 3, quick 1)")
    return p.parse_args()


ARGS = _args()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import warnings  # noqa: E402

import numpy as np  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402

from deeppc.metrics.frechet import frechet_distance, frechet_distance_factors  # noqa: E402
from deeppc.metrics.stats_cache import FeatureStats  # noqa: E402


def features(n: int, d: int, seed: int, shift: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = np.random.default_rng(0).standard_normal((d, d)) / np.sqrt(d)
    return np.abs((rng.standard_normal((n, d)) / (1.0 + np.arange(d)) ** 0.25) @ mixing + shift).astype(np.float32)


def exact_distance(x1: np.ndarray, x2: np.ndarray) -> float:
    """The float64 reference from the samples (module doc)."""
    x1, x2 = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    a, b = ((x - x.mean(axis=0)) / np.sqrt(len(x) - 1) for x in (x1, x2))
    if a.shape[0] > a.shape[1]:
        _, s, vt = np.linalg.svd(a, full_matrices=False)  # a bᵀ = U (S Vᵀ bᵀ), U orthonormal columns
        a_small = s[:, None] * vt
    else:
        a_small = a
    trace_sqrt = np.linalg.svd(a_small @ b.T, compute_uv=False).sum()
    diff = x1.mean(axis=0) - x2.mean(axis=0)
    return float(diff @ diff + np.sum(a * a) + np.sum(b * b) - 2.0 * trace_sqrt)


def best_time(fn, reps: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(reps):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value


def warm_up() -> None:
    """Start BLAS thread pools and load LAPACK code paths before anything is timed."""
    small = FeatureStats.from_features(features(80, 64, 3, 0.5), {"name": "bench"}, "w")
    calculate_frechet_distance(small.mean, small.cov, small.mean, small.cov)
    frechet_distance_factors(small.factor(), small.factor())
    frechet_distance(small.mean, small.cov, small.mean, small.cov)


def main() -> int:
    d = ARGS.dim or (512 if ARGS.quick else 2048)
    sizes = ARGS.sizes or ([100, 1000] if ARGS.quick else [100, 500, 5000])
    reps = ARGS.reps or (1 if ARGS.quick else 3)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"d={d} threads={ARGS.threads} reps={reps} numpy={np.__version__} load average at start: {load}")
    header = ("n", "pytorch-fid s", "deeppc s", "speedup", "cov-only s", "speedup")
    header += ("err pt-fid", "err deeppc", "err cov")  # relative to the exact distance
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 14, 10, 8, 11, 8, 10, 10, 9))))
    warnings.simplefilter("ignore", DeprecationWarning)  # scipy's notice about pytorch-fid's sqrtm(disp=)
    warm_up()
    for n in sizes:
        a = FeatureStats.from_features(features(n, d, 1, 0.5), {"name": "bench"}, "a")
        b = FeatureStats.from_features(features(n, d, 2, 0.6), {"name": "bench"}, "b")
        t_ref, ref = best_time(lambda: calculate_frechet_distance(a.mean, a.cov, b.mean, b.cov), reps)
        t_ours, ours = best_time(lambda: frechet_distance_factors(a.factor(), b.factor()), reps)
        t_cov, cov = best_time(lambda: frechet_distance(a.mean, a.cov, b.mean, b.cov), reps)
        exact = exact_distance(a.features, b.features)
        errors = (abs(value - exact) / exact for value in (ref, ours, cov))
        print(
            f"{n:>6} {t_ref:>14.3f} {t_ours:>10.4f} {t_ref / t_ours:>7.1f}x {t_cov:>11.3f} {t_ref / t_cov:>7.1f}x"
            + "".join(f" {e:>{w}.1e}" for e, w in zip(errors, (10, 10, 9))),
            flush=True,
        )
    print("load average at end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
