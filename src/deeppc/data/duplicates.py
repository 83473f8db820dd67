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
import scipy.fftpack  # noqa: F401  imagehash imports it lazily (0.5 s); import once, before workers fork
from PIL import Image


def pixel_hash(raw: np.ndarray) -> str:
    """sha256 of the stored pixel values, their shape and type."""
    native = np.ascontiguousarray(raw, dtype=raw.dtype.newbyteorder("<"))  # big-endian files: same pixels
    h = hashlib.sha256()
    h.update(f"{native.dtype.str}{native.shape}".encode())
    h.update(memoryview(native).cast("B"))
    return h.hexdigest()


HASH_SIZE = 16  # 256-bit DCT hash: 64 bits cannot tell two similar elbows from one re-export


def perceptual_hash(thumbnail: np.ndarray) -> str:
    """256-bit DCT perceptual hash (imagehash.phash, hash_size=16) of a uint8 thumbnail, as hex."""
    return str(imagehash.phash(Image.fromarray(thumbnail), hash_size=HASH_SIZE))


def near_duplicate_groups(hashes: list[str], max_distance: int) -> list[int]:
    """Group label per hash (the index of its first member): connected components of
    Hamming distance <= max_distance."""
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n:
        words = np.array([np.frombuffer(bytes.fromhex(h), dtype=">u8") for h in hashes]).astype(np.uint64)
        for i in range(n - 1):
            distance = np.bitwise_count(words[i] ^ words[i + 1 :]).sum(axis=1)
            for j in np.flatnonzero(distance <= max_distance) + i + 1:
                root_i, root_j = find(i), find(int(j))
                parent[max(root_i, root_j)] = min(root_i, root_j)
    return [find(i) for i in range(n)]
