"""Where experiments are compared: `stats.compare_at`, parsed and resolved per training run.

Comparing raw iterations across batch sizes compares unequal training: at
iteration 7000 a batch-16 StyleGAN2 has seen 112 thousand images, a batch-64
WGAN-GP 448 thousand. The forms, and what each one compares:

- ``"K kimg"``: equal images seen. Each run at the iteration where its
  minibatches total K thousand images (iteration = K·1000 / batch size, which
  must be a kept checkpoint of every run; the study check refuses anything
  else). Known from the config alone, so the sample sets are drawn at that
  checkpoint only. With ``drop_last: false`` an epoch's last batch is short,
  so the exact count can be lower by under one batch per epoch; the tables
  print the exact images seen and epochs of every run.
- ``"E epochs"``: equal passes over the training set. Each run at the kept
  checkpoint whose exact epochs (images seen / training images, from the
  score file's ``progress``) are nearest to E. The training-set size is
  known only after the data stage, so this needs sample sets at every
  checkpoint (``score.repeat_iterations: all``).
- ``best``: each training run at its own best checkpoint, chosen on its
  *selection* sample set (repeat 0, smoothed over ``stats.best.window``
  checkpoints) and tested on its other sets (repeats ≥ 1). Choosing and
  testing on the same sets would favour the noisiest runs (the winner's
  curse); here the tested values are independent of the choice. Needs at
  least 2 sets at every checkpoint.
- ``last``: each run's last scored checkpoint (equal progress only when every
  run has the same iterations and batch size).
- an integer N: iteration N for every run (the paper's convention). When the
  runs' images seen differ, every table says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deeppc.stats.scores import StatsInputError

KINDS = ("last", "best", "iteration", "kimg", "epochs")
_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(kimg|epochs?)\s*$", re.IGNORECASE)
# two runs whose images seen differ by more than this share are "not at equal progress"
UNEQUAL_PROGRESS = 0.05


@dataclass(frozen=True)
class ComparePoint:
    """One parsed `compare_at` value."""

    kind: str
    value: float | None = None

    @property
    def needs_every_checkpoint(self) -> bool:
        """Whether the compared checkpoint is known only after scoring (sets needed everywhere)."""
        return self.kind in ("best", "epochs")

    def label(self) -> str:
        if self.kind in ("last", "best"):
            return self.kind
        if self.kind == "iteration":
            return f"iteration {int(self.value)}"
        return f"{self.value:g} {self.kind}"

    def kimg_iteration(self, batch_size: int) -> int | None:
        """The iteration at which minibatches of `batch_size` total K·1000 images (None if not whole)."""
        images = self.value * 1000
        iteration = images / batch_size
        return int(round(iteration)) if abs(iteration - round(iteration)) < 1e-9 else None


def parse_compare_at(value: str | int | float) -> ComparePoint:
    """`last`, `best`, an iteration (int), `"448 kimg"` or `"200 epochs"`."""
    if isinstance(value, bool):
        raise StatsInputError(f"compare_at must be last, best, an iteration, 'K kimg' or 'E epochs', got {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return ComparePoint("iteration", float(int(value)))
    text = str(value).strip().lower()
    if text in ("last", "best"):
        return ComparePoint(text)
    match = _UNIT.match(text)
    if match and float(match[1]) > 0:
        kind = "kimg" if match[2] == "kimg" else "epochs"
        return ComparePoint(kind, float(match[1]))
    raise StatsInputError(
        f"compare_at must be last, best, an iteration (e.g. 7000), 'K kimg' (e.g. '448 kimg') "
        f"or 'E epochs' (e.g. '200 epochs'), got {value!r}"
    )


@dataclass(frozen=True)
class RunChoice:
    """The checkpoint and sample sets one training run contributes."""

    iteration: int | None
    repeats: tuple[int, ...] | None = None  # None: every set at that checkpoint
    note: str = ""


def choose(run_rows: pd.DataFrame, point: ComparePoint, window: int = 3) -> RunChoice:
    """The compared checkpoint of one training run, from its rows of one metric."""
    scored = sorted(int(i) for i in run_rows["iteration"].unique())
    first = run_rows.iloc[0]
    # notes name the metric, and the run when the experiment has several
    run = f"{first['metric']!r}" + (f" of {first['run']}" if first["run"] != first["experiment"] else "")
    if point.kind == "last":
        return RunChoice(scored[-1])
    if point.kind == "iteration":
        return _exact(run, scored, int(point.value))
    if point.kind == "kimg":
        batch = _progress(run_rows, "batch_size", point)
        target = point.kimg_iteration(int(batch))
        if target is None:
            return RunChoice(None, note=f"{point.label()} is no whole iteration at batch size {int(batch)}")
        return _exact(run, scored, target)
    if point.kind == "epochs":
        return _nearest_epochs(run_rows, point)
    return _best_on_selection_set(run_rows, window)


def _exact(run: str, scored: list[int], target: int) -> RunChoice:
    if target in scored:
        return RunChoice(target)
    return RunChoice(None, note=f"no {run} score at iteration {target} (scored: {_short(scored)})")


def _progress(rows: pd.DataFrame, column: str, point: ComparePoint) -> float:
    values = rows[column].dropna().unique()
    if len(values) == 0:
        source = rows["source"].iloc[0]
        raise StatsInputError(
            f"{source}: no progress.{column} in the score file, which compare_at {point.label()!r} needs "
            "(score files written before deeppc recorded training progress: rescore them)"
        )
    return float(values[0])


def _nearest_epochs(rows: pd.DataFrame, point: ComparePoint) -> RunChoice:
    per_iteration = rows.groupby("iteration")[["images_seen", "n_train"]].first()
    if per_iteration.isna().any().any():
        _progress(rows[rows["images_seen"].isna() | rows["n_train"].isna()], "images_seen", point)
    epochs = per_iteration["images_seen"] / per_iteration["n_train"]
    distance = (epochs - point.value).abs().to_numpy()
    index = int(np.lexsort((per_iteration.index.to_numpy(), distance))[0])  # ties: the earlier checkpoint
    return RunChoice(int(per_iteration.index[index]))


def _best_on_selection_set(rows: pd.DataFrame, window: int) -> RunChoice:
    selection = rows[rows["repeat"] == 0].groupby("iteration")["value"].mean().sort_index()
    selection = selection[np.isfinite(selection.to_numpy(dtype=float))]
    tested = rows[rows["repeat"] >= 1]
    eligible = [i for i in selection.index if (tested["iteration"] == i).any()]
    run = str(rows["run"].iloc[0])
    if not eligible:
        return RunChoice(None, note=f"{run}: compare_at 'best' needs a selection set (repeat 0) and at least one more "
                                    "set at each checkpoint (score.repeats >= 2, score.repeat_iterations: all)")
    smoothed = selection.rolling(window, center=True, min_periods=1).mean()
    smoothed = smoothed[smoothed.index.isin(eligible)]
    raw = selection[smoothed.index]
    # ties go to the lower raw selection score, then the earlier checkpoint
    order = np.lexsort((smoothed.index.to_numpy(), raw.to_numpy(), smoothed.to_numpy()))
    best = int(smoothed.index[order[0]])
    repeats = tuple(sorted(int(r) for r in tested.loc[tested["iteration"] == best, "repeat"].unique()))
    return RunChoice(best, repeats)


def _short(values: list[int]) -> str:
    text = [str(v) for v in values]
    return ", ".join(text if len(text) <= 6 else text[:3] + ["..."] + text[-2:])


def describe(rows: pd.DataFrame) -> str:
    """'iteration 7000 (448 kimg, 201.3 epochs)' for the rows one experiment contributes."""
    iterations = sorted(int(i) for i in rows["iteration"].unique())
    where = f"iteration {iterations[0]}" if len(iterations) == 1 else \
        f"iterations {_short(iterations)} (per training run)"
    if rows["images_seen"].isna().any():  # score files without progress records
        return where
    seen = rows.groupby(["run", "iteration"])[["images_seen", "n_train"]].first()
    kimg = seen["images_seen"].to_numpy(dtype=float) / 1000
    epochs = seen["images_seen"].to_numpy(dtype=float) / seen["n_train"].to_numpy(dtype=float)
    return f"{where} ({_range(kimg, '{:.4g}')} kimg, {_range(epochs, '{:.1f}')} epochs)"


def _range(values: np.ndarray, fmt: str) -> str:
    low, high = float(np.min(values)), float(np.max(values))
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}–{fmt.format(high)}"


def unequal_progress(rows: pd.DataFrame) -> str:
    """A warning when the compared runs' images seen differ by more than UNEQUAL_PROGRESS, else ''."""
    seen = rows.groupby(["experiment", "run"])["images_seen"].first().dropna()
    if seen.empty or seen.min() <= 0:
        return ""
    low, high = float(seen.min()), float(seen.max())
    if (high - low) / high <= UNEQUAL_PROGRESS:
        return ""
    per_experiment = seen.groupby(level="experiment").mean() / 1000
    detail = ", ".join(f"{name} {kimg:.4g}" for name, kimg in per_experiment.items())
    return (f"unequal training progress: the compared checkpoints saw {low / 1000:.4g}–{high / 1000:.4g} "
            f"thousand images (kimg: {detail}); compare at 'K kimg', 'E epochs' or 'best' instead")
