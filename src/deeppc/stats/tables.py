"""Statistics tables on disk: long CSVs and Markdown tables like the paper's Table 3.

In the matrix tables a cell reads ✓ (significant after correction), ✗ (not
significant), `.` (no such pair: the lower triangle and the diagonal) or
`?` (the pair could not be tested; the reason is listed under the table).
Empty CSV cells mean "not computed"; the `note` column always says why.
"""

from __future__ import annotations

import math
import os

import pandas as pd

from deeppc.files import atomic_open
from deeppc.stats.units import UNIT_LABELS

SIGNIFICANT, NOT_SIGNIFICANT, NOT_APPLICABLE, UNTESTED = "✓", "✗", ".", "?"


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> str:
    """Write a table as CSV atomically (empty cells for missing values); returns the path."""
    with atomic_open(path, "w") as fh:
        frame.to_csv(fh, index=False, na_rep="", lineterminator="\n")
    return os.fspath(path)


def format_p(p: float | None) -> str:
    """Adjusted p-values in cells: `<0.001` or two significant digits."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.2g}"


def _cell(row: pd.Series, show_p: bool) -> str:
    if pd.isna(row["p"]):
        return UNTESTED
    mark = SIGNIFICANT if bool(row["significant"]) else NOT_SIGNIFICANT
    return f"{mark} ({format_p(row['p_adjusted'])})" if show_p else mark


def _grid(rows: list[str], cols: list[str], cells: dict[tuple[str, str], str]) -> list[str]:
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        lines.append(f"| **{r}** | " + " | ".join(cells.get((r, c), NOT_APPLICABLE) for c in cols) + " |")
    return lines


def matrix_lines(group: pd.DataFrame, show_p: bool = False) -> list[str]:
    """One comparison group as a Markdown matrix (upper triangle for a family)."""
    cells = {(r.a, r.b): _cell(r, show_p) for _, r in group.iterrows()}
    a_names, b_names = list(dict.fromkeys(group["a"])), list(dict.fromkeys(group["b"]))
    if (group["kind"] == "within").all():
        names = list(dict.fromkeys(a_names + b_names))
        return _grid(names[:-1], names[1:], cells)
    return _grid(a_names, b_names, cells)


def _header(pairwise: pd.DataFrame, metric: str, scope: str) -> list[str]:
    first = pairwise.iloc[0]
    tested = int(pairwise["p"].notna().sum())
    correction = first["correction"]
    family = "all tests of this metric" if scope == "metric" else "each comparison group"
    corrected = "no correction (as in the paper)" if correction == "none" else \
        f"{correction} correction over {family} ({tested} tested pairs)"
    n_range = sorted({int(n) for n in pd.concat([pairwise.n_a, pairwise.n_b]) if n > 0})
    n_text = f"{n_range[0]}" if len(n_range) == 1 else f"{n_range[0]}–{n_range[-1]}" if n_range else "0"
    lines = [
        f"# Pairwise tests of {metric}",
        "",
        f"Two-sided Welch t-tests of H0: mean {metric} of row = mean {metric} of column; {corrected}; "
        f"α = {first['alpha']:g}.",
        f"Unit of analysis: {UNIT_LABELS.get(first['unit'], first['unit'])}; n = {n_text} per experiment.",
        f"Compared at `{first['compare_at']}`: {_where(pairwise)}.",
    ]
    warning = first.get("warning")
    if isinstance(warning, str) and warning:
        lines += [""] + [f"**{w}**" for w in warning.split(" | ")]
    return lines + [
        "",
        f"{SIGNIFICANT} significant · {NOT_SIGNIFICANT} not significant · {NOT_APPLICABLE} no such pair · "
        f"{UNTESTED} not testable (see notes)",
    ]


def _where(pairwise: pd.DataFrame) -> str:
    """'vanilla1 iteration 7000 (448 kimg, 201.3 epochs); ...', identical descriptions merged."""
    at: dict[str, str] = {}
    for side in ("a", "b"):
        for name, text in zip(pairwise[side], pairwise[f"at_{side}"]):
            if isinstance(text, str) and text:
                at.setdefault(name, text)
    groups: dict[str, list[str]] = {}
    for name, text in at.items():
        groups.setdefault(text, []).append(name)
    if len(groups) == 1:
        return f"every experiment at {next(iter(groups))}"
    return "; ".join(f"{', '.join(names)} at {text}" for text, names in groups.items()) or "no scores"


def table3_markdown(
    pairwise: pd.DataFrame, metric: str, scope: str = "metric", show_p: bool = False,
    oneway: pd.DataFrame | None = None,
) -> str:
    """Markdown like the paper's Table 3: one matrix per family and per cross comparison."""
    rows = pairwise[pairwise["metric"] == metric]
    if rows.empty:
        return f"# Pairwise tests of {metric}\n\nNo pairs to test (fewer than two experiments with scores).\n"
    lines = _header(rows, metric, scope)
    for name, group in rows.groupby("comparison", sort=False):
        kind = "within family" if (group["kind"] == "within").all() else "cross-family"
        lines += ["", f"## {name} ({kind})", "", *matrix_lines(group, show_p)]
    lines += _notes(rows)
    if oneway is not None and not oneway.empty:
        lines += _oneway_lines(oneway[oneway["metric"] == metric])
    return "\n".join(lines) + "\n"


def _notes(rows: pd.DataFrame) -> list[str]:
    noted = rows[rows["note"].fillna("") != ""]
    if noted.empty:
        return []
    lines = ["", "Notes:", ""]
    for _, r in noted.iterrows():
        mark = UNTESTED if pd.isna(r["p"]) else "note"
        lines.append(f"- {mark} {r['a']} vs {r['b']}: {r['note']}")
    return lines


def _oneway_lines(oneway: pd.DataFrame) -> list[str]:
    lines = ["", "## One-way test per family (Welch's ANOVA, uncorrected)", "",
             "| family | k | n | F | df | p | note |", "|---|---|---|---|---|---|---|"]
    for _, r in oneway.iterrows():
        stat = "" if pd.isna(r["statistic"]) else f"{r['statistic']:.3g}"
        df = "" if pd.isna(r["df_num"]) else f"{r['df_num']:g}, {r['df_den']:.3g}"
        lines.append(f"| {r['family']} | {r['k']} | {r['n_total']} | {stat} | {df} | "
                     f"{format_p(None if pd.isna(r['p']) else r['p'])} | {r['note'] or ''} |")
    return lines


def best_markdown(best: pd.DataFrame) -> str:
    """Best checkpoints and early-stopping points as a Markdown table."""
    lines = ["| experiment | family | best iteration | smoothed | raw | last improvement | stop | note |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in best.iterrows():
        cells = [r["experiment"], r["family"], _int(r["best_iteration"]), _num(r["best_smoothed"]),
                 _num(r["best_raw"]), _int(r["last_improvement"]), _int(r["stop_iteration"]), r["note"] or ""]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    smoothing = best["smoothing"].dropna().iloc[0] if best["smoothing"].notna().any() else "none"
    metric = best["metric"].iloc[0] if len(best) else ""
    head = (f"# Best checkpoints ({metric})\n\nSmoothing: {smoothing}. Early stopping: trailing average, "
            f"patience {best['patience'].iloc[0] if len(best) else ''} checkpoints.\n\n")
    return head + "\n".join(lines) + "\n"


def _int(value) -> str:
    return "" if pd.isna(value) else str(int(value))


def _num(value) -> str:
    return "" if pd.isna(value) else f"{value:.4g}"
