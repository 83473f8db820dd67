"""Running the workflow from tests: the reduced study config and a snakemake runner."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")

# The demo study cut down to what exercises every stage quickly on two cores:
# a smaller demo export, one experiment of 200 iterations (checkpoints at 100
# and 200, resume state every 20), small score sets, no visual Turing test kit.
REDUCED: dict[str, Any] = {
    "seed": 2023,
    "results": "results",
    "data": {
        "demo": {"patients": 12, "seed": 7, "min_size": 256, "max_size": 384},
        "image_size": 64,
        "views": ["LAT", "AP"],
        "split": {"holdout_fraction": 0.2},
        "threads": 1,
    },
    "train": {
        "view": "LAT", "image_size": 64, "batch_size": 16, "iterations": 200,
        "checkpoint_every": 100, "resume_every": 20, "sample_count": 4,
    },
    "experiments": {"vanilla2": {"family": "vanilla", "lr": 0.0002, "betas": [0.5, 0.9]}},
    "weights": {"inception": {"path": "unused-in-tests.pth", "random_init": True}},
    "metrics": {"extractors": ["inception-2015-12-05"], "kid_subset_size": 8, "kid_subsets": 4, "mem_pairs": 4},
    "score": {"n_images": 16, "repeats": 2},
    "stats": {"metrics": ["fid"], "compare_at": "last", "comparisons": []},
    "report": {"sample_iterations": [100, 200]},
    "vtt": {"enabled": False},
    "resources": {
        "train": {"threads": 1, "mem_mb": 1500, "runtime": 20, "gpus": 0, "device": "cpu"},
        "score": {"threads": 1, "mem_mb": 1500, "runtime": 20, "gpus": 0, "device": "cpu"},
    },
}


def reduced_config(**sections: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of REDUCED with the given sections' keys replaced."""
    config = copy.deepcopy(REDUCED)
    for name, changes in sections.items():
        if isinstance(config.get(name), dict):
            config[name].update(changes)
        else:
            config[name] = changes
    return config


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(*args: str, cwd: Path, env: dict[str, str] | None = None, snakefile: Path | None = None,
              timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run snakemake on this repository's Snakefile (or `snakefile`) with `cwd` as its working directory."""
    cmd = [str(SNAKEMAKE), "-s", str(snakefile or REPO / "Snakefile"), "--directory", str(cwd), *args]
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=full_env, timeout=timeout)


def planned_jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, first output) of every job a dry run lists."""
    return re.findall(r"^(?:local)?rule (\S+):\n(?:    .*\n)*?    output: (\S+?)[,\n]", dry_run_output, re.M)


def planned_rules(dry_run_output: str) -> set[str]:
    return {rule for rule, _ in planned_jobs(dry_run_output)}
