"""The medfid stage end to end: labelled radiographs → trained extractor + reports, and the validation sweep.

`run_training` writes into its output folder:

    extractor.pt              the MedFID checkpoint (deeppc.medfid/1, metadata included)
    metrics.json              accuracies per phase, selected epoch, test accuracy, parameter
                              counts, data manifest hash, comparability, settings
    manifest.csv              every image used: split, class, label, patient group, sha256, path
    training_curves.csv/.png  loss and accuracy per epoch, both phases
    confusion_matrix.csv/.png test-split confusion matrix of the selected checkpoint
    per_class_accuracy.csv
    state/                    loop state while training, for resuming; removed when finished

`run_validation` writes the distortion sweep (see `validation`).
"""

from __future__ import annotations

import logging
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deeppc import __version__, files, validate
from deeppc.config import ConfigError
from deeppc.data.imageset import load_folder
from deeppc.files import sha256_file, write_json
from deeppc.metrics import extractors
from deeppc.medfid import outputs
from deeppc.medfid import validation
from deeppc.medfid.model import (
    Preprocessing,
    check_imagenet_weights,
    keras_parameter_count,
    save_checkpoint,
    set_trainable,
    trainable_parameter_count,
)
from deeppc.medfid.settings import fid_weights, image_size, imagenet_weights
from deeppc.medfid.data import SPLITS, load_samples, manifest_hash, read_source, select, write_manifest
from deeppc.medfid.distortions import NAMES as DISTORTIONS
from deeppc.medfid.train import Result, Split, FinetuneSettings, evaluate, fingerprint, train
from deeppc.seeding import derive_seed, rng

log = logging.getLogger(__name__)

DEMO_SOURCES = ({"layout": "mura", "root": "MURA-v1.1"}, {"layout": "lera", "root": "LERA"})


@dataclass(frozen=True)
class Prepared:
    splits: dict[str, Split]
    classes: list[str]
    manifest_sha256: str
    image_size: int


def select_device(name: str = "auto") -> torch.device:
    """auto (CUDA if present), cpu, cuda or cuda:N, checked (see deeppc.validate.device)."""
    return validate.torch_device(name, "device (--device or config key medfid.device)")


def stage_seed(config: dict, purpose: str) -> int:
    return derive_seed(config.get("seed", 2023), "medfid", purpose)


def sources(config: dict, data_root: Path | None) -> list[tuple[str, Path]]:
    """(layout, root) of every configured dataset; relative roots are under `data_root`."""
    section = config["medfid"]
    listed = section["sources"] or (DEMO_SOURCES if section.get("demo") else [])
    if not listed:
        raise ConfigError("config key 'medfid.sources' is empty: name at least one dataset (layout and root)")
    base = data_root or Path.cwd()
    return [(s["layout"], Path(s["root"]) if Path(s["root"]).is_absolute() else base / s["root"]) for s in listed]


def prepare(config: dict, data_root: Path | None, out: Path, progress: bool = False) -> Prepared:
    """Read, select and load the labelled images; writes manifest.csv into `out` once they all loaded."""
    section = config["medfid"]
    records = [r for layout, root in sources(config, data_root) for r in read_source(layout, root)]
    quotas = {split: section["sampling"][f"{split}_per_class"] for split in SPLITS}
    samples = select(records, section["classes"], quotas, stage_seed(config, "split"))
    size = image_size(config)
    images, digests = load_samples(samples, size, progress)
    files.make_folders(out)
    write_manifest(out / "manifest.csv", samples, digests)
    classes = sorted(section["classes"])
    index = {cls: i for i, cls in enumerate(classes)}
    splits = {}
    for split in SPLITS:
        rows = [i for i, s in enumerate(samples) if s.split == split]
        splits[split] = Split(images[rows], np.array([index[samples[i].cls] for i in rows], dtype=np.int64))
    return Prepared(splits, classes, manifest_hash(samples, digests, size), size)


