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


def batches_per_epoch(n_items: int, batch_size: int, drop_last: bool) -> int:
    """Minibatches in one pass over `n_items` images (a short last batch counts unless dropped)."""
    return n_items // batch_size if drop_last else math.ceil(n_items / batch_size)


def images_seen(iteration: int, n_items: int, batch_size: int, drop_last: bool) -> int:
    """Training images shown to D in iterations 1..`iteration` (only an epoch's last batch is short).

    A pure function of the run's settings and its training-set size, so the
    score and stats stages state training progress (kimg, epochs) exactly
    as the trainer counted it.
    """
    per_epoch_batches = batches_per_epoch(n_items, batch_size, drop_last)
    epochs, position = divmod(iteration, per_epoch_batches)
    per_epoch = per_epoch_batches * batch_size if drop_last else n_items
    return epochs * per_epoch + position * batch_size


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
        self.batches_per_epoch = batches_per_epoch(n_items, batch_size, drop_last)
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
