"""deeppc's two additions to the SLURM executor plugin, loaded by config.v8+.yaml.

1. Group jobs fit the partition they go to. Snakemake sizes a group job (e.g.
   8 scoring jobs) for running its jobs side by side: 8 x the CPUs and memory
   of one job. On a partition with fewer CPUs or less memory per node, SLURM
   would keep that submission pending for ever (reason PartitionConfig).
   Before a group is submitted, `fit_group` lays its jobs out again with
   Snakemake's own group layout (`GroupResources.basic_layered`, the "layers"
   that `--cores`/`--resources` produce), this time limited to what one node
   of the target partition offers: jobs that do not fit side by side run one
   layer after the other, and the group asks for the widest layer's CPUs and
   memory and the sum of the layers' runtimes. The Snakemake that runs the
   group inside the allocation is given that many cores (`--cores N`, not
   `all`), so it starts no more jobs at once than the layout has side by side.
   Single jobs are never changed.

2. A job that can never start stops instead of waiting for ever. After each
   status check, the jobs still pending are looked up in `squeue`; one that
   SLURM keeps pending for a reason that does not go away by waiting
   (PartitionConfig, PartitionTimeLimit, QOSMaxCpuPerJobLimit, ...) is
   cancelled and reported as failed, with the reason and the resource it asks
   too much of; it is not retried (every attempt would ask for the same).
   ReqNodeNotAvail and PartitionNodeLimit (nodes down, drained or reserved)
   can clear up, so such a job is warned about at once and failed only after
   `unavailable_wait_min`.

Where the limits come from: the partition's entry in the partition file
(`slurm-partition-config`), if any, and what SLURM itself reports
(`scontrol show partition`, `sinfo` per node), the smaller of the two. The
target partition is the job's `slurm_partition` resource, else the best of
the partition file's partitions for the laid-out group, else SLURM's default
partition.

Written against snakemake-executor-plugin-slurm 2.8 and Snakemake 9; it
wraps the plugin's `Executor.run_job`, `format_job_exec` and
`check_active_jobs` (the plugin has no hook of its own: its status command
is `squeue` or `sacct`, nothing else) and uses its partition helpers.
docs/cluster.md describes the behaviour.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Iterable

_INSTALLED = "_deeppc_installed"

# Pending reasons that waiting does not cure (squeue's REASON, `man squeue`,
# "JOB REASON CODES"), with what they mean for the message.
NEVER_STARTS = {
    "PartitionConfig": "it asks for more than partition {partition} is configured to give one job",
    "PartitionTimeLimit": "its time limit is longer than partition {partition} allows",
    "BadConstraints": "no node has the features (constraint) it asks for",
    "InvalidAccount": "its account is not valid",
    "InvalidQOS": "its QOS is not valid",
    "QOSNotAllowed": "its QOS may not be used on partition {partition}",
    "AccountNotAllowed": "its account may not use partition {partition}",
    "DependencyNeverSatisfied": "a job it depends on failed",
}
# A QOS's or association's limit per job (or per node) is never met by waiting;
# per-user/per-account (group) limits are: those jobs start once others end.
NEVER_STARTS_PATTERN = re.compile(r"^(QOS|Assoc)(Max|Min)\w*Per(Job|Node)\w*$|^QOSMin\w+$")
# Nodes down, drained or reserved: may come back (maintenance), so give it time.
# PartitionNodeLimit also means that: "can also indicate that required nodes
# are DOWN or DRAINED" (man squeue).
MAY_CLEAR = {
    "ReqNodeNotAvail": "the nodes it needs are down, drained or reserved",
    "PartitionNodeLimit": "its node count is outside partition {partition}'s limits, or the nodes are down or drained",
}


@dataclass(frozen=True)
class Limits:
    """What one job can get on one node of a partition (None: no limit known)."""

    partition: str
    cpus: int | None = None
    mem_mb: int | None = None
    gpus: int | None = None
    runtime_min: int | None = None

    def describe(self) -> str:
        node = " and ".join(p for p in (f"{self.cpus} CPUs" if self.cpus else "",
                                        f"{self.mem_mb} MB" if self.mem_mb else "",
                                        f"{self.gpus} GPUs" if self.gpus else "") if p)
        text = f"{node} per node" if node else "no known size"
        return text + (f", at most {self.runtime_min} min" if self.runtime_min else "")


# ----------------------------------------------------------------- limits

def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout


def parse_slurm_minutes(text: str) -> int | None:
    """SLURM time limits (MaxTime, squeue %l): MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]]; None if unlimited."""
    text = text.strip()
    if not text or text.upper() in ("UNLIMITED", "INFINITE", "NONE", "N/A"):
        return None
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:
        parts += [0] * (3 - len(parts))  # D-HH, D-HH:MM
        hours, minutes, seconds = parts
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    elif len(parts) == 2:
        hours, (minutes, seconds) = 0, parts
    else:
        hours, minutes, seconds = 0, parts[0], 0
    return (int(days or 0) * 24 + hours) * 60 + minutes + math.ceil(seconds / 60)


def _gpus_in_gres(gres: str) -> int:
    """GPUs in a node's GRES, e.g. 'gpu:a100:4(S:0-1),shard:8' -> 4."""
    return sum(int(n) for n in re.findall(r"(?:^|,)gpu(?::[^:,(]+)?:(\d+)", gres))


