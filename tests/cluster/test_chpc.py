"""The CHPC Lengau (PBS Pro) profile: directives, status mapping, walltime timer, runs on stand-in qsub/qstat/qdel
(tests/cluster/fake_pbs.py: no PBS server can be installed here), batches of jobs laid out to fit their queue, and
jobs PBS can never run stopping the run."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fake_pbs
from workflow_runs import REPO, reduced_config, snakemake, write_config

PROFILE = REPO / "profiles" / "chpc"
sys.path.insert(0, str(PROFILE))
import pbs  # noqa: E402  (profiles/chpc/pbs.py, shared by submit.py, status.py, cancel.py)


@pytest.fixture()
def settings(monkeypatch) -> dict:
    monkeypatch.setenv("DEEPPC_PBS_PROJECT", "TEST1234")
    return pbs.load_settings()


def _props(rule: str, threads: int, **resources) -> dict:
    return {"type": "single", "rule": rule, "threads": threads, "wildcards": {}, "resources": resources}


def test_a_gpu_training_job_goes_to_gpu_1_with_its_walltime(settings, tmp_path):
    req = pbs.plan(_props("train_wgangp1", 4, gpu=1, mem_mb=32000, runtime=720), settings, tmp_path)
    assert req.directives()[:5] == ["-N train_wgangp1", "-P TEST1234", "-q gpu_1",
                                    "-l select=1:ncpus=10:ngpus=1:mem=32000mb", "-l walltime=12:00:00"]
    assert req.term_after_s == 12 * 3600 - 120 and not req.capped


def test_a_run_on_several_gpus_goes_to_gpu_n(settings, tmp_path):
    """`gpus: 4` on an experiment: its train job asks gpu=4 (rules/train.smk), PBS gets ngpus=4 on gpu_4."""
    req = pbs.plan(_props("train_stylegan2", 4, gpu=4, mem_mb=32000, runtime=720), settings, tmp_path)
    assert req.directives()[2:4] == ["-q gpu_4", "-l select=1:ncpus=40:ngpus=4:mem=32000mb"]
    with pytest.raises(pbs.SubmitError, match="no GPU queue for 5 GPUs"):
        pbs.plan(_props("train_stylegan2", 4, gpu=5, mem_mb=32000, runtime=720), settings, tmp_path)


def test_a_cpu_job_goes_to_serial_or_smp(settings, tmp_path):
    req = pbs.plan(_props("preprocess", 16, gpu=0, mem_mb=8000, runtime=240), settings, tmp_path)
    assert req.directives()[2:5] == ["-q serial", "-l select=1:ncpus=16:mem=8000mb", "-l walltime=04:00:00"]
    whole_node = pbs.plan(_props("preprocess", 24, mem_mb=8000, runtime=60), settings, tmp_path)
    assert (whole_node.queue, whole_node.ncpus) == ("smp", 24)
    long = pbs.plan(_props("preprocess", 4, mem_mb=8000, runtime=60 * 60), settings, tmp_path)
    assert (long.queue, long.walltime_s) == ("smp", 60 * 3600)  # over serial's 48 h


def test_runtimes_over_the_queue_limit_are_cut_and_impossible_jobs_refused(settings, tmp_path):
    req = pbs.plan(_props("train_x", 4, gpu=1, mem_mb=1000, runtime=2000), settings, tmp_path)
    assert req.capped and pbs.format_walltime(req.walltime_s) == "12:00:00"
    with pytest.raises(pbs.SubmitError, match="no GPU queue for 8 GPUs"):
        pbs.plan(_props("train_x", 4, gpu=8), settings, tmp_path)
    with pytest.raises(pbs.SubmitError, match="no CPU queue .* takes 64 threads"):
        pbs.plan(_props("preprocess", 64), settings, tmp_path)


def test_the_project_must_be_set(monkeypatch):
    monkeypatch.delenv("DEEPPC_PBS_PROJECT", raising=False)
    with pytest.raises(pbs.SubmitError, match="DEEPPC_PBS_PROJECT"):
        pbs.load_settings()


def test_walltime_and_term_times():
    assert pbs.format_walltime(90 * 60) == "01:30:00" and pbs.format_walltime(100 * 3600) == "100:00:00"
    assert pbs.term_after(3600, 120) == 3480 and pbs.term_after(60, 120) == 30


QSTAT = """Job Id: 4711.sched01
    Job_Name = train_wgangp1
    job_state = {state}
    resources_used.walltime = 12:00:05
    Variable_List = PBS_O_HOME=/home/u,PBS_O_PATH=/usr/bin:/bin,
