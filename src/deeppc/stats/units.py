"""Which observations a test compares: the iteration and the unit of analysis.

Two units are possible, and every output says which one was used:

- `sample_sets`: the R independent generated sample sets scored at one
  checkpoint (the paper: 5 sets). They measure the scoring noise of one
  trained generator, not how much a configuration varies between training
  runs, so a significant difference means "these two trained generators
  differ", not "these two configurations differ".
- `training_seeds`: one value per training replicate (`name@r{k}`), the mean
  of that replicate's sample sets. This is the unit that supports claims
  about configurations.

`auto` takes `training_seeds` when every experiment with data has at least
two replicates at the compared iteration, otherwise `sample_sets`, so one
analysis never mixes units. With `sample_sets` and several replicates the sets
of all replicates are pooled (noted per experiment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from deeppc.stats.scores import StatsInputError, natural_key, require_metric

UNITS = ("auto", "sample_sets", "training_seeds")
UNIT_LABELS = {
    "sample_sets": "sample sets (independent generated sets scored at one checkpoint)",
    "training_seeds": "training seeds (one value per training run: the mean of its sample sets)",
}
OBS_COLUMNS = ["metric", "experiment", "family", "iteration", "unit", "replicate", "repeat", "n_sets", "value"]


@dataclass
class Observations:
    """The values compared for one metric, one row per unit, plus notes per experiment."""

    metric: str
    unit: str
    iteration_mode: str
    table: pd.DataFrame
    experiments: list[str]
    families: dict[str, str]
    iterations: dict[str, int | None]
    notes: dict[str, list[str]] = field(default_factory=dict)

    def values(self, experiment: str) -> np.ndarray:
        return self.table.loc[self.table.experiment == experiment, "value"].to_numpy(dtype=float)


def parse_iteration(value: str | int) -> int | str:
    """`'800'` or 800 -> 800; `'best'` and `'last'` stay strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("best", "last"):
        return text
    try:
        return int(text)
    except ValueError:
        raise StatsInputError(f"compare iteration must be an integer, 'best' or 'last', got {value!r}") from None


def select_observations(
    frame: pd.DataFrame,
    metric: str,
    iteration: int | str = "last",
    unit: str = "auto",
    best_iterations: dict[str, int] | None = None,
    order: list[str] | None = None,
) -> Observations:
    """Pick the values of `metric` at the compared iteration, in the chosen unit.

    `iteration` is an integer (the same for every experiment, the paper's
    "200 epochs"), `"last"` (each experiment's last scored iteration) or
    `"best"` (each experiment's best checkpoint from `best_iterations`).
    """
    if unit not in UNITS:
        raise StatsInputError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    mode = parse_iteration(iteration)
    if mode == "best" and best_iterations is None:
        raise StatsInputError("iteration 'best' needs the best checkpoint per experiment (best_iterations)")
    experiments = _ordered(frame["experiment"].unique(), order)
    family_of = frame.groupby("experiment")["family"].first()
    families = {name: str(family_of[name]) for name in experiments}  # in analysis order
    rows = require_metric(frame, metric)
    notes: dict[str, list[str]] = {name: [] for name in experiments}
    chosen: dict[str, int | None] = {}
    parts = []
    for name in experiments:
        mine = rows[rows.experiment == name]
        chosen[name] = _iteration_for(name, mine, mode, best_iterations, metric, notes[name])
        if chosen[name] is None:
            continue
        at = mine[mine.iteration == chosen[name]]
        parts.append(_finite(at, notes[name]))
    used = pd.concat(parts) if parts else rows.iloc[0:0]
    resolved = _resolve_unit(unit, used)
    table = _to_unit(used, resolved, metric, notes)
    return Observations(metric, resolved, str(mode), table, experiments, families, chosen, notes)


def _ordered(names, order: list[str] | None) -> list[str]:
    names = sorted(map(str, names), key=natural_key)
    if not order:
        return names
    rank = {name: i for i, name in enumerate(order)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), natural_key(n)))


def _iteration_for(name, rows, mode, best_iterations, metric, notes) -> int | None:
    if rows.empty:
        notes.append(f"no {metric!r} values in any score file of {name}")
        return None
    scored = sorted(rows.iteration.unique())
    if mode == "last":
        return int(scored[-1])
    if mode == "best":
        if name not in best_iterations or best_iterations[name] is None:
            notes.append(f"no best checkpoint for {name}")
            return None
        return int(best_iterations[name])
    if mode not in scored:
        notes.append(f"no {metric!r} score at iteration {mode} (scored: {_short(scored)})")
        return None
    return int(mode)


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


def _to_unit(rows: pd.DataFrame, unit: str, metric: str, notes: dict[str, list[str]]) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=OBS_COLUMNS)
    if unit == "training_seeds":
        grouped = rows.groupby(["experiment", "family", "iteration", "replicate"], sort=False)["value"]
        table = grouped.agg(value="mean", n_sets="count").reset_index()
        table["repeat"] = math.nan
    else:
        table = rows[["experiment", "family", "iteration", "replicate", "repeat", "value"]].copy()
        table["n_sets"] = 1
        for name, seeds in rows.groupby("experiment")["replicate"].nunique().items():
            if seeds > 1:
                notes[name].append(f"sample sets pooled over {seeds} training seeds")
    table["metric"] = metric
    table["unit"] = unit
    return table[OBS_COLUMNS].reset_index(drop=True)
