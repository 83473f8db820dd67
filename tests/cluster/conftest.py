"""Fixtures for the cluster, provenance and rerun tests: a small study run once per session."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fake_pbs, workflow_runs

from workflow_runs import REPO, reduced_config, snakemake, write_config  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slurm: needs the one-node SLURM cluster of tests/cluster/slurm/setup.sh (started by the tests as root)"
    )


@pytest.fixture(scope="session")
def reduced_run(tmp_path_factory) -> Path:
    """The reduced study (data, one experiment, scores, stats, figures) run locally; treat as read-only."""
    work = tmp_path_factory.mktemp("reduced-run")
    config = write_config(work / "reduced.yaml", reduced_config())
    result = snakemake("--cores", "2", "--configfile", str(config), cwd=work)
    assert result.returncode == 0, result.stderr[-4000:]
    return work


@pytest.fixture()
def reduced_copy(reduced_run, tmp_path) -> Path:
    """A private copy of the reduced run (results and .snakemake, modification times kept) to alter."""
    copy = tmp_path / "run"
    shutil.copytree(reduced_run, copy, symlinks=True)
    return copy


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