def slurm_limits(partition: str) -> Limits | None:
    """The largest node of `partition` as SLURM reports it, within the partition's per-node limits."""
    try:
        info = _run("scontrol", "show", "partition", partition, "--oneliner")
        nodes = _run("sinfo", "-h", "-N", "-p", partition, "-o", "%c|%m|%G")
    except (OSError, subprocess.SubprocessError):
        return None
    fields = dict(item.split("=", 1) for item in info.split() if "=" in item)
    sizes = []
    for line in nodes.splitlines():
        cpus, mem, gres = (line.split("|") + ["", "", ""])[:3]
        try:
            sizes.append((int(cpus.rstrip("+")), int(mem.rstrip("+")), _gpus_in_gres(gres)))
        except ValueError:
            continue
    if not sizes:
        return None
    cpus, mem_mb, gpus = max(sizes)

    def cap(value: int, key: str) -> int:
        limit = fields.get(key, "UNLIMITED")
        return min(value, int(limit)) if limit.isdigit() else value

    # no GPUs in the node's GRES: unknown rather than none (a site may configure GPUs otherwise)
    return Limits(partition, cap(cpus, "MaxCPUsPerNode"), cap(mem_mb, "MaxMemPerNode"), gpus or None,
                  parse_slurm_minutes(fields.get("MaxTime", "UNLIMITED")))


def file_limits(partition: str, partitions: Iterable[Any] | None) -> Limits | None:
    """The partition's limits in the plugin's partition file (its Partition objects), if it lists it."""
    for p in partitions or ():
        if p.name == partition:
            lim = p.limits

            def known(value: float) -> int | None:
                return None if value is None or math.isinf(value) else int(value)

            return Limits(partition, known(lim.max_threads), known(lim.max_mem_mb), int(lim.max_gpu or 0),
                          known(lim.max_runtime))
    return None


def combine(*limits: Limits | None) -> Limits | None:
    """The smaller of each limit (a partition file may promise more than the cluster has, or less on purpose)."""
    known = [lim for lim in limits if lim is not None]
    if not known:
        return None

    def least(name: str) -> int | None:
        values = [getattr(lim, name) for lim in known if getattr(lim, name) is not None]
        return min(values) if values else None

    return Limits(known[0].partition, least("cpus"), least("mem_mb"), least("gpus"), least("runtime_min"))


# -------------------------------------------------------------- group fit

def relayout(job: Any, limits: Limits) -> tuple[dict[str, Any], int | None]:
    """The group's resources when its jobs run in layers that each fit `limits` (Snakemake's own layout),
    and the runtime the layers add up to when that is over the partition's limit (then cut to it)."""
    from snakemake.resources import GroupResources

    # the run's own per-submission limits (--resources, e.g. the profile's gpu: 1) stay in force
    constraints = copy.deepcopy(job.global_resources)
    for name, limit in (("_cores", limits.cpus), ("mem_mb", limits.mem_mb), ("gpu", limits.gpus)):
        if limit:
            current = constraints.get(name).value
            constraints[name] = min(limit, current) if isinstance(current, int) else limit
    layout = GroupResources.basic_layered(
        toposorted_jobs=job.toposorted, constraints=constraints, run_local=False,
        additive_resources=["runtime"], sortby=["runtime"])
    runtime = int(layout.get("runtime") or 0)
    if limits.runtime_min and runtime > limits.runtime_min:
        # Rules' runtimes are upper bounds; a group asking for more than the partition allows would
        # never start, one cut to the limit usually finishes (and is retried, warned about, if not).
        layout["runtime"] = limits.runtime_min
        return layout, runtime
    return layout, None


