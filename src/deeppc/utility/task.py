"""The labelled task a classifier learns: images, class labels and the patient of each image.

Two label sources:

* the view (`LAT`, `AP`, ...) the data stage assigned, a task every dataset
  has (the demo uses it);
* a labels CSV keyed by `sha256` (the source file's, as in the manifest) or
  by `path` (the source path as the manifest records it), with a `label`
  column: normal/abnormal, fracture yes/no, MURA's study labels.

Patients stay on one side of every split. The data stage already put each
patient in `train` or `holdout`; the classifier's validation split (for early
stopping) is carved out of `train` by patient with the data stage's own
deterministic split, so the held-out patients are seen only once, at test time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from deeppc import files
from deeppc.data.imageset import load_uint8
from deeppc.data.split import assign
from deeppc.validate import InputError, input_file, reading

SYNTHETIC_GROUP = "synthetic"  # the patient key of generated images: they belong to no patient


@dataclass(frozen=True)
class LabelledImages:
    """uint8 images (N, H, W), integer labels into `classes`, and each image's patient (group) key."""

    images: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if not len(self.images) == len(self.labels) == len(self.groups):
            raise ValueError(f"{len(self.images)} images, {len(self.labels)} labels, {len(self.groups)} groups")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> "LabelledImages":
        return LabelledImages(self.images[mask], self.labels[mask], self.groups[mask], self.classes)

    def counts(self) -> dict[str, int]:
        """Images per class, every class listed (0 when absent)."""
        found = np.bincount(self.labels, minlength=len(self.classes))
        return {name: int(n) for name, n in zip(self.classes, found)}

    def patients(self) -> int:
        return len(set(self.groups.tolist()) - {SYNTHETIC_GROUP})


def concat(parts: Sequence[LabelledImages]) -> LabelledImages:
    """One set from several with the same classes."""
    classes = parts[0].classes
    if any(p.classes != classes for p in parts):
        raise ValueError("cannot join sets with different classes")
    return LabelledImages(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.groups for p in parts]),
        classes,
    )


def synthetic_set(images_by_class: dict[str, np.ndarray], classes: tuple[str, ...]) -> LabelledImages:
    """Generated images, labelled with the class they were generated for."""
    parts = [
        LabelledImages(
            np.asarray(images),
            np.full(len(images), classes.index(name), dtype=np.int64),
            np.full(len(images), SYNTHETIC_GROUP, dtype=object),
            classes,
        )
        for name, images in images_by_class.items()
        if len(images)
    ]
    if not parts:
        raise ValueError("no synthetic images")
    return concat(parts)


def manifest_rows(data_dir: str | Path, labels_csv: str | Path | None = None) -> pd.DataFrame:
    """The manifest's usable rows (status ok, in train or holdout) with a `label` and a `group` column."""
    data_dir = Path(data_dir)
    path = input_file(data_dir / "manifest.csv", "data stage manifest (data/manifest.csv)")
    with reading(path, "the data stage's manifest.csv", (pd.errors.ParserError, pd.errors.EmptyDataError)):
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"status", "split", "output", "view", "sha256", "source", "patient_key"} - set(rows.columns)
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(sorted(missing))}: not a data stage manifest")
    rows = rows[(rows.status == "ok") & rows.split.isin(["train", "holdout"])].copy()
    rows["label"] = rows.view if labels_csv is None else _join_labels(rows, labels_csv)
    rows = rows[rows.label != ""]
    # a patient is the split's unit; files without one fall back to study, then to the file itself
    rows["group"] = [p or s or h for p, s, h in zip(rows.patient_key, rows.get("study_key", ""), rows.sha256)]
    return rows


