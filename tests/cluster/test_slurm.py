"""The SLURM profile on a real (one-node) SLURM cluster: the study through sbatch, a killed training job resuming,
grouped jobs fitting the partition and jobs that can never start stopping the run.

Needs the cluster of tests/cluster/slurm/setup.sh; the `cluster` fixture
starts it when it is down and the tests run as root (as on CI and a fresh
machine), otherwise it fails with one message saying how to run the rest. The reduced study keeps it to a few minutes on two cores; every job
still goes through sbatch, sacct and the SLURM executor plugin.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from workflow_runs import REDUCED, REPO, SNAKEMAKE, reduced_config, snakemake, write_config

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


# Scoring on CPUs with 2 threads a job: the profile's group of scoring jobs (8 to a group; here the
# 2 checkpoints) would ask for 4 CPUs side by side, more than the 2-CPU partition has.
SCORE_2_THREADS = {"threads": 2, "mem_mb": 1500, "runtime": 20, "gpus": 0, "device": "cpu"}


# The utility stage, small: real-only and real + 1x the GAN's images, 2 classifier seeds (4 jobs, one group)
UTILITY = {"enabled": True, "ratios": [1], "pool": 1, "seeds": 2, "augment": False, "network": "small_cnn",
           "steps": 20, "batch_size": 8, "eval_every": 10, "bootstrap": 100}
UTILITY_1_THREAD = {"threads": 1, "mem_mb": 1500, "runtime": 10, "gpus": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory) -> tuple[Path, str]:
    work = tmp_path_factory.mktemp("slurm-run")
    config = write_config(work / "reduced.yaml",
                          reduced_config(resources={**REDUCED["resources"], "score": SCORE_2_THREADS,
                                                    "utility": UTILITY_1_THREAD},
                                         utility=UTILITY))  # fmt: skip
    result = snakemake(*_slurm_args(cluster), "--configfile", str(config), cwd=work)
    assert result.returncode == 0, result.stderr[-6000:]
    (work / "snakemake.log").write_text(result.stderr)
    return work, _run_id(result.stderr)


def test_the_study_runs_through_sbatch(slurm_run):
    work, run_id = slurm_run
    assert (work / "results" / "stats" / "pairwise.csv").is_file()
    assert (work / "results" / "figures" / "curves_fid.png").stat().st_size > 10_000
    jobs = _jobs(run_id)
    assert {j["state"] for j in jobs} == {"COMPLETED"} and {j["partition"] for j in jobs} == {PARTITION}
    what = sorted(j["what"] for j in jobs)
    # every rule job but `all` (local) went through sbatch (17, front page included); the two scoring
    # jobs as one group job, the four classifier jobs of the utility stage as another
    assert len(jobs) == 17 and not any(w.startswith(("rule_score_", "rule_utility_arm_")) for w in what), what
    assert what.count("rule_scoring_score") == 1 and what.count("rule_utility_utility_arm") == 1
    assert (work / "results" / "utility" / "paired.csv").is_file()
    train = next(j for j in jobs if j["what"] == "rule_train_vanilla2")
    assert "--signal=TERM@120" in train["submit"] and " -t 20 " in train["submit"]
    assert "--mem 1500" in train["submit"] and "--cpus-per-task=1" in train["submit"]


def test_a_group_of_scoring_jobs_is_laid_out_to_fit_the_partition(slurm_run):
    """Two 2-thread scoring jobs in one group on a 2-CPU partition: the group asks for 2 CPUs and the
    sum of their runtimes (not 4 CPUs, which SLURM would keep pending for ever: PartitionConfig), the
    Snakemake inside gets 2 cores, and the two jobs ran one after the other."""
    work, run_id = slurm_run
    group = next(j for j in _jobs(run_id) if j["what"] == "rule_scoring_score")
    assert group["state"] == "COMPLETED" and group["ncpus"] == "2"
    assert "--cpus-per-task=2" in group["submit"] and " -t 40 " in group["submit"] and "--mem 1500" in group["submit"]
    assert "--cores 2 " in group["submit"]  # not `all`: the node's every CPU where SLURM does not bind
    log = (work / "snakemake.log").read_text()
    assert re.search(r"Group scoring \(2 jobs\) laid out for partition ci .*: asks 2 CPUs, 1500 MB, 0 GPUs, 40 min "
                     r"instead of 4 CPUs, 3000 MB, 0 GPUs, 20 min", log), log[-4000:]
    spans = sorted(_log_span(work / "results" / "logs" / "score" / f"vanilla2_{it}.log") for it in (100, 200))
    assert spans[0][1] <= spans[1][0], spans  # one after the other


def _log_span(path: Path) -> tuple[str, str]:
    """First and last timestamp of a deeppc log (`YYYY-MM-DD HH:MM:SS,mmm LEVEL ...` lines)."""
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", path.read_text(), re.M)
    assert len(stamps) >= 2, path.read_text()
    return stamps[0], stamps[-1]


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


NEVER_STARTS_RULE = """
rule big:
    output: "big.txt"
    threads: {threads}
    resources: mem_mb={mem_mb}, runtime=5
    shell: "echo done > {{output}}"
