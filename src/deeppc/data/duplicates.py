"""Duplicate detection: identical pixels, and near-duplicates by perceptual hash.

Exact duplicates (same stored pixel values, whatever the header says) would
count one radiograph twice and can leak across the train/holdout split; all
but the first copy are skipped. Near-duplicates (the same exposure exported
twice with another window, a re-scan, a slight crop) are kept but flagged and
kept on one side of the split.
"""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
from PIL import Image


def pixel_hash(raw: np.ndarray) -> str:
    """sha256 of the stored pixel values, their shape and type."""
    native = np.ascontiguousarray(raw, dtype=raw.dtype.newbyteorder("<"))  # big-endian files: same pixels
    h = hashlib.sha256()
    h.update(f"{native.dtype.str}{native.shape}".encode())
    h.update(native.tobytes())
    return h.hexdigest()


def perceptual_hash(thumbnail: np.ndarray) -> int:
    """64-bit DCT perceptual hash (imagehash.phash) of a uint8 thumbnail."""
    bits = imagehash.phash(Image.fromarray(thumbnail)).hash.ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def near_duplicate_groups(hashes: list[int], max_distance: int) -> list[int]:
    """Group label per hash: connected components of Hamming distance <= max_distance."""
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        codes = np.array(hashes, dtype=np.uint64)
        for i in range(n - 1):
            distance = np.bitwise_count(codes[i] ^ codes[i + 1 :])
            for j in np.flatnonzero(distance <= max_distance) + i + 1:
                parent[find(int(j))] = find(i)
    return [find(i) for i in range(n)]
