"""Real statistics cache: file format, reuse when unchanged, recomputation when anything changed."""

from __future__ import annotations

import numpy as np
import pytest

from deeppc.files import save_png
from deeppc.metrics.extractors import PixelExtractor
from deeppc.metrics.stats_cache import FeatureStats, image_set_hash, stats_for_folder


class CountingExtractor(PixelExtractor):
    """Pixel features that count how many images went through the network."""

    def __init__(self, size: int = 8) -> None:
        super().__init__(size=size)
        self.seen = 0

    def features(self, batch):
        self.seen += len(batch)
        return super().features(batch)


def test_round_trip_keeps_dtypes_and_values(tmp_path, features):
    stats = FeatureStats.from_features(features(20, 6, seed=1), {"name": "x", "v": 1}, "abc")
    stats.save(tmp_path / "s.npz")
    loaded = FeatureStats.load(tmp_path / "s.npz")
    assert loaded.features.dtype == np.float32 and loaded.cov.dtype == np.float64
    np.testing.assert_array_equal(loaded.features, stats.features)
    np.testing.assert_array_equal(loaded.cov, stats.cov)
    assert (loaded.n, loaded.extractor, loaded.content_hash) == (20, {"name": "x", "v": 1}, "abc")
    assert loaded.cache_key == stats.cache_key


def test_mean_and_covariance_come_from_the_stored_float32_features(features):
    stats = FeatureStats.from_features(features(30, 5, seed=2) + 1e-9, {"name": "x"}, "h")
    stored = stats.features.astype(np.float64)
    np.testing.assert_allclose(stats.mean, stored.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(stats.cov, np.cov(stored, rowvar=False), rtol=1e-12)


def test_folder_statistics_are_reused_until_images_or_extractor_change(tmp_path, gray_images, write_folder):
    folder = write_folder(tmp_path / "real", gray_images(6, size=16))
    cache = tmp_path / "cache" / "real.npz"
    extractor = CountingExtractor()
    first = stats_for_folder(folder, extractor, cache)
    assert extractor.seen == 6 and cache.is_file()
    again = stats_for_folder(folder, extractor, cache)
    assert extractor.seen == 6  # reused, nothing recomputed
    np.testing.assert_array_equal(again.features, first.features)

    save_png(folder / "img-0000.png", np.zeros((16, 16), np.uint8))
    changed = stats_for_folder(folder, extractor, cache)
    assert extractor.seen == 12 and changed.content_hash != first.content_hash

    other = CountingExtractor(size=4)
    assert stats_for_folder(folder, other, cache).feature_dim == 16 and other.seen == 6
    assert FeatureStats.load(cache).feature_dim == 16


def test_content_hash_ignores_names_and_order(tmp_path, gray_images, write_folder):
    images = gray_images(3, size=8)
    a = sorted(write_folder(tmp_path / "a", images).iterdir())
    b = sorted(write_folder(tmp_path / "b", images[::-1]).iterdir())
    assert image_set_hash(a) == image_set_hash(b)
    assert image_set_hash(a) != image_set_hash(a[:2])


def test_rejects_other_files_and_tiny_sets(tmp_path, gray_images, write_folder):
    np.savez(tmp_path / "other.npz", mu=np.zeros(3))
    with pytest.raises(ValueError, match="not a deeppc feature statistics file"):
        FeatureStats.load(tmp_path / "other.npz")
    folder = write_folder(tmp_path / "one", gray_images(1, size=8))
    with pytest.raises(ValueError, match=r"one has 1 PNG image\(s\); at least 2 are needed"):  # names the folder
        stats_for_folder(folder, PixelExtractor())
