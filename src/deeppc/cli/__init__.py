"""The `deeppc` command line.

Each command group lives in its own module exposing `register(subparsers)`;
heavy imports (torch, pydicom) happen inside the handlers so `deeppc --help`
stays fast.

Bad input never meets a traceback: options are checked as they are parsed
(`deeppc.cli.checks`), readers turn corrupt, empty or wrong-kind files into
`deeppc.validate.InputError`, and `main` prints any input error as one line,
`deeppc COMMAND: error: ...`, with exit status 2 (usage errors too, without
argparse's usage block). Only input errors are caught (`is_input_error`: see
`deeppc.validate` for the rule); a bug keeps its traceback. With `-v` the
traceback of a caught input error is logged too. Outputs are written only on
success (`deeppc.files`: atomic files and folders), so a failed command leaves
what was there before.
"""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from typing import Callable

from deeppc import __version__
from deeppc.validate import InputError, is_input_error, one_line

log = logging.getLogger("deeppc.cli")



class UserError(InputError):
    """A problem with the user's input: printed as one line, no traceback."""


class UsageError(UserError):
    """A command line argparse refused (unknown option, bad value, missing argument)."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: raises UsageError instead of printing usage and exiting."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(self.prog, f"{message} (see {self.prog} --help)")


def user_errors(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Wrap a handler so that input errors its library code raises (see is_input_error) become UserError."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (ValueError, FileNotFoundError) as exc:
            if not is_input_error(exc):
                raise
            raise UserError(one_line(exc)) from exc

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="deeppc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"deeppc {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # imported here, not at the top: each group module imports this package's helpers
    from deeppc.cli import audit, data, generate, medfid, metrics, stats, train, utility, vtt

    for group in (data, train, generate, metrics, medfid, stats, utility, vtt, audit):  # the order of --help
        group.register(sub)
    return parser


def _command(args: argparse.Namespace) -> str:
    """`deeppc medfid train`, `deeppc score`, ...: the command whose error is reported."""
    words = [args.command, getattr(args, "medfid_command", None), getattr(args, "vtt_command", None)]
    return " ".join(["deeppc", *filter(None, words)])


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace | None:
    """Parsed arguments, or None after printing a usage error as one line (the caller exits with 2)."""
    try:
        return parser.parse_args(argv)
    except UsageError as exc:
        print(f"{exc.prog}: error: {one_line(exc)}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    if args is None:
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as exc:  # InputError and UserError are ValueErrors
        if not is_input_error(exc):
            raise
        log.debug("input error", exc_info=exc)
        print(f"{_command(args)}: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
