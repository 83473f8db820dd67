#!/usr/bin/env python3
"""Submit one Snakemake job script to PBS Pro: `submit.py JOBSCRIPT` prints the PBS job id.

Called by Snakemake's cluster-generic executor (profiles/chpc). The job's
threads, gpu, mem_mb and runtime (from the properties line Snakemake writes
into the job script) become -q, -l select=..., -l walltime via pbs.yaml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pbs import SubmitError, job_properties, job_script, load_settings, plan


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: submit.py JOBSCRIPT", file=sys.stderr)
        return 2
    jobscript = Path(argv[0]).resolve()
    try:
        settings = load_settings()
        request = plan(job_properties(jobscript), settings, Path.cwd())
    except SubmitError as exc:
        print(f"submit.py: {exc}", file=sys.stderr)
        return 1
    if request.capped:
        print(f"submit.py: {request.name}: runtime cut to the {request.queue} limit; "
              "an unfinished job is retried (training resumes)", file=sys.stderr)
    request.log.parent.mkdir(parents=True, exist_ok=True)
    script = jobscript.with_name(jobscript.name + ".pbs")
    script.write_text(job_script(request, jobscript, settings.get("setup") or []))
    done = subprocess.run(["qsub", str(script)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"submit.py: qsub failed ({done.returncode}): {done.stderr.strip()}", file=sys.stderr)
        return 1
    print(done.stdout.strip().splitlines()[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
