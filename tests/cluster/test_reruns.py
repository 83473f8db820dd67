"""What a change reruns (dry runs on a finished run). Editing one experiment is in tests/test_workflow.py.

Snakemake 9's default rerun triggers are mtime, params, input, software-env
and code; for `script:` rules "code" means the script file's modification
time (newer than the job's outputs), not the library code it calls.
"""

from __future__ import annotations

import os
import re
import shutil
import time

from workflow_runs import REPO, planned_jobs, planned_rules, reduced_config, snakemake, write_config

DOWNSTREAM_OF_DATA = {"preprocess", "real_stats", "train_vanilla2", "score", "stats", "figure_curves",
                      "figure_losses", "figure_samples", "figure_memorization", "front_page"}


def _dry_run(work, config, *args, snakefile=None):
    result = snakemake("-n", "--configfile", str(config), *args, cwd=work, snakefile=snakefile)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_a_complete_run_has_nothing_to_do(reduced_run):
    out = _dry_run(reduced_run, reduced_run / "reduced.yaml")
    assert "Nothing to be done" in out


def test_editing_the_data_config_reruns_everything_downstream(reduced_run, tmp_path):
    config = write_config(tmp_path / "data-edited.yaml", reduced_config(data={"split": {"holdout_fraction": 0.25}}))
    out = _dry_run(reduced_run, config)
    assert planned_rules(out) == DOWNSTREAM_OF_DATA  # the demo export and random weights do not read it
    reasons = dict(re.findall(r"^(?:local)?rule (\S+):\n(?:    .*\n)*?    reason: (.*)$", out, re.M))
    assert reasons["preprocess"].startswith("Params have changed since last execution")
    assert reasons["train_vanilla2"].startswith("Input files updated by another job")
    # --list-changes params names the data outputs (Snakemake 9.27 also lists the last output of every
    # other job, changed or not: read the dry run's reasons instead, see docs/cluster.md)
    changed = _dry_run(reduced_run, config, "--list-changes", "params").splitlines()
    assert {"results/data/manifest.csv", "results/data/summary.json"} <= set(changed)
    # only the params trigger sees a config edit: without it nothing reruns
    assert "Nothing to be done" in _dry_run(reduced_run, config, "--rerun-triggers", "mtime", "input", "code")


def test_editing_a_report_script_reruns_only_its_figures(reduced_run, tmp_path):
    # a copy of the workflow whose figure_curves script is newer than the figures it made
    flow = tmp_path / "flow"
    for part in ("rules", "workflow"):
        shutil.copytree(REPO / part, flow / part)
    shutil.copy2(REPO / "Snakefile", flow / "Snakefile")
    (flow / "src").symlink_to(REPO / "src")
    script = flow / "workflow" / "scripts" / "figure_curves.py"
    os.utime(script, (time.time(), time.time()))
    jobs = planned_jobs(_dry_run(reduced_run, reduced_run / "reduced.yaml", snakefile=flow / "Snakefile"))
    assert {rule for rule, _ in jobs} == {"figure_curves"}
    assert [out for rule, out in jobs if rule == "figure_curves"] == ["results/figures/curves_fid.png"]


def test_scored_checkpoints_are_not_rescored(reduced_copy):
    # the login node's Snakemake stopped while scoring: one checkpoint scored, one not, no stats yet
    results = reduced_copy / "results"
    for path in (results / "scores" / "vanilla2" / "100.json", results / "scores" / "vanilla2" / "100.pairs.png",
                 results / "figures" / "curves_fid.png", results / "figures" / "comparison_fid.png"):
        path.unlink()
    shutil.rmtree(results / "stats")
    jobs = planned_jobs(_dry_run(reduced_copy, reduced_copy / "reduced.yaml"))
    assert [out for rule, out in jobs if rule == "score"] == ["results/scores/vanilla2/100.json"]
    assert {rule for rule, _ in jobs} == {"score", "stats", "figure_curves", "front_page"}
