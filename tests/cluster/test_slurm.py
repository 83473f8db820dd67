"""The SLURM profile on a real (one-node) SLURM cluster: the study through sbatch, and a killed training job resuming.

Needs the cluster of tests/cluster/slurm/setup.sh; the `cluster` fixture
starts it when it is down and the tests run as root (as on CI and a fresh
machine), otherwise it fails with one message saying how to run the rest. The reduced study keeps it to a few minutes on two cores; every job
still goes through sbatch, sacct and the SLURM executor plugin.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

from workflow_runs import REPO, SNAKEMAKE, reduced_config, snakemake, write_config

pytestmark = pytest.mark.slurm

PROFILE = REPO / "profiles" / "slurm"
SETUP = REPO / "tests" / "cluster" / "slurm" / "setup.sh"
PARTITION = "ci"  # tests/cluster/slurm/setup.sh
CKPT = "results/runs/vanilla2/ckpt/{}.pt"


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def _partition() -> tuple[str, str]:
    """(CPUs, memory MB) of the test partition; raises if SLURM or the partition is not there."""
    _run("scontrol", "ping")
    cpus, mem = _run("sinfo", "-h", "-p", PARTITION, "-o", "%c %m").split()[:2]
    return cpus, mem


def _start_cluster() -> None:
    """Bring the one-node cluster up (root: apt and daemons), as the README's test command promises."""
    if os.geteuid() != 0:
        raise PermissionError("starting the test cluster needs root (apt-get, daemons)")
    subprocess.run(["bash", str(SETUP)], check=True, timeout=900)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Path:
    """A partition file for the test cluster (the partition override), starting the cluster when it is down."""
    try:
        cpus, mem = _partition()
    except (OSError, subprocess.SubprocessError, ValueError):
        try:
            _start_cluster()
            cpus, mem = _partition()
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            pytest.fail(f"no SLURM partition {PARTITION!r} and it could not be started ({exc}); run "
                        f"`sudo {SETUP.relative_to(REPO)}` and retry, or run the rest with `pytest -m 'not slurm'`",
                        pytrace=False)
    path = tmp_path_factory.mktemp("slurm") / "partitions.yaml"
    path.write_text(f"partitions:\n  {PARTITION}: {{max_threads: {cpus}, max_mem_mb: {mem}, max_runtime: 600}}\n")
    return path


def _slurm_args(partitions: Path) -> list[str]:
    # test-only overrides of the profile: the partition, quicker first status check, and the
    # data stage's memory (its rule asks 8 GB, more than a CI runner may have)
    return ["--profile", str(PROFILE), "--slurm-partition-config", str(partitions),
            "--slurm-init-seconds-before-status-checks", "2", "--set-resources", "preprocess:mem_mb=2000"]


def _jobs(run_id: str) -> list[dict[str, str]]:
    """The SLURM jobs of one Snakemake run (its jobs carry the run id as job name), in submission order."""
    out = _run("sacct", "-X", "-n", "-P", "--name", run_id, "--starttime", "now-1days",
               "-o", "JobIDRaw,State,Partition,NCPUS,SubmitLine%4000")
    jobs = []
    for line in out.splitlines():
        job_id, state, partition, ncpus, submit = line.split("|", 4)
        comment = re.search(r"--comment (\S+)", submit)
        jobs.append({"id": job_id, "state": state, "partition": partition, "ncpus": ncpus, "submit": submit,
                     "what": comment.group(1) if comment else ""})
    return jobs


def _run_id(log: str) -> str:
    return re.search(r"SLURM run ID: (\S+)", log).group(1)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("slurm-run")
    config = write_config(work / "reduced.yaml", reduced_config())
    result = snakemake(*_slurm_args(cluster), "--configfile", str(config), cwd=work)
    assert result.returncode == 0, result.stderr[-6000:]
    return work, _run_id(result.stderr)


def test_the_study_runs_through_sbatch(slurm_run):
    work, run_id = slurm_run
    assert (work / "results" / "stats" / "pairwise.csv").is_file()
    assert (work / "results" / "figures" / "curves_fid.png").stat().st_size > 10_000
    jobs = _jobs(run_id)
    assert {j["state"] for j in jobs} == {"COMPLETED"} and {j["partition"] for j in jobs} == {PARTITION}
    what = sorted(j["what"] for j in jobs)
    # every rule job but `all` (local) went through sbatch; the two scoring jobs as one group job
    assert len(jobs) == 12 and not any(w.startswith("rule_score_") for w in what)
    assert what.count("rule_scoring_score") == 1
    train = next(j for j in jobs if j["what"] == "rule_train_vanilla2")
    assert "--signal=TERM@120" in train["submit"] and " -t 20 " in train["submit"]
    assert "--mem 1500" in train["submit"] and "--cpus-per-task=1" in train["submit"]


def test_the_cluster_run_is_consistent_and_complete(slurm_run, cluster, capsys):
    from deeppc.cli import main

    work, _ = slurm_run
    assert main(["audit", str(work / "results"), "--quiet"]) == 0, capsys.readouterr().out
    assert "SLURM_JOB_ID" in (work / "results" / "provenance" / "train_vanilla2.json").read_text()
    again = snakemake("-n", *_slurm_args(cluster), "--configfile", str(work / "reduced.yaml"), cwd=work)
    assert "Nothing to be done" in again.stdout + again.stderr  # nothing is trained or scored twice


