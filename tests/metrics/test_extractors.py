"""Extractor registry and interface: registration, lazy providers, batching, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from deeppc.metrics import extractors
from deeppc.metrics.extractors import PixelExtractor, check_images, extract_features


@pytest.fixture
def clean_registry(monkeypatch):
    monkeypatch.setattr(extractors, "_REGISTRY", dict(extractors._REGISTRY))


def test_builtin_names_are_available():
    import deeppc.medfid  # noqa: F401  the medfid stage registers its extractor explicitly

    names = extractors.available()
    assert {"pixels", "inception-2015-12-05", "medfid"} <= set(names)


def test_register_and_create(clean_registry):
    made = {}

    def factory(weights=None, device="cpu"):
        made.update(weights=weights, device=device)
        return PixelExtractor(size=4)

    extractors.register("tiny", factory)
    extractor = extractors.create("tiny", weights="w.pt", device="cpu")
    assert extractor.feature_dim == 16 and str(made["weights"]) == "w.pt"
    with pytest.raises(ValueError, match="already registered"):
        extractors.register("tiny", factory)
    extractors.register("tiny", factory, replace=True)


def test_unknown_and_unavailable_extractors_are_clear_errors(clean_registry):
    with pytest.raises(ValueError, match="unknown feature extractor 'nope'.*pixels"):
        extractors.create("nope")
    extractors._REGISTRY.pop("medfid", None)
    with pytest.raises(ValueError, match="import deeppc.medfid to register"):
        extractors.create("medfid")


def test_batches_give_the_same_features_as_one_pass(gray_images):
    images = gray_images(7, size=32)
    extractor = PixelExtractor(size=8)
    whole = extractor.features(extractor.preprocess(images))
    np.testing.assert_array_equal(extract_features(extractor, images, batch_size=3), whole)
    assert whole.dtype == np.float64 and whole.shape == (7, 64)


def test_pixel_extractor_area_averages_on_the_model_scale():
    images = np.zeros((1, 8, 8), np.uint8)
    images[:, :, 4:] = 255
    features = PixelExtractor(size=2).features(PixelExtractor(size=2).preprocess(images))
    np.testing.assert_allclose(features, [[-1.0, 1.0, -1.0, 1.0]])


def test_only_uint8_grayscale_stacks_are_accepted():
    with pytest.raises(ValueError, match="uint8 grayscale"):
        check_images(np.zeros((2, 8, 8), np.float32))
    with pytest.raises(ValueError, match="uint8 grayscale"):
        check_images(np.zeros((2, 8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="no weights"):
        extractors.create("pixels", weights="x.pt")
