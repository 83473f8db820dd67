"""The report's front page: the study's answer first (reStructuredText for `snakemake --report`).

What a supervisor opens the report for, from the files the stages wrote:
the data (files read, refused, per view, audit flags), the best checkpoint of
each experiment with its score, the differences that survive the tests (in
words, with their unit, n and comparison point), the memorisation verdicts,
and the warnings that limit all of it (random weights, sample sets as the
unit, unequal training progress). Each item links to its table or figure in
the report: Snakemake defines a link target for every report file, named by
its file name.

The text goes through Jinja and docutils inside Snakemake, so every value
taken from a file is escaped for both (see `_text`).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from deeppc.files import atomic_open
from deeppc.metrics.memorization import describe
from deeppc.report import style

def front_page(
    *,
    summary: str | os.PathLike,
    pairwise: str | os.PathLike,
    best: str | os.PathLike,
    settings: str | os.PathLike,
    scores: Iterable[str | os.PathLike] = (),
    links: dict[str, str] | None = None,
    title: str = "deeppc study",
    utility: str | os.PathLike | None = None,
) -> str:
    """The front page as reStructuredText; `links` maps a topic ('pairwise', 'comparison_fid', ...) to a report path.

    `utility` is the utility stage's `paired.csv`, when the study ran it.
    """
    links = links or {}
    stats_settings = json.loads(Path(settings).read_text())
    pairs = pd.read_csv(pairwise)
    records = [json.loads(Path(p).read_text()) for p in scores]
    lines = [_text(title), "=" * max(len(title), 3), ""]
    lines += _warnings_section(stats_settings, records, links)
    lines += _data_section(json.loads(Path(summary).read_text()))
    lines += _best_section(pd.read_csv(best), stats_settings["metrics"], links)
    lines += _pairs_section(pairs, stats_settings, links)
    lines += _memorization_section(records, links)
    if utility is not None:
        lines += _utility_section(pd.read_csv(utility), links)
    return "\n".join(lines) + "\n"


def write_front_page(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def _section(title: str) -> list[str]:
    return [title, "-" * len(title), ""]


def _link(label: str, target: str | None) -> str:
    """A reference to a report item, or the plain label (Snakemake names each item's link target by file name)."""
    return f"`{_text(label)} <{Path(target).name}_>`_" if target else _text(label)


def _text(value: Any) -> str:
    """A value from a file, safe for Jinja ({{, {%) and reStructuredText inline markup."""
    text = str(value)
    text = text.replace("{", "(").replace("}", ")")
    return re.sub(r"([\\*`|_<>])", r"\\\1", text)


def _literal(value: Any) -> str:
    """A value shown as ``literal`` text: backslash escapes would print as they are there, so none are added."""
    return str(value).replace("{", "(").replace("}", ")").replace("`", "'")


def _warnings_section(settings: dict, records: list[dict], links: dict[str, str]) -> list[str]:
    warnings: list[str] = []
    if any(not r.get("comparable_to_published", True) for r in records):
        warnings.append("Feature extractors use randomly initialised weights (demo or test): FID, MedFID and KID "
                        "values are not comparable to published ones.")
    for metric, items in (settings.get("warnings") or {}).items():
        for item in items:
            text = item.removeprefix("WARNING: ")
            if text not in warnings:
                warnings.append(text)
    if not warnings:
        return []
    lines = _section("Read this first")
    lines += [f"- **{_text(w)}**" for w in warnings]
    lines += ["", f"Every test and its limits: {_link('pairwise tests', links.get('pairwise'))}.", ""]
    return lines


def _data_section(summary: dict) -> list[str]:
    status = summary.get("status", {})
    lines = _section("Data")
    counts = ", ".join(f"{n} {_text(k)}" for k, n in status.items())
    lines.append(f"{summary.get('files', 0)} files read from ``{_literal(summary.get('input', '?'))}``: {counts}.")
    for view, splits in (summary.get("views") or {}).items():
        used = ", ".join(f"{n} {_text(s)}" for s, n in splits.items())
        lines.append(f"\n- {_text(view)}: {used}")
    if summary.get("unassigned"):
        lines.append(f"\n- {summary['unassigned']} images without a view, kept aside for labelling")
    if summary.get("reasons"):
        reasons = ", ".join(f"{_text(k)} ({n})" for k, n in summary["reasons"].items())
        lines.append(f"\nNot used, by reason: {reasons}.")
    if summary.get("flags"):
        flags = ", ".join(f"{_text(k)} ({n})" for k, n in summary["flags"].items())
        lines.append(f"\nAudit flags: {flags}.")
    return lines + [""]


def _best_section(best: pd.DataFrame, metrics: list[str], links: dict[str, str]) -> list[str]:
    metric = metrics[0]
    rows = best[best["metric"] == metric]
    lines = _section(f"Best checkpoint of each experiment, by {style.metric_label(metric)}")
    if rows.empty:
        return lines + ["No scores.", ""]
    lines += [".. list-table::", "   :header-rows: 1", "", "   * - experiment", "     - best iteration",
              f"     - {_text(style.metric_label(metric))} (smoothed)", "     - training runs"]
    order = rows.sort_values("best_smoothed", na_position="last")
    for _, r in order.iterrows():
        iteration = "" if pd.isna(r["best_iteration"]) else str(int(r["best_iteration"]))
        value = "" if pd.isna(r["best_smoothed"]) else f"{r['best_smoothed']:.4g}"
        runs = "" if pd.isna(r["replicates"]) else str(int(r["replicates"]))
        lines += [f"   * - {_text(r['experiment'])}", f"     - {iteration}", f"     - {value}", f"     - {runs}"]
    lower = "lower is better" if metric in style.LOWER_IS_BETTER else "higher is better"
    lines += ["", f"Ordered best first ({lower}). The best checkpoint is the minimum of a smoothed, noisy curve; "
                  f"the tests below compare the runs where ``stats.compare_at`` says. "
                  f"Curves: {_link('scores over training', links.get(f'curves_{metric}'))}.", ""]
    return lines


def _pairs_section(pairs: pd.DataFrame, settings: dict, links: dict[str, str]) -> list[str]:
    lines = _section("Which differences are real")
    for metric in settings["metrics"]:
        rows = pairs[pairs["metric"] == metric]
        if rows.empty:
            continue
        tested = rows[rows["p"].notna()]
        significant = tested[tested["significant"].astype(str).str.lower() == "true"]
        first = rows.iloc[0]
        unit = "training seeds" if first["unit"] == "training_seeds" else "sample sets of one network"
        n = sorted({int(v) for v in pd.concat([rows["n_a"], rows["n_b"]]) if v > 0})
        lines.append(
            f"**{_text(style.metric_label(metric))}**: {len(significant)} of {len(tested)} tested pairs differ "
            f"(Welch t-tests, {_text(first['correction'])} correction, α = {first['alpha']:g}; unit: {unit}, "
            f"n = {_text('–'.join(map(str, [n[0], n[-1]])) if len(n) > 1 else (n[0] if n else 0))} per experiment; "
            f"compared at {_text(first['compare_at'])}). "
            f"Table: {_link('pairwise tests', links.get('pairwise'))}; "
            f"figure: {_link('compared values', links.get(f'comparison_{metric}'))}."
        )
        lines.append("")
        lines += [f"- {_pair_sentence(r, metric)}" for _, r in significant.iterrows()] or ["- none"]
        lines.append("")
    return lines


def _pair_sentence(row: pd.Series, metric: str) -> str:
    lower_better = metric in style.LOWER_IS_BETTER
    a_better = (row["mean_a"] < row["mean_b"]) == lower_better
    better, worse = (row["a"], row["b"]) if a_better else (row["b"], row["a"])
    means = (row["mean_a"], row["mean_b"]) if a_better else (row["mean_b"], row["mean_a"])
    g = "" if _missing(row["hedges_g"]) else f", Hedges' g = {abs(row['hedges_g']):.2g}"
    return (f"{_text(better)} beats {_text(worse)}: {means[0]:.4g} vs {means[1]:.4g}{g}, "
            f"adjusted p = {row['p_adjusted']:.2g}")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _memorization_section(records: list[dict], links: dict[str, str]) -> list[str]:
    verdicts = [(r["experiment"], r["iteration"], r["memorization"]) for r in records if r.get("memorization")]
    if not verdicts:
        return []
    lines = _section("Memorisation (does a generator copy training patients?)")
    for run, iteration, evidence in verdicts:
        name = run.split("@")[0]
        lines.append(f"- {_link(run, links.get(f'memorization_{name}'))} at iteration {iteration}: "
                     f"{_text(describe(evidence))}")
    return lines + [""]


def _utility_section(paired: pd.DataFrame, links: dict[str, str]) -> list[str]:
    """Does adding synthetic images help a classifier? Every arm against real-only, in balanced accuracy."""
    lines = _section("Do the synthetic images help a classifier?")
    rows = paired[paired["metric"] == "balanced_accuracy"]
    if rows.empty:
        return lines + ["No utility results.", ""]
    first = rows.iloc[0]
    lines.append(f"Balanced accuracy on the real held-out patients, each arm against training on real images "
                 f"only (paired t-tests, {_text(first['correction'])} correction, α = {first['alpha']:g}; "
                 f"unit: classifier seeds, n = {int(first['n'])}). "
                 f"Figures: {_link('arms', links.get('utility_arms'))}, "
                 f"{_link('gain by ratio', links.get('utility_ratios'))}, "
                 f"{_link('gain vs image quality', links.get('utility_quality'))}.")
    lines.append("")
    lines += [f"- {_utility_sentence(r)}" for _, r in rows.iterrows()]
    return lines + [""]


def _utility_sentence(row: pd.Series) -> str:
    if _missing(row["p"]):
        diff = "" if _missing(row["mean_diff"]) else f"{row['mean_diff']:+.3f}, "
        return f"{_text(row['arm'])}: {diff}not tested ({_text(row['note'])})"
    verdict = "helps" if row["mean_diff"] > 0 else "hurts"
    if str(row["significant"]).lower() != "true":
        verdict = "no clear difference"
    return (f"{_text(row['arm'])}: {verdict}, {row['mean_diff']:+.3f} "
            f"(95 % CI {row['diff_ci_low']:+.3f} to {row['diff_ci_high']:+.3f}), adjusted p = {row['p_adjusted']:.2g}")
