"""Which observations a test compares: the checkpoint of each run and the unit of analysis.

The checkpoint comes from `stats.compare_at` (deeppc.stats.points: equal
images seen, equal epochs, each run's best on an independent selection set,
the last, or one iteration). Two units are possible, and every output says
which one was used:

- `training_seeds`: one value per training run (`name@r{k}`), the mean of
  that run's sample sets at its compared checkpoint. Training runs are the
  independent replications of a configuration, so this is the unit that
  supports claims about configurations. Sample sets are nested in their run
  and averaged rather than modelled: every run contributes the same number
  of sets of the same size, so the run means are independent and identically
  distributed under the null (variance σ²_seed + σ²_set/m), and Welch's
  t-test on them is the exact test of the nested (seed, set) model for a
  difference in configuration means — a mixed model with the seed as group
  would give the same test with more assumptions and fragile variance
  estimates at 3–5 seeds.
- `sample_sets`: the R generated sample sets scored at one checkpoint (the
  paper: 5 sets of one network). They measure the sampling noise of one
  trained generator, not how much a configuration varies between training
  runs, so "significant" means "these two trained networks differ", and with
  large sets almost every pair is. Every table, CSV and report caption then
  carries SAMPLE_SETS_WARNING.

`auto` takes `training_seeds` when every experiment with data has at least
two training runs at the compared checkpoint, otherwise `sample_sets`, so one
analysis never mixes units. With `sample_sets` and several runs the sets of
all runs are pooled (noted per experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deeppc.stats import points
from deeppc.stats.scores import StatsInputError, natural_key, require_metric

UNITS = ("auto", "sample_sets", "training_seeds")
UNIT_LABELS = {
    "sample_sets": "sample sets (independent generated sets scored at one checkpoint)",
    "training_seeds": "training seeds (one value per training run: the mean of its sample sets)",
}
OBS_COLUMNS = ["metric", "experiment", "family", "iteration", "kimg", "epochs", "unit", "replicate", "repeat",
               "n_sets", "value", "warning"]
SAMPLE_SETS_WARNING = (
    "WARNING: the unit of analysis is sample sets drawn from one trained network per experiment; "
    "these tests measure that network's sampling noise, not differences between configurations "
    "(train several seeds per experiment: train.replicates, stats.unit: training_seeds)"
)


@dataclass
class Observations:
    """The values compared for one metric, one row per unit, plus notes per experiment."""

    metric: str
    unit: str
    iteration_mode: str
    table: pd.DataFrame
    experiments: list[str]
    families: dict[str, str]
    iterations: dict[str, int | None]  # the compared iteration, when one run or all runs share it
    notes: dict[str, list[str]] = field(default_factory=dict)
    points: dict[str, str] = field(default_factory=dict)  # experiment -> 'iteration 7000 (448 kimg, ...)'
    warnings: list[str] = field(default_factory=list)  # apply to every test of this metric

    def values(self, experiment: str) -> np.ndarray:
        return self.table.loc[self.table.experiment == experiment, "value"].to_numpy(dtype=float)


def select_observations(
    frame: pd.DataFrame,
    metric: str,
    compare_at: str | int = "last",
    unit: str = "auto",
    order: list[str] | None = None,
    window: int = 3,
) -> Observations:
    """Pick the values of `metric` at each run's compared checkpoint, in the chosen unit.

    `compare_at` is any form of deeppc.stats.points (`last`, `best`, an
    iteration, `"448 kimg"`, `"200 epochs"`); `window` smooths the selection
    curve of `best`.
    """
    if unit not in UNITS:
        raise StatsInputError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    point = points.parse_compare_at(compare_at)
    experiments = _ordered(frame["experiment"].unique(), order)
    family_of = frame.groupby("experiment")["family"].first()
    families = {name: str(family_of[name]) for name in experiments}  # in analysis order
    rows = require_metric(frame, metric)
    notes: dict[str, list[str]] = {name: [] for name in experiments}
    by_experiment = dict(tuple(rows.groupby("experiment", sort=False)))
    chosen: dict[str, pd.DataFrame] = {}
    for name in experiments:
        if name not in by_experiment:
            notes[name].append(f"no {metric!r} values in any score file of {name}")
            continue
        picked = _chosen_rows(by_experiment[name], point, window, notes[name])
        if not picked.empty:
            chosen[name] = _finite(picked, notes[name])
    if not chosen:  # e.g. an iteration no run was scored at: say so instead of writing empty tables
        why = next((note for found in notes.values() for note in found), "")
        raise StatsInputError(f"compare at {point.label()}: no run has {metric!r} scores there ({why})")
    used = pd.concat(chosen.values())
    resolved = _resolve_unit(unit, used)
    warnings = _warnings(resolved, used)
    table = _to_unit(used, resolved, metric, notes, warnings)
    iterations = {name: _shared_iteration(chosen[name]) if name in chosen else None for name in experiments}
    described = {name: points.describe(part) for name, part in chosen.items() if not part.empty}
    return Observations(metric, resolved, point.label(), table, experiments, families, iterations, notes,
                        described, warnings)


def _ordered(names, order: list[str] | None) -> list[str]:
    names = sorted(map(str, names), key=natural_key)
    if not order:
        return names
    rank = {name: i for i, name in enumerate(order)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), natural_key(n)))


def _chosen_rows(rows: pd.DataFrame, point: points.ComparePoint, window: int, notes: list[str]) -> pd.DataFrame:
    """Each training run's rows at its compared checkpoint (and, for `best`, its test sets only)."""
    if point.kind == "iteration":  # the common case, without a per-run pass
        at = rows[rows.iteration == int(point.value)]
        if at.empty:
            notes.append(points.choose(rows, point, window).note)
        return at
    parts = []
    for _, run_rows in rows.groupby("run", sort=False):
        choice = points.choose(run_rows, point, window)
        if choice.note:
            notes.append(choice.note)
        if choice.iteration is None:
            continue
        at = run_rows[run_rows.iteration == choice.iteration]
        if choice.repeats is not None:
            at = at[at["repeat"].isin(choice.repeats)]
        parts.append(at)
    return pd.concat(parts) if parts else rows.iloc[0:0]


