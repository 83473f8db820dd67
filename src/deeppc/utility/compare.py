"""Does an arm beat real-only training? Paired tests with classifier seeds as the unit, and what predicts the gain.

Each seed trains every arm from the same initialisation and batch order, so
arm and baseline are paired by seed: the test is a paired t-test on the
per-seed differences (scipy's `ttest_rel`), the effect size Cohen's d_z
(mean difference / SD of the differences) and the interval a t-interval of
the mean difference. The p-values of one metric (every arm against the
baseline) are corrected together with the stats stage's `adjust` (Holm by
default). A seed is the unit: the variation between independently trained
classifiers (and, where a synthetic arm draws its images per seed, between
draws); the test images are the same for every seed.

`quality_correlation` asks the question behind MedFID: across experiments
(and checkpoints), does a better image-quality score go with a larger gain?
Spearman's rank correlation, with its n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from deeppc.stats.tests import adjust

PAIRED_COLUMNS = [
    "metric", "arm", "baseline", "unit", "n", "mean_arm", "mean_baseline", "mean_diff", "diff_ci_low",
    "diff_ci_high", "t", "df", "p", "p_adjusted", "correction", "alpha", "significant", "cohens_dz", "note",
]  # fmt: skip
UNIT = "classifier seeds (one classifier per seed and arm, paired by seed)"


def _paired_row(metric: str, arm: str, baseline: str, a: pd.Series, b: pd.Series, confidence: float) -> dict:
    both = pd.concat({"a": a, "b": b}, axis=1).dropna()
    d = (both.a - both.b).to_numpy(dtype=float)
    row = {"metric": metric, "arm": arm, "baseline": baseline, "unit": UNIT, "n": len(d),
           "mean_arm": both.a.mean(), "mean_baseline": both.b.mean(), "mean_diff": d.mean() if len(d) else np.nan}
    if len(d) < 2:
        return row | {"note": f"{len(d)} paired seed(s): a paired test needs at least 2"}
    sd = d.std(ddof=1)
    # metrics are ratios of counts: the "same" difference on every seed can differ in the last bits, and a
    # t-test would turn that rounding into p ~ 1e-40
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return row | {"note": "the difference is the same for every seed (zero variance): t is undefined"}
    res = stats.ttest_rel(both.a, both.b)
    half = stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * sd / np.sqrt(len(d))
    return row | {"t": float(res.statistic), "df": len(d) - 1, "p": float(res.pvalue), "cohens_dz": d.mean() / sd,
                  "diff_ci_low": d.mean() - half, "diff_ci_high": d.mean() + half}  # fmt: skip


def paired_against(
    results: pd.DataFrame, metrics: list[str], baseline: str = "real", correction: str = "holm",
    alpha: float = 0.05, confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per (metric, arm ≠ baseline); `results` has columns arm, seed and the metric columns."""
    rows = []
    for metric in metrics:
        wide = results.pivot_table(index="seed", columns="arm", values=metric, aggfunc="first")
        if baseline not in wide:
            raise ValueError(f"no results for the baseline arm {baseline!r}")
        metric_rows = [_paired_row(metric, arm, baseline, wide[arm], wide[baseline], confidence)
                       for arm in wide.columns if arm != baseline]  # fmt: skip
        tested = [r for r in metric_rows if "p" in r]
        adjusted, reject = adjust([r["p"] for r in tested], correction, alpha)
        for r, p_adj, rej in zip(tested, adjusted, reject):
            r.update(p_adjusted=float(p_adj), significant=bool(rej))
        for r in metric_rows:
            r.update(correction=correction, alpha=alpha)
        rows += metric_rows
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS)


def quality_correlation(gains: pd.DataFrame, gain_column: str, quality_columns: list[str]) -> pd.DataFrame:
    """Spearman's ρ between the mean gain and each quality score, over the rows of `gains` (one per source)."""
    rows = []
    for column in quality_columns:
        both = gains[[gain_column, column]].dropna()
        row = {"gain": gain_column, "quality": column, "n": len(both), "rho": np.nan, "p": np.nan, "note": ""}
        if len(both) < 3 or both[column].nunique() < 2 or both[gain_column].nunique() < 2:
            row["note"] = (f"{len(both)} source(s): a rank correlation needs at least 3, with gains and scores "
                           "that are not all equal")
        else:
            res = stats.spearmanr(both[gain_column], both[column])
            row.update(rho=float(res.statistic), p=float(res.pvalue))
        rows.append(row)
    return pd.DataFrame(rows)


GAIN_METRICS = ("balanced_accuracy", "auroc")


def gain_and_quality(runs: pd.DataFrame, paired: pd.DataFrame, quality: pd.DataFrame) -> pd.DataFrame:
    """Per synthetic arm: its mean gain over real-only (balanced accuracy, AUROC) beside its source's quality.

    `quality` has a `source` column and one column per image-quality score
    (the source experiment's mean over its runs at the chosen checkpoint).
    """
    arms = runs.drop_duplicates("arm").set_index("arm")[["kind", "source", "ratio"]]
    gains = paired[paired.metric.isin(GAIN_METRICS)].join(arms, on="arm")
    gains = gains[gains.source.fillna("") != ""]
    if gains.empty:
        columns = ["arm", "kind", "source", "ratio", *(f"gain_{m}" for m in GAIN_METRICS)]
        return pd.DataFrame(columns=columns).merge(quality, on="source", how="left")
    wide = gains.pivot_table(index=["arm", "kind", "source", "ratio"], columns="metric", values="mean_diff")
    wide = wide.reindex(columns=list(GAIN_METRICS))
    wide.columns = [f"gain_{m}" for m in wide.columns]
    return wide.reset_index().merge(quality, on="source", how="left")


def correlations(table: pd.DataFrame, quality_columns: list[str]) -> pd.DataFrame:
    """Spearman's ρ of gain vs each quality score across sources, for each arm setting (ratio, synthetic-only)."""
    out = []
    for (kind, ratio), group in table.groupby(["kind", "ratio"], sort=True):
        for gain in [c for c in table.columns if c.startswith("gain_")]:
            found = quality_correlation(group, gain, quality_columns)
            found.insert(0, "setting", "synthetic only" if kind == "synthetic_only" else f"real + {ratio:g}x synthetic")
            out.append(found)
    columns = ["setting", "gain", "quality", "n", "rho", "p", "note"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)
