"""Readers (MURA-v1.1 with its real naming, LERA, folder-per-class), class mapping and the patient-level split."""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from deeppc.files import save_png, write_text
from deeppc.medfid.data import (
    load_samples,
    manifest_hash,
    normalise_label,
    read_source,
    select,
)

# (MURA split, body part, patient, study, images): MURA's own naming, patients shared across parts
MURA_STUDIES = [
    ("train", "ELBOW", 11, "study1_negative", 2), ("train", "ELBOW", 12, "study1_positive", 1),
    ("train", "HAND", 11, "study1_positive", 3), ("train", "FINGER", 13, "study1_negative", 1),
    ("train", "SHOULDER", 14, "study2_negative", 2), ("valid", "ELBOW", 11185, "study1_positive", 2),
    ("valid", "HUMERUS", 11186, "study1_negative", 1), ("valid", "FOREARM", 11187, "study1_positive", 1),
]  # fmt: skip


def _png(path: Path, value: int, shape: tuple[int, int] = (40, 30)) -> None:
    save_png(path, np.full(shape, value % 256, np.uint8))


def write_mura(root: Path, studies=MURA_STUDIES, folder: str = "MURA-v1.1") -> Path:
    """A MURA-v1.1 tree: images under split/XR_PART/patientNNNNN/studyN_label/ and the two path CSVs."""
    base = root / folder
    lines: dict[str, list[str]] = defaultdict(list)
    for i, (split, part, patient, study, n) in enumerate(studies):
        for k in range(1, n + 1):
            rel = f"{split}/XR_{part}/patient{patient:05d}/{study}/image{k}.png"
            _png(base / rel, 10 * i + k)
            lines[split].append(f"MURA-v1.1/{rel}")  # MURA's CSVs name the dataset folder first
    for split in ("train", "valid"):
        write_text(base / f"{split}_image_paths.csv", "".join(f"{line}\n" for line in lines[split]))
    return base


def test_mura_reader_takes_body_part_from_xr_folder_and_patient_from_path(tmp_path):
    records = read_source("mura", write_mura(tmp_path))
    assert len(records) == sum(s[-1] for s in MURA_STUDIES)
    by_path = {r.path.relative_to(tmp_path / "MURA-v1.1").as_posix(): r for r in records}
    r = by_path["train/XR_ELBOW/patient00011/study1_negative/image2.png"]
    assert (r.label, r.group, r.source) == ("elbow", "mura:patient00011", "mura")
    assert by_path["train/XR_HAND/patient00011/study1_positive/image1.png"].group == "mura:patient00011"
    assert by_path["valid/XR_FOREARM/patient11187/study1_positive/image1.png"].label == "forearm"
    assert Counter(r.label for r in records) == {"elbow": 5, "hand": 3, "finger": 1, "shoulder": 2, "humerus": 1,
                                                 "forearm": 1}  # fmt: skip


def test_mura_reader_survives_a_renamed_folder_and_a_header(tmp_path):
    base = write_mura(tmp_path, folder="mura_download")
    table = base / "train_image_paths.csv"
    table.write_text("path\n" + table.read_text())
    assert len(read_source("mura", base)) == sum(s[-1] for s in MURA_STUDIES)


def test_mura_reader_reports_missing_files_and_bad_lines(tmp_path):
    base = write_mura(tmp_path)
    (base / "train/XR_ELBOW/patient00012/study1_positive/image1.png").unlink()
    with pytest.raises(FileNotFoundError, match="1 image"):
        read_source("mura", base)
    table = base / "valid_image_paths.csv"
    table.write_text(table.read_text() + "MURA-v1.1/valid/elbow.png\n")
    with pytest.raises(ValueError, match="valid_image_paths.csv:5: not a MURA image path"):
        read_source("mura", base)
    (base / "train_image_paths.csv").unlink()
    with pytest.raises(FileNotFoundError, match="not a MURA-v1.1 folder"):
        read_source("mura", base)


def write_lera(root: Path) -> Path:
    rows = [("1001", "XR FOOT", 2), ("1002", "XR ANKLE", 1), ("1003", "XR KNEE", 2), ("1004", "XR HIP", 1),
            ("1005", "XR ANKLE", 1), ("1006", "XR KNEE", 1), ("1007", "XR KNEE", 1)]
    for i, (study, _, n) in enumerate(rows):
        for k in range(n):
            _png(root / "LERA" / study / f"image{k}.png", i * 20 + k)
    write_text(root / "LERA" / "labels.csv", "".join(f"{s},{exam},normal\n" for s, exam, _ in rows))
    return root / "LERA"


