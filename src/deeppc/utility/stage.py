"""The utility stage: do a GAN's images help a classifier on real patients?

For every seed, one classifier per arm (see `deeppc.utility.arms`), all
trained with the same budget and early-stopping rule (`deeppc.utility.fit`)
on the same real validation patients, and all tested on the real held-out
patients only. Writes, atomically, into one folder:

* `runs.csv`: one row per (arm, seed): the training set's make-up, the
  stopping step, every metric with its patient-bootstrap interval;
* `arms.csv`: per arm, the mean and SD over seeds of each metric (unit and n stated);
* `paired.csv`: every arm against `real`, paired by seed, corrected per metric;
* `quality.csv` and `correlation.csv` (workflow only): per synthetic arm, its
  gain over real-only beside its source's image-quality scores; Spearman's ρ
  between gain and each score across sources (does MedFID predict usefulness?);
* `task.json`: classes, images and patients per split, the settings and seeds.

The workflow runs one job per (arm, seed) (`arm_job`, one JSON each) and one
summary (`summary_job`); `run_study` does the same in one process.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from deeppc import files
from deeppc.seeding import derive_seed
from deeppc.utility import arms as arm_sets
from deeppc.utility import compare, evaluate
from deeppc.utility.augment import ClassicalAugment
from deeppc.utility.arms import Arm
from deeppc.utility.fit import FitSettings, fit, predict
from deeppc.utility.synthetic import pools_by_class
from deeppc.utility.task import SYNTHETIC_GROUP, LabelledImages, load_task, validation_split
from deeppc.validate import InputError

log = logging.getLogger("deeppc.utility")


@dataclass(frozen=True)
class UtilitySettings:
    """The study design (config section `utility`); `fit` is how each classifier is trained."""

    fit: FitSettings = field(default_factory=FitSettings)
    seeds: int = 5
    ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    balance: str = "balanced"
    augment: bool = True
    synthetic_only: bool = True
    validation_fraction: float = 0.2
    bootstrap: int = 1000
    correction: str = "holm"
    alpha: float = 0.05
    seed: int = 0

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int, device: str = "cpu") -> "UtilitySettings":
        """From the config's `utility` section (keys as in the schema), the study's root seed and the device."""
        fit_keys = {f.name for f in fields(FitSettings)} - {"device"}
        own = {f.name for f in fields(cls)} - {"fit", "seed", "ratios"}
        fit_settings = FitSettings(device=device, **{k: v for k, v in section.items() if k in fit_keys})
        return cls(fit=fit_settings,
                   ratios=tuple(float(r) for r in section.get("ratios", cls.ratios)), seed=seed,
                   **{k: v for k, v in section.items() if k in own})  # fmt: skip

    def arms(self, sources: list[str]) -> list[Arm]:
        """real, augment, then per source every ratio and synthetic-only."""
        out = [Arm("real")] + ([Arm("augment")] if self.augment else [])
        for source in sources:
            out += [Arm("mixed", source, ratio) for ratio in self.ratios]
            out += [Arm("synthetic_only", source)] if self.synthetic_only else []
        return out

    def seed_of(self, index: int) -> int:
        """The seed of replicate `index`: the same for every arm (the pairing)."""
        return derive_seed(self.seed, "utility", index) % 2**31


def run_arm(
    arm: Arm, train: LabelledImages, val: LabelledImages, test: LabelledImages,
    synthetic: dict[str, np.ndarray] | None, settings: UtilitySettings, index: int,
) -> dict:
    """Train and test one classifier; the row of `runs.csv`."""
    seed = settings.seed_of(index)
    data = arm_sets.training_set(arm, train, synthetic, settings.balance, derive_seed(seed, "draw", arm.name))
    augment = ClassicalAugment() if arm.kind == "augment" else None
    model, history = fit(data, val, settings.fit, seed, augment)
    prob = predict(model, test.images, settings.fit.device)
    point = evaluate.scores(test.labels, prob, test.classes)
    intervals = evaluate.patient_bootstrap(test.labels, prob, test.groups, test.classes, settings.bootstrap,
                                           derive_seed(seed, "bootstrap", arm.name))  # fmt: skip
    row = {"arm": arm.name, "kind": arm.kind, "source": arm.source or "", "ratio": arm.ratio, "seed": index,
           "n_train": len(data), "n_real": int(np.sum(data.groups != SYNTHETIC_GROUP)),
           "n_synthetic": int(np.sum(data.groups == SYNTHETIC_GROUP)),
           **{f"n_{name}": n for name, n in data.counts().items()},
           "best_step": history["best_step"], "steps_run": history["steps_run"],
           "best_val_loss": history["best_val_loss"]}  # fmt: skip
    for name, value in point.items():
        row |= {name: value, f"{name}_low": intervals[name]["low"], f"{name}_high": intervals[name]["high"]}
    log.info("utility %s seed %d: balanced accuracy %.3f", arm.name, index, point["balanced_accuracy"])
    return row


def summarise(runs: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Per arm: n seeds, mean and SD over seeds of each metric."""
    grouped = runs.groupby("arm", sort=False)
    table = grouped[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table.insert(0, "n", grouped.size())
    table.insert(0, "unit", compare.UNIT)
    return table.reset_index()


def metric_names(classes: tuple[str, ...]) -> list[str]:
    return [*evaluate.METRICS, *(f"recall_{name}" for name in classes)]


def tables(rows: list[dict], classes: tuple[str, ...], settings: UtilitySettings) -> dict[str, pd.DataFrame]:
    """runs, arms and paired tables from the rows of `run_arm`."""
    runs = pd.DataFrame(rows).sort_values(["seed"], kind="stable").reset_index(drop=True)
    metrics = metric_names(classes)
    return {"runs": runs, "arms": summarise(runs, metrics),
            "paired": compare.paired_against(runs, metrics, "real", settings.correction, settings.alpha)}


def write_tables(found: dict[str, pd.DataFrame], task: dict, out: str | Path) -> None:
    """Each table as NAME.csv and the task record as task.json, all or nothing."""
    with files.atomic_folder(out) as build:
        for name, table in found.items():
            table.to_csv(build / f"{name}.csv", index=False)
        files.write_json(build / "task.json", task)


def _require_seeds(settings: UtilitySettings) -> None:
    if settings.seeds < 2:
        raise InputError(f"utility.seeds must be at least 2 (the unit of the paired tests), got {settings.seeds}")


def run_study(
    task: dict[str, LabelledImages], synthetic: dict[str, dict[str, np.ndarray]], settings: UtilitySettings,
    out: str | Path,
) -> dict[str, pd.DataFrame]:
    """Every arm × seed on `task` ('train', 'holdout'); `synthetic`: source -> class -> images."""
    _require_seeds(settings)
    fit_set, val = validation_split(task["train"], settings.validation_fraction, settings.seed)
    test = task["holdout"]
    covered = {source: set(pools) for source, pools in synthetic.items()}
    for source, found in covered.items():
        if found - set(test.classes):
            raise InputError(f"synthetic source {source}: class(es) {sorted(found - set(test.classes))} are not "
                             f"classes of the task {list(test.classes)}")  # fmt: skip
    arms, skipped = runnable_arms(settings, covered, test.classes)
    rows = [run_arm(arm, fit_set, val, test, synthetic.get(arm.source or ""), settings, i)
            for i in range(settings.seeds) for arm in arms]  # fmt: skip
    found = tables(rows, test.classes, settings)
    record = task_record(fit_set, val, test, settings, list(synthetic)) | {"skipped": skipped}
    write_tables(found, record, out)
    return found


def runnable_arms(
    settings: UtilitySettings, covered: Mapping[str, set[str]], classes: Sequence[str]
) -> tuple[list[Arm], dict[str, str]]:
    """The arms of `settings` for sources covering these classes, less synthetic-only arms of sources that miss
    a class (those with the reason); `covered` maps each source to the classes it generates."""
    arms, skipped = [], {}
    for arm in settings.arms(list(covered)):
        if arm.kind == "synthetic_only" and covered[arm.source] != set(classes):
            skipped[arm.name] = (f"source {arm.source} generates {sorted(covered[arm.source])}, "
                                 f"not every class of {list(classes)}")
        else:
            arms.append(arm)
    return arms, skipped


def task_record(fit_set, val, test, settings: UtilitySettings, sources: list[str]) -> dict:
    def describe(s: LabelledImages) -> dict:
        return {"images": len(s), "patients": s.patients(), "per_class": s.counts()}

    return {"classes": list(test.classes), "train": describe(fit_set), "validation": describe(val),
            "holdout": describe(test), "sources": sources, "unit": compare.UNIT,
            "seeds": [settings.seed_of(i) for i in range(settings.seeds)],
            "settings": _settings_record(settings) | {"fit": settings.fit.to_dict()}}


def _settings_record(settings: UtilitySettings) -> dict:
    return {k: v for k, v in settings.__dict__.items() if k != "fit"}


# --------------------------------------------------------------------------- workflow jobs


def arm_job(
    arm: Arm, index: int, data_dir: str | Path, pools: list[str | Path], settings: UtilitySettings, out: str | Path,
    *, labels_csv: str | Path | None = None, classes: list[str] | None = None, size: int | None = None,
) -> dict:
    """One (arm, seed) of the workflow: the run_arm row and the task record, as one JSON."""
    _require_seeds(settings)
    task = load_task(data_dir, labels_csv, classes, size)
    fit_set, val = validation_split(task["train"], settings.validation_fraction, settings.seed)
    synthetic = pools_by_class(pools, size) if pools else None
    row = run_arm(arm, fit_set, val, task["holdout"], synthetic, settings, index)
    sources = [arm.source] if arm.source else []
    record = {"row": row, "task": task_record(fit_set, val, task["holdout"], settings, sources)}
    files.write_json(out, record)
    return record


QUALITY_METRICS = ("fid", "medfid", "kid", "precision", "recall")


def source_quality(
    score_files: list[str | Path], sources: Mapping[str, list[str]], iterations: Mapping[str, int]
) -> pd.DataFrame:
    """Per source: the mean of each image-quality score over its runs (and sample sets) at their chosen checkpoints."""
    from deeppc.stats.scores import load_scores

    scores = load_scores(score_files)
    scores = scores[scores.metric.isin(QUALITY_METRICS) & (scores.iteration == scores.run.map(iterations))]
    rows = []
    for name, experiments in sources.items():
        mine = scores[scores.experiment.isin(experiments)]
        rows.append({"source": name, **mine.groupby("metric").value.mean().to_dict()})
    return pd.DataFrame(rows)


def summary_job(
    arm_files: list[str | Path], settings: UtilitySettings, out: str | Path, quality: pd.DataFrame | None = None,
    skipped: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables of a workflow's arm JSONs (and, given per-source quality scores, quality.csv)."""
    records = [json.loads(Path(p).read_text(encoding="utf-8")) for p in arm_files]
    task = dict(records[0]["task"])  # the split and counts every arm job saw; the design from `settings`
    task["sources"] = sorted({r["row"]["source"] for r in records} - {""})
    task["skipped"] = dict(skipped or {})
    task["seeds"] = [settings.seed_of(i) for i in range(settings.seeds)]
    task["settings"] = _settings_record(settings) | {"fit": task["settings"]["fit"]}
    found = tables([r["row"] for r in records], tuple(task["classes"]), settings)
    if quality is not None:
        found["quality"] = compare.gain_and_quality(found["runs"], found["paired"], quality)
        scores = [c for c in quality.columns if c != "source"]
        found["correlation"] = compare.correlations(found["quality"], scores)
    write_tables(found, task, out)
    return found