def test_a_cancelled_training_job_resumes_and_ends_with_the_same_weights(slurm_run, cluster, tmp_path):
    """scancel a running training job; Snakemake resubmits it, it resumes from its state and
    finishes bit-identical to the uninterrupted training of the first run."""
    reference, _ = slurm_run
    work = tmp_path / "killed"
    for part in ("results/demo", "results/data"):  # same data, so only training runs here
        shutil.copytree(reference / part, work / part)
    shutil.copy2(reference / "reduced.yaml", work / "reduced.yaml")
    target = "results/runs/vanilla2/summary.json"
    with (tmp_path / "snakemake.log").open("w") as log:
        proc = subprocess.Popen(
            [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(work), target,
             *_slurm_args(cluster), "--configfile", str(work / "reduced.yaml")],
            cwd=work, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            job_id = _wait_for_saved_state(work, proc)
            subprocess.run(["scancel", job_id], check=True)
            assert proc.wait(timeout=900) == 0, (tmp_path / "snakemake.log").read_text()[-6000:]
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=120)
    out = (tmp_path / "snakemake.log").read_text()
    trains = [(j["id"], j["state"].split()[0]) for j in _jobs(_run_id(out)) if j["what"] == "rule_train_vanilla2"]
    assert len(trains) == 2 and trains[0] == (job_id, "CANCELLED") and trains[1][1] == "COMPLETED"
    # scancel's SIGTERM reached the training process: it saved its state and exited 143 (the failed
    # attempt's SLURM log is kept; Snakemake starts the rule's own log afresh for the next attempt)
    cancelled_log = work / ".snakemake" / "slurm_logs" / "rule_train_vanilla2" / f"{job_id}.log"
    assert "returned non-zero exit status 143" in cancelled_log.read_text()
    train_log = (work / "results" / "logs" / "train" / "vanilla2.log").read_text()
    resumed = re.search(r"resuming vanilla2 after iteration (\d+)", train_log)
    assert resumed and 0 < int(resumed.group(1)) < 200, train_log[-3000:]
    for iteration in (100, 200):
        mine = torch.load(work / CKPT.format(iteration), map_location="cpu", weights_only=True)
        theirs = torch.load(reference / CKPT.format(iteration), map_location="cpu", weights_only=True)
        assert mine["state_dict"].keys() == theirs["state_dict"].keys()
        for name, tensor in theirs["state_dict"].items():
            assert torch.equal(mine["state_dict"][name], tensor), f"{iteration}.pt: {name} differs"


def _wait_for_saved_state(work: Path, proc: subprocess.Popen, timeout_s: float = 600) -> str:
    """The SLURM id of the running training job, once it has saved a resume state."""
    state = work / "results" / "runs" / "vanilla2" / "state" / "resume.pt"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "Snakemake ended before the training job could be cancelled"
        running = [line.split("|")[0] for line in _run("squeue", "-h", "-o", "%i|%k|%T").splitlines()
                   if line.endswith("|rule_train_vanilla2|RUNNING")]
        if running and state.exists():
            return running[0]
        time.sleep(0.5)
    raise AssertionError("the training job never ran with a saved resume state")


WALLTIME_RULE = """
rule work:
    output: "done.txt"
    resources: runtime=3, mem_mb=100
    script: "work.py"
"""

# First attempt: wait for SIGTERM, "save" and exit 143 as training does; a later attempt finishes.
WALLTIME_SCRIPT = """
import pathlib, signal, sys, time
saved = pathlib.Path("saved.txt")
if saved.exists():
    pathlib.Path(snakemake.output[0]).write_text(saved.read_text())
    sys.exit(0)
start = time.monotonic()
def on_term(signum, frame):
    saved.write_text(f"SIGTERM after {time.monotonic() - start:.0f} s")
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
time.sleep(300)
"""


def test_jobs_get_sigterm_before_their_time_limit_and_are_retried(cluster, tmp_path):
    """The profile's --signal=TERM@120 reaches the rule's own process (below the job step) before
    the time limit. The limit here is 3 minutes, so the signal is due after 1 (SLURM may send it up to
    a minute early) with 2 minutes to spare: a 1-minute limit raced the scheduler's own timeout kill."""
    (tmp_path / "Snakefile").write_text(WALLTIME_RULE)
    (tmp_path / "work.py").write_text(WALLTIME_SCRIPT)
    result = snakemake("--profile", str(PROFILE), "--slurm-partition-config", str(cluster),
                       "--slurm-init-seconds-before-status-checks", "2", cwd=tmp_path,
                       snakefile=tmp_path / "Snakefile")
    assert result.returncode == 0, result.stderr[-4000:]
    seconds = int((tmp_path / "done.txt").read_text().removeprefix("SIGTERM after ").removesuffix(" s"))
    assert seconds < 150  # the early signal, not the kill at the 180 s limit
    jobs = _jobs(_run_id(result.stderr))
    assert [j["state"] for j in jobs] == ["FAILED", "COMPLETED"]
    assert "--signal=TERM@120" in jobs[0]["submit"] and " -t 3 " in jobs[0]["submit"]