def request_of(resources: Any) -> dict[str, int]:
    """CPUs, memory, GPUs and runtime a job or group asks for (from its resources)."""
    def num(key: str) -> int:
        value = resources.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    return {"cpus": num("_cores") or 1, "mem_mb": num("mem_mb"), "gpus": num("gpu"), "runtime": num("runtime")}


def _fits(resources: Any, limits: Limits) -> bool:
    asks = request_of(resources)
    return all(limit is None or value <= limit for value, limit in (
        (asks["cpus"], limits.cpus), (asks["mem_mb"], limits.mem_mb), (asks["gpus"], limits.gpus)))


def _describe_request(asks: dict[str, int]) -> str:
    return f"{asks['cpus']} CPUs, {asks['mem_mb']} MB, {asks['gpus']} GPUs, {asks['runtime']} min"


def fit_group(executor: Any, job: Any) -> None:
    """Lay a group job out to fit the partition it goes to (see the module's docstring)."""
    if not job.is_group():
        return
    original = job._resources
    before = request_of(job.resources)
    forced = job.resources.get("slurm_partition")
    partitions = getattr(executor, "_partitions", None)
    if forced:
        names = [str(forced)]
    elif partitions:
        names = [p.name for p in partitions]
    else:
        from snakemake_executor_plugin_slurm.partitions import get_default_partition

        names = [name for name in [get_default_partition(job, executor.logger)] if name]
    candidates, known = [], []
    for name in names:
        limits = partition_limits(executor, name)
        if limits is None:
            continue
        known.append(name)
        try:
            layout, uncut = relayout(job, limits)
        except Exception as exc:  # one of the group's jobs alone is larger than the partition
            executor.logger.debug(f"group {job.groupid} does not fit partition {name}: {exc}")
            continue
        if _fits(layout, limits):
            candidates.append((name, limits, layout, uncut))
    if not known:
        return  # nothing known about the partition(s): submit as Snakemake sized it
    if not candidates:
        executor.logger.warning(
            f"Group {job.groupid} ({len(job.jobs)} jobs; asks {_describe_request(before)}) does not fit "
            f"partition {', '.join(known)} even one job at a time: submitting it as it is.")
        return
    chosen = candidates[0]
    if not forced and partitions and len(candidates) > 1:
        # the plugin's own choice among the partitions that the laid-out group fits
        by_name = {p.name: p for p in partitions}
        scored = []
        for candidate in candidates:
            job._resources = candidate[2]
            score = by_name[candidate[0]].score_job_fit(job)
            if score is not None:
                scored.append((score, candidate))
        job._resources = original
        if scored:
            chosen = max(scored, key=lambda s: s[0])[1]
    name, limits, layout, uncut = chosen
    if not forced:
        layout["slurm_partition"] = name  # submit it to the partition it was laid out for
    job._resources = layout
    after = request_of(layout)
    if after != before:
        executor.logger.info(
            f"Group {job.groupid} ({len(job.jobs)} jobs) laid out for partition {name} ({limits.describe()}): "
            f"asks {_describe_request(after)} instead of {_describe_request(before)}.")
    if uncut:
        executor.logger.warning(
            f"Group {job.groupid}: its jobs one after the other may need up to {uncut} min, more than partition "
            f"{name} allows; it asks for {limits.runtime_min} min. If it runs out of time, lower the group's size "
            f"(--group-components) or the rules' runtime.")


def cores_of_group(job: Any, command: str) -> str:
    """The group's command with `--cores N` (its CPUs) instead of `--cores all`.

    The Snakemake that runs a group on the node starts jobs while it has cores
    free; with `all` it counts the CPUs it may run on, which is the node's all
    where SLURM does not bind jobs to their CPUs (TaskPlugin=task/none). With
    the group's own CPU count it keeps to the layout on any cluster.
    """
    if not job.is_group():
        return command
    return re.sub(r"--cores '?all'?(?=\s|$)", f"--cores {int(job.threads)}", command)


def partition_limits(executor: Any, partition: str) -> Limits | None:
    cache = executor.__dict__.setdefault("_deeppc_limits", {})
    if partition not in cache:
        cache[partition] = combine(file_limits(partition, getattr(executor, "_partitions", None)),
                                   slurm_limits(partition))
    return cache[partition]


# ------------------------------------------------------- never-starting jobs

def pending_reasons(run_uuid: str) -> dict[str, tuple[str, str]]:
    """{SLURM job id: (partition, reason)} of this run's pending jobs."""
    try:
        out = _run("squeue", "-h", "--name", run_uuid, "-t", "PENDING", "-o", "%i|%P|%r")
    except (OSError, subprocess.SubprocessError):
        return {}
    reasons = {}
    for line in out.splitlines():
        job_id, partition, reason = (line.split("|", 2) + ["", ""])[:3]
        reasons[job_id.strip()] = (partition.strip(), reason.strip())
    return reasons


