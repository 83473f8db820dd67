#!/usr/bin/env python3
"""`status.py JOBID` prints running, success or failed from `qstat -xf JOBID` (cluster-generic status command)."""

from __future__ import annotations

import sys

from pbs import query


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: status.py JOBID", file=sys.stderr)
        return 2
    print(query(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