def test_lera_reader_and_the_papers_class_mapping(tmp_path):
    records = read_source("lera", write_lera(tmp_path))
    assert Counter(r.label for r in records) == {"foot": 2, "ankle": 2, "knee": 4, "hip": 1}
    assert {r.group for r in records if r.label == "foot"} == {"lera:1001"}
    classes = {"foot_ankle": ["foot", "ankle"], "knee": ["knee"]}  # hip is dropped, as in the paper
    samples = select(records, classes, {"train": 1, "val": 1, "test": 1}, seed=0)
    assert Counter(s.cls for s in samples) == {"foot_ankle": 3, "knee": 3}
    assert all(s.record.label != "hip" for s in samples)


def test_folder_reader_groups_by_subfolder(tmp_path):
    for cls in ("Elbow", "XR_KNEE"):
        _png(tmp_path / "tree" / cls / "patientA" / "x.png", 1)
        _png(tmp_path / "tree" / cls / "loose.png", 2)
    records = read_source("folders", tmp_path / "tree")
    assert {(r.label, r.group) for r in records} == {
        ("elbow", "folders:patientA"), ("elbow", "folders:elbow/loose.png"),
        ("knee", "folders:patientA"), ("knee", "folders:knee/loose.png"),
    }  # fmt: skip


@pytest.mark.parametrize(
    "text, label",
    [("XR_ELBOW", "elbow"), ("XR FOOT", "foot"), ("Foot-Ankle", "foot_ankle"), ("xr", "xr"), ("HAND", "hand")],
)
def test_normalise_label(text, label):
    assert normalise_label(text) == label


def _many_patients(tmp_path: Path) -> list:
    studies = []
    for patient in range(1, 41):
        parts = ["ELBOW", "HAND"] if patient % 5 == 0 else [["ELBOW", "HAND", "SHOULDER"][patient % 3]]
        studies += [("train", part, patient, "study1_negative", 1 + patient % 3) for part in parts]
    return read_source("mura", write_mura(tmp_path, studies))


def test_split_is_balanced_exact_and_keeps_patients_on_one_side(tmp_path):
    records = _many_patients(tmp_path)
    classes = {"elbow": ["elbow"], "hand": ["hand"], "shoulder": ["shoulder"]}
    quotas = {"train": 8, "val": 2, "test": 3}
    samples = select(records, classes, quotas, seed=7)
    assert Counter((s.split, s.cls) for s in samples) == {(sp, c): quotas[sp] for sp in quotas for c in classes}
    sides = defaultdict(set)
    for s in samples:
        sides[s.record.group].add(s.split)
    assert all(len(v) == 1 for v in sides.values())
    assert any(len({s.cls for s in samples if s.record.group == g}) > 1 for g in sides)  # multi-part patients used
    assert select(records, classes, quotas, seed=7) == samples
    assert select(records, classes, quotas, seed=8) != samples


def test_split_names_the_short_class(tmp_path):
    records = _many_patients(tmp_path)
    with pytest.raises(ValueError, match=r"medfid class '\w+' has \d+ images for the train split .* 30 wanted"):
        select(records, {"shoulder": ["shoulder"], "elbow": ["elbow"]}, {"train": 30, "val": 2, "test": 2}, seed=1)
    with pytest.raises(ValueError, match=r"classes \['knee'\] have no images"):
        select(records, {"knee": ["knee"], "elbow": ["elbow"]}, {"train": 1, "val": 1, "test": 1}, seed=1)


def test_manifest_hash_follows_content_not_location(tmp_path):
    records = _many_patients(tmp_path / "a")
    classes = {"elbow": ["elbow"], "hand": ["hand"]}
    quotas = {"train": 4, "val": 1, "test": 1}
    samples = select(records, classes, quotas, seed=3)
    images, digests = load_samples(samples, 32)
    assert images.shape == (len(samples), 32, 32) and images.dtype == np.uint8
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    moved = select(_many_patients_at(tmp_path / "b"), classes, quotas, seed=3)
    assert manifest_hash(moved, load_samples(moved, 32)[1], 32) == manifest_hash(samples, digests, 32)
    assert manifest_hash(samples, digests, 64) != manifest_hash(samples, digests, 32)


def _many_patients_at(root: Path) -> list:
    return read_source("mura", root / "MURA-v1.1")
