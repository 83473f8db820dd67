"""Score files (`scores/{experiment}/{iteration}.json`) as one long DataFrame.

One row per (experiment, iteration, repeat, metric). Training-seed replicates
of an experiment are separate experiments named `{name}@r{k}` (k >= 1), e.g.
`wgangp1@r2`: the name is a valid folder name, so every replicate has its own
`runs/` and `scores/` folders, and `experiment` (the config name, `wgangp1`)
and `replicate` (2) are recovered from it. A score file may also carry an
integer `replicate` field; it must agree with the name. A name without `@r`
is replicate 0, the only training run of that experiment.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Iterable

import pandas as pd

from deeppc.run_names import split_run
from deeppc.validate import InputError, first_line

# keys of a repeat entry that are bookkeeping, not metrics
NON_METRIC_KEYS = {"repeat", "seed"}
COLUMNS = ["experiment", "replicate", "run", "family", "iteration", "repeat", "seed", "metric", "value", "source",
           "batch_size", "images_seen", "n_train"]
# training progress of the scored checkpoint (score files' `progress`; empty in older files)
PROGRESS_KEYS = ("batch_size", "images_seen", "n_train")


class StatsInputError(InputError):
    """The scores cannot answer the question asked (missing metric, experiment, iteration)."""


class ScoreFileError(StatsInputError):
    """A score file is unreadable or breaks the score contract."""


def natural_key(name: str) -> list:
    """Sort key so that `vanilla2` sorts before `vanilla10`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"([0-9]+)", name)]


def find_score_files(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand folders (searched recursively for *.json) and files, sorted, unique."""
    found: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.update(p for p in path.rglob("*.json") if not p.name.startswith("."))
        elif path.is_file():
            found.add(path)
        else:
            raise FileNotFoundError(f"score file or folder not found: {path}")
    if not found:
        raise FileNotFoundError("no score files (*.json) found in: " + ", ".join(map(str, inputs)))
    return sorted(found)


def load_scores(inputs: Iterable[str | os.PathLike] | str | os.PathLike) -> pd.DataFrame:
    """Read score JSONs (files or folders) into a long DataFrame (see COLUMNS).

    `run` is the name in the file (`wgangp1@r2`), `experiment` its config name
    (`wgangp1`). Non-finite metric values (a diverged run's FID of inf) are
    kept as they are; the analysis drops and reports them.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    rows: list[dict] = []
    seen: dict[tuple[str, int], Path] = {}
    for path in find_score_files(inputs):
        record = _read(path)
        key = (record["experiment"], int(record["iteration"]))
        if key in seen:
            raise ScoreFileError(f"{path}: duplicate scores for {key[0]} iteration {key[1]} (also in {seen[key]})")
        seen[key] = path
        rows.extend(_rows(record, path))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    _check_families(frame)
    return frame


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, or bytes that are not UTF-8 text
        raise ScoreFileError(f"{path}: not a readable score JSON ({first_line(exc)})") from exc
    if not isinstance(record, dict):
        raise ScoreFileError(f"{path}: expected a JSON object")
    missing = [key for key in ("experiment", "family", "iteration", "repeats") if key not in record]
    if missing:
        raise ScoreFileError(f"{path}: missing key(s) {', '.join(missing)} (see docs/contracts.md, score stage)")
    if not isinstance(record["repeats"], list) or not record["repeats"]:
        raise ScoreFileError(f"{path}: 'repeats' must be a non-empty list")
    if not isinstance(record["iteration"], int) or isinstance(record["iteration"], bool):
        raise ScoreFileError(f"{path}: 'iteration' must be an integer, got {record['iteration']!r}")
    return record


def _rows(record: dict, path: Path) -> list[dict]:
    run = str(record["experiment"])
    experiment, replicate = split_run(run)
    if "replicate" in record and record["replicate"] is not None:
        if int(record["replicate"]) != replicate:
            raise ScoreFileError(
                f"{path}: field replicate={record['replicate']} disagrees with experiment name {run!r} "
                f"(replicate k is named '{experiment}@r<k>')"
            )
    progress = _progress(record, path)
    rows = []
    for index, rep in enumerate(record["repeats"]):
        if not isinstance(rep, dict):
            raise ScoreFileError(f"{path}: repeats[{index}] is not an object")
        for metric, value in rep.items():
            if metric in NON_METRIC_KEYS or not _is_number(value):
                continue
            rows.append({
                "experiment": experiment, "replicate": replicate, "run": run,
                "family": str(record["family"]), "iteration": int(record["iteration"]),
                "repeat": int(rep.get("repeat", index)), "seed": rep.get("seed"),
                "metric": metric, "value": float(value), "source": str(path), **progress,
            })
    return rows


def _progress(record: dict, path: Path) -> dict:
    progress = record.get("progress") or {}
    if not isinstance(progress, dict):
        raise ScoreFileError(f"{path}: 'progress' must be an object")
    out = {}
    for key in PROGRESS_KEYS:
        value = progress.get(key)
        if value is not None and not (_is_number(value) and value >= 0):
            raise ScoreFileError(f"{path}: progress.{key} must be a number >= 0, got {value!r}")
        out[key] = float(value) if value is not None else float("nan")
    return out


def _is_number(value: object) -> bool:
    # bools are ints in Python but never metrics; None marks a metric that failed
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_families(frame: pd.DataFrame) -> None:
    families = frame.groupby("experiment")["family"].nunique()
    mixed = families[families > 1]
    if len(mixed):
        name = mixed.index[0]
        found = sorted(frame.loc[frame.experiment == name, "family"].unique())
        raise ScoreFileError(f"experiment {name!r} appears with several families: {found}")


def available_metrics(frame: pd.DataFrame) -> list[str]:
    """Metric names present in a loaded score frame, sorted."""
    return sorted(frame["metric"].unique())


def require_metric(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of one metric; a metric in no score file is an error naming the ones there are."""
    rows = frame[frame["metric"] == metric]
    if rows.empty:
        raise StatsInputError(
            f"metric {metric!r} is in no score file; available: {', '.join(available_metrics(frame)) or 'none'}"
        )
    return rows
