"""The utility stage's figures: the arms side by side, gain against synthetic ratio, gain against image quality.

Inputs are the utility stage's tables (`runs.csv`, `paired.csv`,
`quality.csv`, `correlation.csv`); each function writes one PNG atomically and
returns its path. Gains are differences from the real-only arm of the same
seed; intervals are t-intervals over seeds (the unit).
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from deeppc.report import style
from deeppc.utility.stage import QUALITY_METRICS

GAINS = {"balanced_accuracy": "balanced accuracy", "auroc": "AUROC"}


def arms_figure(runs: pd.DataFrame, out: str | os.PathLike) -> str:
    """Every arm's balanced accuracy and AUROC on the held-out patients: one dot per seed, mean ± sd."""
    arms = list(dict.fromkeys(runs.arm))
    rng = np.random.default_rng(0)  # jitter only
    with style.context():
        fig, axes = style.new_figure(2, panel=(max(5.0, 0.7 * len(arms) + 1.5), 3.6))
        for ax, (metric, label) in zip(axes, GAINS.items()):
            for i, (arm, colour) in enumerate(style.colours(arms).items()):
                values = runs.loc[runs.arm == arm, metric].to_numpy(float)
                ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=12, color=colour, alpha=0.7)
                sd = values.std(ddof=1) if len(values) > 1 else 0.0
                ax.errorbar(i + 0.25, values.mean(), yerr=sd, fmt="s", color="black", capsize=4, markersize=4)
            baseline = runs.loc[runs.arm == "real", metric].mean()
            ax.axhline(baseline, color="grey", linestyle="--", linewidth=1, label="real only (mean)")
            ax.set_xticks(range(len(arms)), arms, rotation=30, ha="right")
            ax.set(ylabel=f"{label} (held-out patients)", xlim=(-0.6, len(arms) - 0.4))
            ax.grid(axis="x", visible=False)
            ax.legend(loc="lower left")
        fig.suptitle(f"one classifier per arm and seed (n = {runs.seed.nunique()} seeds); mean ± sd", fontsize=9)
        return style.save(fig, out)


def ratios_figure(runs: pd.DataFrame, paired: pd.DataFrame, out: str | os.PathLike) -> str:
    """Gain over real-only against the synthetic ratio, per source, with 95 % t-intervals over seeds."""
    mixed = runs[runs.kind == "mixed"].drop_duplicates("arm").set_index("arm")[["source", "ratio"]]
    with style.context():
        fig, axes = style.new_figure(2)
        for ax, (metric, label) in zip(axes, GAINS.items()):
            rows = paired[(paired.metric == metric) & paired.arm.isin(mixed.index)].join(mixed, on="arm")
            sources = sorted(rows.source.unique())
            for k, (source, colour) in enumerate(style.colours(sources).items()):
                mine = rows[rows.source == source].sort_values("ratio")
                err = np.vstack([mine.mean_diff - mine.diff_ci_low, mine.diff_ci_high - mine.mean_diff])
                # dodged sideways (log scale: the same share at every ratio), so intervals do not hide each other
                x = mine.ratio * 1.04 ** (k - (len(sources) - 1) / 2)
                ax.errorbar(x, mine.mean_diff, yerr=np.nan_to_num(err), fmt="o-", color=colour, capsize=3,
                            label=source)  # fmt: skip
            ax.set_xscale("log")
            ratios = sorted(rows.ratio.unique())
            if ratios:
                ax.set_xticks(ratios, [f"{r:g}x" for r in ratios])
                ax.minorticks_off()
            ax.axhline(0, color="grey", linestyle="--", linewidth=1)
            ax.set(xlabel="synthetic images per real training image", ylabel=f"gain in {label} over real only")
            if len(rows):
                ax.legend()
        fig.suptitle("mean difference from real-only of the same seed, 95 % t-interval over seeds", fontsize=9)
        return style.save(fig, out)


def quality_figure(quality: pd.DataFrame, correlation: pd.DataFrame, out: str | os.PathLike) -> str:
    """Gain in balanced accuracy against each image-quality score, one dot per source and setting, with ρ."""
    scores = [c for c in QUALITY_METRICS if c in quality.columns and len(quality)]
    ncols = min(3, max(1, len(scores)))
    with style.context():
        fig, axes = style.new_figure(ncols, math.ceil(max(1, len(scores)) / ncols))
        for ax in axes[len(scores):] if scores else []:
            ax.set_visible(False)
        for ax, score in zip(axes, scores):
            for setting, colour in style.colours(sorted(quality.ratio.unique())).items():
                rows = quality[quality.ratio == setting]
                ax.scatter(rows[score], rows.gain_balanced_accuracy, color=colour, s=18, label=_setting(rows))
                for _, row in rows.iterrows():
                    ax.annotate(row.source, (row[score], row.gain_balanced_accuracy), xytext=(4, 3),
                                textcoords="offset points", fontsize=6)  # fmt: skip
            ax.axhline(0, color="grey", linestyle="--", linewidth=1)
            ax.set(xlabel=style.metric_label(score), ylabel="gain in balanced accuracy", title=_rho(correlation, score))
            if len(quality):
                ax.legend(loc="best")
        if not scores:
            axes[0].text(0.5, 0.5, "no synthetic sources", ha="center", va="center", transform=axes[0].transAxes)
        fig.suptitle("does image quality predict usefulness? Spearman's ρ across sources", fontsize=9)
        return style.save(fig, out)


def _setting(rows: pd.DataFrame) -> str:
    kind = rows.kind.iloc[0]
    return "synthetic only" if kind == "synthetic_only" else f"real + {rows.ratio.iloc[0]:g}x"


def _rho(correlation: pd.DataFrame, score: str) -> str:
    rows = correlation[(correlation.get("quality") == score) & (correlation.get("gain") == "gain_balanced_accuracy")]
    parts = [f"ρ = {r.rho:.2f} (n = {r.n})" if np.isfinite(r.rho) else f"ρ undefined (n = {r.n})"
             for r in rows.itertuples()]  # fmt: skip
    return "; ".join(parts[:2]) or "ρ undefined"
