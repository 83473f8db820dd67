"""The FID Inception extractor against torch-fidelity's, given the same weights file and images.

The weights are RANDOMLY INITIALISED (deeppc.metrics.inception.random_weights,
He-scaled convolutions and randomised BatchNorm statistics) and saved to a
temporary file; no network is used and the real FID weights are not needed.
Agreement with random weights checks the whole path: weights loading, resize,
scaling, grayscale-to-RGB repeat, BatchNorm folding and layer order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

from deeppc.metrics import extractors
from deeppc.metrics.extractors import extract_features
from deeppc.files import sha256_file
from deeppc.metrics.inception import NAME, InceptionExtractor, load_reference


def _torch_fidelity_features(weights, images: np.ndarray) -> np.ndarray:
    reference = load_reference(weights)
    rgb = torch.from_numpy(images).unsqueeze(1).repeat(1, 3, 1, 1)  # gray repeated to 3 channels
    with torch.no_grad():
        return reference(rgb)[0].double().numpy()


@pytest.fixture(scope="module")
def inception(random_inception_weights) -> InceptionExtractor:
    return extractors.create(NAME, weights=random_inception_weights)


def test_features_match_torch_fidelity(inception, random_inception_weights, gray_images):
    images = gray_images(2, size=64, seed=1)
    ours = extract_features(inception, images, batch_size=1)
    reference = _torch_fidelity_features(random_inception_weights, images)
    assert ours.shape == (2, 2048)
    assert np.abs(reference).max() > 1.0  # random weights keep a useful scale to the last layer
    assert np.abs(ours - reference).max() <= 1e-4


def test_gray_resize_equals_resizing_the_repeated_channels(inception, gray_images):
    """Checked at an upscale and a downscale size: the resize is the only size-dependent step."""
    for size in (48, 320):
        images = gray_images(2, size=size, seed=3)
        ours = inception.preprocess(images)
        rgb = torch.from_numpy(images).unsqueeze(1).repeat(1, 3, 1, 1).float()
        theirs = (interpolate_bilinear_2d_like_tensorflow1x(rgb, size=(299, 299), align_corners=False) - 128) / 128
        assert ours.shape == (2, 1, 299, 299)
        for channel in range(3):
            assert torch.equal(ours[:, 0], theirs[:, channel])


def test_identity_names_the_weights(inception, random_inception_weights):
    identity = inception.identity()
    assert identity["name"] == NAME
    assert identity["weights_sha256"] == sha256_file(random_inception_weights)
    assert inception.identity_hash() == extractors.identity_hash(identity)


def test_weights_are_required_and_never_downloaded(tmp_path):
    with pytest.raises(ValueError, match="weights.inception.path"):
        extractors.create(NAME)
    with pytest.raises(FileNotFoundError):
        extractors.create(NAME, weights=tmp_path / "missing.pth")
