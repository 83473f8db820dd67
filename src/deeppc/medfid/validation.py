"""MedFID validation (paper, appendix A.7): does the score rise with the strength of a distortion?

For each distortion family and level, the whole set of real radiographs is
distorted (a fresh seeded generator per family and level) and its MedFID and
FID against the clean set are computed with the metrics stage's Fréchet
distance. Per family and metric, Pearson's r and Spearman's ρ between level
and score, with their p-values, make the paper's Tables 5 and 6; a figure per
family shows both curves and example images at four levels.
"""

from __future__ import annotations

import csv
import io
import itertools
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy import stats

from deeppc.files import write_json, write_text
from deeppc.metrics.extractors import Extractor
from deeppc.metrics.frechet import frechet_distance_factors
from deeppc.metrics.stats_cache import array_hash, compute_stats
from deeppc.medfid import distortions
from deeppc.medfid.outputs import new_figure, save_figure
from deeppc.seeding import rng

log = logging.getLogger(__name__)

LEVEL_LABELS = {
    "blur": "Gaussian blur kernel size (px)",
    "noise": "Gaussian noise mean (sd {sd})",
    "salt_pepper": "salt-and-pepper fraction of pixels",
    "blocks": "largest black box ({count} per image), fraction of image area",
}
EXACT_SPEARMAN_MAX_N = 8  # 8! = 40,320 pairings
METRIC_NAMES = {"medfid": "MedFID", "fid": "FID"}
TITLES = {"blur": "Gaussian blur", "noise": "Noise", "salt_pepper": "Salt & pepper noise", "blocks": "Blocks"}


@dataclass(frozen=True)
class Sweep:
    """Scores per (family, level) and example distorted images."""

    rows: list[dict]  # {"distortion", "level", <metric>: distance, ...}
    examples: dict[str, dict[float, np.ndarray]]  # family -> level -> one distorted image
    metrics: list[str]


def sweep(
    images: np.ndarray,
    extractors: Sequence[Extractor],
    levels: Mapping[str, Sequence[float]],
    *,
    seed: int,
    noise_sd: float = 0.1,
    blocks_per_image: int = 5,
    batch_size: int = 32,
    progress: bool = False,
) -> Sweep:
    """Fréchet distance of every distorted set to the clean set, for every extractor."""
    settings = {"noise_sd": noise_sd, "blocks_per_image": blocks_per_image}
    clean = {ex.frechet_key: compute_stats(images, ex, array_hash(images), batch_size) for ex in extractors}
    rows, examples = [], {}
    for family, family_levels in levels.items():
        examples[family] = {}
        for level in family_levels:
            gen = rng(seed, "medfid-validation", family, float(level))
            distorted = distortions.apply_uint8(images, family, level, gen, **settings)
            row = {"distortion": family, "level": float(level)}
            for ex in extractors:
                fake = compute_stats(distorted, ex, array_hash(distorted), batch_size, progress)
                row[ex.frechet_key] = frechet_distance_factors(fake.factor(), clean[ex.frechet_key].factor())
            scores = {k: round(v, 4) for k, v in row.items() if k in clean}
            log.info("validation %s level %g: %s", family, level, scores)
            rows.append(row)
            examples[family][float(level)] = distorted[0]
    return Sweep(rows, examples, [ex.frechet_key for ex in extractors])


def correlations(result: Sweep) -> list[dict]:
    """Pearson and Spearman correlation of level with score, per family and metric."""
    out = []
    for family in dict.fromkeys(r["distortion"] for r in result.rows):
        rows = [r for r in result.rows if r["distortion"] == family]
        levels = np.array([r["level"] for r in rows])
        for metric in result.metrics:
            scores = np.array([r[metric] for r in rows])
            out.append({"distortion": family, "metric": metric, "n_levels": len(rows), **_correlate(levels, scores)})
    return out


