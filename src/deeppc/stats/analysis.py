"""The stats stage end to end: score files in, every table of `results/stats/` out.

Outputs (under `out`):
- `pairwise.csv`: every test, all metrics (docs/contracts.md, plus `unit`, `note` ...)
- `oneway.csv`: Welch's ANOVA per family and metric
- `best_checkpoints.csv`: best checkpoint and early-stopping point per experiment and metric
- `observations.csv`: the exact values each test compared (audit trail, Figure 6)
- `curves.csv`: mean/sd per experiment and iteration (Figures 3 and 7)
- `table3_{metric}.md`, `best_{metric}.md`: Markdown for the report
- `settings.json`: the settings used and the resolved unit of analysis per metric
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from deeppc import __version__
from deeppc.files import atomic_folder, moved, write_json, write_text
from deeppc.stats import best as best_mod
from deeppc.stats import tables, tests
from deeppc.stats.scores import StatsInputError, load_scores
from deeppc.stats.points import parse_compare_at
from deeppc.stats.units import select_observations

log = logging.getLogger(__name__)

# config key under `stats.best` -> StatsSettings field
_BEST_KEYS = {"window": "smoothing_window", "patience": "patience", "min_delta": "min_delta"}


@dataclass
class StatsSettings:
    """What the stats stage computes; `from_config` reads the study config's `stats:` key."""

    metrics: list[str] = field(default_factory=lambda: ["medfid"])
    compare_at: int | str = "last"
    unit: str = "auto"
    correction: str = "holm"
    correction_scope: str = "metric"
    alpha: float = 0.05
    within_family: bool = True
    comparisons: list[tests.Comparison] = field(default_factory=list)
    smoothing_window: int = 3
    patience: int = 3
    min_delta: float = 0.0
    table_p_values: bool = False
    order: list[str] | None = None

    @classmethod
    def from_config(cls, config: dict) -> "StatsSettings":
        """Settings from a validated study config (`stats:`; experiment order from `experiments:`)."""
        section = dict(config.get("stats") or {})
        best = section.pop("best", None) or {}
        comparisons = [tests.Comparison.from_config(c) for c in section.pop("comparisons", None) or []]
        simple = {"metrics", "compare_at", "unit", "correction", "correction_scope", "alpha",
                  "within_family", "table_p_values"}
        unknown = sorted(set(section) - simple) + sorted(f"best.{k}" for k in set(best) - set(_BEST_KEYS))
        if unknown:
            raise StatsInputError(f"unknown stats setting(s): {', '.join(unknown)}")
        experiments = config.get("experiments")
        order = list(experiments) if isinstance(experiments, dict) else None
        renamed = {_BEST_KEYS[k]: v for k, v in best.items()}
        return cls(**section, **renamed, comparisons=comparisons, order=order)

    def check(self) -> None:
        parse_compare_at(self.compare_at)
        tests.adjust([], self.correction, self.alpha)
        if not self.metrics:
            raise StatsInputError("no metrics to analyse")
        if not 0 < self.alpha < 1:
            raise StatsInputError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.patience < 1 or self.min_delta < 0:
            raise StatsInputError(f"need patience >= 1 and min_delta >= 0, got {self.patience} and {self.min_delta}")


def analyse_metric(frame: pd.DataFrame, metric: str, settings: StatsSettings) -> dict[str, pd.DataFrame]:
    """All tables for one metric, in memory."""
    best = best_mod.best_checkpoints(frame, metric, settings.smoothing_window, settings.patience, settings.min_delta)
    obs = select_observations(frame, metric, settings.compare_at, settings.unit, settings.order,
                              settings.smoothing_window)
    pairwise = tests.pairwise_tests(obs, settings.comparisons, settings.correction, settings.alpha,
                                    settings.correction_scope, settings.within_family)
    untested = int(pairwise["p"].isna().sum())
    if untested:
        log.warning("%s: %d of %d pairs could not be tested (see the note column of pairwise.csv)",
                    metric, untested, len(pairwise))
    log.info("%s: unit of analysis %s, compared at %s", metric, obs.unit, obs.iteration_mode)
    for warning in obs.warnings:
        log.warning("%s: %s", metric, warning)
    return {"pairwise": pairwise, "oneway": tests.oneway_tests(obs), "best": best,
            "observations": obs.table, "curves": best_mod.score_curves(frame, metric), "unit": obs.unit,
            "points": obs.points, "warnings": obs.warnings}


def run_analysis(
    scores: pd.DataFrame | Iterable[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    settings: StatsSettings | None = None,
) -> dict[str, str]:
    """Load scores (or take a loaded frame), compute every table, write them; returns name -> path."""
    settings = settings or StatsSettings()
    settings.check()
    frame = scores if isinstance(scores, pd.DataFrame) else load_scores(scores)
    results = {metric: analyse_metric(frame, metric, settings) for metric in settings.metrics}
    out = Path(out)
    with atomic_folder(out) as build:  # every table or none
        paths = _write_tables(results, settings, len(frame), build)
    return moved(paths, build, out)


_TABLES = {"pairwise": "pairwise.csv", "oneway": "oneway.csv", "best": "best_checkpoints.csv",
           "observations": "observations.csv", "curves": "curves.csv"}


def output_files(metrics: Iterable[str]) -> list[str]:
    """The names of every file the stats stage writes for `metrics` (the workflow's rule lists them from here)."""
    per_metric = [f"{kind}_{m}.md" for m in metrics for kind in ("table3", "best")]
    return [*_TABLES.values(), "settings.json", *per_metric]


def _write_tables(results: dict[str, dict], settings: StatsSettings, n_rows: int, out: Path) -> dict[str, str]:
    paths: dict[str, str] = {}
    for name, filename in _TABLES.items():
        table = pd.concat([r[name] for r in results.values()], ignore_index=True)
        paths[name] = tables.write_csv(table, out / filename)
    for metric, r in results.items():
        md = tables.table3_markdown(r["pairwise"], metric, settings.correction_scope,
                                    settings.table_p_values, r["oneway"])
        for name, text in ((f"table3_{metric}", md), (f"best_{metric}", tables.best_markdown(r["best"]))):
            write_text(out / f"{name}.md", text)
            paths[name] = os.fspath(out / f"{name}.md")
    record = asdict(settings) | {"unit_used": {m: r["unit"] for m, r in results.items()},
                                 "compared_at": {m: r["points"] for m, r in results.items()},
                                 "warnings": {m: r["warnings"] for m, r in results.items()},
                                 "deeppc_version": __version__, "n_score_rows": n_rows}
    write_json(out / "settings.json", record)
    paths["settings"] = os.fspath(out / "settings.json")
    return paths
