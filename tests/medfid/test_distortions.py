"""The appendix A.7 distortions act on pixel arrays as specified, and their strength is monotone."""

from __future__ import annotations

import numpy as np
import pytest

from deeppc.medfid import distortions as d
from deeppc.medfid.validation import _correlate, example_levels


@pytest.fixture
def images() -> np.ndarray:
    gen = np.random.default_rng(0)
    return np.clip(gen.normal(0.5, 0.2, (4, 48, 48)), 0, 1)


def gen() -> np.random.Generator:
    return np.random.default_rng(1)


def test_strength_zero_is_the_clean_image(images):
    for name, level in (("blur", 0), ("blur", 1), ("salt_pepper", 0), ("blocks", 0)):
        np.testing.assert_array_equal(d.distortion(name)(images, level, gen()), images)


def test_gaussian_kernel_follows_opencvs_sigma_rule():
    k = d.gaussian_kernel(5)
    sigma = 0.3 * ((5 - 1) * 0.5 - 1) + 0.8  # 1.1
    expected = np.exp(-(np.arange(-2, 3) ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(k, expected / expected.sum())
    with pytest.raises(ValueError, match="odd"):
        d.gaussian_kernel(4)


def test_blur_keeps_the_mean_and_removes_more_detail_with_larger_kernels(images):
    spread = [d.blur(images, k, gen()).std() for k in (0, 3, 9, 25)]
    assert spread == sorted(spread, reverse=True)
    flat = np.full((1, 20, 20), 0.3)
    np.testing.assert_allclose(d.blur(flat, 9, gen()), flat)  # reflect-101 borders: no dark frame


def test_noise_mean_shifts_pixels_and_clips(images):
    mid = np.full((2, 64, 64), 0.5)
    out = d.noise(mid, 0.2, gen(), sd=0.1)
    assert abs(out.mean() - 0.7) < 0.01 and abs(out.std() - 0.1) < 0.01
    assert d.noise(images, 1.0, gen()).min() >= 0 and d.noise(images, 1.0, gen()).max() <= 1


def test_salt_and_pepper_hits_the_asked_fraction_half_white(images):
    out = d.salt_pepper(np.full((2, 100, 100), 0.5), 0.3, gen())
    hit = out != 0.5
    assert abs(hit.mean() - 0.3) < 0.01 and abs((out[hit] == 1).mean() - 0.5) < 0.03


def test_blocks_black_out_more_with_larger_boxes(images):
    black = [(d.blocks(np.ones((8, 64, 64)), a, gen(), count=5) == 0).mean() for a in (0.01, 0.05, 0.2)]
    assert black == sorted(black) and black[0] > 0
    assert (d.blocks(np.ones((8, 64, 64)), 0.05, gen(), count=5) == 0).mean() <= 5 * 0.05


def test_uint8_round_trip_keeps_the_pixel_contract():
    images = np.random.default_rng(2).integers(0, 256, (2, 16, 16), dtype=np.uint8)
    out = d.apply_uint8(images, "blur", 0, gen())
    assert out.dtype == np.uint8 and np.array_equal(out, images)


def test_exact_spearman_p_for_few_levels():
    perfect = _correlate(np.arange(5.0), np.array([0.0, 1.0, 3.0, 7.0, 9.0]))
    assert perfect["spearman_rho"] == pytest.approx(1.0)
    assert perfect["spearman_p"] == pytest.approx(2 / 120) and perfect["spearman_p_method"] == "exact permutation"
    assert np.isnan(_correlate(np.arange(4.0), np.zeros(4))["spearman_rho"])


def test_example_levels_span_the_sweep():
    assert example_levels([0, 3, 5, 7, 9, 11, 13, 15]) == [0, 5, 11, 15]
    assert example_levels([0, 0.5]) == [0, 0.5]