\tPBS_O_WORKDIR=/mnt/lustre/users/u/deeppc
{exit}"""


@pytest.mark.parametrize("state, exit_status, expected", [
    ("Q", None, "running"), ("R", None, "running"), ("E", None, "running"), ("H", None, "running"),
    ("F", "0", "success"), ("X", "0", "success"),
    ("F", "271", "failed"),  # killed by SIGTERM (256 + 15): walltime, qdel
    ("F", "-29", "failed"),  # PBS's own code for a job over its walltime
    ("F", "143", "failed"),  # training saved its resume state after SIGTERM from the timer
    ("F", None, "failed"),  # deleted before it ran
])
def test_qstat_states_map_to_snakemake_states(state, exit_status, expected):
    text = QSTAT.format(state=state, exit=f"    Exit_status = {exit_status}\n" if exit_status else "")
    attrs = pbs.parse_qstat(text)
    assert attrs["Variable_List"].endswith("PBS_O_WORKDIR=/mnt/lustre/users/u/deeppc")
    assert pbs.status_of(attrs) == expected


def test_the_timer_sends_term_before_the_walltime_and_keeps_the_jobs_exit_code(settings, tmp_path):
    job = tmp_path / "job.sh"
    job.write_text("trap 'echo saved > state.txt; exit 143' TERM\necho $MARK > started.txt\n"
                   "for i in $(seq 100); do sleep 0.1; done\necho unfinished > state.txt\n")
    req = pbs.plan(_props("train_x", 1, gpu=1, runtime=60), settings, tmp_path)
    script = pbs.job_script(dataclasses.replace(req, term_after_s=2), job, ["export MARK=set-up"])
    assert "#PBS -l walltime=01:00:00" in script and "#PBS -V" in script
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env={"PATH": "/usr/bin:/bin",
                                                                    "PBS_O_WORKDIR": str(tmp_path)})
    assert done.returncode == 143
    assert (tmp_path / "started.txt").read_text() == "set-up\n" and (tmp_path / "state.txt").read_text() == "saved\n"


def test_the_study_runs_through_the_profile_on_stand_in_pbs(tmp_path):
    """GPU training and CPU data jobs get the right directives; a job PBS reports failed is retried."""
    bin_dir, state = tmp_path / "bin", tmp_path / "pbs-state"
    fake_pbs.install(bin_dir, state)
    config = reduced_config(resources={"train": {"threads": 1, "mem_mb": 1500, "runtime": 20, "gpus": 1,
                                                 "device": "cpu"}})
    path = write_config(tmp_path / "chpc.yaml", config)
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin", "DEEPPC_PBS_PROJECT": "TEST1234",
           "FAKE_PBS_FAIL_FIRST": "demo_data"}
    result = snakemake("--profile", str(PROFILE), "--configfile", str(path), "--seconds-between-status-checks", "1",
                       "results/runs/vanilla2/summary.json", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-4000:]

    jobs = fake_pbs.submissions(state)
    by_name = {}
    for job in jobs:
        by_name.setdefault(job["name"], []).append(job)
    assert sorted(by_name) == ["demo_data", "preprocess", "train_vanilla2"]
    train = by_name["train_vanilla2"][0]["directives"]
    assert train[:5] == ["-N train_vanilla2", "-P TEST1234", "-q gpu_1", "-l select=1:ncpus=10:ngpus=1:mem=1500mb",
                         "-l walltime=00:20:00"]
    assert "-V" in train and "-j oe" in train
    assert "timeout --preserve-status --signal=TERM --kill-after=60 1080 " in by_name["train_vanilla2"][0]["script"]
    data = by_name["preprocess"][0]["directives"]
    assert data[2:5] == ["-q serial", "-l select=1:ncpus=1:mem=8000mb", "-l walltime=04:00:00"]

    # the first demo_data job was reported failed (killed, Exit_status 271) and Snakemake submitted it again
    first, second = (job["id"] for job in by_name["demo_data"])
    status = [sys.executable, str(PROFILE / "status.py")]
    assert subprocess.run([*status, first], capture_output=True, text=True, env=env).stdout == "failed\n"
    assert subprocess.run([*status, second], capture_output=True, text=True, env=env).stdout == "success\n"
    assert "Error in rule demo_data" in result.stderr

    # the job ran under PBS: its provenance names the PBS job
    record = json.loads((tmp_path / "results" / "provenance" / "train_vanilla2.json").read_text())
    assert record["device"]["scheduler"]["PBS_JOBID"] == by_name["train_vanilla2"][0]["id"]


def test_a_batch_of_scoring_jobs_asks_for_one_gpu(settings, tmp_path):
    group = {"type": "group", "groupid": "scoring", "jobid": "0f1e2d3c-aaaa", "threads": 4,
             "resources": {"gpu": 1, "mem_mb": 16000, "runtime": 8 * 60}}
    req = pbs.plan(group, settings, tmp_path)
    assert req.directives()[:5] == ["-N scoring.0f1e2d3c", "-P TEST1234", "-q gpu_1",
                                    "-l select=1:ncpus=10:ngpus=1:mem=16000mb", "-l walltime=08:00:00"]


def test_a_job_over_the_queues_memory_is_refused_naming_it(settings, tmp_path):
    with pytest.raises(pbs.SubmitError, match=r"asks for 200000 MB of memory; queue serial has at most 120000 MB"):
        pbs.plan(_props("preprocess", 4, mem_mb=200000, runtime=60), settings, tmp_path)


NEVER = "Can Never Run: Insufficient amount of queue resource: ncpus (R: 64 A: 24 T: 24)"


def test_a_queued_job_pbs_can_never_run_is_recognised():
    text = QSTAT.format(state="Q", exit="") + f"    comment = {NEVER}\n"
    why = pbs.never_runs(pbs.parse_qstat(text))
    assert why.startswith("it asks for ncpus=64, and the queue has ncpus=24 at most")
    # PBS's "Not Running" comments are waits that end (resources busy), not verdicts
    busy = QSTAT.format(state="Q", exit="") + "    comment = Not Running: Insufficient amount of resource: ncpus\n"
    assert pbs.never_runs(pbs.parse_qstat(busy)) is None
    assert pbs.never_runs(pbs.parse_qstat(QSTAT.format(state="R", exit="") + f"    comment = {NEVER}\n")) is None


# Four scoring jobs (rule `score`, so the profile's `groups: score: scoring` batches them) of 2 threads each.
GROUPED_SCORES = """
rule all:
    input: expand("s{i}.txt", i=range(4))
    localrule: True

