"""PBS Pro glue for Snakemake's cluster-generic executor (used by submit.py, status.py, cancel.py).

Kept free of deeppc imports: these scripts run with whatever python3 the
login node's PATH gives (the deeppc virtual environment when it is active),
and only need PyYAML for pbs.yaml. `install_hooks` runs inside Snakemake
(the profile loads this file): it lays batches of jobs (group jobs) out to
fit their queue and keeps a job PBS can never run from being retried.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

HERE = Path(__file__).resolve().parent
SETTINGS = HERE / "pbs.yaml"
PROPERTIES = re.compile(r"^# properties = (\{.*\})\s*$", re.M)


class SubmitError(Exception):
    """A job that cannot be submitted as asked (printed, and Snakemake reports the job as failed)."""


# ------------------------------------------------------------------ settings

def load_settings(path: Path | None = None) -> dict[str, Any]:
    """pbs.yaml (or $DEEPPC_PBS_CONFIG), with $DEEPPC_PBS_PROJECT overriding the project."""
    import yaml

    path = Path(os.environ.get("DEEPPC_PBS_CONFIG", path or SETTINGS))
    settings = yaml.safe_load(path.read_text()) or {}
    if os.environ.get("DEEPPC_PBS_PROJECT"):
        settings["project"] = os.environ["DEEPPC_PBS_PROJECT"]
    project = str(settings.get("project") or "")
    if not project or project == "CHANGE_ME":
        raise SubmitError(f"set your CHPC project code (qsub -P) in {path} or export DEEPPC_PBS_PROJECT")
    return settings


# ---------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Request:
    """What one Snakemake job asks PBS for."""

    name: str
    project: str
    queue: str
    ncpus: int
    ngpus: int
    mem_mb: int
    walltime_s: int
    term_after_s: int  # SIGTERM this long after the start (before PBS's own at walltime)
    log: Path
    capped: bool  # runtime cut to the queue's walltime limit

    def directives(self) -> list[str]:
        chunk = f"select=1:ncpus={self.ncpus}" + (f":ngpus={self.ngpus}" if self.ngpus else "")
        chunk += f":mem={self.mem_mb}mb"
        return [
            f"-N {self.name}",
            f"-P {self.project}",
            f"-q {self.queue}",
            f"-l {chunk}",
            f"-l walltime={format_walltime(self.walltime_s)}",
            f"-o {self.log}",
            "-j oe",
            "-V",
        ]


def job_properties(jobscript: str | os.PathLike) -> dict[str, Any]:
    """The job's properties that Snakemake writes into its job script."""
    found = PROPERTIES.search(Path(jobscript).read_text())
    if not found:
        raise SubmitError(f"{jobscript} has no '# properties = {{...}}' line (not a Snakemake job script?)")
    return json.loads(found.group(1))


def format_walltime(seconds: int) -> str:
    """PBS walltime HH:MM:SS (hours may exceed 24)."""
    seconds = max(int(seconds), 60)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def term_after(walltime_s: int, margin_s: int) -> int:
    """When to send SIGTERM: `margin_s` before the walltime, or half-way for very short jobs."""
    return walltime_s - margin_s if walltime_s > 2 * margin_s else walltime_s // 2


