"""One entry point for all metrics: generated images (or their statistics) against real statistics.

`score_features` takes feature statistics for both sides and returns a flat,
JSON-ready dict: the Fréchet distance under the extractor's key ("fid",
"medfid", ...), "kid"/"kid_std", "precision"/"recall", the "mem_*" values of
the memorisation check (numbers, plus its verdict "mem_verdict" and
"mem_reason"; see deeppc.metrics.memorization), the numbers of images used,
the subset sizes and any sample-size warnings.
`score_images` and `score_folders` extract the features first, with the same
extractor and preprocessing the real statistics were computed with (checked).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from deeppc.data.imageset import load_folder
from deeppc.metrics import samplesize
from deeppc.metrics.extractors import Extractor, identity_hash
from deeppc.metrics.frechet import frechet_distance_factors
from deeppc.metrics.kid import kid
from deeppc.metrics.memorization import memorization, save_pairs_grid
from deeppc.metrics.prdc import precision_recall
from deeppc.metrics.stats_cache import FeatureStats, array_hash, compute_stats, stats_for_folder
from deeppc.seeding import rng

log = logging.getLogger(__name__)

METRICS = ("fid", "kid", "pr", "memorization")


@dataclass(frozen=True)
class MetricOptions:
    """Metric settings; field names match the config's `metrics:` section."""

    kid_subsets: int = 100
    kid_subset_size: int = 1000
    kid_degree: int = 3
    kid_coef0: float = 1.0
    pr_k: int = 3
    mem_alpha: float = 0.05  # conformal level: a generated image is flagged when its p-value is ≤ this
    mem_level: float = 0.01  # the copy test's level: verdict "copying" when its p-value is below this
    mem_pixel_size: int = 64
    mem_pairs: int = 16

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> "MetricOptions":
        """Options from a validated config `metrics:` mapping; keys for other parts of scoring are skipped."""
        section = section or {}
        return cls(**{f.name: section[f.name] for f in fields(cls) if f.name in section})


@dataclass(frozen=True)
class MemorizationReference:
    """Training and holdout sets for memorization; images enable the pixel-space search.

    `holdout_groups` (one key per holdout image, e.g. the patient) keeps a group's
    images in one half of the holdout split; see deeppc.metrics.memorization."""

    train: FeatureStats
    holdout: FeatureStats
    train_images: np.ndarray | None = None
    holdout_images: np.ndarray | None = None
    holdout_groups: np.ndarray | None = None


