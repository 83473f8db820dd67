"""Minibatch order as a pure function of (seed, epoch, position).

Epoch e visits the training images in the permutation drawn from
``derive_seed(seed, "epoch", e)``; iteration k (1-based) is position
(k - 1) mod batches_per_epoch of epoch (k - 1) div batches_per_epoch. A
resumed run therefore finds its next batch without replaying anything, and
the order is the same on every device. Like the original DataLoader
(shuffle=True, drop_last=False), the last batch of an epoch may be smaller.
"""

from __future__ import annotations

import math

import numpy as np

from deeppc.seeding import derive_seed


class EpochSampler:
    def __init__(self, n_items: int, batch_size: int, seed: int, drop_last: bool = False) -> None:
        if n_items < 1:
            raise ValueError("no training images")
        if drop_last and n_items < batch_size:
            raise ValueError(f"drop_last with {n_items} images and batch size {batch_size} leaves no batch")
        self.n_items = n_items
        self.batch_size = batch_size
        self.seed = seed
        self.drop_last = drop_last
        self.batches_per_epoch = n_items // batch_size if drop_last else math.ceil(n_items / batch_size)
        self._cached: tuple[int, np.ndarray] | None = None

    def locate(self, iteration: int) -> tuple[int, int]:
        """(epoch, position in epoch), both 0-based, of 1-based `iteration`."""
        return divmod(iteration - 1, self.batches_per_epoch)

    def permutation(self, epoch: int) -> np.ndarray:
        if self._cached is None or self._cached[0] != epoch:
            rng = np.random.default_rng(derive_seed(self.seed, "epoch", epoch))
            self._cached = (epoch, rng.permutation(self.n_items))
        return self._cached[1]

    def indices(self, iteration: int) -> np.ndarray:
        epoch, position = self.locate(iteration)
        start = position * self.batch_size
        return self.permutation(epoch)[start : start + self.batch_size]

    def state(self, iteration: int) -> dict:
        """Where the sampler stands after `iteration` (recorded in the resume state)."""
        epoch, position = self.locate(iteration + 1)
        return {"seed": self.seed, "n_items": self.n_items, "batch_size": self.batch_size,
                "drop_last": self.drop_last, "next_epoch": epoch, "next_position": position}