def comparability(backbone_init: str, input_size: int, demo: bool) -> tuple[bool, list[str]]:
    """Whether scores can be set beside the paper's MedFID values, and why not."""
    notes = []
    if not backbone_init.startswith("imagenet:"):
        notes.append("InceptionV3 base randomly initialised (no ImageNet weights)")
    if input_size != 299:
        notes.append(f"network input {input_size} px instead of 299")
    if demo:
        notes.append("trained on synthetic phantom radiographs (demo)")
    return not notes, notes


def run_training(
    config: dict, *, data_root: Path | None, out: Path, device: torch.device, progress: bool = False
) -> dict:
    """Train the MedFID extractor and write the stage's outputs; returns metrics.json's content."""
    started = time.perf_counter()
    section = config["medfid"]
    weights = imagenet_weights(config)
    settings = FinetuneSettings.from_config(section, stage_seed(config, "train"))
    if weights is not None:  # a corrupt or wrong file stops here, before the output folder is made
        check_imagenet_weights(weights)
    data = prepare(config, data_root, out, progress)
    base = f"imagenet:{sha256_file(weights)}" if weights else f"random:{settings.seed}"
    run = train(
        data.splits, len(data.classes), settings, weights=weights, device=device,
        state_dir=out / "state", fingerprint=fingerprint(settings, data.manifest_sha256, base),
    )  # fmt: skip
    phases, test = _evaluate(run, data, settings, device)
    comparable, notes = comparability(run.backbone_init, settings.input_size, bool(section.get("demo")))
    counts = outputs.confusion_matrix(data.splits["test"].labels, test["predictions"], len(data.classes))
    meta = {
        "classes": data.classes, "preprocessing": Preprocessing(settings.input_size).to_dict(),
        "arch": {"hidden": settings.hidden, "depth": settings.depth, "dropout": settings.dropout},
        "backbone_init": run.backbone_init, "comparable_to_published": comparable, "comparability_notes": notes,
        "selected": run.selected.summary(), "phases": phases, "test_accuracy": test["accuracy"],
        "data_manifest_sha256": data.manifest_sha256, "image_size": data.image_size,
        "settings": settings.to_dict(), "versions": _versions(),
    }  # fmt: skip
    save_checkpoint(out / "extractor.pt", run.net, meta)
    metrics = {
        **{k: v for k, v in meta.items() if k not in ("arch", "versions")},
        "format": "deeppc.medfid-metrics/1", "n": {s: int(len(data.splits[s].labels)) for s in SPLITS},
        "per_class_accuracy": dict(zip(data.classes, outputs.per_class_accuracy(counts).tolist())),
        "parameters": _parameter_counts(run, settings), "device": run.device,
        "wall_seconds": time.perf_counter() - started, "versions": _versions(),
    }  # fmt: skip
    _write_reports(out, run, counts, data.classes, metrics)
    shutil.rmtree(out / "state", ignore_errors=True)  # finished: nothing left to resume
    return metrics


def _evaluate(run: Result, data: Prepared, settings: FinetuneSettings, device: torch.device) -> tuple[dict, dict]:
    """Test accuracy of each phase's best epoch (the paper's 0.347 / 0.518), then of the selected one."""
    spec = Preprocessing(settings.input_size)
    phases = {}
    for phase, best in sorted(run.phase_best.items()):
        if best.state is None:
            continue
        run.net.load_state_dict(best.state)
        result = evaluate(run.net, data.splits["test"], spec, settings.batch_size, device)
        phases[str(phase)] = {**best.summary(), "test_accuracy": result["accuracy"]}
    run.net.load_state_dict(run.selected.state)
    return phases, evaluate(run.net, data.splits["test"], spec, settings.batch_size, device)


