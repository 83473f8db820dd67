"""Training-run names: an experiment's replicates are NAME (replicate 0), NAME@r1, NAME@r2, ...

The name is a valid folder name, so each replicate has its own runs/ and scores/ folders,
and every stage (training seeds, statistics) recovers (experiment, replicate) from it.
"""

from __future__ import annotations

import re

_RUN = re.compile(r"^(?P<name>.+)@r(?P<k>[1-9][0-9]*)$")


def split_run(run: str) -> tuple[str, int]:
    """`'wgangp1@r2'` -> `('wgangp1', 2)`; `'wgangp1'` -> `('wgangp1', 0)` (the stats stage reads the same names)."""
    match = _RUN.match(run)
    return (match["name"], int(match["k"])) if match else (run, 0)


def run_names(name: str, replicates: int) -> list[str]:
    """The training runs of an experiment: its own name, then NAME@r1 ... NAME@r{replicates-1}."""
    return [name] + [f"{name}@r{k}" for k in range(1, replicates)]
