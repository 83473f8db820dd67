"""The stage through its command line on the phantom demo: outputs, comparability flags, validation direction."""

from __future__ import annotations

import csv
import json

import torch

from deeppc.medfid.model import load_checkpoint
from deeppc.config import load as load_config
from deeppc.medfid.data import MANIFEST_COLUMNS
from deeppc.medfid.stage import run_validation

TRAINING_OUTPUTS = ("extractor.pt", "metrics.json", "manifest.csv", "training_curves.csv", "training_curves.png",
                    "confusion_matrix.csv", "confusion_matrix.png", "per_class_accuracy.csv")  # fmt: skip
DEMO_CLASSES = ["elbow", "forearm", "hand", "humerus", "knee", "shoulder"]


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_training_writes_every_output_and_says_it_is_not_comparable(stage_run):
    out = stage_run["out"]
    assert stage_run["train_code"] == 0
    assert all((out / name).is_file() for name in TRAINING_OUTPUTS)
    assert not (out / "state").exists()  # finished: resume state removed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["comparable_to_published"] is False and len(metrics["comparability_notes"]) == 3
    assert metrics["classes"] == DEMO_CLASSES and metrics["n"] == {"train": 72, "val": 18, "test": 18}
    assert metrics["parameters"]["backbone_keras"] == 21_802_784
    assert metrics["parameters"]["phase1_trainable"] == 4 * 4_196_352 + 2049 * 6
    assert set(metrics["phases"]) == {"1", "2"} and 0 <= metrics["test_accuracy"] <= 1
    assert set(metrics["per_class_accuracy"]) == set(DEMO_CLASSES)
    assert len(_rows(out / "training_curves.csv")) == 2 + 1

    ckpt = load_checkpoint(out / "extractor.pt")
    assert ckpt["classes"] == DEMO_CLASSES and ckpt["comparable_to_published"] is False
    assert ckpt["preprocessing"]["input_size"] == 75 and ckpt["data_manifest_sha256"] == metrics["data_manifest_sha256"]
    assert ckpt["selected"] == metrics["selected"] and ckpt["backbone_init"].startswith("random:")
    assert all(isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values())

    confusion = _rows(out / "confusion_matrix.csv")
    assert sum(int(r[c]) for r in confusion for c in DEMO_CLASSES) == 18
    manifest = _rows(out / "manifest.csv")
    assert list(manifest[0]) == list(MANIFEST_COLUMNS) and len(manifest) == 108
    sides: dict[str, set] = {}
    for row in manifest:
        sides.setdefault(row["group"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())


def test_validation_scores_rise_with_noise_blur_and_salt_and_pepper(stage_run):
    out = stage_run["out"] / "validation"
    assert stage_run["validate_code"] == 0
    names = ("scores.csv", "correlations.csv", "correlations.md", "summary.json")
    assert all((out / n).is_file() for n in names)
    assert all((out / f"{family}.png").is_file() for family in ("blur", "noise", "salt_pepper", "blocks"))
    table = {(r["distortion"], r["metric"]): r for r in _rows(out / "correlations.csv")}
    for family in ("noise", "blur", "salt_pepper"):
        assert float(table[(family, "medfid")]["spearman_rho"]) > 0, family
    summary = json.loads((out / "summary.json").read_text())
    assert summary["comparable_to_published"] is False and summary["n_images"] == 16
    assert "Not comparable" in (out / "correlations.md").read_text()
    assert all(r["comparable_to_published"] == "False" for r in _rows(out / "scores.csv"))


def test_validation_sweeps_fid_beside_medfid(stage_run, real_folder, tmp_path):
    config = load_config(stage_run["config"])
    config["medfid"]["validation"].update(
        max_images=4, fid=True, levels={"blur": [0, 5, 15], "noise": [0, 0.5, 1.0], "salt_pepper": [0, 0.2, 0.6],
                                        "blocks": [0, 0.05, 0.2]},
    )  # fmt: skip
    summary = run_validation(config, extractor=stage_run["out"] / "extractor.pt", images=real_folder,
                             out=tmp_path, device=torch.device("cpu"))  # fmt: skip
    assert set(summary["extractors"]) == {"medfid", "fid"} and summary["n_images"] == 4
    assert "FID Inception randomly initialised (weights.inception.random_init)" in summary["notes"]
    scores = _rows(tmp_path / "scores.csv")
    assert len(scores) == 12 and all(float(r["fid"]) >= 0 for r in scores)
    assert {r["metric"] for r in summary["correlations"]} == {"medfid", "fid"}
