"""Sample-size honesty: warnings attached to scores computed from too few images.

The study this project reproduces scored each checkpoint on 10 generated
images. At that size FID is dominated by its small-sample bias (the estimate
of tr (C₁C₂)^{1/2} from a rank-9 covariance), and differences between
checkpoints say more about n than about the generator. Scores therefore record
n and carry these warnings; nothing is refused, so small demos still run.
"""

from __future__ import annotations

STRONG_MIN = 50
PR_MIN = 1000
CALIBRATION_MIN = 100  # calibration images (half the holdout) for the memorisation test
PAPER_NOTE = "the original study's scripts used 10 images per score, which is far too few"


def _strong(metric: str, n: int, what: str) -> str:
    return (
        f"{metric}: only {n} {what} images; the value is dominated by sampling bias and noise "
        f"and is not comparable with scores at other n ({PAPER_NOTE})"
    )


def frechet_warnings(
    metric: str, n_real: int, n_fake: int, feature_dim: int, labels: tuple[str, str] = ("real", "generated")
) -> list[str]:
    out = []
    for n, what in zip((n_real, n_fake), labels):
        if n < STRONG_MIN:
            out.append(_strong(metric, n, what))
        elif n < feature_dim:
            out.append(
                f"{metric}: {n} {what} images < feature dimension {feature_dim}: the covariance is rank "
                f"deficient and the Fréchet distance is biased upward (more so the smaller n); "
                f"compare only scores computed with the same n, or use KID, which is unbiased"
            )
    return out


def kid_warnings(requested_size: int, used_size: int) -> list[str]:
    if used_size < STRONG_MIN:
        return [_strong("kid", used_size, "per-subset")]
    if used_size < requested_size:
        return [
            f"kid: subset size reduced from {requested_size} to {used_size} (the smaller set's size); "
            f"KID stays unbiased but its spread grows as subsets shrink"
        ]
    return []


def pr_warnings(n_real: int, n_fake: int, k: int) -> list[str]:
    out = []
    for n, what in ((n_real, "real"), (n_fake, "generated")):
        if n < STRONG_MIN:
            out.append(_strong("precision/recall", n, what))
        elif n < PR_MIN:
            out.append(
                f"precision/recall: {n} {what} images < {PR_MIN}: k-NN (k={k}) manifolds from few samples "
                f"have inflated radii, which inflates precision and recall; compare only at equal n"
            )
    return out


def memorization_warnings(n_calibration: int, alpha: float, verdict: str) -> list[str]:
    """The copy test calibrates its null flag rate on the calibration half of the holdout: say when that
    half is too small for a verdict, or so small that only a large share of copies can be shown."""
    if verdict == "inconclusive":
        return [
            f"memorization: inconclusive: {n_calibration} calibration images (half the holdout) cannot calibrate "
            f"a flag rate of alpha = {alpha:g} with a useful test; use a larger holdout"
        ]
    if n_calibration < CALIBRATION_MIN:
        return [
            f"memorization: only {n_calibration} calibration images (half the holdout): the null flag rate is "
            f"uncertain, so only a large share of copies can give the verdict 'copying'"
        ]
    return []
