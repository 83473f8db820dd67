"""Deterministic train/holdout split that keeps a patient (or study) on one side.

Groups (patients, falling back to studies, then single files; near-duplicate
images are merged into one group) are ordered by a hash of the seed and the
group key, and taken into the holdout until it reaches its share of images.
The order depends only on (seed, key), so adding a patient moves no other
patient across the split.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

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


def image_groups(manifest: str | Path, images: Sequence[Path], what: str = "image") -> np.ndarray:
    """The split's group of each image (patient, else study, else the file), found by file name in the manifest.

    Raises ValueError naming the manifest and the first images it has no row for (`what`: their kind).
    """
    import pandas as pd

    from deeppc.validate import input_file, reading

    path = input_file(manifest, "data stage manifest (data/manifest.csv)")
    with reading(path, "data stage manifest (output, patient_key, sha256 columns)",
                 (pd.errors.ParserError, pd.errors.EmptyDataError, KeyError)):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        study = table["study_key"] if "study_key" in table else ""  # older manifests have no study column
        key = table["patient_key"].where(table["patient_key"] != "", study)
        key = key.where(key != "", table["sha256"])
        by_name = dict(zip(table["output"].map(lambda p: Path(p).name), key))
    missing = [p.name for p in images if p.name not in by_name]
    if missing:
        raise ValueError(f"{path}: no manifest row for {what}(s) {', '.join(missing[:3])}")
    return np.asarray([by_name[p.name] for p in images])
