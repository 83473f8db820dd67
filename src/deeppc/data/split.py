"""Deterministic train/holdout split that keeps a patient (or study) on one side.

Groups (patients, falling back to studies, then single files; near-duplicate
images are merged into one group) are ordered by a hash of the seed and the
group key, and taken into the holdout until it reaches its share of images.
The order depends only on (seed, key), so adding a patient moves no other
patient across the split.
"""

from __future__ import annotations

from collections import defaultdict

from deeppc.seeding import derive_seed


def assign(group_of: list[str], holdout_fraction: float, seed: int) -> list[str]:
    """'train' or 'holdout' for each item, given each item's group key."""
    sizes: dict[str, int] = defaultdict(int)
    for key in group_of:
        sizes[key] += 1
    target = round(holdout_fraction * len(group_of))
    holdout: set[str] = set()
    taken = 0
    for key in sorted(sizes, key=lambda k: derive_seed(seed, "split", k)):
        if taken >= target:
            break
        if taken + sizes[key] > target and taken > 0 and len(sizes) > 1:
            continue  # a large group would overshoot; a smaller one later may fit
        holdout.add(key)
        taken += sizes[key]
    return ["holdout" if key in holdout else "train" for key in group_of]


def nested_subset(group_of: list[str], fraction: float, seed: int) -> list[bool]:
    """Which items a `fraction` of them keeps, whole groups (patients) at a time, nested across fractions.

    Groups are taken in the order of a hash of (seed, key) until the kept
    items reach round(fraction * n) (at least one group): one order for every
    fraction, so a smaller subset always lies inside a larger one.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"a subset fraction must be in (0, 1], not {fraction}")
    sizes: dict[str, int] = defaultdict(int)
    for key in group_of:
        sizes[key] += 1
    target = max(1, round(fraction * len(group_of)))
    kept: set[str] = set()
    taken = 0
    for key in sorted(sizes, key=lambda k: derive_seed(seed, "subset", k)):
        if taken >= target:
            break
        kept.add(key)
        taken += sizes[key]
    return [key in kept for key in group_of]
