"""Improved precision and recall (Kynkäänniemi et al. 2019): k-NN manifolds in feature space.

Each set's manifold is the union of balls around its samples, the radius of a
sample's ball being the distance to its k-th nearest neighbour within the set
(the (k+1)-th smallest distance counting the sample itself, as torch-fidelity
does, so exact duplicates count as neighbours).

* precision: fraction of generated samples inside the real manifold
  (closer to some real sample than that sample's radius, ties count as inside);
* recall: fraction of real samples inside the generated manifold.

Distances are Euclidean, computed in float64 as ‖a‖² + ‖b‖² − 2aᵀb after
subtracting the mean of both sets (distances are translation invariant, and
the cancellation error of that formula scales with the norms, which then
measure the spread of the features rather than their large common offset).
Distances within identical samples are then at the 1e-8·spread level, far
below any distance between distinct images. torch-fidelity computes the same
quantities with float32 `torch.cdist` on the raw features, where a sample's
distance to itself comes out as large as 0.016 next to nearest-neighbour
distances of ~12 (Inception-like features, d = 2048), so duplicates and
near-ties are decided by rounding; float64 costs about 1.25× its time (1.4 s
against 1.1 s at n = 2618 per set on 2 threads). The fake×real distances are
computed once and serve both precision and recall; work is done in row blocks
so memory stays at block × n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

_BLOCK = 1024


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float
    recall: float
    k: int


def precision_recall(fake: np.ndarray, real: np.ndarray, k: int = 3) -> PrecisionRecall:
    """Precision and recall of generated features `fake` against real features `real`."""
    fake, real = _centred_pair(fake, real)
    for name, x in (("generated", fake), ("real", real)):
        if len(x) <= k:
            raise ValueError(f"precision/recall with k={k} needs more than {k} {name} samples, got {len(x)}")
    real_radius2 = knn_radii_squared(real, k)
    fake_radius2 = knn_radii_squared(fake, k)
    # one pass over the fake×real distances serves both directions
    precise = np.zeros(len(fake), dtype=bool)
    recalled = np.zeros(len(real), dtype=bool)
    for start, d2 in _blocks(fake, real):
        precise[start : start + len(d2)] = (d2 <= real_radius2[None, :]).any(axis=1)
        recalled |= (d2 <= fake_radius2[start : start + len(d2), None]).any(axis=0)
    return PrecisionRecall(float(precise.mean()), float(recalled.mean()), k)


def knn_radii_squared(x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each sample to its k-th nearest other sample in the same set."""
    radii = np.empty(len(x))
    for start, d2 in _blocks(x, x):
        rows = np.arange(d2.shape[0])
        d2[rows, rows + start] = 0.0  # a sample's distance to itself, exactly
        radii[start : start + len(d2)] = np.partition(d2, k, axis=1)[:, k]
    return radii


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances (len(a) × len(b)), clipped at 0."""
    d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d2, 0.0, out=d2)


def _blocks(a: np.ndarray, b: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, len(a), _BLOCK):
        yield start, squared_distances(a[start : start + _BLOCK], b)


def _centred_pair(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature matrices must be (n, d) with the same d, got {x.shape} and {y.shape}")
    centre = np.concatenate([x, y]).mean(axis=0)
    return x - centre, y - centre
