"""Consistency audit flags on controlled images (one defect at a time)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deeppc.data.audit import audit


def _limb(h: int = 240, w: int = 200, seed: int = 0) -> np.ndarray:
    """A noisy dark field with a bright diagonal limb crossing two edges, display domain."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w] / np.array([h, w])[:, None, None]
    distance = np.abs((yy - 0.1) - 0.9 * (xx - 0.05)) / np.hypot(1, 0.9)
    limb = np.clip(1 - distance / 0.12, 0, 1) ** 0.5 * 0.7
    return np.clip(limb + 0.04 + rng.normal(0, 0.015, (h, w)), 0, 1).astype(np.float32)


def _raw(display: np.ndarray, noise: bool = True) -> np.ndarray:
    """Stored values: detector noise everywhere (padding added separately is exactly constant)."""
    rng = np.random.default_rng(1)
    raw = display * 3000 + (rng.normal(0, 20, display.shape) if noise else 0) + 200
    return np.clip(raw, 0, 4095).astype(np.uint16)


def _flags(display, raw=None):
    return audit(display, _raw(display) if raw is None else raw).flags


def test_a_clean_radiograph_has_no_flags():
    assert _flags(_limb()) == []


def test_dark_air_is_not_a_black_frame():
    image = _limb()
    image[:, :30] = 0.0  # air clipped to black by the window, but stored values still noisy
    assert "black_border" not in _flags(image)


def test_padded_black_frame():
    image = _limb()
    raw = _raw(image)
    image[:12], raw[:12] = 0.0, 0  # exact constant padding from a re-export
    assert "black_border" in _flags(image, raw)


def test_white_border():
    image = _limb()
    image[:, -15:] = 1.0
    assert _flags(image) == ["white_border"]


def test_inverted():
    assert "inverted" in _flags(1.0 - _limb())


def test_shrunk_and_empty():
    small = np.full((240, 200), 0.04, dtype=np.float32)
    small[80:160, 60:130] = 0.5  # anatomy in a small part of a large field
    small += np.random.default_rng(2).normal(0, 0.01, small.shape).astype(np.float32)
    assert "shrunk" in _flags(np.clip(small, 0, 1))
    empty = np.clip(0.04 + np.random.default_rng(3).normal(0, 0.01, (240, 200)), 0, 1).astype(np.float32)
    assert "mostly_empty" in _flags(empty)


def test_cropped_content_fills_the_field():
    crop = np.clip(_limb(480, 400)[120:360, 100:300] * 0 + 0.5, 0, 1)  # anatomy edge to edge
    crop += np.random.default_rng(4).normal(0, 0.02, crop.shape).astype(np.float32)
    assert "cropped" in _flags(crop)


def test_rotated_with_padded_corners():
    image = _limb()
    raw = _raw(image)
    rotated_raw = np.asarray(Image.fromarray(raw.astype(np.int32)).rotate(17, resample=Image.Resampling.NEAREST, fillcolor=0))
    rotated = np.asarray(Image.fromarray(image).rotate(17, resample=Image.Resampling.BILINEAR, fillcolor=0.0))
    assert "rotated" in audit(rotated, rotated_raw.astype(np.uint16)).flags


@pytest.mark.parametrize("seed", range(5))
def test_measures_are_recorded(seed):
    result = audit(_limb(seed=seed), _raw(_limb(seed=seed)))
    for key in ("white_border_depth", "black_border_depth", "foreground_share", "bbox_share", "edge_max", "padded_corners"):
        assert key in result.measures
    assert 0.05 < result.measures["foreground_share"] < 0.8
