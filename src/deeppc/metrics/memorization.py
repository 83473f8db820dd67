"""Memorization: are generated images closer to training images than new real images are?

For every generated image g the nearest training image is found, in a feature
space (the extractor's) and in pixel space, giving distances d(g, train).

Calibration uses the holdout split, real images the generator never saw: for
each holdout image h, d(h, train) is its nearest-neighbour distance to the
training set. That is how close a genuinely new image from the same
distribution lands to the training set. With τ_q the q-quantile (numpy's
default linear interpolation) of the holdout distances,

    mem_fraction = #{g : d(g, train) < τ_q} / #generated.

If generated images were as novel as real unseen images, mem_fraction would be
about q (`mem_quantile`, default 0.05); a value well above q means generated
images sit closer to training images than unseen real ones do, i.e. copies or
near-copies. τ_q is itself estimated from the holdout set, so with a small
holdout (say under 100 images) the fraction is coarse; scores warn about that.

Pixel distances are root-mean-square differences on the [-1, 1] model scale
after area-averaging both images to `pixel_size` (so 0 is identical and 2 is
black against white), which keeps the search cheap and ignores single-pixel
noise. The closest pairs are saved as an image for a person to judge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

from deeppc.data.imageset import uint8_to_unit
from deeppc.files import save_png
from deeppc.metrics.prdc import squared_distances

_BLOCK = 1024


@dataclass(frozen=True)
class SpaceResult:
    """Nearest-neighbour distances and the calibrated fraction in one space."""

    threshold: float
    fraction: float
    nn_distance: np.ndarray = field(repr=False)
    nn_index: np.ndarray = field(repr=False)
    holdout_nn_distance: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class Memorization:
    quantile: float
    feature: SpaceResult
    pixel: SpaceResult | None

    def summary(self) -> dict[str, float]:
        """Flat float metrics for a score file."""
        out = {"mem_quantile": self.quantile, **_space_summary("feature", self.feature)}
        out["mem_fraction"] = out.pop("mem_fraction_feature")
        if self.pixel is not None:
            out.update(_space_summary("pixel", self.pixel))
        return out

    def closest_pairs(self, n_pairs: int) -> list[dict]:
        """The `n_pairs` generated images nearest a training image in feature space, nearest first."""
        order = np.argsort(self.feature.nn_distance, kind="stable")[:n_pairs]
        pairs = []
        for g in order:
            pair = {
                "generated": int(g),
                "train_feature": int(self.feature.nn_index[g]),
                "feature_distance": float(self.feature.nn_distance[g]),
            }
            if self.pixel is not None:
                pair["train_pixel"] = int(self.pixel.nn_index[g])
                pair["pixel_distance"] = float(self.pixel.nn_distance[g])
            pairs.append(pair)
        return pairs


def _space_summary(space: str, result: SpaceResult) -> dict[str, float]:
    return {
        f"mem_fraction_{space}": result.fraction,
        f"mem_threshold_{space}": result.threshold,
        f"mem_{space}_nn_median": float(np.median(result.nn_distance)),
        f"mem_holdout_{space}_nn_median": float(np.median(result.holdout_nn_distance)),
    }


def nearest_neighbours(queries: np.ndarray, refs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance from each query row to its nearest reference row, and that row's index."""
    queries = np.asarray(queries, dtype=np.float64)
    refs = np.asarray(refs, dtype=np.float64)
    if len(refs) == 0:
        raise ValueError("nearest neighbours need at least one reference sample")
    centre = refs.mean(axis=0)  # translation invariance; smaller norms, smaller rounding error
    queries, refs = queries - centre, refs - centre
    distance = np.empty(len(queries))
    index = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), _BLOCK):
        d2 = squared_distances(queries[start : start + _BLOCK], refs)
        best = d2.argmin(axis=1)
        index[start : start + len(best)] = best
        distance[start : start + len(best)] = np.sqrt(d2[np.arange(len(best)), best])
    return distance, index


