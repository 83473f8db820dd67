"""Consistency audit: per-image flags for what the study found hurts GAN training.

The paper (section 5.3, figure 11) traced StyleGAN2's artefacts to a few
inconsistent images being copied into many generated ones: white borders,
content cropped at the edge, shrunk and rotated content. The flags here are
deliberately simple, explainable image statistics; each is stored with the
measurement behind it so a user can check or re-threshold it.

Inputs are the display image (float [0, 1], bone bright, not padded) at
thumbnail size and a strided subsample of the stored values: frames and
padded corners are found in stored values, where padding is an exact
constant and real background still carries detector noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLAGS = ("white_border", "black_border", "cropped", "inverted", "rotated", "shrunk", "mostly_empty")


@dataclass(frozen=True)
class Thresholds:
    bright: float = 0.9  # display value counted as white
    dark: float = 0.1  # display value counted as black / air
    band_fill: float = 0.95  # share of a border line that must be white for a white frame
    constant_fill: float = 0.98  # share of a border line equal to one stored value for a padded frame
    min_frame: float = 0.015  # frame depth, as a share of the side, that counts
    inverted_bright: float = 0.25  # share of bright pixels (air shown white) for "inverted"
    foreground: float = 0.12  # display value above which a pixel is anatomy, not air
    empty: float = 0.05  # foreground share below which an image is "mostly empty"
    shrunk: float = 0.30  # foreground bounding box share below which content is "shrunk"
    edge_full: float = 0.8  # foreground share of one edge line that means "cropped"
    edge_some: float = 0.3  # ... or this share on three or more edges
    corner: float = 0.15  # corner triangle leg, as a share of the shorter side
    corner_fill: float = 0.9  # share of a corner triangle equal to one stored value


@dataclass
class AuditResult:
    flags: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)


SIDES = ("top", "bottom", "left", "right")


def _lines(image: np.ndarray, side: str) -> np.ndarray:
    """Lines of `image` ordered from the `side` edge inwards (each row is one line)."""
    return {"top": image, "bottom": image[::-1], "left": image.T, "right": image.T[::-1]}[side]


def _depth(mask_lines: np.ndarray, fill: float) -> int:
    """Number of consecutive lines from the edge whose mask share is at least `fill`."""
    full = mask_lines.mean(axis=1) >= fill
    return int(np.argmin(full)) if not full.all() else len(full)


def _white_frames(display: np.ndarray, t: Thresholds) -> dict[str, float]:
    return {s: _depth(_lines(display, s) >= t.bright, t.band_fill) / _lines(display, s).shape[0] for s in SIDES}


def _constant_frames(raw: np.ndarray, t: Thresholds) -> dict[str, float]:
    depths = {}
    for side in SIDES:
        lines = _lines(raw, side)
        values, counts = np.unique(lines[0], return_counts=True)
        value = values[counts.argmax()]
        depths[side] = _depth(lines == value, t.constant_fill) / lines.shape[0]
    return depths


def _black_frames(display: np.ndarray, raw: np.ndarray, t: Thresholds) -> dict[str, float]:
    """Constant stored-value frames that display dark (padding, not noisy air)."""
    depths = {}
    for side, depth in _constant_frames(raw, t).items():
        lines = _lines(display, side)
        band = lines[: max(1, int(round(depth * lines.shape[0])))]
        depths[side] = depth if depth > 0 and band.mean() <= t.dark else 0.0
    return depths


def _trim(image: np.ndarray, depths: dict[str, float]) -> np.ndarray:
    h, w = image.shape
    top, bottom = int(depths["top"] * h), int(depths["bottom"] * h)
    left, right = int(depths["left"] * w), int(depths["right"] * w)
    inner = image[top : h - bottom, left : w - right]
    return inner if inner.size else image


def _padded_corners(raw: np.ndarray, t: Thresholds) -> int:
    h, w = raw.shape
    leg = max(2, int(min(h, w) * t.corner))
    tri = np.add.outer(np.arange(leg), np.arange(leg)) < leg
    count = 0
    for corner in (raw[:leg, :leg], raw[:leg, ::-1][:, :leg], raw[::-1][:leg, :leg], raw[::-1, ::-1][:leg, :leg]):
        values = corner[tri]
        if np.mean(values == corner[0, 0]) >= t.corner_fill:
            count += 1
    return count


def audit(display: np.ndarray, raw: np.ndarray, t: Thresholds = Thresholds()) -> AuditResult:
    """Flag one image; `display` and `raw` are thumbnails of the same unpadded frame."""
    result = AuditResult()
    m = result.measures
    white = _white_frames(display, t)
    black = _black_frames(display, raw, t)
    m["white_border_depth"] = max(white.values())
    m["black_border_depth"] = max(black.values())
    frame = {s: max(white[s], black[s]) for s in SIDES}
    content = _trim(display, frame)

    m["bright_share"] = float(np.mean(content >= t.bright))
    m["dark_share"] = float(np.mean(content <= t.dark))
    inverted = m["bright_share"] >= t.inverted_bright and m["bright_share"] > 2 * m["dark_share"]
    foreground = (content < 1 - t.foreground) if inverted else (content > t.foreground)
    m["foreground_share"] = float(foreground.mean())
    m["bbox_share"] = _bbox_share(foreground)
    edges = [float(_lines(foreground, s)[0].mean()) for s in SIDES]
    m["edge_max"] = max(edges)
    m["edges_touched"] = float(sum(e >= t.edge_some for e in edges))
    corners_free = max(frame.values()) < t.corner / 2
    m["padded_corners"] = float(_padded_corners(raw, t)) if corners_free else 0.0

    checks = {
        "white_border": m["white_border_depth"] >= t.min_frame,
        "black_border": m["black_border_depth"] >= t.min_frame,
        "inverted": inverted,
        "mostly_empty": m["foreground_share"] < t.empty,
        "shrunk": m["foreground_share"] >= t.empty and m["bbox_share"] < t.shrunk,
        "cropped": m["edge_max"] >= t.edge_full or m["edges_touched"] >= 3,
        "rotated": m["padded_corners"] >= 2,
    }
    result.flags = [name for name in FLAGS if checks[name]]
    return result


def _bbox_share(mask: np.ndarray) -> float:
    rows = np.flatnonzero(mask.mean(axis=1) > 0.02)
    cols = np.flatnonzero(mask.mean(axis=0) > 0.02)
    if rows.size == 0 or cols.size == 0:
        return 0.0
    return float((rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1) / mask.size)