def _join_labels(rows: pd.DataFrame, labels_csv: str | Path) -> pd.Series:
    path = input_file(labels_csv, "labels CSV (utility.labels)")
    with reading(path, "a labels CSV (sha256 or path, label)", (pd.errors.ParserError, pd.errors.EmptyDataError)):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    key = "sha256" if "sha256" in table.columns else "path" if "path" in table.columns else None
    if key is None or "label" not in table.columns:
        raise InputError(f"{path} needs a 'label' column and a 'sha256' or 'path' column, has {list(table.columns)}")
    if table[key].duplicated().any():
        raise InputError(f"{path}: {key} {table[key][table[key].duplicated()].iloc[0]!r} is listed twice")
    lookup = dict(zip(table[key], table.label))
    manifest_key = rows.sha256 if key == "sha256" else rows.source
    return manifest_key.map(lambda k: lookup.get(k, "")).astype(str)


def load_task(
    data_dir: str | Path, labels_csv: str | Path | None = None, classes: Sequence[str] | None = None,
    size: int | None = None,
) -> dict[str, LabelledImages]:
    """`{'train': ..., 'holdout': ...}` from the data stage's output, labelled by view or by a labels CSV."""
    rows = manifest_rows(data_dir, labels_csv)
    found = sorted(set(rows.label))
    classes = tuple(classes) if classes else tuple(found)
    rows = rows[rows.label.isin(classes)]
    if len(classes) < 2:
        raise InputError(f"the task needs at least 2 classes, found {found} in {data_dir}/manifest.csv")
    sets = {}
    for split in ("train", "holdout"):
        part = rows[rows.split == split]
        images = load_uint8([Path(data_dir) / out for out in part.output], size)
        labels = np.array([classes.index(x) for x in part.label], dtype=np.int64)
        sets[split] = LabelledImages(images, labels, part.group.to_numpy(dtype=object), classes)
        require_every_class(sets[split], f"{split} split of {data_dir}")
    return sets


def write_class_folder(data_dir: str | Path, labels_csv: str | Path, view: str, label: str, out: str | Path) -> dict:
    """Copy the `view` images of class `label` into `out/{train,holdout}` (the data stage's layout): what a GAN
    trained on one class reads. Returns the image count per split."""
    rows = manifest_rows(data_dir, labels_csv)
    rows = rows[(rows.view == view) & (rows.label == label)]
    counts = {split: int((rows.split == split).sum()) for split in ("train", "holdout")}
    if counts["train"] == 0:
        raise InputError(f"no training image of view {view} has class {label!r} in {labels_csv}")
    with files.atomic_folder(out, replace=True) as build:
        for split in ("train", "holdout"):
            (build / split).mkdir()
            for name in rows.output[rows.split == split]:
                files.write_bytes(build / split / Path(name).name, (Path(data_dir) / name).read_bytes())
    return counts


def require_every_class(images: LabelledImages, what: str) -> None:
    """An InputError naming the empty classes of `images`, if any."""
    empty = [name for name, n in images.counts().items() if n == 0]
    if empty:
        raise InputError(f"the {what} has no image of class(es) {', '.join(empty)} ({images.counts()})")


def validation_split(train: LabelledImages, fraction: float, seed: int) -> tuple[LabelledImages, LabelledImages]:
    """(fit, validation): patients of `train` split by the data stage's deterministic patient split.

    Stratified by the classes a patient has (a patient with only `normal`
    images, one with both views, ...), so each class keeps its share.
    """
    side = np.empty(len(train), dtype=object)
    for members in _strata(train).values():  # stratified, so every class reaches the validation side
        side[members] = assign(list(train.groups[members]), fraction, seed)
    fit, val = train.subset(side == "train"), train.subset(side == "holdout")
    require_every_class(val, f"validation split ({fraction:g} of the training patients)")
    require_every_class(fit, "training split left after taking the validation patients")
    return fit, val


def _strata(images: LabelledImages) -> dict[tuple[int, ...], np.ndarray]:
    """Image indices grouped by the set of classes their patient has."""
    classes_of: dict[str, set[int]] = {}
    for group, label in zip(images.groups, images.labels):
        classes_of.setdefault(group, set()).add(int(label))
    keys = [tuple(sorted(classes_of[g])) for g in images.groups]
    return {key: np.flatnonzero([k == key for k in keys]) for key in sorted(set(keys))}
