"""Real-image statistics, the reference every checkpoint is scored against (rule real_stats)."""

from __future__ import annotations

from pathlib import Path

from deeppc.metrics import extractors
from deeppc.metrics.stats_cache import FeatureStats, stats_for_folder


def real_statistics(folder: Path, extractor: str, weights: str | Path | None, out: str | Path,
                    batch_size: int, device: str = "cpu") -> FeatureStats:  # fmt: skip
    """Features, mean and covariance of the PNGs in `folder` through the extractor named `extractor`, cached at `out`."""
    net = extractors.create(extractor, weights, device)
    return stats_for_folder(folder, net, out, batch_size)
