"""Scoring a visual Turing test: per-rater and mean ± sd rates, realism, FID correlation.

Positive = "real", as in the StyleGAN2-ADA medical abstract, where "the
clinicians classified synthetic images as real 42% of the time" is its FPR
and recall + FNR = 100% (72 + 28). With TP = real images called real,
FN = real called generated, FP = generated called real, TN = generated called
generated:

    precision = TP / (TP + FP)      recall = TP / (TP + FN)
    accuracy  = (TP + TN) / answered
    FPR = FP / (FP + TN)  (generated images taken for real: higher = more convincing)
    FNR = FN / (TP + FN)  (real images taken for generated)

Rates use the images a rater answered; unanswered ones are counted and
noted. Mean ± sd are across raters (sd with ddof=1). Realism is reported per
rater and pooled over all ratings (the abstract's "3.99 (±1.00)").

With several models in one kit, each model's rates use all the real images
plus that model's generated images, so FNR is the same for every model; the
Pearson correlation of the models' FID with their mean FPR needs >= 3 models.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from deeppc.files import atomic_folder, write_text
from deeppc.report.vtt import FAKE, KEY_COLUMNS, REAL, VTTError
from deeppc.stats.tables import write_csv
from deeppc.validate import first_line

ALL = "all"
RATES = ["precision", "recall", "accuracy", "fpr", "fnr"]
PER_RATER_COLUMNS = ["rater", "model", "n_real", "n_fake", "answered", "unanswered", "tp", "fn", "fp", "tn",
                     *RATES, "rating_real", "rating_fake", "note"]
SUMMARY_COLUMNS = ["model", "quantity", "mean", "sd", "n", "basis"]
_ANSWERS = {"real": REAL, "r": REAL, "fake": FAKE, "f": FAKE, "generated": FAKE, "synthetic": FAKE, "g": FAKE}


def read_key(path: str | os.PathLike) -> pd.DataFrame:
    """The kit's key.csv, checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"answer key not found: {path}")
    key = read_table(path, "a VTT answer key (key.csv of `deeppc vtt make`)",
                     dtype={"image_id": str, "model": str}, keep_default_na=False)  # fmt: skip
    missing = [c for c in ("image_id", "truth", "model") if c not in key.columns]
    if missing:
        raise VTTError(f"{path}: not a VTT key (missing {', '.join(missing)}; expected {', '.join(KEY_COLUMNS)})")
    bad = sorted(set(key["truth"]) - {REAL, FAKE})
    if bad:
        raise VTTError(f"{path}: truth must be real or fake, found {bad}")
    return key


def read_table(path: Path, expected: str, **kwargs) -> pd.DataFrame:
    """pd.read_csv of a file that must be a non-empty CSV; anything else is a VTTError naming the file."""
    if path.stat().st_size == 0:
        raise VTTError(f"{path} is empty, expected {expected}")
    try:
        return pd.read_csv(path, **kwargs)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise VTTError(f"{path}: not {expected} ({first_line(exc)})") from None