def parse_metrics(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'fid,kid' or ['fid', 'kid'] -> validated, de-duplicated tuple in the given order."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"unknown metric(s) {unknown or spec!r}; choose from {', '.join(METRICS)}")
    return tuple(dict.fromkeys(names))


def score_features(
    fake: FeatureStats,
    real: FeatureStats,
    metrics: str | Sequence[str],
    *,
    seed: int,
    options: MetricOptions = MetricOptions(),
    frechet_key: str = "fid",
    reference: MemorizationReference | None = None,
    fake_images: np.ndarray | None = None,
    pairs_png: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Requested metrics of generated statistics `fake` against real statistics `real`."""
    metrics = parse_metrics(metrics)
    _same_extractor(fake, real, "generated", "real")
    result: dict[str, Any] = {
        "extractor": real.extractor.get("name"),
        "extractor_identity_sha256": identity_hash(real.extractor),
        "n_real": real.n,
        "n_fake": fake.n,
        "seed": seed,
    }
    warnings: list[str] = []
    if "fid" in metrics:
        result[frechet_key] = frechet_distance_factors(fake.factor(), real.factor())
        warnings += samplesize.frechet_warnings(frechet_key, real.n, fake.n, real.feature_dim)
    if "kid" in metrics:
        result.update(_kid(fake, real, seed, options, warnings))
    if "pr" in metrics:
        pr = precision_recall(fake.features, real.features, k=options.pr_k)
        result.update(precision=pr.precision, recall=pr.recall, pr_k=pr.k)
        warnings += samplesize.pr_warnings(real.n, fake.n, options.pr_k)
    if "memorization" in metrics:
        result.update(_memorization(fake, reference, options, fake_images, pairs_png, warnings))
    result["warnings"] = warnings
    for message in warnings:
        log.warning(message)
    return result


def _kid(fake: FeatureStats, real: FeatureStats, seed: int, options: MetricOptions, warnings: list[str]) -> dict:
    value = kid(
        fake.features, real.features,
        subsets=options.kid_subsets, subset_size=options.kid_subset_size, rng=rng(seed, "kid"),
        degree=options.kid_degree, coef0=options.kid_coef0,
    )  # fmt: skip
    warnings += samplesize.kid_warnings(options.kid_subset_size, value.subset_size)
    return {"kid": value.mean, "kid_std": value.std, "kid_subsets": value.subsets, "kid_subset_size": value.subset_size}


def _memorization(
    fake: FeatureStats,
    reference: MemorizationReference | None,
    options: MetricOptions,
    fake_images: np.ndarray | None,
    pairs_png: str | os.PathLike | None,
    warnings: list[str],
) -> dict:
    if reference is None:
        raise ValueError("memorization needs the training and holdout sets (a MemorizationReference)")
    _same_extractor(fake, reference.train, "generated", "train")
    _same_extractor(fake, reference.holdout, "generated", "holdout")
    with_pixels = fake_images is not None and reference.train_images is not None
    result = memorization(
        fake.features, reference.train.features, reference.holdout.features,
        alpha=options.mem_alpha, level=options.mem_level, pixel_size=options.mem_pixel_size,
        generated_images=fake_images if with_pixels else None,
        train_images=reference.train_images if with_pixels else None,
        holdout_images=reference.holdout_images if with_pixels else None,
        holdout_groups=reference.holdout_groups,
    )  # fmt: skip
    if pairs_png is not None:
        if fake_images is None or reference.train_images is None:
            raise ValueError("saving the closest pairs needs the generated and training images")
        save_pairs_grid(pairs_png, result, fake_images, reference.train_images, options.mem_pairs)
    warnings += samplesize.memorization_warnings(result.test.n_calibration, options.mem_alpha, result.test.verdict)
    return {**result.summary(), "n_train": reference.train.n, "n_holdout": reference.holdout.n}


def _same_extractor(a: FeatureStats, b: FeatureStats, name_a: str, name_b: str) -> None:
    if identity_hash(a.extractor) != identity_hash(b.extractor):
        raise ValueError(
            f"{name_a} and {name_b} statistics come from different extractors or preprocessing: "
            f"{a.extractor} vs {b.extractor}"
        )


def score_images(
    fake_images: np.ndarray,
    real: FeatureStats,
    extractor: Extractor,
    metrics: str | Sequence[str],
    *,
    seed: int,
    options: MetricOptions = MetricOptions(),
    reference: MemorizationReference | None = None,
    pairs_png: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, Any]:
    """Extract features of generated uint8 images (N, H, W) and score them against `real`."""
    fake = compute_stats(fake_images, extractor, array_hash(fake_images), batch_size, progress)
    return score_features(
        fake, real, metrics, seed=seed, options=options, frechet_key=extractor.frechet_key,
        reference=reference, fake_images=fake_images, pairs_png=pairs_png,
    )  # fmt: skip


def load_reference(
    train: str | os.PathLike,
    holdout: str | os.PathLike,
    extractor: Extractor,
    *,
    train_cache: str | os.PathLike | None = None,
    holdout_cache: str | os.PathLike | None = None,
    with_images: bool = True,
    batch_size: int = 32,
) -> MemorizationReference:
    """Train/holdout statistics (cached like real statistics) and, for pixel space, their images."""
    return MemorizationReference(
        train=stats_for_folder(train, extractor, train_cache, batch_size),
        holdout=stats_for_folder(holdout, extractor, holdout_cache, batch_size),
        train_images=load_folder(train) if with_images else None,
        holdout_images=load_folder(holdout) if with_images else None,
    )


def real_statistics(
    real: str | os.PathLike, extractor: Extractor, batch_size: int = 32, progress: bool = False
) -> FeatureStats:
    """Real statistics from a `.npz` statistics file or a PNG folder."""
    path = Path(real)
    if path.is_file():
        stats = FeatureStats.load(path)
        if identity_hash(stats.extractor) != extractor.identity_hash():
            raise ValueError(f"{path} was computed with another extractor: {stats.extractor}")
        return stats
    return stats_for_folder(path, extractor, None, batch_size, progress)


def score_folders(
    real: str | os.PathLike,
    fake: str | os.PathLike,
    extractor: Extractor,
    metrics: str | Sequence[str],
    *,
    seed: int,
    options: MetricOptions = MetricOptions(),
    train: str | os.PathLike | None = None,
    holdout: str | os.PathLike | None = None,
    pairs_png: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a folder of generated PNGs against a real folder or statistics file."""
    metrics = parse_metrics(metrics)
    reference = None
    if "memorization" in metrics:
        if train is None or holdout is None:
            raise ValueError("memorization needs the training and holdout image folders")
        reference = load_reference(train, holdout, extractor, batch_size=batch_size)
    fake_images = load_folder(fake, min_images=2)  # statistics need two; the error names the folder
    result = score_images(
        fake_images, real_statistics(real, extractor, batch_size, progress), extractor, metrics,
        seed=seed, options=options, reference=reference, pairs_png=pairs_png,
        batch_size=batch_size, progress=progress,
    )  # fmt: skip
    return result
