"""Checks across config sections, run before any job (the schema checks each section alone)."""

from __future__ import annotations

from typing import Mapping

from deeppc.config import ConfigError
from deeppc.stats.points import parse_compare_at
from deeppc.train.settings import TrainSettings, from_config, study_runs


def train_settings(config: Mapping) -> dict[str, TrainSettings]:
    """Resolved training settings of every training run (experiments and their replicates), in config order."""
    return {run: from_config(config, run) for runs in study_runs(config).values() for run in runs}


def check_study(config: Mapping, settings: Mapping[str, TrainSettings]) -> None:
    """Raise ConfigError naming the keys when sections disagree."""
    views = config["data"]["views"]
    for name, s in settings.items():
        if s.view not in views:
            raise ConfigError(f"experiment '{name}': view '{s.view}' is not one of data.views {views}")
    _check_compare_at(config, settings)
    if config["score"]["memorization"] and config["data"]["split"]["holdout_fraction"] == 0:
        raise ConfigError(
            "score.memorization needs held-out images, but data.split.holdout_fraction is 0: "
            "set score.memorization to false or hold out a share of the patients"
        )
    if config["vtt"]["enabled"] and config["data"]["split"]["holdout_fraction"] == 0:
        raise ConfigError("vtt.enabled shows raters held-out real images, but data.split.holdout_fraction is 0")
    _check_classes(config, settings)
    if not config["metrics"]["extractors"]:
        raise ConfigError("config key 'metrics.extractors' is empty: name at least one feature extractor")


def _check_classes(config: Mapping, settings: Mapping[str, TrainSettings]) -> None:
    """`label` and `classes` need utility.labels, and name classes of it."""
    utility = config.get("utility", {})
    for name, s in settings.items():
        named = [s.label] if s.label else list(s.classes or [])
        if not named:
            continue
        what = "label (train on one class)" if s.label else "classes (one class-conditional GAN)"
        if not utility.get("labels"):
            raise ConfigError(f"experiment '{name}': {what} needs utility.labels, the CSV that gives each image "
                              "its class")  # fmt: skip
        unknown = [c for c in named if utility.get("classes") and c not in utility["classes"]]
        if unknown:
            raise ConfigError(f"experiment '{name}': class(es) {unknown} are not in utility.classes "
                              f"{utility['classes']}")  # fmt: skip


def compared_iteration(config: Mapping, settings: TrainSettings) -> int | None:
    """The checkpoint a run is compared at when the config alone decides it, else None (best, epochs)."""
    point = parse_compare_at(config["stats"]["compare_at"])
    if point.kind == "last":
        return settings.kept_checkpoints()[-1]
    if point.kind == "iteration":
        return int(point.value)
    if point.kind == "kimg":
        return point.kimg_iteration(settings.batch_size)
    return None


def _check_compare_at(config: Mapping, settings: Mapping[str, TrainSettings]) -> None:
    try:
        point = parse_compare_at(config["stats"]["compare_at"])
    except ValueError as exc:
        raise ConfigError(f"config key 'stats.compare_at': {exc}") from None
    score = config["score"]
    if point.needs_every_checkpoint and score["repeat_iterations"] != "all":
        raise ConfigError(
            f"stats.compare_at {point.label()!r} picks the checkpoint after scoring, so it needs sample sets "
            "at every checkpoint: set score.repeat_iterations to 'all'"
        )
    if point.kind == "best" and score["repeats"] < 2:
        raise ConfigError("stats.compare_at 'best' chooses on sample set 0 and tests the others: "
                          "set score.repeats to 2 or more")
    if point.kind in ("iteration", "kimg"):
        missing = [f"{name} (iteration {compared_iteration(config, s)}, batch {s.batch_size})"
                   for name, s in settings.items() if compared_iteration(config, s) not in s.kept_checkpoints()]
        if missing:
            raise ConfigError(
                f"stats.compare_at {point.label()!r} is not a kept checkpoint of {', '.join(missing)}: "
                "add it to train.keep_checkpoints (or the experiment's), or choose K so that "
                "K*1000/batch_size is one"
            )
