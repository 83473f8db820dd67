"""Labelled radiographs for the MedFID classifier: readers, class mapping, balanced patient-level split.

Three layouts are read (each gives records of path, body-part label, patient
group):

* MURA-v1.1: `train_image_paths.csv` and `valid_image_paths.csv` (no header,
  one path per line such as
  `MURA-v1.1/train/XR_ELBOW/patient00011/study1_negative/image1.png`, relative
  to the folder above MURA-v1.1). Body part from the `XR_*` folder, patient
  from `patientNNNNN`; MURA's own train/valid folders are pooled and re-split.
* LERA (Stanford AIMI release): `labels.csv` (no header) whose rows start
  with a study folder (relative to the LERA root) and its exam type
  (`XR KNEE`, `XR FOOT`, `XR ANKLE`, `XR HIP`); every image below the study
  folder belongs to the study. The layout carries no patient key, so a study
  is the grouping unit (a patient with two studies could in principle land on
  both sides).
* folders: `<root>/<class>/**/<image>`; an image in a sub-folder belongs to
  the group named by that sub-folder (the same name under two classes is the
  same patient), a file directly in the class folder is its own group.

Labels are normalised (`XR_ELBOW` → `elbow`, `XR FOOT` → `foot`), and the
config's `classes` mapping names the class each label goes to (the paper
merges foot and ankle into one class and drops the hip). The split is by
group: groups in a seeded hash order fill test, then validation, then
training quotas, and within each split and class a seeded sample of exactly
the quota is drawn, so every class is balanced and no patient is on two
sides.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from deeppc.data import dicom, raster
from deeppc.data.geometry import square_thumbnail, to_uint8
from deeppc.files import sha256_bytes, write_text
from deeppc.seeding import derive_seed

SPLITS = ("train", "val", "test")
FILL_ORDER = ("test", "val", "train")  # the scarce held-out sets get whole patients first
LAYOUTS = ("mura", "lera", "folders")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm")
PERCENTILES = (0.5, 99.5)  # window for >8-bit PNG and window-less DICOM, as the data stage's default
MURA_CSVS = ("train_image_paths.csv", "valid_image_paths.csv")
_MURA_PATH = re.compile(r"(?:^|/)(train|valid)/XR_([A-Za-z]+)/(patient\d+)/([^/]+)/[^/]+$")


@dataclass(frozen=True)
class Record:
    """One labelled image file."""

    path: Path
    label: str  # normalised body part ("elbow", "foot", ...)
    group: str  # patient (or study) key, prefixed by its layout
    source: str  # layout it was read from
    key: str  # layout and path inside the dataset: what seeded choices hash, wherever the data lives


@dataclass(frozen=True)
class Sample:
    """A record chosen for a split, with its class."""

    record: Record
    cls: str
    split: str


def normalise_label(text: str) -> str:
    """'XR_ELBOW' / 'XR FOOT' / 'Foot-Ankle' -> 'elbow' / 'foot' / 'foot_ankle'."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    if len(words) > 1 and words[0] == "xr":
        words = words[1:]
    return "_".join(words)


