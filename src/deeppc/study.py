"""Checks across config sections, run before any job (the schema checks each section alone)."""

from __future__ import annotations

from typing import Mapping

from deeppc.config import ConfigError
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
    target = config["stats"]["compare_iteration"]
    if target == "best" and config["score"]["repeat_iterations"] != "all":
        raise ConfigError(
            "stats.compare_iteration 'best' needs repeated sample sets at every checkpoint: "
            "set score.repeat_iterations to 'all'"
        )
    if isinstance(target, int):
        missing = [name for name, s in settings.items() if target not in s.kept_checkpoints()]
        if missing:
            raise ConfigError(
                f"stats.compare_iteration {target} is not a kept checkpoint of {', '.join(missing)} "
                "(add it to train.keep_checkpoints)"
            )
    if not config["metrics"]["extractors"]:
        raise ConfigError("config key 'metrics.extractors' is empty: name at least one feature extractor")