rule score:
    output: "s{i}.txt"
    threads: 2
    resources: mem_mb=500, runtime=3
    shell: "date +%s.%N > {output}; sleep 2; date +%s.%N >> {output}"
"""

NEVER_RUNS = """
rule big:
    output: "big.txt"
    threads: 4
    resources: mem_mb=500, runtime=3
    shell: "echo done > {output}"
"""

# Queues of a small PBS site: 2-core nodes with 4000 MB.
SMALL_SITE = """
project: TEST1234
gpu_queues: {1: {name: gpu_1, max_walltime_h: 12}}
ncpus_per_gpu: 2
cpu_queues:
  - {name: serial, max_ncpus: 2, max_mem_mb: 4000, max_walltime_h: 1}
term_before_walltime_s: 120
setup: []
"""


def _stand_in_run(tmp_path: Path, snakefile: str, settings_yaml: str, node: str) -> tuple:
    bin_dir, state = tmp_path / "bin", tmp_path / "pbs-state"
    fake_pbs.install(bin_dir, state)
    (tmp_path / "Snakefile").write_text(snakefile)
    (tmp_path / "pbs.yaml").write_text(settings_yaml)
    env = {"PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin",
           "DEEPPC_PBS_CONFIG": str(tmp_path / "pbs.yaml"), "FAKE_PBS_NODE": node}
    start = time.monotonic()
    result = snakemake("--profile", str(PROFILE), "--seconds-between-status-checks", "1", cwd=tmp_path, env=env,
                       snakefile=tmp_path / "Snakefile", timeout=600)
    return result, fake_pbs.submissions(state), time.monotonic() - start


def test_a_batch_of_scoring_jobs_is_laid_out_to_fit_the_queue(tmp_path):
    """Four 2-core scoring jobs in one group on 2-core nodes: side by side they would ask for 8 cores,
    which the stand-in server (like PBS) would never run. The group asks for one node's 2 cores and the
    sum of the runtimes, its Snakemake gets 2 cores, and the jobs run one after the other."""
    result, jobs, _ = _stand_in_run(tmp_path, GROUPED_SCORES, SMALL_SITE, "ncpus=2:mem=4000mb")
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(jobs) == 1 and jobs[0]["name"].startswith("scoring.")
    assert jobs[0]["directives"][2:5] == ["-q serial", "-l select=1:ncpus=2:mem=500mb", "-l walltime=00:12:00"]
    assert "--cores 2 " in jobs[0]["job_script"]  # not `all`: every core of the node where PBS does not bind
    assert "Group scoring (4 jobs) laid out to fit its queue (2 cores, 4000 MB per node): asks 2 cores, 500 MB, " \
           "12 min instead of 8 cores, 2000 MB, 3 min" in result.stderr
    spans = sorted(tuple(float(t) for t in (tmp_path / f"s{i}.txt").read_text().split()) for i in range(4))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans  # one after the other


def test_a_job_pbs_can_never_run_stops_the_run_naming_the_resource(tmp_path):
    """4 cores fit the queue's limit in pbs.yaml but no node of the (stand-in) server: PBS keeps it
    queued with "Can Never Run". status.py deletes it and says why; it is not submitted again."""
    site = SMALL_SITE.replace("max_ncpus: 2", "max_ncpus: 24")
    result, jobs, elapsed = _stand_in_run(tmp_path, NEVER_RUNS, site, "ncpus=2:mem=4000mb")
    assert result.returncode == 1, result.stderr[-4000:]
    assert elapsed < 120
    assert len(jobs) == 1 and "-l select=1:ncpus=4:mem=500mb" in jobs[0]["directives"]
    message = (f"PBS job {jobs[0]['id']} (big) can never run: it asks for ncpus=4, and any node has ncpus=2 at most "
               "(PBS: 'Can Never Run: Insufficient amount of resource: ncpus (R: 4 A: 2 T: 2)'). It was deleted")
    assert message in result.stderr, result.stderr[-4000:]
    assert result.stderr.count(message) == 2  # status.py's line, and the same in Snakemake's error report
    assert "Trying to restart" not in result.stderr
    status = subprocess.run([sys.executable, str(PROFILE / "status.py"), jobs[0]["id"]], capture_output=True,
                            text=True, env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin"}, cwd=tmp_path)
    assert status.stdout == "failed\n"  # deleted: finished without running
    assert not list((tmp_path / ".snakemake" / "pbs_never_run").iterdir())  # the note was consumed
