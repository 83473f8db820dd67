"""Consistency audit: per-image flags for what the study found hurts GAN training.

The paper (section 5.3, figure 11) traced StyleGAN2's artefacts to a few
inconsistent images being copied into many generated ones: white borders,
content cropped at the edge, shrunk and rotated content. The flags here are
deliberately simple, explainable image statistics; each is stored with the
measurement behind it so a user can check or re-threshold it.

Inputs are the display image (float [0, 1], bone bright, not padded) at
thumbnail size and a strided subsample of the stored values. Uniform bright
border bands (white frames, collimation) are found in the display image;
black frames and padded corners in stored values, where padding is an exact
constant and real air still carries detector noise. Statistics of the
anatomy (foreground share, edges) are taken inside those bands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLAGS = ("white_border", "black_border", "cropped", "inverted", "rotated", "shrunk", "mostly_empty")


@dataclass(frozen=True)
class Thresholds:
    bright: float = 0.9  # display value counted as white
    dark: float = 0.1  # display value counted as black / air
    band_fill: float = 0.95  # share of a border line within band_tol of its median for a uniform band
    band_tol: float = 0.06  # display tolerance for "uniform" (collimation scatter, padding)
    constant_fill: float = 0.98  # share of a border line equal to one stored value for a padded frame
    min_frame: float = 0.015  # frame depth, as a share of the side, that counts
    inverted_bright: float = 0.25  # share of bright pixels (air shown white) for "inverted"
    foreground: float = 0.12  # display value above which a pixel is anatomy, not air
    empty: float = 0.08  # foreground share below which an image is "mostly empty"
    shrunk: float = 0.20  # foreground share below which the anatomy is "shrunk" in its field
    edge_full: float = 0.8  # foreground share of one edge line that means anatomy "cropped" by it
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


def _leading(run: np.ndarray) -> int:
    """Length of the leading run of True values."""
    return int(np.argmin(run)) if not run.all() else len(run)


def _line_stats(display: np.ndarray, t: Thresholds) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per side, each line's median and whether it is uniform (within band_tol of it)."""
    stats = {}
    for side in SIDES:
        lines = _lines(display, side)
        median = np.median(lines, axis=1)
        stats[side] = (median, (np.abs(lines - median[:, None]) <= t.band_tol).mean(axis=1) >= t.band_fill)
    return stats


def _bands(stats: dict, t: Thresholds, inverted: bool) -> dict[str, float]:
    """Depth of uniform, non-dark border bands (collimation, frames) per side, air shown dark."""
    depths = {}
    for side, (median, uniform) in stats.items():
        shown = 1.0 - median if inverted else median
        depths[side] = _leading(uniform & (shown > t.dark)) / len(median)
    return depths


def _white_frames(stats: dict, t: Thresholds) -> dict[str, float]:
    """Depth of white border bands that end in a straight, sharp edge.

    A frame or collimator edge gives way to a darker field within a couple of
    lines; white air in an inverted image gives way to anatomy gradually, the
    next lines staying mostly white, so it is not counted here.
    """
    depths = {}
    for side, (median, uniform) in stats.items():
        depth = _leading(uniform & (median >= t.bright))
        following = median[depth + 1 : depth + 5]  # past the edge's blur
        sharp = following.size > 0 and following.min() < t.bright - 0.3
        depths[side] = depth / len(median) if depth and sharp else 0.0
    return depths


def _constant_frames(raw: np.ndarray, t: Thresholds) -> dict[str, float]:
    depths = {}
    for side in SIDES:
        lines = _lines(raw, side)
        values, counts = np.unique(lines[0], return_counts=True)
        value = values[counts.argmax()]
        depths[side] = _leading((lines == value).mean(axis=1) >= t.constant_fill) / lines.shape[0]
    return depths


def _padded_frames(display: np.ndarray, constant: dict[str, float], t: Thresholds, dark: bool) -> dict[str, float]:
    """Constant stored-value frames that display dark (or bright): padding and saturation, not noisy air."""
    depths = {}
    for side, depth in constant.items():
        lines = _lines(display, side)
        band = lines[: max(1, int(round(depth * lines.shape[0])))].mean()
        shows = band <= t.dark if dark else band >= t.bright
        depths[side] = depth if depth > 0 and shows else 0.0
    return depths


def _trim(image: np.ndarray, depths: dict[str, float], margin: int = 2) -> np.ndarray:
    """Cut the given border depths, plus a `margin` of pixels the resize blurred at their edge."""
    h, w = image.shape
    cut = {s: int(d * (h if s in ("top", "bottom") else w)) + (margin if d > 0 else 0) for s, d in depths.items()}
    inner = image[cut["top"] : h - cut["bottom"], cut["left"] : w - cut["right"]]
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
    constant = _constant_frames(raw, t)
    black = _padded_frames(display, constant, t, dark=True)
    padded_white = _padded_frames(display, constant, t, dark=False)
    stats = _line_stats(display, t)
    white = _white_frames(stats, t)
    m["black_border_depth"] = max(black.values())
    # polarity with frames removed: white air of an inverted image is not a frame
    framed = {s: max(constant[s], white[s]) for s in SIDES}
    inner = _trim(display, framed)
    m["bright_share"] = float(np.mean(inner >= t.bright))
    m["dark_share"] = float(np.mean(inner <= t.dark))
    inverted = m["bright_share"] >= t.inverted_bright and m["bright_share"] > 2 * m["dark_share"]
    m["white_border_depth"] = max(padded_white[s] if inverted else max(white[s], padded_white[s]) for s in SIDES)
    upright = 1.0 - display if inverted else display  # air dark from here on
    bands = _bands(stats, t, inverted)
    m["band_depth"] = max(bands.values())
    content = _trim(upright, {s: max(bands[s], framed[s]) for s in SIDES})
    foreground = content > t.foreground
    m["foreground_share"] = float(foreground.mean())
    m["bbox_share"] = _bbox_share(foreground)
    m["edge_max"] = max(float(_lines(foreground, s)[0].mean()) for s in SIDES)
    corners_free = max(bands.values()) < t.corner / 2 and max(black.values()) < t.corner / 2
    m["padded_corners"] = float(_padded_corners(raw, t)) if corners_free else 0.0
    cropped = m["edge_max"] >= t.edge_full

    checks = {
        "white_border": m["white_border_depth"] >= t.min_frame,
        "black_border": m["black_border_depth"] >= t.min_frame,
        "inverted": inverted,
        "mostly_empty": m["foreground_share"] < t.empty,
        "shrunk": t.empty <= m["foreground_share"] < t.shrunk and not cropped,
        "cropped": cropped,
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