def read_source(layout: str, root: str | Path) -> list[Record]:
    """Records of one dataset root in the given layout."""
    readers = {"mura": read_mura, "lera": read_lera, "folders": read_folders}
    if layout not in readers:
        raise ValueError(f"unknown medfid data layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"medfid data folder not found: {root} (layout {layout})")
    records = readers[layout](root)
    if not records:
        raise ValueError(f"no images found in {root} (layout {layout})")
    return records


def read_mura(root: Path) -> list[Record]:
    """MURA-v1.1 records from its two image-path CSVs."""
    records = []
    for name in MURA_CSVS:
        table = root / name
        if not table.is_file():
            raise FileNotFoundError(f"{root} is not a MURA-v1.1 folder: {name} is missing")
        for line_no, rel in enumerate(_first_column(table), start=1):
            match = _MURA_PATH.search(rel.replace("\\", "/"))
            if match is None:
                if line_no == 1:
                    continue  # a header line some re-distributions add
                raise ValueError(f"{table}:{line_no}: not a MURA image path: {rel!r}")
            path = _mura_file(root, rel)
            key = f"mura:{path.relative_to(root).as_posix()}"
            records.append(Record(path, normalise_label(match[2]), f"mura:{match[3]}", "mura", key))
    _check_exist(records, root)
    return records


def _mura_file(root: Path, rel: str) -> Path:
    """CSV paths start with the MURA folder's own name (MURA-v1.1/...); the folder may have been renamed."""
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    return root.joinpath(*(parts if parts[0] in ("train", "valid") else parts[1:]))


def read_lera(root: Path) -> list[Record]:
    """LERA records from labels.csv (study folder, exam type, ...)."""
    table = root / "labels.csv"
    if not table.is_file():
        raise FileNotFoundError(f"{root} is not a LERA folder: labels.csv is missing")
    records = []
    with open(table, newline="") as fh:
        for line_no, row in enumerate(csv.reader(fh), start=1):
            if len(row) < 2 or not row[0].strip():
                continue
            study, exam = row[0].strip(), row[1].strip()
            if not exam.upper().startswith("XR"):
                if line_no == 1:
                    continue  # header
                raise ValueError(f"{table}:{line_no}: exam type {exam!r} is not an 'XR <PART>' label")
            files = _image_files(root / study)
            if not files:
                raise ValueError(f"{table}:{line_no}: study folder {root / study} holds no images")
            records += [
                Record(f, normalise_label(exam), f"lera:{study}", "lera", f"lera:{f.relative_to(root).as_posix()}")
                for f in files
            ]
    return records


def read_folders(root: Path) -> list[Record]:
    """Folder-per-class records; a sub-folder below the class folder is the patient group."""
    records = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = normalise_label(class_dir.name)
        for path in _image_files(class_dir):
            rel = path.relative_to(class_dir)
            group = rel.parts[0] if len(rel.parts) > 1 else f"{label}/{rel.name}"
            key = f"folders:{path.relative_to(root).as_posix()}"
            records.append(Record(path, label, f"folders:{group}", "folders", key))
    return records


def _first_column(table: Path) -> Iterable[str]:
    with open(table, newline="") as fh:
        for row in csv.reader(fh):
            if row and row[0].strip():
                yield row[0].strip()


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(s.startswith(".") for s in p.parts[-2:])
    )  # fmt: skip


def _check_exist(records: Sequence[Record], root: Path) -> None:
    missing = [str(r.path) for r in records if not r.path.is_file()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} image(s) listed under {root} do not exist, e.g. {missing[:3]}")


# --- classes and split ------------------------------------------------------------------------