def read_answers(path: str | os.PathLike, key: pd.DataFrame) -> tuple[str, pd.DataFrame]:
    """(rater name, answers indexed like the key: answer real/fake/None, rating 1-5/None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"answers file not found: {path}")
    table = read_table(path, "an answers CSV (image_id, answer, rating)", dtype=str, keep_default_na=False)
    table.columns = [c.strip().lower() for c in table.columns]
    missing = [c for c in ("image_id", "answer") if c not in table.columns]
    if missing:
        raise VTTError(f"{path}: missing column(s) {', '.join(missing)} (expected image_id, answer, rating)")
    table["image_id"] = table["image_id"].str.strip()
    _check_ids(path, table, key)
    answers = pd.DataFrame({
        "image_id": table["image_id"],
        "answer": [_answer(path, i, v) for i, v in enumerate(table["answer"], start=2)],
        "rating": [_rating(path, i, v) for i, v in enumerate(table.get("rating", [""] * len(table)), start=2)],
    }).astype({"rating": float})
    return _rater(path, table), answers


def _check_ids(path: Path, table: pd.DataFrame, key: pd.DataFrame) -> None:
    duplicated = sorted(table.loc[table["image_id"].duplicated(), "image_id"].unique())
    if duplicated:
        raise VTTError(f"{path}: image id(s) answered twice: {', '.join(duplicated[:5])}")
    unknown = sorted(set(table["image_id"]) - set(key["image_id"]))
    if unknown:
        raise VTTError(f"{path}: image id(s) not in the key: {', '.join(unknown[:5])} (answers of another kit?)")


def _answer(path: Path, line: int, value: str) -> str | None:
    text = value.strip().lower()
    if not text:
        return None
    if text not in _ANSWERS:
        raise VTTError(f"{path} line {line}: answer must be real or fake (generated), got {value!r}")
    return _ANSWERS[text]


def _rating(path: Path, line: int, value: str) -> float | None:
    text = str(value).strip()
    if not text:
        return None
    try:
        rating = float(text)
    except ValueError:
        rating = math.nan
    if not (rating in {1, 2, 3, 4, 5}):
        raise VTTError(f"{path} line {line}: rating must be an integer from 1 to 5, got {value!r}")
    return rating


def _rater(path: Path, table: pd.DataFrame) -> str:
    # the sheet's CSV carries a rater column; hand-typed files are named after the rater
    if "rater" in table.columns:
        names = {n.strip() for n in table["rater"] if n.strip()}
        if len(names) > 1:
            raise VTTError(f"{path}: several raters in one file ({', '.join(sorted(names))}); one file per rater")
        if names:
            return names.pop()
    return path.stem


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def rater_rates(answers: pd.DataFrame, key: pd.DataFrame, model: str = ALL) -> dict:
    """Counts, rates and mean ratings of one rater on all images or on real + one model's images."""
    merged = key.merge(answers, on="image_id", how="left")
    if model != ALL:
        merged = merged[(merged["truth"] == REAL) | (merged["model"] == model)]
    given = merged[merged["answer"].notna()]
    real, fake = given[given["truth"] == REAL], given[given["truth"] == FAKE]
    tp, fn = int((real["answer"] == REAL).sum()), int((real["answer"] == FAKE).sum())
    fp, tn = int((fake["answer"] == REAL).sum()), int((fake["answer"] == FAKE).sum())
    row = {"model": model,
           "n_real": int((merged["truth"] == REAL).sum()), "n_fake": int((merged["truth"] == FAKE).sum()),
           "answered": len(given), "unanswered": len(merged) - len(given), "tp": tp, "fn": fn, "fp": fp, "tn": tn,
           "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn), "accuracy": _ratio(tp + tn, len(given)),
           "fpr": _ratio(fp, fp + tn), "fnr": _ratio(fn, tp + fn),
           "rating_real": _mean(merged.loc[merged["truth"] == REAL, "rating"]),
           "rating_fake": _mean(merged.loc[merged["truth"] == FAKE, "rating"])}
    row["note"] = _rate_notes(row)
    return row


def _mean(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.mean()) if len(values) else None


def _rate_notes(row: dict) -> str:
    notes = []
    if row["unanswered"]:
        notes.append(f"{row['unanswered']} image(s) unanswered, left out of the rates")
    if row["precision"] is None:
        notes.append("no image called real: precision undefined")
    if row["recall"] is None:
        notes.append("no real image answered: recall and FNR undefined")
    if row["fpr"] is None:
        notes.append("no generated image answered: FPR undefined")
    return "; ".join(notes)


def _models(key: pd.DataFrame) -> list[str]:
    models = sorted(set(key.loc[key["truth"] == FAKE, "model"]))
    return [ALL] + (models if len(models) > 1 else [])


def per_rater_table(raters: Mapping[str, pd.DataFrame], key: pd.DataFrame) -> pd.DataFrame:
    """One row per rater and model subset (`all`, plus each model when there are several)."""
    rows = [{"rater": name, **rater_rates(answers, key, model)} for name, answers in raters.items()
            for model in _models(key)]
    return pd.DataFrame(rows, columns=PER_RATER_COLUMNS)


