"""A synthetic stand-in for the paper's MURA + LERA training set, drawn from procedural phantoms.

`write_demo_tree` writes phantoms of the five MURA body parts the paper keeps
(elbow, forearm, hand, humerus, shoulder) in MURA-v1.1's exact layout and
naming (train/valid folders, `XR_*` / `patientNNNNN` / `studyN_<label>`
folders, the image-path and labelled-study CSVs), and knee phantoms in LERA's
layout (`labels.csv` of study folder and exam type). The demo therefore runs
the real readers. Some patients have studies of two body parts, so the
patient-level split is exercised too. Images are 8-bit, non-square, like
MURA's PNGs. There are no foot/ankle phantoms, so the demo has 6 classes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deeppc.demo import phantom
from deeppc.data.geometry import to_uint8
from deeppc.files import atomic_folder, save_png, write_text
from deeppc.seeding import rng
from deeppc.validate import at_least

MURA_PARTS = ("elbow", "forearm", "hand", "humerus", "shoulder")
LERA_PARTS = ("knee",)
DEMO_CLASSES = {part: [part] for part in (*MURA_PARTS, *LERA_PARTS)}
MIN_SIZE = 16  # smaller phantoms lose their anatomy (and below 2 px the drawing fails)


@dataclass(frozen=True)
class _Study:
    part: str
    patient: int
    number: int
    images: int
    positive: bool
    valid: bool  # MURA's valid folder (the last patients, as in MURA)


def write_demo_tree(out: str | Path, per_class: int = 60, size: int = 96, seed: int = 11) -> dict:
    """Write MURA-v1.1/ and LERA/ under `out` with about `per_class` images per body part; returns counts."""
    out = Path(out)
    at_least(per_class, 1, "per_class (images per body part)")
    at_least(size, MIN_SIZE, "size (image side in px)")
    studies = _plan(per_class, seed)
    counts: dict[str, int] = {}
    with atomic_folder(out) as build:  # both trees or nothing
        for study in studies:
            for k in range(1, study.images + 1):
                image = _draw(study, k, size, seed)
                save_png(_image_path(build, study, k), image, durable=False)
            counts[study.part] = counts.get(study.part, 0) + study.images
        _write_mura_tables(build, [s for s in studies if s.part in MURA_PARTS])
        _write_lera_table(build, [s for s in studies if s.part in LERA_PARTS])
    return {"root": str(out), "images": counts, "studies": len(studies), "size": size, "seed": seed}


def _plan(per_class: int, seed: int) -> list[_Study]:
    """Studies of 1-3 images per part; about one patient in four also has a study of another part."""
    gen = rng(seed, "medfid-demo", "plan")
    parts = (*MURA_PARTS, *LERA_PARTS)
    studies: list[_Study] = []
    patient = 0
    for part in parts:
        total = 0
        while total < per_class:
            n = min(int(gen.integers(1, 4)), per_class - total)
            others = sorted({s.patient for s in studies if s.part != part})
            if others and gen.random() < 0.25:
                owner = int(gen.choice(others))
            else:
                patient += 1
                owner = patient
            studies.append(_Study(part, owner, 1, n, bool(gen.random() < 0.4), False))
            total += n
    last = max(s.patient for s in studies)
    cut = int(round(last * 0.9))  # MURA's valid patients are the highest-numbered ones
    numbered = []
    seen: dict[tuple[int, str], int] = {}
    for s in studies:
        number = seen[(s.patient, s.part)] = seen.get((s.patient, s.part), 0) + 1
        numbered.append(_Study(s.part, s.patient, number, s.images, s.positive, s.patient > cut))
    return numbered


def _draw(study: _Study, k: int, size: int, seed: int) -> np.ndarray:
    gen = rng(seed, "medfid-demo", study.part, study.patient, study.number, k)
    shape = (int(size * gen.uniform(0.8, 1.25)), int(size * gen.uniform(0.8, 1.25)))
    view = "AP" if k % 2 else "LAT"
    return to_uint8(phantom.draw(study.part, view, gen, shape))


def _mura_study_dir(study: _Study) -> str:
    split = "valid" if study.valid else "train"
    label = "positive" if study.positive else "negative"
    return f"MURA-v1.1/{split}/XR_{study.part.upper()}/patient{study.patient:05d}/study{study.number}_{label}/"


def _lera_study_dir(study: _Study) -> str:
    return f"{study.patient * 100 + study.number}"


def _image_path(out: Path, study: _Study, k: int) -> Path:
    if study.part in MURA_PARTS:
        return out / f"{_mura_study_dir(study)}image{k}.png"
    return out / "LERA" / _lera_study_dir(study) / f"image{k}.png"


def _write_mura_tables(out: Path, studies: list[_Study]) -> None:
    for split in ("train", "valid"):
        chosen = [s for s in studies if s.valid == (split == "valid")]
        paths = [f"{_mura_study_dir(s)}image{k}.png" for s in chosen for k in range(1, s.images + 1)]
        write_text(out / "MURA-v1.1" / f"{split}_image_paths.csv", "".join(f"{p}\n" for p in paths))
        labels = "".join(f"{_mura_study_dir(s)},{int(s.positive)}\n" for s in chosen)
        write_text(out / "MURA-v1.1" / f"{split}_labeled_studies.csv", labels)


def _write_lera_table(out: Path, studies: list[_Study]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for s in studies:
        writer.writerow([_lera_study_dir(s), f"XR {s.part.upper()}", "abnormal" if s.positive else "normal"])
    write_text(out / "LERA" / "labels.csv", text.getvalue())