def _parameter_counts(run: Result, settings: FinetuneSettings) -> dict:
    counts = {
        "backbone_keras": keras_parameter_count(run.net.backbone),
        "total_keras": keras_parameter_count(run.net),
    }
    for name, phase in (("phase1", settings.phase1), ("phase2", settings.phase2)):
        set_trainable(run.net, phase.unfreeze)
        counts[f"{name}_trainable"] = trainable_parameter_count(run.net)
    return counts


def _write_reports(out: Path, run: Result, counts: np.ndarray, classes: list[str], metrics: dict) -> None:
    note = "" if metrics["comparable_to_published"] else "not comparable to published MedFID: " + "; ".join(
        metrics["comparability_notes"]
    )
    outputs.write_curves(out / "training_curves.csv", run.history)
    outputs.plot_curves(out / "training_curves.png", run.history, note)
    outputs.write_confusion(out / "confusion_matrix.csv", counts, classes)
    title = f"test split, selected epoch (phase {run.selected.phase}, epoch {run.selected.epoch}), " \
            f"accuracy {metrics['test_accuracy']:.3f}" + ("\nnot comparable to published MedFID" if note else "")
    outputs.plot_confusion(out / "confusion_matrix.png", counts, classes, title)
    outputs.write_per_class(out / "per_class_accuracy.csv", counts, classes, metrics["comparable_to_published"])
    write_json(out / "metrics.json", metrics)


def _versions() -> dict:
    import torchvision

    return {"deeppc": __version__, "torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "python": platform.python_version()}  # fmt: skip


# --- validation -------------------------------------------------------------------------------


def run_validation(
    config: dict, *, extractor: Path, images: Path, out: Path, device: torch.device, progress: bool = False
) -> dict:
    """Distortion sweep of MedFID (and FID) on a folder of real radiographs; returns summary.json's content."""
    section = config["medfid"]["validation"]
    seed = stage_seed(config, "validation")
    clean = _subset(load_folder(images, min_images=2), section["max_images"], seed)
    levels = {name: section["levels"][name] for name in DISTORTIONS}
    with tempfile.TemporaryDirectory() as tmp:
        nets = [extractors.create("medfid", weights=extractor, device=str(device))]
        notes = [] if nets[0].comparable_to_published else ["MedFID extractor not comparable to published MedFID"]
        if section["fid"]:
            nets.append(_fid_extractor(config, Path(tmp), device, notes))
    result = validation.sweep(
        clean, nets, levels, seed=seed, noise_sd=section["noise_sd"],
        blocks_per_image=section["blocks_per_image"], batch_size=32, progress=progress,
    )  # fmt: skip
    table = validation.correlations(result)
    summary = {
        "format": "deeppc.medfid-validation/1", "images": str(images), "n_images": int(len(clean)),
        "comparable_to_published": not notes, "notes": notes, "seed": seed, "levels": levels,
        "noise_sd": section["noise_sd"], "blocks_per_image": section["blocks_per_image"],
        "extractors": {ex.frechet_key: ex.identity() for ex in nets},
    }  # fmt: skip
    with files.atomic_folder(out) as build:  # every table and figure, or none
        validation.write_outputs(
            build, result, table, summary, noise_sd=section["noise_sd"], blocks_per_image=section["blocks_per_image"]
        )
    return {**summary, "correlations": table}


def _subset(images: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(images) < 2:
        raise ValueError(f"the validation needs at least 2 real images, got {len(images)}")
    if len(images) <= limit:
        return images
    return images[np.sort(rng(seed, "subset").choice(len(images), limit, replace=False))]


def _fid_extractor(config: dict, tmp: Path, device: torch.device, notes: list[str]) -> extractors.Extractor:
    from deeppc.metrics.inception import NAME, save_random_weights

    path = fid_weights(config)
    if path is None:
        notes.append("FID Inception randomly initialised (weights.inception.random_init)")
        path = save_random_weights(tmp / "random-inception.pth", seed=stage_seed(config, "fid-random"))
    return extractors.create(NAME, weights=path, device=str(device))