def plan(props: Mapping[str, Any], settings: Mapping[str, Any], workdir: Path) -> Request:
    """Queue, chunk and walltime for a job from its threads and resources (gpu, mem_mb, runtime)."""
    res = props.get("resources", {})
    threads = max(int(props.get("threads") or res.get("_cores") or 1), 1)
    ngpus = int(res.get("gpu") or res.get("gpus") or 0)
    mem_mb = int(res.get("mem_mb") or 4000)
    runtime_s = int(res.get("runtime") or 60) * 60
    if ngpus:
        queues = {int(k): v for k, v in settings["gpu_queues"].items()}
        if ngpus not in queues:
            raise SubmitError(f"no GPU queue for {ngpus} GPUs in pbs.yaml (gpu_queues has {sorted(queues)})")
        queue = queues[ngpus]
        ncpus = max(threads, int(settings.get("ncpus_per_gpu", 1)) * ngpus)
    else:
        queue = _cpu_queue(settings["cpu_queues"], threads, runtime_s)
        ncpus = int(queue.get("ncpus") or threads)
    if queue.get("max_mem_mb") and mem_mb > int(queue["max_mem_mb"]):
        # PBS would queue it for ever ("Can Never Run"): refuse it here, naming the resource
        raise SubmitError(f"{_job_name(props)} asks for {mem_mb} MB of memory; queue {queue['name']} has at most "
                          f"{queue['max_mem_mb']} MB per node (pbs.yaml): lower the job's mem_mb")
    limit_s = int(float(queue["max_walltime_h"]) * 3600)
    walltime_s = min(runtime_s, limit_s)
    name = _job_name(props)
    return Request(
        name=name,
        project=str(settings["project"]),
        queue=str(queue["name"]),
        ncpus=ncpus,
        ngpus=ngpus,
        mem_mb=mem_mb,
        walltime_s=walltime_s,
        term_after_s=term_after(walltime_s, int(settings.get("term_before_walltime_s", 120))),
        # one log per attempt: a retried job must not overwrite the log of the attempt that failed
        log=workdir / ".snakemake" / "pbs_logs" / f"{name}.{time.strftime('%Y%m%d-%H%M%S')}.log",
        capped=runtime_s > limit_s,
    )


def _cpu_queue(queues: Sequence[Mapping[str, Any]], threads: int, runtime_s: int) -> Mapping[str, Any]:
    fitting = [q for q in queues if threads <= int(q["max_ncpus"])]
    if not fitting:
        raise SubmitError(f"no CPU queue in pbs.yaml takes {threads} threads")
    in_time = [q for q in fitting if runtime_s <= float(q["max_walltime_h"]) * 3600]
    return in_time[0] if in_time else max(fitting, key=lambda q: float(q["max_walltime_h"]))


def _job_name(props: Mapping[str, Any]) -> str:
    """e.g. score.wgangp1.800: rule (or group) and wildcard values, in PBS's name alphabet."""
    # group jobs (e.g. a batch of scoring jobs) share their group's name: add the job's own id
    base = props.get("rule") or f"{props.get('groupid', 'group')}.{str(props.get('jobid', ''))[:8]}"
    parts = [base, *map(str, (props.get("wildcards") or {}).values())]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", ".".join(parts))
    return name[:200] or "snakejob"


