#!/usr/bin/env python3
"""`cancel.py JOBID...` deletes PBS jobs (Snakemake calls it when it is interrupted)."""

from __future__ import annotations

import subprocess
import sys


def main(argv: list[str]) -> int:
    if not argv:
        return 0
    # jobs that already ended make qdel complain; that is not a failure to cancel
    done = subprocess.run(["qdel", *argv], capture_output=True, text=True)
    if done.returncode != 0 and done.stderr:
        print(done.stderr.strip(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
