"""Feature statistics of an image set, cached in one `.npz` file.

A statistics file holds what every metric needs about a set of images:

    format        "deeppc.featurestats/1"
    mean          float64 (d,)
    cov           float64 (d, d), unbiased (n − 1)
    features      float32 (n, d), one row per image in file-name order
    n             number of images
    extractor     JSON of the extractor identity (name, weights hash, preprocessing)
    content_hash  sha256 of the image set's content (see `image_set_hash`)
    cache_key     sha256 of (content_hash, extractor identity)

Features are stored as float32 because the networks compute in float32: the
float64 values they return are float32 numbers, so nothing is lost, and the
mean and covariance are computed from exactly the stored features.

A real image set's statistics are computed once per (image content,
extractor, preprocessing): `stats_for_folder` reuses a file whose cache key
matches and recomputes (atomically replacing it) when the images, weights or
preprocessing changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from numpy.lib.npyio import NpzFile

from deeppc.data.imageset import list_images, load_uint8, require_images
from deeppc.files import atomic_open, sha256_file
from deeppc.metrics.extractors import Extractor, extract_features, identity_hash
from deeppc.metrics.frechet import GaussianFactor, factor_from_stats, mean_and_covariance
from deeppc.validate import DECODE_ERRORS, InputError, not_empty, reading

log = logging.getLogger(__name__)

FORMAT = "deeppc.featurestats/1"
_KEYS = ("format", "mean", "cov", "features", "extractor", "content_hash")


@dataclass(frozen=True)
class FeatureStats:
    mean: np.ndarray = field(repr=False)
    cov: np.ndarray = field(repr=False)
    features: np.ndarray = field(repr=False)
    extractor: dict
    content_hash: str

    @property
    def n(self) -> int:
        return int(self.features.shape[0])

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def cache_key(self) -> str:
        return cache_key(self.content_hash, self.extractor)

    @classmethod
    def from_features(cls, features: np.ndarray, extractor: dict, content_hash: str) -> "FeatureStats":
        stored = np.asarray(features, dtype=np.float32)
        mean, cov = mean_and_covariance(stored)
        return cls(mean, cov, stored, dict(extractor), content_hash)

    def factor(self) -> GaussianFactor:
        """Factor for the Fréchet distance, from the stored samples (centred when n ≤ d, their QR otherwise)."""
        return factor_from_stats(self.mean, self.cov, self.features)

    def save(self, path: str | os.PathLike) -> None:
        """Write the statistics file atomically."""
        with atomic_open(path, "wb") as fh:
            np.savez(
                fh,
                format=np.array(FORMAT),
                mean=self.mean,
                cov=self.cov,
                features=self.features,
                n=np.array(self.n),
                extractor=np.array(json.dumps(self.extractor, sort_keys=True)),
                content_hash=np.array(self.content_hash),
                cache_key=np.array(self.cache_key),
            )

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureStats":
        """Read a statistics file; a missing, empty, corrupt or wrong-kind file is an InputError naming it."""
        expected = f"a deeppc feature statistics file ({FORMAT}, from `deeppc real-stats`)"
        path = not_empty(path, expected)
        try:
            data = np.load(path, allow_pickle=False)
        except DECODE_ERRORS as exc:  # random bytes, a truncated zip, a text file
            raise InputError(f"{path}: not {expected} (not a numpy .npz archive, or truncated)") from exc
        if not isinstance(data, NpzFile):  # a lone .npy array
            raise InputError(f"{path}: not {expected} (a single numpy array, not an .npz archive)")
        with data, reading(path, expected):
            missing = [key for key in _KEYS if key not in data.files]
            if missing or str(data["format"]) != FORMAT:
                raise InputError(f"{path}: not {expected} (missing {', '.join(missing) or 'its format tag'})")
            stats = cls(
                data["mean"], data["cov"], data["features"], json.loads(str(data["extractor"])),
                str(data["content_hash"]),
            )  # fmt: skip
        d = stats.mean.shape[0] if stats.mean.ndim == 1 else -1
        if d < 1 or stats.cov.shape != (d, d) or stats.features.ndim != 2 or stats.features.shape[1:] != (d,):
            shapes = f"{stats.mean.shape}, {stats.cov.shape}, {stats.features.shape}"
            raise InputError(f"{path}: inconsistent mean, covariance and feature shapes {shapes}")
        return stats


def cache_key(content_hash: str, extractor_identity: dict) -> str:
    return hashlib.sha256(f"{content_hash}\n{identity_hash(extractor_identity)}".encode()).hexdigest()


def image_set_hash(paths: Sequence[str | os.PathLike]) -> str:
    """sha256 over the sorted sha256 digests of the files: content only, independent of names and order."""
    digests = sorted(sha256_file(p) for p in paths)
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def array_hash(images: np.ndarray) -> str:
    """Content hash of in-memory images (e.g. freshly generated ones): shape, dtype and bytes."""
    images = np.ascontiguousarray(images)
    header = f"{images.dtype.str}{images.shape}".encode()
    return hashlib.sha256(header + images.tobytes()).hexdigest()


def compute_stats(
    images: np.ndarray, extractor: Extractor, content_hash: str, batch_size: int = 32, progress: bool = False
) -> FeatureStats:
    """Statistics of in-memory uint8 images (N, H, W)."""
    if len(images) < 2:
        raise ValueError(f"feature statistics need at least 2 images, got {len(images)}")
    features = extract_features(extractor, images, batch_size=batch_size, progress=progress)
    return FeatureStats.from_features(features, extractor.identity(), content_hash)


def stats_for_folder(
    folder: str | os.PathLike,
    extractor: Extractor,
    cache: str | os.PathLike | None = None,
    batch_size: int = 32,
    progress: bool = False,
) -> FeatureStats:
    """Statistics of a PNG folder, read from `cache` when its key matches, else computed (and cached)."""
    paths = list_images(folder)
    require_images(paths, folder, 2)  # a mean and a covariance need two
    content = image_set_hash(paths)
    expected = cache_key(content, extractor.identity())
    if cache is not None and Path(cache).is_file():
        try:
            cached = FeatureStats.load(cache)
        except InputError as exc:  # the cache is an output: an unreadable one is replaced
            log.info("cached statistics unusable (%s); recomputing", exc)
        else:
            if cached.cache_key == expected:
                log.info("using cached feature statistics %s (n=%d)", cache, cached.n)
                return cached
            log.info("cached statistics %s are stale (images or extractor changed); recomputing", cache)
    stats = compute_stats(load_uint8(paths), extractor, content, batch_size, progress)
    if cache is not None:
        stats.save(cache)
    return stats
