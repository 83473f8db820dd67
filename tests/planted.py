"""A planted two-class task where the truth is known, for the utility stage's tests.

Class `left` has a faint blob in the left half of the image, class `right` in
the right half, at random heights and under strong noise: a few real images
do not pin the rule down, many more images of the same kind do. "Good"
synthetic images follow the same rule; "wrong" ones carry the blob on the
other side (the label signal inverted); "blank" ones carry none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from deeppc.utility.task import LabelledImages

CLASSES = ("left", "right")
SIZE = 32


def images(sides: np.ndarray, rng: np.random.Generator, amplitude: float = 45.0, noise: float = 40.0) -> np.ndarray:
    """uint8 (N, SIZE, SIZE): a Gaussian blob left (side 0), right (1) or nowhere (-1), plus noise."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    out = np.empty((len(sides), SIZE, SIZE), dtype=np.uint8)
    for i, side in enumerate(sides):
        cy = rng.uniform(6, SIZE - 6)
        cx = rng.uniform(5, SIZE / 2 - 4) + (SIZE / 2 if side == 1 else 0)
        blob = amplitude * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 3.0**2)) if side >= 0 else 0
        out[i] = np.clip(100 + blob + noise * rng.standard_normal((SIZE, SIZE)), 0, 255).astype(np.uint8)
    return out


def real_set(patients_per_class: int, images_per_patient: int, seed: int, prefix: str) -> LabelledImages:
    """Real images: `patients_per_class` patients per class, each with `images_per_patient` images."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), patients_per_class * images_per_patient)
    groups = np.array([f"{prefix}{i // images_per_patient}" for i in range(len(labels))], dtype=object)
    return LabelledImages(images(labels, rng), labels.astype(np.int64), groups, CLASSES)


def synthetic(kind: str, per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Generated pools per class: 'good' (the true rule), 'wrong' (sides swapped) or 'blank' (no blob)."""
    rng = np.random.default_rng(seed)
    side = {"good": lambda c: c, "wrong": lambda c: 1 - c, "blank": lambda c: -1}[kind]
    return {name: images(np.full(per_class, side(c)), rng) for c, name in enumerate(CLASSES)}


def data_stage(root, patients: int = 10, size: int = 8):
    """A data folder as the data stage leaves it: each patient with one LAT and one AP image."""
    rows = []
    for p in range(patients):
        split = "holdout" if p % 4 == 0 else "train"
        for view in ("LAT", "AP"):
            sha = f"{p:02d}{view}".ljust(64, "0")
            out = f"{view}/{split}/img-{sha[:16]}.png"
            (root / view / split).mkdir(parents=True, exist_ok=True)
            value = 40 * (view == "AP") + p
            Image.fromarray(np.full((size, size), value, dtype=np.uint8)).save(root / out)
            rows.append({"source": f"in/p{p}/{view}.dcm", "sha256": sha, "status": "ok", "view": view, "split": split,
                         "output": out, "patient_key": f"pk{p}", "study_key": f"st{p}"})  # fmt: skip
    rows.append({"source": "in/bad.dcm", "sha256": "f" * 64, "status": "refused", "view": "", "split": "",
                 "output": "", "patient_key": "", "study_key": ""})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root