def job_script(request: Request, jobscript: Path, setup: Sequence[str]) -> str:
    """The script qsub gets: PBS directives, site setup, then Snakemake's job under a TERM timer.

    `timeout` signals its whole process group (Snakemake and the rule's
    script) at term_after_s; --preserve-status keeps the job's own exit code
    (143 after a training job saved its resume state), and --kill-after ends
    anything still running a minute later, before PBS's hard kill.
    """
    lines = ["#!/bin/bash", *(f"#PBS {d}" for d in request.directives())]
    lines += [f"# walltime {format_walltime(request.walltime_s)}; SIGTERM after {request.term_after_s} s"]
    lines += list(setup)
    lines += [
        'cd "${PBS_O_WORKDIR:-.}"',
        f"exec timeout --preserve-status --signal=TERM --kill-after=60 {request.term_after_s} "
        f"/bin/sh {shlex.quote(str(jobscript))}",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- group fit

def group_limits(resources: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, int | None]:
    """What the queue a group job goes to offers one job: ncpus, mem_mb and GPUs per node (None: unknown).

    GPU groups go to gpu_N (N: the GPUs a group asks for, 1 with the profile's
    per-submission `gpu: 1`): at most its max_ncpus (else ncpus_per_gpu x N).
    CPU groups may use the CPU queue with the most cores.
    """
    ngpus = int(resources.get("gpu") or resources.get("gpus") or 0)
    if ngpus:
        queue = {int(k): v for k, v in settings["gpu_queues"].items()}.get(ngpus, {})
        ncpus = queue.get("max_ncpus") or int(settings.get("ncpus_per_gpu", 0)) * ngpus or None
        return {"cpus": ncpus, "mem_mb": queue.get("max_mem_mb"), "gpus": ngpus}
    queue = max(settings["cpu_queues"], key=lambda q: int(q.get("ncpus") or q["max_ncpus"]))
    return {"cpus": int(queue.get("ncpus") or queue["max_ncpus"]), "mem_mb": queue.get("max_mem_mb"), "gpus": None}


def relayout(job: Any, limits: Mapping[str, int | None]) -> dict[str, Any]:
    """A group job's resources when its jobs run in layers that each fit `limits`.

    Snakemake's own group layout (`GroupResources.basic_layered`, what
    --cores/--resources do to groups), limited to one node of the queue: jobs
    that do not fit side by side run one layer after the other; the group asks
    for the widest layer's cores and memory and the sum of the layers' runtimes.
    The Snakemake that runs the group on the node starts no more jobs at once
    than the cores it was given, so it follows the layout.
    """
    import copy

    from snakemake.resources import GroupResources

    constraints = copy.deepcopy(job.global_resources)  # the run's own limits (the profile's gpu: 1) stay
    for name, key in (("_cores", "cpus"), ("mem_mb", "mem_mb"), ("gpu", "gpus")):
        if limits.get(key):
            current = constraints.get(name).value
            constraints[name] = min(int(limits[key]), current) if isinstance(current, int) else int(limits[key])
    return GroupResources.basic_layered(toposorted_jobs=job.toposorted, constraints=constraints, run_local=False,
                                        additive_resources=["runtime"], sortby=["runtime"])


def install_hooks() -> None:
    """Wrap the cluster-generic executor (in the Snakemake process; called from config.v8+.yaml).

    - Submission: a group job is laid out to fit its queue first (single jobs
      are left as they are: plan() refuses those that no queue can take).
    - Error report: a job status.py found can never run is not retried (each
      attempt would ask for the same) and its error report carries the reason.
    """
    from snakemake_executor_plugin_cluster_generic import Executor

    if getattr(Executor, "_deeppc_hooks", False):
        return
    run_job = Executor.run_job
    report_job_error = Executor.report_job_error
    format_job_exec = Executor.format_job_exec

    def fitted_run_job(self, job):
        if job.is_group():
            try:
                before = (job.threads, job.resources.get("mem_mb"), job.resources.get("runtime"))
                limits = group_limits(job.resources, load_settings())
                job._resources = relayout(job, limits)
                after = (job.threads, job.resources.get("mem_mb"), job.resources.get("runtime"))
                if after != before:
                    self.logger.info(
                        f"Group {job.groupid} ({len(job.jobs)} jobs) laid out to fit its queue "
                        f"({limits['cpus']} cores, {limits['mem_mb'] or 'any'} MB per node): asks {after[0]} cores, "
                        f"{after[1]} MB, {after[2]} min instead of {before[0]} cores, {before[1]} MB, {before[2]} min")
            except Exception as exc:  # never keep a job from being submitted; plan() still checks it
                self.logger.warning(f"could not fit group job {job.groupid} to its queue: {exc}")
        return run_job(self, job)

    def group_job_exec(self, job):
        # the Snakemake that runs a group on the node starts jobs while it has cores free: give it the
        # group's own count, not `all` (every core of the node where PBS does not bind jobs to theirs)
        command = format_job_exec(self, job)
        if job.is_group():
            command = re.sub(r"--cores '?all'?(?=\s|$)", f"--cores {int(job.threads)}", command)
        return command

    def reported_job_error(self, job_info, msg=None, **kwargs):
        record = never_run_record(str(job_info.external_jobid)) if job_info.external_jobid else None
        if record is not None and record.exists():
            msg = record.read_text()
            record.unlink()
            job_info.job.attempt = job_info.job.restart_times + 1  # not retried: it would ask for the same
        return report_job_error(self, job_info, msg=msg, **kwargs)

    Executor.run_job = fitted_run_job
    Executor.format_job_exec = group_job_exec
    Executor.report_job_error = reported_job_error
    Executor._deeppc_hooks = True


# ---------------------------------------------------------- never-run jobs

NEVER_RUN = re.compile(r"Can Never Run", re.I)
SHORTAGE = re.compile(
    r"Insufficient amount of (?:(queue|server) )?resource: (\S+) \(R: ([^ ]+) A: ([^ ]+) T: ([^ )]+)\)")


def never_runs(attrs: Mapping[str, str]) -> str | None:
    """The explanation when PBS says in a queued job's comment that it can never run, else None."""
    comment = attrs.get("comment", "")
    if attrs.get("job_state") not in ("Q", "H") or not NEVER_RUN.search(comment):
        return None
    found = SHORTAGE.search(comment)
    if found:
        where, resource, asked, _available, total = found.groups()
        where = f"the {where}" if where else "any node"
        return (f"it asks for {resource}={asked}, and {where} has {resource}={total} at most "
                f"(PBS: '{comment}')")
    return f"PBS: '{comment}'"


def never_run_record(jobid: str) -> Path:
    """Where status.py notes why a job can never run, for the executor hook (status.py runs in the workdir)."""
    return Path.cwd() / ".snakemake" / "pbs_never_run" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', jobid)}.txt"


# -------------------------------------------------------------------- status

def parse_qstat(text: str) -> dict[str, str]:
    """`qstat -xf` attributes of one job (`key = value` lines; continuation lines joined)."""
    attrs: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if " = " in line and line.startswith("    ") and not line.startswith("\t"):
            key, value = line.strip().split(" = ", 1)
            attrs[key] = value
        elif key and line.startswith("\t"):
            attrs[key] += line.strip()
    return attrs


def status_of(attrs: Mapping[str, str]) -> str:
    """running / success / failed from job_state and Exit_status.

    F (finished) and X (finished subjob) are final: success only with exit
    status 0. A job killed at its walltime, by qdel or a node failure ends
    with a non-zero (PBS: negative or 256 + signal) exit status, so it is
    failed and Snakemake retries it. Every other state is still on its way.
    """
    state = attrs.get("job_state", "")
    if state in ("F", "X"):
        return "success" if attrs.get("Exit_status", "").strip() == "0" else "failed"
    return "running"


def query(jobid: str, attempts: int = 5, pause_s: float = 5.0) -> str:
    """Status of one job; a job PBS no longer knows is failed, a PBS server hiccup is still running.

    A queued job that PBS says can never run (its comment, e.g. "Can Never
    Run: Insufficient amount of queue resource: ncpus (R: 64 A: 24 T: 24)")
    is deleted and failed, with a message naming the resource on stderr
    (Snakemake shows it), and noted for the executor hook (install_hooks),
    which keeps Snakemake from retrying it and puts the message in its error
    report. PBS's "Not Running: ..." comments are waits that end: still running.
    """
    for attempt in range(attempts):
        done = subprocess.run(["qstat", "-xf", jobid], capture_output=True, text=True)
        if done.returncode == 0 and "job_state" in done.stdout:
            attrs = parse_qstat(done.stdout)
            why = never_runs(attrs)
            if why:
                return give_up(jobid, attrs, why)
            return status_of(attrs)
        if "Unknown Job Id" in done.stderr or "Unknown Job" in done.stderr:
            return "failed"
        if attempt + 1 < attempts:
            time.sleep(pause_s)
    # the server did not answer: ask again at the next status check rather than fail the job
    return "running"


def give_up(jobid: str, attrs: Mapping[str, str], why: str) -> str:
    """Delete a job that can never run, say why (stderr), note it for the executor hook; its status is failed."""
    name = attrs.get("Job_Name", jobid)
    message = (f"PBS job {jobid} ({name}) can never run: {why}. It was deleted (qdel) and is not retried: lower "
               "what the job asks for (the config's `resources:`, --set-threads, --set-resources) or fix the queue "
               "limits in pbs.yaml; see docs/cluster.md.")
    subprocess.run(["qdel", jobid], capture_output=True, text=True)
    record = never_run_record(jobid)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(message)
    print(message, file=sys.stderr)
    return "failed"
