"""`deeppc audit`: re-hash a results folder and check it against its provenance records and Snakemake's metadata.

Exit status: 0 consistent; 1 inconsistent (each problem is printed with the
file it concerns); 2 nothing to audit or a usage error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add `deeppc audit` to the `deeppc` parser."""
    p = sub.add_parser(
        "audit",
        help="check results against their provenance records and Snakemake's metadata",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", type=Path, help="the results folder (the config's `results`), e.g. results/")
    p.add_argument("--workdir", type=Path, default=None,
                   help="Snakemake's working directory (holding .snakemake/); default: the results folder's parent")
    p.add_argument("--no-metadata", dest="use_metadata", action="store_false",
                   help="check hashes against the provenance records only (e.g. results copied without .snakemake/)")
    p.add_argument("--quiet", action="store_true", help="print only problems and the summary")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write every finding to FILE")


def run(args: argparse.Namespace) -> int:
    from deeppc import audit, files

    if not args.results.is_dir():
        print(f"deeppc audit: error: {args.results} is not a folder", file=sys.stderr)
        return 2
    report = audit.audit(args.results, args.workdir, args.use_metadata)
    for line in audit.lines(report, verbose=not args.quiet):
        print(line)
    if args.json:
        files.write_json(args.json, {"consistent": report.consistent,
                                     "findings": [asdict(f) for f in report.findings]})
    if report.records == 0:
        return 2
    return 0 if report.consistent else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m deeppc.cli.audit` (the same as `deeppc audit`)."""
    parser = argparse.ArgumentParser(prog="deeppc audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
