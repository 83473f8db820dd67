"""PBS Pro glue for Snakemake's cluster-generic executor (used by submit.py, status.py, cancel.py).

Kept free of deeppc imports: these scripts run with whatever python3 the
login node's PATH gives (the deeppc virtual environment when it is active),
and only need PyYAML for pbs.yaml.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
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
    """Status of one job; a job PBS no longer knows is failed, a PBS server hiccup is still running."""
    for attempt in range(attempts):
        done = subprocess.run(["qstat", "-xf", jobid], capture_output=True, text=True)
        if done.returncode == 0 and "job_state" in done.stdout:
            return status_of(parse_qstat(done.stdout))
        if "Unknown Job Id" in done.stderr or "Unknown Job" in done.stderr:
            return "failed"
        if attempt + 1 < attempts:
            time.sleep(pause_s)
    # the server did not answer: ask again at the next status check rather than fail the job
    return "running"
