"""Stand-ins for PBS Pro's qsub, qstat and qdel that run jobs on this machine.

``install(bin_dir, state_dir)`` writes executables ``qsub``, ``qstat`` and
``qdel`` into `bin_dir` (put it first on PATH). They keep their state in
`state_dir`:

- ``submissions.jsonl``: one line per qsub, with the job id, the ``#PBS``
  directives of the submitted script, the script's text and the text of the
  Snakemake job script it runs;
- ``jobs/{id}.pid`` and ``jobs/{id}.exit``: the running job's process group
  and, once it ended, its exit status.

qsub starts the script with bash in its own session (as PBS would on a
compute node, in $PBS_O_WORKDIR) and prints ``{id}.fakepbs``. qstat -xf
reports job_state R, or F with Exit_status (271 = 256 + SIGTERM, PBS's code
for a job killed by a signal, when it died without one). qdel sends SIGTERM
to the job's process group.

$FAKE_PBS_FAIL_FIRST=NAME makes the first job whose ``-N`` name starts with
NAME end at once with Exit_status 271, as a job killed at its walltime or on
a failed node would, without running it.

$FAKE_PBS_NODE="ncpus=2:mem=4000mb" gives the stand-in server nodes of that
size: a job whose ``-l select=`` chunk asks for more never starts; it stays
queued (job_state Q) with PBS Pro's comment for that case, e.g. ``Can Never
Run: Insufficient amount of resource: ncpus (R: 4 A: 2 T: 2)``, until qdel.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

SUFFIX = ".fakepbs"
KILLED = 256 + signal.SIGTERM


def install(bin_dir: Path, state_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "jobs").mkdir(parents=True, exist_ok=True)
    for command in ("qsub", "qstat", "qdel"):
        exe = bin_dir / command
        exe.write_text(
            f"#!{sys.executable}\n"
            "import sys\n"
            f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "import fake_pbs\n"
            f"sys.exit(fake_pbs.{command}(sys.argv[1:], {str(state_dir)!r}))\n"
        )
        exe.chmod(0o755)


def submissions(state_dir: Path) -> list[dict]:
    path = Path(state_dir) / "submissions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def directives(script_text: str) -> list[str]:
    return [line[len("#PBS "):].strip() for line in script_text.splitlines() if line.startswith("#PBS ")]


def _mb(value: str) -> float:
    """PBS sizes (4000mb, 4gb, 1024kb) in MB."""
    number, unit = re.fullmatch(r"(\d+)([kmgt]?b?)", value.lower()).groups()
    return int(number) * {"kb": 1 / 1024, "k": 1 / 1024, "": 1 / 1024 / 1024, "b": 1 / 1024 / 1024,
                          "mb": 1, "m": 1, "gb": 1024, "g": 1024, "tb": 1024 ** 2, "t": 1024 ** 2}[unit]


def _shortage(found: list[str]) -> str | None:
    """PBS Pro's comment when the job's chunk asks for more than $FAKE_PBS_NODE has, else None."""
    node = dict(item.split("=", 1) for item in os.environ.get("FAKE_PBS_NODE", "").split(":") if "=" in item)
    chunk = next((d.split("select=", 1)[1] for d in found if d.startswith("-l select=")), "")
    asked = dict(item.split("=", 1) for item in chunk.split(":") if "=" in item)
    for resource, have in node.items():
        want = asked.get(resource, "0")
        number = _mb if resource == "mem" else int
        if number(want) > number(have):
            return f"Can Never Run: Insufficient amount of resource: {resource} (R: {want} A: {have} T: {have})"
    return None


def _new_id(jobs: Path) -> int:
    n = 1
    while True:
        try:
            os.close(os.open(jobs / f"{n}.id", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return n
        except FileExistsError:
            n += 1


def qsub(argv: list[str], state: str) -> int:
    state_dir = Path(state)
    jobs = state_dir / "jobs"
    script = Path(argv[-1])
    text = script.read_text()
    found = directives(text)
    name = next((d.split(None, 1)[1] for d in found if d.startswith("-N ")), script.name)
    log = next((d.split(None, 1)[1] for d in found if d.startswith("-o ")), str(jobs / f"{script.name}.log"))
    n = _new_id(jobs)
    # the Snakemake job script that the PBS script runs (Snakemake deletes it once the job is done)
    inner = re.search(r"/bin/sh '?([^'\s]+)'?\s*$", text)
    inner_text = Path(inner.group(1)).read_text() if inner and Path(inner.group(1)).is_file() else ""
    with open(state_dir / "submissions.jsonl", "a") as fh:
        fh.write(json.dumps({"id": f"{n}{SUFFIX}", "name": name, "argv": argv, "directives": found,
                             "script": text, "job_script": inner_text}) + "\n")
    (jobs / f"{n}.name").write_text(name)
    fail_first = os.environ.get("FAKE_PBS_FAIL_FIRST")
    marker = state_dir / f"failed-{fail_first}"
    never = _shortage(found)
    if never:
        (jobs / f"{n}.never").write_text(never)  # queued for ever (until qdel)
    elif fail_first and name.startswith(fail_first) and not marker.exists():
        marker.touch()
        (jobs / f"{n}.exit").write_text(f"{KILLED}\n")
    else:
        env = dict(os.environ, PBS_JOBID=f"{n}{SUFFIX}", PBS_O_WORKDIR=os.getcwd(), PBS_QUEUE="fake")
        exit_file = jobs / f"{n}.exit"
        runner = 'bash "$1" >"$2" 2>&1; echo $? >"$3"'
        proc = subprocess.Popen(["bash", "-c", runner, "job", str(script), log, str(exit_file)],
                                env=env, start_new_session=True, stdin=subprocess.DEVNULL)
        (jobs / f"{n}.pid").write_text(str(proc.pid))
    print(f"{n}{SUFFIX}")
    return 0


def _state(jobs: Path, n: str) -> tuple[str, str | None]:
    exit_file, pid_file = jobs / f"{n}.exit", jobs / f"{n}.pid"
    if (jobs / f"{n}.deleted").exists():
        return "F", None  # deleted before it ran: finished without an exit status
    if exit_file.exists() and exit_file.read_text().strip():
        return "F", exit_file.read_text().strip()
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text()), 0)
            return "R", None
        except ProcessLookupError:
            return "F", str(KILLED)
    return "Q", None


def qstat(argv: list[str], state: str) -> int:
    jobs = Path(state) / "jobs"
    jobid = argv[-1]
    n = jobid.removesuffix(SUFFIX)
    if not (jobs / f"{n}.id").exists():
        print(f"qstat: Unknown Job Id {jobid}", file=sys.stderr)
        return 153
    job_state, exit_status = _state(jobs, n)
    print(f"Job Id: {jobid}")
    if (jobs / f"{n}.name").exists():
        print(f"    Job_Name = {(jobs / f'{n}.name').read_text()}")
    print(f"    job_state = {job_state}")
    if job_state == "Q" and (jobs / f"{n}.never").exists():
        print(f"    comment = {(jobs / f'{n}.never').read_text()}")
    if exit_status is not None:
        print(f"    Exit_status = {exit_status}")
    return 0


def qdel(argv: list[str], state: str) -> int:
    jobs = Path(state) / "jobs"
    for jobid in argv:
        n = jobid.removesuffix(SUFFIX)
        if (jobs / f"{n}.never").exists():
            (jobs / f"{n}.deleted").touch()
        pid_file = jobs / f"{n}.pid"
        if pid_file.exists():
            try:
                os.killpg(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass
    return 0
