"""Best checkpoint and early-stopping point of each experiment, from its score curve.

Definitions (lower scores are better, as for FID and MedFID):

- Curve: at each scored iteration, the mean over training replicates of
  each replicate's mean over its sample sets; non-finite values are dropped.
- Best checkpoint: the iteration where the curve, smoothed by a centered
  moving average over `window` consecutive checkpoints (fewer at the ends),
  is lowest; ties go to the lower raw mean, then the earlier. Smoothing keeps one lucky sample set
  from deciding, but choosing the minimum of a noisy curve is still biased
  low: compare experiments at their best checkpoints with that in mind.
- Early stopping: what a patience rule run during training would have done.
  It sees only the past, so it walks the *trailing* moving average (same
  window): a checkpoint improves when its smoothed score is below the best
  so far by more than `min_delta` (metric units); training stops at the
  `patience`-th consecutive checkpoint without improvement. `last_improvement`
  is the iteration of the last improvement before that stop (or before the
  end of the curve), `stop_iteration` the checkpoint where the rule fires,
  empty when it never does.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deeppc.stats.scores import StatsInputError, natural_key, require_metric

CURVE_COLUMNS = ["metric", "experiment", "family", "iteration", "mean", "sd", "n", "replicates"]
BEST_COLUMNS = [
    "metric", "experiment", "family", "replicates", "n_checkpoints", "first_iteration", "last_iteration",
    "smoothing", "best_iteration", "best_smoothed", "best_raw", "min_raw_iteration", "min_raw",
    "patience", "min_delta", "last_improvement", "stop_iteration", "note",
]


def score_curves(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean, sd and count of the metric per (experiment, iteration) over all its finite values.

    `mean` averages replicate means (each training run weighs the same);
    `sd` and `n` are over every sample set of every replicate, for error bands.
    """
    rows = require_metric(frame, metric)
    rows = rows[np.isfinite(rows["value"].to_numpy(dtype=float))]
    keys = ["experiment", "family", "iteration"]
    per_rep = rows.groupby(keys + ["replicate"])["value"].mean().groupby(keys)
    spread = rows.groupby(keys)["value"].agg(sd=lambda v: v.std(ddof=1) if len(v) > 1 else math.nan, n="count")
    curves = pd.concat([per_rep.mean().rename("mean"), spread, per_rep.size().rename("replicates")], axis=1)
    curves = curves.reset_index()
    curves["metric"] = metric
    order = sorted(curves["experiment"].unique(), key=natural_key)
    curves["experiment"] = pd.Categorical(curves["experiment"], order, ordered=True)
    curves = curves.sort_values(["experiment", "iteration"]).reset_index(drop=True)
    curves["experiment"] = curves["experiment"].astype(str)
    return curves[CURVE_COLUMNS]


def smooth(values: np.ndarray, window: int, centered: bool) -> np.ndarray:
    """Moving average over `window` checkpoints; partial windows at the ends."""
    return pd.Series(values).rolling(window, center=centered, min_periods=1).mean().to_numpy()


def early_stop(smoothed: np.ndarray, patience: int, min_delta: float) -> tuple[int, int | None]:
    """(index of last improvement, index where the patience rule fires or None)."""
    best, best_index, since = math.inf, 0, 0
    for index, value in enumerate(smoothed):
        if value < best - min_delta:
            best, best_index, since = value, index, 0
            continue
        since += 1
        if since >= patience:
            return best_index, index
    return best_index, None


def best_checkpoints(
    frame: pd.DataFrame, metric: str, window: int = 3, patience: int = 3, min_delta: float = 0.0
) -> pd.DataFrame:
    """One row per experiment: best checkpoint and early-stopping point (see module doc)."""
    if window < 1 or window % 2 == 0:
        raise StatsInputError(f"smoothing window must be an odd number of checkpoints >= 1, got {window}")
    if patience < 1:
        raise StatsInputError(f"patience must be >= 1 checkpoint, got {patience}")
    curves = score_curves(frame, metric)
    rows = []
    families = frame.groupby("experiment")["family"].first()
    for name in sorted(frame["experiment"].unique(), key=natural_key):
        curve = curves[curves.experiment == name]
        rows.append(_best_row(name, families[name], curve, metric, window, patience, min_delta))
    ints = ["replicates", "first_iteration", "last_iteration", "best_iteration", "min_raw_iteration",
            "last_improvement", "stop_iteration"]
    return pd.DataFrame(rows, columns=BEST_COLUMNS).astype({col: "Int64" for col in ints})


def _best_row(name, family, curve, metric, window, patience, min_delta) -> dict:
    row = {"metric": metric, "experiment": name, "family": family, "n_checkpoints": len(curve),
           "smoothing": f"centered moving average over {window} checkpoint(s)" if window > 1 else "none",
           "patience": patience, "min_delta": min_delta}
    if curve.empty:
        return row | {"note": f"no finite {metric!r} values for {name}"}
    iterations, raw = curve["iteration"].to_numpy(), curve["mean"].to_numpy(dtype=float)
    centered = smooth(raw, window, centered=True)
    # ties (a short curve smoothed flat) go to the lower raw score, then the earlier checkpoint
    best = int(np.lexsort((np.arange(len(raw)), raw, centered))[0])
    row |= {"replicates": int(curve["replicates"].max()), "first_iteration": int(iterations[0]),
            "last_iteration": int(iterations[-1]), "best_iteration": int(iterations[best]),
            "best_smoothed": float(centered[best]), "best_raw": float(raw[best]),
            "min_raw_iteration": int(iterations[np.argmin(raw)]), "min_raw": float(raw.min())}
    if len(curve) == 1:
        return row | {"note": "a single checkpoint: best is that checkpoint; early stopping not assessed"}
    last, stop = early_stop(smooth(raw, window, centered=False), patience, min_delta)
    row["last_improvement"] = int(iterations[last])
    if stop is None:
        row["note"] = f"still improving within patience={patience} at the last checkpoint: no early stop"
    else:
        row["stop_iteration"] = int(iterations[stop])
        row["note"] = ""
    return row


def best_iteration_map(best: pd.DataFrame) -> dict[str, int | None]:
    """experiment -> best iteration (None where there is none), for select_observations."""
    out = {}
    for name, value in zip(best["experiment"], best["best_iteration"]):
        out[name] = None if pd.isna(value) else int(value)
    return out
