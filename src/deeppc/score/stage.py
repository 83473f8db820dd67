"""Scoring one generator checkpoint: sample sets drawn and measured against real statistics.

This is the score stage's unit of work (one job per experiment and
checkpoint). Each repeat r draws `n` images from the generator with a seed
derived from (root seed, "score", experiment, iteration, r), so any repeat can
be regenerated from the names in its result. Every extractor gives its own
Fréchet distance ("fid", "medfid", ...); KID, precision/recall and the
memorisation check use the first extractor listed, which the result records.
The memorisation check's verdict is per checkpoint: the repeats share one
calibration set, so their flagged counts are pooled into one Beta-Binomial
test (`memorization` at the top level of the result; each repeat keeps its
own numbers). A class-conditional checkpoint's sample sets mix its classes
in its training proportions, and its result adds ``per_class``: one Fréchet
distance per class against that class's real images.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from deeppc import __version__, files
from deeppc.data.split import image_groups
from deeppc.metrics import api, extractors, memorization
from deeppc.metrics.stats_cache import FeatureStats
from deeppc.models import generate, load_generator
from deeppc.models.checkpoint import class_index
from deeppc.seeding import derive_seed
from deeppc.train.sampler import images_seen

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreJob:
    experiment: str
    iteration: int
    checkpoint: Path
    real: Mapping[str, Path]  # extractor name -> real training-set statistics (.npz)
    holdout: Path | None  # first extractor's holdout statistics, for memorisation (None: no check)
    train_images: Path  # the real training and holdout PNG folders (pixel-space memorisation)
    holdout_images: Path
    weights: Mapping[str, Path | None]  # extractor name -> weights file
    repeats: int
    n_images: int | None
    seed: int
    options: api.MetricOptions
    random_init: frozenset[str] = frozenset()  # extractors on randomly initialised weights
    batch_size: int = 64
    feature_batch: int = 32
    truncation_psi: float = 1.0
    device: str = "cpu"
    manifest: Path | None = None  # the data stage's manifest: patients of the held-out images
    batch_size_train: int | None = None  # the run's training batch and drop_last: its progress (kimg, epochs)
    drop_last: bool = False
    class_real: tuple[Path, ...] = ()  # a conditional run's real stats per class, in its checkpoint's class order


def score_checkpoint(
    job: ScoreJob, out_json: str | os.PathLike, pairs_png: str | os.PathLike | None
) -> dict[str, Any]:
    """Score `job`, write its result (docs/contracts.md, score stage) and the closest pairs image."""
    generator, meta = load_generator(job.checkpoint, job.device)
    names = list(job.real)
    nets = {name: extractors.create(name, job.weights.get(name), job.device) for name in names}
    real = {name: FeatureStats.load(job.real[name]) for name in names}
    primary = names[0]
    reference = _reference(job, real[primary]) if job.holdout is not None else None
    metrics = api.METRICS if reference is not None else tuple(m for m in api.METRICS if m != "memorization")
    n = job.n_images or real[primary].n
    repeats, warnings, mem_sets = [], [], []
    for r in range(job.repeats):
        seed = derive_seed(job.seed, "score", job.experiment, job.iteration, r)
        images = _sample(generator, n, seed, job, meta.get("class_counts"))
        row: dict[str, Any] = {"repeat": r, "seed": seed}
        for name in names:
            result = api.score_images(
                images, real[name], nets[name], metrics if name == primary else ["fid"],
                seed=seed, options=job.options, reference=reference if name == primary else None,
                pairs_png=pairs_png if name == primary and r == 0 and reference else None,
                batch_size=job.feature_batch,
            )  # fmt: skip
            warnings += [w for w in result.pop("warnings") if w not in warnings]
            if name == primary and "memorization" in metrics:
                mem_sets.append({k: v for k, v in result.items() if k.startswith("mem_")})
            row.update(_metric_values(result))
        repeats.append(row)
        log.info("%s@%d repeat %d: %s", job.experiment, job.iteration, r, _brief(row))
    record = _record(job, meta, nets, real, n, repeats, warnings)
    if mem_sets:  # one verdict for the checkpoint: its repeats share the calibration half of the holdout
        record["memorization"] = {**memorization.pooled(mem_sets), "extractor": primary}
    if job.class_real:
        record["per_class"] = _per_class(job, generator, meta, nets[primary])
    files.write_json(out_json, record)
    return record


def _sample(generator, n: int, seed: int, job: ScoreJob, class_weights: list[int] | None = None,
            label: int | None = None) -> np.ndarray:
    # a conditional generator's unlabelled samples mix its classes as its training images did
    psi = job.truncation_psi if job.truncation_psi != 1.0 else None
    return generate(generator, n, seed, job.batch_size, truncation_psi=psi, label=label, class_weights=class_weights)


def _per_class(job: ScoreJob, generator, meta: dict, net) -> dict[str, dict[str, Any]]:
    """A class-conditional checkpoint's Fréchet distance per class: its samples of the class against its images.

    One sample set per class, as many images as the class's real set, with the
    first extractor; a user sees which class the generator finds harder.
    """
    classes = meta.get("classes") or []
    if len(classes) != len(job.class_real):
        raise ValueError(f"{job.checkpoint}: per-class statistics for {len(job.class_real)} classes, "
                         f"but the generator has classes {classes}")
    out = {}
    for name, path in zip(classes, job.class_real):
        real = FeatureStats.load(path)
        seed = derive_seed(job.seed, "score", job.experiment, job.iteration, "class", name)
        images = _sample(generator, real.n, seed, job, label=class_index(meta, name))
        result = api.score_images(images, real, net, ["fid"], seed=seed, options=job.options,
                                  batch_size=job.feature_batch)  # fmt: skip
        out[name] = {net.frechet_key: result[net.frechet_key], "n_real": real.n, "n_fake": real.n, "seed": seed}
        log.info("%s@%d class %s: %s %.4g", job.experiment, job.iteration, name, net.frechet_key,
                 result[net.frechet_key])
    return out


def _reference(job: ScoreJob, train: FeatureStats) -> api.MemorizationReference:
    from deeppc.data.imageset import list_images, load_folder

    # pixel-space nearest neighbours need the images; features come from the caches
    groups = holdout_groups(job.manifest, list_images(job.holdout_images)) if job.manifest else None
    return api.MemorizationReference(
        train=train, holdout=FeatureStats.load(job.holdout),
        train_images=load_folder(job.train_images), holdout_images=load_folder(job.holdout_images),
        holdout_groups=groups,
    )  # fmt: skip


def holdout_groups(manifest: Path, images: list[Path]) -> np.ndarray:
    """The patient of each held-out image (file order), as the data stage's split grouped them.

    Images of one patient are alike, so the memorisation check keeps a patient
    on one side of its reference/calibration split (the split's own key:
    patient, else study, else the file).
    """
    return image_groups(manifest, images, "held-out image")


_BOOKKEEPING = {"extractor", "extractor_identity_sha256", "n_real", "n_fake", "seed", "n_train", "n_holdout"}
# memorisation settings, counts and the verdict belong to the checkpoint (top-level `memorization`);
# repeats keep plain-number measures only, since the stats stage treats every numeric repeat key as a metric
_MEM_PER_CHECKPOINT = {"mem_alpha", "mem_level", "mem_n_reference", "mem_n_calibration", "mem_n", "mem_flagged",
                       "mem_expected", "mem_verdict", "mem_reason"}  # fmt: skip
_MEM_PER_CHECKPOINT_PREFIXES = ("mem_flagged_", "mem_holdout_ratio_median_")


def _metric_values(result: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in result.items()
        if k not in _BOOKKEEPING and k not in _MEM_PER_CHECKPOINT and not k.startswith(_MEM_PER_CHECKPOINT_PREFIXES)
    }  # fmt: skip


def _brief(row: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float))


def _record(job: ScoreJob, meta: dict, nets: dict, real: dict, n: int, repeats: list, warnings: list) -> dict:
    identities = {name: net.identity() for name, net in nets.items()}
    if job.random_init:
        warnings = [*warnings, f"extractor(s) {', '.join(sorted(job.random_init))} use randomly initialised "
                               "weights: scores are not comparable to published values"]  # fmt: skip
    return {
        "experiment": job.experiment,
        "family": meta.get("family"),
        "iteration": job.iteration,
        "checkpoint": os.fspath(job.checkpoint),
        "checkpoint_sha256": files.sha256_file(job.checkpoint),
        "extractors": {net.frechet_key: name for name, net in nets.items()},
        "extractor_identity": identities,
        "primary_extractor": next(iter(nets)),
        "real_content_sha256": {name: stats.content_hash for name, stats in real.items()},
        "n_real": real[next(iter(real))].n,
        "n_fake": n,
        # epochs count the images the run trained on (its checkpoint says; older ones: the real training set)
        "progress": _progress(job, meta.get("n_train_images") or real[next(iter(real))].n),
        "repeats": repeats,
        "warnings": warnings,
        "comparable_to_published": not job.random_init,
        "deeppc_version": __version__,
    }


def _progress(job: ScoreJob, n_train: int) -> dict[str, Any] | None:
    """Training progress of the checkpoint: exact images seen (as the trainer counted them) and epochs."""
    if job.batch_size_train is None:
        return None
    seen = images_seen(job.iteration, n_train, job.batch_size_train, job.drop_last)
    return {"batch_size": job.batch_size_train, "drop_last": job.drop_last, "n_train": n_train,
            "images_seen": seen, "kimg": seen / 1000, "epochs": seen / n_train}
