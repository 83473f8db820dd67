"""The `deeppc` command line.

Each command group lives in its own module exposing `register(subparsers)`;
heavy imports (torch, pydicom) happen inside the handlers so `deeppc --help`
stays fast.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import sys
from typing import Callable

from deeppc import __version__
from deeppc.config import ConfigError

# command-group modules, in the order they appear in --help
GROUPS = [
    "deeppc.cli.data",
    "deeppc.cli.train",
    "deeppc.cli.generate",
    "deeppc.cli.metrics",
    "deeppc.cli.medfid",
    "deeppc.cli.stats",
    "deeppc.cli.vtt",
    "deeppc.cli.audit",
]


class UserError(Exception):
    """A problem with the user's input: printed as one line, no traceback."""


def user_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler whose library code reports bad input as ValueError: it becomes a one-line UserError."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except ValueError as exc:
            raise UserError(str(exc)) from exc

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deeppc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"deeppc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (UserError, ConfigError, FileNotFoundError) as exc:
        print(f"deeppc {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
