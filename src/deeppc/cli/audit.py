"""`deeppc audit`: re-hash a results folder and check it against its provenance records and Snakemake's metadata.

Exit status: 0 consistent; 1 inconsistent (each problem is printed with the
file it concerns); 2 nothing to audit or a usage error.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from deeppc.cli import Parser, checks, parse


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
    p.add_argument("results", type=checks.input_folder,
                   help="the results folder (the config's `results`), e.g. results/")
    p.add_argument("--workdir", type=checks.input_folder, default=None,
                   help="Snakemake's working directory (holding .snakemake/); default: the results folder's parent")
    p.add_argument("--no-metadata", dest="use_metadata", action="store_false",
                   help="check hashes against the provenance records only (e.g. results copied without .snakemake/)")
    p.add_argument("--quiet", action="store_true", help="print only problems and the summary")
    p.add_argument("--json", type=checks.output_file, default=None, metavar="FILE",
                   help="also write every finding to FILE")


def run(args: argparse.Namespace) -> int:
    from deeppc import audit, files

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
    parser = Parser(prog="deeppc audit", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parse(parser, argv)
    return 2 if args is None else run(args)


if __name__ == "__main__":
    sys.exit(main())