def summary_table(per_rater: pd.DataFrame, raters: Mapping[str, pd.DataFrame], key: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd across raters of every rate, and realism pooled over all ratings."""
    rows = []
    for model, group in per_rater.groupby("model", sort=False):
        for quantity in [*RATES, "rating_real", "rating_fake"]:
            rows.append({"model": model, "quantity": quantity, **_mean_sd(group[quantity]), "basis": "raters"})
    pooled = pd.concat([key.merge(a, on="image_id") for a in raters.values()], ignore_index=True)
    for truth in (REAL, FAKE):
        ratings = pooled.loc[(pooled["truth"] == truth), "rating"]
        rows.append({"model": ALL, "quantity": f"rating_{truth}", **_mean_sd(ratings), "basis": "all ratings"})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _mean_sd(values: pd.Series) -> dict:
    values = pd.to_numeric(values, errors="coerce").dropna().to_numpy(float)
    return {"mean": float(values.mean()) if len(values) else None,
            "sd": float(values.std(ddof=1)) if len(values) > 1 else None, "n": len(values)}


def fid_correlation(
    per_rater: pd.DataFrame, fid: Mapping[str, float], models: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-model FID and mean FPR, one-row Pearson r and p of FID vs mean FPR)."""
    negative = [f"{m}={v}" for m, v in fid.items() if not (math.isfinite(v) and v >= 0)]
    if negative:  # a Fréchet distance is a finite number >= 0: anything else is a typo
        raise VTTError(f"--fid {', '.join(negative)}: an FID must be a finite number >= 0")
    unknown = sorted(set(fid) - set(models))
    if unknown:
        raise VTTError(f"--fid names model(s) not in the key: {', '.join(unknown)}; models: {', '.join(models)}")
    # a one-model kit has only the `all` subset, which is that model
    subset = {m: (m if len(models) > 1 else ALL) for m in models}
    per_model = pd.DataFrame([
        {"model": m, "fid": fid.get(m), **_mean_sd(per_rater.loc[per_rater.model == subset[m], "fpr"])} for m in models
    ]).rename(columns={"mean": "mean_fpr", "sd": "sd_fpr", "n": "n_raters"})
    used = per_model.dropna(subset=["fid", "mean_fpr"])
    row = {"n_models": len(used), "pearson_r": None, "p": None, "note": ""}
    if len(used) < 3:
        row["note"] = f"{len(used)} model(s) with FID and FPR: a correlation needs at least 3"
    elif np.ptp(used["fid"]) == 0 or np.ptp(used["mean_fpr"]) == 0:
        row["note"] = "FID or FPR identical for all models: correlation undefined"
    else:
        res = stats.pearsonr(used["fid"].to_numpy(float), used["mean_fpr"].to_numpy(float))
        row.update(pearson_r=float(res.statistic), p=float(res.pvalue))
    return per_model, pd.DataFrame([row])


def score_vtt(
    key: str | os.PathLike,
    answers: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    fid: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """Score every rater's answers; writes per_rater.csv, summary.csv, summary.md (+ fid_fpr.csv, correlation.csv)."""
    if not answers:
        raise VTTError("no answer files given")
    key_table = read_key(key)
    raters: dict[str, pd.DataFrame] = {}
    for path in answers:
        name, table = read_answers(path, key_table)
        if name in raters:
            raise VTTError(f"rater {name!r} appears twice ({path}); name the files or rater column uniquely")
        raters[name] = table
    per_rater = per_rater_table(raters, key_table)
    summary = summary_table(per_rater, raters, key_table)
    models = sorted(set(key_table.loc[key_table["truth"] == FAKE, "model"]))
    tables = {"per_rater": per_rater, "summary": summary}
    if fid:
        tables["fid_fpr"], tables["correlation"] = fid_correlation(per_rater, fid, models)
    markdown = summary_markdown(summary, tables.get("correlation"), len(raters))
    out = Path(out)
    with atomic_folder(out) as build:  # every table or none
        for name, table in tables.items():
            write_csv(table, build / f"{name}.csv")
        write_text(build / "summary.md", markdown)
    return {**{name: os.fspath(out / f"{name}.csv") for name in tables}, "markdown": os.fspath(out / "summary.md")}


def _pct(mean, sd) -> str:
    if mean is None or pd.isna(mean):
        return ""
    return f"{100 * mean:.0f}" + ("" if sd is None or pd.isna(sd) else f" (±{100 * sd:.0f})")


def summary_markdown(summary: pd.DataFrame, correlation: pd.DataFrame | None, n_raters: int) -> str:
    """The abstract's Table 3 layout: mean (±sd) in % per model, realism, correlation."""
    lines = [f"# Visual Turing test ({n_raters} rater(s))", "",
             "Positive = real. FPR: generated images called real; FNR: real images called generated. "
             "Mean (±sd) across raters, in %.", "",
             "| model | precision | recall | accuracy | FPR | FNR |", "|---|---|---|---|---|---|"]
    raters = summary[summary["basis"] == "raters"]
    for model, group in raters.groupby("model", sort=False):
        cells = [_pct(*group.loc[group.quantity == q, ["mean", "sd"]].iloc[0]) for q in RATES]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    pooled = summary[summary["basis"] == "all ratings"].set_index("quantity")
    lines += ["", "Realism (1–5, pooled over all ratings): " + ", ".join(
        f"{t} {_fmt(pooled.loc[f'rating_{t}'])}" for t in (REAL, "fake")) + "."]
    if correlation is not None:
        r = correlation.iloc[0]
        text = r["note"] or f"Pearson r = {r['pearson_r']:.2f}, p = {r['p']:.3g}"
        lines += ["", f"FID vs mean FPR over {r['n_models']} model(s): {text}."]
    return "\n".join(lines) + "\n"


def _fmt(row: pd.Series) -> str:
    if row["mean"] is None or pd.isna(row["mean"]):
        return "no ratings"
    sd = "" if row["sd"] is None or pd.isna(row["sd"]) else f" (±{row['sd']:.2f})"
    return f"{row['mean']:.2f}{sd}"


def kit_fids(score_files: Mapping[str, Mapping[int, str | os.PathLike]], iterations: Mapping[str, int],
             metric: str = "fid") -> dict[str, float]:
    """Each kit model's `metric` at the checkpoint the kit sampled: the mean over its score file's sample sets."""
    import json

    fids = {}
    for model, iteration in iterations.items():
        path = {int(k): v for k, v in score_files[model].items()}.get(int(iteration))
        if path is None:
            raise VTTError(f"no score file of {model} at iteration {iteration}, the kit's checkpoint")
        values = [r[metric] for r in json.loads(Path(path).read_text())["repeats"] if r.get(metric) is not None]
        if not values:
            raise VTTError(f"{path}: no {metric} values")
        fids[model] = float(np.mean(values))
    return fids


def fid_fpr_figure(fid_fpr: pd.DataFrame, correlation: pd.DataFrame, metric: str, out: str | os.PathLike) -> None:
    """Each model's FID against its raters' mean FPR (± sd across raters), with the Pearson correlation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deeppc.files import atomic_open

    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    data = fid_fpr.dropna(subset=["fid", "mean_fpr"])
    ax.errorbar(data["fid"], 100 * data["mean_fpr"], yerr=100 * data["sd_fpr"].fillna(0), fmt="o", capsize=3)
    for _, r in data.iterrows():
        ax.annotate(r["model"], (r["fid"], 100 * r["mean_fpr"]), textcoords="offset points", xytext=(5, 4),
                    fontsize=8)  # fmt: skip
    c = correlation.iloc[0]
    note = c["note"] or f"Pearson r = {c['pearson_r']:.2f}, p = {c['p']:.3g}, {int(c['n_models'])} models"
    ax.set(xlabel=f"{metric.upper()} of the sampled checkpoint (lower is better)",
           ylabel="raters' FPR, % (generated called real)", title=f"Visual Turing test: {note}")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    with atomic_open(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=120)
    plt.close(fig)