def calibrated_space(
    generated: np.ndarray, train: np.ndarray, holdout: np.ndarray, quantile: float
) -> SpaceResult:
    """Nearest-training-image distances of generated samples, thresholded by the holdout quantile."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"memorization quantile must be in (0, 1), got {quantile}")
    if len(holdout) == 0 or len(generated) == 0:
        raise ValueError("memorization needs at least one generated and one holdout image")
    holdout_nn, _ = nearest_neighbours(holdout, train)
    threshold = float(np.quantile(holdout_nn, quantile))
    distance, index = nearest_neighbours(generated, train)
    return SpaceResult(threshold, float((distance < threshold).mean()), distance, index, holdout_nn)


def pixel_vectors(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 (N, H, W) -> (N, size²) float64 whose Euclidean distances are RMS differences on [-1, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    small = np.stack([_area_resize(im, size) for im in images]) if len(images) else np.zeros((0, size, size))
    return uint8_to_unit(small).reshape(len(images), -1).astype(np.float64) / size


def _area_resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape == (size, size):
        return image.astype(np.float32)
    # BOX resampling on a float image is area averaging: no rounding back to 8 bits
    resized = Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), Image.Resampling.BOX)
    return np.asarray(resized, dtype=np.float32)


def memorization(
    generated_features: np.ndarray,
    train_features: np.ndarray,
    holdout_features: np.ndarray,
    *,
    quantile: float = 0.05,
    generated_images: np.ndarray | None = None,
    train_images: np.ndarray | None = None,
    holdout_images: np.ndarray | None = None,
    pixel_size: int = 64,
) -> Memorization:
    """Feature-space (and, when images are given, pixel-space) memorization, calibrated on holdout."""
    feature = calibrated_space(generated_features, train_features, holdout_features, quantile)
    pixel = None
    images = (generated_images, train_images, holdout_images)
    if any(im is not None for im in images):
        if any(im is None for im in images):
            raise ValueError("pixel-space memorization needs generated, train and holdout images")
        vectors = [pixel_vectors(im, pixel_size) for im in images]
        pixel = calibrated_space(*vectors, quantile)
    return Memorization(quantile, feature, pixel)


def pairs_grid(
    result: Memorization,
    generated_images: np.ndarray,
    train_images: np.ndarray,
    n_pairs: int = 16,
    tile: int = 128,
    per_row: int = 4,
) -> np.ndarray:
    """A uint8 grid of the closest pairs, `per_row` to a row, each a group of tiles
    (generated | nearest train by features | by pixels), groups separated by a wider gap."""
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs}")
    pairs = result.closest_pairs(n_pairs)
    columns = 3 if result.pixel is not None else 2
    gap, group_gap = 4, 16
    group_width = columns * tile + (columns - 1) * gap
    across = min(per_row, len(pairs))
    rows = -(-len(pairs) // across)
    grid = Image.new("L", (across * group_width + (across - 1) * group_gap, rows * (tile + gap)), 255)
    for index, pair in enumerate(pairs):
        tiles = [
            (generated_images[pair["generated"]], f"gen {pair['generated']}"),
            (train_images[pair["train_feature"]], f"feat {pair['train_feature']} d={pair['feature_distance']:.3g}"),
        ]
        if columns == 3:
            label = f"pix {pair['train_pixel']} d={pair['pixel_distance']:.3g}"
            tiles.append((train_images[pair["train_pixel"]], label))
        x0, y = (index % across) * (group_width + group_gap), (index // across) * (tile + gap)
        for col, (image, label) in enumerate(tiles):
            grid.paste(_labelled_tile(image, label, tile), (x0 + col * (tile + gap), y))
    return np.asarray(grid)


def _labelled_tile(image: np.ndarray, label: str, tile: int) -> Image.Image:
    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((tile, tile), Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, tile - 12, tile, tile), fill=0)
    draw.text((2, tile - 12), label, fill=255)
    return im


def save_pairs_grid(
    path: str | os.PathLike,
    result: Memorization,
    generated_images: np.ndarray,
    train_images: np.ndarray,
    n_pairs: int = 16,
) -> None:
    """Write the closest-pairs grid as a PNG, atomically."""
    save_png(path, pairs_grid(result, generated_images, train_images, n_pairs))
