"""The arms of the utility study and the training set each one sees.

* `real`: the real training patients only, the comparison point of every test;
* `augment`: the same images with classical augmentation;
* `mixed`: real + synthetic images from one experiment, `ratio` × the real count;
* `synthetic_only`: as many synthetic images as there are real ones and nothing
  real (train on synthetic, test on real: the Classification Accuracy Score
  of Ravuri & Vinyals 2019).

Where the synthetic images go (`balance`):

* `balanced`: split equally over the classes that have a generator;
* `minority`: the smallest classes first, until the counts are level, the
  rest split equally: synthetic data used to rebalance a skewed task.

Every arm keeps the real class imbalance of the real part untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deeppc.utility.task import LabelledImages, concat, synthetic_set
from deeppc.validate import InputError

KINDS = ("real", "augment", "mixed", "synthetic_only")
BALANCES = ("balanced", "minority")


@dataclass(frozen=True)
class Arm:
    """One way of building the training set: `kind`, and for synthetic arms the `source` experiment and `ratio`."""

    kind: str
    source: str | None = None
    ratio: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"arm kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (self.kind in ("mixed", "synthetic_only")) != (self.source is not None):
            raise InputError(f"a {self.kind} arm {'needs' if self.source is None else 'takes no'} synthetic source")
        if self.kind == "mixed" and not self.ratio > 0:
            raise InputError(f"a mixed arm needs a synthetic ratio > 0, got {self.ratio!r}")

    @property
    def name(self) -> str:
        """`real`, `augment`, `real+SRC_1x` (real + 1× synthetic from SRC), `SRC_only`; valid file names."""
        if self.kind == "mixed":
            return f"real+{self.source}_{self.ratio:g}x"
        if self.kind == "synthetic_only":
            return f"{self.source}_only"
        return self.kind

    def synthetic_count(self, n_real: int) -> int:
        return round(self.ratio * n_real) if self.kind == "mixed" else n_real if self.kind == "synthetic_only" else 0


def allocate(total: int, real_counts: dict[str, int], available: list[str], balance: str) -> dict[str, int]:
    """How many synthetic images of each class in `available` make up `total`."""
    if balance not in BALANCES:
        raise InputError(f"utility.balance must be one of {', '.join(BALANCES)}, got {balance!r}")
    if not available:
        raise InputError("no class has a synthetic source")
    share = dict.fromkeys(available, 0)
    left = total
    if balance == "minority":  # fill the gap to the largest class, smallest classes first
        top = max(real_counts.values())
        while left > 0 and any(real_counts[c] + share[c] < top for c in available):
            smallest = min(available, key=lambda c: (real_counts[c] + share[c], available.index(c)))
            share[smallest] += 1
            left -= 1
    for i, name in enumerate(available):  # the rest equally; the remainder to the first classes
        share[name] += left // len(available) + (1 if i < left % len(available) else 0)
    return share


def training_set(
    arm: Arm, real: LabelledImages, synthetic: dict[str, np.ndarray] | None, balance: str, seed: int
) -> LabelledImages:
    """The training images of `arm`: real, real + synthetic, or synthetic only.

    `synthetic` maps class names to a pool of generated images of that class,
    at least as many as the arm takes; the images taken are a seeded random
    choice from the pool, so each seed sees its own draw.
    """
    if arm.kind in ("real", "augment"):
        return real
    counts = real.counts()
    pools = {c: synthetic[c] for c in real.classes if synthetic and c in synthetic}
    if arm.kind == "synthetic_only" and set(pools) != set(real.classes):
        missing = sorted(set(real.classes) - set(pools))
        raise InputError(f"arm {arm.name}: synthetic-only training needs every class; no source for {missing}")
    share = allocate(arm.synthetic_count(len(real)), counts, list(pools), balance)
    rng = np.random.default_rng(seed)
    taken = {}
    for name, n in share.items():
        if n > len(pools[name]):
            raise InputError(f"arm {arm.name}: needs {n} synthetic images of class {name}, "
                             f"the source has {len(pools[name])}")  # fmt: skip
        taken[name] = pools[name][rng.choice(len(pools[name]), size=n, replace=False)]
    fake = synthetic_set(taken, real.classes)
    return fake if arm.kind == "synthetic_only" else concat([real, fake])