"""


def test_a_job_that_can_never_start_stops_the_run_naming_the_resource(cluster, tmp_path):
    """64 CPUs on a 2-CPU partition: SLURM accepts the job and keeps it pending with reason
    PartitionConfig for ever. The run stops at the first status check with that reason and the
    resource, the job is cancelled and not retried."""
    (tmp_path / "Snakefile").write_text(NEVER_STARTS_RULE.format(threads=64, mem_mb=100))
    start = time.monotonic()
    result = snakemake("--profile", str(PROFILE), "--slurm-partition-config", str(cluster),
                       "--slurm-init-seconds-before-status-checks", "2", cwd=tmp_path,
                       snakefile=tmp_path / "Snakefile", timeout=300)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, result.stderr[-4000:]
    assert elapsed < 120
    jobs = _jobs(_run_id(result.stderr))
    assert len(jobs) == 1 and jobs[0]["state"].startswith("CANCELLED") and jobs[0]["ncpus"] == "64"
    assert re.search(rf"SLURM job {jobs[0]['id']} \(rule big\) can never start: SLURM keeps it pending with reason "
                     r"PartitionConfig .* It asks for 64 CPUs \(partition ci has at most 2 per node\)\.",
                     result.stderr), result.stderr[-4000:]
    assert "Trying to restart" not in result.stderr  # every attempt would wait just the same
    assert not (tmp_path / "big.txt").exists()


def test_memory_no_node_has_is_refused_at_submission(cluster, tmp_path):
    """More memory than the node: sbatch itself refuses the job; the run stops with sbatch's message."""
    mem_mb = int(_partition()[1]) + 1
    (tmp_path / "Snakefile").write_text(NEVER_STARTS_RULE.format(threads=1, mem_mb=mem_mb))
    start = time.monotonic()
    result = snakemake("--profile", str(PROFILE), "--slurm-partition-config", str(cluster),
                       "--slurm-init-seconds-before-status-checks", "2", cwd=tmp_path,
                       snakefile=tmp_path / "Snakefile", timeout=300)
    assert result.returncode == 1 and time.monotonic() - start < 120, result.stderr[-4000:]
    assert f"--mem {mem_mb} " in result.stderr and "Memory specification can not be satisfied" in result.stderr


def _profile_module():
    """profiles/slurm/deeppc_slurm.py, loaded as the profile loads it (under its own name, registered first)."""
    spec = importlib.util.spec_from_file_location("deeppc_slurm_under_test", PROFILE / "deeppc_slurm.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("reason, never", [
    ("PartitionConfig", True), ("PartitionTimeLimit", True),
    ("QOSMaxCpuPerJobLimit", True), ("QOSMaxWallDurationPerJobLimit", True), ("AssocMaxMemPerJob", True),
    ("QOSMaxCpuPerUserLimit", False),  # starts once the user's other jobs end
    ("AssocGrpCpuLimit", False), ("Resources", False), ("Priority", False), ("Dependency", False),
    # may clear up (nodes down, drained, reserved): waited for, then stopped
    ("ReqNodeNotAvail, UnavailableNodes:node01", False), ("PartitionNodeLimit", False),
])
def test_pending_reasons_that_never_clear(reason, never):
    assert _profile_module().never_starts(reason) is never


def test_partition_limits_from_slurm(cluster):
    """The limits the fit uses are the cluster's own (the test partition: one node of 2 CPUs)."""
    module = _profile_module()
    cpus, mem = _partition()
    limits = module.slurm_limits(PARTITION)
    assert (limits.cpus, limits.mem_mb, limits.gpus) == (int(cpus), int(mem), None)
    assert [module.parse_slurm_minutes(t) for t in ("UNLIMITED", "30", "30:00", "2:00:00", "1-00:00:00", "2-12")] \
        == [None, 30, 30, 120, 1440, 3600]