def never_starts(reason: str) -> bool:
    code = reason.split(",")[0].strip()
    return code in NEVER_STARTS or bool(NEVER_STARTS_PATTERN.match(code))


def explain(job_info: Any, partition: str, reason: str, limits: Limits | None) -> str:
    """The message for a job that can never start: the reason and the resource it asks too much of."""
    job = job_info.job
    what = f"group {job.groupid} ({len(job.jobs)} jobs)" if job.is_group() else f"rule {job.name}"
    asks = request_of(job.resources)
    code = reason.split(",")[0].strip()
    meaning = NEVER_STARTS.get(code) or MAY_CLEAR.get(code) or (
        "a per-job limit of its QOS or association is lower than what it asks for"
        if NEVER_STARTS_PATTERN.match(code) else "SLURM cannot start it")
    over = []
    if limits is not None:
        for key, unit, limit in (("cpus", "CPUs", limits.cpus), ("mem_mb", "MB of memory", limits.mem_mb),
                                 ("gpus", "GPUs", limits.gpus), ("runtime", "minutes", limits.runtime_min)):
            if limit is not None and asks[key] > limit:
                per = "" if key == "runtime" else " per node"
                over.append(f"{asks[key]} {unit} (partition {partition} has at most {limit}{per})")
    message = (f"SLURM job {job_info.external_jobid} ({what}) can never start: SLURM keeps it pending with reason "
               f"{reason} ({meaning.format(partition=partition)}).")
    if over:
        message += " It asks for " + "; ".join(over) + "."
    else:
        message += f" It asks for {_describe_request(asks)} on partition {partition}."
    return (message + " It was cancelled and is not retried: lower what the job asks for (the config's "
            "`resources:`, --set-threads, --set-resources) or send it to a partition that has it "
            "(slurm_partition, the profile's partitions.yaml); see docs/cluster.md.")


def _scancel(job_id: str) -> None:
    try:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass  # best effort: the job is reported failed with its reason whether or not scancel got through


# ------------------------------------------------------------------ install

def install(unavailable_wait_min: float = 60) -> None:
    """Wrap the SLURM executor's submission and status check (once per process)."""
    from snakemake_executor_plugin_slurm import Executor

    if getattr(Executor, _INSTALLED, False):
        return
    run_job = Executor.run_job
    check_active_jobs = Executor.check_active_jobs
    format_job_exec = Executor.format_job_exec

    def fitted_run_job(self, job):
        try:
            fit_group(self, job)
        except Exception as exc:  # never keep a job from being submitted
            self.logger.warning(f"could not fit group job {job} to its partition: {exc}")
        return run_job(self, job)

    def group_job_exec(self, job):
        return cores_of_group(job, format_job_exec(self, job))

    async def checked_active_jobs(self, active_jobs):
        still = [job_info async for job_info in check_active_jobs(self, active_jobs)]
        pending = pending_reasons(self.run_uuid) if still else {}
        first_seen = self.__dict__.setdefault("_deeppc_unavailable_since", {})
        for job_info in still:
            partition, reason = pending.get(str(job_info.external_jobid), ("", ""))
            code = reason.split(",")[0].strip()
            if code in MAY_CLEAR:
                if job_info.external_jobid not in first_seen:
                    first_seen[job_info.external_jobid] = time.monotonic()
                    self.logger.warning(
                        f"SLURM job {job_info.external_jobid} waits with reason {reason} "
                        f"({MAY_CLEAR[code].format(partition=partition)}). "
                        f"It is stopped if that lasts {unavailable_wait_min:g} minutes.")
                if time.monotonic() - first_seen[job_info.external_jobid] < unavailable_wait_min * 60:
                    yield job_info
                    continue
            elif not never_starts(reason):
                first_seen.pop(job_info.external_jobid, None)
                yield job_info
                continue
            message = explain(job_info, partition, reason, partition_limits(self, partition) if partition else None)
            _scancel(str(job_info.external_jobid))
            if job_info.job.is_group():
                self.logger.error(message)  # Snakemake's error report of a group leaves the message out
            # not retried: a new attempt would ask for the same and wait just the same
            job_info.job.attempt = job_info.job.restart_times + 1
            self.report_job_error(job_info, msg=message)

    Executor.run_job = fitted_run_job
    Executor.format_job_exec = group_job_exec
    Executor.check_active_jobs = checked_active_jobs
    setattr(Executor, _INSTALLED, True)