def _shared_iteration(rows: pd.DataFrame) -> int | None:
    iterations = rows["iteration"].unique()
    return int(iterations[0]) if len(iterations) == 1 else None


def _warnings(unit: str, used: pd.DataFrame) -> list[str]:
    warnings = [SAMPLE_SETS_WARNING] if unit == "sample_sets" and not used.empty else []
    unequal = points.unequal_progress(used) if not used.empty else ""
    return warnings + ([f"WARNING: {unequal}"] if unequal else [])


def _short(values) -> str:
    values = [str(int(v)) for v in values]
    return ", ".join(values if len(values) <= 6 else values[:3] + ["..."] + values[-2:])


def _finite(rows: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    keep = np.isfinite(rows["value"].to_numpy(dtype=float))
    if not keep.all():
        bad = rows.loc[~keep, "value"].tolist()
        notes.append(f"{len(bad)} non-finite value(s) dropped ({', '.join(map(str, bad[:3]))})")
    return rows[keep]


def _resolve_unit(unit: str, rows: pd.DataFrame) -> str:
    if unit != "auto":
        return unit
    if rows.empty:
        return "sample_sets"
    seeds = rows.groupby("experiment")["replicate"].nunique()
    return "training_seeds" if (seeds >= 2).all() else "sample_sets"


def _to_unit(rows: pd.DataFrame, unit: str, metric: str, notes: dict[str, list[str]],
             warnings: list[str]) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=OBS_COLUMNS)
    rows = rows.assign(kimg=rows["images_seen"] / 1000, epochs=rows["images_seen"] / rows["n_train"])
    if unit == "training_seeds":
        keys = ["experiment", "family", "iteration", "replicate"]
        grouped = rows.groupby(keys, sort=False)
        table = grouped["value"].agg(value="mean", n_sets="count").join(grouped[["kimg", "epochs"]].first())
        table = table.reset_index()
        table["repeat"] = math.nan
    else:
        table = rows[["experiment", "family", "iteration", "kimg", "epochs", "replicate", "repeat", "value"]].copy()
        table["n_sets"] = 1
        for name, seeds in rows.groupby("experiment")["replicate"].nunique().items():
            if seeds > 1:
                notes[name].append(f"sample sets pooled over {seeds} training seeds")
    table["metric"] = metric
    table["unit"] = unit
    table["warning"] = " | ".join(warnings)
    return table[OBS_COLUMNS].reset_index(drop=True)
