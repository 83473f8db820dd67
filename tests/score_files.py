"""Score files written in the score-stage contract (docs/contracts.md): fixtures for the stats and report tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest


def _write(root: Path, run: str, family: str, iteration: int, values: dict[str, list[float]], **extra) -> Path:
    n = len(next(iter(values.values())))
    repeats = [{"repeat": r, "seed": 1000 + r, **{m: v[r] for m, v in values.items() if r < len(v)}} for r in range(n)]
    record = {"experiment": run, "family": family, "iteration": iteration, "checkpoint_sha256": "0" * 64,
              "extractors": {"medfid": "test"}, "n_real": 10, "n_fake": 10, "repeats": repeats, "warnings": [], **extra}
    path = root / run / f"{iteration}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


@pytest.fixture
def write_score(tmp_path: Path) -> Callable[..., Path]:
    """write_score(run, family, iteration, {metric: [values per repeat]}) -> path under tmp/scores."""
    root = tmp_path / "scores"

    def write(run: str, family: str, iteration: int, values: dict[str, list[float]], **extra) -> Path:
        return _write(root, run, family, iteration, values, **extra)

    write.root = root
    return write


# a small study: two families, 5 sample sets at iteration 800, one at 400
STUDY = {
    ("vanilla1", "vanilla"): [170.2, 165.1, 168.9, 172.4, 166.0],
    ("vanilla2", "vanilla"): [110.3, 107.9, 112.6, 108.8, 109.1],
    ("vanilla3", "vanilla"): [111.0, 115.7, 113.2, 118.1, 114.4],
    ("wgangp1", "wgangp"): [92.1, 95.3, 88.7, 94.8, 91.0],
    ("wgangp2", "wgangp"): [96.7, 95.2, 91.1, 93.9, 95.6],
    ("stylegan2", "stylegan2"): [80.5, 79.5, 82.6, 76.0, 81.5],
}


@pytest.fixture
def study_values() -> dict[str, list[float]]:
    """run -> the medfid values at iteration 800 written by `study`."""
    return {run: list(values) for (run, _), values in STUDY.items()}


@pytest.fixture
def study(write_score) -> Path:
    for (run, family), values in STUDY.items():
        write_score(run, family, 400, {"medfid": [values[0] + 50]})
        write_score(run, family, 800, {"medfid": values, "fid": [v / 2 for v in values]})
    return write_score.root
