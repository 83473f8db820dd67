"""The Snakemake workflow: lint, config validation before any job, the demo end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run snakemake on this repository's Snakefile with `cwd` as its working directory."""
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), "-s", str(REPO / "Snakefile"), "--directory", str(cwd), *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=1800)


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_a_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  demo: {}\n  image_sise: 64\n")
    result = snakemake("--cores", "1", "--configfile", str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "config key 'data.image_sise': unknown key" in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo-run")
    result = snakemake("--cores", "2", "--configfile", str(REPO / "config" / "demo.yaml"), cwd=work)
    assert result.returncode == 0, result.stderr[-4000:]
    return work


@pytest.mark.workflow
def test_demo_runs_end_to_end(demo_run):
    results = demo_run / "results"
    summary = json.loads((results / "data" / "summary.json").read_text())
    assert summary["status"]["ok"] >= 40
    assert summary["views"]["LAT"]["train"] > 0 and summary["views"]["AP"]["holdout"] > 0
    assert (results / "logs" / "preprocess.log").read_text().count("data stage done") == 1
    assert (results / "benchmarks" / "preprocess.tsv").is_file()


@pytest.mark.workflow
def test_nothing_reruns_after_a_complete_run(demo_run):
    result = snakemake("-n", "--configfile", str(REPO / "config" / "demo.yaml"), cwd=demo_run)
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr
