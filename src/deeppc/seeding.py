"""Seeds: every random choice in a study derives from the config's root seed.

Derived seeds are hashes of (root seed, names), so adding an experiment never
changes the seeds of the others, and a seed can be recomputed from the names
recorded beside a result.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np


def derive_seed(root: int, *names: object) -> int:
    """A 63-bit seed determined by `root` and the ordered `names`."""
    text = "\x1f".join([str(int(root)), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def rng(root: int, *names: object) -> np.random.Generator:
    """A numpy Generator seeded by derive_seed(root, *names)."""
    return np.random.default_rng(derive_seed(root, *names))


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and (if imported) torch global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # data-only installs do not need torch
        return
    torch.manual_seed(seed)
