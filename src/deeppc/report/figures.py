"""The study's figures, each a PNG written atomically; every function returns its path.

- `score_curves_figure`: score vs iteration, one panel per family (paper Figs 3, 7)
- `comparison_figure`: mean ± sd at the compared iteration with every unit shown (Fig 6)
- `losses_figure`: generator/discriminator losses from `losses.csv` (Figs 4, 5)
- `sample_grid_figure`: fixed-noise sample grids at chosen iterations (Figs 8–10)
- `memorization_figure`: an existing nearest-pairs PNG, titled in the same style (a multi-line
  subtitle, e.g. the memorisation verdict and its evidence, gets the room it needs)

Inputs are the stats stage's tables (`curves.csv`, `observations.csv`,
`best_checkpoints.csv`) or the train stage's files; a missing file or
column is an error naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from deeppc.report import style
from deeppc.stats.scores import natural_key
from deeppc.stats.units import UNIT_LABELS

TITLE_LINE_INCHES = 0.2  # one line of a 10 pt title with its spacing


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, frame.columns))}")


def _as_frame(table: pd.DataFrame | str | os.PathLike, what: str) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    path = Path(table)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return pd.read_csv(path)


def _families(frame: pd.DataFrame, families: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(frame.sort_values("experiment", key=lambda s: s.map(natural_key))["family"]))
    if families is None:
        return present
    missing = [f for f in families if f not in present]
    if missing:
        raise ValueError(f"no data for family(ies) {', '.join(missing)}; present: {', '.join(present)}")
    return list(families)


def _experiments(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["experiment"].astype(str).unique(), key=natural_key)


def score_curves_figure(
    curves: pd.DataFrame | str | os.PathLike,
    metric: str,
    out: str | os.PathLike,
    best: pd.DataFrame | str | os.PathLike | None = None,
    families: Sequence[str] | None = None,
    compare_iteration: int | None = None,
    max_iteration: int | None = None,
) -> str:
    """Mean score per checkpoint (± sd band where several sample sets exist), a panel per family.

    Best checkpoints (from `best_checkpoints.csv`) are starred; `compare_iteration`
    draws the iteration the tests compared; `max_iteration` cuts the x axis
    (the paper's Figure 7, right).
    """
    curves = _as_frame(curves, "score curves table")
    _require_columns(curves, ["metric", "experiment", "family", "iteration", "mean", "sd"], "score curves table")
    curves = curves[curves["metric"] == metric]
    if curves.empty:
        raise ValueError(f"no {metric!r} rows in the score curves table")
    if max_iteration is not None:
        curves = curves[curves["iteration"] <= max_iteration]
    best_at = _best_points(best, metric)
    fams = _families(curves, families)
    with style.context():
        fig, axes = style.new_figure(len(fams))
        for ax, family in zip(axes, fams):
            rows = curves[curves["family"] == family]
            names = _experiments(rows)
            for name, colour in style.colours(names).items():
                _curve(ax, rows[rows["experiment"] == name].sort_values("iteration"), name, colour, best_at)
            if compare_iteration is not None:
                ax.axvline(compare_iteration, color="0.4", linestyle="--", linewidth=1, label="compared iteration")
            ax.set(title=family, xlabel=style.ITERATION_LABEL, ylabel=style.metric_label(metric))
            ax.legend(loc="best")
        return style.save(fig, out)


def _best_points(best, metric: str) -> dict[str, int]:
    if best is None:
        return {}
    best = _as_frame(best, "best checkpoints table")
    _require_columns(best, ["metric", "experiment", "best_iteration"], "best checkpoints table")
    rows = best[(best["metric"] == metric) & best["best_iteration"].notna()]
    return {str(e): int(i) for e, i in zip(rows["experiment"], rows["best_iteration"])}


def _curve(ax, rows: pd.DataFrame, name: str, colour: str, best_at: dict[str, int]) -> None:
    x, mean, sd = rows["iteration"].to_numpy(), rows["mean"].to_numpy(float), rows["sd"].to_numpy(float)
    ax.plot(x, mean, marker="o", color=colour, label=name)
    band = np.isfinite(sd)
    if band.any():
        ax.fill_between(x[band], (mean - sd)[band], (mean + sd)[band], color=colour, alpha=0.18, linewidth=0)
    if name in best_at and best_at[name] in set(x):
        y = mean[list(x).index(best_at[name])]
        ax.plot([best_at[name]], [y], marker="*", markersize=11, color=colour, markeredgecolor="black",
                linestyle="none")


def comparison_figure(
    observations: pd.DataFrame | str | os.PathLike,
    metric: str,
    out: str | os.PathLike,
    families: Sequence[str] | None = None,
) -> str:
    """Mean ± sd per experiment at the compared iteration, every unit drawn as a dot (Figure 6)."""
    obs = _as_frame(observations, "observations table")
    _require_columns(obs, ["metric", "experiment", "family", "iteration", "unit", "value"], "observations table")
    obs = obs[obs["metric"] == metric]
    if obs.empty:
        raise ValueError(f"no {metric!r} observations to plot")
    fams = _families(obs, families)
    unit = str(obs["unit"].iloc[0])
    rng = np.random.default_rng(0)  # jitter only; fixed so the PNG is reproducible
    with style.context():
        fig, axes = style.new_figure(len(fams))
        for ax, family in zip(axes, fams):
            rows = obs[obs["family"] == family]
            names = _experiments(rows)
            for i, (name, colour) in enumerate(style.colours(names).items()):
                values = rows.loc[rows["experiment"] == name, "value"].to_numpy(float)
                _dots(ax, i, values, colour, rng)
            ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
            ax.set(title=f"{family} at {_iterations(rows)}", ylabel=style.metric_label(metric),
                   xlim=(-0.6, len(names) - 0.4))
            ax.grid(axis="x", visible=False)
        fig.suptitle(f"mean ± sd; dots: {UNIT_LABELS.get(unit, unit).split(' (')[0]}", fontsize=9)
        return style.save(fig, out)


def _iterations(rows: pd.DataFrame) -> str:
    its = sorted(rows["iteration"].unique())
    return f"iteration {int(its[0])}" if len(its) == 1 else "best checkpoints"


def _dots(ax, x: int, values: np.ndarray, colour: str, rng: np.random.Generator) -> None:
    ax.scatter(x + rng.uniform(-0.12, 0.12, len(values)), values, s=12, color=colour, alpha=0.7, zorder=2)
    if len(values):
        sd = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar(x + 0.25, values.mean(), yerr=sd, fmt="s", color="black", capsize=4, markersize=4, zorder=3)


def losses_figure(
    losses: Mapping[str, str | os.PathLike],
    out: str | os.PathLike,
    columns: Sequence[str] = ("d_loss", "g_loss"),
    window: int = 50,
) -> str:
    """Losses per experiment (one panel each): raw values faint, a moving average on top (Figs 4, 5)."""
    if not losses:
        raise ValueError("no losses.csv files given")
    tables = {name: _read_losses(path, columns) for name, path in losses.items()}
    with style.context():
        fig, axes = style.new_figure(len(tables))
        for ax, (name, table) in zip(axes, tables.items()):
            for column, colour in style.colours(list(columns)).items():
                x, y = table["iteration"].to_numpy(), table[column].to_numpy(float)
                ax.plot(x, y, color=colour, alpha=0.25, linewidth=0.8)
                smooth = pd.Series(y).rolling(window, min_periods=1).mean()
                ax.plot(x, smooth, color=colour, label=f"{column} (moving average of {window} logged values)")
            ax.set(title=name, xlabel=style.ITERATION_LABEL, ylabel="loss")
            ax.legend(loc="best")
        return style.save(fig, out)


def _read_losses(path: str | os.PathLike, columns: Sequence[str]) -> pd.DataFrame:
    table = _as_frame(path, "losses file")
    _require_columns(table, ["iteration", *columns], f"losses file {path}")
    if table.empty:
        raise ValueError(f"losses file {path} has no rows")
    return table.sort_values("iteration")


def sample_grid_figure(
    grids: Mapping[str, Mapping[int, str | os.PathLike]],
    out: str | os.PathLike,
    title: str | None = None,
) -> str:
    """Sample grids: a row per experiment, a column per iteration (Figs 8–10).

    `grids` maps experiment -> {iteration: samples/{iteration}.png}.
    """
    if not grids:
        raise ValueError("no sample grids given")
    iterations = sorted({int(i) for per in grids.values() for i in per})
    for name, per in grids.items():
        for path in per.values():
            if not Path(path).is_file():
                raise FileNotFoundError(f"sample grid of {name} not found: {path}")
    cell = (style.IMAGE_CELL, style.IMAGE_CELL)
    with style.context():
        fig, axes = style.new_figure(len(iterations), len(grids), panel=cell)
        for r, (name, per) in enumerate(grids.items()):
            per = {int(i): p for i, p in per.items()}
            for c, iteration in enumerate(iterations):
                _image_cell(axes[r * len(iterations) + c], per.get(iteration))
                if r == 0:
                    axes[c].set_title(f"iteration {iteration}")
            axes[r * len(iterations)].set_ylabel(name, fontsize=10)
        if title:
            fig.suptitle(title)
        return style.save(fig, out)


def _image_cell(ax, path) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if path is None:
        ax.text(0.5, 0.5, "not sampled", ha="center", va="center", transform=ax.transAxes, color="0.4")
        return
    with Image.open(path) as im:
        ax.imshow(np.asarray(im.convert("L")), cmap="gray", vmin=0, vmax=255, interpolation="antialiased")


def memorization_figure(
    png: str | os.PathLike,
    out: str | os.PathLike,
    title: str = "nearest training image of each generated image",
    subtitle: str | None = None,
) -> str:
    """Re-frame the metrics stage's nearest-pairs PNG with a title, in the common style."""
    png = Path(png)
    if not png.is_file():
        raise FileNotFoundError(f"memorization pairs image not found: {png}")
    with Image.open(png) as im:
        image = np.asarray(im.convert("L"))
    height, width = image.shape
    panel_width = 2 * style.PANEL[0]
    heading = title if subtitle is None else f"{title}\n{subtitle}"
    # room for a title and a one-line subtitle, plus a line's height for each further line (the verdict's evidence)
    heading_inches = 0.5 + TITLE_LINE_INCHES * max(0, heading.count("\n") - 1)
    with style.context():
        fig, axes = style.new_figure(1, panel=(panel_width, panel_width * height / width + heading_inches))
        _image_cell(axes[0], png)
        fig.suptitle(heading)  # laid out by the figure, so a long heading is never clipped
        return style.save(fig, out)
