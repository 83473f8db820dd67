"""Aspect-preserving geometry and antialiased resizing."""

from __future__ import annotations

import numpy as np

from deeppc.data import geometry


def _disk(h: int, w: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 <= radius**2).astype(np.float32)


def _extent(mask: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def test_a_circle_stays_a_circle_in_portrait_and_landscape():
    for h, w in [(400, 200), (200, 400), (300, 300)]:
        out = geometry.square_thumbnail(_disk(h, w, 90), 64)
        assert out.shape == (64, 64)
        height, width = _extent(out > 0.5)
        assert abs(height - width) <= 1, (h, w, height, width)


def test_padding_uses_the_background_and_keeps_content_centred():
    image = np.full((100, 300), 0.8, dtype=np.float32)
    image[40:60, 140:160] = 0.1
    square = geometry.pad_to_square(image)
    assert square.shape == (300, 300)
    assert np.all(square[:100] == 0.8) and np.all(square[200:] == 0.8)  # background value, not black
    np.testing.assert_array_equal(square[100:200], image)


def test_resize_is_antialiased():
    checker = (np.indices((512, 512)).sum(axis=0) % 2).astype(np.float32)
    out = geometry.resize(checker, 64)
    assert abs(out.mean() - 0.5) < 0.01 and out.std() < 0.02  # no aliasing pattern survives


def test_to_uint8_rounds_and_clips():
    np.testing.assert_array_equal(geometry.to_uint8(np.array([-0.1, 0.0, 0.5, 1.0, 1.2])), [0, 0, 128, 255, 255])


def test_fit_within_keeps_aspect():
    assert geometry.fit_within((1000, 500), 256) == (256, 128)
    assert geometry.fit_within((100, 50), 256) == (100, 50)