def class_of_label(classes: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """label -> class from the config's {class: [labels]} mapping (labels normalised)."""
    out: dict[str, str] = {}
    for cls, labels in classes.items():
        for label in labels:
            key = normalise_label(label)
            if key in out and out[key] != cls:
                raise ValueError(f"medfid label {label!r} is mapped to two classes: {out[key]} and {cls}")
            out[key] = cls
    return out


def select(
    records: Sequence[Record], classes: Mapping[str, Sequence[str]], quotas: Mapping[str, int], seed: int
) -> list[Sample]:
    """Exactly `quotas[split]` images per class and split, whole groups on one side only."""
    mapping = class_of_label(classes)
    labelled = [(r, mapping[r.label]) for r in records if r.label in mapping]
    _check_classes_present(labelled, classes, records)
    by_group: dict[str, list[tuple[Record, str]]] = defaultdict(list)
    for record, cls in labelled:
        by_group[record.group].append((record, cls))
    split_of = _assign_groups(by_group, sorted(classes), quotas, seed)
    samples = []
    for split in SPLITS:
        for cls in sorted(classes):
            pool = [r for g, s in split_of.items() if s == split for r, c in by_group[g] if c == cls]
            samples += _draw(pool, cls, split, quotas[split], seed)
    return samples


def _check_classes_present(labelled: list, classes: Mapping[str, Sequence[str]], records: Sequence[Record]) -> None:
    present = {cls for _, cls in labelled}
    empty = [cls for cls in classes if cls not in present]
    if empty:
        found = ", ".join(sorted({r.label for r in records}))
        raise ValueError(f"medfid classes {empty} have no images; labels found in the data: {found}")


def _assign_groups(
    by_group: Mapping[str, list[tuple[Record, str]]], classes: list[str], quotas: Mapping[str, int], seed: int
) -> dict[str, str]:
    have = {split: Counter() for split in SPLITS}
    split_of = {}
    for group in sorted(by_group, key=lambda g: (derive_seed(seed, "medfid-split", g), g)):
        counts = Counter(cls for _, cls in by_group[group])
        # a patient with several body parts goes where all of them are still wanted, so held-out
        # sets do not swallow images their full classes cannot use
        split = next((s for s in FILL_ORDER if all(have[s][c] < quotas[s] for c in counts)), None)
        split = split or next((s for s in FILL_ORDER if any(have[s][c] < quotas[s] for c in counts)), "unused")
        split_of[group] = split
        if split != "unused":
            have[split].update(counts)
    return split_of


def _draw(pool: list[Record], cls: str, split: str, quota: int, seed: int) -> list[Sample]:
    if len(pool) < quota:
        raise ValueError(
            f"medfid class '{cls}' has {len(pool)} images for the {split} split (patients kept on one side), "
            f"{quota} wanted: lower medfid.sampling.{split}_per_class or add data"
        )
    pool = sorted(pool, key=lambda r: (derive_seed(seed, "medfid-pick", r.key), r.key))
    return [Sample(r, cls, split) for r in sorted(pool[:quota], key=lambda r: r.key)]


# --- images and manifest ----------------------------------------------------------------------


def load_image(path: Path, size: int) -> tuple[np.ndarray, str]:
    """(uint8 size×size image, sha256 of the file): decoded, padded to square, Lanczos-resized.

    The same geometry as the data stage's images, so the classifier sees real
    radiographs at the resolution the GANs' real and generated images have.
    """
    data = path.read_bytes()
    kind = raster.sniff(data)
    try:
        if kind is not None:
            decoded = raster.decode(data, kind, PERCENTILES)
        elif dicom.looks_like_dicom(data):
            decoded = dicom.decode(dicom.read_dataset(data), PERCENTILES)
        else:
            raise ValueError(f"{path}: not a PNG, JPEG or DICOM image")
    except dicom.DecodeError as exc:
        raise ValueError(f"{path}: {exc.reason}") from None
    return to_uint8(square_thumbnail(decoded.image, size)), sha256_bytes(data)


def load_samples(samples: Sequence[Sample], size: int, progress: bool = False) -> tuple[np.ndarray, list[str]]:
    """All samples' images (N, size, size) uint8 and their files' sha256, in sample order."""
    images = np.empty((len(samples), size, size), dtype=np.uint8)
    digests = []
    for i, sample in enumerate(tqdm(samples, desc="medfid images", unit="img", disable=not progress)):
        images[i], digest = load_image(sample.record.path, size)
        digests.append(digest)
    return images, digests


MANIFEST_COLUMNS = ("split", "class", "label", "group", "key", "sha256", "path")


def manifest_text(samples: Sequence[Sample], digests: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for s, digest in zip(samples, digests):
        r = s.record
        writer.writerow([s.split, s.cls, r.label, r.group, r.key, digest, str(r.path)])
    return out.getvalue()


def manifest_hash(samples: Sequence[Sample], digests: Sequence[str], size: int) -> str:
    """sha256 of what the classifier is trained and tested on: (split, class, group, file content), size.

    Independent of where the dataset lives on disk.
    """
    lines = sorted(f"{s.split},{s.cls},{s.record.group},{d}" for s, d in zip(samples, digests))
    return hashlib.sha256("\n".join([f"image_size={size}", *lines]).encode()).hexdigest()


def write_manifest(path: str | Path, samples: Sequence[Sample], digests: Sequence[str]) -> None:
    write_text(path, manifest_text(samples, digests))
