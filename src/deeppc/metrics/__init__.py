"""The metrics stage: feature extractors, Fréchet distance, KID, precision/recall, memorization.

Importing this package does not import torch; only building a network
extractor does. Entry points:

* `deeppc.metrics.api.score_features` / `score_images` / `score_folders`
* `deeppc.metrics.extractors.create(name, weights, device)` and `register`
* `deeppc.metrics.stats_cache.FeatureStats` and `stats_for_folder`
* `deeppc.metrics.frechet.frechet_distance` / `frechet_distance_features`
* `deeppc.metrics.weights.resolve` / `fetch`
"""

from deeppc.metrics.api import METRICS, MetricOptions, score_features, score_folders, score_images
from deeppc.metrics.frechet import frechet_distance, frechet_distance_features
from deeppc.metrics.stats_cache import FeatureStats

__all__ = [
    "METRICS",
    "FeatureStats",
    "MetricOptions",
    "frechet_distance",
    "frechet_distance_features",
    "score_features",
    "score_folders",
    "score_images",
]