def _correlate(x: np.ndarray, y: np.ndarray) -> dict:
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        nan = float("nan")  # undefined: too few levels or a constant series
        return {"pearson_r": nan, "pearson_p": nan, "spearman_rho": nan, "spearman_p": nan, "spearman_p_method": ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        pearson = stats.pearsonr(x, y)
        spearman = stats.spearmanr(x, y)
    p, method = float(spearman.pvalue), "t approximation"
    if len(x) <= EXACT_SPEARMAN_MAX_N:
        p, method = _spearman_exact_p(x, y), "exact permutation"
    return {
        "pearson_r": float(pearson.statistic), "pearson_p": float(pearson.pvalue),
        "spearman_rho": float(spearman.statistic), "spearman_p": p, "spearman_p_method": method,
    }  # fmt: skip


def _spearman_exact_p(x: np.ndarray, y: np.ndarray) -> float:
    """Two-sided p-value of Spearman's rho over all n! pairings of y with x.

    With few levels the t approximation scipy uses is far off (a perfect rank
    order of 5 levels gets p ~ 1e-24 instead of 2/120).
    """
    rx, ry = _centred_ranks(x), _centred_ranks(y)
    pairings = ry[np.array(list(itertools.permutations(range(len(y)))))]
    rhos = pairings @ rx / np.sqrt((rx**2).sum() * (ry**2).sum())
    observed = rx @ ry / np.sqrt((rx**2).sum() * (ry**2).sum())
    return float(np.mean(np.abs(rhos) >= abs(observed) - 1e-12))


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    ranks = stats.rankdata(values)
    return ranks - ranks.mean()


# --- outputs ----------------------------------------------------------------------------------


def write_outputs(
    out: Path, result: Sweep, table: list[dict], summary: Mapping, *, noise_sd: float, blocks_per_image: int
) -> None:
    """scores.csv, correlations.csv, correlations.md, one PNG per distortion, summary.json."""
    flag = {"comparable_to_published": summary["comparable_to_published"]}  # on every row: tables travel alone
    rows = [{**r, **flag} for r in result.rows]
    write_text(out / "scores.csv", _csv(["distortion", "level", *result.metrics, *flag], rows))
    columns = ["distortion", "metric", "n_levels", "pearson_r", "pearson_p", "spearman_rho", "spearman_p",
               "spearman_p_method", *flag]  # fmt: skip
    write_text(out / "correlations.csv", _csv(columns, [{**r, **flag} for r in table]))
    write_text(out / "correlations.md", correlations_markdown(table, summary))
    for family in result.examples:
        rows = [r for r in result.rows if r["distortion"] == family]
        note = "" if summary["comparable_to_published"] else "not comparable to published MedFID values"
        plot_family(out / f"{family}.png", family, rows, result.metrics, result.examples[family],
                    noise_sd=noise_sd, blocks_per_image=blocks_per_image, note=note)  # fmt: skip
    write_json(out / "summary.json", {**summary, "correlations": table})


def _csv(columns: Sequence[str], rows: Sequence[Mapping]) -> str:
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def correlations_markdown(table: Sequence[Mapping], summary: Mapping) -> str:
    """The paper's Tables 5/6 layout, one block per metric, with Pearson and Spearman."""
    lines = []
    if not summary["comparable_to_published"]:
        lines += [f"**Not comparable to published MedFID/FID values:** {'; '.join(summary['notes'])}", ""]
    for metric in dict.fromkeys(r["metric"] for r in table):
        lines += [f"### {METRIC_NAMES.get(metric, metric)} (n = {summary['n_images']} images per set)", "",
                  "| Distortion | levels | Pearson r | p | Spearman ρ | p |", "|---|---|---|---|---|---|"]  # fmt: skip
        for r in (r for r in table if r["metric"] == metric):
            lines.append(
                f"| {TITLES.get(r['distortion'], r['distortion'])} | {r['n_levels']} | {_num(r['pearson_r'])} | "
                f"{_num(r['pearson_p'], 'e')} | {_num(r['spearman_rho'])} | {_num(r['spearman_p'], 'e')} |"
            )
        lines.append("")
    return "\n".join(lines)


def _num(value: float, style: str = "f") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.3e}" if style == "e" else f"{value:.3f}"


def example_levels(levels: Sequence[float], k: int = 4) -> list[float]:
    """k levels spread over the sweep (first and last included), like the paper's {0, 15, 31, 49}."""
    levels = sorted(levels)
    picks = np.unique(np.round(np.linspace(0, len(levels) - 1, min(k, len(levels)))).astype(int))
    return [levels[i] for i in picks]


def plot_family(
    path: Path, family: str, rows: Sequence[Mapping], metrics: Sequence[str], examples: Mapping[float, np.ndarray],
    *, noise_sd: float, blocks_per_image: int, note: str = "",
) -> None:  # fmt: skip
    """Score against level (one axis per metric: their scales differ) and example images."""
    chosen = example_levels(list(examples))
    fig = new_figure(4.2 + 1.6 * len(chosen), 3.4)
    grid = fig.add_gridspec(2, 1 + len(chosen), width_ratios=[2.6] + [1] * len(chosen))
    ax = fig.add_subplot(grid[:, 0])
    levels = [r["level"] for r in rows]
    axes = [ax, ax.twinx()] if len(metrics) > 1 else [ax]
    colours = ["#0072B2", "#D55E00", "#009E73"]
    for axis, metric, colour in zip(axes, metrics, colours):
        axis.plot(levels, [r[metric] for r in rows], "o-", ms=3, color=colour, label=metric)
        axis.set_ylabel(f"{METRIC_NAMES.get(metric, metric)} to the clean set", color=colour)
    ax.set_xlabel(LEVEL_LABELS[family].format(sd=noise_sd, count=blocks_per_image))
    ax.set_title(TITLES[family] + (f"\n{note}" if note else ""), fontsize=9)
    ax.grid(alpha=0.3)
    for i, level in enumerate(chosen):
        image_ax = fig.add_subplot(grid[:, 1 + i])
        image_ax.imshow(examples[level], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        image_ax.set_title(f"{level:g}", fontsize=8)
        image_ax.set_axis_off()
    save_figure(fig, path)
